"""Bench: training throughput with the NumPy window stream against the tf.data stream it replaced.

    python bench/window_stream.py            # 6 rounds (about 15 minutes on 2 CPU cores, then PyTorch's)
    python bench/window_stream.py --quick    # 2 short rounds (about 4 minutes, then PyTorch's)

PyTorch's rounds took 24 minutes more on a busy machine, most likely as its two CPU threads wait on each
other when other work takes a core (1,215 to 31,259 characters/s between rounds of one run).

A 128,128 sequence-to-sequence model (sample_len 60, batch 128, RMSprop) trains on tiny Shakespeare,
fed by:

* ``tf.data (HEAD)``: the stream before issue 17 (``tf.random.stateless_uniform`` picks, ``tf.gather``,
  two batches in flight, autotuning off), copied here from ``git show 70459c0:textgen_helpers/windows.py``;
* ``stream as tf.data``: :func:`textgen_helpers.windows.window_dataset` as ``train`` feeds it on
  TensorFlow (:func:`textgen_helpers.distribute.distributed_windows`: ``from_generator``, two
  batches in flight, autotuning off);
* ``PyDataset, Keras's adapter`` and ``PyDataset, 2 threads``: the same stream handed to ``fit`` as
  it is, which Keras wraps in ``from_generator`` with ``prefetch(AUTOTUNE)`` (one worker) or feeds
  from its own thread pool and queue (``workers=2``), for comparison;
* ``stream on JAX`` and ``stream on PyTorch``: the stream handed to ``fit`` on the JAX or PyTorch
  backend, as ``train`` does there;
* ``one batch, repeated``: the stream's first batch over and over (``from_tensors(...).repeat()`` on
  TensorFlow, a generator on JAX and PyTorch): what the model trains at when feeding it costs nothing.

Each backend runs in its own subprocess. In the TensorFlow one the feeds take turns on the same
model, one ``fit`` each per round (after a round that warms them up), so that a busy minute of the
machine falls on all of them; ``vs HEAD`` is the median over rounds of each round's ratio. A ``fit``
trains one timed epoch, then stops two steps into the next: ``stop`` is the time from that stop to
``fit``'s return and ``gc.collect()``'s end (the autotuner's stall, see TESTING-NOTES). Predicted
characters per second are ``steps x batch x sample_len`` over the epoch's wall-clock time. The
stream's first batches are hashed on every backend: the same seed must give the same windows.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from textgen_helpers.runtime import cpu_model  # noqa: E402  (stdlib only: imports no backend)

SAMPLE_LEN, BATCH, SAMPLE_STEP, LAYERS, SEED = 60, 128, 3, "128,128", 0
BACKENDS = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}  # each in a process of its own, in turn


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two short rounds")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 6, quick 2)")
    parser.add_argument("--steps", type=int, default=None, help="steps of a timed epoch (default 30, quick 12)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    parser.add_argument("--child", nargs=4, metavar=("BACKEND", "ROUNDS", "STEPS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        backend, rounds, steps, out = args.child
        Path(out).write_text(json.dumps(child(int(rounds), int(steps))))
        return 0
    rounds = args.rounds or (2 if args.quick else 6)
    steps = args.steps or (12 if args.quick else 30)
    print(f"CPU: {cpu_model()} ({os.cpu_count()} cores), Python {platform.python_version()}")
    print(f"{LAYERS} seq2seq, sample_len {SAMPLE_LEN}, batch {BATCH}: {rounds} rounds of one {steps}-step epoch per "
          f"feed", flush=True)
    results = {backend: run_child(backend, rounds, steps) for backend in BACKENDS}
    feeds = {name: feed for r in results.values() for name, feed in r["feeds"].items()}
    summary = summarise(feeds)
    print_table(summary, {backend: r["versions"] for backend, r in results.items()})
    same = len({r["windows_sha256"] for r in results.values()}) == 1
    print(f"same windows on TensorFlow, JAX and PyTorch (first 10 batches, seed {SEED}): {'yes' if same else 'NO'}")
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu_model(), "cores": os.cpu_count(), "rounds": rounds, "steps": steps,
                                         "summary": summary, "results": results, "same_windows": same}, indent=1))
    return 0 if same else 1


def run_child(backend: str, rounds: int, steps: int) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        subprocess.run([sys.executable, __file__, "--child", backend, str(rounds), str(steps), str(out)], env=env,
                       check=True, timeout=3600)
        return json.loads(out.read_text())


def summarise(feeds: dict[str, dict]) -> dict:
    base = feeds["tf.data (HEAD)"]["chars_per_second"]
    summary = {}
    for name, feed in feeds.items():
        rates = feed["chars_per_second"]
        summary[name] = {
            "backend": feed["backend"],
            "chars_per_second_median": round(statistics.median(rates)),
            "chars_per_second_min": round(min(rates)),
            "chars_per_second_max": round(max(rates)),
            # Paired with the baseline's run of the same round (TensorFlow only: the others ran at another time).
            "vs_head_median": (round(statistics.median(r / b for r, b in zip(rates, base, strict=True)), 3)
                               if feed["backend"] == "tensorflow" else None),
            "batch_microseconds": round(feed["batch_microseconds"], 1),
            "stop_seconds_median": round(statistics.median(feed["stop_seconds"]), 2),
            "stop_seconds_max": round(max(feed["stop_seconds"]), 2),
        }
    return summary


def print_table(summary: dict, versions: dict) -> None:
    print(f"\n{'feed':<27} {'backend':<11} {'chars/s':>8} {'(min-max)':>17} {'vs HEAD':>8} {'cut a batch':>12} "
          f"{'stop: median, worst':>20}")
    for name, s in summary.items():
        spread = f"({s['chars_per_second_min']:,}-{s['chars_per_second_max']:,})"
        ratio = f"{s['vs_head_median']:.2f}x" if s["vs_head_median"] is not None else "-"
        print(f"{name:<27} {s['backend']:<11} {s['chars_per_second_median']:>8,} {spread:>17} {ratio:>8} "
              f"{s['batch_microseconds']:>9.0f} us {s['stop_seconds_median']:>11.2f} s, {s['stop_seconds_max']:.2f} s")
    print("versions:", "; ".join(", ".join(f"{k} {v}" for k, v in vs.items() if k != "backend")
                                 for vs in versions.values()))


# --- one backend, in its own process -------------------------------------------------------------

def child(rounds: int, steps: int) -> dict:
    import gc

    sys.path.insert(0, str(ROOT))
    from textgen_helpers.runtime import backend_versions, import_keras

    keras = import_keras()
    from textgen_helpers.corpus import load_corpus
    from textgen_helpers.model import build_model
    from textgen_helpers.vocabulary import Vocabulary
    from textgen_helpers.windows import split_train_validation, window_dataset

    backend = keras.backend.backend()
    text = load_corpus("shakespeare").text
    vocab = Vocabulary.from_text(text)
    train_ids, _ = split_train_validation(vocab.encode(text), 0.1)

    def stream():
        return window_dataset(train_ids, SAMPLE_LEN, BATCH, sample_step=SAMPLE_STEP, seed=SEED)

    digest = hashlib.sha256()
    for k in range(10):
        for array in stream()[k]:
            digest.update(array.tobytes())
    if backend == "tensorflow":
        import tensorflow as tf

        from textgen_helpers.distribute import distributed_windows

        def two_threads():
            windows = stream()
            windows.workers = 2
            return windows

        makers = {"tf.data (HEAD)": lambda: head_window_dataset(train_ids, SAMPLE_LEN, BATCH, sample_step=SAMPLE_STEP,
                                                                seed=SEED),
                  "stream as tf.data": lambda: distributed_windows(None, stream, BATCH),
                  "PyDataset, Keras's adapter": stream, "PyDataset, 2 threads": two_threads,
                  "one batch, repeated (TF)": lambda: tf.data.Dataset.from_tensors(stream()[0]).repeat().with_options(
                      fixed)}
        fixed = tf.data.Options()
        fixed.autotune.enabled = False
    else:
        label = BACKENDS[backend]
        makers = {f"stream on {label}": stream, f"one batch, repeated ({label})": lambda: repeated(stream()[0])}
    feeds = {name: {"backend": backend, "batch_microseconds": batch_microseconds(make()), "chars_per_second": [],
                    "stop_seconds": []} for name, make in makers.items()}
    model = build_model(len(vocab), LAYERS)
    names = list(makers)
    for r in range(rounds + 1):  # round 0 compiles and warms every feed up
        for name in names[r % len(names):] + names[:r % len(names)]:  # a different feed first each round
            clock = clock_callback(keras)
            model.fit(makers[name](), steps_per_epoch=steps, epochs=2, callbacks=[clock], verbose=0, shuffle=False)
            gc.collect()
            stop = time.perf_counter() - clock.stopped_at
            feeds[name]["stop_seconds"].append(stop)  # round 0's too: a first fit stalled as often as any
            if r:
                feeds[name]["chars_per_second"].append(steps * BATCH * SAMPLE_LEN / clock.seconds)
                print(f"  round {r} {name:<27} {feeds[name]['chars_per_second'][-1]:>9,.0f} chars/s, stop {stop:.2f} s",
                      flush=True)
    return {"versions": {"keras": keras.__version__, **backend_versions()}, "feeds": feeds,
            "windows_sha256": digest.hexdigest()}


def clock_callback(keras):
    """A Keras callback that times epoch 1 and stops epoch 2 after two steps, noting when."""

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.start, self.seconds, self.stopped_at = 0.0, None, None

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if self.seconds is None:
                self.seconds = time.perf_counter() - self.start

        def on_train_batch_end(self, batch, logs=None):
            if self.seconds is not None and batch == 1:
                self.model.stop_training = True
                self.stopped_at = time.perf_counter()

    return Clock()


def repeated(batch):
    """``batch`` for ever, as a generator (``fit`` takes generators, not any iterator)."""
    for _ in itertools.count():
        yield batch


def batch_microseconds(data, n: int = 200) -> float:
    """Time to produce one batch alone: indexing the stream, or pulling from an iterator (tf.data's)."""
    if hasattr(data, "batch_starts"):
        start = time.perf_counter()
        for k in range(n):
            data[k]
        return (time.perf_counter() - start) / n * 1e6
    iterator = iter(data)
    next(iterator)
    start = time.perf_counter()
    for _ in range(n):
        next(iterator)
    return (time.perf_counter() - start) / n * 1e6


def head_window_dataset(ids, sample_len, batch_size, *, sample_step=1, seed=0, start_step=0):
    """The seq2seq tf.data stream as it was at 70459c0 (``git show 70459c0:textgen_helpers/windows.py``)."""
    import numpy as np
    import tensorflow as tf

    from textgen_helpers.checks import seed_key
    from textgen_helpers.windows import window_starts

    n_starts = len(window_starts(len(ids), sample_len, sample_step))
    text = tf.constant(np.asarray(ids, dtype=np.int32))
    offsets = tf.range(sample_len + 1)
    seed64 = tf.constant(seed_key(seed), tf.int64)

    def gather(step):
        picks = tf.random.stateless_uniform([batch_size], seed=tf.stack([seed64, step]), minval=0, maxval=n_starts,
                                            dtype=tf.int64)
        starts = tf.cast(picks, tf.int32) * sample_step
        windows = tf.gather(text, starts[:, None] + offsets[None, :])
        return windows[:, :-1], windows[:, 1:]

    steps = tf.data.Dataset.range(start_step, np.iinfo(np.int64).max)
    options = tf.data.Options()
    options.autotune.enabled = False
    return (steps.map(gather, num_parallel_calls=2, deterministic=True).prefetch(2)).with_options(options)


if __name__ == "__main__":
    sys.exit(main())
