"""Sampling: turning the model's next-character distribution into one character, at a temperature.

Temperature T rescales the log-probabilities before the draw: ``p_T(c) ∝ p(c) ** (1 / T)``.
T = 1 samples the model's distribution as it is, T < 1 sharpens it towards the most likely
character, T > 1 flattens it towards uniform, and T = 0 is greedy decoding (always the argmax).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

BOOK_TEMPERATURES = (0.0, 0.25, 0.5, 0.75)  # the temperatures of the book's Table 10.1
KINDS = ("auto", "probs", "logits")


def check_temperature(temperature) -> float:
    """Return ``temperature`` as a float, or raise ValueError unless it is a finite number >= 0."""
    hint = "use 0 for greedy decoding (always the most likely character), 1 for the model's own distribution"
    if isinstance(temperature, bool):
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}; {hint}")
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}; {hint}") from None
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"temperature must be a finite number >= 0, got {value}; {hint}")
    if value < 0:
        raise ValueError(f"temperature must be >= 0, got {value}; {hint}")
    return value


def check_temperatures(temperatures) -> list[float]:
    """A list of temperatures (or one, or a comma-separated string like ``"0,0.5,1"``), each checked."""
    if isinstance(temperatures, str):
        parts = [p.strip() for p in temperatures.split(",")]
        if not all(parts):
            raise ValueError(f"temperatures {temperatures!r} has an empty entry; write them like '0,0.5,1'")
        temperatures = parts
    elif not isinstance(temperatures, (Sequence, np.ndarray)):
        temperatures = [temperatures]
    values = [check_temperature(t) for t in temperatures]
    if not values:
        raise ValueError("give at least one temperature, such as 0.5")
    return values


def sample(
    probs_or_logits,
    temperature: float,
    rng: np.random.Generator | int | None = None,
    *,
    kind: str = "auto",
) -> int:
    """Draw one character id from a ``[V]`` distribution at ``temperature``.

    Args:
        probs_or_logits: probabilities (non-negative, summing to 1) or logits, shape ``[V]``.
        temperature: >= 0; 0 returns the argmax without drawing.
        rng: a NumPy Generator, a seed, or None for fresh entropy.
        kind: ``"probs"``, ``"logits"``, or ``"auto"`` (probabilities if they look like them).
    """
    temperature = check_temperature(temperature)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    values = np.asarray(probs_or_logits, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("cannot sample from an empty distribution")
    if not np.all(np.isfinite(values)):
        raise ValueError("the distribution holds NaN or infinite values; the model's weights may have diverged")
    if kind == "auto":
        kind = "probs" if _looks_like_probs(values) else "logits"
    logits = np.log(np.maximum(values, 1e-30)) if kind == "probs" else values
    if temperature == 0:
        return int(np.argmax(logits))
    scaled = logits / temperature
    scaled -= scaled.max()
    probs = np.exp(scaled)
    probs /= probs.sum()
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return int(rng.choice(len(probs), p=probs))


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


def _looks_like_probs(values: np.ndarray) -> bool:
    return bool(np.all(values >= 0) and abs(values.sum() - 1.0) < 1e-3)
