"""Reading a committed, executed notebook: its cells, their sources and their stored outputs.

The tests in ``test_notebook_numbers*.py`` compare what a notebook's Markdown says with what its
code printed; this module is how they read both, so that each test says only what it checks. Every
function takes the notebook's path explicitly (no notebook is special here). Functions that read an
output take either a cell (a dict, as :func:`cell` returns it) or a notebook's path and a needle::

    stdout(cell(NB1, "loss = nats.mean()"))
    stdout(NB1, "loss = nats.mean()")      # the same, and a failure names the needle

A missing output fails with "execute the notebook": the committed notebook was not run (or the cell
no longer shows what the test reads).

Not a test module (no ``test_`` prefix): the test files import it as ``notebook_cells``, which works
because pytest puts ``tests/`` (a folder without ``__init__.py``) on ``sys.path`` for the modules in
it, with or without pytest-xdist.
"""
from __future__ import annotations

import ast
import json
import re
from html.parser import HTMLParser
from pathlib import Path

__all__ = [
    "assigned", "cell", "cells", "displayed_markdown", "groups", "html", "html_rows", "html_table", "index",
    "markdown", "notebook", "number", "number_after", "plain", "printed", "shown_text", "source", "source_after",
    "stdout", "text_rows", "to_float",
]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


# --- cells -----------------------------------------------------------------------------------------

def notebook(path: Path) -> dict:
    """The notebook at ``path`` as its JSON (read afresh on each call)."""
    return json.loads(Path(path).read_text("utf-8"))


def cells(path: Path) -> list[dict]:
    """The cells of the notebook at ``path``."""
    return notebook(path)["cells"]


def source(cell: dict) -> str:
    """A cell's source as one string, as written."""
    return "".join(cell["source"])


def index(path: Path, needle: str, cell_type: str = "code") -> int:
    """The position in :func:`cells` of the one cell of ``cell_type`` whose source contains ``needle``."""
    found = [i for i, c in enumerate(cells(path)) if c["cell_type"] == cell_type and needle in source(c)]
    assert len(found) == 1, f"{Path(path).name}: {len(found)} {cell_type} cells contain {needle!r}, expected one"
    return found[0]


def cell(path: Path, needle: str, cell_type: str = "code") -> dict:
    """The one cell of ``cell_type`` (``"code"`` or ``"markdown"``) whose source contains ``needle``."""
    return cells(path)[index(path, needle, cell_type)]


def markdown(path: Path, needle: str) -> str:
    """The source of the one Markdown cell that contains ``needle``, as one line: every run of
    whitespace (line breaks included) made a single space, so that a phrase matches however the
    cell wraps it."""
    return " ".join(source(cell(path, needle, "markdown")).split())


def source_after(path: Path, needle: str) -> str:
    """The source, as written (line breaks kept), of the Markdown cell right after the code cell that
    contains ``needle``: the one that reads that cell's output."""
    following = cells(path)[index(path, needle) + 1]
    assert following["cell_type"] == "markdown", f"{Path(path).name}: no Markdown cell after the cell with {needle!r}"
    return source(following)


# --- a code cell's stored outputs ------------------------------------------------------------------

def _code_cell(where: dict | Path, needle: str | None) -> tuple[dict, str]:
    """``where`` as a cell, and how a failure names it."""
    if isinstance(where, dict):
        assert needle is None, "give a cell, or a notebook's path and a needle"
        first_line = source(where).partition("\n")[0]
        return where, f"the cell {first_line[:60]!r}"
    assert needle is not None, "give the needle of the code cell to read in the notebook"
    return cell(where, needle), f"{Path(where).name}: the cell with {needle!r}"


def stdout(where: dict | Path, needle: str | None = None) -> str:
    """What a code cell printed: the text of all its stdout streams, joined (a cell's printing may be
    stored as several stream outputs)."""
    found, name = _code_cell(where, needle)
    text = "".join("".join(o["text"]) for o in found.get("outputs", [])
                   if o["output_type"] == "stream" and o["name"] == "stdout")
    assert text, f"{name} has no stored stdout; execute the notebook"
    return text


def _data(where: dict | Path, needle: str | None, mime: str) -> str:
    """The ``mime`` data of the first of the cell's outputs that has one."""
    found, name = _code_cell(where, needle)
    for output in found.get("outputs", []):
        if mime in output.get("data", {}):
            return "".join(output["data"][mime])
    raise AssertionError(f"{name} has no stored {mime} output; execute the notebook")


def plain(where: dict | Path, needle: str | None = None) -> str:
    """The ``text/plain`` of a code cell's first result or display that has one (a DataFrame's text,
    a value's repr)."""
    return _data(where, needle, "text/plain")


def html(where: dict | Path, needle: str | None = None) -> str:
    """The ``text/html`` of a code cell's first result or display that has one (a DataFrame's table)."""
    return _data(where, needle, "text/html")


def displayed_markdown(where: dict | Path, needle: str | None = None) -> str:
    """The ``text/markdown`` a code cell displayed (``IPython.display.Markdown``), its first one."""
    return _data(where, needle, "text/markdown")


def shown_text(where: dict | Path, needle: str | None = None) -> str:
    """Everything a code cell showed as text, in order: its stdout streams and the ``text/plain`` of
    its results and displays, joined by line breaks, ANSI colours removed (``model.summary()``)."""
    found, name = _code_cell(where, needle)
    parts = []
    for output in found.get("outputs", []):
        if output["output_type"] == "stream" and output["name"] == "stdout":
            parts.append("".join(output["text"]))
        elif "text/plain" in output.get("data", {}):
            parts.append("".join(output["data"]["text/plain"]))
    assert parts, f"{name} has no stored output; execute the notebook"
    return _ANSI.sub("", "\n".join(parts))


def printed(where: dict | Path, needle: str | None = None) -> dict[str, str]:
    """A code cell's printed ``label: value`` lines, as {label: value} (split at the first ``": "``;
    lines without one are left out)."""
    lines = stdout(where, needle).strip().splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)


# --- numbers in text -------------------------------------------------------------------------------

def to_float(text: str) -> float:
    """A number as written, thousands commas allowed: ``"31,584"`` -> 31584.0."""
    return float(text.replace(",", ""))


def groups(pattern: str, text: str) -> tuple[str, ...]:
    """The groups of ``pattern``'s first match in ``text``; it must match."""
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not found in {text[:300]!r}"
    return found.groups()


def number(pattern: str, text: str) -> float:
    """The number that the first group of ``pattern`` matches in ``text`` (thousands commas allowed)."""
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not found in {text[:300]!r}"
    return to_float(found.group(1))


def number_after(label: str, text: str) -> float:
    """The number printed after ``label:`` in ``text`` (``"mean surprise: 2.01 bits"`` -> 2.01)."""
    found = re.search(re.escape(label) + r":\s*([-+]?[\d,]*\.?\d+)", text)
    assert found, f"no '{label}: <number>' in {text[:300]!r}"
    return to_float(found.group(1))


def assigned(code: str, name: str):
    """The literal value assigned to ``name`` at the top level of ``code`` (a cell's source, or a module)."""
    for node in ast.parse(code).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"no top-level assignment to {name}")


# --- tables ----------------------------------------------------------------------------------------

def text_rows(text: str) -> list[list[str]]:
    """The data rows of a table printed as text (a DataFrame's ``text/plain``): each line split at
    whitespace, the first (header) line and blank lines left out."""
    return [line.split() for line in text.splitlines()[1:] if line.strip()]


class _TableRows(HTMLParser):
    """The body rows of an HTML table as pandas writes it, an index cell with a ``rowspan``
    repeated on each row it spans."""

    def __init__(self):
        super().__init__()
        self.rows, self._row, self._text, self._span = [], None, None, 1
        self._pending = {}  # column: [value, rows still to fill]
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self._row = []
        elif self._row is not None and tag in ("td", "th"):
            self._fill_pending()
            self._text, self._span = "", int(dict(attrs).get("rowspan") or 1)

    def handle_data(self, data):
        if self._text is not None:
            self._text += data

    def handle_endtag(self, tag):
        if self._row is not None and tag in ("td", "th"):
            if self._span > 1:
                self._pending[len(self._row)] = [self._text.strip(), self._span - 1]
            self._row.append(self._text.strip())
            self._text = None
        elif self._row is not None and tag == "tr":
            self._fill_pending()
            self.rows.append(self._row)
            self._row = None
        elif tag == "tbody":
            self._in_body = False

    def _fill_pending(self):
        while len(self._row) in self._pending:  # a column an earlier row's cell spans
            column = len(self._row)
            self._row.append(self._pending[column][0])
            self._pending[column][1] -= 1
            if self._pending[column][1] == 0:
                del self._pending[column]


def html_rows(where: dict | Path, needle: str | None = None) -> list[list[str]]:
    """The body rows of the DataFrame a code cell displayed, from its stored ``text/html``: each row's
    index cells, then its values, as text (entities decoded, whitespace stripped; a MultiIndex's
    spanning cell repeated on every row it spans)."""
    parser = _TableRows()
    parser.feed(html(where, needle))
    return parser.rows


def html_table(where: dict | Path, needle: str | None = None, index_columns: int = 1) -> dict:
    """:func:`html_rows` as {index: [values]}: the index is a row's first cell, or the tuple of its
    first ``index_columns`` cells."""
    return {(row[0] if index_columns == 1 else tuple(row[:index_columns])): row[index_columns:]
            for row in html_rows(where, needle)}
