"""Models: stacked LSTMs that predict the next character.

``build_model(65, "128,128", framing="seq2one")`` is the book's model: one-hot windows
``[B, T, V]`` -> LSTM(128, return_sequences=True) -> LSTM(128) -> Dense(V, softmax), trained with
categorical cross-entropy and RMSprop. ``framing="seq2seq"`` (the default) keeps
``return_sequences`` on every LSTM and predicts the next character at every position:
integer windows ``[B, T]`` -> one-hot (in the graph: a frozen identity ``Embedding`` named
``one_hot``, whose row ``i`` is the one-hot vector of character ``i``) or a learned embedding ->
LSTMs -> Dense(V) logits ``[B, T, V]``, trained with sparse cross-entropy from logits.

Every layer is one of Keras's own, so a saved model loads with plain ``keras.models.load_model``
without this package.

Every LSTM keeps Keras's defaults (tanh, sigmoid, no recurrent dropout, not unrolled, with bias),
so on a GPU Keras runs it with the cuDNN kernel (``LSTM(dropout=...)`` on its inputs would not
prevent that; only ``recurrent_dropout`` does). Dropout goes in separate ``Dropout`` layers between
the LSTMs, where it also reaches the last LSTM's output. Each gets an explicit seed, drawn from
Python's ``random`` as Keras draws one for ``seed=None`` (so TensorFlow and JAX run as before):
without one, Keras on PyTorch draws its masks from torch's global generator, which a checkpoint does
not hold, so a resumed run could not continue the masks exactly.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np

from .checks import check_scalar
from .runtime import import_keras
from .windows import FRAMINGS

keras = import_keras()

NATS_PER_BIT = math.log(2)
OPTIMIZERS = ("rmsprop", "adam")
MAX_LAYER_SIZE = 8192


def parse_layer_sizes(spec: str | int | Sequence[int]) -> list[int]:
    """``"128,128"`` -> ``[128, 128]``; also accepts ``"256, 128"``, ``128`` or ``[256, 128]``.

    Raises ValueError naming the bad part for ``""``, ``"128,,x"``, ``"0"``, ``"-5"`` and the like.
    """
    example = "use comma-separated positive integers such as '128' or '128,128'"
    if isinstance(spec, bool):
        raise ValueError(f"LSTM layer sizes must be numbers, got {spec!r}; {example}")
    if isinstance(spec, (int, np.integer)):
        parts: list = [spec]
    elif isinstance(spec, str):
        if not spec.strip():
            raise ValueError(f"LSTM layer sizes are empty; {example}")
        parts = [p.strip() for p in spec.split(",")]
    elif isinstance(spec, Sequence):
        parts = list(spec)
        if not parts:
            raise ValueError(f"LSTM layer sizes are empty; {example}")
    else:
        raise ValueError(f"LSTM layer sizes must be a string or a list of integers, got {spec!r}; {example}")
    sizes = []
    for position, part in enumerate(parts, start=1):
        if isinstance(part, str):
            if part == "":
                raise ValueError(f"LSTM layer sizes {spec!r}: layer {position} is empty; {example}")
            if not part.lstrip("+-").isdigit():
                raise ValueError(f"LSTM layer sizes {spec!r}: layer {position} is {part!r}, not a whole number; "
                                 f"{example}")
            part = int(part)
        if isinstance(part, bool) or not isinstance(part, (int, np.integer)):
            raise ValueError(f"LSTM layer sizes {spec!r}: layer {position} is {part!r}, not a whole number; {example}")
        if part < 1:
            raise ValueError(f"LSTM layer sizes {spec!r}: layer {position} has {part} units; every layer needs at "
                             f"least 1 ({example})")
        if part > MAX_LAYER_SIZE:
            raise ValueError(f"LSTM layer sizes {spec!r}: layer {position} has {part} units, more than "
                             f"{MAX_LAYER_SIZE}; did you mean a comma-separated list? ({example})")
        sizes.append(int(part))
    return sizes


def format_layer_sizes(sizes: Sequence[int]) -> str:
    """``[128, 128]`` -> ``"128,128"`` (the spelling the CLI and bundles use)."""
    return ",".join(str(int(s)) for s in sizes)


def build_model(
    vocab_size: int,
    lstm_layer_sizes: str | Sequence[int] = "128,128",
    *,
    framing: str = "seq2seq",
    embedding_dim: int | None = None,
    dropout: float = 0.0,
    learning_rate: float = 1e-2,
    optimizer: str = "rmsprop",
    clipnorm: float | None = None,
    compile: bool = True,
    strategy=None,
) -> keras.Model:
    """A stacked-LSTM next-character model, compiled and ready to ``fit``.

    Args:
        vocab_size: V, the number of characters.
        lstm_layer_sizes: units per LSTM, bottom first: ``"128,128"``, ``"256,128"``, ``[512]``...
        framing: ``"seq2one"`` (the book's: one-hot ``[B, T, V]`` in, softmax ``[B, V]`` out) or
            ``"seq2seq"`` (ids ``[B, T]`` in, logits ``[B, T, V]`` out).
        embedding_dim: seq2seq only; None feeds one-hot vectors (as the book does), a number
            learns an embedding of that size instead.
        dropout: rate of the Dropout layers after each LSTM (0 = none).
        learning_rate, optimizer, clipnorm: ``rmsprop`` (the book's) or ``adam``, with gradient
            clipping by global norm when ``clipnorm`` is set.
        strategy: a ``tf.distribute.Strategy``: the model is built and compiled under its scope,
            ready for ``train(..., strategy=strategy)``.
    """
    if strategy is not None:
        with strategy.scope():
            return build_model(vocab_size, lstm_layer_sizes, framing=framing, embedding_dim=embedding_dim,
                               dropout=dropout, learning_rate=learning_rate, optimizer=optimizer, clipnorm=clipnorm,
                               compile=compile)
    sizes = parse_layer_sizes(lstm_layer_sizes)
    vocab_size = _check_vocab_size(vocab_size)
    if framing not in FRAMINGS:
        raise ValueError(f"framing must be one of {FRAMINGS}, got {framing!r}")
    dropout = check_scalar(dropout, "dropout", float, min_value=0, max_value=1, include_max=False,
                           hint="use a rate such as 0.1, or 0 for none")
    embedding_dim = check_scalar(embedding_dim, "embedding_dim", int, min_value=1, allow_none=True)
    if embedding_dim is not None and framing == "seq2one":
        raise ValueError(f"embedding_dim must be a positive integer and needs framing='seq2seq', got "
                         f"{embedding_dim!r} with {framing!r}")

    if framing == "seq2one":
        inputs = keras.Input(shape=(None, vocab_size), name="one_hot_window")
        x = inputs
    else:
        inputs = keras.Input(shape=(None,), dtype="int32", name="char_ids")
        if embedding_dim is None:
            x = one_hot_layer(vocab_size)(inputs)
        else:
            x = keras.layers.Embedding(vocab_size, int(embedding_dim), name="embedding")(inputs)
    for i, units in enumerate(sizes, start=1):
        last = i == len(sizes)
        # Every LSTM but the last must hand the next one a whole sequence; the last one does
        # too when every position predicts (seq2seq).
        x = keras.layers.LSTM(units, return_sequences=framing == "seq2seq" or not last, name=f"lstm_{i}")(x)
        if dropout:  # an explicit seed, the draw Keras would make for seed=None: see the module docstring
            x = keras.layers.Dropout(dropout, seed=random.randint(1, int(1e9)), name=f"dropout_{i}")(x)
    # float32 output keeps the softmax stable under a mixed-precision policy on a GPU.
    activation = "softmax" if framing == "seq2one" else None
    outputs = keras.layers.Dense(vocab_size, activation=activation, dtype="float32", name="next_char")(x)
    model = keras.Model(inputs, outputs, name=f"{framing}_{'x'.join(map(str, sizes))}")
    if compile:
        compile_model(model, learning_rate=learning_rate, optimizer=optimizer, clipnorm=clipnorm)
    return model


def compile_model(model: keras.Model, *, learning_rate: float = 1e-2, optimizer: str = "rmsprop",
                  clipnorm: float | None = None) -> keras.Model:
    """Compile with the loss that fits the model's framing; returns the model."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    learning_rate = check_scalar(learning_rate, "learning_rate", float, min_value=0, include_min=False)
    clipnorm = check_scalar(clipnorm, "clipnorm", float, min_value=0, include_min=False, allow_none=True)
    opt_class = keras.optimizers.RMSprop if optimizer == "rmsprop" else keras.optimizers.Adam
    opt = opt_class(learning_rate=learning_rate, clipnorm=clipnorm)
    if model_framing(model) == "seq2one":
        loss = keras.losses.CategoricalCrossentropy()
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=opt, loss=loss)
    # The rate it starts from, for model_settings: a callback may lower the optimizer's own later.
    model.textgen_learning_rate, model.textgen_optimizer_id = learning_rate, id(model.optimizer)
    return model


def model_framing(model: keras.Model) -> str:
    """``"seq2one"`` if the model predicts one character per window, ``"seq2seq"`` if one per position."""
    rank = len(model.outputs[0].shape)
    return "seq2one" if rank == 2 else "seq2seq"


def call_model(model: keras.Model, x, *, training: bool = False):
    """``model(x)`` for a one-input model, in the input structure Keras recorded for it.

    A model built here records its input as one tensor; one loaded from a ``.keras`` file written by
    an older Keras (such as the shipped bundle, saved by Keras 3.7) records a list of one, and newer
    Keras warns when such a model is called with a bare tensor.
    """
    if isinstance(getattr(model, "_inputs_struct", None), (list, tuple)) and len(model.inputs) == 1:
        x = [x]
    return model(x, training=training)


def model_vocab_size(model: keras.Model) -> int:
    """V as the model sees it: the width of its output layer."""
    return int(model.outputs[0].shape[-1])


def set_sample_len(model: keras.Model, sample_len: int) -> keras.Model:
    """Record on ``model`` the window length it was trained on; returns the model.

    Generation primes on the last ``sample_len`` characters of a seed (as the book's generator
    does, and :meth:`Bundle.generate <textgen_helpers.bundle.Bundle.generate>` with its config's
    ``sample_len``): :func:`~textgen_helpers.generation.generate` reads it back with
    :func:`model_sample_len`, so ``generate(bundle.model, bundle.vocab, seed)`` primes as
    ``bundle.generate(seed)`` does. It lives on the Python object only (a saved ``.keras`` file
    does not keep it; a bundle's ``config.json`` does).
    """
    model.textgen_sample_len = check_scalar(sample_len, "sample_len", int, min_value=1,
                                            hint="give the window length the model was trained on, such as 60")
    return model


def model_sample_len(model: keras.Model) -> int | None:
    """The window length recorded by :func:`set_sample_len`, or None if none was."""
    return getattr(model, "textgen_sample_len", None)


def one_hot_layer(vocab_size: int, name: str = "one_hot") -> keras.layers.Embedding:
    """Ids ``[B, T]`` -> one-hot ``[B, T, V]``: an ``Embedding`` whose table is the V x V identity, frozen.

    Looking up row ``i`` of the identity is the one-hot vector of ``i``. A built-in layer (unlike a
    custom one) lets ``keras.models.load_model`` read a saved model without this package; its V x V
    table shows up as non-trainable parameters, which :func:`parameter_count` leaves out.
    """
    return keras.layers.Embedding(vocab_size, vocab_size, embeddings_initializer="identity", trainable=False, name=name)


def is_one_hot_layer(layer: keras.layers.Layer) -> bool:
    """True for the layer that one-hot encodes integer ids inside a seq2seq model (a frozen identity Embedding)."""
    return (isinstance(layer, keras.layers.Embedding) and not layer.trainable and layer.input_dim == layer.output_dim
            and np.array_equal(keras.ops.convert_to_numpy(layer.embeddings), np.eye(layer.input_dim)))


def one_hot_size(layer: keras.layers.Layer) -> int:
    return int(layer.input_dim)


def lstm_layers(model: keras.Model) -> list[keras.layers.LSTM]:
    """The model's LSTM layers, bottom first."""
    return [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]


def lstm_layer_sizes(model: keras.Model) -> list[int]:
    return [layer.units for layer in lstm_layers(model)]


def parameter_count(model: keras.Model) -> int:
    """The model's learnt parameters: the weights training updates (``"128,128"`` on 65 characters: 239,297).

    This is the number to quote, and the one the book's formula gives (:func:`lstm_param_count` per
    LSTM, plus the Dense layer's ``units * V + V``). ``model.count_params()`` says more for a seq2seq
    model (243,522 there) because it also counts the frozen one-hot table: the ``one_hot`` layer
    (:func:`one_hot_layer`) is an ``Embedding`` whose V x V table is the identity and is never
    trained, so its V * V numbers are a lookup that turns an id into its one-hot vector, not learnt
    parameters. A learnt embedding (``embedding_dim``) is trainable and is counted.
    """
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def lstm_param_count(input_dim: int, units: int) -> int:
    """Parameters of one LSTM layer: ``4 * units * (input_dim + units + 1)``.

    Four blocks of the same shape: the input, forget and output gates and the candidate cell value,
    each a ``units x input_dim`` kernel, a ``units x units`` recurrent kernel and ``units`` biases.
    """
    return 4 * units * (input_dim + units + 1)


def is_tanh(function) -> bool:
    """The functions Keras's cuDNN check accepts as tanh (``keras/src/backend/tensorflow/rnn.py``)."""
    return function in (keras.activations.tanh, keras.ops.tanh) or getattr(function, "__name__", "") == "tanh"


def is_sigmoid(function) -> bool:
    return function in (keras.activations.sigmoid, keras.ops.sigmoid) or getattr(function, "__name__", "") == "sigmoid"


def cudnn_blockers(layer: keras.layers.LSTM) -> list[str]:
    """Why Keras could not run ``layer`` with the cuDNN kernel on a GPU (empty: it can)."""
    reasons = []
    if not is_tanh(layer.activation):
        reasons.append(f"activation is {layer.activation.__name__}, cuDNN needs tanh")
    if not is_sigmoid(layer.recurrent_activation):
        reasons.append(f"recurrent_activation is {layer.recurrent_activation.__name__}, cuDNN needs sigmoid")
    if layer.cell.recurrent_dropout:
        reasons.append("recurrent_dropout > 0")
    if layer.unroll:
        reasons.append("unroll=True")
    if not layer.use_bias:
        reasons.append("use_bias=False")
    if getattr(layer, "use_cudnn", "auto") is False:
        reasons.append("use_cudnn=False")
    return reasons


def nats_to_bits(nats):
    """Cross-entropy in nats per character -> bits per character (divide by ln 2)."""
    return nats / NATS_PER_BIT


def bits_to_nats(bits):
    return bits * NATS_PER_BIT


def _check_vocab_size(vocab_size: int) -> int:
    return check_scalar(vocab_size, "vocab_size", int, min_value=2)


def model_settings(model: keras.Model) -> dict:
    """What a model is, as plain values: framing, LSTM sizes, embedding, dropout, dtype policy, and
    its optimizer (``optimizer``, ``learning_rate``, and the rest of its settings under
    ``optimizer_config``). Two models built with the same ``build_model`` arguments give the same dict.

    ``learning_rate`` is the one the model was compiled with by :func:`compile_model` (or
    ``build_model``), which a callback such as ``ReduceLROnPlateau`` does not change: the model that
    wrote a checkpoint still resumes it after the callback lowered its rate, and the checkpoint
    restores that lowered rate. For a model compiled otherwise, the optimizer's current rate.
    """
    settings = {
        "framing": model_framing(model),
        "lstm_layer_sizes": format_layer_sizes(lstm_layer_sizes(model)),
        "embedding_dim": model_embedding_dim(model),
        "dropout": model_dropout(model),
        "dtype_policy": model.dtype_policy.name,
    }
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        config = optimizer.get_config()
        rate = config.pop("learning_rate", None)
        if getattr(model, "textgen_optimizer_id", None) == id(optimizer):  # compiled by compile_model
            rate = model.textgen_learning_rate
        settings["optimizer"] = type(optimizer).__name__.lower()
        # A float32 variable: its 7 significant digits, so 1e-2 reads back as 0.01, not 0.009999999776.
        number = isinstance(rate, (int, float, np.floating))
        settings["learning_rate"] = float(f"{float(rate):.7g}") if number else rate
        settings["optimizer_config"] = {
            key: value for key, value in config.items()
            if key != "name" and (value is None or isinstance(value, (bool, int, float, str)))}
    return settings


def model_embedding_dim(model: keras.Model) -> int | None:
    """The size of a learnt embedding, or None for one-hot inputs."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Embedding) and not is_one_hot_layer(layer):
            return int(layer.output_dim)
    return None


def model_dropout(model: keras.Model) -> float:
    """The rate of the model's Dropout layers (0 if it has none)."""
    rates = [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    return float(rates[0]) if rates else 0.0
