import math
import re

import numpy as np
import pandas as pd
import pytest

from textgen_helpers.activations import (
    FEATURES,
    LSTMTrace,
    best_cells,
    cell_correlations,
    gate_saturation,
    lstm_trace,
    surprise_bits,
    text_features,
)
from textgen_helpers.display import colored_text_html
from textgen_helpers.model import build_model
from textgen_helpers.runtime import import_keras, set_seed

keras = import_keras()

VOCAB_SIZE = 10


def spread_model(*args, **kwargs):
    """A random model from build_model with its weights spread, so that gates leave their middle range."""
    set_seed(1)
    model = build_model(*args, compile=False, **kwargs)
    rng = np.random.default_rng(0)
    model.set_weights([w if np.array_equal(w, np.eye(len(w))) else w + rng.normal(0, 0.5, w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


@pytest.fixture(scope="module")
def small():
    ids = np.random.default_rng(1).integers(0, VOCAB_SIZE, 40)
    model = spread_model(VOCAB_SIZE, "8,6")
    return model, ids, lstm_trace(model, ids)


def synthetic_trace(cells: list[np.ndarray], gates: dict[str, list[np.ndarray]] | None = None) -> LSTMTrace:
    """A trace with the given cell states [T, units] per layer; other arrays filled with 0.5."""
    steps = len(cells[0])
    halves = tuple(np.full_like(c, 0.5) for c in cells)
    arrays = {name: tuple((gates or {}).get(name, halves)) for name in ("i", "f", "g", "o")}
    return LSTMTrace(ids=np.zeros(steps, np.int64), c=tuple(cells), h=halves, logits=np.zeros((steps, 3), np.float32),
                     **arrays)


def test_the_trace_has_a_row_per_character_and_a_column_per_unit(small):
    _, ids, trace = small
    assert len(trace) == 40 and trace.layer_sizes == [8, 6]
    for name in ("c", "h", "i", "f", "g", "o"):
        assert [a.shape for a in getattr(trace, name)] == [(40, 8), (40, 6)]
    assert trace.logits.shape == (40, VOCAB_SIZE)
    for name in ("i", "f", "o"):
        assert all(((a > 0) & (a < 1)).all() for a in getattr(trace, name))
    assert all((np.abs(a) < 1).all() for a in trace.g)
    np.testing.assert_array_equal(trace.cell(2, 5, "h"), trace.h[1][:, 5])


def test_the_trace_follows_the_lstm_equations(small):
    _, _, trace = small
    for k in range(2):
        c, h, i, f, g, o = (getattr(trace, name)[k].astype(np.float64) for name in ("c", "h", "i", "f", "g", "o"))
        previous = np.vstack([np.zeros(c.shape[1]), c[:-1]])  # the state starts at zero
        np.testing.assert_allclose(c, f * previous + i * g, atol=1e-6)
        np.testing.assert_allclose(h, o * np.tanh(c), atol=1e-6)


def test_the_traces_logits_and_top_output_are_the_keras_models(small):
    model, ids, trace = small
    np.testing.assert_allclose(trace.logits, model.predict_on_batch(ids[None])[0], atol=1e-5)
    top = keras.Model(model.inputs, model.get_layer("lstm_2").output)
    np.testing.assert_allclose(trace.h[1], top.predict_on_batch(ids[None])[0], atol=1e-5)
    bottom = keras.Model(model.inputs, model.get_layer("lstm_1").output)
    np.testing.assert_allclose(trace.h[0], bottom.predict_on_batch(ids[None])[0], atol=1e-5)


def test_the_trace_of_the_books_softmax_model_ends_with_its_prediction():
    model = spread_model(VOCAB_SIZE, "8,6", framing="seq2one")
    ids = np.random.default_rng(2).integers(0, VOCAB_SIZE, 30)
    trace = lstm_trace(model, ids)
    probs = model.predict_on_batch(np.eye(VOCAB_SIZE, dtype="float32")[ids][None])[0]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.softmax(trace.logits[-1])), probs, atol=1e-6)


def test_the_trace_of_a_model_with_a_learned_embedding_is_the_keras_models():
    model = spread_model(VOCAB_SIZE, "8", embedding_dim=4)
    ids = np.random.default_rng(3).integers(0, VOCAB_SIZE, 30)
    np.testing.assert_allclose(lstm_trace(model, ids).logits, model.predict_on_batch(ids[None])[0], atol=1e-5)


def test_the_trace_of_the_shipped_bundle_is_its_models():
    from textgen_helpers.bundle import shipped_bundle

    bundle = shipped_bundle()
    ids = bundle.vocab.encode("ROMEO:\nBut, soft! what light through yonder window breaks?\nIt is the east.\n")
    trace = lstm_trace(bundle.model, ids)
    np.testing.assert_allclose(trace.logits, bundle.model.predict_on_batch([ids[None]])[0], atol=1e-4)
    top = keras.Model(bundle.model.inputs, bundle.model.get_layer("lstm_2").output)
    np.testing.assert_allclose(trace.h[1], top.predict_on_batch([ids[None]])[0], atol=1e-5)


def test_each_feature_on_a_hand_checked_text():
    text = 'AB:\nSay "hi" (o).\nx'
    features = text_features(text)
    assert list(features.columns) == list(FEATURES)
    expected = {
        #                    A  B  :  ⏎  S  a  y  ␣  "  h  i  "  ␣  (  o  )  .  ⏎  x
        "inside_quotes":    [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        "inside_brackets":  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0],
        "position_in_line": [1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0, 1],
        "chars_to_newline": [2, 1, 0, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 0],
        "speaker_name":     [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        "after_vowel":      [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0],
        "position_in_word": [1, 2, 0, 0, 1, 2, 3, 0, 0, 1, 2, 0, 0, 0, 1, 0, 0, 0, 1],
    }
    for name, values in expected.items():
        assert features[name].tolist() == values, name


def test_speaker_names_are_lines_of_capitals_ending_in_a_colon():
    text = "KING RICHARD III:\nNay, thus:\nFirst Citizen:\nROMEO:"
    marked = text_features(text)["speaker_name"].to_numpy()
    lines = text.split("\n")
    assert marked[:len(lines[0])].all() and marked[len(lines[0])] == 0  # the newline after a name is not part of it
    start = len(lines[0]) + 1
    assert not marked[start:start + len(lines[1]) + 1 + len(lines[2])].any()  # not capitals: not a speaker line here
    assert marked[-len("ROMEO:"):].all()


def test_curly_quotes_and_nested_brackets():
    features = text_features("“a” ((b) c)")
    assert features["inside_quotes"].tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert features["inside_brackets"].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0]


def test_a_feature_is_found_in_the_cell_built_to_track_it():
    rng = np.random.default_rng(0)
    features = text_features("ROMEO:\nIs the day so young?\n\nBENVOLIO:\nBut new struck nine.\n" * 4)
    steps = len(features)
    layer1, layer2 = rng.normal(size=(steps, 5)), rng.normal(size=(steps, 4))
    layer2[:, 3] = 0.5 - 0.1 * features["position_in_line"]  # tracks it, with the opposite sign
    layer1[:, 2] = 3 * features["speaker_name"] + 1
    table = best_cells(synthetic_trace([layer1, layer2]), features, top=2).set_index(["feature", "rank"])
    assert tuple(table.loc[("position_in_line", 1), ["layer", "unit"]]) == (2, 3)
    assert table.loc[("position_in_line", 1), "r"] == pytest.approx(-1, abs=1e-6)
    assert tuple(table.loc[("speaker_name", 1), ["layer", "unit"]]) == (1, 2)
    assert table.loc[("speaker_name", 1), "r"] == pytest.approx(1, abs=1e-6)
    assert abs(table.loc[("speaker_name", 2), "r"]) < 0.9  # the rest are noise


def test_a_real_lstm_cell_wired_to_count_the_line_is_found_with_r_one():
    """A 3-unit LSTM whose unit 1 adds tanh(0.5) per character and forgets at a newline: c = 0.46 x position."""
    text = "ROMEO:\nIs the day so young?\n\nBENVOLIO:\nBut new struck nine.\n"
    chars = sorted(set(text))
    ids = np.array([chars.index(ch) for ch in text])
    model = spread_model(len(chars), "3")
    kernel, recurrent, bias = model.get_layer("lstm_1").get_weights()
    counter = [1, 4, 7]  # unit 1 of the i, f, g blocks (Keras's order: i, f, g, o, 3 units each)
    kernel[:, counter] = 0
    recurrent[:, counter] = 0
    bias[counter] = [30, 30, 0.5]  # input and forget gates open, candidate tanh(0.5)
    kernel[chars.index("\n"), [1, 4]] = -60  # a newline shuts both: the count restarts at 0
    model.get_layer("lstm_1").set_weights([kernel, recurrent, bias])
    trace = lstm_trace(model, ids)
    features = text_features(text)
    np.testing.assert_allclose(trace.cell(1, 1), math.tanh(0.5) * features["position_in_line"], atol=1e-5)
    best = best_cells(trace, features, top=1).set_index("feature").loc["position_in_line"]
    assert (best["layer"], best["unit"]) == (1, 1)
    assert best["r"] == pytest.approx(1, abs=1e-6)


def test_a_feature_that_never_changes_has_no_correlation_and_no_cell():
    features = pd.DataFrame({"constant": np.ones(20), "ramp": np.arange(20.0)})
    cells = np.random.default_rng(0).normal(size=(20, 3))
    cells[:, 1] = 7.0  # a unit that never moves
    r = cell_correlations(synthetic_trace([cells]), features)
    assert r["constant"].isna().all() and np.isnan(r.loc[(1, 1), "ramp"])
    table = best_cells(synthetic_trace([cells]), features, top=3)
    constant = table[table["feature"] == "constant"]
    assert len(constant) == 1 and np.isnan(constant["r"].iloc[0]) and constant["layer"].isna().all()
    assert 1 not in table.loc[table["feature"] == "ramp", "unit"].tolist()


def test_surprise_is_minus_log2_of_the_actual_next_characters_probability():
    logits = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8], [1, 1, 1]]))
    bits = surprise_bits(logits, np.array([2, 1, 0]))  # row t predicts character t + 1
    np.testing.assert_allclose(bits, [2.0, -math.log2(0.1)])
    np.testing.assert_allclose(surprise_bits(np.zeros((5, 64)), np.arange(5)), np.full(4, 6.0))


def test_mean_surprise_is_the_models_cross_entropy_in_bits(small):
    model, ids, trace = small
    logits = model.predict_on_batch(ids[None])[:, :-1]
    nats = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(ids[None, 1:], logits)
    assert surprise_bits(trace).shape == (len(ids) - 1,)
    assert surprise_bits(trace).mean() == pytest.approx(float(nats) / math.log(2), rel=1e-5)


def test_the_html_escapes_the_text_and_shows_newlines():
    text = "<script>&\"'\nok"
    out = colored_text_html(text, np.linspace(-1, 1, len(text)), title="a <b> title", label="cell & gate").data
    assert "<script" not in out
    shown = re.sub(r"<[^>]*>", "", out.split("<pre")[1].split("</pre>")[0].split(">", 1)[1])  # the text, tags removed
    assert shown == "&lt;script&gt;&amp;&quot;&#x27;⏎\nok"
    assert "a &lt;b&gt; title" in out and "cell &amp; gate" in out
    assert "⏎</span>\n" in out  # a visible mark, then the line break
    assert "<style" not in out.lower() and "class=" not in out  # inline styles only: they survive GitHub and Colab


def test_the_html_colours_by_value_and_leaves_nan_uncoloured():
    out = colored_text_html("abc", [0.0, np.nan, 1.0], cmap="Greys", vmin=0, vmax=1, label="x").data
    assert '<span style="background-color:#ffffff" title="0">a</span>' in out  # black ink on light colours
    assert ">b</span>" not in out and "</span>b<span" in out
    assert '<span style="background-color:#000000;color:#ffffff" title="1">c</span>' in out
    assert "x: 0 " in out and " 1</div>" in out  # the legend's scale
    assert "title=" not in colored_text_html("ab", [0, 1], tooltips=False).data


def test_gate_saturation_counts_the_time_near_each_end():
    steps = 10
    forget = np.full((steps, 3), 0.5)
    forget[:, 0] = 0.05                       # always nearly shut
    forget[:5, 1], forget[5:, 1] = 0.95, 0.5  # nearly open half of the time
    forget[:, 2] = [0.01, 0.99] * 5            # half and half
    inputs = np.full((steps, 3), 0.5)
    table = gate_saturation(synthetic_trace([np.zeros((steps, 3))], {"f": [forget], "i": [inputs]}))
    assert list(table.columns) == ["layer", "gate", "unit", "left", "right"]
    assert table.attrs == {"low": 0.1, "high": 0.9}
    assert set(table["gate"]) == {"input", "forget", "output"} and len(table) == 9
    rows = table[table["gate"] == "forget"].set_index("unit")
    assert rows["left"].tolist() == [1.0, 0.0, 0.5] and rows["right"].tolist() == [0.0, 0.5, 0.5]
    assert (table.loc[table["gate"] == "input", ["left", "right"]] == 0).all().all()
    strict = gate_saturation(synthetic_trace([np.zeros((steps, 3))], {"f": [forget]}), low=0.01, high=0.99)
    assert strict[strict["gate"] == "forget"]["left"].tolist() == [0.0, 0.0, 0.0]  # strictly below low


@pytest.mark.parametrize("call, message", [
    (lambda m: lstm_trace(m, np.array([0, VOCAB_SIZE])), r"ids must lie in \[0, 10\)"),
    (lambda m: lstm_trace(m, np.array([-1, 2])), r"ids must lie in"),
    (lambda m: lstm_trace(m, np.zeros((2, 3), int)), r"1-D array"),
    (lambda m: lstm_trace(m, np.array([0.5, 1.0])), r"1-D array of character ids"),
    (lambda m: lstm_trace(m, np.array([], int)), r"ids are empty"),
    (lambda m: text_features(""), r"text is empty"),
    (lambda m: text_features(None), r"text must be a string"),
    (lambda m: surprise_bits(np.zeros((3, 4)), np.arange(2)), r"ids have 2 characters but the logits 3 rows"),
    (lambda m: surprise_bits(np.zeros((3, 4))), r"give the ids"),
    (lambda m: surprise_bits(np.zeros(4), np.arange(4)), r"logits must be \[T, V\]"),
    (lambda m: colored_text_html("abc", [1, 2]), r"one number per character"),
    (lambda m: colored_text_html("ab", [1, 2], vmin=2, vmax=1), r"vmax must be greater than vmin"),
    (lambda m: colored_text_html("ab", [1, 2], vmin="low"), r"vmin must be a number"),
    (lambda m: colored_text_html("ab", [1, 2], cmap="no-such-map"), r"matplotlib colormap"),
])
def test_bad_arguments_are_refused_with_what_to_do(small, call, message):
    model, _, _ = small
    with pytest.raises(ValueError, match=message):
        call(model)


@pytest.mark.parametrize("kwargs, message", [
    (dict(top=0), r"top must be >= 1"),
    (dict(top=2.0), r"top must be an integer"),
    (dict(state="tanh"), r"state must be 'c'"),
])
def test_bad_best_cells_arguments_are_refused(small, kwargs, message):
    _, ids, trace = small
    with pytest.raises(ValueError, match=message):
        best_cells(trace, text_features("x" * len(ids)), **kwargs)


def test_features_of_another_text_are_refused(small):
    _, _, trace = small
    with pytest.raises(ValueError, match="features have 3 rows but the trace has 40 characters"):
        best_cells(trace, text_features("abc"))
    with pytest.raises(ValueError, match="trace must be an LSTMTrace"):
        best_cells(np.zeros((40, 3)), text_features("abc"))


@pytest.mark.parametrize("kwargs, message", [
    (dict(low=0), r"low must be > 0"),
    (dict(high=1), r"high must be < 1"),
    (dict(low=0.6, high=0.4), r"high must be greater than low"),
    (dict(low=True), r"low must be a number"),
])
def test_bad_saturation_thresholds_are_refused(small, kwargs, message):
    _, _, trace = small
    with pytest.raises(ValueError, match=message):
        gate_saturation(trace, **kwargs)


def test_a_cell_outside_the_model_is_refused_naming_the_sizes(small):
    _, _, trace = small
    with pytest.raises(ValueError, match="layer must be <= 2, got 3; the model has 2 LSTM layers"):
        trace.cell(3, 0)
    with pytest.raises(ValueError, match="unit must be <= 5, got 6; layer 2 has 6 units"):
        trace.cell(2, 6)
