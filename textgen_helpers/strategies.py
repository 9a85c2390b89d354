"""Sampling strategies: a temperature with optional top-k and top-p, and what each one writes.

A strategy is written the way the panel's *compare with* box and :func:`parse_strategies` read it:
``"0.5"`` (temperature 0.5), ``"1 k=10"`` (temperature 1, top-k 10), ``"0.8 p=0.9"`` (nucleus),
``"1 k=20 p=0.95"`` (both), or ``"k=10"`` (top-k 10 at whatever temperature the slider shows).

:func:`measure_strategies` turns "low temperature repeats itself, high temperature makes up words"
into numbers. For each strategy it generates text and measures three things:

- ``real_words``: the share of generated words that are words of the corpus (its training part),
- ``distinct_4grams``: the share of distinct word 4-grams among all of them (1 = no repetition),
- ``surprise_bits``: the model's own mean ``-log2 p`` of the characters it wrote, read at T = 1
  with the state carried from the seed (bits per character; the validation loss is the same
  measure on real text).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .checks import check_scalar
from .sampling import check_temperature, check_top_k, check_top_p

WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")  # a word: letters, with inner apostrophes ("o'er", "thou'rt")
_FORMAT = ("write a strategy as a temperature with optional filters, such as '0.5', '1 k=10', '0.8 p=0.9' "
           "or 'k=10' (top-k at the slider's temperature)")


@dataclass(frozen=True)
class Strategy:
    """A temperature (None: the slider's) with optional ``top_k`` and ``top_p`` filters."""

    temperature: float | None
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self):
        if self.temperature is not None:
            object.__setattr__(self, "temperature", check_temperature(self.temperature))
        object.__setattr__(self, "top_k", check_top_k(self.top_k))
        object.__setattr__(self, "top_p", check_top_p(self.top_p))

    @property
    def label(self) -> str:
        """``"T = 1, top-k 10, top-p 0.9"``; ``"T = ?"`` while the temperature is the slider's."""
        parts = ["T = ?" if self.temperature is None else f"T = {self.temperature:g}"]
        if self.top_k is not None:
            parts.append(f"top-k {self.top_k}")
        if self.top_p is not None:
            parts.append(f"top-p {self.top_p:g}")
        return ", ".join(parts)

    @property
    def family(self) -> str:
        """What varies along a sweep: ``"temperature"``, ``"top-k"``, ``"top-p"`` or ``"top-k and top-p"``."""
        filters = [name for name, value in (("top-k", self.top_k), ("top-p", self.top_p)) if value is not None]
        return " and ".join(filters) or "temperature"

    def at(self, temperature: float) -> Strategy:
        """This strategy at ``temperature`` if it has none of its own (follows the slider)."""
        return self if self.temperature is not None else Strategy(temperature, self.top_k, self.top_p)


def parse_strategy(text: str) -> Strategy:
    """One strategy from ``"1 k=10 p=0.9"``: see the module docstring for the forms accepted."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"empty strategy {text!r}; {_FORMAT}")
    found: dict[str, float] = {}
    for token in text.replace("top-", "").replace("top_", "").lower().split():
        name, _, value = token.rpartition("=")
        name = {"": "t", "t": "t", "temperature": "t", "k": "k", "p": "p"}.get(name)
        if name in found:
            what = "the temperature" if name == "t" else name
            raise ValueError(f"strategy {text!r}: {what} is given twice; {_FORMAT}")
        if name is None or not value:
            raise ValueError(f"strategy {text!r}: cannot read {token!r}; {_FORMAT}")
        try:
            found[name] = float(value)
        except ValueError:
            raise ValueError(f"strategy {text!r}: {value!r} is not a number; {_FORMAT}") from None
    temperature, top_p = found.get("t"), found.get("p")
    top_k = found.get("k")
    if top_k is not None and top_k.is_integer():
        top_k = int(top_k)  # "10" -> 10; 1.5 stays, for check_top_k to refuse with its own message
    return Strategy(temperature, top_k, top_p)


def parse_strategies(text: str) -> list[Strategy]:
    """Comma-separated strategies: ``"0.25, 0.5, 1 k=10, 1 p=0.9"`` -> four :class:`Strategy`."""
    parts = [part.strip() for part in str(text).split(",")]
    if not all(parts):
        raise ValueError(f"strategies {text!r} has an empty entry; separate them with commas, like '0.5, 1 k=10'")
    return [parse_strategy(part) for part in parts]


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased: runs of letters with inner apostrophes."""
    return WORD.findall(text.lower())


def known_words(text: str) -> set[str]:
    """The set of (lower-case) words of ``text``: the real words generated text is checked against."""
    return set(words(text))


def real_word_share(text: str, vocabulary: set[str]) -> float:
    """Share of the words of ``text`` found in ``vocabulary`` (a set of lower-case words); NaN without words."""
    found = words(text)
    return sum(word in vocabulary for word in found) / len(found) if found else math.nan


def distinct_ngram_share(text: str, n: int = 4) -> float:
    """Distinct word ``n``-grams over all word ``n``-grams of ``text``: 1 when nothing repeats; NaN if too short."""
    n = check_scalar(n, "n", int, min_value=1)
    found = words(text)
    grams = [tuple(found[i:i + n]) for i in range(len(found) - n + 1)]
    return len(set(grams)) / len(grams) if grams else math.nan


def text_surprise_bits(bundle, seed_text: str, texts: Sequence[str]) -> list[float]:
    """The model's own mean ``-log2 p`` (bits/char, at T = 1) of each text, read after ``seed_text``.

    The state is carried from the start of the seed's last ``sample_len`` characters (as
    generation primes it), and only the characters of each text count.
    """
    seed_ids = bundle.vocab.encode(seed_text[-bundle.sample_len:], unknown="skip")
    if len(seed_ids) == 0:
        raise ValueError("seed text has no character the model knows; give one it can continue from")
    score = bundle.generator.score
    seed_total = score(seed_ids, warmup=0, streams=1) * (len(seed_ids) - 1) if len(seed_ids) > 1 else 0.0
    out = []
    for text in texts:
        ids = np.concatenate([seed_ids, bundle.vocab.encode(text)])
        total = score(ids, warmup=0, streams=1) * (len(ids) - 1)
        out.append((total - seed_total) / len(text) / math.log(2))
    return out


def measure_strategies(
    bundle,
    strategies: Iterable[Strategy | str] | str,
    vocabulary: set[str],
    *,
    seed_text: str | None = None,
    length: int = 2000,
    rows: int = 4,
    seed: int = 0,
) -> pd.DataFrame:
    """Generate ``rows`` texts of ``length`` characters per strategy (all in one batched call) and measure them.

    ``bundle`` is a :class:`~textgen_helpers.bundle.Bundle` or its folder; ``strategies`` a list
    (``["0.5", "1 k=10"]`` or :class:`Strategy` objects) or one comma-separated string.

    Returns one row per strategy: ``strategy`` (its label), ``family``, ``temperature``, ``top_k``,
    ``top_p``, ``real_words``, ``distinct_4grams`` and ``surprise_bits`` (see the module docstring),
    each a mean over the ``rows`` texts, and ``characters``, how many were generated in all.
    ``vocabulary`` is the set of real words (e.g. ``known_words(training_text)``); words are
    compared in lower case, whatever case the set holds them in. A measure that a text is too
    short for (no word at all, or fewer than four words for ``distinct_4grams``) is NaN.
    """
    if isinstance(vocabulary, str) or not isinstance(vocabulary, (set, frozenset)):
        raise ValueError(f"vocabulary must be a set of words, got {type(vocabulary).__name__}; make one from a text "
                         "with known_words(text)")
    from .bundle import as_bundle

    vocabulary = {word.lower() for word in vocabulary}
    bundle = as_bundle(bundle)
    if isinstance(strategies, str):  # "0.5, 1 k=10": the panel's way of writing them
        strategies = parse_strategies(strategies)
    strategies = [parse_strategy(s) if isinstance(s, str) else s for s in strategies]
    if not strategies:
        raise ValueError("give at least one strategy, such as '0.5' or '1 k=10'")
    if any(s.temperature is None for s in strategies):
        raise ValueError("every strategy needs its own temperature here, such as '1 k=10' rather than 'k=10' "
                         "(a strategy without one follows the slider, and there is no slider here)")
    rows = check_scalar(rows, "rows", int, min_value=1)
    length = check_scalar(length, "length", int, min_value=1)
    seed_text = bundle.default_seed_text if seed_text is None else seed_text
    batch = [s for s in strategies for _ in range(rows)]
    texts = bundle.generator(seed_text, length, [s.temperature for s in batch], seed=seed, window=bundle.sample_len,
                             unknown="skip", top_k=[s.top_k for s in batch], top_p=[s.top_p for s in batch])
    surprise = text_surprise_bits(bundle, seed_text, texts)
    records = []
    for k, strategy in enumerate(strategies):
        mine = range(k * rows, (k + 1) * rows)
        records.append({
            "strategy": strategy.label, "family": strategy.family, "temperature": strategy.temperature,
            "top_k": strategy.top_k, "top_p": strategy.top_p,
            "real_words": float(np.mean([real_word_share(texts[i], vocabulary) for i in mine])),
            "distinct_4grams": float(np.mean([distinct_ngram_share(texts[i], 4) for i in mine])),
            "surprise_bits": float(np.mean([surprise[i] for i in mine])),
            "characters": rows * length,
        })
    table = pd.DataFrame.from_records(records)
    # Nullable columns: a filter that is off is <NA>, and top_k stays a whole number where it is on.
    return table.astype({"top_k": "Int64", "top_p": "Float64"})


def measure_text(text: str, vocabulary: set[str]) -> dict:
    """``real_words`` and ``distinct_4grams`` of a real text, to place it beside the strategies (words
    compared in lower case, as in :func:`measure_strategies`)."""
    vocabulary = {word.lower() for word in vocabulary}
    return {"real_words": real_word_share(text, vocabulary), "distinct_4grams": distinct_ngram_share(text, 4)}
