"""Sampling: turning the model's next-character distribution into one character, at a temperature.

Temperature T rescales the log-probabilities before the draw: ``p_T(c) ∝ p(c) ** (1 / T)``.
T = 1 samples the model's distribution as it is, T < 1 sharpens it towards the most likely
character, T > 1 flattens it towards uniform, and T = 0 is greedy decoding (always the argmax).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .checks import check_scalar

BOOK_TEMPERATURES = (0.0, 0.25, 0.5, 0.75)  # the temperatures of the book's Table 10.1
_HINT = "use 0 for greedy decoding (always the most likely character), 1 for the model's own distribution"


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


def sample(
    *,
    probs=None,
    logits=None,
    temperature: float,
    rng: np.random.Generator | int | None = None,
) -> int:
    """Draw one character id at ``temperature`` from a ``[V]`` distribution given by name.

    ``sample(probs=p, temperature=0.5)`` takes probabilities (non-negative; they need not sum to 1,
    so a top-k slice works); ``sample(logits=z, temperature=0.5)`` takes logits. Either way it draws
    from ``softmax(log p / T)``; ``temperature=0`` returns the argmax without drawing.
    ``rng`` is a NumPy Generator, a seed, or None for fresh entropy.
    """
    temperature = check_temperature(temperature)
    if (probs is None) == (logits is None):
        raise ValueError("give exactly one of probs=... (probabilities) or logits=... (unnormalised log-probabilities)")
    values = np.asarray(probs if probs is not None else logits, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("cannot sample from an empty distribution")
    if not np.all(np.isfinite(values)):
        raise ValueError("the distribution holds NaN or infinite values; the model's weights may have diverged")
    if probs is not None:
        if np.any(values < 0) or not values.sum() > 0:
            raise ValueError("probs must be non-negative with a positive sum; pass logits=... for log-probabilities")
        logits = np.log(np.maximum(values, 1e-300))
    else:
        logits = values
    if temperature == 0:
        return int(np.argmax(logits))
    scaled = logits / temperature
    scaled -= scaled.max()
    weights = np.exp(scaled)
    weights /= weights.sum()
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return int(rng.choice(len(weights), p=weights))


def apply_temperature(probs, temperature: float) -> np.ndarray:
    """The distribution that :func:`sample` draws from: ``probs ** (1/T)``, renormalised ``[V]``."""
    temperature = check_temperature(temperature)
    probs = np.asarray(probs, dtype=np.float64)
    if temperature == 0:
        out = np.zeros_like(probs)
        out[np.argmax(probs)] = 1.0
        return out
    logits = np.log(np.maximum(probs, 1e-30)) / temperature
    out = np.exp(logits - logits.max())
    return out / out.sum()
