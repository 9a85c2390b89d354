"""How long and how readable each notebook's main path is: ``python tools/notebook_words.py``.

The main path is every cell before the first ``## Going further`` heading; text folded in
``<details>`` (hints, solutions) is not on it. For each notebook this prints its words of prose
(markdown cells, and any Markdown a code cell displayed), its code cells, its longest code cell and
code line, its checks (``assert``, ``np.testing``, ``raise``) and the cells that mainly check, and
the cells that build prose in code. tests/test_notebook_text.py holds every main path to the limits
below: a room reads along on a projector, so prose lives in Markdown cells and code lines stay short.
"""
from __future__ import annotations

import ast
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_WORDS = 1500                 # words of prose on any main path
MAX_WORDS_FIRST_FIVE = 1200      # on notebooks 1-5, the workshop's first 85 minutes
MAX_CODE_CELLS_FIRST_FIVE = 65   # main-path code cells of notebooks 1-5 together
MAX_CELL_LINES = 25              # lines in any main-path code cell
MAX_LINE = 100                   # characters in any main-path code line (88 reads best)
MAX_CHECKS = 3                   # assert, np.testing, raise on a main path
MAX_CHECKING_CELLS = 1           # cells that mainly check
GOING_FURTHER = re.compile(r"^#+\s*Going further", re.MULTILINE)
_DETAILS = re.compile(r"<details>.*?</details>", re.DOTALL)
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_TAG = re.compile(r"<[^>]+>")
_MAGIC = re.compile(r"^(\s*)[%!].*$", re.MULTILINE)  # IPython's %pip and !cmd lines are not Python: pass


@dataclass
class MainPath:
    """What a reader meets before ``## Going further``."""

    words: int
    code_cells: int
    longest_cell: int        # lines
    long_lines: int          # code lines over MAX_LINE characters
    longest_line: int        # characters
    checks: int              # assert statements, np.testing calls and raise statements
    checking_cells: int      # cells whose statements are mostly checks
    prose_cells: int         # code cells that build prose: Markdown(...) or a printed sentence


def main_path_cells(notebook: dict) -> list[tuple[str, str, dict]]:
    """``(cell type, source, cell)`` for each cell before ``## Going further`` (that heading's own
    cell cut at the heading)."""
    cells = []
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        head = GOING_FURTHER.search(source) if cell["cell_type"] == "markdown" else None
        if head:
            cells.append((cell["cell_type"], source[:head.start()], cell))
            break
        cells.append((cell["cell_type"], source, cell))
    return cells


def prose_cells(notebook: dict) -> list[str]:
    """The main path's prose, one string a cell (markdown source, or Markdown a cell displayed)."""
    texts = []
    for kind, source, cell in main_path_cells(notebook):
        if kind == "markdown":
            texts.append(source)
        elif kind == "code":
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


def checks_in(source: str) -> tuple[int, int]:
    """``(checks, statements)`` of a code cell: ``assert``, ``raise`` and ``np.testing`` calls among
    its top-level statements (nested ones count as checks too)."""
    tree = ast.parse(_MAGIC.sub(r"\1pass", source))
    checks = 0
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assert, ast.Raise)):
            checks += 1
        elif isinstance(node, ast.Call) and "testing" in ast.unparse(node.func).split("."):
            checks += 1
    return checks, len(tree.body)


def builds_prose(source: str) -> bool:
    """A code cell that writes the lesson's prose: ``Markdown(...)`` of a string, or a ``print`` of a
    sentence (nine or more words in its literal text: more than the short labels of numbers)."""
    tree = ast.parse(_MAGIC.sub(r"\1pass", source))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        if name in ("Markdown", "display_markdown"):
            return True
        if name == "print":
            words = " ".join(_literal_text(arg) for arg in node.args)
            if len(re.findall(r"[A-Za-z]{2,}", words)) >= 9:
                return True
    return False


def _literal_text(node: ast.AST) -> str:
    """The literal text of a string expression: its constants, and an f-string's text outside its holes."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else ""
    if isinstance(node, ast.JoinedStr):
        return " ".join(_literal_text(part) for part in node.values)
    if isinstance(node, ast.BinOp):  # "..." + "..."
        return f"{_literal_text(node.left)} {_literal_text(node.right)}"
    return ""


def main_path(path: Path) -> MainPath:
    notebook = json.loads(path.read_text("utf-8"))
    code = [source for kind, source, _ in main_path_cells(notebook) if kind == "code" and source.strip()]
    lines = [line for source in code for line in source.splitlines()]
    counted = [checks_in(source) for source in code]
    return MainPath(
        words=sum(count_words(text) for text in prose_cells(notebook)),
        code_cells=len(code),
        longest_cell=max((len(source.splitlines()) for source in code), default=0),
        long_lines=sum(len(line) > MAX_LINE for line in lines),
        longest_line=max((len(line) for line in lines), default=0),
        checks=sum(c for c, _ in counted),
        checking_cells=sum(c > 0 and 2 * c >= n for c, n in counted),
        prose_cells=sum(builds_prose(source) for source in code),
    )


def first_five(paths: list[Path]) -> list[Path]:
    """Notebooks 1-5 of ``paths``."""
    return [p for p in paths if p.name[:2].isdigit() and int(p.name[:2]) <= 5]


def main() -> int:
    paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    print(f"{'words':>6} {'cells':>5} {'longest':>7} {'>100ch':>6} {'widest':>6} {'checks':>6} {'chk cells':>9} "
          f"{'prose':>5}  notebook")
    cells_first_five = 0
    for path in paths:
        m = main_path(path)
        limit = MAX_WORDS_FIRST_FIVE if path in first_five(paths) else MAX_WORDS
        cells_first_five += m.code_cells if path in first_five(paths) else 0
        over = [name for name, bad in (("words", m.words > limit), ("cell lines", m.longest_cell > MAX_CELL_LINES),
                                       ("long lines", m.long_lines), ("checks", m.checks > MAX_CHECKS),
                                       ("checking cells", m.checking_cells > MAX_CHECKING_CELLS),
                                       ("prose in code", m.prose_cells)) if bad]
        print(f"{m.words:>6,} {m.code_cells:>5} {m.longest_cell:>7} {m.long_lines:>6} {m.longest_line:>6} "
              f"{m.checks:>6} {m.checking_cells:>9} {m.prose_cells:>5}  {path.name}"
              + (f"  over: {', '.join(over)}" if over else ""))
    print(f"main-path code cells in notebooks 1-5: {cells_first_five} (at most {MAX_CODE_CELLS_FIRST_FIVE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
