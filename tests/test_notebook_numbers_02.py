"""Notebook 2's prose against its stored outputs: every number its Markdown states (rounded) or its
exercises' solutions quote is read from the committed, executed notebook, or recomputed with the
package from the stored character count, so that a re-run that changes it fails here instead of
leaving the prose stale. The notebook itself keeps only the check that teaches (its windowing code
written out equals the package's)."""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import notebook_cells as nb
import numpy as np

import textgen_helpers as tg

ROOT = Path(__file__).resolve().parents[1]
NB2 = ROOT / "notebooks" / "02_data_windowing.ipynb"
sys.path.insert(0, str(ROOT / "tools"))
from notebook_words import main_path_cells  # noqa: E402

NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}


def _settings() -> tuple[int, int]:
    """``sample_len, sample_step`` as the windows cell assigns them."""
    for node in ast.parse(nb.source(nb.cell(NB2, "sample_len, sample_step = "))).body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "(sample_len, sample_step)":
            return ast.literal_eval(node.value)
    raise AssertionError("the windows cell no longer assigns sample_len, sample_step")


def _corpus_line() -> tuple[int, int, float]:
    """Characters, distinct characters and MB of int32 ids, as the first cell after the set-up printed them."""
    out = nb.stdout(NB2, 'tg.load_corpus("shakespeare")')
    return (int(nb.number(r"characters: ([\d,]+)", out)), int(nb.number(r"distinct: (\d+)", out)),
            nb.number(r"int32 ids: ([\d.]+) MB", out))


def _windows() -> int:
    return int(nb.number(r"windows: ([\d,]+)", nb.stdout(NB2, "sample_len, sample_step = ")))


# --- the main path --------------------------------------------------------------------------------

def test_the_main_path_loads_only_tiny_shakespeare():
    main = [source for kind, source, _ in main_path_cells(nb.notebook(NB2)) if kind == "code"]
    loads = [m for source in main for m in re.findall(r"load_corpus\(([^)]*)\)", source)]
    assert loads == ['"shakespeare"'], f"the main path loads {loads}; only tiny Shakespeare belongs there"
    assert not any("registry()" in source for source in main), "the registry's corpora belong under Going further"


def test_the_corpus_prose_rounds_the_printed_corpus_line():
    chars, distinct, megabytes = _corpus_line()
    prose = nb.markdown(NB2, "## Windows: `sample_len` and `sample_step`")
    assert nb.number(r"about ([\d.]+) million characters", prose) == round(chars / 1e6, 1)
    assert nb.number(r"characters of (\d+) kinds", prose) == distinct
    assert nb.number(r"takes ([\d.]+) MB", prose) == megabytes
    assert nb.number(r"vector: (\d+) numbers", nb.markdown(NB2, "## One-hot windows")) == distinct


def test_the_windows_prose_follows_sample_len_and_sample_step():
    sample_len, sample_step = _settings()
    assert nb.number(r"consecutive windows share (\d+) characters", nb.markdown(NB2, "## Windows: `sample_len`")) == (
        sample_len - sample_step)
    targets = nb.markdown(NB2, "## Sequence-to-one and sequence-to-sequence targets")
    assert nb.number(r"holds (\d+) predictions", targets) == nb.number(r"gives (\d+) training targets", targets) == (
        sample_len)
    validation = nb.markdown(NB2, "## Why validation must be a contiguous tail")
    at = nb.number(r"starting at character ([\d,]+)", validation)
    assert nb.number(r"shares (\d+) of its", validation) == sample_len - sample_step
    assert nb.number(r"of its (\d+) characters", validation) == sample_len
    assert nb.number(r"windows at ([\d,]+) and", validation) == at - sample_step
    assert nb.number(r"windows at [\d,]+ and ([\d,]+)", validation) == at + sample_step


def test_the_window_count_is_the_grid_and_the_prose_rounds_it():
    chars, _, _ = _corpus_line()
    sample_len, sample_step = _settings()
    n = _windows()
    assert n == len(range(0, chars - sample_len, sample_step))
    onehot = nb.markdown(NB2, "## One-hot windows")
    assert nb.number(r"About ([\d,]+) windows \(printed above\)", onehot) == round(n, -3)
    assert "a third as many as there are characters" in onehot and round(chars / n) == 3
    assert nb.number(r"N about ([\d,]+)", nb.markdown(NB2, "For the whole text these arrays are")) == round(n, -3)


def test_the_onehot_loops_read_window_0_and_its_label_back():
    sample_len, _ = _settings()
    out = nb.stdout(NB2, "def onehot_windows(")
    window = ast.literal_eval(re.search(r"window 0 decoded back: ('.*')", out).group(1))
    label = ast.literal_eval(re.search(r"its label: ('.*')", out).group(1))
    assert len(window) == sample_len
    first = nb.html_table(NB2, "sample_len, sample_step = ")["0"]
    assert first == ["0", window.replace("\n", "⏎").replace(" ", "␣"), label]
    assert f"the label is the `{label}` that comes next" in nb.markdown(NB2, "For the whole text these arrays are")


def test_the_memory_prose_rounds_the_printed_estimates_and_the_limit():
    out = nb.stdout(NB2, "tg.estimate_onehot_memory(n, sample_len")
    bool_gb = nb.number(r"as bool: .*= ([\d.]+) GB", out)
    float_gb = nb.number(r"\n[\d,]+ one-hot windows .* as float32: .*= ([\d.]+) GB", out)
    limit = nb.number(r"\(limit ([\d.]+) GB\)", out)
    assert out.count("refusing to allocate") == 1 and float_gb > limit > bool_gb
    reading = nb.markdown(NB2, "About 1 GB as bool")
    assert nb.number(r"About (\d+) GB as bool", reading) == round(bool_gb)
    assert nb.number(r"and (\d+) GB as float32", reading) == round(float_gb)
    assert nb.number(r"ids take ([\d.]+) MB", reading) == _corpus_line()[2] == nb.number(r"\), ([\d.]+) MB for", out)
    assert nb.number(r"above ([\d.]+) GB", nb.markdown(NB2, "For the whole text these arrays are")) == round(limit)


def test_sequence_to_sequence_targets_are_the_input_shifted_by_one():
    table = nb.html_table(NB2, '"seq2seq target"')
    inputs, seq2one, seq2seq = table["input"], table["seq2one target"], table["seq2seq target"]
    assert seq2seq[:-1] == inputs[1:], "each position's target is the next input character"
    assert [c for c in seq2one if c] == [seq2seq[-1]] and seq2one[-1] == seq2seq[-1]


def test_the_written_out_stream_gives_y_one_character_ahead_of_x():
    sample_len, _ = _settings()
    out = nb.stdout(NB2, "stream = WindowStream(")
    assert f"x: (4, {sample_len}) int32  y: (4, {sample_len}) int32" in out
    x0 = ast.literal_eval(re.search(r"x\[0\]: ('.*')", out).group(1))
    y0 = ast.literal_eval(re.search(r"y\[0\]: ('.*')", out).group(1))
    assert len(x0) == len(y0) == sample_len and y0[:-1] == x0[1:]
    batch0 = nb.html_table(NB2, "def first_window(")["batch 0"]
    assert batch0 == [x0.replace("\n", "⏎").replace(" ", "␣")], "the package's batch 0 is the stream's batch 0"


def test_the_checking_cell_ran_to_its_end_beyond_one_pass_over_the_windows():
    cell = nb.cell(NB2, "def same(a, b):")
    assert nb.source(cell).count("assert ") == 3
    batches = ast.literal_eval(re.search(r"batches (\[.*\])", nb.stdout(cell)).group(1))
    one_pass = _windows() // 4
    assert max(batches) > one_pass
    prose = nb.markdown(NB2, "## Our code against the package's")
    assert nb.number(r"up to number ([\d,]+)", prose) == max(batches)
    assert nb.number(r"about ([\d,]+) batches of 4", prose) == round(one_pass, -3)


def test_the_batch_table_shows_what_the_prose_says():
    table = {label: row[0] for label, row in nb.html_table(NB2, "def first_window(").items()}
    assert table["batch 0, asked again"] == table["batch 0"]
    assert table["start_step=2, its batch 0"] == table["batch 2"]
    assert table["batch 1"] != table["batch 0"] and table["seed=1, batch 0"] != table["batch 0"]
    prose = nb.markdown(NB2, "Batch 0 asked again is batch 0")
    assert "begins with batch 2" in prose and "batch 1 and `seed=1` hold other windows" in prose


def test_the_overlap_prose_rounds_the_printed_table():
    shares = {label: float(row[0].rstrip("%")) / 100
              for label, row in nb.html_table(NB2, 'shared["contiguous tail').items()}
    prose = nb.markdown(NB2, "After one epoch about half")
    assert 0.4 <= shares["random windows, epoch 1"] <= 0.6, "the prose says about half after one epoch"
    assert "after five nearly all do" in prose and shares["random windows, epoch 5"] >= 0.9
    assert shares["random windows, epoch 20"] >= shares["random windows, epoch 5"]
    assert "The tail shares none" in prose and shares["contiguous tail (last 10%), any epoch"] == 0


# --- the exercises' solutions ---------------------------------------------------------------------

def _exercise(number: int) -> str:
    body = nb.markdown(NB2, "## Exercises").split("## Exercises", 1)[1]
    return re.split(r"\s\d\. ", " " + body)[number]


def test_exercise_1_every_character_starts_a_window():
    chars, vocab_size, megabytes = _corpus_line()
    sample_len, sample_step = _settings()
    solution = _exercise(1)
    every_char = tg.count_windows(chars, sample_len, 1)
    assert nb.number(r"([\d,]+) windows \(one per character", solution) == every_char
    assert nb.number(r"but the last (\d+)\)", solution) == sample_len
    assert f"{NUMBER_WORDS[round(every_char / _windows())]} times as many" in solution
    assert nb.number(r"as many as with a step of (\d+)", solution) == sample_step
    estimate = str(tg.estimate_onehot_memory(every_char, sample_len, vocab_size, "float32"))
    inputs, targets, total = re.search(r"inputs ([\d.]+) GB \+ targets ([\d.]+) GB = ([\d.]+) GB", estimate).groups()
    assert f"{inputs} GB of inputs and {targets} GB of targets, {total} GB" in solution
    assert nb.number(r"ids stay ([\d.]+) MB", solution) == megabytes


def test_exercise_2_fifty_thousand_windows_overlap_nearly_all_after_one_epoch():
    chars, _, _ = _corpus_line()
    sample_len, sample_step = _settings()
    drawn = np.random.default_rng(0).choice(np.arange(0, chars - sample_len, sample_step), 50_000, replace=False)
    n_train = len(drawn) - round(len(drawn) * 0.0625)  # the overlap cell's validationSplit
    assert nb.number(r"count how much of the text ([\d,]+) of them cover", _exercise(2)) == n_train
    assert nb.number(r"Each training window covers (\d+) characters", _exercise(2)) == sample_len + 1
    covered = np.zeros(chars, dtype=bool)
    for s in drawn[:n_train]:
        covered[s:s + sample_len + 1] = True
    share = np.mean([covered[s:s + sample_len + 1].any() for s in drawn[n_train:]])
    assert "nearly every random validation window shares text" in _exercise(2) and share > 0.9
    assert "size=10_000" in nb.source(nb.cell(NB2, "for epoch in range(1, 21):")), "the exercise names the cell's draw"


def test_exercise_3_longer_windows_barely_change_their_number():
    chars, vocab_size, megabytes = _corpus_line()
    sample_len, sample_step = _settings()
    solution = _exercise(3)
    longer = tg.count_windows(chars, 100, sample_step)
    assert nb.number(r"\(([\d,]+) instead of", solution) == longer
    assert nb.number(r"instead of ([\d,]+)\)", solution) == _windows()
    assert nb.number(r"each is ([\d.]+) times longer", solution) == 100 / sample_len
    before = tg.estimate_onehot_memory(_windows(), sample_len, vocab_size, "float32").inputs / 1e9
    after = tg.estimate_onehot_memory(longer, 100, vocab_size, "float32").inputs / 1e9
    assert f"from {before:.2f} GB to {after:.2f} GB" in solution
    assert nb.number(r"ids stay ([\d.]+) MB", solution) == megabytes


# --- going further --------------------------------------------------------------------------------

def test_going_further_states_the_corpus_table_rounded():
    registry = tg.registry()
    others = [info for name, info in registry.items() if name != "shakespeare"]
    intro = nb.markdown(NB2, "### What each corpus would need")
    assert f"names {NUMBER_WORDS[len(others)]} corpora besides tiny Shakespeare" in intro
    assert nb.number(r"about ([\d.]+) MB to download", intro) == round(sum(i.bytes for i in others) / 1e6, 1)
    table = nb.html_table(NB2, "def memory_row(name):")
    assert list(table) == list(registry)
    columns = ["characters", "V", "windows", "bool", "float32", "ids"]
    russian = dict(zip(columns, map(float, table["dostoevsky-ru"]), strict=True))
    assert russian["float32"] == max(float(row[4]) for row in table.values())
    reading = nb.markdown(NB2, "The Russian novel")
    assert nb.number(r"with (\d+) distinct characters", reading) == russian["V"]
    assert nb.number(r"about (\d+) GB as float32", reading) == round(russian["float32"])
    assert nb.number(r"for ([\d.]+) MB of ids", reading) == russian["ids"]
