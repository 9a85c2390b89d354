"""Windows: cutting an encoded text into training examples.

Two framings of the same idea, next-character prediction:

* **sequence-to-one** (the book's): a window of ``sample_len`` characters, one-hot encoded
  ``[N, sample_len, V]``, predicts the single character after it, one-hot ``[N, V]``. Windows
  start every ``sample_step`` characters, and each epoch draws a fresh random set of them.
* **sequence-to-sequence** (ours): integer windows ``[N, T]`` whose targets are the same windows
  shifted by one, ``[N, T]``: every position predicts its next character, so one window gives
  ``T`` training targets instead of one. :func:`window_dataset` streams them from the one integer
  array, batch by batch in NumPy, as a ``keras.utils.PyDataset`` that ``fit`` reads on every Keras
  backend; no window is ever stored.

The validation text is a contiguous tail of the corpus (:func:`split_train_validation`), so no
validation window overlaps the training text. (The original example's ``validation_split`` held out
random windows, which share all but one of their characters with training windows.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checks import check_scalar, check_seed
from .runtime import import_keras

FRAMINGS = ("seq2one", "seq2seq")
ONEHOT_LIMIT_BYTES = 2_000_000_000  # refuse one-hot arrays above this unless asked (2 GB)

keras = import_keras()


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes that one-hot windows would take, computed before anything is allocated."""

    n_windows: int
    sample_len: int
    vocab_size: int
    dtype: str
    inputs: int
    targets: int

    @property
    def total(self) -> int:
        return self.inputs + self.targets

    def __str__(self) -> str:
        return (f"{self.n_windows:,} one-hot windows of {self.sample_len} x {self.vocab_size} as {self.dtype}: "
                f"inputs {_gb(self.inputs)} + targets {_gb(self.targets)} = {_gb(self.total)}")


def split_train_validation(ids: np.ndarray, validation_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Split encoded text into a training head and a contiguous validation tail.

    ``[n] -> ([n - k], [k])`` with ``k = round(n * validation_fraction)``.
    """
    validation_fraction = check_fraction(validation_fraction)
    ids = np.asarray(ids)
    n_val = int(round(len(ids) * validation_fraction))
    if n_val < 2 or len(ids) - n_val < 2:
        raise ValueError(
            f"a text of {len(ids):,} characters is too short to hold out {validation_fraction:.0%} "
            f"for validation; use a longer corpus or a larger validation fraction."
        )
    return ids[:-n_val], ids[-n_val:]


def window_starts(n_chars: int, sample_len: int, sample_step: int = 1) -> np.ndarray:
    """Start offsets of every window whose next character exists: ``0, step, 2 step, ... < n - sample_len``."""
    check_window_args(sample_len, sample_step)
    if n_chars <= sample_len:
        raise ValueError(
            f"a text of {n_chars:,} characters is shorter than one window of {sample_len} characters "
            f"plus the character it predicts; use a longer text or a smaller sample_len."
        )
    return np.arange(0, n_chars - sample_len, sample_step, dtype=np.int64)


def count_windows(n_chars: int, sample_len: int, sample_step: int = 1) -> int:
    """How many windows :func:`window_starts` gives, without building them."""
    check_window_args(sample_len, sample_step)
    return max(0, -(-(n_chars - sample_len) // sample_step))


def estimate_onehot_memory(n_windows: int, sample_len: int, vocab_size: int, dtype: str = "bool") -> MemoryEstimate:
    """Bytes of one-hot inputs ``[N, sample_len, V]`` and targets ``[N, V]`` in ``dtype``.

    Tiny Shakespeare at sample_len 60, step 3 (371,778 windows, V = 65) needs 1.45 GB of inputs as
    bool and 5.80 GB as float32.
    """
    itemsize = np.dtype(dtype).itemsize
    return MemoryEstimate(
        n_windows=int(n_windows), sample_len=int(sample_len), vocab_size=int(vocab_size), dtype=np.dtype(dtype).name,
        inputs=int(n_windows) * sample_len * vocab_size * itemsize,
        targets=int(n_windows) * vocab_size * itemsize,
    )


def onehot_windows(
    ids: np.ndarray,
    vocab_size: int,
    sample_len: int,
    sample_step: int = 1,
    *,
    starts: np.ndarray | None = None,
    dtype: str = "bool",
    max_bytes: int | None = ONEHOT_LIMIT_BYTES,
) -> tuple[np.ndarray, np.ndarray]:
    """The book's framing: ``ids [n] -> (x [N, sample_len, V], y [N, V])`` one-hot arrays.

    ``starts`` picks particular windows (default: every ``sample_step``-th). The memory is estimated
    first, and a request above ``max_bytes`` is refused; pass ``max_bytes=None`` to allow anything.
    """
    ids = np.asarray(ids)
    if starts is None:
        starts = window_starts(len(ids), sample_len, sample_step)
    else:
        check_window_args(sample_len, sample_step)
        starts = np.asarray(starts, dtype=np.int64)
        if starts.size and (starts.min() < 0 or starts.max() + sample_len >= len(ids)):
            raise ValueError(f"window starts must lie in [0, {len(ids) - sample_len - 1}] "
                             f"for a text of {len(ids):,} characters")
    estimate = estimate_onehot_memory(len(starts), sample_len, vocab_size, dtype)
    if max_bytes is not None and estimate.total > max_bytes:
        raise MemoryError(
            f"refusing to allocate {estimate} (limit {_gb(max_bytes)}). Use the integer framing instead "
            f"(window_dataset(), {_gb(len(ids) * 4)} for the whole text as int32), draw fewer windows per "
            f"epoch (random_onehot_windows), or pass max_bytes=None if you have the memory."
        )
    positions = starts[:, None] + np.arange(sample_len)
    x = np.zeros((len(starts), sample_len, vocab_size), dtype=dtype)
    np.put_along_axis(x, ids[positions][..., None], 1, axis=2)
    y = np.zeros((len(starts), vocab_size), dtype=dtype)
    y[np.arange(len(starts)), ids[starts + sample_len]] = 1
    return x, y


def random_onehot_windows(
    ids: np.ndarray,
    vocab_size: int,
    sample_len: int,
    sample_step: int,
    n_windows: int,
    rng: np.random.Generator,
    *,
    dtype: str = "bool",
    max_bytes: int | None = ONEHOT_LIMIT_BYTES,
) -> tuple[np.ndarray, np.ndarray]:
    """One epoch of the book's training data: ``n_windows`` windows drawn at random from the grid."""
    grid = window_starts(len(ids), sample_len, sample_step)
    starts = rng.choice(grid, size=n_windows, replace=n_windows > len(grid))
    return onehot_windows(ids, vocab_size, sample_len, sample_step, starts=starts, dtype=dtype, max_bytes=max_bytes)


def window_dataset(
    ids: np.ndarray,
    sample_len: int,
    batch_size: int,
    *,
    framing: str = "seq2seq",
    vocab_size: int | None = None,
    sample_step: int = 1,
    seed: int = 0,
    start_step: int = 0,
) -> WindowStream:
    """An endless stream of random training windows, cut from the one integer array batch by batch.

    A :class:`WindowStream` (a ``keras.utils.PyDataset``) that ``fit`` reads on every backend;
    ``stream[i]`` is batch ``start_step + i``, as NumPy arrays:

    * ``framing="seq2seq"``: ``(x [B, T] int32, y [B, T] int32)``, y is x shifted by one.
    * ``framing="seq2one"``: ``(x [B, T, V] float32 one-hot, y [B, V] float32 one-hot)``, the
      book's framing without ever materialising it; needs ``vocab_size``.

    Windows start on the ``sample_step`` grid; use ``steps_per_epoch`` in ``fit`` to set the epoch.
    Batch ``k`` is a pure function of ``(seed, k)``, the same on every backend: its windows are
    drawn by ``np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k,)))`` (see
    :meth:`WindowStream.batch_starts`). So the stream made with ``start_step=k`` yields exactly what
    the one made with ``start_step=0`` yields from its ``k``-th batch on, and a resumed run sees the
    same data as one never interrupted. No window is stored: the stream holds the ids as int32.
    """
    return WindowStream(ids, sample_len, batch_size, framing=framing, vocab_size=vocab_size,
                        sample_step=sample_step, seed=seed, start_step=start_step)


class WindowStream(keras.utils.PyDataset):
    """Random training windows of one integer text: ``stream[i]`` is batch ``start_step + i`` (:func:`window_dataset`).

    Endless (``num_batches`` is None): ``fit`` needs ``steps_per_epoch`` and reads on from one
    epoch to the next without starting again. ``iter(stream)`` yields batch ``start_step``, then
    the next, for ever.
    """

    def __init__(self, ids: np.ndarray, sample_len: int, batch_size: int, *, framing: str = "seq2seq",
                 vocab_size: int | None = None, sample_step: int = 1, seed: int = 0, start_step: int = 0):
        # One worker, no queue: cutting a batch takes about 50 us, a 128,128 training step about 150 ms
        # (bench/window_stream.py; Keras's thread pool, workers=2, trained no faster). On TensorFlow,
        # train hands fit this stream through tf.data with two batches ahead (distribute.distributed_windows).
        super().__init__(workers=1, use_multiprocessing=False)
        _check_framing(framing)
        self.sample_len, self.sample_step = check_window_args(sample_len, sample_step)
        self.batch_size = check_batch_size(batch_size)
        self.start_step = check_scalar(start_step, "start_step", int, min_value=0)
        self.seed = check_seed(seed)
        self.framing = framing
        self.vocab_size = check_scalar(vocab_size, "vocab_size", int, min_value=1, allow_none=True)
        if framing == "seq2one" and self.vocab_size is None:
            raise ValueError("framing='seq2one' needs vocab_size for its one-hot inputs")
        self.ids = _check_ids(ids, self.vocab_size)
        self.n_starts = len(window_starts(len(self.ids), self.sample_len, self.sample_step))
        self._offsets = np.arange(self.sample_len + 1)
        self._one_hot = None if framing == "seq2seq" else np.eye(self.vocab_size, dtype=np.float32)

    @property
    def num_batches(self) -> None:
        return None  # endless

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        index = check_scalar(index, "index", int, min_value=0,
                             hint="stream[i] is batch start_step + i; make the stream with start_step to go back")
        return self.batch(self.start_step + index)

    def batch(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch ``k`` of the stream, counted from its very start (not from ``start_step``): ``(x, y)``."""
        windows = self.ids[self.batch_starts(k)[:, None] + self._offsets]  # [B, T + 1]
        if self._one_hot is None:
            return np.ascontiguousarray(windows[:, :-1]), np.ascontiguousarray(windows[:, 1:])
        return self._one_hot[windows[:, :-1]], self._one_hot[windows[:, -1]]

    def batch_starts(self, k: int) -> np.ndarray:
        """Where batch ``k``'s windows start in the text, ``[B]`` int64: ``sample_step`` times
        ``batch_size`` draws from ``[0, n_starts)`` of ``default_rng(SeedSequence(seed, spawn_key=(k,)))``."""
        k = check_scalar(k, "k", int, min_value=0)
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(k,)))
        return rng.integers(0, self.n_starts, size=self.batch_size, dtype=np.int64) * self.sample_step

    def __repr__(self) -> str:
        return (f"WindowStream({self.framing}, {self.batch_size} windows of {self.sample_len} a batch, drawn from "
                f"{self.n_starts:,} starts every {self.sample_step}, seed {self.seed}, from batch {self.start_step})")


def validation_windows(
    ids: np.ndarray,
    sample_len: int,
    *,
    framing: str = "seq2seq",
    max_windows: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixed windows over a validation text: ``(x [N, T] int32, y, weights)``.

    Every window predicts characters that have at least ``sample_len // 2`` characters of context:

    * ``seq2seq``: windows of ``sample_len`` overlapping by half; ``y [N, T]`` is x shifted by one
      and ``weights [N, T]`` counts every target character of the text exactly once (the first
      half of every window but the first only warms the LSTM up). The last window is placed flush
      with the end of the text, so no trailing target is left out: the weights sum to ``len(ids) - 1``.
    * ``seq2one``: a window at every character; ``y [N]`` is the character after each window and
      ``weights`` are ones.

    ``max_windows`` bounds the work alike for both framings (``N * sample_len`` characters read): a
    text with more windows than that keeps ``max_windows`` of them, evenly spread from its first
    window to its last and the same at every call (no randomness), each with the weights it has in
    the whole reading, so their loss estimates the whole text's. A text with no more windows is read
    whole, as with None. :func:`scored_characters` counts the targets without building the windows.
    """
    _check_framing(framing)
    ids = np.asarray(ids, dtype=np.int32)
    starts, counted = _kept_windows(len(ids), sample_len, framing, max_windows)
    positions = starts[:, None] + np.arange(sample_len)
    if framing == "seq2one":
        return ids[positions], ids[starts + sample_len], np.ones(len(starts), dtype=np.float32)
    # A target counts in the first window of the whole reading that reaches it: the last `counted` of a window's.
    weights = (np.arange(sample_len) >= sample_len - counted[:, None]).astype(np.float32)
    return ids[positions], ids[positions + 1], weights


def scored_characters(n_chars: int, sample_len: int, *, framing: str = "seq2seq",
                      max_windows: int | None = None) -> int:
    """How many target characters :func:`validation_windows` counts in a text of ``n_chars`` characters.

    ``n_chars - 1`` when a seq2seq reading covers the whole text; one per window for seq2one.
    """
    _check_framing(framing)
    return int(_kept_windows(n_chars, sample_len, framing, max_windows)[1].sum())


def check_window_args(sample_len: int, sample_step: int = 1) -> tuple[int, int]:
    """``(sample_len, sample_step)`` as Python ints, or ValueError unless both are positive integers."""
    return (check_scalar(sample_len, "sample_len", int, min_value=1),
            check_scalar(sample_step, "sample_step", int, min_value=1))


def check_batch_size(batch_size: int) -> int:
    return check_scalar(batch_size, "batch_size", int, min_value=1)


def check_max_windows(max_windows: int | None) -> int | None:
    return check_scalar(max_windows, "max_windows", int, min_value=1, allow_none=True,
                        hint="give a number of windows to score, or None to score the whole text")


def _kept_windows(n_chars: int, sample_len: int, framing: str, max_windows: int | None):
    """``(starts [N] int64, targets each window counts [N])`` of the windows validation_windows keeps."""
    sample_len = check_scalar(sample_len, "sample_len", int, min_value=1)
    max_windows = check_max_windows(max_windows)
    if n_chars <= sample_len:
        raise ValueError(f"a validation text of {n_chars:,} characters is shorter than one window of {sample_len} "
                         f"plus the character it predicts; use a longer text or a smaller sample_len")
    if framing == "seq2one":  # a window at every character
        n_windows, stride, last_start = n_chars - sample_len, 1, n_chars - sample_len - 1
    else:  # overlapping by half, the last flush with the end of the text
        stride, last_start = sample_len - sample_len // 2, n_chars - 1 - sample_len
        n_windows = last_start // stride + 1 + (last_start % stride != 0)
    if max_windows is None or n_windows <= max_windows:
        index = np.arange(n_windows, dtype=np.int64)
    else:  # evenly spread, first and last window included
        index = np.linspace(0, n_windows - 1, max_windows).round().astype(np.int64)
    starts = np.minimum(index * stride, last_start)
    if framing == "seq2one":
        return starts, np.ones(len(starts), dtype=np.int64)
    # Targets no earlier window of the whole reading reached: all of the first window's, then the new ones.
    counted = np.where(index == 0, sample_len, starts - np.minimum((index - 1) * stride, last_start))
    return starts, counted


def _check_framing(framing: str) -> None:
    if framing not in FRAMINGS:
        raise ValueError(f"framing must be one of {FRAMINGS}, got {framing!r}")


def _check_ids(ids, vocab_size: int | None) -> np.ndarray:
    """Encoded text as a 1-D int32 array (no copy if it is one), its ids in ``[0, vocab_size)`` when given."""
    array = np.asarray(ids)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise ValueError(f"ids must be a 1-D array of integer character ids, got {array.dtype} of shape "
                         f"{array.shape}; encode the text first (vocab.encode(text))")
    if array.size and (array.min() < 0 or (vocab_size is not None and array.max() >= vocab_size)):
        bound = f"[0, {vocab_size})" if vocab_size is not None else "[0, ...)"
        raise ValueError(f"ids must lie in {bound}, got ids from {array.min()} to {array.max()}; pass "
                         f"vocab_size=len(vocab) of the vocabulary that encoded them")
    return np.ascontiguousarray(array, dtype=np.int32)


def check_fraction(fraction: float) -> float:
    return check_scalar(fraction, "validation_fraction", float, min_value=0, max_value=1, include_min=False,
                        include_max=False, hint="hold out a fraction such as 0.1 (the last 10% of the text)")


def _gb(n_bytes: int) -> str:
    return f"{n_bytes / 1e9:.2f} GB" if n_bytes >= 1e8 else f"{n_bytes / 1e6:.1f} MB"
