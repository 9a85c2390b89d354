"""Corpora: the registry, fetching (cache, mirror, download) with every promise the README makes, and cleaning.

Nothing here reaches the internet: every test runs ``offline`` (conftest), and downloads are served by
``web``, a server on 127.0.0.1 that the registry's URLs point to.
"""

import dataclasses
import hashlib
import http.server
import re
import threading
import types

import pooch
import pytest

import textgen_helpers.corpus as corpus_module
from textgen_helpers.corpus import (
    CorpusError,
    clean_text,
    corpus_status,
    decode_text,
    load_corpus,
    registry,
)

pytestmark = pytest.mark.usefixtures("offline")

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


@pytest.fixture(autouse=True)
def waits(monkeypatch) -> list[float]:
    """The seconds pooch waits between tries, recorded instead of slept."""
    slept = []
    monkeypatch.setattr(pooch.core, "time", types.SimpleNamespace(sleep=slept.append))
    return slept


class _Web(http.server.ThreadingHTTPServer):
    """The corpora's hosts, on 127.0.0.1.

    ``routes[path]`` lists the answers to the requests for ``path``, one each (the last one repeats):
    bytes to send whole, ``("cut", data)`` to drop the connection after 50,000 bytes, ``("stall", data)``
    to stop sending after 50,000 bytes, ``("silent", data)`` to send nothing. Other paths answer 404.
    ``asked`` lists the paths asked for, in order.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Answer)
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        self.routes: dict[str, list] = {}
        self.asked: list[str] = []
        self.done = threading.Event()

    def public(self, name: str) -> str:
        """The path the registry's URL for corpus ``name`` points to in this test."""
        return f"/public/{registry()[name].filename}"


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        web = self.server
        web.asked.append(self.path)
        answers = web.routes.get(self.path)
        if not answers:
            self.send_error(404)
            return
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        how, data = answer if isinstance(answer, tuple) else ("whole", answer)
        if how == "silent":
            web.done.wait(10)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data if how == "whole" else data[:50_000])
        self.wfile.flush()
        if how == "stall":
            web.done.wait(10)

    def log_message(self, *args):
        pass


@pytest.fixture
def web(monkeypatch):
    """A ``_Web`` server, with the registry's public URLs pointing to its ``/public/`` folder."""
    server = _Web()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    corpora = {name: dataclasses.replace(info, url=server.base + server.public(name))
               for name, info in registry().items()}
    monkeypatch.setattr(corpus_module, "registry", lambda: corpora)
    yield server
    server.done.set()
    server.shutdown()
    server.server_close()


def _payload(mirror, name: str) -> bytes:
    return (mirror / registry()[name].filename).read_bytes()


def test_the_folder_mirror_is_used_first_without_network(cache_dir, mirror, monkeypatch, web):
    monkeypatch.setenv("TEXTGEN_CORPUS_MIRROR", str(mirror))
    corpus = load_corpus("shakespeare", progress=False)
    assert corpus.name == "shakespeare" and len(corpus.text) == 1_115_394
    assert corpus.text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")
    assert corpus.sha256 == registry()["shakespeare"].sha256
    assert [p.name for p in cache_dir.iterdir()] == ["tinyshakespeare.txt"]  # no temporary file left
    assert web.asked == []


def test_cached_corpus_loads_with_no_mirror_and_no_network(cache_dir, mirror, monkeypatch):
    load_corpus("alice", mirror=str(mirror), progress=False)
    monkeypatch.delenv("TEXTGEN_CORPUS_MIRROR", raising=False)
    again = load_corpus("alice", progress=False)
    assert again.path == cache_dir / "alice_in_wonderland.txt"


def test_offline_without_mirror_fails_in_one_line_naming_the_mirror_setting(cache_dir, waits):
    with pytest.raises(CorpusError) as err:
        load_corpus("shakespeare", progress=False)
    message = str(err.value)
    assert "\n" not in message
    assert "TEXTGEN_CORPUS_MIRROR" in message and "tinyshakespeare.txt" in message
    assert "unreachable (Failed to resolve 'raw.githubusercontent.com'" in message
    assert "Try again" not in message  # nothing was cut short
    assert waits == [1, 2]  # pooch tried three times
    assert not cache_dir.exists() or not any(cache_dir.iterdir())


def test_a_damaged_folder_mirror_copy_offline_is_refused_and_nothing_is_saved(cache_dir, tmp_path):
    bad_mirror = tmp_path / "mirror"
    bad_mirror.mkdir()
    (bad_mirror / "tinyshakespeare.txt").write_text("not Shakespeare at all\n")
    with pytest.warns(UserWarning, match="does not match"), pytest.raises(CorpusError) as err:
        load_corpus("shakespeare", mirror=str(bad_mirror), progress=False)
    message = str(err.value)
    assert "sha256" in message and "nothing was saved" in message
    assert str(bad_mirror / "tinyshakespeare.txt") in message and "unreachable" in message  # every source's problem
    assert not cache_dir.exists() or not any(cache_dir.iterdir())


def test_a_download_goes_into_the_cache_with_a_progress_bar(cache_dir, mirror, web, capsys):
    web.routes[web.public("alice")] = [_payload(mirror, "alice")]
    corpus = load_corpus("alice")
    assert corpus.text.startswith("ALICE'S ADVENTURES IN WONDERLAND")
    assert web.asked == [web.public("alice")]
    assert [p.name for p in cache_dir.iterdir()] == ["alice_in_wonderland.txt"]
    assert "downloading alice" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["folder", "url"])
def test_a_damaged_mirror_copy_warns_and_the_public_url_is_used(cache_dir, mirror, tmp_path, web, kind):
    bad_mirror = tmp_path / "mirror"
    bad_mirror.mkdir()
    (bad_mirror / "alice_in_wonderland.txt").write_text("truncated")
    web.routes["/mirror/alice_in_wonderland.txt"] = [b"truncated"]
    web.routes[web.public("alice")] = [_payload(mirror, "alice")]
    where = str(bad_mirror) if kind == "folder" else f"{web.base}/mirror/"
    with pytest.warns(UserWarning) as caught:
        corpus = load_corpus("alice", mirror=where, progress=False)
    assert corpus.text.startswith("ALICE'S ADVENTURES")
    assert web.asked[-1] == web.public("alice")
    message = str(caught[0].message)
    assert "alice_in_wonderland.txt" in message and where.rstrip("/") in message
    assert "9 bytes" in message and f"{registry()['alice'].bytes:,} bytes" in message and "sha256" in message
    assert [p.name for p in cache_dir.iterdir()] == ["alice_in_wonderland.txt"]


def test_a_url_mirror_is_tried_before_the_public_url(cache_dir, mirror, web):
    web.routes["/corpora/alice_in_wonderland.txt"] = [_payload(mirror, "alice")]
    load_corpus("alice", mirror=f"{web.base}/corpora/", progress=False)
    assert web.asked == ["/corpora/alice_in_wonderland.txt"]


def test_a_damaged_download_is_refused_and_leaves_nothing(cache_dir, web):
    web.routes[web.public("alice")] = [b"<html>a different page</html>"]
    with pytest.raises(CorpusError) as err:
        load_corpus("alice", progress=False)
    assert "does not match the registry entry: got 29 bytes" in str(err.value)
    assert not any(cache_dir.iterdir())  # neither the file nor pooch's temporary file


def test_a_download_cut_short_once_is_tried_again(cache_dir, mirror, web, waits):
    payload = _payload(mirror, "alice")
    web.routes[web.public("alice")] = [("cut", payload), payload]
    assert load_corpus("alice", progress=False).text.startswith("ALICE'S ADVENTURES")
    assert web.asked == [web.public("alice")] * 2 and waits == [1]


@pytest.mark.parametrize("how, why", [("cut", "the connection broke"), ("stall", "timed out")])
def test_a_download_cut_short_is_a_clear_error_and_leaves_no_file(cache_dir, mirror, web, monkeypatch, how, why):
    monkeypatch.setattr(corpus_module, "DOWNLOAD_TIMEOUT_S", 0.5)
    web.routes[web.public("alice")] = [(how, _payload(mirror, "alice"))]
    with pytest.raises(CorpusError) as err:
        load_corpus("alice", progress=False)
    message = str(err.value)
    got = re.search(rf"cut short after ([\d,]+) of {registry()['alice'].bytes:,} bytes \({why}\)", message)
    assert got and 0 < int(got[1].replace(",", "")) <= 50_000, message
    assert "Try again" in message and "TEXTGEN_CORPUS_MIRROR" in message and "alice_in_wonderland.txt" in message
    assert len(web.asked) == 3
    assert not cache_dir.exists() or not any(cache_dir.iterdir())  # no partial file, no temporary file


def test_a_host_that_does_not_answer_times_out_with_a_clear_error(cache_dir, mirror, web, monkeypatch):
    monkeypatch.setattr(corpus_module, "DOWNLOAD_TIMEOUT_S", 0.5)
    web.routes[web.public("alice")] = [("silent", b"")]
    with pytest.raises(CorpusError, match=r"timed out \(no answer within 0.5 s\)"):
        load_corpus("alice", progress=False)
    assert not cache_dir.exists() or not any(cache_dir.iterdir())


def test_the_cli_reports_a_download_cut_short_in_one_line(cache_dir, mirror, web, capsys):
    from textgen_helpers.cli import main

    web.routes[web.public("shakespeare")] = [("cut", _payload(mirror, "shakespeare"))]
    assert main(["train", "shakespeare", "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    # What a terminal shows: the progress bar redraws its line with \r, so keep the text after the last \r.
    shown = [line.rsplit("\r", 1)[-1] for line in err.split("\n")]
    shown = [line for line in shown if line.strip()]
    assert len(shown) == 1 and shown[0].startswith("textgen train: error:"), err
    assert "cut short" in shown[0]
    assert not cache_dir.exists() or not any(cache_dir.iterdir())


def test_a_damaged_cache_entry_is_fetched_again(cache_dir, mirror):
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
