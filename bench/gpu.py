"""The GPU path, verified: one short script to run when a GPU machine is lent (``make gpu-check``).

    python bench/gpu.py                 # on a GPU: about 9 minutes; writes gpu_* keys to bench/results.json
    python bench/gpu.py --cpu-smoke     # anywhere: the same steps on budgets of seconds, into a temporary folder

On the GPU it:

1. checks that every LSTM of the 3x512 model really runs the cuDNN kernel (each layer is set to
   ``use_cudnn=True``, under which Keras raises instead of falling back to its step-by-step loop);
2. checks that under ``mixed_float16`` the LSTMs compute in float16 while the output layer and the
   loss stay float32;
3. measures predicted characters per second of 3x512 training with and without mixed precision,
   the same budget each, one after the other;
4. re-executes notebook 6 in full mode (its GPU branch: 3x512, mixed precision, five minutes), so
   that its stored outputs come from the GPU, and reads the validation loss it reached from the
   bundle it saves (target: at most 1.45 nats/char on tiny Shakespeare's last 10%);
5. writes the figures, with the GPU's name, to ``bench/results.json`` (``gpu_*`` keys) and
   re-renders ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import textgen_helpers as tg  # noqa: E402
from textgen_helpers.runtime import import_tensorflow  # noqa: E402

tf, keras = import_tensorflow()

SIZES, DROPOUT, SAMPLE_LEN, BATCH = "512,512,512", 0.2, 100, 256  # notebook 6's GPU configuration
TARGET_VAL_NATS = 1.45
NOTEBOOK = ROOT / "notebooks" / "06_colab_gpu.ipynb"
NOTEBOOK_BUNDLE = ROOT / "notebooks" / "models" / "shakespeare-512x512x512"  # where notebook 6 saves it


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-smoke", action="store_true",
                        help="run every step on a CPU with tiny budgets and a small model (checks the script, "
                             "measures nothing); writes into a temporary folder, never to bench/ or docs/")
    parser.add_argument("--seconds", type=float, default=45.0, help="training budget of each throughput run, in seconds (default %(default)s)")
    parser.add_argument("--skip-notebook", action="store_true", help="do not re-execute notebook 6")
    args = parser.parse_args()
    report = tg.device_report()
    if not report["gpus"] and not args.cpu_smoke:
        print(f"no GPU: TensorFlow sees {report['device']}. Run this on a GPU machine, or with --cpu-smoke to "
              "check the script.", file=sys.stderr)
        return 2
    sizes, seconds = ("16,16", 3.0) if args.cpu_smoke else (SIZES, args.seconds)
    corpus = tg.load_corpus("shakespeare")
    vocab = tg.Vocabulary.from_text(corpus.text)
    results = {"gpu_device": report["device"], "gpu_tensorflow": report["tensorflow"], "gpu_keras": report["keras"],
               "gpu_model": f"{sizes}, dropout {DROPOUT}, windows of {SAMPLE_LEN}, batch {BATCH}",
               "gpu_date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    print(f"== {report['device']}; TensorFlow {report['tensorflow']}, Keras {report['keras']}", flush=True)

    print("== 1. cuDNN: every LSTM with use_cudnn=True", flush=True)
    results["gpu_cudnn_layers"] = check_cudnn(vocab, sizes, required=not args.cpu_smoke)

    print("== 2. mixed precision: float16 arithmetic, float32 output and loss", flush=True)
    results.update(check_mixed_precision(vocab, sizes))

    print(f"== 3. predicted characters per second, {seconds:g} s each", flush=True)
    for mixed in (True, False):
        rate = throughput(vocab, corpus.text, sizes, mixed=mixed, seconds=seconds)
        results[f"gpu_chars_per_second_{'mixed' if mixed else 'float32'}"] = rate
        print(f"   {'mixed_float16' if mixed else 'float32'}: {rate:,} predicted characters per second", flush=True)
    results["gpu_mixed_precision_speedup"] = round(results["gpu_chars_per_second_mixed"]
                                                   / results["gpu_chars_per_second_float32"], 2)

    if not args.skip_notebook:
        print("== 4. notebook 6 in full mode (its GPU branch: five minutes of training)", flush=True)
        results.update(run_notebook(fast=args.cpu_smoke))

    out = Path(tempfile.mkdtemp(prefix="textgen-gpu-smoke-")) if args.cpu_smoke else ROOT / "bench"
    results_file = out / "results.json"
    merged = json.loads((ROOT / "bench" / "results.json").read_text())
    merged.update(results)
    if "gpu_val_nats_5min" in results:
        merged.setdefault("targets", {})["gpu_val_nats_5min"] = {
            "target": f"<= {TARGET_VAL_NATS:g}", "met": results["gpu_val_nats_5min"] <= TARGET_VAL_NATS}
    results_file.write_text(json.dumps(merged, indent=1) + "\n")
    from run import write_markdown  # bench/run.py renders docs/benchmarks.md, the GPU section included

    doc = out / "benchmarks.md" if args.cpu_smoke else ROOT / "docs" / "benchmarks.md"
    write_markdown(merged, doc)
    print(json.dumps(results, indent=1))
    print(f"wrote {results_file} and {doc}" + (" (smoke run: not for the docs)" if args.cpu_smoke else ""))
    return 0


def check_cudnn(vocab, sizes: str, *, required: bool) -> list[str]:
    """Train one step with every LSTM forced onto cuDNN; Keras raises if any cannot use it."""
    model = tg.build_model(len(vocab), sizes, dropout=DROPOUT)
    names = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.LSTM):
            blockers = tg.cudnn_blockers(layer)
            if blockers:
                raise SystemExit(f"{layer.name} cannot use cuDNN: {'; '.join(blockers)}")
            layer.use_cudnn = True if required else "auto"
            names.append(layer.name)
    x = tf.random.uniform([8, SAMPLE_LEN], 0, len(vocab), dtype=tf.int32)
    model.fit(x, tf.roll(x, -1, axis=1), epochs=1, verbose=0)  # raises if a forced layer falls back
    print(f"   {', '.join(names)}: cuDNN" if required else f"   {', '.join(names)}: no cuDNN blocker (CPU smoke run)")
    return names


def check_mixed_precision(vocab, sizes: str) -> dict:
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = tg.build_model(len(vocab), sizes, dropout=DROPOUT)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    x = tf.random.uniform([4, SAMPLE_LEN], 0, len(vocab), dtype=tf.int32)
    y = tf.roll(x, -1, axis=1)
    loss = model.compute_loss(x, y, model(x))
    lstm_dtypes = sorted({layer.compute_dtype for layer in model.layers if isinstance(layer, keras.layers.LSTM)})
    checks = {"gpu_lstm_compute_dtypes": lstm_dtypes, "gpu_output_dtype": str(model.outputs[0].dtype),
              "gpu_loss_dtype": loss.dtype.name if hasattr(loss.dtype, "name") else str(loss.dtype)}
    if lstm_dtypes != ["float16"] or checks["gpu_output_dtype"] != "float32" or checks["gpu_loss_dtype"] != "float32":
        raise SystemExit(f"mixed precision is not as expected: {checks}")
    print(f"   LSTMs compute in {lstm_dtypes[0]}; output {checks['gpu_output_dtype']}, loss {checks['gpu_loss_dtype']}")
    return checks


def throughput(vocab, text: str, sizes: str, *, mixed: bool, seconds: float) -> int:
    """Predicted characters per second of the second and later epochs (the first traces and compiles)."""
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    try:
        model = tg.build_model(len(vocab), sizes, dropout=DROPOUT)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    start = time.perf_counter()
    run = tg.train(model, vocab, text, epochs=1000, max_seconds=seconds, sample_len=SAMPLE_LEN, batch_size=BATCH,
                   examples_per_epoch=BATCH * 20, temperatures=(), verbose=0)
    history = run.history[run.history["complete"].astype(bool)]
    later = history.iloc[1:] if len(history) > 1 else history
    if later.empty:
        raise SystemExit(f"no epoch finished in {seconds:g} s ({time.perf_counter() - start:.0f} s); give more --seconds")
    return int(later["chars"].sum() / later["train_seconds"].sum())


def run_notebook(*, fast: bool) -> dict:
    env = {**os.environ, "TEXTGEN_FAST": "1" if fast else "0"}
    started = time.perf_counter()
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
               "--ExecutePreprocessor.timeout=1800", str(NOTEBOOK)]
    # A smoke run writes the executed copy elsewhere: the stored outputs stay as they are.
    command += ["--inplace"] if not fast else ["--output-dir", tempfile.mkdtemp(prefix="textgen-gpu-smoke-nb-")]
    subprocess.run(command, cwd=NOTEBOOK.parent, env=env, check=True)
    minutes = round((time.perf_counter() - started) / 60, 2)
    bundle_path = NOTEBOOK_BUNDLE if not fast else NOTEBOOK.parent / "models" / "shakespeare-32"
    history = tg.load_bundle(bundle_path).history
    complete = history[history["complete"].astype(bool)]
    best = complete.loc[complete["val_loss"].idxmin()]
    print(f"   notebook 6 ran in {minutes:g} min; best validation loss {best['val_loss']:.3f} nats/char "
          f"at epoch {int(best['epoch'])}", flush=True)
    return {"gpu_notebook_minutes": minutes, "gpu_val_nats_5min": round(float(best["val_loss"]), 4),
            "gpu_val_nats_5min_stateful": round(float(best["val_loss_stateful"]), 4),
            "gpu_notebook_chars_per_second": int(complete["chars"].sum() / complete["train_seconds"].sum())}


if __name__ == "__main__":
    sys.exit(main())
