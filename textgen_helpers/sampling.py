"""Sampling: turning the model's next-character distribution into one character, at a temperature.

Temperature T rescales the log-probabilities before the draw: ``p_T(c) ∝ p(c) ** (1 / T)``.
T = 1 samples the model's distribution as it is, T < 1 sharpens it towards the most likely
character, T > 1 flattens it towards uniform, and T = 0 is greedy decoding (always the argmax). How uncertain
the draw is at a temperature, in bits: :func:`entropy_bits`.

Beside temperature, two filters cut off the unlikely tail before the draw (:func:`filter_distribution`):
top-k keeps the ``top_k`` likeliest characters, and nucleus (top-p) sampling keeps the smallest set of
likeliest characters whose probability reaches ``top_p``. Temperature is applied first, then top-k,
then top-p; what is kept is renormalised. ``top_k=1`` is greedy at any temperature.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .checks import check_scalar

BOOK_TEMPERATURES = (0.0, 0.25, 0.5, 0.75)  # the temperatures of the book's Table 10.1
_HINT = "use 0 for greedy decoding (always the most likely character), 1 for the model's own distribution"
_TOP_K_HINT = ("use a whole number such as 40 to keep the 40 likeliest characters (1 is greedy), "
               "or leave it out for no limit")
_TOP_P_HINT = ("use a probability in (0, 1] such as 0.9 to keep the likeliest characters holding 90% of it, "
               "or leave it out for no limit")


def check_temperature(temperature) -> float:
    """Return ``temperature`` as a float, or raise ValueError unless it is a finite number >= 0."""
    return check_scalar(temperature, "temperature", float, min_value=0, hint=_HINT)


def check_temperatures(temperatures) -> list[float]:
    """One temperature, several, or a comma-separated string like ``"0,0.5,1"``: a list, each checked.

    ``0.5`` -> ``[0.5]``; ``"0, 0.5"`` -> ``[0.0, 0.5]``; ``np.array([0, 1])`` -> ``[0.0, 1.0]``.
    """
    if isinstance(temperatures, str):
        parts = [p.strip() for p in temperatures.split(",")]
        if not all(parts):
            raise ValueError(f"temperatures {temperatures!r} has an empty entry; write them like '0,0.5,1'")
        values = []
        for part in parts:
            try:
                values.append(float(part))
            except ValueError:
                raise ValueError(f"temperatures {temperatures!r}: {part!r} is not a number; {_HINT}") from None
        temperatures = values
    elif not isinstance(temperatures, (Sequence, np.ndarray)):
        temperatures = [temperatures]
    values = [check_temperature(t) for t in np.asarray(temperatures, dtype=object).reshape(-1)]
    if not values:
        raise ValueError("give at least one temperature, such as 0.5")
    return values


def check_top_k(top_k) -> int | None:
    """Return ``top_k`` as an int, or None; raise ValueError unless it is a whole number >= 1 or None."""
    return check_scalar(top_k, "top_k", int, min_value=1, allow_none=True, hint=_TOP_K_HINT)


def check_top_p(top_p) -> float | None:
    """Return ``top_p`` as a float, or None; raise ValueError unless it is a number in (0, 1] or None."""
    return check_scalar(top_p, "top_p", float, min_value=0, include_min=False, max_value=1, allow_none=True,
                        hint=_TOP_P_HINT)


def sample(
    *,
    probs=None,
    logits=None,
    temperature: float,
    rng: np.random.Generator | int | None = None,
    top_k: int | None = None,
    top_p: float | None = None,
) -> int:
    """Draw one character id at ``temperature`` from a ``[V]`` distribution given by name.

    ``sample(probs=p, temperature=0.5)`` takes probabilities (non-negative; they need not sum to 1,
    so a top-k slice works); ``sample(logits=z, temperature=0.5)`` takes logits. Either way it draws
    from ``softmax(log p / T)``, which is ``apply_temperature(p, T)`` exactly (a probability of 0 is
    never drawn); ``temperature=0`` returns the argmax without drawing (whatever the filters).
    ``rng`` is a NumPy Generator, a seed, or None for fresh entropy.

    ``top_k`` and ``top_p`` filter the tempered distribution before the draw, in that order (see
    :func:`filter_distribution`): top-k keeps the ``top_k`` likeliest characters (ties broken by
    index order, so the lower id is kept), then top-p keeps the smallest set of the likeliest of
    those whose renormalised probability reaches ``top_p`` (always at least one). None (the default)
    is no filter, and then the draws are exactly those of plain temperature sampling.
    """
    temperature = check_temperature(temperature)
    top_k, top_p = check_top_k(top_k), check_top_p(top_p)
    logits = _log_probs(probs, logits)
    if temperature == 0:
        return int(np.argmax(logits))
    weights = _tempered(logits, temperature)
    if top_k is not None or top_p is not None:
        weights = filter_distribution(weights, top_k=top_k, top_p=top_p)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return int(rng.choice(len(weights), p=weights))


def filter_distribution(probs, *, top_k: int | None = None, top_p: float | None = None) -> np.ndarray:
    """The ``[V]`` distribution left after top-k, then top-p filtering of ``probs [V]``, renormalised.

    Characters are ranked by probability, ties by index order (the lower id ranks first), so the
    result is deterministic. ``top_k`` keeps the first ``top_k`` of that ranking (all of them if
    ``top_k >= V``). ``top_p`` then renormalises what is left and keeps the shortest prefix of the
    ranking whose probability reaches ``top_p``: a character is kept while the mass ranked before it
    is below ``top_p`` (the likeliest always is; ``top_p=1`` keeps everything). With
    ``[0.5, 0.25, 0.15, 0.1]``, ``top_p=0.7`` and ``top_p=0.75`` keep ids {0, 1}, ``top_p=0.76``
    keeps {0, 1, 2}. Filtered characters get probability 0. Apply :func:`apply_temperature` first
    to filter a tempered distribution, as :func:`sample` does.
    """
    top_k, top_p = check_top_k(top_k), check_top_p(top_p)
    probs = np.asarray(probs, dtype=np.float64).reshape(-1)
    if probs.size == 0 or not np.all(np.isfinite(probs)) or np.any(probs < 0) or not probs.sum() > 0:
        raise ValueError("probs must be a non-empty [V] array of finite non-negative numbers with a positive sum")
    order = np.argsort(-probs, kind="stable")  # likeliest first, ties by index
    ranked = probs[order] / probs.sum()
    keep = np.ones(len(ranked), dtype=bool)
    if top_k is not None:
        keep[top_k:] = False
        ranked = np.where(keep, ranked, 0.0)
        ranked /= ranked.sum()
    if top_p is not None and top_p < 1:
        before = np.concatenate([[0.0], np.cumsum(ranked)[:-1]])  # the mass ranked before each character
        keep &= before < top_p
    out = np.zeros_like(probs)
    out[order[keep]] = ranked[keep]
    return out / out.sum()


def apply_temperature(probs, temperature: float) -> np.ndarray:
    """The ``[V]`` distribution that :func:`sample` draws from at ``temperature``: ``probs ** (1/T)``, renormalised.

    It is the same computation as :func:`sample`'s (one code path), so it holds at every temperature:
    a probability of 0 stays 0 (``0 ** (1/T)``), however flat a large T makes the rest. T = 0 puts
    all the mass on the argmax (the lower id on a tie). ``probs`` are checked as :func:`sample` checks them.
    """
    temperature = check_temperature(temperature)
    return _tempered(_log_probs(probs, None), temperature)


def entropy_bits(probs) -> float:
    """Entropy of a distribution ``probs [V]`` in bits: ``-sum p log2 p`` (0 log 0 counts as 0).

    How uncertain a draw from it is: 0 bits for a certain outcome, ``log2 V`` for a uniform one.
    ``entropy_bits(apply_temperature(probs, T))`` is the uncertainty :func:`sample` draws with at T.
    """
    probs = np.asarray(probs, dtype=np.float64)
    probs = probs[probs > 0]
    return 0.0 - float((probs * np.log2(probs)).sum())  # 0.0 - x: a certain outcome shows 0.00, not -0.00


def _log_probs(probs, logits) -> np.ndarray:
    """Exactly one of ``probs [V]`` or ``logits [V]``, checked -> float64 log-probabilities ``[V]`` (up to a constant).

    A probability of 0 becomes ``-inf``: no temperature gives it any weight.
    """
    if (probs is None) == (logits is None):
        raise ValueError("give exactly one of probs=... (probabilities) or logits=... (unnormalised log-probabilities)")
    values = np.asarray(probs if probs is not None else logits, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("cannot sample from an empty distribution")
    if not np.all(np.isfinite(values)):
        raise ValueError("the distribution holds NaN or infinite values; the model's weights may have diverged")
    if logits is not None:
        return values
    if np.any(values < 0) or not values.sum() > 0:
        raise ValueError("probs must be non-negative with a positive sum; pass logits=... for log-probabilities")
    with np.errstate(divide="ignore"):
        return np.log(values)


def _tempered(logits: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(logits / T)`` as float64 ``[V]``; T = 0 is one-hot at the argmax."""
    if temperature == 0:
        out = np.zeros_like(logits)
        out[np.argmax(logits)] = 1.0
        return out
    scaled = logits / temperature
    scaled -= scaled.max()
    weights = np.exp(scaled)
    return weights / weights.sum()
