"""Numbers that notebooks 6 and 8 quote: from the CPU benchmark (bench/results.json), from
bench/gpu.py and docs/benchmarks.md, or from their own stored outputs (a Markdown cell that reads
the output above it, an exercise's solution). The notebooks print numbers with short labels and
state them rounded in Markdown; each test here compares the two, so that a re-run or a new
benchmark that changes a number fails here instead of leaving the prose stale. (Notebook 6 keeps
the benchmark's figures in its code and notebook 8 in its Markdown, because on Colab the
repository, and so bench/results.json, is not there.)"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import notebook_cells as nb
import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = json.loads((ROOT / "bench" / "results.json").read_text("utf-8"))
NB6 = ROOT / "notebooks" / "06_colab_gpu.ipynb"
NB8 = ROOT / "notebooks" / "08_in_the_browser.ipynb"
NUMBER_WORDS = {2: "two", 4: "four", 6: "six", 8: "eight", 10: "ten"}
SHARE_WORDS = {"half": 1 / 2, "two thirds": 2 / 3, "three quarters": 3 / 4, "four fifths": 4 / 5,
               "nine tenths": 9 / 10}


def _benchmark_rounds() -> dict[int, tuple[float, float]]:
    """bench/results.json's CPU run at the end of each round of about two minutes: {budget in minutes:
    (minutes trained, windowed validation loss in nats/char)}. ``curves.ours`` gives each round's end
    (minutes, the book's measure); the epoch log's row there gives the windowed loss."""
    log = _benchmark_log()
    rounds = {}
    for minutes, book_measure in RESULTS["curves"]["ours"]:
        [row] = [row for row in log if abs(row["train_minutes"] - minutes) < 0.006
                 and row["book_measure_nats"] == book_measure]
        rounds[round(minutes)] = (minutes, row["val_nats"])
    return rounds


def _benchmark_log() -> list[dict]:
    columns = RESULTS["ours_epoch_log_columns"]
    return [dict(zip(columns, row, strict=True)) for row in RESULTS["ours_epoch_log"]]


# --- notebook 6 -----------------------------------------------------------------------------------

def test_notebook_6s_benchmark_curve_and_speed_are_bench_results():
    source = nb.source(nb.cell(NB6, "BENCHMARK_CURVE = "))
    assert nb.assigned(source, "BENCHMARK_CURVE") == _benchmark_rounds(), "copy the rounds from bench/results.json"
    assert nb.assigned(source, "BENCHMARK_CHARS_PER_SECOND") == RESULTS["ours_chars_per_second"]
    assert f"(bench/results.json, {RESULTS['dates']['training'][:10]})" in source, "the comment dates the benchmark"


def test_notebook_6s_opening_quotes_the_benchmark_at_six_minutes_and_the_gpu_target_of_bench_gpu():
    opening = nb.source(nb.cells(NB6)[0])
    loss = _benchmark_rounds()[6][1]
    assert f"below the CPU benchmark's at six ({loss:.2f} nats/char;" in opening
    target = nb.assigned((ROOT / "bench" / "gpu.py").read_text("utf-8"), "TARGET_VAL_NATS")
    assert f"the project's target for the GPU run is at most {target:g})" in opening


def test_notebook_6_describes_the_benchmark_run_as_bench_results_records_it():
    machine = RESULTS["machine"]
    where = f"a {machine['cores']}-core {machine['cpu']}"
    budget = NUMBER_WORDS[round(RESULTS["train_budget_minutes"])]
    heading = nb.source(nb.cell(NB6, "## Against the CPU benchmark, budget for budget", "markdown"))
    assert f"configuration on {where} for {budget} minutes" in heading
    reading = nb.source(nb.cell(NB6, "In the stored run (the table above)", "markdown"))
    assert f"({where}; speed varies" in reading


def test_notebook_6s_cpu_branch_trains_the_recommended_configuration():
    recommended = RESULTS["recommended"]
    model_cell = nb.source(nb.cell(NB6, "if GPU:\n    lstm_layer_sizes"))
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
    assert len(sizes) == 2 and prose in nb.source(nb.cell(NB6, "## The model", "markdown"))


def test_notebook_6_says_which_device_its_stored_run_found():
    printed = nb.printed(NB6, "report = tg.device_report()")
    cores = int(re.search(r"\((\d+) cores\)$", printed["device"]).group(1))
    assert printed["branch"] == "CPU" and printed["device"].startswith("CPU: ")
    reading = nb.source(nb.cell(NB6, "## How much bigger?", "markdown"))
    assert f"The stored run found {NUMBER_WORDS.get(cores, cores)} CPU cores and no GPU" in reading


def test_notebook_6_quotes_the_parameter_counts_it_printed():
    printed = nb.printed(NB6, "def lstm_parameters(")
    small, big = nb.to_float(printed["2x128"].split()[0]), printed["3x512"]
    ratio = nb.to_float(re.search(r", ([\d.]+)x$", big).group(1))
    assert abs(nb.to_float(big.split()[0]) / small - ratio) < 0.05
    reading = nb.source(nb.cell(NB6, "## What switches cuDNN off", "markdown"))
    assert f"has about {round(ratio)} times as many parameters (printed above)" in reading


def test_notebook_6s_cudnn_table_agrees_with_kerass_own_conditions():
    """The notebook shows public settings and tg.cudnn_blockers; Keras's own (private) test of them is
    read here, so that the table, and the sentence under it, stay what Keras does."""
    from textgen_helpers.runtime import import_keras

    keras = import_keras()
    if keras.backend.backend() != "tensorflow":
        pytest.skip("Keras's cuDNN conditions are read from its TensorFlow backend")
    import importlib

    import textgen_helpers as tg

    tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")
    cell = nb.cell(NB6, "variants = {")
    variants = nb.assigned(nb.source(cell), "variants")
    table = nb.html_table(cell)
    assert list(table) == list(variants), "the stored table has one row per variant"
    reading = nb.source(nb.cell(NB6, "Input `dropout` keeps cuDNN", "markdown")).split("\n\n")[0]
    for name, kwargs in variants.items():
        layer = keras.layers.LSTM(8, **kwargs)
        keras_would = (layer.use_cudnn in ("auto", True) and not layer.recurrent_dropout  # LSTM.inner_loop
                       and tf_rnn._do_lstm_arguments_support_cudnn(
                           layer.activation, layer.recurrent_activation, layer.unroll, layer.use_bias))
        assert keras_would == (not tg.cudnn_blockers(layer)), (name, tg.cudnn_blockers(layer))
        assert (table[name][-1] == "none") == keras_would, f"the stored row {name}: {table[name]}"
        setting = name.split("=")[0]
        if not keras_would:
            assert setting in reading.split("each switch it off")[0], f"the Markdown does not name {setting}"


def test_notebook_6_names_functions_that_the_installed_keras_has_where_it_says():
    from textgen_helpers.runtime import import_keras

    source = Path(import_keras().__file__).parent
    text = nb.source(nb.cell(NB6, "### Where Keras decides", "markdown"))
    stored = re.search(r"Keras (\d+\.\d+)", nb.stdout(nb.cells(NB6)[1])).group(1)
    assert f"In the installed Keras {stored} it lies" in text, "the Keras version the stored run used"
    for path, functions in (("layers/rnn/lstm.py", ["inner_loop"]),
                            ("backend/tensorflow/rnn.py", ["lstm", "cudnn_ok"])):
        assert f"`keras/src/{path}`" in text
        code = (source / "src" / path).read_text("utf-8")
        for function in functions:
            assert f"`{function}`" in text or f".{function}`" in text
            assert re.search(rf"^\s*def {function}\(", code, re.MULTILINE), f"Keras has no {function} in {path}"


def test_notebook_6s_cpu_run_keeps_float32_as_the_markdown_says():
    printed = nb.printed(NB6, 'print("global policy:"')
    assert printed["global policy"] == "float32" and printed["optimizer"] == "RMSprop"
    assert "the LSTMs compute in float32 with plain RMSprop" in nb.source(nb.cell(NB6, "## Train against the clock",
                                                                               "markdown"))
    table = nb.html_table(NB6, 'print("global policy:"')
    assert table and all(row[1:] == ["float32", "none"] for row in table.values()), table


def test_notebook_6_reads_its_training_run_as_it_printed_and_the_benchmark_as_it_recorded():
    printed = nb.printed(NB6, "max_seconds=minutes * 60")
    spent, budget = (nb.to_float(v)
                     for v in re.fullmatch(r"([\d.]+) of ([\d.]+)", printed["minutes training"]).groups())
    val_loss = nb.to_float(printed["validation loss"].split()[0])
    five_gram = nb.to_float(printed["5-gram"].split()[0])
    below = {"True": True, "False": False}[printed["below the 5-gram"]]
    assert below == (val_loss < five_gram)
    reading = nb.source(nb.cell(NB6, "The lines above say how far the run got", "markdown"))
    share, quoted_budget = nb.groups(r"training took about ([a-z ]+?) of the ([\d.]+) minutes", reading)
    assert nb.to_float(quoted_budget) == budget and abs(SHARE_WORDS[share] - spent / budget) < 0.05, (spent, budget)
    loss, side, ngram = nb.groups(r"ended at about (\d\.\d\d) nats/char, (above|below) the 5-gram's (\d\.\d\d)",
                                reading)
    assert (nb.to_float(loss), nb.to_float(ngram)) == (round(val_loss, 2), round(five_gram, 2))
    assert side == ("below" if below else "above")
    assert below or "did not train the model long enough to pass it" in reading, "say why the run is not below it"
    passed, at_two = nb.groups(r"passed the 5-gram after ([\d.]+) minutes of training and was at (\d\.\d\d) "
                             r"nats/char after two", reading)
    first = next(row["train_minutes"] for row in _benchmark_log() if row["val_nats"] < five_gram)
    assert nb.to_float(passed) == round(first, 1)
    assert nb.to_float(at_two) == round(_benchmark_rounds()[2][1], 2)


def test_notebook_6_reads_the_benchmark_table_as_stored():
    table = nb.html_table(NB6, "BENCHMARK_CURVE = ")
    (bench_min, this_min), (bench_rate, this_rate) = (
        map(nb.to_float, table[key]) for key in ("minutes spent training", "characters per second"))
    (bench_chars, this_chars), (bench_loss, this_loss) = (
        map(nb.to_float, table[key]) for key in ("characters predicted (millions)", "validation loss (nats/char)"))
    reading = nb.source(nb.cell(NB6, "In the stored run (the table above)", "markdown"))
    minutes = nb.groups(r"trained about (\d\.\d) minutes to the benchmark's (\d\.\d)", reading)
    assert tuple(map(nb.to_float, minutes)) == (round(this_min, 1), round(bench_min, 1))
    rates = nb.groups(r"at about ([\d,]+) characters per second to its ([\d,]+)", reading)
    assert tuple(map(nb.to_float, rates)) == (round(this_rate, -3), bench_rate)
    chars = nb.groups(r"about (\d+\.\d) million characters predicted to (\d+\.\d) million", reading)
    assert tuple(map(nb.to_float, chars)) == (this_chars, bench_chars)
    gap, side = nb.groups(r"validation loss is about (\d\.\d\d) nats/char (above|below) the benchmark's", reading)
    assert abs(nb.to_float(gap) - abs(this_loss - bench_loss)) <= 0.005 + 1e-9 and side == (
        "above" if this_loss > bench_loss else "below")


# --- notebook 8 -----------------------------------------------------------------------------------

def _solution(path: Path, number: int) -> str:
    """The Solution of exercise ``number`` in the notebook's Exercises cell."""
    exercises = nb.source(nb.cell(path, "## Exercises", "markdown"))
    item = re.split(r"^(?=\d+\. )", exercises, flags=re.MULTILINE)[number]
    return item[item.index("<summary>Solution</summary>"):]


def _export_sizes() -> dict[str, float]:
    """The export cell's stored table: {file name: KB}."""
    return {name: float(kb) for name, kb in nb.text_rows(nb.plain(NB8, "tg.export_tfjs(bundle"))}


def _parameters() -> int:
    return int(nb.to_float(nb.printed(NB8, "tg.shipped_bundle()")["parameters"]))


def test_notebook_8_reads_only_what_the_package_carries_or_it_computes():
    for cell in nb.cells(NB8):
        if cell["cell_type"] == "code":
            for path in ("../", "test-artifacts", "bench/", "docs/"):
                assert path not in nb.source(cell), f"a code cell of notebook 8 reads {path}: {nb.source(cell)[:200]}"


def test_notebook_8_states_the_export_sizes_the_export_cell_printed():
    sizes, parameters = _export_sizes(), _parameters()
    shards = [name for name in sizes if name.endswith(".bin")]
    reading = nb.source(nb.cell(NB8, "The weights take about", "markdown"))
    kb, numbers = nb.groups(r"The weights take about ([\d,]+) KB, the `.bin` shard above: ([\d,]+) float32", reading)
    assert nb.to_float(kb) == round(sum(sizes[s] for s in shards)) == round(4 * parameters / 1024)
    assert nb.to_float(numbers) == parameters and len(shards) == 1 and "in one shard" in reading
    assert f"`model.json` is about {round(sizes['model.json'])} KB" in reading
    assert f"`textgen.json` (about {round(sizes['textgen.json'])} KB)" in reading
    vocabulary = re.match(r"(\d+) characters", nb.printed(NB8, "tg.shipped_bundle()")["vocabulary"]).group(1)
    assert f"the {vocabulary}-character vocabulary" in reading


def test_notebook_8s_exercise_1_gives_the_shard_size_the_export_cell_printed():
    kb = round(sum(size for name, size in _export_sizes().items() if name.endswith(".bin")))
    assert f"({kb:,} KB for the shipped {_parameters():,})" in _solution(NB8, 1)


def test_notebook_8_reads_the_two_gates_as_printed():
    printed = nb.printed(NB8, "forget = 1 / (1 + np.exp(-4.0))")
    gap = nb.to_float(printed["largest gap, -1 <= x <= 1"])
    forget = re.fullmatch(r"sigmoid (0\.\d+), hardSigmoid 1", printed["forget gate at x = 4"]).group(1)
    kept = re.fullmatch(r"sigmoid (\d+)%, hardSigmoid 100%", printed["kept after 100 characters"]).group(1)
    reading = nb.source(nb.cell(NB8, "Between -1 and 1 the two differ", "markdown"))
    assert f"differ by at most about {round(gap, 2):g} (printed above)" in reading
    assert f"a forget gate of {forget} and hardSigmoid exactly 1" in reading
    assert f"the first has kept about {kept}% of what the cell held" in reading


def test_notebook_8s_read_back_adds_up_to_the_model_as_the_markdown_says():
    rows = nb.text_rows(nb.plain(NB8, "read_tfjs_weights(export_dir)"))
    numbers = {row[0]: int(row[-1]) for row in rows}
    reading = nb.source(nb.cell(NB8, "came back bit for bit", "markdown"))
    assert f"All {len(numbers)} arrays, {sum(numbers.values()):,} numbers" in reading
    assert sum(numbers.values()) == _parameters()
    units = re.search(r"lstm_1\s+LSTM\s+(\d+)", nb.plain(NB8, "modelTopology")).group(1)
    kernel = next(row for row in rows if row[0] == "lstm_1/kernel")
    assert f"{kernel[-2].strip('[]')} = 4 × {units} columns" in reading and (
        int(kernel[-2].strip("[],")) == 4 * int(units))


def test_notebook_8_quotes_the_greedy_loop_it_printed_and_python_writes_the_same_text():
    greedy = nb.stdout(NB8, "greedy = bundle.generate(")
    quoted = re.search(r'a loop \("([^"]+)"\)', nb.source(nb.cell(NB8, "The page writes exactly this", "markdown")))
    assert quoted and quoted.group(1) in greedy
    assert nb.printed(NB8, "bundle.generator")["same text as above"] == "True"
    assert "the same greedy text (`True` above)" in nb.source(nb.cell(NB8, "The fast generator writes", "markdown"))


def test_notebook_8_quotes_the_browser_benchmark_as_bench_results_records_it():
    web, machine = RESULTS["web"], RESULTS["machine"]
    reading = nb.source(nb.cell(NB8, "The fast generator writes", "markdown"))
    browser, python = web["browser_chars_per_second"], web["python_fast_generator_chars_per_second"]
    assert f"a {machine['cores']}-core {machine['cpu']}, Chromium {web['browser'].split('.')[0]}," in reading
    tfjs = ".".join(web["tfjs"].split(".")[:2])
    assert f"TensorFlow.js {tfjs} on its `{web['backend']}` backend" in reading
    assert f"| `web/` in the browser (TensorFlow.js) | {browser:,} |" in reading
    assert f"| Python, `tg.FastGenerator` (XLA) | {python:,} |" in reading and web["xla"]
    assert f"Python was about {round(python / browser)} times faster" in reading
    assert f"a character took about {1000 / browser:.2f} ms" in reading
    assert f"200 characters take about {200 / browser:.2f} s" in reading


def test_notebook_8s_exercise_2_gives_the_book_generators_speed_from_the_benchmark():
    rate = RESULTS["book_generator_chars_per_second"]
    assert f"at {rate:g} characters per second, about {1000 / rate:.0f} ms a character" in _solution(NB8, 2)


def test_notebook_8s_exercise_3_quotes_what_going_further_printed():
    cell = nb.cell(NB8, "hard_text = tg.generate_reference(")
    printed = nb.printed(cell)
    sigmoid_text = ast.literal_eval(printed["sigmoid gates"].strip())
    hard_text = ast.literal_eval(printed["hardSigmoid gates"].strip())
    agree = next(i for i, (a, b) in enumerate(zip(sigmoid_text, hard_text, strict=True)) if a != b)
    assert int(printed["characters in common"]) == agree
    assert f"agree for the first {agree} characters" in nb.source(nb.cell(NB8, "then part ways: the same weights",
                                                                        "markdown"))
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
                       nb.source(nb.cell(NB8, "### Why the browser is slower", "markdown"))).group(1)
    assert f"(about {quoted} ms a character)" in (ROOT / "docs" / "benchmarks.md").read_text("utf-8")
