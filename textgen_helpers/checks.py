"""Argument checks: one rule for every number a user passes, in the spirit of scikit-learn's ``check_scalar``.

``check_scalar(np.int64(40), "sample_len", int, min_value=1)`` returns ``40`` as a Python ``int``;
``check_scalar(-1, "temperature", float, min_value=0, hint="use 0 for greedy decoding")`` raises
``ValueError: temperature must be >= 0, got -1; use 0 for greedy decoding``. Every public function
checks its numbers with it, so NumPy scalars work everywhere a Python number does, booleans are
refused everywhere, and the messages read the same.
"""

from __future__ import annotations

import math
import numbers


def check_scalar(
    value,
    name: str,
    kind: type = float,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    include_min: bool = True,
    include_max: bool = True,
    allow_none: bool = False,
    hint: str = "",
):
    """Return ``value`` as a Python ``int`` or ``float`` (``kind``), or raise ValueError saying what was wrong.

    Args:
        kind: ``int`` accepts Python or NumPy integers (not ``3.0``: a float where a count is
            expected is usually a mistake); ``float`` accepts any real number. Booleans are
            refused: ``True`` is not a size.
        min_value, max_value, include_min, include_max: the allowed range; floats must also be finite.
        allow_none: return None for None instead of refusing it.
        hint: appended to the message: what to pass instead.
    """
    if value is None and allow_none:
        return None
    suffix = f"; {hint}" if hint else ""
    noun = "an integer" if kind is int else "a number"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {noun}, got {value!r}{suffix}")
    if kind is int:
        if not isinstance(value, numbers.Integral):
            raise ValueError(f"{name} must be an integer, got {value!r}{suffix}")
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value}{suffix}")
    if min_value is not None and (value < min_value if include_min else value <= min_value):
        bound = ">=" if include_min else ">"
        raise ValueError(f"{name} must be {bound} {_show(min_value)}, got {_show(value)}{suffix}")
    if max_value is not None and (value > max_value if include_max else value >= max_value):
        bound = "<=" if include_max else "<"
        raise ValueError(f"{name} must be {bound} {_show(max_value)}, got {_show(value)}{suffix}")
    return value


def listed(names: list[str], most: int = 5) -> str:
    """Names for a message: the first ``most``, then how many more (``"a, b, c and 4 more"``)."""
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _show(number) -> str:
    """Integers exactly (2**64 - 1 is 18446744073709551615, not 1.84467e+19); floats briefly."""
    return str(number) if isinstance(number, int) else f"{number:g}"


def check_seed(seed) -> int:
    """A random seed: any integer in [0, 2**64), returned as a Python int."""
    return check_scalar(seed, "seed", int, min_value=0, max_value=2**64 - 1,
                        hint="use a whole number such as 0 or 42; the same seed gives the same text")


def seed_key(seed) -> int:
    """A 32-bit word that depends on every bit of a 64-bit seed, for TensorFlow's stateless random ops.

    Those ops take a pair of int64 seed words, but under XLA only the low 32 bits of a word count
    (seed ``2**63 + 1`` drew what seed 1 drew), so the seed is hashed down to 32 bits first.
    """
    import numpy as np

    return int(np.random.SeedSequence(check_seed(seed)).generate_state(1, np.uint32)[0])
