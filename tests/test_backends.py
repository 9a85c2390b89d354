"""Every Keras backend: the same package, the same answers, and no TensorFlow where it is not the backend.

Each check runs in fresh processes, one a backend (Keras reads ``KERAS_BACKEND`` once per process).
On JAX and PyTorch the processes start with ``tests/no_tensorflow`` on ``PYTHONPATH``, which makes
``import tensorflow`` fail there: TensorFlow is installed beside them on this machine, and only a
blocked import proves that the package does not need it. PyTorch's checks run where it is installed
(CI installs JAX but not PyTorch: PyPI's default torch is a CUDA build of about 3 GB).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
NO_TENSORFLOW = ROOT / "tests" / "no_tensorflow"
TEXTGEN = str(Path(sys.executable).with_name("textgen"))
OTHERS = [pytest.param(name, marks=pytest.mark.skipif(importlib.util.find_spec(name) is None,
                                                     reason=f"{name} is not installed"))
          for name in ("jax", "torch")]
TINY = ["--examples-per-epoch", "64", "--batch-size", "32", "--sample-len", "16", "--lstm-layer-size", "8",
        "--display-length", "0"]


def backend_env(backend: str) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend}
    if backend != "tensorflow":
        env["PYTHONPATH"] = os.pathsep.join([str(NO_TENSORFLOW), str(ROOT), env.get("PYTHONPATH", "")])
    return env


def run_on(backend: str, code: str, *args) -> dict:
    """Run ``code`` (which prints one JSON line last) in a process on ``backend``; return what it printed."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], capture_output=True,
                          text=True, timeout=600, env=backend_env(backend), cwd=ROOT)
    assert done.returncode == 0, f"on {backend}:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def textgen_on(backend: str, *args) -> subprocess.CompletedProcess:
    done = subprocess.run([TEXTGEN, *map(str, args)], capture_output=True, text=True, timeout=600,
                          env=backend_env(backend))
    assert done.returncode == 0, f"textgen on {backend}: {done.stderr[-3000:]}"
    return done


SHIPPED = """
import json, sys
import numpy as np
import keras
import textgen_helpers as tg
bundle = tg.shipped_bundle() if len(sys.argv) < 2 else tg.load_bundle(sys.argv[1])
text = "ROMEO:\\nBut soft, what light through yonder window breaks? It is the east, and Juliet is the sun."
ids = bundle.vocab.encode(text)[None]
from textgen_helpers.model import call_model
logits = keras.ops.convert_to_numpy(keras.ops.log_softmax(call_model(bundle.model, ids), axis=-1))
print(json.dumps({"greedy": bundle.generate("ROMEO:", 240, 0.0),
                  "sampled": bundle.generate("ROMEO:", 240, 0.8, seed=7),
                  "again": bundle.generate("ROMEO:", 240, 0.8, seed=7),
                  "other": bundle.generate("ROMEO:", 240, 0.8, seed=8),
                  "log_probs": logits[0].tolist(), "backend": keras.backend.backend(),
                  "tensorflow_imported": "tensorflow" in sys.modules}))
"""


@pytest.fixture(scope="module")
def on_tensorflow():
    """SHIPPED's answers on TensorFlow, the backend of this suite's own process: run here, not in a new process."""
    import contextlib
    import io

    from textgen_helpers.runtime import import_keras

    assert import_keras().backend.backend() == "tensorflow"
    printed, argv = io.StringIO(), sys.argv
    sys.argv = ["-c"]  # as `python -c SHIPPED`: the shipped bundle
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(SHIPPED, "SHIPPED", "exec"), {"__name__": "shipped"})
    finally:
        sys.argv = argv
    return json.loads(printed.getvalue().strip().splitlines()[-1])


@pytest.mark.parametrize("backend", OTHERS)
def test_the_shipped_bundle_gives_the_same_answers_on_every_backend(backend, on_tensorflow):
    seen = run_on(backend, SHIPPED)
    assert seen["backend"] == backend and not seen["tensorflow_imported"]
    assert len(seen["greedy"]) == 240 and seen["greedy"] == on_tensorflow["greedy"]
    np.testing.assert_allclose(seen["log_probs"], on_tensorflow["log_probs"], rtol=0, atol=1e-4)
    # A seed gives the same text again, another seed another text; the draws are NumPy's, so the same
    # seed writes the same text on every backend (up to ties in the logits, which this text has none of).
    assert seen["sampled"] == seen["again"] != seen["other"]
    assert seen["sampled"] == on_tensorflow["sampled"]


def test_sampled_text_is_reproducible_with_a_seed_on_tensorflow(on_tensorflow):
    assert on_tensorflow["sampled"] == on_tensorflow["again"] != on_tensorflow["other"]


FLOW = """
import json, sys
import numpy as np
import keras
import textgen_helpers as tg
from pathlib import Path
work = Path(sys.argv[1])
text = Path(sys.argv[2]).read_text()
vocab = tg.Vocabulary.from_text(text)
settings = dict(sample_len=16, batch_size=16, examples_per_epoch=64, display_length=20, temperatures=(0, 1))
tg.set_seed(0)
# (Exact resume on this backend: tests/test_training.py, which the Makefile's backend suite runs here.)
run = tg.train(tg.build_model(len(vocab), "8,8", dropout=0.1), vocab, text, epochs=2, checkpoint_dir=work / "ckpt",
               verbose=0, callbacks=[tg.halve_lr_on_plateau(1e-2)], max_seconds=600, **settings)
tg.save_bundle(work / "bundle", run.model, vocab, sample_len=16, history=run.history)
bundle = tg.load_bundle(work / "bundle")
ids = vocab.encode(text[-400:])
trace = tg.lstm_trace(bundle.model, vocab.encode(text[:50]))
panel_probs = tg.next_char_probs(bundle.model, vocab.encode(text[:30]))
tg.export_tfjs(bundle, work / "web-model")
seq2one = tg.build_model(len(vocab), "8", framing="seq2one")
one = tg.train(seq2one, vocab, text, epochs=1, verbose=0, max_validation_windows=50, **settings)
print(json.dumps({
    "epochs": run.history["epoch"].tolist(), "checkpoint": sorted(p.name for p in (work / "ckpt").iterdir()),
    "samples": int(len(run.samples)), "text": bundle.generate(text[:20], 50, 0.0),
    "windowed": tg.evaluate_loss(bundle.model, ids, 16),
    "stateful": tg.evaluate_loss(bundle.model, ids, 16, stateful=True),
    "trace_steps": int(trace.c[0].shape[0]),
    "probs_sum": float(np.sum(panel_probs)), "seq2one_loss": float(one.history["val_loss"].iloc[0]),
    "exported": sorted(p.name for p in (work / "web-model").iterdir()),
    "tensorflow_imported": "tensorflow" in sys.modules}))
"""


@pytest.mark.parametrize("backend", OTHERS)
def test_everything_a_reader_does_runs_without_tensorflow(backend, shakespeare, tmp_path):
    corpus = tmp_path / "small.txt"
    corpus.write_text(shakespeare.text[:20_000])
    seen = run_on(backend, FLOW, tmp_path, corpus)
    assert not seen["tensorflow_imported"]
    assert seen["epochs"] == [1, 2] and seen["checkpoint"] == ["epoch_0002.keras", "state.json"]
    assert seen["samples"] == 4 and len(seen["text"]) == 50
    assert 0 < seen["stateful"] < 5 and 0 < seen["windowed"] < 5 and 0 < seen["seq2one_loss"] < 5
    assert seen["probs_sum"] == pytest.approx(1.0, abs=1e-5) and seen["trace_steps"] == 50
    assert "model.json" in seen["exported"] and "textgen.json" in seen["exported"]


@pytest.mark.parametrize("backend", OTHERS)
def test_the_command_line_trains_resumes_and_generates_on_another_backend_and_tensorflow_reads_it(
        backend, shakespeare, tmp_path, capsys):
    from textgen_helpers.cli import main

    corpus = tmp_path / "small.txt"
    corpus.write_text(shakespeare.text[:20_000])
    model = tmp_path / "m"
    first = textgen_on(backend, "train", corpus, *TINY, "--epochs", "2", "--save-path", model)
    assert first.stdout.splitlines()[0].startswith(f"textgen train on {'JAX' if backend == 'jax' else 'PyTorch'} ")
    textgen_on(backend, "train", corpus, *TINY, "--epochs", "3", "--save-path", model, "--resume")
    theirs = textgen_on(backend, "generate", model, "--length", "80", "--temperature", "0")
    capsys.readouterr()
    assert main(["generate", str(model), "--length", "80", "--temperature", "0"]) == 0  # TensorFlow: this process
    ours = capsys.readouterr().out
    assert len(theirs.stdout) == 81 and theirs.stdout == ours
    config = json.loads((model / "config.json").read_text())
    assert [row["epoch"] for row in config["history"]] == [1, 2, 3] and config["versions"]["backend"] == backend


def test_an_unknown_backend_is_one_line_naming_the_three():
    done = subprocess.run([TEXTGEN, "generate", "m", "--backend", "jaxx"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert all(name in done.stderr for name in ("tensorflow", "jax", "torch"))
    done = subprocess.run([TEXTGEN, "generate", "m"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "KERAS_BACKEND": "jaxx"})
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "tensorflow, jax, torch" in done.stderr


@pytest.mark.parametrize("backend", OTHERS)
def test_tf_distribute_on_another_backend_is_one_line_and_nothing_is_written(backend, shakespeare, tmp_path):
    corpus = tmp_path / "small.txt"
    corpus.write_text(shakespeare.text[:20_000])
    done = subprocess.run([TEXTGEN, "train", str(corpus), *TINY, "--distribute", "mirrored", "--save-path",
                           str(tmp_path / "m")], capture_output=True, text=True, timeout=300, env=backend_env(backend))
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "tf.distribute" in done.stderr and "KERAS_BACKEND=tensorflow" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.txt"]
