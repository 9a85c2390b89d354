"""The loss: mean cross-entropy in nats per character, measured with dropout off.

:func:`evaluate_loss` is the one rule :func:`~textgen_helpers.training.train` scores its model by
after every epoch, on the validation tail and on as much training text, so that the two numbers
differ only in the text they read. It reads a text in one of two ways: in windows that each start
from a zero LSTM state, as the model was trained, or carrying the state from character to
character, as generation reads it. ``max_windows`` bounds the work of both readings, so that
scoring a long text costs no more than scoring a short one: past that many windows, a fixed,
evenly spread sample of the text is scored (:func:`describe_scoring` says how much).

Both run on any Keras backend: the windows through the model itself (Keras's own layers) in a
function compiled by :func:`~textgen_helpers.step.compile_function`, the stateful reading through
:func:`~textgen_helpers.step.lstm_step`; both score with :func:`~textgen_helpers.step.cross_entropy`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np

from .checks import check_scalar
from .generation import stateful_loss
from .model import call_model, model_framing, model_vocab_size
from .runtime import import_keras
from .step import compile_function, cross_entropy, variable_values
from .windows import FRAMINGS, check_batch_size, check_max_windows, scored_characters, validation_windows

keras = import_keras()
ops = keras.ops

STATEFUL_STRETCHES = 8  # evenly spread stretches the stateful reading scores when a text is too long to read whole


def evaluate_loss(model: keras.Model, ids: np.ndarray, sample_len: int, *, max_windows: int | None = None,
                  batch_size: int = 256, stateful: bool = False, streams: int = 32,
                  framing: str | None = None) -> float:
    """Mean cross-entropy (nats per character) of ``model`` on a text ``ids [n]``, dropout off.

    Two ways to read the text:

    * ``stateful=False`` (as the model was trained): windows of ``sample_len``, each starting
      from a zero LSTM state (see :func:`~textgen_helpers.windows.validation_windows`). For
      seq2seq every target character is counted once, with at least ``sample_len // 2``
      characters of context; seq2one counts the character after each window.
    * ``stateful=True`` (as generation reads it): the state is carried from character to
      character. The text is cut into ``streams`` contiguous pieces read side by side (one
      batch); each piece after the first is first run over the ``sample_len`` characters
      before it, uncounted, so every target is counted once. ``streams=1`` reads the whole
      text as one sequence.

    ``framing`` (None: the model's own) reads a seq2seq model as ``"seq2one"``: only the character
    after each window counts, each read after a full ``sample_len`` of context. That is how the
    book's sequence-to-one model is scored, so the two framings can be compared on one measure.

    ``max_windows`` (None: no limit) bounds the work: a text with more windows than that has
    ``max_windows`` of them scored, evenly spread, the same at every call. The stateful reading
    follows the same rule: it reads the whole text when a seq2seq reading would, and otherwise
    as many characters as the seq2seq windows count, in ``STATEFUL_STRETCHES`` evenly spread
    stretches, each read as above after the ``sample_len`` characters before it.
    """
    sample_len = check_scalar(sample_len, "sample_len", int, min_value=1)
    batch_size = check_batch_size(batch_size)
    max_windows = check_max_windows(max_windows)
    ids = np.asarray(ids, dtype=np.int32)
    if stateful:
        if framing not in (None, model_framing(model)):
            raise ValueError("the stateful reading counts every character; leave framing=None with stateful=True")
        streams = check_scalar(streams, "streams", int, min_value=1)
        return _stateful_sample_loss(model, ids, sample_len, max_windows, streams)
    x, y, w = _windows(model, ids, sample_len, framing, max_windows)
    loss_fn = _loss_function(model)
    values = variable_values(model.weights)  # the weights as they are now
    sums = []
    for start in range(0, len(x), batch_size):
        sl = slice(start, start + batch_size)
        sums.append(loss_fn(values, *_pad_batch(x[sl], y[sl], w[sl], batch_size)))  # read back once, at the end
    total, weight = (sum(float(ops.convert_to_numpy(v)) for v in column) for column in zip(*sums, strict=True))
    return total / weight


def stateful_stretches(n_chars: int, sample_len: int, max_windows: int | None = None) -> list[tuple[int, int]]:
    """The ``(start, stop)`` slices of a text of ``n_chars`` that ``evaluate_loss(..., stateful=True)`` scores.

    ``[(0, n_chars)]`` when a seq2seq window reading would score the whole text; otherwise
    ``STATEFUL_STRETCHES`` equal stretches, evenly spread from the start of the text to its end,
    which hold as many targets (``stop - start - 1`` each) as the seq2seq windows count.
    """
    budget = scored_characters(n_chars, sample_len, framing="seq2seq", max_windows=max_windows)
    if budget >= n_chars - 1:
        return [(0, n_chars)]
    targets = budget // STATEFUL_STRETCHES
    starts = np.linspace(0, n_chars - 1 - targets, STATEFUL_STRETCHES).round().astype(np.int64)
    return [(int(start), int(start) + targets + 1) for start in starts]


def describe_scoring(n_chars: int, sample_len: int, *, framing: str = "seq2seq",
                     max_windows: int | None = None) -> str:
    """How many characters of a text of ``n_chars`` :func:`evaluate_loss` scores, in words: the line
    :func:`~textgen_helpers.training.train` prints before its first epoch."""
    windowed = scored_characters(n_chars, sample_len, framing=framing, max_windows=max_windows)
    stateful = sum(stop - start - 1 for start, stop in stateful_stretches(n_chars, sample_len, max_windows))
    if windowed == n_chars - 1:
        line = f"scoring all {windowed:,} validation characters"
    else:
        line = (f"scoring {windowed:,} of {n_chars:,} validation characters ({max_windows:,} windows of {sample_len}, "
                f"evenly spread, the same every epoch")
        line += ")" if stateful == windowed else f"; val_loss_stateful reads {stateful:,})"
    return line + " and as many training characters after every epoch"


# --- helpers -------------------------------------------------------------------------------------

_LOSS_FUNCTIONS: weakref.WeakKeyDictionary[keras.Model, Callable] = weakref.WeakKeyDictionary()


def _loss_function(model: keras.Model):
    """A compiled ``(weight values, x, y, w) -> (sum of weighted nats, sum of weights)`` for this model's framing.

    The weights are an argument (``variable_values(model.weights)``), not read from the model inside:
    ``jax.jit`` would keep the values it first saw, and a model in training would not be followed.
    """
    cached = _LOSS_FUNCTIONS.get(model)
    if cached is not None:
        return cached
    framing = model_framing(model)
    vocab_size = model_vocab_size(model)
    model_ref = weakref.ref(model)  # the cache must not keep the model alive (its key is weak)

    def batch_loss(values, x, y, w):
        model = model_ref()
        with keras.StatelessScope(state_mapping=list(zip(model.weights, values, strict=True))):
            if framing == "seq2one":
                nats = cross_entropy(call_model(model, ops.one_hot(x, vocab_size)), y, from_logits=False)
            else:
                nats = cross_entropy(call_model(model, x), y)
        return ops.sum(nats * w), ops.sum(w)

    # Without XLA on TensorFlow, as before: Keras's LSTM in graph mode (XLA made LSTM training slower on CPUs).
    _LOSS_FUNCTIONS[model] = compiled = compile_function(batch_loss, jit_compile=False)
    return compiled


def _stateful_sample_loss(model, ids: np.ndarray, sample_len: int, max_windows: int | None, streams: int) -> float:
    """The stateful reading of :func:`stateful_stretches`, each stretch read after its ``sample_len``
    characters of context: the mean of its targets' nats."""
    stretches = stateful_stretches(len(ids), sample_len, max_windows)
    if len(stretches) == 1:
        return stateful_loss(model, ids, warmup=sample_len, streams=streams)
    total = count = 0.0
    for start, stop in stretches:
        first = max(start - sample_len, 0)
        # stateful_loss counts a text from its first character on; what the context alone adds,
        # read from the same zero state, is taken away again, leaving the stretch read after its context.
        total += stateful_loss(model, ids[first:stop], warmup=sample_len, streams=streams) * (stop - first - 1)
        if start > first:
            total -= stateful_loss(model, ids[first:start + 1], warmup=sample_len, streams=1) * (start - first)
        count += stop - start - 1
    return total / count


def _windows(model: keras.Model, ids: np.ndarray, sample_len: int, framing: str | None, max_windows: int | None):
    """The windows :func:`evaluate_loss` reads, in the model's own form: a seq2seq model read as
    seq2one gets its seq2one windows with every target but the last weighted zero."""
    own = model_framing(model)
    framing = own if framing is None else framing
    if framing not in FRAMINGS:
        raise ValueError(f"framing must be one of {FRAMINGS} or None (the model's own), got {framing!r}")
    if framing == own:
        return validation_windows(ids, sample_len, framing=own, max_windows=max_windows)
    if own == "seq2one":
        raise ValueError("a sequence-to-one model predicts one character per window and cannot be read as seq2seq; "
                         "leave framing=None")
    x, last, _ = validation_windows(ids, sample_len, framing="seq2one", max_windows=max_windows)
    y = np.concatenate([x[:, 1:], last[:, None]], axis=1)
    w = np.zeros(x.shape, dtype=np.float32)
    w[:, -1] = 1
    return x, y, w


def _pad_batch(x, y, w, batch_size):
    """Pad the last batch to full size with zero weights, so the compiled loss sees one shape."""
    missing = batch_size - len(x)
    if missing <= 0:
        return x, y, w
    pad = lambda a: np.concatenate([a, np.zeros((missing, *a.shape[1:]), dtype=a.dtype)])  # noqa: E731
    return pad(x), pad(y), pad(w)
