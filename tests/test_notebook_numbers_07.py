"""Notebook 7's prose against its own stored outputs: every number its Markdown quotes (rounded) is
read from the committed, executed notebook and compared, so a re-run that changes a number fails
here instead of leaving the prose stale. The notebook prints numbers with short labels and shows
tables; these tests read its stdout and the HTML of its tables."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NB7 = ROOT / "notebooks" / "07_inside_the_lstm.ipynb"
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}


# --- reading the stored notebook -------------------------------------------------------------------

def _cells() -> list[dict]:
    return json.loads(NB7.read_text("utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _cell(needle: str, cell_type: str = "code") -> dict:
    """The one cell of ``cell_type`` whose source contains ``needle``."""
    found = [c for c in _cells() if c["cell_type"] == cell_type and needle in _source(c)]
    assert len(found) == 1, f"{len(found)} {cell_type} cells contain {needle!r}, expected one"
    return found[0]


def _markdown(needle: str) -> str:
    """The source of the one Markdown cell that contains ``needle``, its lines joined by spaces."""
    return " ".join(_source(_cell(needle, "markdown")).split())


def _stdout(needle: str) -> str:
    cell = _cell(needle)
    text = "".join("".join(o["text"]) for o in cell.get("outputs", [])
                   if o["output_type"] == "stream" and o["name"] == "stdout")
    assert text, f"the cell with {needle!r} has no stored stdout; execute the notebook"
    return text


def _printed(needle: str, label: str) -> float:
    """The number printed after ``label:`` by the cell that contains ``needle``."""
    match = re.search(re.escape(label) + r":\s*([-+]?[\d,]*\.?\d+)", _stdout(needle))
    assert match, f"no line '{label}: <number>' in the stored output of the cell with {needle!r}"
    return float(match.group(1).replace(",", ""))


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


def _table(needle: str) -> list[list[str]]:
    """The body rows of the (last) HTML table the cell that contains ``needle`` displayed."""
    tables = [o["data"]["text/html"] for o in _cell(needle).get("outputs", [])
              if "text/html" in o.get("data", {})]
    assert tables, f"the cell with {needle!r} displayed no table; execute the notebook"
    parser = _TableRows()
    parser.feed("".join(tables[-1]))
    return parser.rows


def _by_index(rows: list[list[str]], columns: int = 1) -> dict:
    """``{index: [values]}`` for rows whose first ``columns`` cells are the index (a tuple if >1)."""
    return {(row[0] if columns == 1 else tuple(row[:columns])): row[columns:] for row in rows}


def _says(markdown: str, phrase: str):
    assert phrase in markdown, f"the Markdown should say {phrase!r} (from the stored outputs); it says: {markdown}"


def _quoted_percent(markdown: str, before: str) -> float:
    """The percentage the Markdown gives right after ``before``, as a share (``41%`` -> 0.41)."""
    match = re.search(re.escape(before) + r"\s*(\d+)%", markdown)
    assert match, f"the Markdown has no percentage after {before!r}: {markdown}"
    return int(match.group(1)) / 100


def _says_percent(markdown: str, before: str, share: float):
    """The Markdown gives ``share`` as a whole percentage after ``before``, rounded either way (a
    table that shows 0.405 may be quoted 40% or 41%)."""
    quoted = _quoted_percent(markdown, before)
    assert abs(quoted - share) < 0.01, f"the Markdown says {quoted:.0%} after {before!r}; the output shows {share}"


# --- the main path -----------------------------------------------------------------------------------

def test_the_line_position_cell_falls_along_each_line_as_the_markdown_says():
    needle = "step = cell.diff()"
    step = _printed(needle, "line positions 2-30")
    by_position = dict(re.findall(r"^(\d+)\s+(-?\d+\.\d)$", _stdout(needle), re.MULTILINE))
    first, thirtieth = float(by_position["1"]), float(by_position["30"])
    assert step < 0 and thirtieth < first, "the prose says the cell falls (grows bluer) along a line"
    assert abs((thirtieth - first) / 29 - step) < 0.03, "the table and the mean step tell different trends"
    text = _markdown("Over a line's first 30 characters")
    _says(text, f"falls by about {abs(step):.2f} per character")
    _says(text, f"from about {first:.1f} to about {thirtieth:.1f}")
    _says(_markdown("The cell grows bluer along each line"), "grows bluer along each line")


def test_the_colour_scale_the_prose_describes_is_the_one_the_code_draws():
    code = _source(_cell("def show_cell"))
    assert "scale = np.percentile(np.abs(values), 95)" in code and "vmin=-scale, vmax=scale" in code, (
        "show_cell no longer draws the scale the Markdown describes")
    _says(_markdown("## One cell over a passage"), "symmetric around zero that ends at the 95th percentile")


def test_the_features_table_has_no_quote_or_bracket_as_the_markdown_says():
    means = _by_index(_table("features = tg.text_features(text)"))
    assert float(means["inside_quotes"][-1]) == float(means["inside_brackets"][-1]) == 0
    _says(_markdown("This stretch of tiny Shakespeare"), "no double quote and no bracket")


def test_the_cleanest_cell_and_the_range_of_the_others_are_the_best_cells_table():
    rows = [row for row in _table("best = tg.best_cells(") if row[2] == "1"]   # rank 1: index, feature, rank, ...
    top = {row[1]: (row[3], row[4], row[6]) for row in rows}
    assert top["inside_quotes"][2] == top["inside_brackets"][2] == "NaN"
    scored = {feature: (layer, unit, float(r)) for feature, (layer, unit, r) in top.items() if r != "NaN"}
    clean = max(scored, key=lambda f: abs(scored[f][2]))
    layer, unit, r = scored[clean]
    others = [abs(r) for f, (*_, r) in scored.items() if f != clean]
    text = _markdown("One cell is nearly clean")
    _says(text, f"unit {unit} of layer {layer} follows `{clean}` at r = {r:.2f}")
    _says(text, f"|r| = {min(others):.2f} to {max(others):.2f}")


def test_the_surprise_of_the_traced_text_and_the_stored_loss_are_as_the_markdown_rounds_them():
    mean = _printed("bits = tg.surprise_bits(trace)", "mean surprise")
    stored = _printed("val_bits = tg.nats_to_bits(", "stored validation loss")
    assert mean < stored, "the prose says this stretch is easier than the average"
    _says(_markdown("These 10,000 characters cost"), f"about {mean:.1f} bits each")
    _says(_markdown("These 10,000 characters cost"), f"stored validation loss of about {stored:.1f}")
    assert _printed("bits = tg.surprise_bits(trace)", "predictions") == 9_999


def test_word_starts_carry_the_surprise_the_markdown_says():
    table = {where: [float(v) for v in values] for where, values in _by_index(_table("np.select(")).items()}
    mean = {where: values[0] for where, values in table.items()}
    start, later = mean["first letter of a word"], mean["later letter of a word"]
    assert min(mean, key=mean.get) == "space or punctuation", "the prose says spaces and punctuation cost least"
    text = _markdown("A word's first letter costs")
    _says(text, f"about {start:.1f} bits, {start / later:.1f} times a later letter (about {later:.1f})")
    _says(text, f"a line's first character about {mean['first character of a line']:.1f}")
    _says(text, f"least, about {mean['space or punctuation']:.1f}")
    count, share = table["first letter of a word"][1:]
    _says(text, f"Word starts, {count:,.0f} of the characters, carry about a third ({share:.2f})")
    assert 0.28 <= share <= 0.38, "'about a third'"


# --- going further -----------------------------------------------------------------------------------

def test_all_the_cells_together_read_every_feature_better_than_the_best_single_cell():
    table = {f: [float(v) for v in values] for f, values in _by_index(_table("np.linalg.lstsq(")).items()}
    gains = [together - single for single, together in table.values()]
    assert all(gain > 0 for gain in gains)
    weakest = min(table, key=lambda f: table[f][1])
    text = _markdown("Every feature is read better from all the cells")
    _says(text, f"by about {min(gains):.2f} to {max(gains):.2f} in r")
    _says(text, f"`{weakest}` is read least well (r about {table[weakest][1]:.2f})")


def test_the_whole_validation_text_scores_as_the_stored_loss():
    out = _stdout("pieces = [tg.surprise_bits(")
    pieces, low, high = re.search(r"pieces: (\d+), from (\d\.\d\d) to (\d\.\d\d)", out).groups()
    overall = _printed("pieces = [tg.surprise_bits(", "predictions")
    stored = _printed("pieces = [tg.surprise_bits(", "stored validation loss")
    assert abs(overall - stored) <= 0.05, "the trace should score the validation text as training did"
    text = _markdown("which training read in windows")
    _says(text, f"The {pieces} pieces cost from about {low} to {high} bits per character")
    _says(text, f"about {overall:.2f}, within {abs(overall - stored):.2f} of the stored {stored:.2f}")


def test_gate_saturation_is_as_the_markdown_says():
    table = {key: [float(v) for v in values]
             for key, values in _by_index(_table("tg.gate_saturation(trace"), columns=2).items()}
    first = [values for (layer, _), values in table.items() if layer == "1"]
    text = _markdown("Layer 1's gates rarely saturate")
    _says_percent(text, "below 0.1 for at most", max(v[0] for v in first))
    _says_percent(text, "above 0.9 for at most", max(v[1] for v in first))
    assert sum(v[2] for v in first) == 0
    _says(text, "none of its units is wide open")
    _says_percent(text, "its output gates are shut", table[("2", "output")][0])
    _says_percent(text, "of the time on average and its forget gates", table[("2", "forget")][0])
    _says(text, f"{table[('2', 'forget')][2]:.0f} of its forget gates are open more than half the time")


def test_the_most_saturated_units_are_as_the_markdown_says():
    largest = {gate: [float(v) for v in values]
               for gate, values in _by_index(_table("tg.plot_gate_saturation(")).items()}
    either = _printed("tg.plot_gate_saturation(", "most saturated unit, either way")
    text = _markdown("huddles near the corner")
    _says(text, f"shut for up to {largest['forget'][0]:.0%} and {largest['output'][0]:.0%}")
    _says(text, f"(the highest {largest['forget'][1]:.0%})")
    _says(text, f"saturated {either:.0%} of the time")


def test_quotes_and_brackets_are_counted_as_the_markdown_says():
    counts = {name: [int(v) for v in values] for name, values in _by_index(_table("quotes_and_brackets(")).items()}
    assert all(shakespeare == 0 for shakespeare, _ in counts.values())
    nietzsche = {name: n for name, (_, n) in counts.items()}
    text = _markdown("Tiny Shakespeare has not one double quote")
    opening = nietzsche["opening ("] + nietzsche["opening ["] + nietzsche["opening {"]
    _says(text, f"{nietzsche['double quotes']:,} double quotes and {opening:,} opening brackets "
                f"({nietzsche['opening (']:,} round, {nietzsche['opening [']:,} square, "
                f"{nietzsche['opening {'] or 'none'} curly)")


def test_exercise_1s_solution_is_what_the_run_shows():
    rows = _by_index(_table('state="h"'))
    same = sum(c_layer == h_layer and c_unit == h_unit for c_layer, c_unit, _, h_layer, h_unit, _ in rows.values())
    drops = [abs(float(c_r)) - abs(float(h_r)) for _, _, c_r, _, _, h_r in rows.values()]
    assert all(drop > 0 for drop in drops) and 2 * same > len(rows), "the solution: mostly the same units, weaker r"
    text = _markdown("keep their leading unit on `h`")
    _says(text, f"{NUMBER_WORDS[same].capitalize()} of the {NUMBER_WORDS[len(rows)]} features keep their "
                "leading unit")
    _says(text, f"lower on `h`, by {min(drops):.2f} to {max(drops):.2f}")


def test_exercise_2s_solution_is_what_the_run_shows():
    comma = [row for row in _table("after_comma=")]   # index, feature, rank, layer, unit, state, r
    weakest_feature_cell = min(abs(float(row[6])) for row in _table("best = tg.best_cells(")
                               if row[2] == "1" and row[6] != "NaN")
    assert all(row[3] == "2" for row in comma), "the solution says all three are in layer 2"
    assert max(abs(float(row[6])) for row in comma) < weakest_feature_cell
    r = [float(row[6]) for row in comma]
    _says(_markdown("The best is unit"), f"unit {comma[0][4]} of layer 2 at r = {r[0]:.2f}, the next two at "
                                          f"{r[1]:.2f} and {r[2]:.2f}")
    _says(_markdown("The best is unit"), f"(|r| = {weakest_feature_cell:.2f})")


def test_exercise_3s_solution_is_what_the_run_shows():
    needle = "train_bits = tg.surprise_bits("
    train = _printed(needle, "training characters")
    validation = _printed(needle, "validation characters")
    spread = _printed(needle, "dearest - cheapest")
    assert train < validation and validation - train < spread, "the solution: cheaper, by less than the spread"
    text = _markdown("The training text is cheaper")
    _says(text, f"cheaper by about {validation - train:.2f} bits per character ({train:.2f} against "
                f"{validation:.2f})")
    _says(text, f"differ by about {spread:.2f}")
