"""Embed the screenshots in the notebooks that show them: ``python tools/embed_screenshot.py [NAME ...]``.

Notebook 5 shows docs/images/slider.png (and notebook 8 web.png) as ``![...](attachment:slider.png)``, with the PNG
itself in that markdown cell's ``attachments`` (nbformat 4), so the picture travels with the notebook: on Colab,
in a downloaded copy, on GitHub and nbviewer alike, where a path such as ``../docs/images/slider.png``
shows a broken image outside the repository. This copies each picture's current bytes into its cell
(every one in :data:`SCREENSHOTS`, or the names given); ``make screenshots`` runs it after it retakes
them, and tests/test_notebook_text.py fails if a notebook's attachment and its file differ.
"""
from __future__ import annotations

import base64
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# attachment name: (the picture, the notebook whose cell shows ![...](attachment:NAME))
SCREENSHOTS = {
    "slider.png": (ROOT / "docs" / "images" / "slider.png", ROOT / "notebooks" / "05_temperature_slider.ipynb"),
    "web.png": (ROOT / "docs" / "images" / "web.png", ROOT / "notebooks" / "08_in_the_browser.ipynb"),
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def showing(cells: list[dict], name: str) -> list[dict]:
    """The markdown cells among ``cells`` that show the attachment ``name``."""
    return [cell for cell in cells
            if cell["cell_type"] == "markdown" and f"](attachment:{name})" in "".join(cell["source"])]


def embed(name: str) -> bool:
    """Put the bytes of :data:`SCREENSHOTS`'s picture ``name`` in the one markdown cell of its notebook
    that shows ``attachment:name``. Returns whether the notebook changed (not when it already holds them)."""
    import nbformat

    if name not in SCREENSHOTS:
        raise SystemExit(f"embed_screenshot: no screenshot named {name!r}; the names are {sorted(SCREENSHOTS)}")
    image, notebook = SCREENSHOTS[name]
    data = image.read_bytes() if image.is_file() else None
    if data is None or not data.startswith(PNG_SIGNATURE):
        problem = "not a PNG" if data else "missing"
        raise SystemExit(f"embed_screenshot: {image} is {problem}; make screenshots takes it")
    nb = nbformat.read(notebook, as_version=4)
    cells = showing(nb.cells, name)
    if len(cells) != 1:
        raise SystemExit(f"embed_screenshot: {notebook.name} has {len(cells)} markdown cells showing "
                         f"![...](attachment:{name}); it needs exactly one")
    encoded = base64.b64encode(data).decode("ascii")
    attachments = cells[0].setdefault("attachments", {})
    if attachments.get(name) == {"image/png": encoded}:
        return False
    attachments[name] = {"image/png": encoded}
    nbformat.validate(nb)
    nbformat.write(nb, notebook)
    return True


def main(argv: list[str]) -> int:
    for name in argv or SCREENSHOTS:
        changed = embed(name)
        image, notebook = SCREENSHOTS[name]
        print(f"{notebook.relative_to(ROOT)}: its attachment {name} {'now holds' if changed else 'already holds'} "
              f"{image.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
