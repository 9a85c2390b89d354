"""Corpora: the registry of named public-domain texts, and a loader that fetches and verifies them.

``load_corpus("shakespeare")`` looks for the file in three places, in order:

1. the cache folder (``TEXTGEN_DATA_DIR``, default ``~/.cache/textgen``);
2. a mirror (``TEXTGEN_CORPUS_MIRROR``): a folder, or a URL base such as ``https://host/corpora``;
3. the corpus's public URL.

pooch downloads (a temporary file in the cache folder, tried three times, renamed only once its sha256
matches, deleted otherwise); a few lines of our own do the same for a folder mirror, where pooch has no
``file://``. Every copy is also checked against the registry's byte size. A mirror copy that fails the
check is skipped with a ``UserWarning``, and the public URL is tried next. When every place fails, one
``CorpusError`` lists each place's problem (a download cut short says so, and to try again).
Any local file path works too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pooch
from tqdm.auto import tqdm

from .files import atomic_file

DATA_DIR_ENV = "TEXTGEN_DATA_DIR"
MIRROR_ENV = "TEXTGEN_CORPUS_MIRROR"
DEFAULT_CORPUS = "shakespeare"
DOWNLOAD_TIMEOUT_S = 30  # seconds without a byte before a download is given up
DOWNLOAD_RETRIES = 2  # further tries after a failed download (pooch waits 1 s, then 2 s)


class CorpusError(ValueError):
    """A corpus could not be found, fetched, verified or decoded."""


@dataclass(frozen=True)
class CorpusInfo:
    """One entry of the registry in ``data/corpora.json``."""

    name: str
    filename: str
    url: str
    bytes: int
    sha256: str
    language: str
    title: str
    public_domain: str


@dataclass(frozen=True)
class Corpus:
    """A loaded text and where it came from.

    ``sha256`` is of the raw file, before cleaning, so a model bundle can name exactly what it
    was trained on.
    """

    name: str
    text: str
    path: Path
    sha256: str

    def __len__(self) -> int:
        return len(self.text)


def registry() -> dict[str, CorpusInfo]:
    """The named corpora, from the registry file shipped with the package."""
    raw = json.loads(resources.files("textgen_helpers.data").joinpath("corpora.json").read_text("utf-8"))
    return {name: CorpusInfo(name=name, **entry) for name, entry in raw["corpora"].items()}


def data_dir() -> Path:
    """The cache folder for downloaded corpora: ``$TEXTGEN_DATA_DIR`` or ``~/.cache/textgen``."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "textgen"


def corpus_status(mirror: str | None = None, cache_dir: str | os.PathLike | None = None) -> list[dict]:
    """One row per named corpus: name, size, language, whether it is cached or in the mirror."""
    mirror = _mirror(mirror)
    cache = Path(cache_dir) if cache_dir is not None else data_dir()
    rows = []
    for info in registry().values():
        cached = (cache / info.filename).is_file()
        mirrored = mirror is not None and not _is_url(mirror) and (Path(mirror) / info.filename).is_file()
        rows.append({"name": info.name, "bytes": info.bytes, "language": info.language,
                     "cached": cached, "mirrored": mirrored, "title": info.title})
    return rows


def load_corpus(
    name_or_path: str | os.PathLike = DEFAULT_CORPUS,
    *,
    clean: bool = True,
    encoding: str = "utf-8",
    cache_dir: str | os.PathLike | None = None,
    mirror: str | None = None,
    progress: bool = True,
) -> Corpus:
    """Load a named corpus (fetching and verifying it if needed) or a local text file.

    Args:
        name_or_path: a registry name (``textgen corpora`` lists them) or a path to a text file.
        clean: turn CRLF into LF and strip a Project Gutenberg header and footer if present.
        encoding: how to decode the file; named corpora are UTF-8.
        cache_dir: the cache folder (default: ``$TEXTGEN_DATA_DIR`` or ``~/.cache/textgen``).
        mirror: a folder or URL base holding the registry's filenames
            (default: ``$TEXTGEN_CORPUS_MIRROR``).
        progress: show a progress bar while downloading.

    Raises:
        FileNotFoundError: a path that does not exist, or an unknown name.
        CorpusError: no place could supply a verified copy (offline with no mirror, a download cut
            short, a checksum mismatch), or the text is not decodable, or it is empty.

    Warns:
        UserWarning: the mirror's copy failed the size and sha256 check and was skipped.
    """
    known = registry()
    key = os.fspath(name_or_path)
    if key in known:
        info = known[key]
        path = fetch(info, cache_dir=cache_dir, mirror=mirror, progress=progress)
        name, digest = info.name, info.sha256
    else:
        path = Path(key).expanduser()
        if not path.is_file():
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            raise FileNotFoundError(
                f"corpus {key!r} {what}. Give a path to a text file or one of the named corpora: "
                f"{', '.join(sorted(known))}."
            )
        name, digest = path.stem, pooch.file_hash(str(path))
    text = decode_text(path.read_bytes(), source=str(path), encoding=encoding)
    if clean:
        text = clean_text(text)
        if not text.strip():
            raise CorpusError(f"corpus {key!r} ({path}) holds no text once its Gutenberg header and footer are "
                              f"removed; pass clean=False to keep them.")
    return Corpus(name=name, text=text, path=path, sha256=digest)


def fetch(
    info: CorpusInfo,
    *,
    cache_dir: str | os.PathLike | None = None,
    mirror: str | None = None,
    progress: bool = True,
) -> Path:
    """Return the verified cached file for ``info``, copying or downloading it first if needed.

    Tries the cache, then the mirror, then ``info.url``. A mirror copy that fails the size and sha256
    check is skipped with a ``UserWarning``; if no place supplies a verified copy, raises
    ``CorpusError`` naming each place's problem and how to work offline. Nothing partial is kept.
    """
    target = (Path(cache_dir) if cache_dir is not None else data_dir()) / info.filename
    if target.is_file():
        with contextlib.suppress(_Mismatch):  # a damaged cache entry is replaced below by a verified copy
            _verify(target, info)
            return target
    mirror = _mirror(mirror)
    sources = [] if mirror is None else [_join(mirror, info.filename)]
    problems = []
    cut_short = False
    for source in [*sources, info.url]:
        label = source if source == info.url else f"mirror {source}"
        try:
            if _is_url(source):
                _download(source, target, info, progress=progress)
            else:
                _copy(Path(source), target, info)
            return target
        except _Mismatch as err:
            problems.append(f"{label}: {err}")
            if source != info.url:
                warnings.warn(f"the mirror's copy {source} of corpus {info.name!r} {err}. Skipping it and trying "
                              f"{info.url} instead.", UserWarning, stacklevel=2)
        except _CutShort as err:
            problems.append(f"{label}: {err}")
            cut_short = True
        except OSError as err:  # requests' errors are OSErrors too
            problems.append(f"{label}: {_why(err)}")
    retry = "Try again: a download cut short usually completes the next time. " if cut_short else ""
    raise CorpusError(
        f"could not fetch corpus {info.name!r} ({'; '.join(problems)}); nothing was saved. {retry}"
        f"If this machine is offline{' or its connection unreliable' if cut_short else ''}, "
        f"put {info.filename} in a folder and set {MIRROR_ENV}=/that/folder (a URL base works too), "
        f"or pass the file's path to load_corpus() instead of the name."
    )


def decode_text(data: bytes, *, source: str = "corpus", encoding: str = "utf-8") -> str:
    """Decode bytes, with an error that names the bad byte offset and a likely encoding."""
    if not data:
        raise CorpusError(f"{source} is empty: a corpus needs at least one window of text to train on.")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as err:
        hint = _guess_encoding(data)
        raise CorpusError(
            f"{source} is not valid {encoding}: byte 0x{data[err.start]:02x} at offset {err.start} "
            f"cannot be decoded. {hint}"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text:
        raise CorpusError(f"{source} is empty: a corpus needs at least one window of text to train on.")
    return text


_GUTENBERG_START = re.compile(r"^\*\*\* ?START OF (THE|THIS) PROJECT GUTENBERG EBOOK.*$", re.M | re.I)
_GUTENBERG_END = re.compile(r"^\*\*\* ?END OF (THE|THIS) PROJECT GUTENBERG EBOOK.*$", re.M | re.I)
_GUTENBERG_END_NOTE = re.compile(r"^End of (the )?Project Gutenberg", re.M | re.I)


def clean_text(text: str) -> str:
    """Normalise line endings to LF and strip a Project Gutenberg header and footer if present."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    start = _GUTENBERG_START.search(text)
    if start:
        text = text[start.end():]
    end = _GUTENBERG_END.search(text)
    if end:
        body = text[: end.start()]
        # "End of Project Gutenberg's ..." sits a few lines above the *** END marker.
        notes = list(_GUTENBERG_END_NOTE.finditer(body))
        if notes and body.count("\n", notes[-1].start()) <= 5:
            body = body[: notes[-1].start()]
        text = body
    if start or end:
        text = text.strip("\n") + "\n"
    return text


# --- helpers -------------------------------------------------------------------------------------

class _Mismatch(CorpusError):
    """A copy whose byte size or sha256 differs from the registry entry."""


class _CutShort(CorpusError):
    """A download that stopped before its last byte (a dropped connection, a timeout)."""


def _download(url: str, target: Path, info: CorpusInfo, *, progress: bool) -> None:
    """Download ``url`` to ``target`` with pooch: retried, and renamed into place only once verified."""

    def one_try(url: str, output_file: str, fetcher: pooch.Pooch) -> None:  # pooch's downloader interface
        bar = tqdm(total=info.bytes, unit="B", unit_scale=True, desc=f"downloading {info.name}") if progress else False
        try:
            pooch.HTTPDownloader(progressbar=bar, timeout=DOWNLOAD_TIMEOUT_S)(url, output_file, fetcher)
        except OSError as err:  # a requests.RequestException; pooch retries it, and a ValueError
            if bar:
                bar.leave = False  # erased, so the error is the one line left
                bar.close()
            got = os.path.getsize(output_file)
            if got:
                how = "timed out" if "timed out" in str(err).lower() else "the connection broke"
                raise _CutShort(f"the download was cut short after {got:,} of {info.bytes:,} bytes ({how})") from err
            raise
        _verify(Path(output_file), info)

    fetcher = pooch.create(path=target.parent, base_url="", registry={target.name: f"sha256:{info.sha256}"},
                           urls={target.name: url}, retry_if_failed=DOWNLOAD_RETRIES)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")  # pooch logs every try; the progress bar and our error say enough
    try:
        fetcher.fetch(target.name, downloader=one_try)
    finally:
        logger.setLevel(level)


def _copy(source: Path, target: Path, info: CorpusInfo) -> None:
    """Copy a mirror folder's file to ``target`` through a temporary file, renamed only once verified."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(target) as tmp:
        shutil.copyfile(source, tmp)
        _verify(tmp, info)


def _verify(path: Path, info: CorpusInfo) -> None:
    """Raise ``_Mismatch`` unless ``path`` has the registry entry's byte size and sha256."""
    size, digest = path.stat().st_size, pooch.file_hash(str(path))
    if size != info.bytes or digest != info.sha256:
        raise _Mismatch(f"does not match the registry entry: got {size:,} bytes with sha256 {digest}, expected "
                        f"{info.bytes:,} bytes with sha256 {info.sha256} (damaged, or a different edition)")


_CONNECTION = re.compile(r"^(<[^>]*>|[\w.]+\([^)]*\)): ")  # urllib3's "HTTPSConnection(host=...): " before a reason


def _why(err: OSError) -> str:
    """Why a place could not supply the file, in a few words (requests' errors nest urllib3's)."""
    import requests

    if isinstance(err, requests.Timeout):
        return f"timed out (no answer within {DOWNLOAD_TIMEOUT_S} s)"
    if isinstance(err, requests.ConnectionError):
        cause = err.args[0] if err.args and isinstance(err.args[0], BaseException) else err
        cause = getattr(cause, "reason", None) or cause  # urllib3's MaxRetryError holds the reason
        return f"unreachable ({_CONNECTION.sub('', str(cause))})"
    if isinstance(err, FileNotFoundError) and err.filename is not None:
        return "no such file"
    return str(err) or type(err).__name__


def _mirror(mirror: str | None) -> str | None:
    value = mirror if mirror is not None else os.environ.get(MIRROR_ENV)
    return value or None


def _is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def _join(base: str, filename: str) -> str:
    if _is_url(base):
        return base.rstrip("/") + "/" + filename
    return str(Path(base).expanduser() / filename)


def _guess_encoding(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        guess = "utf-16"
    else:
        high = [b for b in data[:200_000] if b >= 0x80]
        # Cyrillic single-byte encodings put most letters in 0xC0-0xFF; Western ones use few.
        guess = "cp1251" if high and sum(b >= 0xC0 for b in high) > 0.7 * len(high) and len(high) > 100 else "cp1252"
    return (f"It may be {guess}: pass encoding={guess!r}, or convert the file with "
            f"`iconv -f {guess} -t utf-8 FILE > FILE.utf8`.")
