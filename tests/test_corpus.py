import hashlib
import http.client
import io
import urllib.error

import pytest

from textgen_helpers.corpus import (
    CorpusError,
    clean_text,
    corpus_status,
    decode_text,
    load_corpus,
    registry,
)


def test_registry_names_the_five_corpora_with_urls_sizes_and_checksums():
    corpora = registry()
    assert set(corpora) == {"shakespeare", "nietzsche", "verne", "alice", "dostoevsky-ru"}
    shakespeare = corpora["shakespeare"]
    assert shakespeare.bytes == 1_115_394
    assert shakespeare.sha256 == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
    assert shakespeare.url.endswith("karpathy/char-rnn/master/data/tinyshakespeare/input.txt")
    for info in corpora.values():
        assert info.url.startswith("https://")
        assert len(info.sha256) == 64 and info.bytes > 100_000
        assert info.language and info.public_domain


def test_registry_checksums_match_the_mirror_copies(mirror):
    for info in registry().values():
        data = (mirror / info.filename).read_bytes()
        assert len(data) == info.bytes, info.name
        assert hashlib.sha256(data).hexdigest() == info.sha256, info.name


def test_named_corpus_is_copied_from_the_mirror_into_the_cache(cache_dir, mirror, monkeypatch, offline):
    monkeypatch.setenv("TEXTGEN_CORPUS_MIRROR", str(mirror))
    corpus = load_corpus("shakespeare", progress=False)
    assert corpus.name == "shakespeare" and len(corpus.text) == 1_115_394
    assert corpus.text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")
    assert corpus.sha256 == registry()["shakespeare"].sha256
    assert (cache_dir / "tinyshakespeare.txt").is_file()
    assert [p.name for p in cache_dir.iterdir()] == ["tinyshakespeare.txt"]  # no temporary file left


def test_cached_corpus_loads_with_no_mirror_and_no_network(cache_dir, mirror, monkeypatch, offline):
    load_corpus("alice", mirror=str(mirror), progress=False)
    monkeypatch.delenv("TEXTGEN_CORPUS_MIRROR", raising=False)
    again = load_corpus("alice", progress=False)
    assert again.path == cache_dir / "alice_in_wonderland.txt"


def test_offline_without_mirror_fails_with_a_message_naming_the_mirror_setting(cache_dir, offline):
    with pytest.raises(CorpusError) as err:
        load_corpus("shakespeare", progress=False)
    message = str(err.value)
    assert "TEXTGEN_CORPUS_MIRROR" in message and "tinyshakespeare.txt" in message
    assert "unreachable" in message
    assert not cache_dir.exists() or not any(cache_dir.iterdir())


def test_checksum_mismatch_is_refused_and_nothing_is_saved(cache_dir, tmp_path, offline):
    bad_mirror = tmp_path / "mirror"
    bad_mirror.mkdir()
    (bad_mirror / "tinyshakespeare.txt").write_text("not Shakespeare at all\n")
    with pytest.warns(UserWarning, match="does not match"), pytest.raises(CorpusError) as err:
        load_corpus("shakespeare", mirror=str(bad_mirror), progress=False)
    message = str(err.value)
    assert "sha256" in message and "nothing was saved" in message
    assert str(bad_mirror / "tinyshakespeare.txt") in message and "unreachable" in message  # every source's problem
    assert not any(cache_dir.iterdir())


def _serve(monkeypatch, payload: bytes) -> list[str]:
    """Every URL fetch returns ``payload``; the returned list records the URLs asked for."""
    asked = []

    def fake_urlopen(request, timeout):
        asked.append(request.full_url)
        return io.BytesIO(payload)

    monkeypatch.setattr("urllib.request.urlopen", fake_urlopen)
    return asked


def test_a_damaged_mirror_copy_warns_and_the_public_url_is_used(cache_dir, mirror, tmp_path, monkeypatch):
    bad_mirror = tmp_path / "mirror"
    bad_mirror.mkdir()
    (bad_mirror / "alice_in_wonderland.txt").write_text("truncated")
    payload = (mirror / "alice_in_wonderland.txt").read_bytes()
    asked = _serve(monkeypatch, payload)
    with pytest.warns(UserWarning) as caught:
        corpus = load_corpus("alice", mirror=str(bad_mirror), progress=False)
    assert corpus.text.startswith("ALICE'S ADVENTURES")
    assert asked == [registry()["alice"].url]
    message = str(caught[0].message)
    assert str(bad_mirror / "alice_in_wonderland.txt") in message
    assert "9 bytes" in message and f"{len(payload):,} bytes" in message and "sha256" in message
    assert [p.name for p in cache_dir.iterdir()] == ["alice_in_wonderland.txt"]


def test_download_streams_into_the_cache_and_verifies(cache_dir, mirror, monkeypatch):
    payload = (mirror / "alice_in_wonderland.txt").read_bytes()
    asked = _serve(monkeypatch, payload)
    corpus = load_corpus("alice", progress=False)
    assert asked == [registry()["alice"].url]
    assert corpus.text.startswith("ALICE'S ADVENTURES IN WONDERLAND")


def test_a_url_mirror_is_tried_before_the_public_url(cache_dir, mirror, monkeypatch):
    payload = (mirror / "alice_in_wonderland.txt").read_bytes()
    asked = _serve(monkeypatch, payload)
    load_corpus("alice", mirror="https://mirror.example/corpora/", progress=False)
    assert asked == ["https://mirror.example/corpora/alice_in_wonderland.txt"]


def test_a_broken_download_leaves_no_partial_file(cache_dir, mirror, monkeypatch):
    payload = (mirror / "alice_in_wonderland.txt").read_bytes()

    class Broken(io.BytesIO):
        def read(self, n=-1):
            if self.tell() > 50_000:
                raise urllib.error.URLError("connection reset by peer")
            return super().read(n)

    monkeypatch.setattr("urllib.request.urlopen", lambda request, timeout: Broken(payload))
    with pytest.raises(CorpusError, match="connection reset"):
        load_corpus("alice", progress=False)
    assert not any(cache_dir.iterdir())


class _CutShort(io.BytesIO):
    """A response that breaks with ``error`` once 50,000 bytes have been read, as a dropped connection does."""

    def __init__(self, payload, error):
        super().__init__(payload)
        self.error = error

    def read(self, n=-1):
        if self.tell() > 50_000:
            raise self.error
        return super().read(n)


@pytest.mark.parametrize("error", [
    http.client.IncompleteRead(b"partial"),
    ConnectionResetError(104, "Connection reset by peer"),
    TimeoutError("The read operation timed out"),
], ids=["incomplete-read", "connection-reset", "timeout"])
def test_a_download_cut_short_is_a_clear_error_and_leaves_no_file(cache_dir, monkeypatch, error):
    payload = bytes(registry()["shakespeare"].bytes)
    monkeypatch.setattr("urllib.request.urlopen", lambda request, timeout: _CutShort(payload, error))
    with pytest.raises(CorpusError) as err:
        load_corpus("shakespeare", progress=False)
    message = str(err.value)
    assert "cut short" in message and "Try again" in message
    assert "TEXTGEN_CORPUS_MIRROR" in message and "tinyshakespeare.txt" in message
    assert not cache_dir.exists() or not any(cache_dir.iterdir())  # no partial file, no temporary file


def test_the_cli_reports_a_download_cut_short_in_one_line(cache_dir, monkeypatch, capsys):
    from textgen_helpers.cli import main

    payload = bytes(registry()["shakespeare"].bytes)
    monkeypatch.setattr("urllib.request.urlopen",
                        lambda request, timeout: _CutShort(payload, http.client.IncompleteRead(b"partial")))
    assert main(["train", "shakespeare", "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    # What a terminal shows: the progress bar redraws its line with \r, so keep the text after the last \r.
    shown = [line.rsplit("\r", 1)[-1] for line in err.split("\n")]
    shown = [line for line in shown if line.strip()]
    assert len(shown) == 1 and shown[0].startswith("textgen train: error:"), err
    assert "cut short" in shown[0]
    assert not cache_dir.exists() or not any(cache_dir.iterdir())


def test_a_damaged_cache_entry_is_fetched_again(cache_dir, mirror, offline):
    cache_dir.mkdir()
    (cache_dir / "alice_in_wonderland.txt").write_text("truncated")
    corpus = load_corpus("alice", mirror=str(mirror), progress=False)
    assert corpus.text.startswith("ALICE'S ADVENTURES")
    assert (cache_dir / "alice_in_wonderland.txt").stat().st_size == registry()["alice"].bytes


def test_a_local_file_path_works_and_records_its_checksum(tmp_path):
    path = tmp_path / "poem.txt"
    path.write_text("Shall I compare thee\nto a summer's day?\n", encoding="utf-8")
    corpus = load_corpus(path)
    assert corpus.name == "poem" and corpus.text == "Shall I compare thee\nto a summer's day?\n"
    assert corpus.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_missing_file_raises_file_not_found_and_lists_the_names(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_corpus(tmp_path / "nope.txt")
    assert "does not exist" in str(err.value) and "shakespeare" in str(err.value)


def test_a_folder_is_not_a_corpus(tmp_path):
    with pytest.raises(FileNotFoundError, match="is a folder"):
        load_corpus(tmp_path)


def test_non_utf8_file_names_the_byte_offset_and_suggests_an_encoding(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("Caf\u00e9 au lait".encode("cp1252"))
    with pytest.raises(CorpusError) as err:
        load_corpus(path)
    message = str(err.value)
    assert "offset 3" in message and "0xe9" in message and "cp1252" in message


def test_cyrillic_in_a_single_byte_encoding_suggests_cp1251(tmp_path):
    path = tmp_path / "ru.txt"
    path.write_bytes(("Преступление и наказание. " * 20).encode("cp1251"))
    with pytest.raises(CorpusError, match="cp1251"):
        load_corpus(path)


def test_the_encoding_argument_decodes_other_encodings(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("Caf\u00e9".encode("cp1252"))
    assert load_corpus(path, encoding="cp1252").text == "Caf\u00e9"


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(CorpusError, match="empty"):
        load_corpus(path)


def test_a_byte_order_mark_is_dropped():
    assert decode_text("\ufeffhello".encode("utf-8")) == "hello"


def test_cleaning_turns_crlf_into_lf_and_strips_the_gutenberg_header_and_footer(cache_dir, mirror):
    alice = load_corpus("alice", mirror=str(mirror), progress=False)
    assert "\r" not in alice.text
    assert alice.text.startswith("ALICE'S ADVENTURES IN WONDERLAND\n\nLewis Carroll")
    assert alice.text.rstrip().endswith("THE END")
    assert "Gutenberg" not in alice.text
    verne = load_corpus("verne", mirror=str(mirror), progress=False)
    assert "PROJECT GUTENBERG" not in verne.text and "\r" not in verne.text
    assert verne.text.startswith("This etext was done by a number of anonymous volunteers")  # the book's own note
    assert verne.text.rstrip().endswith("CAPTAIN NEMO AND MYSELF.")


def test_clean_false_keeps_the_file_as_it_is(cache_dir, mirror):
    raw = load_corpus("alice", mirror=str(mirror), clean=False, progress=False)
    assert raw.text.startswith("Project Gutenberg's Alice's Adventures in Wonderland")
    assert "\r\n" in raw.text


def test_clean_text_leaves_text_without_markers_alone():
    text = "First Citizen:\nBefore we proceed.\n"
    assert clean_text(text) == text


def test_the_russian_corpus_keeps_its_126_characters(cache_dir, mirror):
    russian = load_corpus("dostoevsky-ru", mirror=str(mirror), progress=False)
    assert len(set(russian.text)) == 126
    assert russian.text.startswith("Часть первая")


def test_corpus_status_reports_cached_and_mirrored(cache_dir, mirror):
    load_corpus("alice", mirror=str(mirror), progress=False)
    rows = {row["name"]: row for row in corpus_status(mirror=str(mirror))}
    assert rows["alice"]["cached"] and rows["alice"]["mirrored"]
    assert not rows["verne"]["cached"] and rows["verne"]["mirrored"]
    assert not corpus_status(mirror="")[0]["mirrored"]
