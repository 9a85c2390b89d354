"""Notebook 3's prose against its stored outputs: every number its Markdown states (rounded, or as
an exact parameter count) is checked here against what the committed, executed notebook printed,
and the exercises' solutions against the parameter formula that the stored table ties to Keras.
Out of the reader's way: the notebook's main path keeps only the check that teaches (its Keras
model written out equals tg.build_model)."""
from __future__ import annotations

import math
import re
from pathlib import Path

import notebook_cells as nb

ROOT = Path(__file__).resolve().parents[1]
NB3 = ROOT / "notebooks" / "03_stacked_lstm.ipynb"


def _lstm(i: int, u: int) -> int:
    return 4 * u * (i + u + 1)


def _vocab_size() -> int:
    return int(nb.number(r"V = (\d+)", nb.shown_text(NB3, 'V = {V}')))


# --- parameters ---------------------------------------------------------------------------------

def _parameter_rows() -> list[dict]:
    rows = []
    for row in nb.text_rows(nb.shown_text(NB3, '"by the formula"')):
        rows.append({"model": row[1], "layer": row[2], "i": int(row[3]), "u": int(row[4]),
                     "by the formula": int(row[-2]), "Keras counts": int(row[-1])})
    return rows


def test_the_formula_and_keras_count_the_same_parameters_on_every_layer():
    rows, V = _parameter_rows(), _vocab_size()
    assert [r["model"] for r in rows] == ["128"] * 2 + ["128,128"] * 3 + ["256,128"] * 3
    for r in rows:
        expected = _lstm(r["i"], r["u"]) if r["layer"].startswith("lstm") else r["i"] * V + V
        assert r["by the formula"] == expected == r["Keras counts"], r
    assert "The formula and Keras agree on every layer" in nb.source_after(NB3, '"by the formula"')


def test_the_256_unit_first_layer_costs_over_three_times_the_128_unit_one_as_the_prose_rounds_it():
    first = {r["model"]: r["Keras counts"] for r in _parameter_rows() if r["layer"] == "lstm_1"}
    prose = nb.source_after(NB3, '"by the formula"')
    assert 3 < first["256,128"] / first["128,128"] < 4 and "over three times" in prose
    big = nb.number(r"about ([\d,]+) parameters against", prose)
    small = nb.number(r"parameters against ([\d,]+)", prose)
    assert (big, small) == (round(first["256,128"], -4), round(first["128,128"], -3)), (big, small, first)


def test_the_summaries_total_the_parameters_the_prose_gives():
    listing = nb.shown_text(NB3, "seq2one.summary()")
    assert nb.number(r"Total params: ([\d,]+)", listing) == 239_297
    assert nb.number(r"Non-trainable params: ([\d,]+)", listing) == 0
    assert "239,297 parameters, all trainable" in nb.source_after(NB3, "seq2one.summary()")
    seq2seq = nb.shown_text(NB3, "seq2seq.summary()")
    V = _vocab_size()
    assert nb.number(r"Trainable params: ([\d,]+)", seq2seq) == 239_297
    assert nb.number(r"Non-trainable params: ([\d,]+)", seq2seq) == V * V == 4_225
    prose = nb.source_after(NB3, "seq2seq.summary()")
    assert "239,297 trainable parameters" in prose and "V × V = 4,225 frozen" in prose


def test_each_layer_has_the_shape_the_prose_describes():
    rows = {row[1]: " ".join(row[2:]) for row in nb.text_rows(nb.shown_text(NB3, '"return_sequences": getattr'))}
    assert rows == {"lstm_1": "True (None, 40, 128)", "lstm_2": "False (None, 128)", "next_char": "(None, 65)"}
    assert "all 40\nsteps of 128 numbers" in nb.source_after(NB3, '"return_sequences": getattr')
    seq2seq = nb.shown_text(NB3, "seq2seq.summary()")
    for layer, shape in [("one_hot", "(None, 40, 65)"), ("lstm_1", "(None, 40, 128)"),
                         ("lstm_2", "(None, 40, 128)"), ("next_char", "(None, 40, 65)")]:
        assert re.search(rf"{layer} \(\w+\)\s*│ {re.escape(shape)}", seq2seq), (layer, shape)


def test_the_packages_models_have_our_parameters_and_read_windows_of_any_length():
    shown = nb.shown_text(NB3, "tg.build_model(V, lstm_layer_sizes, framing=framing)")
    rows = {row[0]: row[1:] for row in nb.text_rows(shown) if row[0] in ("seq2one", "seq2seq")}
    assert int(rows["seq2one"][0]) == 239_297 and int(rows["seq2seq"][0]) == 243_522 == 239_297 + 4_225
    assert " ".join(rows["seq2one"][1:4]) == "(None, None, 65)" and " ".join(rows["seq2seq"][1:3]) == "(None, None)"
    assert "`None` for the time axis" in nb.source_after(NB3, "tg.build_model(V, lstm_layer_sizes, framing=framing)")


# --- the untrained loss -------------------------------------------------------------------------

def test_the_untrained_loss_is_about_ln_v_as_the_prose_rounds_it():
    printed = nb.shown_text(NB3, "model.evaluate(x, y")
    loss = nb.number(r"untrained loss: (\d+\.\d+) nats/char", printed)
    ln_v = nb.number(r"ln V: (\d+\.\d+) nats/char", printed)
    assert ln_v == round(math.log(_vocab_size()), 3)
    prose = nb.source_after(NB3, "model.evaluate(x, y")
    assert nb.number(r"About (\d+\.\d+) nats per character, printed above", prose) == round(loss, 2)
    tolerance = nb.number(r"within (\d+\.\d+) nats of ln 65", prose)
    assert abs(loss - math.log(65)) < tolerance, (loss, tolerance)
    bits = nb.number(r"= (\d+\.\d+) bits/char", printed)
    assert abs(bits - loss / math.log(2)) < 0.006


# --- generation ---------------------------------------------------------------------------------

def test_the_packages_generators_write_our_300_characters():
    generated = nb.shown_text(NB3, "ours, our_probs = generate_stateful(seed_text, 300)")
    text = generated.split("\n", 2)[2].removesuffix("\n")  # after the seed line and its blank line
    assert len(text) == 300, len(text)
    same = nb.shown_text(NB3, '"bundle.generate": bundle.generate')
    assert re.search(r"^bundle\.generate\s+True$", same, re.MULTILINE), same
    assert re.search(r"^tg\.generate\s+True$", same, re.MULTILINE), same
    assert "Both write our 300 characters" in nb.source_after(NB3, '"bundle.generate": bundle.generate')


def test_the_packages_probabilities_are_ours_to_about_a_millionth():
    printed = nb.shown_text(NB3, "tg.lstm_trace(bundle")
    assert nb.number(r"steps compared: (\d+)", printed) == 300
    gap = nb.number(r"largest probability gap: (\d\.\de[-+]\d+)", printed)
    assert "about a millionth" in nb.source_after(NB3, "tg.lstm_trace(bundle")
    assert round(math.log10(gap)) == -6, gap


# --- going further ------------------------------------------------------------------------------

def test_keras_refuses_an_lstm_on_an_input_without_a_time_axis():
    printed = nb.shown_text(NB3, 'name="lower"')
    assert printed.startswith("ValueError:") and "expected ndim=3, found ndim=2" in printed
    assert "expected 3 dimensions and found 2" in nb.source_after(NB3, 'name="lower"')


def test_the_one_hot_table_puts_each_rows_1_at_its_characters_id():
    printed = nb.shown_text(NB3, 'seq2seq.get_layer("one_hot")')
    ids = re.search(r"ids: (\[.*\])", printed).group(1)
    assert re.search(r"column of each row's 1: (\[.*\])", printed).group(1) == ids
    assert "one-hot shape: (5, 65)" in printed and "row sums: [1.0, 1.0, 1.0, 1.0, 1.0]" in printed


def test_the_gate_table_draws_the_lines_the_prose_names():
    rows = [row for row in nb.text_rows(nb.shown_text(NB3, "def tfjs_hard_sigmoid"))[1:]]
    assert len(rows) == 5
    for x, book, keras_hard, sigmoid in ((float(v) for v in row) for row in rows):
        assert book == round(min(max(0.2 * x + 0.5, 0.0), 1.0), 3), (x, book)
        assert keras_hard == round(min(max(x / 6 + 0.5, 0.0), 1.0), 3), (x, keras_hard)
        assert sigmoid == round(1 / (1 + math.exp(-x)), 3), (x, sigmoid)
    prose = nb.source(nb.cells(NB3)[nb.index(NB3, "def tfjs_hard_sigmoid") - 1])
    assert "0.2x + 0.5 clipped to [0, 1]" in prose and "x/6 + 0.5" in prose


def test_only_input_dropout_keeps_build_models_lstm_on_cudnn():
    printed = nb.shown_text(NB3, "tg.cudnn_blockers(layer)")
    verdicts = {}
    for line in printed.split("why not")[0].splitlines():
        match = re.match(r"^(.+?)\s+(yes|no)\s*$", line)
        if match:
            verdicts[match.group(1)] = match.group(2)
    assert verdicts == {"build_model's LSTM": "yes", "dropout=0.2": "yes", "recurrent_dropout=0.2": "no",
                        "activation='relu'": "no", "the book's hardSigmoid": "no", "unroll=True": "no",
                        "use_bias=False": "no", "use_cudnn=False": "no"}, verdicts
    assert nb.source_after(NB3, "tg.cudnn_blockers(layer)").startswith("Input dropout keeps the fast kernel.")


# --- the exercises ------------------------------------------------------------------------------

def test_the_exercise_solutions_give_the_formulas_numbers():
    """The formula is tied to Keras's counts by the stored table (first test); here, each number a
    solution quotes is the formula's."""
    exercises = nb.source(nb.cell(NB3, "## Exercises", "markdown")).split("## Exercises", 1)[1]
    V = _vocab_size()
    wide_lstm, wide_dense = _lstm(V, 512), 512 * V + V
    deep = [_lstm(V, 128)] + [_lstm(128, 128)] * 3 + [128 * V + V]
    book = _lstm(V, 128) + _lstm(128, 128) + 128 * V + V
    embedded_lstm = _lstm(16, 128)
    embedded = book - _lstm(V, 128) + embedded_lstm + V * 16

    def quoted(n: int) -> str:
        return f"{n:,}"

    for phrase in [f"`[512]` has {quoted(wide_lstm + wide_dense)} parameters",
                   f"({quoted(wide_lstm)} in its LSTM, {quoted(wide_dense)} in the Dense layer)",
                   f"has {quoted(sum(deep))} ({quoted(deep[0])} + 3 × {quoted(deep[1])} + {quoted(deep[-1])})",
                   f"65 × 16 = {quoted(V * 16)} trainable parameters",
                   f"drops from {quoted(_lstm(V, 128))} to 4 · 128 · (16 + 128 + 1) = {quoted(embedded_lstm)}",
                   f"{quoted(_lstm(V, 128) - embedded_lstm)}\n   fewer",
                   f"{quoted(embedded)} trainable parameters instead of {quoted(book)}",
                   f'"128,128" keeps {quoted(book)}',
                   "`lstm_1` returns `(None, 100, 128)`", "`(None, 100, 65)` at `next_char`"]:
        assert phrase in exercises, phrase
    assert sum(deep) < (wide_lstm + wide_dense) / 2 and "well under half" in exercises
