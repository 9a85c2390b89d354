"""The temperature slider, used the way a workshop participant uses it: in a real browser."""

from __future__ import annotations

import json
import re
import statistics
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
SCREENSHOT = ARTIFACTS / "slider.png"  # `make screenshots` copies it to docs/images/slider.png
OUTSIDE_HOSTS = re.compile(r"net::ERR_|Failed to load resource|ERR_NAME_NOT_RESOLVED"
                           r"|fonts\.googleapis|cdn\.jsdelivr|unpkg\.com")


class Panel:
    """The TemperaturePanel as the page shows it."""

    def __init__(self, page, root: str = ".textgen-panel"):
        self.page = page
        self.root = page.locator(root).first
        slider = self.root.locator(".widget-slider").first  # the first slider is the temperature
        self.handle = slider.locator(".noUi-handle")
        self.readout = slider.locator(".widget-readout")

    def column(self, k: int = 0):
        return self.root.locator(".textgen-column").nth(k)

    def text(self, k: int = 0) -> str:
        return self.column(k).locator(".textgen-text").inner_text()

    def shown_temperature(self, k: int = 0) -> float:
        return float(self.column(k).get_attribute("data-temperature"))

    def slider_temperature(self) -> float:
        return float(self.readout.inner_text().strip())

    def wait_until_shown(self, temperature: float, timeout: float = 30_000) -> float:
        """Wait until column 0 shows ``temperature``; returns seconds waited (polled every frame)."""
        start = time.perf_counter()
        self.page.wait_for_function(
            """([root, t]) => {
                const column = document.querySelector(root + ' .textgen-column');
                return column && Math.abs(parseFloat(column.dataset.temperature) - t) < 1e-6;
            }""", arg=[".textgen-panel", temperature], polling="raf", timeout=timeout)
        return time.perf_counter() - start


def words_split_across_lines(page, root: str = ".textgen-panel") -> dict:
    """Every word (run of non-space characters) in the text columns, laid out as the browser shows it:
    ``{"words": how many were checked, "split": those whose letters sit on more than one line}``."""
    return page.evaluate(
        """(root) => {
            const split = [];
            let words = 0;
            for (const pre of document.querySelectorAll(root + ' .textgen-text')) {
                const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
                for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                    for (const match of node.textContent.matchAll(/\\S+/g)) {
                        const range = document.createRange();
                        range.setStart(node, match.index);
                        range.setEnd(node, match.index + match[0].length);
                        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
                        words += 1;
                        if (lines.size > 1) split.push(match[0]);
                    }
                }
            }
            return {words, split};
        }""", root)


def exercise_slider(page, panel: Panel, screenshot=None) -> dict:
    """Move the temperature slider by keyboard and by dragging; check text and readout each time,
    and that the text columns wrap between words, never inside one.

    ``screenshot``, a path, gets a picture of the panel after the keyboard moves, stepped back to
    the temperature the notebook set (so it shows what the notebook's code does).
    """
    panel.root.locator(".textgen-column").first.wait_for(timeout=120_000)
    # "Run All" leaves the notebook scrolled to its end, and JupyterLab does not lay out cells far
    # out of view (their text reads as empty): bring the panel into view first.
    panel.root.scroll_into_view_if_needed()
    page.wait_for_function("(root) => document.querySelector(root + ' .widget-readout').innerText.trim() !== ''",
                           arg=".textgen-panel", timeout=30_000)
    start_t, start_text = panel.slider_temperature(), panel.text()
    assert panel.shown_temperature() == pytest.approx(start_t)
    latencies = []

    # Keyboard: focus the handle and step it to the right, twice (each step is 0.05).
    for _ in range(2):
        before = panel.slider_temperature()
        panel.handle.focus()
        page.keyboard.press("ArrowRight")
        target = round(before + 0.05, 2)
        latencies.append(panel.wait_until_shown(target))
        assert panel.slider_temperature() == pytest.approx(target)
    keyboard_text = panel.text()
    assert keyboard_text != start_text
    layout = words_split_across_lines(page)
    assert layout["words"] > 100 and layout["split"] == [], f"words broken across lines: {layout['split']}"
    if screenshot is not None:
        # The picture shows what the notebook's code does: step back to the temperature the notebook
        # left the slider at, where the same random seed gives the starting text again.
        for _ in range(2):
            before = panel.slider_temperature()
            panel.handle.focus()
            page.keyboard.press("ArrowLeft")
            panel.wait_until_shown(round(before - 0.05, 2))
        assert panel.slider_temperature() == pytest.approx(start_t)
        assert panel.text() == start_text
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        panel.root.screenshot(path=str(screenshot))

    # Drag: press on the handle and move the mouse right; a drag sends intermediate values,
    # so wait for the column to show the slider's final readout.
    box = panel.handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 120, box["y"] + box["height"] / 2, steps=12)
    page.mouse.up()
    page.wait_for_timeout(50)
    final = panel.slider_temperature()
    assert final > round(start_t + 0.1, 2)
    latencies.append(panel.wait_until_shown(final))
    assert panel.shown_temperature() == pytest.approx(final)
    assert panel.text() not in (start_text, keyboard_text)
    assert f"T = {final:g} (slider)" in panel.column(0).inner_text()
    return {"latencies_ms": [round(s * 1000, 1) for s in latencies],
            "median_ms": round(statistics.median(latencies) * 1000, 1), "final_temperature": final}


EIGHT_COLUMNS = "0.25, 0.5, 1 k=5, 1 p=0.9, 0.5 k=3, 1.5 p=0.8, 2 k=10"  # with the slider's column: 8


def exercise_eight_columns(page, panel: Panel) -> dict:
    """Type seven strategies into *compare with*, check the eight columns, and time slider moves."""
    compare = panel.root.locator(".widget-text input").first
    compare.fill(EIGHT_COLUMNS)
    compare.press("Enter")
    page.wait_for_function("(root) => document.querySelector(root).querySelectorAll('.textgen-column').length === 8",
                           arg=".textgen-panel", timeout=30_000)
    headings = panel.root.locator(".textgen-heading").all_inner_texts()
    assert headings[1:] == ["T = 0.25", "T = 0.5", "T = 1, top-k 5", "T = 1, top-p 0.9", "T = 0.5, top-k 3",
                            "T = 1.5, top-p 0.8", "T = 2, top-k 10"]
    latencies = []
    for _ in range(3):
        before = panel.slider_temperature()
        panel.handle.focus()
        page.keyboard.press("ArrowRight")
        latencies.append(panel.wait_until_shown(round(before + 0.05, 2)))
    assert all(len(panel.text(k)) >= 400 for k in range(8))
    return {"latencies_ms": [round(s * 1000, 1) for s in latencies],
            "median_ms": round(statistics.median(latencies) * 1000, 1)}


def unexpected_console_errors(page) -> list[str]:
    return [line for line in page.console_log
            if line.startswith(("[error]", "[pageerror]")) and not OUTSIDE_HOSTS.search(line)]


def test_the_slider_in_jupyterlab(lab_server, page):
    page.goto(f"{lab_server}/lab/tree/05_temperature_slider.ipynb")
    status = page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle"))
    status.wait_for(timeout=120_000)
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
    panel = Panel(page)
    panel.root.wait_for(timeout=180_000)
    # The notebook's own timing cell moves the slider too; wait until every cell has run.
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                   .every(p => /\\[\\d+\\]/.test(p.textContent))""", timeout=180_000)
    status.wait_for(timeout=120_000)
    result = exercise_slider(page, panel, screenshot=SCREENSHOT)
    result["rows8"] = exercise_eight_columns(page, panel)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "slider_latency.json").write_text(json.dumps(result, indent=1))
    print(f"\nslider move to new text (4 temperatures, then 8 strategies, x 400 characters): {result}")
    assert unexpected_console_errors(page) == []


def test_the_slider_as_a_standalone_voila_page(voila_server, page):
    page.goto(voila_server, timeout=120_000)
    panel = Panel(page)
    panel.root.wait_for(timeout=180_000)
    exercise_slider(page, panel)
    assert "Temperature slider" in page.title() + page.locator("h1").first.inner_text()
    assert unexpected_console_errors(page) == []
