"""Notebook 5's prose against its stored outputs: every number its Markdown quotes (rounded) is read
back from what the committed, executed notebook printed, and from bench/results.json where the
prose quotes the benchmark. The notebook itself keeps one check, the one that teaches (its
``sample()`` equals ``tg.sample``); what guarded its sentences lives here. A re-run that changes a
number, or an edit that changes a sentence, fails here instead of leaving the prose stale."""
from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import notebook_cells as nb
import pytest

ROOT = Path(__file__).resolve().parents[1]
NB5 = ROOT / "notebooks" / "05_temperature_slider.ipynb"
RESULTS = json.loads((ROOT / "bench" / "results.json").read_text("utf-8"))


def _panel_cell() -> dict:
    """The cell that builds the workshop's panel (not Going further's panel of strategies)."""
    [cell] = [c for c in nb.cells(NB5) if nb.source(c).startswith("panel = tg.TemperaturePanel(")]
    return cell


def _table(cell: dict) -> dict[str, list[float]]:
    """A stored DataFrame's text/plain output as {row label: the row's numbers}."""
    return {label: [float(v) for v in values] for label, *values in nb.text_rows(nb.plain(cell)) if values}


def _assigned_number(source: str, name: str) -> float:
    return nb.number(rf"\b{name}=([0-9.]+)", source)


# --- the trained model ----------------------------------------------------------------------------

def test_the_models_description_is_what_the_model_cell_printed():
    printed = nb.printed(NB5, "USE_MINE = False")
    text = nb.markdown(NB5, "Two stacked LSTM layers")
    sizes = printed["model"].split("LSTM layers ")[1].split(",")
    assert len(sizes) == 2 and set(sizes) == {"128"}, printed["model"]
    assert "Two stacked LSTM layers of 128 cells" in text
    corpus, epochs = printed["trained on"].split(", ")
    assert corpus == "shakespeare" and "on tiny Shakespeare" in text
    assert f"trained for {epochs.split()[0]} epochs" in text
    nats = nb.number(r"([0-9.]+) nats/char", printed["validation loss"])
    bits = nb.number(r"([0-9.]+) bits/char", printed["validation loss"])
    assert f"about {nats:.2f} nats ({bits:.1f} bits) per character" in text


def test_the_uniform_case_is_the_vocabulary_printed():
    vocabulary = int(nb.number(r"(\d+) characters", nb.printed(NB5, "USE_MINE = False")["vocabulary"]))
    uniform = nb.printed(NB5, "plot_entropy_vs_temperature")[f"uniform over {vocabulary} characters"]
    assert vocabulary == 65 and uniform == "6.02 bits"
    assert "log2 65 = 6.02 bits when all 65 are equally likely" in nb.markdown(NB5, "## Temperature in two figures")


# --- temperature reshapes the distribution ----------------------------------------------------------

def test_the_first_tables_reading_is_what_it_shows():
    table = _table(nb.cell(NB5, "at_t = {"))
    header = nb.plain(NB5, "at_t = {").splitlines()[0]
    columns = re.findall(r"T = ([0-9.]+)", header)
    assert columns == ["0", "0.25", "0.5", "1", "1.5", "2"], header
    rows = list(table)
    text = nb.markdown(NB5, "the model hesitates between")
    assert rows[:2] == ["'t'", "'e'"] and "between `t` and `e`" in text
    at_1 = [table[r][columns.index("1")] for r in rows[:2]]
    assert {round(p, 2) for p in at_1} == {0.19} and "about 0.19 each at T = 1" in text
    two_at_025 = sum(table[r][columns.index("0.25")] for r in rows[:2])
    assert f"those two hold about {two_at_025:.0%} of the probability" in text
    assert f"the favourite gets only about {table[rows[0]][columns.index('2')]:.2f}" in text
    assert table[rows[0]][0] == 1.0  # T = 0: the argmax holds everything
    assert 'Juliet is the s")' in nb.source(nb.cell(NB5, "seed_text = ("))


def test_the_draws_land_within_a_percentage_point():
    largest = float(nb.printed(NB5, "draws = np.array")["largest difference"])
    assert largest < 0.01
    assert "within one percentage point of its probability" in nb.markdown(NB5, "Every share lands within")


def test_forty_draws_at_each_temperature_read_as_the_prose_says():
    printed = nb.stdout(NB5, "forty = {}")
    rows = re.findall(r"^T = ([0-9.]+)\s+(\S{40})\s+\((\d+) distinct\)$", printed, re.MULTILINE)
    assert [t for t, _, _ in rows] == ["0", "0.25", "0.5", "0.75", "1", "1.5"]
    text = nb.markdown(NB5, "all forty draws are")
    assert rows[0][1] == "t" * 40 and "At T = 0 all forty draws are `t`" in text
    distinct = [int(n) for _, _, n in rows]
    assert distinct == sorted(distinct) and distinct[0] == 1, "the hotter, the more characters join in"
    same = nb.number(r"same draw at T = 1 and T = 1.5: (\d+) of 40", printed)
    assert same == sum(a == b for a, b in zip(rows[4][1], rows[5][1], strict=True))
    assert f"agree at {same:.0f} of the 40 draws" in text


def test_the_entropies_quoted_are_the_ones_printed():
    printed = nb.printed(NB5, "plot_entropy_vs_temperature")
    at_1 = nb.number(r"([0-9.]+) bits", printed["entropy at T = 1"])
    at_2 = nb.number(r"([0-9.]+) bits", printed["entropy at T = 2"])
    uniform = nb.number(r"([0-9.]+) bits", printed["uniform over 65 characters"])
    text = nb.markdown(NB5, "The model's own distribution (T = 1) has")
    assert f"(T = 1) has about {at_1:.1f} bits" in text
    assert f"at T = 2 it reaches about {at_2:.1f} bits" in text and at_2 < uniform
    assert f"still below the {uniform:.2f} bits of a uniform guess" in text


# --- the sliders ------------------------------------------------------------------------------------

def _slider_text() -> tuple[float, str]:
    printed = nb.stdout(NB5, "widgets.FloatSlider")
    head, text = printed.split("\n", 1)
    return nb.number(r"^T = ([0-9.]+):$", head), text


def _panel_columns() -> dict[str, str]:
    """The panel's columns as the timing cell printed them (``panel.as_text``): {heading: text}."""
    printed = nb.stdout(NB5, "median per slider move")
    parts = re.split(r"^--- (.+) ---\n", printed, flags=re.MULTILINE)
    return {heading: text.rstrip("\n") for heading, text in zip(parts[1::2], parts[2::2], strict=True)}


def test_your_slider_and_the_panels_first_column_show_the_same_text():
    t, text = _slider_text()
    panel_t = _assigned_number(nb.source(_panel_cell()), "temperature")
    assert t == panel_t == _assigned_number(nb.source(nb.cell(NB5, "widgets.FloatSlider")), "value")
    first = _panel_columns()[f"T = {t:g} (slider)"]
    assert len(first) >= 200 and text.startswith(first), "the slider and the panel's first column differ"
    assert f"compare the T = {t:g} text under your slider" in nb.markdown(NB5, "Both sliders call the same generator")


def test_the_screenshot_shows_the_temperature_the_panels_code_sets():
    """The browser test screenshots the panel where Run All leaves it (tests/browser/test_slider.py):
    the notebook must leave it at the temperature its code sets, and the caption must say that one."""
    source = nb.source(_panel_cell())
    t = _assigned_number(source, "temperature")
    compare = re.search(r'compare="([^"]+)"', source).group(1)
    columns = _panel_columns()
    assert list(columns) == [f"T = {t:g} (slider)"] + [f"T = {float(c):g}" for c in compare.split(", ")]
    caption = nb.markdown(NB5, "](attachment:slider.png)")
    assert f"the slider at T = {t:g}, as the cell below sets it, and T = 0.25 on top, T = 0.5 and T = 1" in caption
    assert [f"{float(c):g}" for c in compare.split(", ")] == ["0.25", "0.5", "1"]


def test_a_slider_move_is_quick_and_the_prose_quotes_the_benchmark():
    printed = nb.printed(NB5, "median per slider move")["median per slider move"]
    ms = nb.number(r"^(\d+) ms", printed)
    assert ms < 1000, "the slider should answer in well under a second"
    assert "(4 columns x 400 characters)" in printed
    text = nb.markdown(NB5, "A move takes tens of milliseconds")
    python_ms = RESULTS["panel_ms_400_chars"]["xla_temperatures_4_rows"]
    browser_ms = RESULTS["slider_latency_ms"]
    assert f"about {round(python_ms, -1):.0f} ms for four columns" in text
    assert f"about {round(browser_ms, -1):.0f} ms in a browser" in text


# --- the exercises' solutions (run under Going further) ---------------------------------------------

def test_exercise_1s_solution_says_what_the_runs_print():
    cell = nb.cell(NB5, "leaves = {}")
    leaves = _table(cell)  # {seed: [T = 0.01, T = 0.1]} (the "seed" line holds no numbers)
    assert len(leaves) == 5
    line = nb.number(r"the greedy text's first line is (\d+) characters long", nb.displayed_markdown(cell))
    cold = statistics.median(v[0] for v in leaves.values())
    sooner = sum(v[1] < v[0] for v in leaves.values())
    assert cold > line / 2 and sooner >= 3, (cold, line, sooner)
    solution = nb.markdown(NB5, "## Exercises")
    assert "T = 0.01 follows the greedy text for most of a line" in solution
    assert "T = 0.1 usually departs sooner" in solution


def test_exercise_3s_solution_says_what_the_runs_print():
    cell = nb.cell(NB5, "after_speech = ")
    rows = _table(cell)
    labels = list(rows)
    assert labels[0] == "'\\n'" and rows[labels[0]][0] > 0.5, "a second line break, with most of the probability"
    assert all(re.fullmatch(r"'[A-Z]'", label) for label in labels[1:]), "then capital letters"
    prose = nb.displayed_markdown(cell)
    after_break = nb.number(r"The entropy at T = 1 is ([0-9.]+) bits", prose)
    after_s = nb.number(r"against ([0-9.]+) after", prose)
    assert after_break < after_s, "the model is surer after a speech ends"
    at_1 = nb.number(r"([0-9.]+) bits", nb.printed(NB5, "plot_entropy_vs_temperature")["entropy at T = 1"])
    assert after_s == pytest.approx(at_1)
    solution = nb.markdown(NB5, "## Exercises")
    assert "a second line break, with most of the probability" in solution
    assert "then capital letters" in solution and 'lower than after "the s"' in solution
