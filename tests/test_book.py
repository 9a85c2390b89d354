"""The book's Table 10.1 and textgen's stored run of the book's settings (data/book/), and the table
that sets them side by side."""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import textgen_helpers as tg
from textgen_helpers.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
BOOK_FLAGS = {"lstm_layer_size": [128, 128], "framing": "seq2one", "sample_len": 60, "sample_step": 3,
              "examples_per_epoch": 10_000, "batch_size": 128, "learning_rate": 0.01}


def test_the_book_table_has_every_sample_of_every_row():
    book = tg.load_book_table()
    assert [row["epoch"] for row in book["rows"]] == [5, 25, 50, 100, 120]
    for row in book["rows"]:
        assert set(row["samples"]) == {f"T = {t:g}" for t in book["temperatures"]}
        assert all(row["samples"].values()), f"epoch {row['epoch']} has an empty sample"
    assert "Manning 2020" in book["source"] and book["transcription_note"]


def test_the_stored_run_is_the_books_command_run_to_120_epochs():
    run, book = tg.load_book_run(), tg.load_book_table()
    args = build_parser().parse_args(shlex.split(run["command"])[1:])
    parsed = {name: getattr(args, name) for name in BOOK_FLAGS}
    parsed["lstm_layer_size"] = list(parsed["lstm_layer_size"])
    assert parsed == BOOK_FLAGS
    assert args.seed_text == book["seed_text"] and tuple(args.temperatures) == tuple(book["temperatures"])
    assert args.epochs == 120 and run["history"]["epoch"].tolist() == list(range(1, 121))
    # The settings the run recorded are those the command asked for.
    assert run["settings"]["framing"] == "seq2one" and run["settings"]["lstm_layer_sizes"] == "128,128"
    assert run["settings"]["seed_text"] == book["seed_text"]
    for key in ("date", "wall_seconds", "machine", "versions"):
        assert run[key], key
    assert run["machine"]["cpu"] and run["wall_seconds"] > run["history"]["train_seconds"].sum()


def test_the_stored_run_has_a_sample_for_every_cell_of_the_table():
    run, book = tg.load_book_run(), tg.load_book_table()
    for row in book["rows"]:
        for t in book["temperatures"]:
            texts = run["samples"].query("epoch == @row['epoch'] and temperature == @t")["text"].tolist()
            assert len(texts) == 1 and len(texts[0]) == 120, (row["epoch"], t)
    assert (ROOT / "data/book/textgen_120_epochs.json").stat().st_size < 200_000, "keep the stored run small"


def test_the_table_sets_each_book_row_beside_ours_with_full_width_seed_and_continuation():
    book = tg.load_book_table()
    history = pd.DataFrame({"epoch": [5, 25], "val_loss": [2.31, 1.9]})
    samples = pd.DataFrame([{"epoch": e, "temperature": t, "text": f"ours {e} {t}\nline"}
                            for e in (5, 25) for t in book["temperatures"]])
    html = tg.table_10_1_html(book, history, samples, true_continuation="the truth").data
    assert html.count('colspan="5"') == 2 + 3  # seed, continuation, and the three epochs not trained
    assert "the truth" in html and "epoch 25, textgen</th><td>1.90" in html and "ours 5 0.25⏎\nline" in html
    for row in book["rows"]:
        assert f"epoch {row['epoch']}, the book</th><td>{row['book_val_loss_nats']:.2f}" in html
    assert html.count("not trained this far") == 3


def test_the_run_script_writes_the_record_the_notebook_reads(tmp_path):
    out = tmp_path / "run.json"
    subprocess.run([sys.executable, str(ROOT / "tools/book_run.py"), "--epochs", "1", "--out", str(out)],
                   check=True, capture_output=True, text=True, timeout=600)
    record = json.loads(out.read_text("utf-8"))
    stored = json.loads((ROOT / "data/book/textgen_120_epochs.json").read_text())
    assert set(record) == set(stored)
    assert record["command"].replace("--epochs 1 ", "--epochs 120 ") == stored["command"]
    assert len(record["history"]) == 1 and {s["temperature"] for s in record["samples"]} == {0, 0.25, 0.5, 0.75}
    assert "command" not in record["settings"]


def test_the_notebooks_run_long_trains_what_the_stored_command_trains(tmp_path, shakespeare):
    # Notebook 4's RUN_LONG builds and trains the model from the stored run's settings as `textgen train` does
    # (set_seed, then build_model). Two short epochs on the start of the text, the rest of the stored command
    # unchanged: the losses and the samples must be the command's.
    stored = tg.load_book_run()
    text = tmp_path / "shakespeare_start.txt"
    text.write_text(shakespeare.text[:6_000], "utf-8")
    argv = shlex.split(stored["command"])[1:-2]  # after "textgen", before "--save-path BUNDLE"
    argv[1] = str(text)
    quick = {"--epochs": "2", "--examples-per-epoch": "256", "--display-length": "20"}
    for flag, value in quick.items():
        argv[argv.index(flag) + 1] = value
    assert main([*argv, "--save-path", str(tmp_path / "bundle"), "--quiet"]) == 0
    command_history = pd.DataFrame(json.loads((tmp_path / "bundle" / "config.json").read_text("utf-8"))["history"])
    command_samples = json.loads((tmp_path / "bundle-checkpoint" / "state.json").read_text("utf-8"))["samples"]

    settings = {**stored["settings"], "examples_per_epoch": 256, "display_length": 20}  # as RUN_LONG reads them
    vocab = tg.Vocabulary.from_text(text.read_text("utf-8"))
    tg.set_seed(settings["seed"])
    model = tg.build_model(len(vocab), settings["lstm_layer_sizes"], framing=settings["framing"],
                           dropout=settings["dropout"], learning_rate=settings["learning_rate"],
                           optimizer=settings["optimizer"], clipnorm=settings["optimizer_config"]["clipnorm"])
    run = tg.train(model, vocab, text.read_text("utf-8"), epochs=2, config=tg.TrainingConfig.from_dict(settings),
                   verbose=0)

    for column in ("loss", "val_loss", "val_loss_stateful"):
        assert run.history[column].tolist() == pytest.approx(command_history[column].tolist(), rel=1e-6), column
    assert run.samples["text"].tolist() == [sample["text"] for sample in command_samples]


def test_the_samples_table_shows_the_spaces_html_would_collapse():
    # An untrained model often writes only spaces at T = 0: the cell must not look empty.
    table = pd.DataFrame({"T = 0": ["   ", "the  cat "], "T = 0.5": ["a\nb", " x"]},
                         index=pd.Index([1, 2], name="epoch"))
    html = tg.samples_table_html(table).data
    assert ">␣␣␣</td>" in html and ">the␣␣cat␣</td>" in html and ">␣x</td>" in html and ">a⏎b</td>" in html
    assert "&nbsp;" not in html
