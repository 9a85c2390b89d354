"""The book's Table 10.1 and textgen's stored run of the book's settings, as data to set side by side.

* ``data/book/table_10_1.json``: the table as printed in *Deep Learning with JavaScript* (Cai,
  Bileschi, Nielsen and Chollet, Manning 2020), chapter 10: its seed text, the true continuation,
  the samples after 5, 25, 50, 100 and 120 epochs at four temperatures and the book's validation
  loss (nats per character). Transcribed from print: its ``transcription_note`` says how exact.
* ``data/book/textgen_120_epochs.json``: ``textgen train`` with the book's flags for 120 epochs,
  written by ``tools/book_run.py``: the command, machine, date and wall time, every epoch's losses
  and samples. No weights: rerun the command to get them.
"""
from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pandas as pd

BOOK_TABLE = "table_10_1.json"
BOOK_RUN = "textgen_120_epochs.json"


def load_book_table() -> dict[str, Any]:
    """The book's Table 10.1: ``seed_text``, ``true_continuation``, ``temperatures``, ``source``,
    ``transcription_note`` and ``rows`` (each an ``epoch``, ``book_val_loss_nats`` and ``samples``
    keyed ``"T = 0"``, ``"T = 0.25"``, ...)."""
    return _read(BOOK_TABLE)


def load_book_run() -> dict[str, Any]:
    """textgen's stored 120-epoch run of the book's settings, with ``history`` and ``samples`` as
    DataFrames (one row an epoch; one row an epoch and temperature) and the rest as written."""
    run = _read(BOOK_RUN)
    run["history"] = pd.DataFrame(run["history"])
    run["samples"] = pd.DataFrame(run["samples"], columns=["epoch", "temperature", "text"])
    return run


def _read(name: str) -> dict[str, Any]:
    path = resources.files("textgen_helpers.data").joinpath("book", name)
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{name} is missing from the installed package's data/book/; reinstall "
                                f"textgen-helpers, or regenerate the run with python tools/book_run.py") from None
