"""The one LSTM step (keras.ops) against Keras's own LSTM layers, its cross-entropy, and the compiled function."""

import numpy as np
import pytest

from textgen_helpers.model import build_model, call_model
from textgen_helpers.runtime import import_keras, set_seed
from textgen_helpers.step import (
    compile_function,
    cross_entropy,
    lstm_step,
    stack_layers,
    step_weights,
    weight_values,
    xla_compiles,
    zero_state,
)

keras = import_keras()
ops = keras.ops
VOCAB_SIZE = 12


def spread_model(*args, **kwargs):
    """A random model from build_model with its weights spread, so that the gates leave their middle range."""
    set_seed(2)
    model = build_model(VOCAB_SIZE, *args, compile=False, **kwargs)
    rng = np.random.default_rng(0)
    model.set_weights([w if np.array_equal(w, np.eye(len(w))) else w + rng.normal(0, 0.5, w.shape).astype("float32")
                       for w in model.get_weights()])
    return model


def step_logits(model, ids: np.ndarray) -> np.ndarray:
    """``ids [B, T]`` -> the step's logits ``[B, T, V]``, one character at a time from a zero state (eager)."""
    layers = stack_layers(model)
    weights = step_weights(weight_values(layers))
    state = zero_state([layer.units for layer in layers[1]], len(ids))
    out = []
    for t in range(ids.shape[1]):
        logits, state = lstm_step(weights, ids[:, t], state)
        out.append(ops.convert_to_numpy(logits))
    return np.stack(out, axis=1)


IDS = np.random.default_rng(1).integers(0, VOCAB_SIZE, (3, 50)).astype(np.int32)


@pytest.mark.parametrize("kwargs", [dict(), dict(embedding_dim=5), dict(dropout=0.2)],
                         ids=["one-hot", "embedding", "dropout"])
def test_the_step_gives_the_logits_of_kerass_own_lstms_over_a_sequence(kwargs):
    model = spread_model("16,8", **kwargs)
    expected = ops.convert_to_numpy(call_model(model, IDS))
    assert np.ptp(expected) > 1  # far from uniform: a weight read into the wrong place would show
    np.testing.assert_allclose(step_logits(model, IDS), expected, atol=1e-5)


def test_the_step_gives_the_books_softmax_model_its_prediction():
    model = spread_model("16,8", framing="seq2one")
    probs = ops.convert_to_numpy(call_model(model, np.eye(VOCAB_SIZE, dtype="float32")[IDS]))
    np.testing.assert_allclose(ops.convert_to_numpy(ops.softmax(step_logits(model, IDS)[:, -1])), probs, atol=1e-5)


def test_the_shipped_bundles_logits_are_its_models():
    from textgen_helpers.bundle import shipped_bundle

    bundle = shipped_bundle()
    ids = bundle.vocab.encode("ROMEO:\nBut, soft! what light through yonder window breaks?\nIt is the east.\n")[None]
    np.testing.assert_allclose(step_logits(bundle.model, ids), ops.convert_to_numpy(call_model(bundle.model, ids)),
                               atol=1e-5)


def test_the_gates_follow_the_lstm_equations():
    model = spread_model("6")
    weights = step_weights(weight_values(stack_layers(model)))
    state = zero_state([6], 3)
    for t in range(5):
        _, new_state, ((i, f, g, o),) = lstm_step(weights, IDS[:, t], state, gates=True)
        ((h, c),), ((_, previous),) = new_state, state
        i, f, g, o, c, h, previous = (ops.convert_to_numpy(x) for x in (i, f, g, o, c, h, previous))
        assert ((i > 0) & (i < 1) & (f > 0) & (f < 1) & (o > 0) & (o < 1)).all() and (np.abs(g) < 1).all()
        np.testing.assert_allclose(c, f * previous + i * g, atol=1e-6)
        np.testing.assert_allclose(h, o * np.tanh(c), atol=1e-6)
        state = new_state


def test_the_cross_entropy_is_minus_the_log_probability_of_the_target():
    logits = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]], np.float32))
    targets = np.array([2, 1])
    np.testing.assert_allclose(ops.convert_to_numpy(cross_entropy(logits, targets)), [np.log(4), np.log(10)], rtol=1e-6)
    probs = np.exp(logits)
    np.testing.assert_allclose(ops.convert_to_numpy(cross_entropy(probs, targets, from_logits=False)),
                               [np.log(4), np.log(10)], rtol=1e-6)


def test_a_compiled_function_gives_what_the_eager_one_does_and_follows_new_weights():
    model = spread_model("8")
    layers = stack_layers(model)

    def logits_of(values, tokens, state):
        return lstm_step(step_weights(values), tokens, state)[0]

    compiled = compile_function(logits_of)
    state = zero_state([8], 3)
    eager = ops.convert_to_numpy(logits_of(weight_values(layers), IDS[:, 0], state))
    first = ops.convert_to_numpy(compiled(weight_values(layers), IDS[:, 0], state))
    np.testing.assert_allclose(first, eager, atol=1e-5)
    layers[2].bias.assign(layers[2].bias + 3.0)  # the weights are an argument: a compiled function sees the new ones
    second = ops.convert_to_numpy(compiled(weight_values(layers), IDS[:, 0], state))
    np.testing.assert_allclose(second, eager + 3.0, atol=1e-5)


def test_xla_is_tensorflows_choice_and_always_on_with_jax():
    backend = keras.backend.backend()
    if backend == "tensorflow":
        assert xla_compiles(False) is False and xla_compiles(True) is True
    else:
        assert xla_compiles(False) is xla_compiles(True) is xla_compiles(None) is (backend == "jax")


def test_a_model_of_other_layers_is_refused_naming_the_layer():
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(5, 4)(inputs)
    x = keras.layers.GRU(4, return_sequences=True, name="gru")(x)
    model = keras.Model(inputs, keras.layers.Dense(5)(x))
    with pytest.raises(ValueError, match="layer 'gru' \\(GRU\\) is not one of those"):
        stack_layers(model)
