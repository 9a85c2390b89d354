"""The ``textgen`` command, end to end in subprocesses, as a user runs it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from textgen_helpers.cli import main

TEXTGEN = str(Path(sys.executable).with_name("textgen"))
QUICK_TRAIN = ["--epochs", "1", "--examples-per-epoch", "128", "--batch-size", "32", "--sample-len", "30",
               "--lstm-layer-size", "16", "--display-length", "20"]


def run_textgen(*args, env=None, timeout=180):
    return subprocess.run([TEXTGEN, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def small_corpus(shakespeare, tmp_path):
    path = tmp_path / "small.txt"
    path.write_text(shakespeare.text[:30_000], encoding="utf-8")
    return path


@pytest.mark.parametrize("command", [[], ["train"], ["generate"], ["corpora"]])
def test_help_works_for_every_command(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    assert "usage: textgen" in capsys.readouterr().out


def test_train_help_lists_the_original_flags(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for flag in ["--lstm-layer-size", "--lstmLayerSize", "--epochs", "--sample-len", "--sample-step", "--learning-rate",
                 "--examples-per-epoch", "--batch-size", "--validation-split", "--display-length", "--save-path",
                 "--framing", "--resume"]:
        assert flag in out


@pytest.mark.parametrize("args, message", [
    (["train", "shakespeare", "--lstm-layer-size", "128,,x"], "layer 2 is empty"),
    (["train", "shakespeare", "--lstmLayerSize", "0"], "layer 1 has 0 units"),
    (["train", "shakespeare", "--epochs", "0"], "expected a positive whole number, got '0'"),
    (["train", "shakespeare", "--epochs", "ten"], "expected a positive whole number"),
    (["train", "shakespeare", "--validation-split", "1.5"], "between 0 and 1"),
    (["train", "shakespeare", "--learning-rate", "-1"], "expected a positive number"),
    (["train", "shakespeare", "--framing", "seq2many"], "invalid choice"),
    (["train", "shakespeare", "--temperatures", "0,,1"], "empty entry"),
    (["train"], "the following arguments are required: CORPUS_OR_PATH"),
    (["generate", "bundle", "--temperature", "-1"], "temperature must be >= 0"),
    (["generate", "bundle", "--temperature", "nan"], "finite"),
    (["generate", "bundle", "--temperature", "warm"], "expected a number"),
    (["generate", "bundle", "--length", "-5"], "positive whole number"),
    (["frobnicate"], "invalid choice"),
])
def test_a_bad_argument_prints_one_line_and_exits_2(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert "--help" in err


def test_a_missing_corpus_or_bundle_is_one_line_and_exit_1(tmp_path):
    result = run_textgen("generate", tmp_path / "no-bundle")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "does not exist" in result.stderr
    result = run_textgen("train", tmp_path / "missing.txt", *QUICK_TRAIN)
    assert result.returncode == 1 and "missing.txt" in result.stderr and "Traceback" not in result.stderr


def test_resume_needs_a_place_to_find_the_checkpoint(small_corpus, capsys):
    assert main(["train", str(small_corpus), "--resume", *QUICK_TRAIN]) == 1
    assert "--resume needs --save-path" in capsys.readouterr().err


def test_corpora_lists_every_corpus_and_where_it_is(mirror, tmp_path):
    result = run_textgen("corpora", env={"TEXTGEN_CORPUS_MIRROR": str(mirror), "TEXTGEN_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0
    for name in ["shakespeare", "nietzsche", "verne", "alice", "dostoevsky-ru"]:
        assert name in result.stdout
    shakespeare_row = next(line for line in result.stdout.splitlines() if line.startswith("shakespeare"))
    assert shakespeare_row.split()[4:6] == ["no", "yes"]  # not cached, in the mirror


def test_train_save_delete_the_corpus_then_generate(small_corpus, tmp_path):
    bundle = tmp_path / "models" / "small"
    result = run_textgen("train", small_corpus, *QUICK_TRAIN, "--save-path", bundle)
    assert result.returncode == 0, result.stderr
    assert "epoch 1/1  loss" in result.stdout and "T=0.75" in result.stdout
    assert f"saved the model bundle to {bundle}" in result.stdout
    assert result.stderr == ""  # no TensorFlow start-up noise
    training = json.loads((bundle / "config.json").read_text())["training"]
    assert training["command"].startswith("textgen train ") and "--lstm-layer-size 16" in training["command"]
    assert training["learning_rate"] == 0.01 and training["optimizer"] == "rmsprop"
    small_corpus.unlink()

    result = run_textgen("generate", bundle, "--length", "60", "--temperature", "0.5", "--seed-text", "First:")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) == 61  # 60 characters and a newline
    result = run_textgen("generate", bundle, "--length", "30", "--temperatures", "0,0.5,1")
    assert result.stdout.count("--- temperature") == 3
    result = run_textgen("generate", bundle, "--seed-text", "First €")
    assert result.returncode == 1 and "'€' (U+20AC EURO SIGN)" in result.stderr and "--unknown" in result.stderr
    assert run_textgen("generate", bundle, "--seed-text", "First €", "--unknown", "skip").returncode == 0


def test_an_interrupted_training_run_resumes_where_it_stopped(small_corpus, tmp_path):
    bundle = tmp_path / "model"
    checkpoint = tmp_path / "model-checkpoint"
    args = ["train", str(small_corpus), *QUICK_TRAIN, "--epochs", "30", "--save-path", str(bundle)]
    process = subprocess.Popen([TEXTGEN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (checkpoint / "state.json").exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert not bundle.exists()

    done = json.loads((checkpoint / "state.json").read_text())["epoch"]
    result = run_textgen(*args[:-4], "--epochs", str(done + 1), "--save-path", bundle, "--resume")
    assert result.returncode == 0, result.stderr
    assert f"resumed from {checkpoint} after epoch {done}" in result.stdout
    assert f"epoch {done + 1}/{done + 1}" in result.stdout
    assert bundle.is_dir()
