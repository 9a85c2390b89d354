"""The ``textgen`` command as a user runs it: through ``main()``, and end to end in subprocesses.

A subprocess (which imports TensorFlow anew, about 5 CPU-seconds) is kept for what only a process shows: its
exit on a signal or a closed pipe, two processes at once, and that nothing but our own line reaches its stderr.
"""

import argparse
import io
import json
import os
import re
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


def textgen_here(capsys, *args) -> tuple[int, str, str]:
    """``textgen ARGS`` through ``main()`` in this process: its exit code, stdout and stderr."""
    capsys.readouterr()
    code = main([*map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def small_corpus(shakespeare, tmp_path):
    path = tmp_path / "small.txt"
    path.write_text(shakespeare.text[:30_000], encoding="utf-8")
    return path


@pytest.mark.parametrize("command", [[], ["train"], ["generate"], ["corpora"], ["export-tfjs"]])
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


# The flags of the original example's train_node.js and gen_node.js (tfjs-examples/lstm-text-generation),
# with the kebab-case twin each is spelled as here. --gpu is not taken (Keras finds a GPU itself), nor
# gen_node.js's --sampleStep (it only picks a random seed window from the corpus, which generate does not read).
ORIGINAL_FLAGS = {
    "train": {"--sampleLen": "--sample-len", "--sampleStep": "--sample-step", "--learningRate": "--learning-rate",
              "--epochs": "--epochs", "--examplesPerEpoch": "--examples-per-epoch", "--batchSize": "--batch-size",
              "--validationSplit": "--validation-split", "--displayLength": "--display-length",
              "--savePath": "--save-path", "--lstmLayerSize": "--lstm-layer-size"},
    "generate": {"--genLength": "--gen-length", "--temperature": "--temperature"},
}


def _subcommands():
    from textgen_helpers.cli import build_parser

    (commands,) = [action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction)]
    return commands.choices


def _kebab(flag: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "-" + m.group().lower(), flag)


@pytest.mark.parametrize("command", ["train", "generate"])
def test_every_flag_of_the_original_example_is_taken_with_its_kebab_case_twin(command):
    parser = _subcommands()[command]
    actions = {flag: action for action in parser._actions for flag in action.option_strings}
    for original, twin in ORIGINAL_FLAGS[command].items():
        assert _kebab(original) == twin
        assert original in actions and actions[original] is actions[twin], (original, twin)


def test_every_camel_case_flag_has_its_kebab_case_twin():
    seen = 0
    for name, parser in _subcommands().items():
        for action in parser._actions:
            for flag in action.option_strings:
                if flag != flag.lower():
                    seen += 1
                    assert _kebab(flag) in action.option_strings, f"textgen {name} {flag} has no {_kebab(flag)}"
    assert seen >= 11  # the ten of train_node.js and --genLength


@pytest.mark.parametrize("flag", ["--length", "--gen-length", "--genLength"])
def test_the_generated_length_is_spelled_three_ways(flag):
    from textgen_helpers.cli import build_parser

    assert build_parser().parse_args(["generate", "bundle", flag, "7"]).length == 7


@pytest.mark.parametrize("command", ["train", "generate"])
def test_help_shows_a_default_only_where_there_is_one(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())  # help wraps lines anywhere
    assert "(default: False)" not in out and "(default: None)" not in out and "(default: True)" not in out
    expected = {"train": ["(default: 120)", "(default: 0.1)", "(default: seq2seq)", "(default: 128,128)"],
                "generate": ["(default: 200)", "(default: 0.5)", "(default: error)"]}[command]
    assert all(default in out for default in expected)


def test_help_says_why_a_default_differs_from_the_original_example():
    actions = {flag: action for action in _subcommands()["train"]._actions for flag in action.option_strings}
    for flag, ours, theirs, why in [("--epochs", 120, "150", "README"),
                                    ("--validation-split", 0.1, "0.0625", "overlaps training text"),
                                    ("--framing", "seq2seq", "seq2one", "every position")]:
        action = actions[flag]
        assert action.default == ours and theirs in action.help and why in action.help, flag
    seed_text = actions["--seed-text"]
    assert seed_text.default is None and "random slice" in seed_text.help


def test_train_prints_the_learnt_parameters_not_the_frozen_one_hot_table(abc_corpus, capsys, monkeypatch):
    import textgen_helpers.training
    from textgen_helpers.model import lstm_param_count

    def stop(*args, **kwargs):
        raise ValueError("stopped before training")

    monkeypatch.setattr(textgen_helpers.training, "train", stop)
    assert main(["train", str(abc_corpus), *QUICK_TRAIN]) == 1  # 16 units on "abc \n": V = 5
    out = capsys.readouterr().out
    learnt = lstm_param_count(5, 16) + 16 * 5 + 5  # 1,493; count_params() would add the 5 x 5 one-hot table
    assert f"model seq2seq 16 ({learnt:,} parameters)" in out


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
    (["generate", "bundle", "--top-k", "0"], "top_k must be >= 1, got 0; use a whole number such as 40"),
    (["generate", "bundle", "--top-k", "2.5"], "top_k must be a whole number such as 40"),
    (["generate", "bundle", "--top-p", "0"], "top_p must be > 0, got 0; use a probability in (0, 1]"),
    (["generate", "bundle", "--top-p", "1.5"], "top_p must be <= 1, got 1.5"),
    (["generate", "bundle", "--top-p", "most"], "expected a number for the top_p"),
    (["generate", "bundle", "--temperature", "0.5", "--temperatures", "0,1"],
     "argument --temperatures: not allowed with argument --temperature"),
    (["generate", "bundle", "--temperatures", "0,1", "--temperature", "0.5"],
     "argument --temperature: not allowed with argument --temperatures"),
    (["frobnicate"], "invalid choice"),
    (["export-tfjs", "bundle"], "the following arguments are required: OUT_DIR"),
    (["train", "shakespeare", "--resume", "--restart"], "not allowed with argument"),
    (["train", "shakespeare", "--embedding-dim", "8", "--framing", "seq2one"],
     "--embedding-dim needs --framing seq2seq"),
])
def test_a_bad_argument_prints_one_line_and_exits_2(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert "--help" in err


def test_a_missing_corpus_or_bundle_is_one_line_and_exit_1(tmp_path, capsys):
    from textgen_helpers.bundle import shipped_bundle

    code, _, err = textgen_here(capsys, "generate", tmp_path / "no-bundle")
    assert code == 1
    assert err.count("\n") == 1 and "does not exist" in err
    assert f"the one that ships with the package: {shipped_bundle().path}" in err  # where to start
    code, _, err = textgen_here(capsys, "train", tmp_path / "missing.txt", *QUICK_TRAIN)
    assert code == 1 and "missing.txt" in err and "Traceback" not in err


@pytest.mark.parametrize("flag", ["--resume", "--restart"])
def test_resume_and_restart_need_a_place_to_find_the_checkpoint(small_corpus, flag, capsys):
    with pytest.raises(SystemExit) as exit_:  # flags that do not go together: a usage error
        main(["train", str(small_corpus), flag, *QUICK_TRAIN])
    assert exit_.value.code == 2
    assert f"{flag} needs --save-path" in capsys.readouterr().err


def test_corpora_lists_every_corpus_and_where_it_is(mirror, tmp_path):
    result = run_textgen("corpora", env={"TEXTGEN_CORPUS_MIRROR": str(mirror), "TEXTGEN_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0
    for name in ["shakespeare", "nietzsche", "verne", "alice", "dostoevsky-ru"]:
        assert name in result.stdout
    shakespeare_row = next(line for line in result.stdout.splitlines() if line.startswith("shakespeare"))
    assert shakespeare_row.split()[4:6] == ["no", "yes"]  # not cached, in the mirror


def test_train_save_delete_the_corpus_then_generate(small_corpus, tmp_path, capsys):
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

    # (a textgen generate process of its own: test_generate_into_a_closed_pipe_exits_quietly)
    code, out, err = textgen_here(capsys, "generate", bundle, "--length", "60", "--temperature", "0.5",
                                  "--seed-text", "First:")
    assert code == 0, err
    assert len(out) == 61  # 60 characters and a newline
    code, out, err = textgen_here(capsys, "generate", bundle, "--length", "30", "--temperatures", "0,0.5,1")
    assert code == 0 and out.count("--- temperature") == 3, err
    code, out, err = textgen_here(capsys, "generate", bundle, "--seed-text", "First €")
    assert code == 1 and "'€' (U+20AC EURO SIGN)" in err and "--unknown" in err
    assert textgen_here(capsys, "generate", bundle, "--seed-text", "First €", "--unknown", "skip")[0] == 0


def test_an_interrupted_training_run_resumes_where_it_stopped(small_corpus, tmp_path, capsys):
    bundle = tmp_path / "model"
    checkpoint = tmp_path / "model-checkpoint"
    args = ["train", str(small_corpus), *QUICK_TRAIN, "--epochs", "30", "--save-path", str(bundle)]
    # A job started in the background by a non-interactive shell (as CI may start this suite) inherits
    # SIGINT ignored, and Python keeps it ignored: give the child the default, as a terminal would.
    process = subprocess.Popen([TEXTGEN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not (checkpoint / "state.json").exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert not bundle.exists()

    done = json.loads((checkpoint / "state.json").read_text())["epoch"]
    code, out, err = textgen_here(capsys, *args[:-4], "--epochs", done + 1, "--save-path", bundle, "--resume")
    assert code == 0, err
    assert f"resumed from {checkpoint} after epoch {done}" in out
    assert f"epoch {done + 1}/{done + 1}" in out
    assert bundle.is_dir()


# --- flags are spelled in full; seeds are 0..2**64-1 ---------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--vers"], "--vers"),
    (["train", "missing.txt", "--epoch", "3"], "did you mean --epochs?"),
    (["generate", "no-bundle", "--len", "5"], "did you mean --length?"),
    (["corpora", "--hel"], "--hel"),
])
def test_an_abbreviated_flag_is_rejected(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unrecognized arguments" in err and message in err and "Traceback" not in err
    command = " ".join(args[:1]) if args[0] in ("train", "generate", "corpora") else ""
    assert f"see 'textgen{' ' + command if command else ''} --help'" in err  # the help that lists the flag


@pytest.mark.parametrize("command", [["train", "missing.txt"], ["generate", "no-bundle"]])
@pytest.mark.parametrize("seed, message", [
    ("-1", "seed must be >= 0, got -1"),
    (str(2**64), "seed must be <="),
    ("1.5", "seed must be a whole number"),
])
def test_a_seed_outside_0_to_2_64_is_rejected(command, seed, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--seed", seed])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument --seed" in err and message in err and "Traceback" not in err


@pytest.mark.parametrize("command", [["train", "missing.txt"], ["generate", "no-bundle"]])
def test_every_64_bit_seed_is_accepted(command):
    from textgen_helpers.cli import build_parser

    for seed in [0, 2**32, 2**64 - 1]:
        assert build_parser().parse_args([*command, "--seed", str(seed)]).seed == seed


# --- unknown seed characters: advice that names this command's flags --------------------------

@pytest.fixture
def abc_corpus(tmp_path):
    path = tmp_path / "abc.txt"
    path.write_text("abc \n" * 1_000, encoding="utf-8")
    return path


def test_train_says_to_change_a_seed_text_the_corpus_cannot_spell(abc_corpus, capsys):
    assert main(["train", str(abc_corpus), *QUICK_TRAIN, "--seed-text", "abc €d"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "'€' (U+20AC EURO SIGN)" in err and "'d' (U+0064" in err and "--seed-text" in err
    assert "--unknown" not in err and "unknown=" not in err  # train has no such flag


def test_generate_names_its_unknown_flag_for_unknown_seed_characters(capsys):
    from textgen_helpers.bundle import shipped_bundle

    assert main(["generate", str(shipped_bundle().path), "--seed-text", "First €", "--length", "5"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "'€' (U+20AC EURO SIGN)" in err and "--unknown skip" in err and "unknown='" not in err


# --- generate streams its text, shows progress, and stops cleanly on Ctrl-C --------------------

class _FlushRecorder(io.StringIO):
    """A stdout that remembers what had been written at every flush."""

    def __init__(self, tty: bool = False):
        super().__init__()
        self.flushed, self.tty = [], tty

    def flush(self):
        self.flushed.append(self.getvalue())

    def isatty(self):
        return self.tty


def test_generate_streams_the_same_text_as_the_bundle(monkeypatch, capsys):
    from textgen_helpers.bundle import load_bundle, shipped_bundle

    path = shipped_bundle().path
    expected = load_bundle(path).generate(None, 300, 0.5, seed=7)
    out = _FlushRecorder()
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["generate", str(path), "--length", "300", "--temperature", "0.5", "--seed", "7"]) == 0
    assert out.getvalue() == expected + "\n"
    written = [text for text in out.flushed if text]
    assert [len(text) for text in written[:5]] == [64, 128, 192, 256, 300]  # flushed as it was made
    assert capsys.readouterr().err == ""  # no progress bar when stderr is not a terminal


@pytest.mark.parametrize("flags, kwargs", [
    (["--top-k", "5"], dict(top_k=5)),
    (["--top-p", "0.8"], dict(top_p=0.8)),
    (["--top-k", "5", "--top-p", "0.8"], dict(top_k=5, top_p=0.8)),
])
def test_generate_passes_top_k_and_top_p_to_the_bundle(flags, kwargs, monkeypatch, capsys):
    from textgen_helpers.bundle import load_bundle, shipped_bundle

    path = shipped_bundle().path
    bundle = load_bundle(path)
    expected = bundle.generate(None, 150, 1.0, seed=7, **kwargs)
    assert expected != bundle.generate(None, 150, 1.0, seed=7)  # the filter changes the text: the test can fail
    assert main(["generate", str(path), "--length", "150", "--temperature", "1", "--seed", "7", *flags]) == 0
    assert capsys.readouterr().out == expected + "\n"


def test_generate_help_describes_top_k_and_top_p(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    out = capsys.readouterr().out
    assert "--top-k" in out and "--top-p" in out and "nucleus" in out
    assert "(default: None)" not in out and "(default: 200)" in out  # defaults shown where there is one


def _fake_stream(pieces, *, then=None):
    """A FastGenerator.stream that yields ``pieces`` (one string per temperature each) then raises ``then``."""

    def stream(self, seed_text, length, temperatures=0.5, **kwargs):
        yield from ([piece] * len(temperatures) for piece in pieces)
        if then is not None:
            raise then

    return stream


@pytest.mark.parametrize("temperatures", [["--temperature", "0.5"], ["--temperatures", "0,0.5"]])
def test_ctrl_c_keeps_what_generate_wrote_and_exits_130(temperatures, monkeypatch, capsys):
    from textgen_helpers.bundle import shipped_bundle
    from textgen_helpers.generation import FastGenerator

    monkeypatch.setattr(FastGenerator, "stream", _fake_stream(["a" * 64, "b" * 64], then=KeyboardInterrupt()))
    assert main(["generate", str(shipped_bundle().path), "--length", "100000000", *temperatures]) == 130
    out, err = capsys.readouterr()
    assert "a" * 64 + "b" * 64 + "\n" in out
    if len(temperatures[1].split(",")) > 1:
        assert out.count("--- temperature") == 2 and out.count("a" * 64 + "b" * 64) == 2
    assert err.count("\n") == 1 and "interrupted after 128 characters" in err and "Traceback" not in err


def test_generate_shows_a_progress_bar_on_a_terminal_for_long_texts(monkeypatch):
    from textgen_helpers.bundle import shipped_bundle
    from textgen_helpers.generation import FastGenerator

    monkeypatch.setattr(FastGenerator, "stream", _fake_stream(["a" * 64] * 40))
    path = str(shipped_bundle().path)
    for stdout_tty, length, shown in [(False, 2560, True), (False, 100, False), (True, 2560, False)]:
        out, err = _FlushRecorder(tty=stdout_tty), _FlushRecorder(tty=True)
        monkeypatch.setattr(sys, "stdout", out)
        monkeypatch.setattr(sys, "stderr", err)
        assert main(["generate", path, "--length", str(length)]) == 0
        assert out.getvalue() == "a" * 2560 + "\n"
        assert ("char/s" in err.getvalue()) == shown, (stdout_tty, length, err.getvalue())


# --- nothing of the user's is overwritten ---------------------------------------------------------

def test_a_save_path_that_is_not_a_bundle_fails_before_training_and_touches_nothing(abc_corpus, tmp_path, capsys,
                                                                                    monkeypatch):
    import textgen_helpers.training

    trained = []
    monkeypatch.setattr(textgen_helpers.training, "train", lambda *args, **kwargs: trained.append(args))
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("three years of work")
    assert main(["train", str(abc_corpus), *QUICK_TRAIN, "--save-path", str(home)]) == 1
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "thesis.tex" in err and "not a model bundle" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc.txt", "home"]  # no checkpoint folder either
    assert (home / "thesis.tex").read_text() == "three years of work"
    assert trained == [] and out == ""  # refused before any training: no model was built, no epoch was printed


def test_the_same_command_again_asks_to_resume_or_restart_and_restart_starts_afresh(abc_corpus, tmp_path, capsys):
    bundle, checkpoint = tmp_path / "m", tmp_path / "m-checkpoint"
    command = ["train", str(abc_corpus), *QUICK_TRAIN, "--sample-len", "10", "--save-path", str(bundle)]
    assert main([*command, "--epochs", "2"]) == 0
    assert "trained 2 epochs in" in capsys.readouterr().out
    state = (checkpoint / "state.json").read_text()
    model = (bundle / "model.keras").read_bytes()

    assert main(command) == 1  # the same command again: the finished run's checkpoint is not overwritten
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds the checkpoint of an earlier run (after epoch 2)" in err
    assert "(--resume) continues it (with more epochs, a larger --epochs" in err and "(--restart) deletes it" in err
    assert (checkpoint / "state.json").read_text() == state and (bundle / "model.keras").read_bytes() == model

    assert main([*command, "--epochs", "2", "--resume"]) == 0  # nothing left to train, and it says so
    assert "already reached epoch 2 of 2: nothing to train" in capsys.readouterr().out

    assert main([*command, "--restart"]) == 0  # afresh: one epoch, a new checkpoint, the bundle replaced
    assert "trained 1 epoch in" in capsys.readouterr().out
    assert json.loads((checkpoint / "state.json").read_text())["epoch"] == 1
    assert sorted(p.name for p in checkpoint.iterdir()) == ["epoch_0001.keras", "state.json"]
    assert len(json.loads((bundle / "config.json").read_text())["history"]) == 1


def test_restart_deletes_only_a_checkpoint(abc_corpus, tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    assert main(["train", str(abc_corpus), *QUICK_TRAIN, "--sample-len", "10", "--checkpoint-dir", str(folder),
                 "--restart"]) == 1
    assert "not a textgen checkpoint (notes.txt)" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_generate_into_a_closed_pipe_exits_quietly(tmp_path):
    from textgen_helpers.bundle import shipped_bundle

    done = subprocess.run(f"'{TEXTGEN}' generate '{shipped_bundle().path}' --length 20000 | head -c 10",
                          shell=True, capture_output=True, text=True, timeout=180)
    assert len(done.stdout) == 10
    assert "Error" not in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_train_on_a_mirrored_strategy(abc_corpus, tmp_path, capsys):
    # (--distribute multiworker runs in tests/test_distribute.py: two worker processes on localhost)
    bundle = tmp_path / "m"
    assert main(["train", str(abc_corpus), *QUICK_TRAIN, "--sample-len", "10", "--distribute", "mirrored",
                 "--save-path", str(bundle), "--quiet"]) == 0
    assert (bundle / "model.keras").is_file()
    from textgen_helpers.runtime import device_report

    said = "no GPU found, so --distribute mirrored trains on the CPU" in capsys.readouterr().err
    assert said == (not device_report()["gpus"])  # said where there is no GPU, and only there


# --- export-tfjs ---------------------------------------------------------------------------------

def test_export_tfjs_writes_a_layers_model_and_says_how_to_load_it(tmp_path, capsys):
    from textgen_helpers.bundle import shipped_bundle

    out_dir = tmp_path / "web-model"
    assert main(["export-tfjs", str(shipped_bundle().path), str(out_dir)]) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["group1-shard1of1.bin", "model.json", "textgen.json"]
    out = capsys.readouterr().out
    assert "1 weight shard (0.97 MB)" in out and "tf.loadLayersModel('web-model/model.json')" in out
    assert json.loads((out_dir / "textgen.json").read_text())["sample_len"] == 32


def test_export_tfjs_into_a_folder_that_is_not_an_export_exits_1_and_touches_nothing(tmp_path, capsys):
    from textgen_helpers.bundle import shipped_bundle

    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("my own page")
    assert main(["export-tfjs", str(shipped_bundle().path), str(tmp_path / "site")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("textgen export-tfjs: error: refusing to export to") and "index.html" in err
    assert [p.name for p in (tmp_path / "site").iterdir()] == ["index.html"]


# --- saving: nothing lost silently, nothing of the user's touched, resume refuses what it cannot honour ---

def test_training_without_a_save_path_says_first_that_nothing_is_kept(small_corpus, capsys):
    code, out, err = textgen_here(capsys, "train", small_corpus, *QUICK_TRAIN)
    assert code == 0, err
    first = out.splitlines()[0]  # the run's first line: where it runs, and that it keeps nothing
    assert first.startswith("textgen train on TensorFlow ")
    assert "no --save-path" in first and "nothing is kept" in first and "add --save-path FOLDER" in first


@pytest.mark.parametrize("checkpoint", ["model", "model/checkpoints", "."])
def test_one_folder_for_the_bundle_and_the_checkpoints_is_refused_before_training(small_corpus, tmp_path,
                                                                                 checkpoint, capsys):
    bundle = tmp_path / "model"
    with pytest.raises(SystemExit) as exit_:
        main(["train", str(small_corpus), *QUICK_TRAIN, "--save-path", str(bundle),
              "--checkpoint-dir", str(tmp_path / checkpoint)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "must be two separate folders" in err and err.count("\n") == 1
    assert not bundle.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["small.txt"]


def test_a_resume_with_other_flags_names_each_flag_and_changes_nothing(small_corpus, tmp_path, capsys):
    bundle, checkpoint = tmp_path / "model", tmp_path / "model-checkpoint"
    assert textgen_here(capsys, "train", small_corpus, *QUICK_TRAIN, "--save-path", bundle)[0] == 0
    before = {p.name: p.read_bytes() for p in [*checkpoint.iterdir(), *bundle.iterdir()]}
    result = run_textgen("train", small_corpus, *QUICK_TRAIN[2:], "--epochs", "2", "--save-path", bundle, "--resume",
                         "--validation-split", "0.3", "--learning-rate", "0.5", "--optimizer", "adam",
                         "--dropout", "0.2", "--clipnorm", "1", "--reduce-lr-on-plateau")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    err = result.stderr.strip()
    assert err.count("\n") == 0, err  # one line, and no TensorFlow log lines after it
    for said in ["(--validation-split): 0.1 in the checkpoint, 0.3 now",
                 "(--learning-rate): 0.01 in the checkpoint, 0.5 now",
                 "(--optimizer): 'rmsprop' in the checkpoint, 'adam' now", "(--dropout): 0 in the checkpoint, 0.2 now",
                 "(--clipnorm): none in the checkpoint, 1 now",
                 "(--reduce-lr-on-plateau): none in the checkpoint, ReduceLROnPlateau(monitor='val_loss', factor=0.5"]:
        assert said in err
    assert "--epochs and --max-minutes, may change" in err and "(--restart)" in err and "nothing was changed" in err
    assert {p.name: p.read_bytes() for p in [*checkpoint.iterdir(), *bundle.iterdir()]} == before


def test_a_bundle_records_the_settings_the_run_used(small_corpus, tmp_path, capsys):
    bundle = tmp_path / "model"
    args = ["train", small_corpus, *QUICK_TRAIN, "--save-path", bundle, "--learning-rate", "0.003", "--clipnorm", "2"]
    assert textgen_here(capsys, *args)[0] == 0
    training = json.loads((bundle / "config.json").read_text())["training"]
    assert training["learning_rate"] == pytest.approx(0.003) and training["optimizer_config"]["clipnorm"] == 2.0
    assert training["optimizer"] == "rmsprop" and training["lstm_layer_sizes"] == "16"
    assert training["command"].startswith("textgen train ")


def test_a_checkpoint_of_an_older_textgen_is_one_line_naming_both_ways_out(abc_corpus, tmp_path, capsys):
    checkpoint = tmp_path / "m-checkpoint"
    checkpoint.mkdir()
    (checkpoint / "state.json").write_text(json.dumps({"format": 2, "epoch": 5, "config": {"sample_len": 10}}))
    assert main(["train", str(abc_corpus), *QUICK_TRAIN, "--save-path", str(tmp_path / "m"), "--resume"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "KeyError" not in err
    assert "written by an older textgen" in err and "with the version of textgen that wrote it" in err
    assert "--restart" in err and not (tmp_path / "m").exists()


def test_two_runs_started_together_on_one_save_path_the_second_is_refused_and_the_first_survives(small_corpus,
                                                                                                 tmp_path):
    from textgen_helpers.bundle import load_bundle

    bundle, checkpoint = tmp_path / "model", tmp_path / "model-checkpoint"
    # Epochs long enough that neither run has saved one when the other checks the folders.
    command = [TEXTGEN, "train", str(small_corpus), *QUICK_TRAIN, "--examples-per-epoch", "6400", "--epochs", "2",
               "--save-path", str(bundle)]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    started = time.monotonic()
    ended = []
    try:
        while len(ended) < 2 and time.monotonic() - started < 300:
            ended += [run for run in runs if run.poll() is not None and run not in ended]
            time.sleep(0.1)
        refused_after = time.monotonic() - started
        results = [(run.returncode, *run.communicate(timeout=60)) for run in ended]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
    (code, _, err), (won, out, _) = results  # the refused run ends first
    assert code == 1 and won == 0, results
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{checkpoint} is in use by another textgen run" in err and "nothing was changed" in err
    assert f"saved the model bundle to {bundle}" in out and refused_after < 300
    assert [row["epoch"] for row in load_bundle(bundle).config["history"]] == [1, 2]  # the winner's, whole
    assert sorted(p.name for p in checkpoint.iterdir()) == ["epoch_0002.keras", "state.json"]
