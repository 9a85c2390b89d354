"""Shared fixtures: an isolated corpus cache, the local corpus mirror, small texts and models."""

from __future__ import annotations

import os
import socket
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _find_mirror() -> Path | None:
    configured = os.environ.get("TEXTGEN_CORPUS_MIRROR")
    candidates = [Path(configured)] if configured else []
    candidates.append(ROOT.parent / "shared" / "corpora")
    for candidate in candidates:
        if (candidate / "tinyshakespeare.txt").is_file():
            return candidate.resolve()
    return None


MIRROR = _find_mirror()


@pytest.fixture
def mirror() -> Path:
    """The folder of local corpus copies (CI sets TEXTGEN_CORPUS_MIRROR; .ci/run fails without it)."""
    if MIRROR is None:
        pytest.skip("no corpus mirror: set TEXTGEN_CORPUS_MIRROR to a folder holding the corpora")
    return MIRROR


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    """An empty corpus cache for this test, with no mirror configured."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("TEXTGEN_DATA_DIR", str(cache))
    monkeypatch.delenv("TEXTGEN_CORPUS_MIRROR", raising=False)
    return cache


@pytest.fixture
def offline(monkeypatch):
    """No network, as on a machine without one: every host name but the loopback's fails to resolve.

    Patched at ``socket.getaddrinfo``, so it holds for pooch's downloads (requests), urllib and the
    rest alike, and a test server on 127.0.0.1 still answers.
    """
    resolve = socket.getaddrinfo

    def no_network(host, *args, **kwargs):
        if host in ("127.0.0.1", "::1", "localhost"):
            return resolve(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)


@pytest.fixture(scope="session")
def shakespeare():
    """Tiny Shakespeare, loaded once through the mirror into a session cache."""
    if MIRROR is None:
        pytest.skip("no corpus mirror: set TEXTGEN_CORPUS_MIRROR to a folder holding the corpora")
    import tempfile

    from textgen_helpers.corpus import load_corpus

    cache = tempfile.mkdtemp(prefix="textgen-cache-")
    return load_corpus("shakespeare", cache_dir=cache, mirror=str(MIRROR))


@pytest.fixture(scope="session")
def small_text(shakespeare) -> str:
    """The first 60,000 characters of tiny Shakespeare: quick to train on."""
    return shakespeare.text[:60_000]


@pytest.fixture(scope="session")
def trained(shakespeare):
    """A small seq2seq model trained briefly on tiny Shakespeare, with its vocabulary and run."""
    from textgen_helpers import Vocabulary, build_model, set_seed, train

    set_seed(0)
    vocab = Vocabulary.from_text(shakespeare.text)
    model = build_model(len(vocab), "64", learning_rate=1e-2)
    run = train(model, vocab, shakespeare.text[:200_000], epochs=3, sample_len=40, batch_size=64,
                examples_per_epoch=64 * 12, display_length=0, verbose=0)
    return run


@pytest.fixture(scope="session")
def require_pypi():
    """``require_pypi("resolve the [jax] extra")``: skips the test where PyPI cannot be reached, and fails it
    in CI, which must run it."""
    try:
        urllib.request.urlopen("https://pypi.org/simple/keras/", timeout=10).close()
        reachable = True
    except OSError:
        reachable = False

    def require(why: str) -> None:
        if reachable:
            return
        if os.environ.get("CI"):
            pytest.fail(f"CI must {why}, but PyPI cannot be reached")
        pytest.skip(f"PyPI cannot be reached, and to {why} needs it")

    return require
