"""How long each notebook takes, read from the timings its last full run stored in it.

    python tools/notebook_times.py           # print each notebook's main path and whole run
    python tools/notebook_times.py --write   # and write them where the project states them

nbconvert (``make notebooks``) records when each code cell started and finished
(``metadata.execution``). The main path is every code cell before the ``## Going further`` heading.
The machine is the one the set-up cell reported (``CPU (2 cores, AMD EPYC)``). ``--write`` puts the
times in each notebook's "How long" line (with its slot from docs/instructor.md's plan), the README's
table and its total, and docs/instructor.md's "cells run" column and "Measured on" line;
tests/test_notebook_text.py checks that every one of them is what the stored runs took.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_words import GOING_FURTHER  # noqa: E402

HOW_LONG = re.compile(r"^\*\*How long:\*\* .*? on two CPU cores", re.MULTILINE)
WORKSHOP = re.compile(r"\b\d+ minutes in a workshop")
INSTRUCTOR = ROOT / "docs" / "instructor.md"
# a row of docs/instructor.md's tables: "| 0-15 | 1. Next-character prediction | 15 s | ..." (the slot is optional)
INSTRUCTOR_ROW = re.compile(r"^\|(?: (?P<start>\d+)-(?P<end>\d+) \|)? (?P<number>\d)\. [^|\n]+\| (?P<run>[^|\n]*?) \|",
                            re.MULTILINE)
MEASURED_ON = re.compile(r"^Measured on: .*$", re.MULTILINE)
README_TOTAL = re.compile(r"their cells took [^)]*? in all in their stored")
MACHINE = re.compile(r"CPU \((\d+) cores, ([^)]+?)\)")


def cell_times(notebook: dict) -> list[tuple[float, bool]]:
    """``(seconds, on the main path)`` for each code cell whose run nbconvert timed."""
    times, further = [], False
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown" and GOING_FURTHER.search("".join(cell["source"])):
            further = True
        timing = cell.get("metadata", {}).get("execution", {})
        if cell["cell_type"] != "code" or "iopub.execute_input" not in timing:
            continue
        start, end = (dt.datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                      for k in ("iopub.execute_input", "shell.execute_reply"))
        times.append(((end - start).total_seconds(), not further))
    return times


def cell_seconds(notebook: dict) -> tuple[float, float]:
    """Seconds the code cells took before ``## Going further`` and in all."""
    times = cell_times(notebook)
    return sum(s for s, main in times if main), sum(s for s, _ in times)


def longest_cell_seconds(path: Path) -> float:
    """The longest any one code cell of the notebook took in its stored run."""
    return max((s for s, _ in cell_times(json.loads(path.read_text("utf-8")))), default=0.0)


def machine(path: Path) -> str | None:
    """``two cores of an AMD EPYC``: where the stored run ran, as its set-up cell reported it."""
    cell = next(c for c in json.loads(path.read_text("utf-8"))["cells"] if c["cell_type"] == "code")
    text = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))
    found = MACHINE.search(text)
    if not found:
        return None
    cores = {"1": "one core", "2": "two cores", "4": "four cores"}.get(found[1], f"{found[1]} cores")
    return f"{cores} of an {found[2]}" if found[2][0].upper() in "AEIOU" else f"{cores} of a {found[2]}"


def machines() -> str:
    """Where the stored runs ran: one machine, or several joined by "; "."""
    return "; ".join(sorted({machine(path) or "a machine not recorded" for path in _notebooks()}))


def run_clock(seconds: float) -> str:
    """``15 s`` or ``2.4 min``: a cells-run time as docs/instructor.md's tables give it."""
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def total_phrase() -> str:
    """All notebooks' cells together, in all: ``about 10 minutes``."""
    return _minutes(sum(cell_seconds(json.loads(p.read_text("utf-8")))[1] for p in _notebooks()))


def _notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def _minutes(seconds: float) -> str:
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    return f"about {minutes} minute{'s' if minutes != 1 else ''}"


def phrase(path: Path) -> str:
    """``about 3 minutes for the main path, about 7 minutes in all``, or one figure where they agree."""
    main, total = cell_seconds(json.loads(path.read_text("utf-8")))
    if _minutes(main) == _minutes(total):
        return _minutes(total)
    return f"{_minutes(main)} for the main path, {_minutes(total)} in all"


def readme_rows() -> dict[str, str]:
    """The README table's time column, by notebook file name."""
    rows = {}
    for line in (ROOT / "README.md").read_text("utf-8").splitlines():
        match = re.match(r"\| \[.*?\]\(notebooks/([^)]+\.ipynb)\) \|.*\| ([^|]+) \|$", line)
        if match:
            rows[match.group(1)] = match.group(2).strip()
    return rows


def instructor_rows() -> dict[int, dict]:
    """docs/instructor.md's rows by notebook number: ``{"slot_minutes": 15 or None, "cells_run": "15 s"}``."""
    rows = {}
    for m in INSTRUCTOR_ROW.finditer(INSTRUCTOR.read_text("utf-8")):
        slot = int(m["end"]) - int(m["start"]) if m["start"] else None
        rows[int(m["number"])] = {"slot_minutes": slot, "cells_run": m["run"]}
    return rows


def instructor_machine() -> str | None:
    found = MEASURED_ON.search(INSTRUCTOR.read_text("utf-8"))
    return found[0].removeprefix("Measured on: ").rstrip(".") if found else None


def series_number(path: Path) -> int:
    """A notebook's number in the series: 4 for ``04_training_curves.ipynb``."""
    return int(path.name.split("_", 1)[0])


def write() -> None:
    readme, guide = (ROOT / "README.md").read_text("utf-8"), INSTRUCTOR.read_text("utf-8")
    slots = {n: row["slot_minutes"] for n, row in instructor_rows().items()}
    for path in _notebooks():
        text, notebook = phrase(path), json.loads(path.read_text("utf-8"))
        title = "".join(notebook["cells"][0]["source"])
        new = HOW_LONG.sub(f"**How long:** {text} on two CPU cores", title, count=1)
        if slots.get(series_number(path)):
            new = WORKSHOP.sub(f"{slots[series_number(path)]} minutes in a workshop", new, count=1)
        if new != title:
            notebook["cells"][0]["source"] = new.splitlines(keepends=True)
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", "utf-8")
        readme = re.sub(rf"(\| \[[^\]]*\]\(notebooks/{re.escape(path.name)}\) \|.*\| )[^|]+( \|)$",
                        lambda m, text=text: m.group(1) + text + m.group(2), readme, flags=re.MULTILINE)
        guide = _with_cells_run(guide, series_number(path), run_clock(cell_seconds(notebook)[0]))
    readme = README_TOTAL.sub(f"their cells took {total_phrase()} in all in their stored", readme)
    guide = MEASURED_ON.sub(f"Measured on: {machines()}.", guide)
    (ROOT / "README.md").write_text(readme, "utf-8")
    INSTRUCTOR.write_text(guide, "utf-8")


def _with_cells_run(guide: str, notebook_number: int, clock: str) -> str:
    """docs/instructor.md with the "cells run" cell of that notebook's row set to ``clock``."""
    def replace(row: re.Match) -> str:
        if int(row["number"]) != notebook_number:
            return row[0]
        return row[0][:row.start("run") - row.start()] + clock + " |"
    return INSTRUCTOR_ROW.sub(replace, guide)


def main(argv: list[str]) -> int:
    for path in _notebooks():
        main_s, total_s = cell_seconds(json.loads(path.read_text("utf-8")))
        print(f"{path.name:<34} main path {main_s:6.0f} s, in all {total_s:6.0f} s, longest cell "
              f"{longest_cell_seconds(path):4.0f} s: {phrase(path)} ({machine(path) or 'machine not recorded'})")
    print(f"all notebooks: {total_phrase()}")
    if "--write" in argv:
        write()
        print("wrote the How long lines and the README's table")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
