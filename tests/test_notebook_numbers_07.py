"""Notebook 7's prose against its own stored outputs: every number its Markdown quotes (rounded) is
read from the committed, executed notebook and compared, so a re-run that changes a number fails
here instead of leaving the prose stale. The notebook prints numbers with short labels and shows
tables; these tests read its stdout and the HTML of its tables."""
from __future__ import annotations

import re
from pathlib import Path

import notebook_cells as nb

ROOT = Path(__file__).resolve().parents[1]
NB7 = ROOT / "notebooks" / "07_inside_the_lstm.ipynb"
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}


# --- what the Markdown says -------------------------------------------------------------------------

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
    step = nb.number_after("line positions 2-30", nb.stdout(NB7, needle))
    by_position = dict(re.findall(r"^(\d+)\s+(-?\d+\.\d)$", nb.stdout(NB7, needle), re.MULTILINE))
    first, thirtieth = float(by_position["1"]), float(by_position["30"])
    assert step < 0 and thirtieth < first, "the prose says the cell falls (grows bluer) along a line"
    assert abs((thirtieth - first) / 29 - step) < 0.03, "the table and the mean step tell different trends"
    text = nb.markdown(NB7, "Over a line's first 30 characters")
    _says(text, f"falls by about {abs(step):.2f} per character")
    _says(text, f"from about {first:.1f} to about {thirtieth:.1f}")
    _says(nb.markdown(NB7, "The cell grows bluer along each line"), "grows bluer along each line")


def test_the_colour_scale_the_prose_describes_is_the_one_the_code_draws():
    code = nb.source(nb.cell(NB7, "def show_cell"))
    assert "scale = np.percentile(np.abs(values), 95)" in code and "vmin=-scale, vmax=scale" in code, (
        "show_cell no longer draws the scale the Markdown describes")
    _says(nb.markdown(NB7, "## One cell over a passage"), "symmetric around zero that ends at the 95th percentile")


def test_the_features_table_has_no_quote_or_bracket_as_the_markdown_says():
    means = nb.html_table(NB7, "features = tg.text_features(text)")
    assert float(means["inside_quotes"][-1]) == float(means["inside_brackets"][-1]) == 0
    _says(nb.markdown(NB7, "This stretch of tiny Shakespeare"), "no double quote and no bracket")


def test_the_cleanest_cell_and_the_range_of_the_others_are_the_best_cells_table():
    # rank 1: index, feature, rank, ...
    rows = [row for row in nb.html_rows(NB7, "best = tg.best_cells(") if row[2] == "1"]
    top = {row[1]: (row[3], row[4], row[6]) for row in rows}
    assert top["inside_quotes"][2] == top["inside_brackets"][2] == "NaN"
    scored = {feature: (layer, unit, float(r)) for feature, (layer, unit, r) in top.items() if r != "NaN"}
    clean = max(scored, key=lambda f: abs(scored[f][2]))
    layer, unit, r = scored[clean]
    others = [abs(r) for f, (*_, r) in scored.items() if f != clean]
    text = nb.markdown(NB7, "One cell is nearly clean")
    _says(text, f"unit {unit} of layer {layer} follows `{clean}` at r = {r:.2f}")
    _says(text, f"|r| = {min(others):.2f} to {max(others):.2f}")


def test_the_surprise_of_the_traced_text_and_the_stored_loss_are_as_the_markdown_rounds_them():
    mean = nb.number_after("mean surprise", nb.stdout(NB7, "bits = tg.surprise_bits(trace)"))
    stored = nb.number_after("stored validation loss", nb.stdout(NB7, "val_bits = tg.nats_to_bits("))
    assert mean < stored, "the prose says this stretch is easier than the average"
    _says(nb.markdown(NB7, "These 10,000 characters cost"), f"about {mean:.1f} bits each")
    _says(nb.markdown(NB7, "These 10,000 characters cost"), f"stored validation loss of about {stored:.1f}")
    assert nb.number_after("predictions", nb.stdout(NB7, "bits = tg.surprise_bits(trace)")) == 9_999


def test_word_starts_carry_the_surprise_the_markdown_says():
    table = {where: [float(v) for v in values] for where, values in nb.html_table(NB7, "np.select(").items()}
    mean = {where: values[0] for where, values in table.items()}
    start, later = mean["first letter of a word"], mean["later letter of a word"]
    assert min(mean, key=mean.get) == "space or punctuation", "the prose says spaces and punctuation cost least"
    text = nb.markdown(NB7, "A word's first letter costs")
    _says(text, f"about {start:.1f} bits, {start / later:.1f} times a later letter (about {later:.1f})")
    _says(text, f"a line's first character about {mean['first character of a line']:.1f}")
    _says(text, f"least, about {mean['space or punctuation']:.1f}")
    count, share = table["first letter of a word"][1:]
    _says(text, f"Word starts, {count:,.0f} of the characters, carry about a third ({share:.2f})")
    assert 0.28 <= share <= 0.38, "'about a third'"


# --- going further -----------------------------------------------------------------------------------

def test_all_the_cells_together_read_every_feature_better_than_the_best_single_cell():
    table = {f: [float(v) for v in values] for f, values in nb.html_table(NB7, "np.linalg.lstsq(").items()}
    gains = [together - single for single, together in table.values()]
    assert all(gain > 0 for gain in gains)
    weakest = min(table, key=lambda f: table[f][1])
    text = nb.markdown(NB7, "Every feature is read better from all the cells")
    _says(text, f"by about {min(gains):.2f} to {max(gains):.2f} in r")
    _says(text, f"`{weakest}` is read least well (r about {table[weakest][1]:.2f})")


def test_the_whole_validation_text_scores_as_the_stored_loss():
    out = nb.stdout(NB7, "pieces = [tg.surprise_bits(")
    pieces, low, high = re.search(r"pieces: (\d+), from (\d\.\d\d) to (\d\.\d\d)", out).groups()
    overall = nb.number_after("predictions", nb.stdout(NB7, "pieces = [tg.surprise_bits("))
    stored = nb.number_after("stored validation loss", nb.stdout(NB7, "pieces = [tg.surprise_bits("))
    assert abs(overall - stored) <= 0.05, "the trace should score the validation text as training did"
    text = nb.markdown(NB7, "which training read in windows")
    _says(text, f"The {pieces} pieces cost from about {low} to {high} bits per character")
    _says(text, f"about {overall:.2f}, within {abs(overall - stored):.2f} of the stored {stored:.2f}")


def test_gate_saturation_is_as_the_markdown_says():
    table = {key: [float(v) for v in values]
             for key, values in nb.html_table(NB7, "tg.gate_saturation(trace", index_columns=2).items()}
    first = [values for (layer, _), values in table.items() if layer == "1"]
    text = nb.markdown(NB7, "Layer 1's gates rarely saturate")
    _says_percent(text, "below 0.1 for at most", max(v[0] for v in first))
    _says_percent(text, "above 0.9 for at most", max(v[1] for v in first))
    assert sum(v[2] for v in first) == 0
    _says(text, "none of its units is wide open")
    _says_percent(text, "its output gates are shut", table[("2", "output")][0])
    _says_percent(text, "of the time on average and its forget gates", table[("2", "forget")][0])
    _says(text, f"{table[('2', 'forget')][2]:.0f} of its forget gates are open more than half the time")


def test_the_most_saturated_units_are_as_the_markdown_says():
    largest = {gate: [float(v) for v in values]
               for gate, values in nb.html_table(NB7, "tg.plot_gate_saturation(").items()}
    either = nb.number_after("most saturated unit, either way", nb.stdout(NB7, "tg.plot_gate_saturation("))
    text = nb.markdown(NB7, "huddles near the corner")
    _says(text, f"shut for up to {largest['forget'][0]:.0%} and {largest['output'][0]:.0%}")
    _says(text, f"(the highest {largest['forget'][1]:.0%})")
    _says(text, f"saturated {either:.0%} of the time")


def test_quotes_and_brackets_are_counted_as_the_markdown_says():
    counts = {name: [int(v) for v in values] for name, values in nb.html_table(NB7, "quotes_and_brackets(").items()}
    assert all(shakespeare == 0 for shakespeare, _ in counts.values())
    nietzsche = {name: n for name, (_, n) in counts.items()}
    text = nb.markdown(NB7, "Tiny Shakespeare has not one double quote")
    opening = nietzsche["opening ("] + nietzsche["opening ["] + nietzsche["opening {"]
    _says(text, f"{nietzsche['double quotes']:,} double quotes and {opening:,} opening brackets "
                f"({nietzsche['opening (']:,} round, {nietzsche['opening [']:,} square, "
                f"{nietzsche['opening {'] or 'none'} curly)")


def test_exercise_1s_solution_is_what_the_run_shows():
    rows = nb.html_table(NB7, 'state="h"')
    same = sum(c_layer == h_layer and c_unit == h_unit for c_layer, c_unit, _, h_layer, h_unit, _ in rows.values())
    drops = [abs(float(c_r)) - abs(float(h_r)) for _, _, c_r, _, _, h_r in rows.values()]
    assert all(drop > 0 for drop in drops) and 2 * same > len(rows), "the solution: mostly the same units, weaker r"
    text = nb.markdown(NB7, "keep their leading unit on `h`")
    _says(text, f"{NUMBER_WORDS[same].capitalize()} of the {NUMBER_WORDS[len(rows)]} features keep their "
                "leading unit")
    _says(text, f"lower on `h`, by {min(drops):.2f} to {max(drops):.2f}")


def test_exercise_2s_solution_is_what_the_run_shows():
    comma = [row for row in nb.html_rows(NB7, "after_comma=")]   # index, feature, rank, layer, unit, state, r
    weakest_feature_cell = min(abs(float(row[6])) for row in nb.html_rows(NB7, "best = tg.best_cells(")
                               if row[2] == "1" and row[6] != "NaN")
    assert all(row[3] == "2" for row in comma), "the solution says all three are in layer 2"
    assert max(abs(float(row[6])) for row in comma) < weakest_feature_cell
    r = [float(row[6]) for row in comma]
    _says(nb.markdown(NB7, "The best is unit"), f"unit {comma[0][4]} of layer 2 at r = {r[0]:.2f}, the next two at "
                                          f"{r[1]:.2f} and {r[2]:.2f}")
    _says(nb.markdown(NB7, "The best is unit"), f"(|r| = {weakest_feature_cell:.2f})")


def test_exercise_3s_solution_is_what_the_run_shows():
    needle = "train_bits = tg.surprise_bits("
    train = nb.number_after("training characters", nb.stdout(NB7, needle))
    validation = nb.number_after("validation characters", nb.stdout(NB7, needle))
    spread = nb.number_after("dearest - cheapest", nb.stdout(NB7, needle))
    assert train < validation and validation - train < spread, "the solution: cheaper, by less than the spread"
    text = nb.markdown(NB7, "The training text is cheaper")
    _says(text, f"cheaper by about {validation - train:.2f} bits per character ({train:.2f} against "
                f"{validation:.2f})")
    _says(text, f"differ by about {spread:.2f}")
