import math

import numpy as np
import pytest

from textgen_helpers.model import (
    bits_to_nats,
    build_model,
    cudnn_blockers,
    is_one_hot_layer,
    lstm_layers,
    lstm_param_count,
    model_framing,
    nats_to_bits,
    parameter_count,
    parse_layer_sizes,
)
from textgen_helpers.runtime import import_keras

keras = import_keras()


@pytest.mark.parametrize("spec, sizes", [
    ("128", [128]), ("128,128", [128, 128]), ("256, 128", [256, 128]), (" 64 ,32 ", [64, 32]),
    (128, [128]), ([256, 128], [256, 128]), ((512,), [512]), (np.int64(16), [16]),
])
def test_layer_sizes_parse_from_strings_numbers_and_lists(spec, sizes):
    assert parse_layer_sizes(spec) == sizes


@pytest.mark.parametrize("spec, message", [
    ("", "empty"), ("   ", "empty"), ([], "empty"),
    ("128,,x", "layer 2 is empty"), ("128,x", "layer 2 is 'x', not a whole number"),
    ("0", "layer 1 has 0 units"), ("-5", "layer 1 has -5 units"), ("128,-5", "layer 2 has -5 units"),
    ("12.5", "not a whole number"), ([128, 0.5], "layer 2 is 0.5"), (True, "must be numbers"),
    ("128128", "more than 8192"), (None, "must be a string or a list"),
])
def test_bad_layer_sizes_are_refused_with_the_bad_part_named(spec, message):
    with pytest.raises(ValueError, match=message) as err:
        parse_layer_sizes(spec)
    assert "'128,128'" in str(err.value) or "8192" in str(err.value)


def test_the_books_model_is_sequence_to_one_with_a_softmax():
    model = build_model(65, "128,128", framing="seq2one")
    assert model_framing(model) == "seq2one"
    assert tuple(model.inputs[0].shape) == (None, None, 65)
    assert tuple(model.outputs[0].shape) == (None, 65)
    assert [layer.return_sequences for layer in lstm_layers(model)] == [True, False]
    assert model.layers[-1].activation is keras.activations.softmax
    assert isinstance(model.loss, keras.losses.CategoricalCrossentropy)
    assert isinstance(model.optimizer, keras.optimizers.RMSprop)
    assert math.isclose(float(model.optimizer.learning_rate), 1e-2, rel_tol=1e-6)


def test_the_sequence_to_sequence_model_predicts_every_position():
    model = build_model(65, "256,128")
    assert model_framing(model) == "seq2seq"
    assert tuple(model.outputs[0].shape) == (None, None, 65)
    assert [layer.return_sequences for layer in lstm_layers(model)] == [True, True]
    assert is_one_hot_layer(model.layers[1]) and model.layers[1].name == "one_hot"
    logits = model(np.zeros((2, 7), dtype=np.int32))
    assert tuple(logits.shape) == (2, 7, 65)
    one_hot = keras.ops.convert_to_numpy(model.layers[1](np.array([[3, 0]])))[0]
    np.testing.assert_array_equal(one_hot, np.eye(65)[[3, 0]])


def test_the_model_loads_with_plain_keras_without_this_package(tmp_path):
    import subprocess
    import sys

    model = build_model(65, "16")
    model.save(tmp_path / "m.keras")
    script = ("import sys, numpy as np, keras; m = keras.models.load_model(sys.argv[1]); "
              "assert not any(name.startswith('textgen_helpers') for name in sys.modules); "
              "print(tuple(m(np.zeros((1, 1), 'int32')).shape))")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "m.keras")], capture_output=True, text=True,
                          env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("(1, 1, 65)")  # a window of one character keeps its time axis


@pytest.mark.parametrize("framing", ["seq2one", "seq2seq"])
@pytest.mark.parametrize("spec", ["128", "128,128", "256,128"])
def test_parameter_counts_match_the_lstm_formula(framing, spec):
    sizes = parse_layer_sizes(spec)
    model = build_model(65, spec, framing=framing)
    inputs = [65] + sizes[:-1]
    expected = sum(lstm_param_count(i, u) for i, u in zip(inputs, sizes, strict=True)) + sizes[-1] * 65 + 65
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == expected
    # seq2seq adds the one-hot layer: a frozen V x V identity table, no trainable parameters.
    assert model.count_params() == expected + (65 * 65 if framing == "seq2seq" else 0)
    assert lstm_param_count(65, 128) == 4 * 128 * (65 + 128 + 1) == 99_328


@pytest.mark.parametrize("framing", ["seq2one", "seq2seq"])
@pytest.mark.parametrize("spec", ["128", "128,128", "256,128", "7,5,3"])
def test_parameter_count_is_the_learnt_parameters_the_formula_gives(framing, spec):
    sizes = parse_layer_sizes(spec)
    model = build_model(65, spec, framing=framing)
    inputs = [65] + sizes[:-1]
    formula = sum(lstm_param_count(i, u) for i, u in zip(inputs, sizes, strict=True)) + sizes[-1] * 65 + 65
    assert parameter_count(model) == formula
    # count_params() adds the frozen one-hot table of a seq2seq model (65 x 65), which is not learnt
    assert model.count_params() - parameter_count(model) == (65 * 65 if framing == "seq2seq" else 0)


def test_parameter_count_of_the_books_model_is_239_297_and_a_learnt_embedding_counts():
    assert parameter_count(build_model(65, "128,128")) == 239_297  # the number notebook 3 derives by hand
    with_embedding = build_model(65, "128,128", embedding_dim=16)
    # the embedding's 65 x 16 table is learnt, and the first LSTM reads 16 inputs instead of 65
    assert parameter_count(with_embedding) == (65 * 16 + lstm_param_count(16, 128) + lstm_param_count(128, 128)
                                               + 128 * 65 + 65)
    assert parameter_count(with_embedding) == with_embedding.count_params()  # nothing frozen left


def test_an_untrained_model_scores_about_ln_v(shakespeare):
    from textgen_helpers.vocabulary import Vocabulary

    vocab = Vocabulary.from_text(shakespeare.text)
    ids = vocab.encode(shakespeare.text[:4001])
    model = build_model(len(vocab), "64")
    loss = model.evaluate(ids[:-1].reshape(40, 100), ids[1:].reshape(40, 100), verbose=0)
    assert abs(loss - math.log(65)) < 0.05  # 4.17 nats: a uniform guess over 65 characters


def test_defaults_keep_every_lstm_eligible_for_cudnn():
    model = build_model(65, "128,128", dropout=0.2)
    assert all(cudnn_blockers(layer) == [] for layer in lstm_layers(model))
    slow = keras.layers.LSTM(8, activation="relu", recurrent_dropout=0.1, unroll=True)
    reasons = cudnn_blockers(slow)
    assert any("tanh" in r for r in reasons) and any("recurrent_dropout" in r for r in reasons)
    assert any("unroll" in r for r in reasons)
    # Keras's own check accepts the backend's tanh and keras.ops.tanh as tanh (and the same for sigmoid); so do we.
    assert cudnn_blockers(keras.layers.LSTM(8, activation=keras.ops.tanh, recurrent_activation=keras.ops.sigmoid)) == []
    assert cudnn_blockers(keras.layers.LSTM(8, activation="tanh", recurrent_activation="sigmoid")) == []


def test_dropout_goes_in_separate_layers_and_an_embedding_can_replace_one_hot():
    model = build_model(65, "32,32", dropout=0.25, embedding_dim=16)
    names = [layer.name for layer in model.layers]
    assert names == ["char_ids", "embedding", "lstm_1", "dropout_1", "lstm_2", "dropout_2", "next_char"]
    assert all(layer.cell.dropout == 0 and layer.cell.recurrent_dropout == 0 for layer in lstm_layers(model))


def test_the_one_hot_layer_survives_saving(tmp_path):
    model = build_model(11, "8")
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    x = np.arange(10, dtype=np.int32)[None] % 11
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(vocab_size=1), "vocab_size must be >= 2"),
    (dict(vocab_size=65.0), "vocab_size"),
    (dict(vocab_size=65, framing="seq2many"), "framing must be one of"),
    (dict(vocab_size=65, dropout=1.0), "dropout must be < 1"),
    (dict(vocab_size=65, learning_rate=0), "learning_rate must be > 0"),
    (dict(vocab_size=65, learning_rate=float("nan")), "learning_rate must be a finite number"),
    (dict(vocab_size=65, optimizer="sgd"), "optimizer must be one of"),
    (dict(vocab_size=65, clipnorm=-1.0), "clipnorm must be"),
    (dict(vocab_size=65, framing="seq2one", embedding_dim=8), "needs framing='seq2seq'"),
])
def test_bad_model_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_model(**kwargs)


def test_nats_and_bits_convert_by_ln_2():
    assert nats_to_bits(math.log(2)) == pytest.approx(1.0)
    assert nats_to_bits(math.log(65)) == pytest.approx(math.log2(65))
    assert bits_to_nats(1.3) == pytest.approx(1.3 * math.log(2))


def test_call_model_calls_built_and_loaded_models_alike_and_quietly():
    import warnings

    from textgen_helpers.bundle import shipped_bundle
    from textgen_helpers.model import call_model

    shipped = shipped_bundle().model  # saved by Keras 3.7: its input is recorded as a list of one
    fresh = build_model(65, "4", compile=False)
    ids = np.zeros((1, 3), dtype="int32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras's "structure of `inputs`" warning would fail here
        for model in (shipped, fresh):
            assert call_model(model, ids).shape == (1, 3, 65)


def test_under_mixed_precision_the_lstms_compute_in_float16_and_the_loss_in_float32():
    """Notebook 6's GPU branch, checked on a CPU: float16 arithmetic, float32 weights, output and loss."""
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_model(20, "8,8", dropout=0.1)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    assert [(layer.compute_dtype, layer.variable_dtype) for layer in lstms] == [("float16", "float32")] * 2
    assert model.get_layer("next_char").compute_dtype == "float32" and model.outputs[0].dtype == "float32"
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)  # small float16 gradients survive
    x = np.random.default_rng(0).integers(0, 20, (8, 10)).astype("int32")
    y = np.roll(x, -1, axis=1)
    assert keras.backend.standardize_dtype(model.compute_loss(x, y, model(x)).dtype) == "float32"
    loss = model.fit(x, y, epochs=2, verbose=0).history["loss"]
    assert np.all(np.isfinite(loss)) and loss[1] < loss[0]
