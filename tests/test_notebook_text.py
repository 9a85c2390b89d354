"""What a room of readers meets in the notebooks: a main path short enough to read along, an opening
that says what, how long and what you need, exercises with a hint and a solution folded away, a Colab
set-up cell that installs from one named place and agrees with the badge, and no warning or
traceback in the stored outputs."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from notebook_times import (  # noqa: E402
    cell_seconds,
    instructor_machine,
    instructor_rows,
    longest_cell_seconds,
    machines,
    phrase,
    readme_rows,
    run_clock,
    series_number,
    total_phrase,
)
from notebook_words import (  # noqa: E402
    MAX_CELL_LINES,
    MAX_CHECKING_CELLS,
    MAX_CHECKS,
    MAX_CODE_CELLS_FIRST_FIVE,
    MAX_LINE,
    MAX_WORDS,
    MAX_WORDS_FIRST_FIVE,
    first_five,
    main_path,
)
from pin_colab import REPOSITORY  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
OPENING_LABELS = ("**What you will do:**", "**How long:**", "**What you need:**")
TEXTGEN_LINE = re.compile(r'^TEXTGEN = "' + re.escape(REPOSITORY) + r'@([A-Za-z0-9._/-]+)"', re.MULTILINE)
BADGE = re.compile(r"colab\.research\.google\.com/github/textgen-workshop/textgen/blob/([^/]+)/notebooks/([^)\s]+)\)")


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text("utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_main_path_is_short_enough_to_read_along(path):
    words, limit = main_path(path).words, MAX_WORDS_FIRST_FIVE if path in first_five(NOTEBOOKS) else MAX_WORDS
    assert words <= limit, (f"{path.name}: {words:,} words of prose before '## Going further', over {limit:,}; "
                            f"move the deeper material below that heading (python tools/notebook_words.py)")


def test_notebooks_1_to_5_keep_their_main_paths_to_65_code_cells_together():
    cells = {p.name: main_path(p).code_cells for p in first_five(NOTEBOOKS)}
    assert len(cells) == 5 and sum(cells.values()) <= MAX_CODE_CELLS_FIRST_FIVE, (
        f"main-path code cells of notebooks 1-5: {cells}, {sum(cells.values())} in all, over "
        f"{MAX_CODE_CELLS_FIRST_FIVE}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_main_path_code_reads_on_a_projector(path):
    m = main_path(path)
    assert m.longest_cell <= MAX_CELL_LINES, f"{path.name}: a main-path code cell has {m.longest_cell} lines"
    assert m.long_lines == 0, (f"{path.name}: {m.long_lines} main-path code lines are over {MAX_LINE} characters "
                               f"(the widest {m.longest_line}); python tools/notebook_words.py")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_main_path_prose_is_markdown_not_built_in_code(path):
    assert main_path(path).prose_cells == 0, (
        f"{path.name}: a main-path code cell builds prose (Markdown(...) or a printed sentence); print numbers "
        f"with short labels and say what they mean in a Markdown cell (python tools/notebook_words.py)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_main_path_checks_are_few_and_in_at_most_one_cell(path):
    m = main_path(path)
    assert m.checks <= MAX_CHECKS and m.checking_cells <= MAX_CHECKING_CELLS, (
        f"{path.name}: {m.checks} checks (assert, np.testing, raise) on the main path, {m.checking_cells} cells "
        f"that mainly check; keep the one that teaches and move the rest to tests/test_notebook_numbers.py")


@pytest.mark.parametrize("number", [2, 3])
def test_notebooks_2_and_3_have_a_going_further_section(number):
    [path] = [p for p in NOTEBOOKS if p.name.startswith(f"0{number}_")]
    assert any(re.search(r"^## Going further", _source(c), re.MULTILINE) for c in _cells(path)
               if c["cell_type"] == "markdown"), f"{path.name} has no '## Going further' section"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_opening_says_what_how_long_and_what_you_need(path):
    title = _source(_cells(path)[0])
    missing = [label for label in OPENING_LABELS if label not in title]
    assert not missing, f"{path.name}: its first cell lacks {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_how_long_is_what_the_stored_run_took_in_the_notebook_and_the_readme(path):
    measured = phrase(path)
    assert f"**How long:** {measured} on two CPU cores" in _source(_cells(path)[0]), (
        f"{path.name}: its cells took {measured} when it was last run; python tools/notebook_times.py --write")
    assert readme_rows().get(path.name) == measured, (
        f"README.md's table says {readme_rows().get(path.name)!r} for {path.name}; its cells took {measured} "
        f"(python tools/notebook_times.py --write)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_instructor_guide_gives_the_stored_run_times_and_the_notebook_its_slot(path):
    row = instructor_rows().get(series_number(path))
    assert row is not None, f"docs/instructor.md plans no row for notebook {series_number(path)}"
    measured = run_clock(cell_seconds(json.loads(path.read_text("utf-8")))[0])
    assert row["cells_run"] == measured, (f"docs/instructor.md says notebook {series_number(path)}'s cells run "
                                          f"{row['cells_run']}; they took {measured} "
                                          "(python tools/notebook_times.py --write)")
    if row["slot_minutes"]:
        assert f"{row['slot_minutes']} minutes in a workshop" in _source(_cells(path)[0]), (
            f"{path.name}: docs/instructor.md gives it {row['slot_minutes']} minutes "
            "(python tools/notebook_times.py --write)")


def test_the_guide_and_the_readme_name_the_machine_and_the_total_of_the_stored_runs():
    assert instructor_machine() == machines(), (
        f"docs/instructor.md: 'Measured on: {instructor_machine()}'; the stored runs: {machines()} "
        "(python tools/notebook_times.py --write)")
    readme = (ROOT / "README.md").read_text("utf-8")
    assert f"their cells took {total_phrase()} in all" in readme, "python tools/notebook_times.py --write"


def test_no_cell_runs_longer_than_the_readme_promises():
    assert "No training cell runs longer than about three minutes" in (ROOT / "README.md").read_text("utf-8")
    longest = {p.name: longest_cell_seconds(p) for p in NOTEBOOKS}
    assert max(longest.values()) <= 180, f"a cell took over three minutes in its stored run: {longest}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_has_a_hint_and_a_solution_folded_away(path):
    cells = [_source(c) for c in _cells(path) if c["cell_type"] == "markdown"]
    exercises = next((s for s in cells if re.search(r"^## Exercises", s, re.MULTILINE)), None)
    assert exercises is not None, f"{path.name} has no '## Exercises' section"
    body = exercises[re.search(r"^## Exercises", exercises, re.MULTILINE).end():]
    items = re.findall(r"^\d+\. ", body, re.MULTILINE)
    hints = re.findall(r"<details>\s*<summary>Hint</summary>", body)
    solutions = re.findall(r"<details>\s*<summary>Solution</summary>", body)
    assert items, f"{path.name}: its Exercises section has no numbered exercise"
    assert len(hints) == len(solutions) == len(items), (
        f"{path.name}: {len(items)} exercises, {len(hints)} hints and {len(solutions)} solutions in <details>")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_colab_cell_installs_from_one_place_that_the_badge_agrees_with(path):
    cells = _cells(path)
    setup = _source(next(c for c in cells if c["cell_type"] == "code"))
    refs = TEXTGEN_LINE.findall(setup)
    assert len(refs) == 1, f"{path.name}: its set-up cell must name the package's source once, as TEXTGEN = \"...\""
    assert re.search(r'^if "google\.colab" in sys\.modules:.*\n    %pip install --quiet "textgen-helpers\[colab\] @ '
                     r'\{TEXTGEN\}"$', setup, re.MULTILINE), f"{path.name}: the install line is not the guarded one"
    assert setup.count("git+") == 1, f"{path.name}: the set-up cell names a git source besides TEXTGEN"
    badges = BADGE.findall(_source(cells[0]))
    assert badges == [(refs[0], path.name)], f"{path.name}: its badge opens {badges}, its set-up installs @{refs[0]}"


def test_every_notebook_has_the_same_set_up_cell():
    setups = {_source(next(c for c in _cells(p) if c["cell_type"] == "code")) for p in NOTEBOOKS}
    assert len(setups) == 1, "the notebooks' set-up cells differ; keep one shape (tools/pin_colab.py edits them all)"


def test_the_colab_extra_names_a_keras_new_enough_and_ipywidgets():
    import tomllib

    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["colab"]
    assert "keras>=3.14" in extra and any(r.startswith("ipywidgets") for r in extra), extra


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_stored_output_shows_a_warning_or_a_traceback(path):
    for number, cell in enumerate(_cells(path)):
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", f"{path.name}, cell {number}: a stored traceback"
            text = "".join(output.get("text", "")) if output["output_type"] == "stream" else ""
            assert not (output["output_type"] == "stream" and output["name"] == "stderr" and text.strip()), (
                f"{path.name}, cell {number} printed to stderr: {text[:200]!r}")
            plain = "".join(output.get("data", {}).get("text/plain", "")) + text
            assert not re.search(r"\b\w*Warning\b:|Traceback \(most recent call last\)", plain), (
                f"{path.name}, cell {number}: {plain[:200]!r}")


# A picture in a markdown cell that a copy of the notebook can show: from the web, inline, or attached to the cell.
_LOCAL_PICTURE = re.compile(r"!\[[^\]]*\]\(\s*<?(?!attachment:|https?://|data:)([^)\s>]+)"
                            r"""|<img\b[^>]*?\bsrc\s*=\s*["']?(?!attachment:|https?://|data:)([^"'\s>]+)""",
                            re.IGNORECASE)


@pytest.mark.parametrize("path", NOTEBOOKS + sorted((ROOT / "apps").glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_picture_travels_with_its_notebook_and_05s_slider_is_docs_slider_png(path):
    import base64

    from embed_screenshot import SCREENSHOTS, showing

    cells = _cells(path)
    for number, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        source = _source(cell)
        local = [a or b for a, b in _LOCAL_PICTURE.findall(source)]
        assert not local, (f"{path.name}, cell {number} shows {local}: a copy of the notebook (Colab, a download) "
                           f"cannot find it; attach it to the cell (see tools/embed_screenshot.py)")
        for name in re.findall(r"\]\(attachment:([^)\s]+)\)", source):
            assert name in cell.get("attachments", {}), (
                f"{path.name}, cell {number} shows attachment:{name}, not attached")
    assert "slider.png" in SCREENSHOTS  # notebook 5's picture of the slider
    for name, (image, notebook) in SCREENSHOTS.items():
        if notebook == path:
            shown = showing(cells, name)
            assert len(shown) == 1, f"{path.name} must show {image.name} as ![...](attachment:{name}), once"
            attached = base64.b64decode(shown[0]["attachments"][name]["image/png"])
            assert attached == image.read_bytes(), (f"{path.name}'s picture {name} is not {image.relative_to(ROOT)} "
                                                    f"(python tools/embed_screenshot.py {name})")
