"""Numbers that notebooks 6 and 8 quote rather than compute: from the CPU benchmark (bench/results.json),
from bench/gpu.py and docs/benchmarks.md, or from their own stored outputs (an exercise's solution).
Each is checked against its source, so that a new benchmark or a re-run that changes it fails here
instead of leaving the prose stale. (Notebook 6 keeps the benchmark's figures in its code because on
Colab the repository, and so bench/results.json, is not there.)"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = json.loads((ROOT / "bench" / "results.json").read_text("utf-8"))
NB6 = ROOT / "notebooks" / "06_colab_gpu.ipynb"
NB8 = ROOT / "notebooks" / "08_in_the_browser.ipynb"
NUMBER_WORDS = {2: "two", 4: "four", 6: "six", 8: "eight", 10: "ten"}


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text("utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _cell(path: Path, needle: str, cell_type: str = "code") -> dict:
    """The one cell of ``path`` of ``cell_type`` whose source contains ``needle``."""
    found = [c for c in _cells(path) if c["cell_type"] == cell_type and needle in _source(c)]
    assert len(found) == 1, f"{path.name}: {len(found)} {cell_type} cells contain {needle!r}, expected one"
    return found[0]


def _output_text(cell: dict, kind: str) -> str:
    """The stored output of ``cell``: its ``text/markdown`` (kind "markdown") or its stdout (kind "stdout")."""
    for output in cell.get("outputs", []):
        if kind == "markdown" and "text/markdown" in output.get("data", {}):
            return "".join(output["data"]["text/markdown"])
        if kind == "stdout" and output["output_type"] == "stream" and output["name"] == "stdout":
            return "".join(output["text"])
    raise AssertionError(f"the cell has no stored {kind} output; execute the notebook")


def _assigned(source: str, name: str):
    """The literal value assigned to ``name`` at the top level of a code cell (or a module)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"no top-level assignment to {name}")


def _benchmark_rounds() -> dict[int, tuple[float, float]]:
    """bench/results.json's CPU run at the end of each round of about two minutes: {budget in minutes:
    (minutes trained, windowed validation loss in nats/char)}. ``curves.ours`` gives each round's end
    (minutes, the book's measure); the epoch log's row there gives the windowed loss."""
    columns = RESULTS["ours_epoch_log_columns"]
    log = [dict(zip(columns, row, strict=True)) for row in RESULTS["ours_epoch_log"]]
    rounds = {}
    for minutes, book_measure in RESULTS["curves"]["ours"]:
        [row] = [row for row in log if abs(row["train_minutes"] - minutes) < 0.006
                 and row["book_measure_nats"] == book_measure]
        rounds[round(minutes)] = (minutes, row["val_nats"])
    return rounds


# --- notebook 6 -----------------------------------------------------------------------------------

def test_notebook_6s_benchmark_curve_and_speed_are_bench_results():
    source = _source(_cell(NB6, "BENCHMARK_CURVE = "))
    assert _assigned(source, "BENCHMARK_CURVE") == _benchmark_rounds(), "copy the rounds from bench/results.json"
    assert _assigned(source, "BENCHMARK_CHARS_PER_SECOND") == RESULTS["ours_chars_per_second"]
    assert f"(bench/results.json, {RESULTS['dates']['training'][:10]})" in source, "the comment dates the benchmark"


def test_notebook_6s_opening_quotes_the_benchmark_at_six_minutes_and_the_gpu_target_of_bench_gpu():
    opening = _source(_cells(NB6)[0])
    loss = _benchmark_rounds()[6][1]
    assert f"below the CPU benchmark's at six ({loss:.2f} nats/char;" in opening
    target = _assigned((ROOT / "bench" / "gpu.py").read_text("utf-8"), "TARGET_VAL_NATS")
    assert f"the project's target for the GPU run is at most {target:g})" in opening


def test_notebook_6_describes_the_benchmark_run_as_bench_results_records_it():
    machine = RESULTS["machine"]
    where = f"a {machine['cores']}-core {machine['cpu']}"
    budget = NUMBER_WORDS[round(RESULTS["train_budget_minutes"])]
    heading = _source(_cell(NB6, "## Against the CPU benchmark, budget for budget", "markdown"))
    assert f"configuration on {where} for {budget} minutes" in heading
    reading = _output_text(_cell(NB6, "reading = ("), "markdown")  # the CPU branch's, as stored
    assert f"({where}; speed varies" in reading


def test_notebook_6s_cpu_branch_trains_the_recommended_configuration():
    recommended = RESULTS["recommended"]
    model_cell = _source(_cell(NB6, "if GPU:\n    lstm_layer_sizes"))
    branch = next(node for node in ast.parse(model_cell).body if isinstance(node, ast.If))
    names = [target.id for target in branch.orelse[0].targets[0].elts]
    values = dict(zip(names, ast.literal_eval(branch.orelse[0].value), strict=True))
    for key in ("lstm_layer_sizes", "dropout", "sample_len", "batch_size", "examples_per_epoch"):
        assert values[key] == recommended[key], (
            f"notebook 6's CPU branch: {key} {values[key]!r}, benchmark {recommended[key]!r}")
    call = next(node for node in ast.walk(ast.parse(model_cell))
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "build_model")
    keywords = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg in ("learning_rate", "clipnorm")}
    assert keywords == {"learning_rate": recommended["learning_rate"], "clipnorm": recommended["clipnorm"]}
    sizes = recommended["lstm_layer_sizes"].split(",")
    prose = (f"(2×{sizes[0]}, dropout {recommended['dropout']:g}, windows of {recommended['sample_len']}, "
             f"batches of {recommended['batch_size']})")
    assert len(sizes) == 2 and prose in _source(_cell(NB6, "## The model", "markdown"))


# --- notebook 8 -----------------------------------------------------------------------------------

def _solution(path: Path, number: int) -> str:
    """The Solution of exercise ``number`` in the notebook's Exercises cell."""
    exercises = _source(_cell(path, "## Exercises", "markdown"))
    item = re.split(r"^(?=\d+\. )", exercises, flags=re.MULTILINE)[number]
    return item[item.index("<summary>Solution</summary>"):]


def test_notebook_8s_exercise_1_gives_the_shard_size_the_export_cell_printed():
    printed = _output_text(_cell(NB8, "tg.export_tfjs(bundle"), "markdown")
    kb, parameters = re.search(r"The weights take ([\d,]+) KB: ([\d,]+) float32 numbers", printed).groups()
    assert f"({kb} KB for the shipped {parameters})" in _solution(NB8, 1)
    assert round(int(parameters.replace(",", "")) * 4 / 1024) == int(kb.replace(",", ""))


def test_notebook_8s_exercise_2_gives_the_book_generators_speed_from_the_benchmark():
    rate = RESULTS["book_generator_chars_per_second"]
    assert f"at {rate:g} characters per second, about {1000 / rate:.0f} ms a character" in _solution(NB8, 2)


def test_notebook_8s_exercise_3_quotes_what_going_further_printed():
    cell = _cell(NB8, "hard_text = tg.generate_reference(")
    printed = dict(line.split(": ", 1) for line in _output_text(cell, "stdout").strip().splitlines())
    sigmoid_text = ast.literal_eval(printed["sigmoid gates"].strip())
    hard_text = ast.literal_eval(printed["hardSigmoid gates"].strip())
    agree = next(i for i, (a, b) in enumerate(zip(sigmoid_text, hard_text, strict=True)) if a != b)
    assert f"agree for the first {agree} characters" in _output_text(cell, "markdown")
    solution = _solution(NB8, 3)
    count, prefix, hard_words, sigmoid_words = re.search(
        r"the first (\d+) characters agree \(`([^`]*)`\), then the hardSigmoid gates write \"([^\"]+)\" where "
        r"the sigmoid gates write \"([^\"]+)\"", solution).groups()
    assert int(count) == agree and prefix == repr(sigmoid_text[:agree])[1:-1]
    for words, text in ((hard_words, hard_text), (sigmoid_words, sigmoid_text)):
        start = text.find(words)  # the quoted words are where the two part ways
        assert 0 <= start <= agree < start + len(words), f"{words!r} is not where the texts part in {text!r}"


def test_notebook_8_quotes_webgls_speed_as_docs_benchmarks_gives_it():
    quoted = re.search(r"about ([\d.]+) ms a character in `docs/benchmarks.md`",
                       _source(_cell(NB8, "### Why the browser is slower", "markdown"))).group(1)
    assert f"(about {quoted} ms a character)" in (ROOT / "docs" / "benchmarks.md").read_text("utf-8")
