"""Notebook 2's prose against its stored outputs: every number its Markdown states (rounded) or its
exercises' solutions quote is read from the committed, executed notebook, or recomputed with the
package from the stored character count, so that a re-run that changes it fails here instead of
leaving the prose stale. The notebook itself keeps only the check that teaches (its windowing code
written out equals the package's)."""
from __future__ import annotations

import ast
import html
import json
import re
import sys
from pathlib import Path

import numpy as np

import textgen_helpers as tg

ROOT = Path(__file__).resolve().parents[1]
NB2 = ROOT / "notebooks" / "02_data_windowing.ipynb"
sys.path.insert(0, str(ROOT / "tools"))
from notebook_words import main_path_cells  # noqa: E402

NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}
_ROW = re.compile(r"<tr>\s*<th>(.*?)</th>(.*?)</tr>", re.DOTALL)
_TD = re.compile(r"<td>(.*?)</td>", re.DOTALL)


def _notebook() -> dict:
    return json.loads(NB2.read_text("utf-8"))


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _cell(needle: str, cell_type: str = "code") -> dict:
    """The one cell of ``cell_type`` whose source contains ``needle``."""
    found = [c for c in _notebook()["cells"] if c["cell_type"] == cell_type and needle in _source(c)]
    assert len(found) == 1, f"{NB2.name}: {len(found)} {cell_type} cells contain {needle!r}, expected one"
    return found[0]


def _markdown(needle: str) -> str:
    """The source of the one Markdown cell containing ``needle``, lines joined by spaces."""
    return " ".join(_source(_cell(needle, "markdown")).split())


def _stdout(cell: dict) -> str:
    text = "".join("".join(o["text"]) for o in cell.get("outputs", [])
                   if o["output_type"] == "stream" and o["name"] == "stdout")
    assert text, "the cell has no stored stdout; execute the notebook"
    return text


def _table(cell: dict) -> dict[str, list[str]]:
    """A displayed DataFrame's rows from its stored text/html: {row label: [cell texts]}."""
    for output in cell.get("outputs", []):
        page = "".join(output.get("data", {}).get("text/html", ""))
        if page:
            return {html.unescape(label): [html.unescape(v) for v in _TD.findall(body)]
                    for label, body in _ROW.findall(page.split("<tbody>", 1)[1])}
    raise AssertionError("the cell has no stored table; execute the notebook")


def _number(text: str, pattern: str) -> float:
    """The number captured by ``pattern``'s first group in ``text`` (thousands commas allowed)."""
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found in {text[:300]!r}"
    return float(match.group(1).replace(",", ""))


def _settings() -> tuple[int, int]:
    """``sample_len, sample_step`` as the windows cell assigns them."""
    for node in ast.parse(_source(_cell("sample_len, sample_step = "))).body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "(sample_len, sample_step)":
            return ast.literal_eval(node.value)
    raise AssertionError("the windows cell no longer assigns sample_len, sample_step")


def _corpus_line() -> tuple[int, int, float]:
    """Characters, distinct characters and MB of int32 ids, as the first cell after the set-up printed them."""
    out = _stdout(_cell('tg.load_corpus("shakespeare")'))
    return (int(_number(out, r"characters: ([\d,]+)")), int(_number(out, r"distinct: (\d+)")),
            _number(out, r"int32 ids: ([\d.]+) MB"))


def _windows() -> int:
    return int(_number(_stdout(_cell("sample_len, sample_step = ")), r"windows: ([\d,]+)"))


# --- the main path --------------------------------------------------------------------------------

def test_the_main_path_loads_only_tiny_shakespeare():
    main = [source for kind, source, _ in main_path_cells(_notebook()) if kind == "code"]
    loads = [m for source in main for m in re.findall(r"load_corpus\(([^)]*)\)", source)]
    assert loads == ['"shakespeare"'], f"the main path loads {loads}; only tiny Shakespeare belongs there"
    assert not any("registry()" in source for source in main), "the registry's corpora belong under Going further"


def test_the_corpus_prose_rounds_the_printed_corpus_line():
    chars, distinct, megabytes = _corpus_line()
    prose = _markdown("## Windows: `sample_len` and `sample_step`")
    assert _number(prose, r"about ([\d.]+) million characters") == round(chars / 1e6, 1)
    assert _number(prose, r"characters of (\d+) kinds") == distinct
    assert _number(prose, r"takes ([\d.]+) MB") == megabytes
    assert _number(_markdown("## One-hot windows"), r"vector: (\d+) numbers") == distinct


def test_the_windows_prose_follows_sample_len_and_sample_step():
    sample_len, sample_step = _settings()
    assert _number(_markdown("## Windows: `sample_len`"), r"consecutive windows share (\d+) characters") == (
        sample_len - sample_step)
    targets = _markdown("## Sequence-to-one and sequence-to-sequence targets")
    assert _number(targets, r"holds (\d+) predictions") == _number(targets, r"gives (\d+) training targets") == (
        sample_len)
    validation = _markdown("## Why validation must be a contiguous tail")
    at = _number(validation, r"starting at character ([\d,]+)")
    assert _number(validation, r"shares (\d+) of its") == sample_len - sample_step
    assert _number(validation, r"of its (\d+) characters") == sample_len
    assert _number(validation, r"windows at ([\d,]+) and") == at - sample_step
    assert _number(validation, r"windows at [\d,]+ and ([\d,]+)") == at + sample_step


def test_the_window_count_is_the_grid_and_the_prose_rounds_it():
    chars, _, _ = _corpus_line()
    sample_len, sample_step = _settings()
    n = _windows()
    assert n == len(range(0, chars - sample_len, sample_step))
    onehot = _markdown("## One-hot windows")
    assert _number(onehot, r"About ([\d,]+) windows \(printed above\)") == round(n, -3)
    assert "a third as many as there are characters" in onehot and round(chars / n) == 3
    assert _number(_markdown("For the whole text these arrays are"), r"N about ([\d,]+)") == round(n, -3)


def test_the_onehot_loops_read_window_0_and_its_label_back():
    sample_len, _ = _settings()
    out = _stdout(_cell("def onehot_windows("))
    window = ast.literal_eval(re.search(r"window 0 decoded back: ('.*')", out).group(1))
    label = ast.literal_eval(re.search(r"its label: ('.*')", out).group(1))
    assert len(window) == sample_len
    first = _table(_cell("sample_len, sample_step = "))["0"]
    assert first == ["0", window.replace("\n", "⏎").replace(" ", "␣"), label]
    assert f"the label is the `{label}` that comes next" in _markdown("For the whole text these arrays are")


def test_the_memory_prose_rounds_the_printed_estimates_and_the_limit():
    out = _stdout(_cell("tg.estimate_onehot_memory(n, sample_len"))
    bool_gb = _number(out, r"as bool: .*= ([\d.]+) GB")
    float_gb = _number(out, r"\n[\d,]+ one-hot windows .* as float32: .*= ([\d.]+) GB")
    limit = _number(out, r"\(limit ([\d.]+) GB\)")
    assert out.count("refusing to allocate") == 1 and float_gb > limit > bool_gb
    reading = _markdown("About 1 GB as bool")
    assert _number(reading, r"About (\d+) GB as bool") == round(bool_gb)
    assert _number(reading, r"and (\d+) GB as float32") == round(float_gb)
    assert _number(reading, r"ids take ([\d.]+) MB") == _corpus_line()[2] == _number(out, r"\), ([\d.]+) MB for")
    assert _number(_markdown("For the whole text these arrays are"), r"above ([\d.]+) GB") == round(limit)


def test_sequence_to_sequence_targets_are_the_input_shifted_by_one():
    table = _table(_cell('"seq2seq target"'))
    inputs, seq2one, seq2seq = table["input"], table["seq2one target"], table["seq2seq target"]
    assert seq2seq[:-1] == inputs[1:], "each position's target is the next input character"
    assert [c for c in seq2one if c] == [seq2seq[-1]] and seq2one[-1] == seq2seq[-1]


def test_the_written_out_stream_gives_y_one_character_ahead_of_x():
    sample_len, _ = _settings()
    out = _stdout(_cell("stream = WindowStream("))
    assert f"x: (4, {sample_len}) int32  y: (4, {sample_len}) int32" in out
    x0 = ast.literal_eval(re.search(r"x\[0\]: ('.*')", out).group(1))
    y0 = ast.literal_eval(re.search(r"y\[0\]: ('.*')", out).group(1))
    assert len(x0) == len(y0) == sample_len and y0[:-1] == x0[1:]
    batch0 = _table(_cell("def first_window("))["batch 0"]
    assert batch0 == [x0.replace("\n", "⏎").replace(" ", "␣")], "the package's batch 0 is the stream's batch 0"


def test_the_checking_cell_ran_to_its_end_beyond_one_pass_over_the_windows():
    cell = _cell("def same(a, b):")
    assert _source(cell).count("assert ") == 3
    batches = ast.literal_eval(re.search(r"batches (\[.*\])", _stdout(cell)).group(1))
    one_pass = _windows() // 4
    assert max(batches) > one_pass
    prose = _markdown("## Our code against the package's")
    assert _number(prose, r"up to number ([\d,]+)") == max(batches)
    assert _number(prose, r"about ([\d,]+) batches of 4") == round(one_pass, -3)


def test_the_batch_table_shows_what_the_prose_says():
    table = {label: row[0] for label, row in _table(_cell("def first_window(")).items()}
    assert table["batch 0, asked again"] == table["batch 0"]
    assert table["start_step=2, its batch 0"] == table["batch 2"]
    assert table["batch 1"] != table["batch 0"] and table["seed=1, batch 0"] != table["batch 0"]
    prose = _markdown("Batch 0 asked again is batch 0")
    assert "begins with batch 2" in prose and "batch 1 and `seed=1` hold other windows" in prose


def test_the_overlap_prose_rounds_the_printed_table():
    shares = {label: float(row[0].rstrip("%")) / 100
              for label, row in _table(_cell('shared["contiguous tail')).items()}
    prose = _markdown("After one epoch about half")
    assert 0.4 <= shares["random windows, epoch 1"] <= 0.6, "the prose says about half after one epoch"
    assert "after five nearly all do" in prose and shares["random windows, epoch 5"] >= 0.9
    assert shares["random windows, epoch 20"] >= shares["random windows, epoch 5"]
    assert "The tail shares none" in prose and shares["contiguous tail (last 10%), any epoch"] == 0


# --- the exercises' solutions ---------------------------------------------------------------------

def _exercise(number: int) -> str:
    body = _markdown("## Exercises").split("## Exercises", 1)[1]
    return re.split(r"\s\d\. ", " " + body)[number]


def test_exercise_1_every_character_starts_a_window():
    chars, vocab_size, megabytes = _corpus_line()
    sample_len, sample_step = _settings()
    solution = _exercise(1)
    every_char = tg.count_windows(chars, sample_len, 1)
    assert _number(solution, r"([\d,]+) windows \(one per character") == every_char
    assert _number(solution, r"but the last (\d+)\)") == sample_len
    assert f"{NUMBER_WORDS[round(every_char / _windows())]} times as many" in solution
    assert _number(solution, r"as many as with a step of (\d+)") == sample_step
    estimate = str(tg.estimate_onehot_memory(every_char, sample_len, vocab_size, "float32"))
    inputs, targets, total = re.search(r"inputs ([\d.]+) GB \+ targets ([\d.]+) GB = ([\d.]+) GB", estimate).groups()
    assert f"{inputs} GB of inputs and {targets} GB of targets, {total} GB" in solution
    assert _number(solution, r"ids stay ([\d.]+) MB") == megabytes


def test_exercise_2_fifty_thousand_windows_overlap_nearly_all_after_one_epoch():
    chars, _, _ = _corpus_line()
    sample_len, sample_step = _settings()
    drawn = np.random.default_rng(0).choice(np.arange(0, chars - sample_len, sample_step), 50_000, replace=False)
    n_train = len(drawn) - round(len(drawn) * 0.0625)  # the overlap cell's validationSplit
    assert _number(_exercise(2), r"count how much of the text ([\d,]+) of them cover") == n_train
    assert _number(_exercise(2), r"Each training window covers (\d+) characters") == sample_len + 1
    covered = np.zeros(chars, dtype=bool)
    for s in drawn[:n_train]:
        covered[s:s + sample_len + 1] = True
    share = np.mean([covered[s:s + sample_len + 1].any() for s in drawn[n_train:]])
    assert "nearly every random validation window shares text" in _exercise(2) and share > 0.9
    assert "size=10_000" in _source(_cell("for epoch in range(1, 21):")), "the exercise names the cell's draw"


def test_exercise_3_longer_windows_barely_change_their_number():
    chars, vocab_size, megabytes = _corpus_line()
    sample_len, sample_step = _settings()
    solution = _exercise(3)
    longer = tg.count_windows(chars, 100, sample_step)
    assert _number(solution, r"\(([\d,]+) instead of") == longer
    assert _number(solution, r"instead of ([\d,]+)\)") == _windows()
    assert _number(solution, r"each is ([\d.]+) times longer") == 100 / sample_len
    before = tg.estimate_onehot_memory(_windows(), sample_len, vocab_size, "float32").inputs / 1e9
    after = tg.estimate_onehot_memory(longer, 100, vocab_size, "float32").inputs / 1e9
    assert f"from {before:.2f} GB to {after:.2f} GB" in solution
    assert _number(solution, r"ids stay ([\d.]+) MB") == megabytes


# --- going further --------------------------------------------------------------------------------

def test_going_further_states_the_corpus_table_rounded():
    registry = tg.registry()
    others = [info for name, info in registry.items() if name != "shakespeare"]
    intro = _markdown("### What each corpus would need")
    assert f"names {NUMBER_WORDS[len(others)]} corpora besides tiny Shakespeare" in intro
    assert _number(intro, r"about ([\d.]+) MB to download") == round(sum(i.bytes for i in others) / 1e6, 1)
    table = _table(_cell("def memory_row(name):"))
    assert list(table) == list(registry)
    columns = ["characters", "V", "windows", "bool", "float32", "ids"]
    russian = dict(zip(columns, map(float, table["dostoevsky-ru"]), strict=True))
    assert russian["float32"] == max(float(row[4]) for row in table.values())
    reading = _markdown("The Russian novel")
    assert _number(reading, r"with (\d+) distinct characters") == russian["V"]
    assert _number(reading, r"about (\d+) GB as float32") == round(russian["float32"])
    assert _number(reading, r"for ([\d.]+) MB of ids") == russian["ids"]
