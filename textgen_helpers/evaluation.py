"""The loss: mean cross-entropy in nats per character, measured with dropout off.

:func:`evaluate_loss` is the one rule :func:`~textgen_helpers.training.train` scores its model by
after every epoch, on the validation tail and on as much training text, so that the two numbers
differ only in the text they read. It reads a text in one of two ways: in windows that each start
from a zero LSTM state, as the model was trained, or carrying the state from character to
character, as generation reads it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np

from .checks import check_scalar
from .generation import stateful_loss
from .model import call_model, model_framing, model_vocab_size
from .runtime import import_tensorflow
from .windows import check_batch_size, validation_windows

tf, keras = import_tensorflow()


def evaluate_loss(model: keras.Model, ids: np.ndarray, sample_len: int, *, max_windows: int | None = None,
                  batch_size: int = 256, stateful: bool = False, streams: int = 32) -> float:
    """Mean cross-entropy (nats per character) of ``model`` on a text ``ids [n]``, dropout off.

    Two ways to read the text:

    * ``stateful=False`` (as the model was trained): windows of ``sample_len``, each starting
      from a zero LSTM state (see :func:`~textgen_helpers.windows.validation_windows`). For
      seq2seq every target character is counted once, with at least ``sample_len // 2``
      characters of context; ``max_windows`` subsamples a sequence-to-one model's windows.
    * ``stateful=True`` (as generation reads it): the state is carried from character to
      character. The text is cut into ``streams`` contiguous pieces read side by side (one
      batch); each piece after the first is first run over the ``sample_len`` characters
      before it, uncounted, so every target from position ``sample_len`` on is counted once.
      ``streams=1`` reads the whole text as one sequence.
    """
    sample_len = check_scalar(sample_len, "sample_len", int, min_value=1)
    batch_size = check_batch_size(batch_size)
    ids = np.asarray(ids, dtype=np.int32)
    if stateful:
        streams = check_scalar(streams, "streams", int, min_value=1)
        return stateful_loss(model, ids, warmup=sample_len, streams=streams)
    framing = model_framing(model)
    if framing == "seq2seq":
        max_windows = None  # every character once is cheap here; the cap is for seq2one
    x, y, w = validation_windows(ids, sample_len, framing=framing, max_windows=max_windows)
    loss_fn = _loss_function(model)
    total = weight = 0.0
    for start in range(0, len(x), batch_size):
        sl = slice(start, start + batch_size)
        xb, yb, wb = _pad_batch(x[sl], y[sl], w[sl], batch_size)
        s, n = loss_fn(xb, yb, wb)
        total += float(s)
        weight += float(n)
    return total / weight


# --- helpers -------------------------------------------------------------------------------------

_LOSS_FUNCTIONS: weakref.WeakKeyDictionary[keras.Model, Callable] = weakref.WeakKeyDictionary()


def _loss_function(model: keras.Model):
    """A compiled ``(x, y, w) -> (sum of weighted nats, sum of weights)`` for this model's framing."""
    cached = _LOSS_FUNCTIONS.get(model)
    if cached is not None:
        return cached
    framing = model_framing(model)
    vocab_size = model_vocab_size(model)
    model_ref = weakref.ref(model)  # the cache must not keep the model alive (its key is weak)

    @tf.function(reduce_retracing=True, autograph=False)
    def batch_loss(x, y, w):
        model = model_ref()
        if framing == "seq2one":
            probs = call_model(model, tf.one_hot(x, vocab_size))
            nats = -tf.math.log(tf.clip_by_value(tf.gather(probs, y, batch_dims=1), 1e-7, 1.0))
        else:
            logits = call_model(model, x)
            nats = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
        return tf.reduce_sum(nats * w), tf.reduce_sum(w)

    _LOSS_FUNCTIONS[model] = batch_loss
    return batch_loss


def _pad_batch(x, y, w, batch_size):
    """Pad the last batch to full size with zero weights, so the compiled loss sees one shape."""
    missing = batch_size - len(x)
    if missing <= 0:
        return x, y, w
    pad = lambda a: np.concatenate([a, np.zeros((missing, *a.shape[1:]), dtype=a.dtype)])  # noqa: E731
    return pad(x), pad(y), pad(w)
