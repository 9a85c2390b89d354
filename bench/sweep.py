"""Configuration sweep: train candidate configurations one after another with the same time budget.

    python bench/sweep.py --minutes 5 "sample_len=32" "sample_len=50;batch_size=64" \
        "lstm_layer_sizes=192,192;dropout=0.1"

Each argument is a candidate: ``key=value`` pairs separated by ``;`` that override the baseline
(sequence-to-sequence 128,128, RMSprop 1e-2, clipnorm 1, windows of 100, batch 128, 10,000
windows an epoch). Keys: lstm_layer_sizes, dropout, optimizer, learning_rate, sample_len,
batch_size, examples_per_epoch, reduce_lr_on_plateau. Run them alone on the machine: they compete
for the same cores. Results are appended to ``bench/sweep_results.json``; docs/benchmarks.md shows them.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textgen_helpers.runtime import import_tensorflow, set_seed  # noqa: E402

import_tensorflow()  # quietly, before the package imports Keras

from textgen_helpers import Vocabulary, build_model, halve_lr_on_plateau, load_corpus, train  # noqa: E402

BASELINE = dict(lstm_layer_sizes="128,128", dropout=0.0, optimizer="rmsprop", learning_rate=1e-2, sample_len=100,
                batch_size=128, examples_per_epoch=10_000, reduce_lr_on_plateau=False)
RESULTS = ROOT / "bench" / "sweep_results.json"


def parse(candidate: str) -> dict:
    config = dict(BASELINE)
    for pair in filter(None, candidate.split(";")):
        key, _, value = pair.partition("=")
        if key not in BASELINE:
            raise SystemExit(f"unknown key {key!r} in {candidate!r}; known: {', '.join(BASELINE)}")
        kind = type(BASELINE[key])
        config[key] = value.lower() in ("1", "true", "yes") if kind is bool else kind(value)
    return config


def run(config: dict, minutes: float) -> dict:
    corpus = load_corpus("shakespeare")
    vocab = Vocabulary.from_text(corpus.text)
    set_seed(0)
    model = build_model(len(vocab), config["lstm_layer_sizes"], dropout=config["dropout"],
                        optimizer=config["optimizer"], learning_rate=config["learning_rate"], clipnorm=1.0)
    callbacks = [halve_lr_on_plateau(config["learning_rate"])] if config["reduce_lr_on_plateau"] else []
    result = train(model, vocab, corpus.text, epochs=10_000, max_seconds=minutes * 60, verbose=0, display_length=0,
                    callbacks=callbacks, sample_len=config["sample_len"], batch_size=config["batch_size"],
                    examples_per_epoch=config["examples_per_epoch"])
    return {"config": config, "minutes": minutes, "best_val_nats": round(result.best_val_loss, 4),
            "chars_per_second": round(result.chars_per_second), "epochs": len(result.history),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("candidates", nargs="+")
    parser.add_argument("--minutes", type=float, default=5.0)
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    for candidate in args.candidates:
        result = run(parse(candidate), args.minutes)
        print(json.dumps(result), flush=True)
        results.append(result)
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
