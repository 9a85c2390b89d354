"""How long each notebook's main path is to read: ``python tools/notebook_words.py``.

The main path is every markdown cell, and every Markdown that a code cell printed, before the
first ``## Going further`` heading; text folded in ``<details>`` (hints, solutions) is not on it.
tests/test_notebook_text.py keeps each main path at most :data:`MAX_WORDS` words.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_WORDS = 1500
GOING_FURTHER = re.compile(r"^#+\s*Going further", re.MULTILINE)
_DETAILS = re.compile(r"<details>.*?</details>", re.DOTALL)
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_TAG = re.compile(r"<[^>]+>")


def prose_cells(notebook: dict) -> list[str]:
    """The main path's prose, one string a cell (markdown source, or Markdown a cell displayed)."""
    texts = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"])
            head = GOING_FURTHER.search(source)
            if head:
                texts.append(source[:head.start()])
                break
            texts.append(source)
        elif cell["cell_type"] == "code":
            for output in cell.get("outputs", []):
                markdown = output.get("data", {}).get("text/markdown")
                if markdown:
                    texts.append("".join(markdown))
    return texts


def count_words(text: str) -> int:
    """Words a reader reads: folded ``<details>``, link targets and HTML tags left out."""
    text = _TAG.sub(" ", _LINK_TARGET.sub("]", _DETAILS.sub(" ", text)))
    return sum(1 for token in text.split() if re.search(r"\w", token))


def main_path_words(path: Path) -> int:
    return sum(count_words(text) for text in prose_cells(json.loads(path.read_text("utf-8"))))


def main() -> int:
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        words = main_path_words(path)
        print(f"{words:>6,} {'over' if words > MAX_WORDS else 'ok  '} {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
