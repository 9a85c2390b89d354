"""How long each notebook takes, read from the timings its last full run stored in it.

    python tools/notebook_times.py           # print each notebook's main path and whole run
    python tools/notebook_times.py --write   # and write them into its "How long" line and the README's table

nbconvert (``make notebooks``) records when each code cell started and finished
(``metadata.execution``). The main path is every code cell before the ``## Going further`` heading.
tests/test_notebook_text.py checks that the notebooks' and the README's times are these.
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


def cell_seconds(notebook: dict) -> tuple[float, float]:
    """Seconds the code cells took before ``## Going further`` and in all."""
    main = total = 0.0
    further = False
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown" and GOING_FURTHER.search("".join(cell["source"])):
            further = True
        timing = cell.get("metadata", {}).get("execution", {})
        if cell["cell_type"] != "code" or "iopub.execute_input" not in timing:
            continue
        start, end = (dt.datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                      for k in ("iopub.execute_input", "shell.execute_reply"))
        total += (end - start).total_seconds()
        main += 0 if further else (end - start).total_seconds()
    return main, total


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


def write() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        text, notebook = phrase(path), json.loads(path.read_text("utf-8"))
        title = "".join(notebook["cells"][0]["source"])
        new = HOW_LONG.sub(f"**How long:** {text} on two CPU cores", title, count=1)
        if new != title:
            notebook["cells"][0]["source"] = new.splitlines(keepends=True)
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", "utf-8")
        readme = re.sub(rf"(\| \[[^\]]*\]\(notebooks/{re.escape(path.name)}\) \|.*\| )[^|]+( \|)$",
                        lambda m, text=text: m.group(1) + text + m.group(2), readme, flags=re.MULTILINE)
    (ROOT / "README.md").write_text(readme, "utf-8")


def main(argv: list[str]) -> int:
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        main_s, total_s = cell_seconds(json.loads(path.read_text("utf-8")))
        print(f"{path.name:<34} main path {main_s:6.0f} s, in all {total_s:6.0f} s: {phrase(path)}")
    if "--write" in argv:
        write()
        print("wrote the How long lines and the README's table")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
