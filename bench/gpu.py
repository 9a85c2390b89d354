"""The GPU path, verified: one short script to run when a GPU machine is lent (``make gpu-check``).

    python bench/gpu.py                 # on a GPU: about 9 minutes; writes gpu_* keys to bench/results.json
    python bench/gpu.py --train-minutes 4 --seconds 15   # about 7 minutes: for a 10-minute limit a command
    python bench/gpu.py --cpu-smoke     # anywhere: the same steps on budgets of seconds, into a temporary folder

It runs on any Keras backend: ``KERAS_BACKEND`` chooses it, and where that is unset it is JAX if JAX
can be imported and TensorFlow cannot, else what Keras itself would choose. TensorFlow is imported
only on TensorFlow's backend; the last line printed names the backend modules the run loaded.

On a GPU machine with JAX (or PyTorch) and CUDA but no TensorFlow and no network: ``make wheelhouse``
on a machine with network downloads Keras and the other packages it lacks into ``wheelhouse/`` (wheels
for CPython 3.11 and 3.12 on manylinux x86_64) and the corpus into ``data/cache/``, and prints their
sizes. Copy the working tree with both folders to the GPU machine, and there, in its root::

    python -m pip install --no-index --find-links wheelhouse keras pandas lazy-loader tqdm pooch filelock
    python -m pip install --no-index --find-links wheelhouse --no-deps -e .
    KERAS_BACKEND=jax python bench/gpu.py --skip-notebook      # or KERAS_BACKEND=torch

then copy ``bench/results.json`` and ``docs/benchmarks.md`` back. (numpy comes with JAX or PyTorch
and is not in the wheelhouse, so theirs stays; matplotlib, which this script never imports, is left
out too, hence ``--no-deps``; Keras >= 3.14, the first to run LSTMs with cuDNN on JAX, needs Python
>= 3.11.) It:

1. proves that every LSTM of the 3x512 model runs the cuDNN kernel: each is set to
   ``use_cudnn=True``, under which Keras raises instead of falling back to its step-by-step loop on
   TensorFlow and on JAX; on PyTorch, whose Keras backend falls back silently even then (Keras
   3.14 and 3.15), the profiler must also count one ``aten::_cudnn_rnn`` call per LSTM. Checked in
   float32 and under ``mixed_float16``;
2. checks that under ``mixed_float16`` the LSTMs compute in float16 while the output layer and the
   loss stay float32;
3. measures predicted characters per second of 3x512 training with and without mixed precision,
   the same budget each, one after the other;
4. trains the 3x512 model for five minutes of training time (evaluation excluded; the wall time
   of every epoch is recorded too) and scores it with ``tg.evaluate_loss`` on tiny Shakespeare's
   last 10%, windowed and stateful, in nats per character, against the target of at most 1.42
   (nanoGPT's shakespeare_char reports 1.4697 in about 3 minutes on an A100); from the per-epoch
   history, the minutes it took to reach 1.50 and 1.45;
5. measures generation (``bundle.generate``, the fast generator) in characters per second;
6. re-executes notebook 6 in full mode (its GPU branch), unless ``--skip-notebook`` or nbconvert
   is not installed;
7. writes the figures, with the GPU's name, to ``bench/results.json`` (``gpu_*`` keys) and
   re-renders ``docs/benchmarks.md`` (``bench/run.py``'s ``write_markdown``).

A step that fails is recorded with its error and the others still run; the script then exits 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The GPU configuration (notebook 6's, with epochs twice as long, so evaluation takes a smaller share of the wall time).
GPU = dict(sizes="512,512,512", dropout=0.2, sample_len=100, batch_size=256, examples_per_epoch=51_200,
           throughput_examples_per_epoch=12_800, generate_length=400, text_chars=None)
# --cpu-smoke: every step on a tiny model and the corpus's first 50,000 characters, with budgets of a second or two
# (it checks that the script runs whole; tests/test_runtime.py runs it in every make test).
SMOKE = dict(sizes="16", dropout=0.2, sample_len=32, batch_size=32, examples_per_epoch=640,
             throughput_examples_per_epoch=320, generate_length=100, text_chars=50_000)
SMOKE_SECONDS = dict(throughput=1.0, train=2.0)
LEARNING_RATE, CLIPNORM = 1e-2, 1.0
TARGET_VAL_NATS = 1.42
MILESTONES = (1.50, 1.45)
NANOGPT = "nanoGPT's shakespeare_char reports 1.4697 in about 3 minutes on an A100"
NOTEBOOK = ROOT / "notebooks" / "06_colab_gpu.ipynb"
NOTEBOOK_BUNDLE = ROOT / "notebooks" / "models" / "shakespeare-512x512x512"  # where notebook 6 saves it
BACKEND_MODULES = ("tensorflow", "jax", "torch")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-smoke", action="store_true",
                        help="run every step on a CPU with a tiny model and budgets of seconds (checks the script, "
                             "measures nothing); writes into a temporary folder, never to bench/ or docs/")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="training budget of each throughput run, in seconds (default %(default)s)")
    parser.add_argument("--train-minutes", type=float, default=5.0,
                        help="training time of the validation-loss run, in minutes (default %(default)s)")
    parser.add_argument("--skip-notebook", action="store_true", help="do not re-execute notebook 6")
    args = parser.parse_args()
    backend = pick_backend()
    out = Path(tempfile.mkdtemp(prefix="textgen-gpu-smoke-")) if args.cpu_smoke else ROOT / "bench"
    use_corpus_folders(smoke_cache=out / "cache" if args.cpu_smoke else None)

    import textgen_helpers as tg
    from textgen_helpers.runtime import import_keras

    keras = import_keras()
    report = tg.device_report()
    if not report["gpus"] and not args.cpu_smoke:
        print(f"no GPU: Keras's {backend} backend sees {report['device']}. Run this on a GPU machine, or with "
              "--cpu-smoke to check the script.", file=sys.stderr)
        return 2
    if backend == "jax" and not args.cpu_smoke and _version(keras.__version__) < (3, 14):
        print(f"Keras {keras.__version__} runs LSTMs on JAX without cuDNN (Keras 3.14 is the first with it); install "
              "keras>=3.14 (make wheelhouse), which needs Python >= 3.11", file=sys.stderr)
        return 2
    conf = SMOKE if args.cpu_smoke else GPU
    seconds = SMOKE_SECONDS if args.cpu_smoke else dict(throughput=args.seconds, train=args.train_minutes * 60)
    check = Checker(keras, tg, backend, conf, required=not args.cpu_smoke)
    results = {"gpu_device": report["device"], "gpu_backend": backend, "gpu_backend_version": report["backend_version"],
               "gpu_keras": report["keras"], "gpu_python": platform.python_version(), "gpu_smoke": args.cpu_smoke,
               "gpu_date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "gpu_model": (f"{conf['sizes']}, dropout {conf['dropout']}, windows of {conf['sample_len']}, batch "
                             f"{conf['batch_size']}, RMSprop {LEARNING_RATE:g} with clipnorm {CLIPNORM:g}"),
               "gpu_val_target": TARGET_VAL_NATS, "gpu_reference": NANOGPT}
    smoke = "; CPU smoke run: a tiny model, budgets of seconds" if args.cpu_smoke else ""
    print(f"== {report['device']}; Keras {report['keras']} on {report['backend_version']}, Python "
          f"{platform.python_version()}{smoke}", flush=True)

    corpus = tg.load_corpus("shakespeare")
    text = corpus.text[:conf["text_chars"]] if conf["text_chars"] else corpus.text
    vocab = tg.Vocabulary.from_text(corpus.text)
    failed = []

    def step(title, function, *fargs, **fkwargs):
        print(f"== {title} ({check.elapsed()})", flush=True)
        try:
            return function(*fargs, **fkwargs)
        except Exception as err:  # record it, run the other steps, exit 1 at the end
            traceback.print_exc()
            failed.append(title)
            results[f"gpu_error_{len(failed)}"] = f"{title}: {type(err).__name__}: {err}"
            return None

    step("1. cuDNN: every LSTM with use_cudnn=True, float32 and mixed_float16", check.cudnn, vocab, results)
    step("2. mixed precision: float16 arithmetic, float32 output and loss", check.mixed_precision, vocab, results)
    step(f"3. predicted characters per second, {seconds['throughput']:g} s of training each", check.throughput,
         vocab, text, seconds["throughput"], results)
    model = step(f"4. validation loss after {seconds['train'] / 60:g} min of training", check.train, vocab, text,
                 seconds["train"], results)
    if model is not None:
        step("5. generation: bundle.generate (the fast generator)", check.generation, model, vocab, out, results)
    if args.skip_notebook or args.cpu_smoke:
        print("== 6. notebook 6: skipped" + (" (--cpu-smoke)" if args.cpu_smoke else " (--skip-notebook)"))
    elif importlib.util.find_spec("nbconvert") is None:
        print("== 6. notebook 6: skipped, nbconvert is not installed (pip install nbconvert ipykernel to run it)")
        results["gpu_notebook_skipped"] = "nbconvert is not installed"
    else:
        step("6. notebook 6 in full mode (its GPU branch)", run_notebook, tg, results)

    merged = {k: v for k, v in json.loads((ROOT / "bench" / "results.json").read_text()).items()
              if not k.startswith("gpu_")}  # the figures of an earlier GPU run all go: none is left beside these
    merged.update(results)
    results_file = out / "results.json"
    results_file.write_text(json.dumps(merged, indent=1) + "\n")
    sys.path.insert(0, str(ROOT / "bench"))
    from run import write_markdown  # bench/run.py renders docs/benchmarks.md, the GPU section included

    doc = out / "benchmarks.md" if args.cpu_smoke else ROOT / "docs" / "benchmarks.md"
    write_markdown(merged, doc)
    print(json.dumps({k: v for k, v in results.items() if k != "gpu_epoch_log"}, indent=1))
    print(f"wrote {results_file} and {doc}" + (" (smoke run: not for the docs)" if args.cpu_smoke else ""))
    if failed:
        print(f"failed: {'; '.join(failed)} (see gpu_error_* above)", file=sys.stderr)
    loaded = [name for name in BACKEND_MODULES if name in sys.modules]
    print(f"backend modules loaded: {', '.join(loaded) or 'none'}")
    return 1 if failed else 0


def pick_backend() -> str:
    """``KERAS_BACKEND`` if set; else JAX where JAX imports and TensorFlow does not; else Keras's own choice."""
    from textgen_helpers.runtime import choose_backend

    if not os.environ.get("KERAS_BACKEND") and _importable("jax") and not _importable("tensorflow"):
        return choose_backend("jax")
    return choose_backend(None)


def use_corpus_folders(*, smoke_cache: Path | None) -> None:
    """The corpus folders the Makefile sets, where the environment does not: the cache ``data/cache`` (a smoke run
    reads it if it holds tiny Shakespeare, and otherwise caches into its own temporary folder) and, as the
    mirror, ``../shared/corpora`` if there is one."""
    cache = ROOT / "data" / "cache"
    if "TEXTGEN_DATA_DIR" not in os.environ:
        cached = (cache / "tinyshakespeare.txt").is_file()
        os.environ["TEXTGEN_DATA_DIR"] = str(cache if smoke_cache is None or cached else smoke_cache)
    mirror = ROOT.parent / "shared" / "corpora"
    if "TEXTGEN_CORPUS_MIRROR" not in os.environ and mirror.is_dir():
        os.environ["TEXTGEN_CORPUS_MIRROR"] = str(mirror)


class Checker:
    """The steps, each recording its figures into ``results`` (``gpu_*`` keys)."""

    def __init__(self, keras, tg, backend: str, conf: dict, *, required: bool):
        self.keras, self.tg, self.backend, self.conf, self.required = keras, tg, backend, conf, required
        self.started = time.perf_counter()
        self.mixed_cudnn = None  # whether cuDNN ran under mixed_float16: step 1 finds out

    def elapsed(self) -> str:
        minutes, seconds = divmod(int(time.perf_counter() - self.started), 60)
        return f"at {minutes}:{seconds:02d}"

    def build(self, vocab, *, mixed: bool, cudnn):
        """The configured model, its LSTMs set to ``use_cudnn=cudnn``, built under ``mixed_float16`` if ``mixed``."""
        keras = self.keras
        keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
        try:
            model = self.tg.build_model(len(vocab), self.conf["sizes"], dropout=self.conf["dropout"],
                                        learning_rate=LEARNING_RATE, clipnorm=CLIPNORM)
        finally:
            keras.mixed_precision.set_global_policy("float32")
        for layer in model.layers:
            if isinstance(layer, keras.layers.LSTM):
                blockers = self.tg.cudnn_blockers(layer)
                if blockers:
                    raise RuntimeError(f"{layer.name} cannot use cuDNN: {'; '.join(blockers)}")
                layer.use_cudnn = cudnn
        return model

    def cudnn(self, vocab, results: dict) -> None:
        """Train one step with every LSTM forced onto cuDNN, in float32 and under mixed_float16."""
        forced = True if self.required else "auto"  # on a CPU there is no cuDNN to force
        for mixed in (False, True):
            policy = "mixed_float16" if mixed else "float32"
            model = self.build(vocab, mixed=mixed, cudnn=forced)
            names = [layer.name for layer in model.layers if isinstance(layer, self.keras.layers.LSTM)]
            x = self._ids(vocab, 8)
            try:
                calls = self._fit_counting_cudnn(model, x)
            except Exception as err:  # mixed precision may not reach cuDNN on every backend
                if not mixed:
                    raise
                self.mixed_cudnn = False
                results["gpu_cudnn_mixed"] = False
                results["gpu_cudnn_mixed_error"] = f"{type(err).__name__}: {err}"[:500]
                print(f"   {policy}: cuDNN failed ({results['gpu_cudnn_mixed_error'][:200]})", flush=True)
                continue
            if self.required and calls is not None and calls < len(names):
                message = f"{policy}: the profiler counted {calls} aten::_cudnn_rnn calls for {len(names)} LSTMs"
                if not mixed:
                    raise RuntimeError(message + ": the LSTMs fell back to the step-by-step loop")
                self.mixed_cudnn, results["gpu_cudnn_mixed"], results["gpu_cudnn_mixed_error"] = False, False, message
                print(f"   {message}", flush=True)
                continue
            if mixed and self.required:
                self.mixed_cudnn = results["gpu_cudnn_mixed"] = True
            elif not mixed:
                results["gpu_cudnn_layers"] = names
                results["gpu_cudnn_proof"] = self._proof(calls)
            seen = f"; aten::_cudnn_rnn ran {calls} times" if calls is not None else ""
            print(f"   {policy}: {', '.join(names)}: " + (f"cuDNN{seen}" if self.required else
                                                          "no cuDNN blocker (CPU smoke run: use_cudnn='auto')"),
                  flush=True)

    def mixed_precision(self, vocab, results: dict) -> None:
        keras = self.keras
        model = self.build(vocab, mixed=True, cudnn="auto")
        x = self._ids(vocab, 4)
        loss = model.compute_loss(x, self._targets(x), model(x))
        lstm_dtypes = sorted({layer.compute_dtype for layer in model.layers if isinstance(layer, keras.layers.LSTM)})
        checks = {"gpu_lstm_compute_dtypes": lstm_dtypes,
                  "gpu_output_dtype": keras.backend.standardize_dtype(model.outputs[0].dtype),
                  "gpu_loss_dtype": keras.backend.standardize_dtype(loss.dtype)}
        results.update(checks)
        output, loss = checks["gpu_output_dtype"], checks["gpu_loss_dtype"]
        if lstm_dtypes != ["float16"] or output != "float32" or loss != "float32":
            raise RuntimeError(f"mixed precision is not as expected: {checks}")
        print(f"   LSTMs compute in {lstm_dtypes[0]}; output {output}, loss {loss}")

    def throughput(self, vocab, text: str, seconds: float, results: dict) -> None:
        """Predicted characters per second of the second and later epochs (the first traces and compiles)."""
        forced = True if self.required else "auto"
        rates = {}
        for mixed in (True, False):
            label = "mixed_float16" if mixed else "float32"
            cudnn = forced if not mixed or self.mixed_cudnn is not False else False
            try:
                rates[label] = self._rate(vocab, text, seconds, mixed=mixed, cudnn=cudnn)
            except Exception as err:  # float32 is still measured
                if not mixed:
                    raise
                results["gpu_mixed_precision_error"] = f"{type(err).__name__}: {err}"[:500]
                print(f"   {label}: failed ({results['gpu_mixed_precision_error'][:200]})", flush=True)
                continue
            key = f"gpu_chars_per_second_{'mixed' if mixed else 'float32'}"
            if cudnn is False:
                key += "_without_cudnn"  # mixed precision could not use cuDNN here: this is its step-by-step loop
            results[key] = rates[label]
            print(f"   {label}{' (without cuDNN)' if cudnn is False else ''}: {rates[label]:,} predicted characters "
                  "per second", flush=True)
        if "gpu_chars_per_second_mixed" in results:
            results["gpu_mixed_precision_speedup"] = round(results["gpu_chars_per_second_mixed"]
                                                           / results["gpu_chars_per_second_float32"], 2)

    def train(self, vocab, text: str, seconds: float, results: dict):
        """Train for ``seconds`` of training time; returns the trained model."""
        tg, conf = self.tg, self.conf
        faster_mixed = results.get("gpu_chars_per_second_mixed", 0) > results.get("gpu_chars_per_second_float32", 0)
        mixed = bool(faster_mixed and self.mixed_cudnn is not False)
        tg.set_seed(0)
        model = self.build(vocab, mixed=mixed, cudnn=True if self.required else "auto")
        compile_seconds = self._warm_up(model, vocab, text)  # the budget is training, not compiling
        print(f"   {'mixed_float16' if mixed else 'float32'}; compiled in {compile_seconds:.1f} s (two training steps "
              "and one evaluation, before the budget starts)", flush=True)
        budget = training_time_budget(self.keras, seconds)
        walls, start = [], time.perf_counter()

        def wall_clock(run):
            walls.append(time.perf_counter() - start)
            row = run.history.iloc[-1]
            if budget.spent < budget.seconds and len(walls) > 1 and walls[-1] - walls[-2] < 30 and len(walls) % 10:
                return  # a line every 10 epochs (or 30 s), so that the output's tail holds every figure
            print(f"   epoch {int(row['epoch'])}: {budget.spent / 60:5.2f} min training, "
                  f"{walls[-1] / 60:5.2f} min wall, val {row['val_loss']:.4f} nats/char "
                  f"(stateful {row['val_loss_stateful']:.4f})", flush=True)

        run = tg.train(model, vocab, text, epochs=1_000_000, max_seconds=seconds * 3 + 120,
                       sample_len=conf["sample_len"], batch_size=conf["batch_size"],
                       examples_per_epoch=conf["examples_per_epoch"], temperatures=(),
                       callbacks=[tg.halve_lr_on_plateau(LEARNING_RATE), budget], on_epoch_end=wall_clock, verbose=0)
        history = run.history
        train_minutes = history["train_seconds"].astype(float).cumsum() / 60
        log = [[int(row["epoch"]), round(float(minutes), 3), round(wall / 60, 3), round(float(row["val_loss"]), 4),
                round(float(row["val_loss_stateful"]), 4), float(row["learning_rate"])]
               for (_, row), minutes, wall in zip(history.iterrows(), train_minutes, walls, strict=True)]
        _, val_ids = tg.split_train_validation(vocab.encode(text), 0.1)
        windowed = tg.evaluate_loss(model, val_ids, conf["sample_len"])
        stateful = tg.evaluate_loss(model, val_ids, conf["sample_len"], stateful=True)
        if abs(windowed - log[-1][3]) > 1e-3:
            print(f"   note: evaluate_loss gives {windowed:.4f}, the history's last epoch {log[-1][3]:.4f}")
        met = windowed <= TARGET_VAL_NATS
        results.update({
            "gpu_train_policy": "mixed_float16" if mixed else "float32",
            "gpu_compile_seconds": round(compile_seconds, 1),
            "gpu_train_budget_minutes": round(seconds / 60, 3), "gpu_train_minutes": log[-1][1],
            "gpu_wall_minutes": log[-1][2], "gpu_epochs": len(log),
            "gpu_examples_per_epoch": conf["examples_per_epoch"],
            "gpu_val_nats_5min": round(windowed, 4), "gpu_val_nats_5min_stateful": round(stateful, 4),
            "gpu_val_bits_5min": round(float(tg.nats_to_bits(windowed)), 3),
            "gpu_best_val_nats": min(row[3] for row in log), "gpu_val_target_met": met,
            "gpu_train_chars_per_second": round(run.chars_per_second),
            "gpu_epoch_log_columns": ["epoch", "train_minutes", "wall_minutes", "val_nats", "val_nats_stateful",
                                      "learning_rate"],
            "gpu_epoch_log": log})
        for milestone in MILESTONES:
            reached = next((row for row in log if row[3] <= milestone), None)
            results[f"gpu_minutes_to_{milestone:.2f}".replace(".", "_")] = (
                None if reached is None else {"train": reached[1], "wall": reached[2], "epoch": reached[0]})
            print(f"   {milestone:.2f} nats/char: " + ("not reached" if reached is None else
                  f"after {reached[1]:.2f} min of training ({reached[2]:.2f} min wall, epoch {reached[0]})"))
        print(f"   validation loss after {log[-1][1]:.2f} min of training ({log[-1][2]:.2f} min wall, "
              f"{len(log)} epochs, {results['gpu_train_policy']}): {windowed:.4f} nats/char windowed, "
              f"{stateful:.4f} stateful; target "
              f"<= {TARGET_VAL_NATS:g}: {'met' if met else 'MISSED'} ({NANOGPT})", flush=True)
        return model

    def generation(self, model, vocab, out: Path, results: dict) -> None:
        tg, length = self.tg, self.conf["generate_length"]
        scratch = out if not self.required else Path(tempfile.mkdtemp(prefix="textgen-gpu-"))  # never into bench/
        path = tg.save_bundle(scratch / "bundle", model, vocab, sample_len=self.conf["sample_len"])
        bundle = tg.load_bundle(path)
        temperatures = [0.0, 0.25, 0.5, 0.75]
        timings = {}
        for label, temperature in (("one", 0.5), ("four", temperatures)):
            bundle.generate(length=length, temperature=temperature, seed=0)  # compiles
            times = []
            for repeat in range(5):
                begin = time.perf_counter()
                texts = bundle.generate(length=length, temperature=temperature, seed=repeat)
                times.append(time.perf_counter() - begin)
            timings[label] = statistics.median(times)
        sample = texts[2] if isinstance(texts, list) else texts
        results.update({"gpu_generate_length": length,
                        "gpu_generate_chars_per_second": round(length / timings["one"]),
                        "gpu_generate_ms_one_temperature": round(timings["one"] * 1000, 1),
                        "gpu_generate_ms_four_temperatures": round(timings["four"] * 1000, 1),
                        "gpu_generate_sample": sample[:200]})
        print(f"   {length} characters in {timings['one'] * 1000:.1f} ms at one temperature "
              f"({results['gpu_generate_chars_per_second']:,} characters per second), {timings['four'] * 1000:.1f} ms "
              f"at four; at T = 0.5: {sample[:120]!r}", flush=True)

    # --- helpers

    def _rate(self, vocab, text: str, seconds: float, *, mixed: bool, cudnn) -> int:
        """Predicted characters per second over ``seconds`` of training, after a warm-up that compiles."""
        conf = self.conf
        model = self.build(vocab, mixed=mixed, cudnn=cudnn)
        self._warm_up(model, vocab, text)
        run = self.tg.train(model, vocab, text, epochs=1_000_000, max_seconds=seconds, sample_len=conf["sample_len"],
                            batch_size=conf["batch_size"], examples_per_epoch=conf["throughput_examples_per_epoch"],
                            temperatures=(), verbose=0)
        # a cut-short epoch counts its steps
        return int(run.history["chars"].sum() / run.history["train_seconds"].sum())

    def _warm_up(self, model, vocab, text: str) -> float:
        """Two training steps and one evaluation, so that what follows runs compiled; returns their seconds."""
        conf, begin = self.conf, time.perf_counter()
        self.tg.train(model, vocab, text, epochs=1, sample_len=conf["sample_len"], batch_size=conf["batch_size"],
                      examples_per_epoch=2 * conf["batch_size"], temperatures=(), verbose=0)
        return time.perf_counter() - begin

    def _fit_counting_cudnn(self, model, x) -> int | None:
        """One training step; on PyTorch, the number of ``aten::_cudnn_rnn`` calls it made (else None)."""
        fit = lambda: model.fit(x, self._targets(x), batch_size=len(x), epochs=1, verbose=0)  # noqa: E731
        if self.backend != "torch":
            fit()  # with use_cudnn=True, Keras raises here if a layer cannot run cuDNN
            return None
        import torch

        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
            fit()
        return sum(event.count for event in profile.key_averages() if event.key == "aten::_cudnn_rnn")

    def _proof(self, calls: int | None) -> str:
        if not self.required:
            return "none: a CPU smoke run (use_cudnn='auto')"
        if self.backend == "torch":
            return (f"use_cudnn=True, and the profiler counted {calls} aten::_cudnn_rnn calls in one training step "
                    "(Keras's PyTorch backend falls back silently even under use_cudnn=True)")
        return "use_cudnn=True on every LSTM, under which Keras raises rather than fall back to its step-by-step loop"

    def _ids(self, vocab, rows: int):
        import numpy as np

        return np.random.default_rng(0).integers(0, len(vocab), (rows, self.conf["sample_len"]), dtype=np.int32)

    @staticmethod
    def _targets(x):
        import numpy as np

        return np.roll(x, -1, axis=1)


def training_time_budget(keras, seconds: float):
    """A Keras callback (its class made once Keras is imported) that stops training after ``seconds`` of
    training time, mid-epoch if need be.

    Unlike ``tg.train(max_seconds=...)``, the time after each epoch (evaluation) is not counted.
    """

    class _Budget(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds, self.spent, self._done, self._epoch_start = seconds, 0.0, 0.0, None

        def on_epoch_begin(self, epoch, logs=None):
            self._done, self._epoch_start = self.spent, time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.spent = self._done + time.perf_counter() - self._epoch_start
            if self.spent >= self.seconds:
                self.model.stop_training = True

    return _Budget()


def run_notebook(tg, results: dict) -> None:
    env = {**os.environ, "TEXTGEN_FAST": "0"}
    started = time.perf_counter()
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
               "--ExecutePreprocessor.timeout=1800", str(NOTEBOOK)]
    subprocess.run(command, cwd=NOTEBOOK.parent, env=env, check=True)
    minutes = round((time.perf_counter() - started) / 60, 2)
    history = tg.load_bundle(NOTEBOOK_BUNDLE).history
    complete = history[history["complete"].astype(bool)]
    best = complete.loc[complete["val_loss"].idxmin()]
    results.update({"gpu_notebook_minutes": minutes, "gpu_notebook_val_nats": round(float(best["val_loss"]), 4),
                    "gpu_notebook_val_nats_stateful": round(float(best["val_loss_stateful"]), 4),
                    "gpu_notebook_chars_per_second": int(complete["chars"].sum() / complete["train_seconds"].sum())})
    print(f"   notebook 6 ran in {minutes:g} min; best validation loss {best['val_loss']:.3f} nats/char "
          f"at epoch {int(best['epoch'])}", flush=True)


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # tests/no_tensorflow refuses TensorFlow even here
        return False


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


if __name__ == "__main__":
    sys.exit(main())
