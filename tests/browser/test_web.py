"""The TensorFlow.js page (web/): the shipped bundle, exported, generating in headless Chromium."""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
TFJS = WEB / "node_modules" / "@tensorflow" / "tfjs" / "dist" / "tf.fesm.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
SCREENSHOT = ARTIFACTS / "web.png"  # `make screenshots` copies it to docs/images/web.png
SPEED = ARTIFACTS / "web_speed.json"
SEED_TEXT = "ROMEO:\nBut soft! what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n"
SPEED_LENGTH = 1000  # characters per speed measurement, in the browser and in Python


@pytest.fixture(scope="module")
def shipped():
    from textgen_helpers.bundle import shipped_bundle

    return shipped_bundle()


@pytest.fixture(scope="module")
def web_server(browser, shipped, tmp_path_factory):
    """web/ served on loopback from a copy made of links, with the shipped bundle exported as its model/
    (web/model itself, the user's own export, is left alone). Yields the page's URL."""
    if not TFJS.is_file():
        pytest.fail(f"TensorFlow.js is not installed: {TFJS.relative_to(ROOT)} is missing. Run `make test` (it runs "
                    f"npm ci in web/), or `cd web && npm ci`")
    from textgen_helpers.export import export_tfjs

    site = tmp_path_factory.mktemp("web")
    for entry in WEB.iterdir():
        if entry.name != "model":
            (site / entry.name).symlink_to(entry)
    export_tfjs(shipped, site / "model")
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the name http.server uses
        pass


def open_page(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("document.body.dataset.ready === 'true' || document.body.dataset.error",
                           timeout=60_000)
    error = page.evaluate("document.body.dataset.error")
    assert error is None, f"the page failed to start: {error}"


def set_temperature(page, key: str, presses: int = 1) -> str:
    """Move the slider by keyboard as a user does; returns the readout it then shows."""
    page.locator("#temperature").focus()
    for _ in range(presses):
        page.keyboard.press(key)
    return page.locator("#temperature-value").inner_text()


def generate(page, seed_text: str | None, length: int) -> dict:
    """Fill in the form, press Generate and wait: the text and what the page recorded about it."""
    if seed_text is not None:
        page.locator("#seed").fill(seed_text)
    page.locator("#length").fill(str(length))
    page.locator("#generate").click()
    page.wait_for_function("document.getElementById('output-text').dataset.done === 'true' || "
                           "document.getElementById('status').classList.contains('error')", timeout=120_000)
    output = page.locator("#output-text")
    assert "error" not in (page.locator("#status").get_attribute("class") or ""), page.locator("#status").inner_text()
    return {"text": output.evaluate("node => node.textContent"),
            "temperature": float(output.get_attribute("data-temperature")),
            "chars_per_second": float(output.get_attribute("data-chars-per-second")),
            "status": page.locator("#status").inner_text()}


def console_errors(page) -> list[str]:
    return [line for line in page.console_log if line.startswith(("[error]", "[pageerror]"))]


def test_tensorflow_js_loads_the_export_and_predicts_the_bundles_logits(web_server, page, shipped):
    open_page(page, web_server)
    ids = shipped.vocab.encode(SEED_TEXT)
    logits = page.evaluate("""(ids) => {
        const {generator, tf} = window.textgen;
        return tf.tidy(() => {
            const input = tf.tensor2d([ids], [1, ids.length], 'int32');
            return Array.from(generator.model.predict(input).dataSync());
        });
    }""", ids.tolist())
    from textgen_helpers.model import call_model

    expected = call_model(shipped.model, ids[None]).numpy()[0]
    np.testing.assert_allclose(np.reshape(logits, expected.shape), expected, atol=1e-4)
    activations = page.evaluate("""() => window.textgen.generator.model.layers.filter(l => l.getClassName() === 'LSTM')
        .map(l => [l.cell.activation.getClassName(), l.cell.recurrentActivation.getClassName()])""")
    assert activations == [["tanh", "sigmoid"]] * 2
    assert console_errors(page) == []


def test_the_page_writes_what_the_bundle_writes_at_temperature_zero(web_server, page, shipped):
    open_page(page, web_server)
    assert set_temperature(page, "Home") == "0.00"
    result = generate(page, SEED_TEXT, 200)
    expected = shipped.generate(SEED_TEXT, 200, temperature=0)
    assert result["temperature"] == 0 and "greedy" in result["status"]
    assert result["text"] == expected
    assert console_errors(page) == []


def test_moving_the_slider_changes_the_temperature_used(web_server, page, shipped):
    open_page(page, f"{web_server}?seed=7")
    assert page.locator("#temperature-value").inner_text() == "0.50"  # textgen.json's default
    assert set_temperature(page, "ArrowRight", presses=2) == "0.60"
    warm = generate(page, SEED_TEXT, 200)
    assert warm["temperature"] == pytest.approx(0.6) and "T = 0.6" in warm["status"]
    assert set(warm["text"]) <= set(shipped.vocab.chars) and len(warm["text"]) == 200
    assert warm["text"] != shipped.generate(SEED_TEXT, 200, temperature=0)  # it sampled: not the greedy text
    assert generate(page, None, 200)["text"] == warm["text"]  # ?seed=7: the same draws again
    assert set_temperature(page, "ArrowLeft", presses=12) == "0.00"
    assert generate(page, None, 200)["temperature"] == 0
    assert console_errors(page) == []


def test_characters_per_second_in_the_browser_beside_python(web_server, page, shipped):
    """A figure for docs/benchmarks.md, not a target: greedy, one text, the same machine, this session."""
    open_page(page, f"{web_server}?seed=3")
    set_temperature(page, "Home")
    generate(page, SEED_TEXT, 100)  # warm-up
    browser = generate(page, SEED_TEXT, SPEED_LENGTH)
    assert browser["chars_per_second"] > 0 and re.search(r"[\d,]+ characters per second", browser["status"])

    generator = shipped.generator
    generator(SEED_TEXT, 100, 0.0, window=shipped.sample_len)  # warm-up: traces and compiles
    start = time.perf_counter()
    python_text = generator(SEED_TEXT, SPEED_LENGTH, 0.0, window=shipped.sample_len)[0]
    python_rate = SPEED_LENGTH / (time.perf_counter() - start)
    assert browser["text"] == python_text

    set_temperature(page, "ArrowRight", presses=10)  # 0.5: the picture shows sampled text
    generate(page, None, 400)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("main").screenshot(path=str(SCREENSHOT))
    result = {"characters": SPEED_LENGTH, "temperature": 0,
              "browser_chars_per_second": round(browser["chars_per_second"]),
              "python_fast_generator_chars_per_second": round(python_rate),
              "browser": page.context.browser.version, "tfjs": page.evaluate("window.textgen.tf.version.tfjs"),
              "backend": page.evaluate("window.textgen.tf.getBackend()"), "xla": generator.jit_compile}
    SPEED.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\ngreedy generation, {SPEED_LENGTH} characters: {result}")
    assert console_errors(page) == []


def test_without_tensorflow_js_the_page_says_how_to_install_it(browser, shipped, tmp_path):
    """Served without web/node_modules (README's manual steps, npm forgotten): a clear error, not a stuck page."""
    for name in ("index.html", "textgen.js"):
        (tmp_path / name).symlink_to(WEB / name)
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page = browser.new_page()
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        page.wait_for_function("document.body.dataset.error", timeout=30_000)
        message = page.evaluate("document.body.dataset.error")
        assert "TensorFlow.js did not load" in message and "npm ci" in message
    finally:
        page.close()
        server.shutdown()
        server.server_close()
