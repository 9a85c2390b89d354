"""Train the book's model for its 120 epochs and store what Table 10.1 needs, small, in data/book/.

    python tools/book_run.py                 # about 30 to 60 minutes on two CPU cores
    python tools/book_run.py --epochs 2 --out /tmp/run.json   # a quick try (the tests use this)

It runs ``textgen train`` with the book's flags (Deep Learning with JavaScript, chapter 10: two LSTMs of
128, one prediction per window, windows of 60 every 3 characters, 10,000 windows an epoch in batches
of 128, RMSprop at 0.01), continuing the seed text of the book's Table 10.1 after every epoch at its
four temperatures. It keeps neither the weights nor the checkpoint (a temporary folder): only the
command, the machine, the date, the wall time, the losses of every epoch and the samples of every
epoch, as JSON that notebook 4 reads (116 kB for the stored 120 epochs; the script prints the size).

The seed fixes the initial weights and the windows, so the same command on the same machine gives the
same numbers, and so does notebook 4's RUN_LONG (tests/test_book.py checks that it trains what the
command trains). Another processor need not: on an AMD EPYC the same command's losses differed from the
stored run's (an Intel Xeon's) from the first epoch on, as floating-point rounding differs between
processors and training amplifies it. The file records one run, on the machine it names.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from textgen_helpers.book import load_book_table  # noqa: E402  (the book's seed text and temperatures)
from textgen_helpers.runtime import cpu_model  # noqa: E402

OUT = ROOT / "data" / "book" / "textgen_120_epochs.json"
HISTORY_COLUMNS = ("epoch", "loss", "val_loss", "val_loss_stateful", "train_seconds", "seconds")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    book = load_book_table()
    flags = ["shakespeare", "--lstm-layer-size", "128,128", "--epochs", str(args.epochs), "--framing", "seq2one",
             "--sample-len", "60", "--sample-step", "3", "--examples-per-epoch", "10000", "--batch-size", "128",
             "--learning-rate", "0.01", "--temperatures", ",".join(f"{t:g}" for t in book["temperatures"]),
             "--display-length", "120", "--seed-text", book["seed_text"], "--seed", "0"]
    with tempfile.TemporaryDirectory(prefix="textgen-book-run-") as tmp:
        bundle = Path(tmp) / "book"
        command = [sys.executable, "-m", "textgen_helpers.cli", "train", *flags, "--save-path", str(bundle)]
        started, began = time.perf_counter(), dt.datetime.now(dt.timezone.utc)
        load_before = os.getloadavg()
        subprocess.run(command, check=True, cwd=ROOT)
        wall_seconds = time.perf_counter() - started
        config = json.loads((bundle / "config.json").read_text("utf-8"))
        state = json.loads((Path(tmp) / "book-checkpoint" / "state.json").read_text("utf-8"))
    history = [{k: row[k] for k in HISTORY_COLUMNS if k in row} for row in config["history"]]
    record = {
        "what": "textgen's run of the book's settings for Table 10.1, written by tools/book_run.py",
        "command": shlex.join(["textgen", "train", *flags, "--save-path", "BUNDLE"]),
        "date": began.isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
                    "load_average_before": round(load_before[0], 2),
                    "load_average_after": round(os.getloadavg()[0], 2)},
        "versions": config.get("versions", {}),
        "wall_seconds": round(wall_seconds, 1),
        "settings": {k: v for k, v in config["training"].items() if k != "command"},  # its --save-path was temporary
        "vocab_size": config.get("vocab_size"),
        "history": history,
        "samples": [{"epoch": s["epoch"], "temperature": s["temperature"], "text": s["text"]}
                    for s in state["samples"]],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", "utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB): "
          f"{len(history)} epochs in {wall_seconds / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
