"""One step of a stacked LSTM, written once in ``keras.ops``, and one way to compile it on any backend.

For one character, a model made by :func:`~textgen_helpers.model.build_model` computes, layer by
layer (Keras's equations, its gate order i, f, c, o in every kernel)::

    z = x @ kernel + h @ recurrent_kernel + bias            [B, 4 units]: i, f, g (the candidate c), o
    c = sigmoid(f) * c + sigmoid(i) * tanh(g)               the cell state
    h = sigmoid(o) * tanh(c)                                the output, the next layer's x
    logits = h @ dense_kernel + dense_bias                  [B, V], from the top layer's h

where the first layer's ``x`` is the character's one-hot vector (or its embedding row), so that
``x @ kernel + bias`` is a row of a ``[V, 4 units]`` table. :func:`lstm_step` is that step, on a
batch of characters ``[B]`` and a state of ``(h, c)`` per layer; :func:`cross_entropy` is the loss
in nats; :func:`compile_function` compiles a function of them for the backend Keras runs on
(``tf.function`` on TensorFlow, with XLA where available; ``jax.jit`` on JAX; on PyTorch plain
eager without autograd). The fast generator, the stateful loss, :func:`~textgen_helpers.evaluation.evaluate_loss`
and :func:`~textgen_helpers.activations.lstm_trace` all run these, so the LSTM is written here only.

Compiled functions take the weights as an argument (:func:`weight_values`, read again at every
call) rather than closing over the model's variables: ``jax.jit`` would freeze closed-over values
at the first call, and a model that is still training would not be followed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .model import is_one_hot_layer, is_sigmoid, is_tanh
from .runtime import import_keras

keras = import_keras()
ops = keras.ops


class StepWeights(NamedTuple):
    """The weights :func:`lstm_step` reads, arranged for one character at a time (see :func:`step_weights`)."""

    table: Any  # [V, 4 u1]: the first LSTM's input projection of each character, plus its bias
    recurrent: Any  # [u1, 4 u1]: the first LSTM's recurrent kernel
    upper: tuple  # per further LSTM: (kernel over recurrent kernel [u_below + u, 4 u], bias [4 u])
    dense_kernel: Any  # [u_top, V]
    dense_bias: Any  # [V]


def stack_layers(model: keras.Model):
    """``(input layer, [LSTM layers], Dense layer)`` of a model made by build_model, or a ValueError
    that says which layer is not one of those (the input layer is None for the book's one-hot windows)."""
    input_layer, lstms, dense = None, [], None
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer) or isinstance(layer, keras.layers.Dropout):
            continue
        if (is_one_hot_layer(layer) or isinstance(layer, keras.layers.Embedding)) and input_layer is None and not lstms:
            input_layer = layer
        elif isinstance(layer, keras.layers.LSTM) and dense is None:
            if not is_tanh(layer.activation) or not is_sigmoid(layer.recurrent_activation):
                raise ValueError(f"FastGenerator needs tanh/sigmoid LSTMs; layer {layer.name} differs. "
                                 "Use generate_reference().")
            lstms.append(layer)
        elif isinstance(layer, keras.layers.Dense) and dense is None and lstms:
            dense = layer
        else:
            raise ValueError(
                f"FastGenerator understands models made by build_model (one-hot or embedding, LSTMs, "
                f"dropout, one Dense layer); layer {layer.name!r} ({type(layer).__name__}) is not one of "
                f"those. Use generate_reference() for other models."
            )
    if not lstms or dense is None:
        raise ValueError("FastGenerator needs at least one LSTM followed by a Dense layer; "
                         "use generate_reference() for other models.")
    return input_layer, lstms, dense


def weight_values(layers) -> tuple:
    """The live weights of ``stack_layers(model)`` as backend tensors, to pass to a compiled function:
    ``(embeddings [V, E] or None for one-hot inputs, ((kernel, recurrent_kernel, bias), ...) bottom first,
    (dense kernel, dense bias))``. Read them again at every call to follow a model that is training."""
    input_layer, lstms, dense = layers
    value = _backend_value
    learned = input_layer is not None and not is_one_hot_layer(input_layer)
    embeddings = value(input_layer.embeddings) if learned else None
    cells = tuple((value(layer.cell.kernel), value(layer.cell.recurrent_kernel),
                   value(layer.cell.bias) if layer.cell.use_bias else ops.zeros([4 * layer.units]))
                  for layer in lstms)
    return embeddings, cells, (value(dense.kernel), value(dense.bias) if dense.use_bias else ops.zeros([dense.units]))


def variable_values(variables) -> list:
    """Keras variables as the backend's own values, to pass to a compiled function (see the module's docstring)."""
    return [_backend_value(variable) for variable in variables]


def step_weights(values: tuple) -> StepWeights:
    """:func:`weight_values` arranged for :func:`lstm_step` (call it inside the compiled function)."""
    embeddings, cells, (dense_kernel, dense_bias) = values
    kernel, recurrent, bias = cells[0]
    if embeddings is not None:
        kernel = ops.matmul(embeddings, kernel)  # a learned embedding, then the kernel
    upper = tuple((ops.concatenate([k, r], axis=0), b) for k, r, b in cells[1:])
    return StepWeights(kernel + bias, recurrent, upper, dense_kernel, dense_bias)  # one-hot @ W + b is a row of W + b


def zero_state(layer_sizes, batch: int) -> tuple:
    """The LSTMs' state before the first character: ``((h, c), ...)``, zeros ``[batch, units]`` per layer."""
    return tuple((ops.zeros([batch, units]), ops.zeros([batch, units])) for units in layer_sizes)


def lstm_step(weights: StepWeights, tokens, state: tuple, *, gates: bool = False):
    """One character through every LSTM and the Dense layer.

    ``tokens [B]`` int, ``state ((h, c) per layer, each [B, units])`` -> ``(logits [B, V], new state)``;
    with ``gates=True`` also ``((i, f, g, o) per layer)``, each gate after its activation.
    """
    new_state, all_gates, x = [], [], None
    for k, (h, c) in enumerate(state):
        if k == 0:
            z = ops.take(weights.table, tokens, axis=0) + ops.matmul(h, weights.recurrent)
        else:
            stacked, bias = weights.upper[k - 1]
            z = ops.matmul(ops.concatenate([x, h], axis=1), stacked) + bias
        i, f, g, o = ops.split(z, 4, axis=1)  # Keras's gate order
        i, f, g, o = ops.sigmoid(i), ops.sigmoid(f), ops.tanh(g), ops.sigmoid(o)
        c = f * c + i * g
        h = o * ops.tanh(c)
        new_state.append((h, c))
        all_gates.append((i, f, g, o))
        x = h
    logits = ops.matmul(x, weights.dense_kernel) + weights.dense_bias
    return (logits, tuple(new_state), tuple(all_gates)) if gates else (logits, tuple(new_state))


def cross_entropy(outputs, targets, *, from_logits: bool = True):
    """Nats per position: ``outputs [..., V]`` (logits, or probabilities with ``from_logits=False``),
    ``targets [...]`` int -> ``[...]``; Keras's own sparse cross-entropy, the loss the models train on."""
    return ops.sparse_categorical_crossentropy(ops.cast(targets, "int32"), outputs, from_logits=from_logits)


def compile_function(function: Callable, *, jit_compile: bool | None = None) -> Callable:
    """``function`` (of backend tensors, written in keras.ops) compiled for the backend Keras runs on.

    TensorFlow: ``tf.function``, compiled by XLA when ``jit_compile`` says so (None: where XLA is
    available, see :func:`xla_compiles`), traced once for each new set of argument shapes. JAX:
    ``jax.jit`` (always XLA; ``jit_compile`` is not read). PyTorch: run eagerly under
    ``torch.no_grad()``. Call it with arrays and tensors: on TensorFlow a Python number is part of
    the compiled graph, and a new one compiles it again.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from .runtime import import_tensorflow

        tf, _ = import_tensorflow()
        return _by_shape(tf.function(function, jit_compile=xla_compiles(jit_compile), autograph=False), tf)
    if backend == "jax":
        import jax

        return jax.jit(function)
    import torch

    # Plain eager, without autograd's bookkeeping: simple and safe. torch.compile may well be faster
    # (on a GPU especially), but it has not been tried here, and it compiles slowly and for every new
    # shape; eager generation is the slowest of the three backends on a CPU (docs/benchmarks.md).
    @functools.wraps(function)
    def eager(*args, **kwargs):
        args, kwargs = keras.tree.map_structure(_as_tensor, (args, kwargs))  # NumPy in, as the other two accept
        with torch.no_grad():
            return function(*args, **kwargs)

    return eager


def xla_compiles(jit_compile: bool | None = None) -> bool:
    """Whether :func:`compile_function` compiles with XLA: on TensorFlow ``jit_compile`` (None: where
    XLA is available); always on JAX; never on PyTorch."""
    backend = keras.backend.backend()
    if backend == "jax":
        return True
    if backend != "tensorflow":
        return False
    return _xla_available() if jit_compile is None else bool(jit_compile)


def _by_shape(function, tf):
    """Call the ``tf.function`` ``function`` through its concrete function for the arguments' shapes and dtypes
    (traced on first use of each): that skips tf.function's own argument matching, ~0.3 ms a call, a tenth
    of the time of a 64-character chunk of the shipped bundle."""
    concrete = {}

    def call(*args, **kwargs):
        key = tuple((tuple(x.shape), x.dtype) if hasattr(x, "shape") else x for x in tf.nest.flatten((args, kwargs)))
        if key not in concrete:
            concrete[key] = function.get_concrete_function(*args, **kwargs)
        return concrete[key](*args, **kwargs)

    return call


def _as_tensor(value):
    return ops.convert_to_tensor(value) if isinstance(value, np.ndarray) else value


def _backend_value(variable):
    """A variable's backend value: a ``tf.Variable`` on TensorFlow (read when the compiled function runs;
    Keras's own Variable passed into a ``tf.function`` costs ~1 ms a call), an array on JAX, a tensor on PyTorch."""
    return variable.value


@functools.cache  # one probe a process: a new tf.function each time makes TensorFlow warn of retracing
def _xla_available() -> bool:
    """XLA compiles the generation loop ~5x faster on CPUs; fall back to plain graph mode where it is missing."""
    from .runtime import import_tensorflow

    tf, _ = import_tensorflow()
    try:
        tf.function(lambda x: x + 1, jit_compile=True)(tf.constant(1))
        return True
    except Exception:  # noqa: BLE001 - any failure means: do not use XLA here
        return False
