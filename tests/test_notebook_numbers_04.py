"""Notebook 4's prose against its stored outputs and the benchmark: the live run's recipe is the one
bench/run.py measures, and every number the Markdown rounds is the one the run printed."""
from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import notebook_cells as nb

ROOT = Path(__file__).resolve().parents[1]
NB4 = ROOT / "notebooks" / "04_training_curves.ipynb"
RESULTS = json.loads((ROOT / "bench" / "results.json").read_text("utf-8"))


def _bench_module():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import run
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return run


# --- the live run is the benchmark's ---------------------------------------------------------------

def test_notebook_4s_live_run_is_the_recipe_and_budget_the_benchmark_measures():
    live = _bench_module().WORKSHOP_LIVE
    settings = ast.parse(nb.source(nb.cell(NB4, "def build_live_model")))
    values = {}
    for node in settings.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple):  # live_minutes, ... = 2.5, ...
            names = [t.id for t in node.targets[0].elts]
            values.update(zip(names, ast.literal_eval(node.value), strict=True))
        elif isinstance(node, ast.Assign) and node.targets[0].id == "live_settings":
            values.update({k.arg: ast.literal_eval(k.value) for k in node.value.keywords if k.arg != "seed_text"})
    calls = {ast.unparse(n.func): n for n in ast.walk(settings) if isinstance(n, ast.Call)}
    model = {k.arg: ast.literal_eval(k.value) for k in calls["tg.build_model"].keywords if k.arg != "learning_rate"}
    measure = calls["tg.evaluate_loss"]
    assert values["live_minutes"] == live["minutes"] and values["live_layer_sizes"] == live["lstm_layer_sizes"]
    assert {k: values[k] for k in ("sample_len", "examples_per_epoch", "batch_size")} == {
        k: live[k] for k in ("sample_len", "examples_per_epoch", "batch_size")}
    assert model == {"framing": "seq2seq", "dropout": live["dropout"], "clipnorm": live["clipnorm"]}
    assert ast.literal_eval(measure.args[2]) == live["measure_context"]
    assert {k.arg: ast.literal_eval(k.value) for k in measure.keywords} == {
        "framing": "seq2one", "max_windows": live["measure_windows"]}
    assert _bench_module().WORKSHOP_LIVE["seed_text"] in nb.source(nb.cell(NB4, "BOOK_SEED = "))
    train = nb.source(nb.cell(NB4, "live = tg.train("))
    assert "tg.halve_lr_on_plateau(learning_rate)" in train and "max_seconds=live_minutes * 60" in train
    assert f"BOOK_SEED, {live['sample_chars']}, {live['sample_temperature']:g}, seed=0" in train


def test_the_stored_book_run_scores_by_the_measure_the_live_figure_names():
    from textgen_helpers import load_book_run

    settings = load_book_run()["settings"]
    assert (settings["framing"], settings["sample_len"], settings["max_validation_windows"]) == ("seq2one", 60, 2000)
    assert "character after 60 of held-out text (2,000 windows)" in nb.source(nb.cell(NB4, "def book_measure"))


def test_the_benchmark_found_what_issue_24_asks_of_the_live_run():
    live = RESULTS["workshop_live_run"]
    assert len(live["seeds"]) >= 3 and live["every_seed_below_ngram"]
    assert all(v < live["ngram_nats"] for v in live["val_nats_per_seed"])
    assert live["real_words_t05"] >= 0.8


# --- the prose rounds what the runs printed ----------------------------------------------------------

def test_the_hand_written_fit_is_described_by_its_printed_loss():
    printed = nb.number(r"epoch 2: loss ([\d.]+) nats", nb.stdout(NB4, "history = model.fit("))
    assert f"about {printed:.1f} nats per character after epoch 2" in nb.markdown(NB4, "**Why so slow?**")


def test_the_stored_run_wrote_only_spaces_at_t_0_after_its_first_epoch_as_the_prose_says():
    from textgen_helpers import load_book_run

    samples = load_book_run()["samples"]
    greedy = samples[samples["temperature"] == 0].set_index("epoch")["text"]
    assert not greedy[1].strip() and greedy[2].strip()
    assert "wrote only spaces at T = 0 after its first epoch" in nb.markdown(NB4, "**Why so slow?**")


def test_the_live_runs_reading_is_what_it_printed_and_what_the_benchmark_found():
    printed = nb.stdout(NB4, "live = tg.train(")
    minutes, nats = nb.number(r"trained: ([\d.]+) min", printed), nb.number(r"validation loss: ([\d.]+) nats", printed)
    ngram, share = nb.number(r"5-gram: ([\d.]+)\)", printed), nb.number(r"real words at T = 0.5: ([\d.]+)", printed)
    prose = nb.markdown(NB4, "Here the run trained for about")
    assert f"trained for about {minutes:.1f} minutes" in prose
    assert f"ended at about {nats:.2f} nats" in prose
    assert f"{'below' if nats < ngram else 'above'} the 5-gram's {ngram:.2f}" in prose
    assert f"about {round(share * 100)}% of the words" in prose
    bench = RESULTS["workshop_live_run"]
    assert f"median of {bench['val_nats_end']:.2f} nats over {len(bench['seeds'])} seeds" in prose
    assert f"after a median {bench['minutes_to_ngram']:.1f} minutes of training" in prose
    assert f"median real-word share {bench['real_words_t05']:.2f}" in prose
    assert bench["machine"]["cpu"] in prose


def test_the_line_under_table_10_1_gives_where_the_live_run_and_the_stored_run_ended():
    from textgen_helpers import load_book_run

    printed = nb.stdout(NB4, "live = tg.train(")
    minutes, nats = nb.number(r"trained: ([\d.]+) min", printed), nb.number(r"validation loss: ([\d.]+) nats", printed)
    stored = load_book_run()["history"]
    stored_minutes = nb.number(r": (\d+) min of training for 120 epochs", nb.stdout(NB4, "stored_minutes = "))
    assert stored_minutes == round(stored["train_seconds"].sum() / 60)
    line = nb.markdown(NB4, "The live run above ended at")
    assert f"ended at about {nats:.2f} nats after {minutes:.1f} minutes of training" in line
    assert f"{stored['val_loss'].iloc[-1]:.2f} after {stored_minutes:.0f} minutes" in line


def test_the_20_epoch_blocks_are_read_as_the_table_prints_them():
    table = nb.plain(NB4, "blocks = by_epoch")
    rows = {line[:15].strip(): [float(v) for v in line[15:].split()] for line in table.splitlines()[1:]}
    prose = nb.markdown(NB4, "first sign of over-fitting")
    last, before, mid = rows["epochs 101-120"], rows["epochs 81-100"], rows["epochs 41-60"]
    assert f"validation loss levels off ({before[1]:.2f} then {last[1]:.2f} nats" in prose
    assert f"training loss still falls ({before[0]:.2f} to {last[0]:.2f})" in prose
    assert f"from about {mid[2]:.2f} (epochs 41-60) to {last[2]:.2f}" in prose
    assert last[0] < before[0] and last[2] > mid[2]  # what the sentence claims


def test_exercise_3_quotes_the_benchmarks_minutes_to_the_5_gram():
    bench = RESULTS["workshop_live_run"]
    exercise = nb.markdown(NB4, "Set `live_minutes = 1`")
    assert f"after a median {bench['minutes_to_ngram']:.1f} minutes of training" in exercise

