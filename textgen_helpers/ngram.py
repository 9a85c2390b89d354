"""N-gram baselines: count which character follows each context of ``order - 1`` characters.

Before training an LSTM it is worth knowing what counting alone achieves on the same validation
text. :class:`NgramModel` estimates ``P(next | previous order - 1 characters)`` with interpolated
absolute discounting: every seen continuation gives up ``discount`` of its count, and that mass
goes to the next-shorter context's estimate, down to add-one unigram counts, so no character
ever gets probability zero.

>>> model = NgramModel(order=3, vocab_size=len(vocab)).fit(train_ids)    # doctest: +SKIP
>>> model.cross_entropy(val_ids)                                           # doctest: +SKIP
2.31  # nats per character
"""

from __future__ import annotations

import numpy as np

MAX_ORDER = 8


class NgramModel:
    """A character n-gram model over ids ``0 .. vocab_size - 1``."""

    def __init__(self, order: int, vocab_size: int, discount: float = 0.75):
        if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not 1 <= order <= MAX_ORDER:
            raise ValueError(f"order must be an integer from 1 to {MAX_ORDER}, got {order!r}")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)) or vocab_size < 2:
            raise ValueError(f"vocab_size must be an integer >= 2, got {vocab_size!r}")
        if not 0 < discount < 1:
            raise ValueError(f"discount must be between 0 and 1, got {discount!r}")
        if vocab_size ** order >= 2**62:
            raise ValueError(f"order {order} over {vocab_size} characters is too large to count")
        self.order, self.vocab_size, self.discount = int(order), int(vocab_size), float(discount)
        self._tables: list[dict] = []
        self._unigram: np.ndarray | None = None

    def fit(self, ids: np.ndarray) -> NgramModel:
        """Count every n-gram of every length up to ``order`` in ``ids [n]``; returns self."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) < self.order:
            raise ValueError(f"need at least {self.order} characters to count {self.order}-grams, got {len(ids)}")
        if ids.min() < 0 or ids.max() >= self.vocab_size:
            raise ValueError(f"ids must lie in [0, {self.vocab_size - 1}]")
        counts = np.bincount(ids, minlength=self.vocab_size).astype(np.float64) + 1.0
        self._unigram = counts / counts.sum()
        self._tables = []
        for n in range(2, self.order + 1):
            histories = _history_keys(ids, n - 1, self.vocab_size)[: len(ids) - n + 1]
            pairs = histories * self.vocab_size + ids[n - 1:]
            pair_keys, pair_counts = np.unique(pairs, return_counts=True)
            hist_of_pair = pair_keys // self.vocab_size
            hist_keys, first, distinct = np.unique(hist_of_pair, return_index=True, return_counts=True)
            totals = np.add.reduceat(pair_counts, first)
            self._tables.append({"pairs": pair_keys, "pair_counts": pair_counts, "hists": hist_keys,
                                 "totals": totals, "distinct": distinct})
        return self

    def log_probs(self, ids: np.ndarray, context: np.ndarray | None = None) -> np.ndarray:
        """Natural-log probability of every character of ``ids`` given the ones before it.

        ``context`` (ids that come just before ``ids``, such as the end of the training text) gives
        the first characters their full history; without it they use shorter ones.
        """
        self._check_fitted()
        ids = np.asarray(ids, dtype=np.int64)
        context = np.zeros(0, dtype=np.int64) if context is None else np.asarray(context, dtype=np.int64)
        context = context[max(len(context) - (self.order - 1), 0):]  # only the last order-1 matter
        full = np.concatenate([context, ids])
        offset = len(context)
        probs = self._unigram[ids]
        for n, table in enumerate(self._tables, start=2):
            positions = np.arange(offset, len(full))
            has_history = positions >= n - 1
            hist = np.zeros(len(ids), dtype=np.int64)
            keys = _history_keys(full, n - 1, self.vocab_size)
            hist[has_history] = keys[positions[has_history] - (n - 1)]
            probs = np.where(has_history, self._interpolate(table, hist, ids, probs), probs)
        return np.log(probs)

    def cross_entropy(self, ids: np.ndarray, context: np.ndarray | None = None) -> float:
        """Mean negative log-likelihood, nats per character."""
        return float(-self.log_probs(ids, context).mean())

    def next_distribution(self, context_ids) -> np.ndarray:
        """``[V]`` probabilities of the character after ``context_ids`` (only its last order-1 count)."""
        self._check_fitted()
        context_ids = np.asarray(context_ids, dtype=np.int64)
        candidates = np.arange(self.vocab_size)
        full = np.concatenate([context_ids, np.zeros(1, dtype=np.int64)])
        probs = self._unigram.copy()
        for n, table in enumerate(self._tables, start=2):
            if len(context_ids) < n - 1:
                break
            key = _history_keys(full, n - 1, self.vocab_size)[len(context_ids) - (n - 1)]
            probs = self._interpolate(table, np.full(self.vocab_size, key), candidates, probs)
        return probs / probs.sum()

    def _interpolate(self, table, hist, ids, lower):
        i = np.searchsorted(table["hists"], hist)
        i = np.minimum(i, len(table["hists"]) - 1)
        seen = table["hists"][i] == hist
        total = np.where(seen, table["totals"][i], 1)
        distinct = np.where(seen, table["distinct"][i], 0)
        pair = hist * self.vocab_size + ids
        j = np.minimum(np.searchsorted(table["pairs"], pair), len(table["pairs"]) - 1)
        count = np.where(table["pairs"][j] == pair, table["pair_counts"][j], 0)
        mixed = np.maximum(count - self.discount, 0) / total + self.discount * distinct / total * lower
        return np.where(seen, mixed, lower)

    def _check_fitted(self):
        if self._unigram is None:
            raise ValueError("this n-gram model is not fitted yet; call fit(train_ids) first")


def _history_keys(ids: np.ndarray, length: int, base: int) -> np.ndarray:
    """Integer key of every run of ``length`` characters: ``keys[i]`` encodes ``ids[i : i + length]``."""
    n = len(ids) - length + 1
    keys = np.zeros(max(n, 0), dtype=np.int64)
    for k in range(length):
        keys = keys * base + ids[k:k + n]
    return keys
