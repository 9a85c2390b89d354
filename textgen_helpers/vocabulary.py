"""The vocabulary: the characters a model knows, and the integer id of each.

Ids follow sorted code points, not the order in which characters first occur in the text (as the
original example did), so the same text always gives the same ids and a bundle's ``vocab.json``
reads like an alphabet.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

UNKNOWN_POLICIES = ("error", "skip", "replace")
_ENCODE_CHUNK = 1 << 20  # characters per block: bounds the temporary memory of encode()


class Vocabulary:
    """An ordered set of characters with ``encode`` (str -> int32 ids) and ``decode`` (ids -> str).

    >>> vocab = Vocabulary.from_text("hello")
    >>> vocab.chars
    ('e', 'h', 'l', 'o')
    >>> vocab.encode("hole").tolist()
    [1, 3, 2, 0]
    """

    def __init__(self, chars: Iterable[str]):
        chars = list(chars)
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"a vocabulary holds single characters, got {c!r}")
        unique = sorted(set(chars))
        if len(unique) != len(chars):
            raise ValueError("a vocabulary's characters must be distinct")
        if not unique:
            raise ValueError("a vocabulary needs at least one character")
        self.chars: tuple[str, ...] = tuple(unique)
        self._codes = np.array([ord(c) for c in self.chars], dtype=np.uint32)
        self._index = {c: i for i, c in enumerate(self.chars)}
        self._char_array = np.array(self.chars, dtype="<U1")  # UTF-32 storage: decode is one copy

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        """Every distinct character of ``text``, in code-point order."""
        if not text:
            raise ValueError("cannot build a vocabulary from empty text")
        return cls(set(text))

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def size(self) -> int:
        """The number of characters, V (the width of one-hot vectors and of the softmax)."""
        return len(self.chars)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.chars == other.chars

    def __hash__(self) -> int:
        return hash(self.chars)

    def __contains__(self, char: str) -> bool:
        return char in self._index

    def __repr__(self) -> str:
        shown = "".join(self.chars[:40])
        more = "…" if len(self) > 40 else ""
        return f"Vocabulary({len(self)} characters: {shown!r}{more})"

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of ``text`` that are not in the vocabulary, in text order."""
        seen = dict.fromkeys(text)
        return [c for c in seen if c not in self._index]

    def encode(self, text: str, *, unknown: str = "error", replacement: str | None = None) -> np.ndarray:
        """Text -> ``[len(text)]`` int32 ids.

        Args:
            unknown: what to do with characters outside the vocabulary: ``"error"`` (default)
                raises a ValueError that names them; ``"skip"`` drops them; ``"replace"`` puts
                ``replacement`` (default: a space, if the vocabulary has one) in their place.
        """
        if unknown not in UNKNOWN_POLICIES:
            raise ValueError(f"unknown must be one of {UNKNOWN_POLICIES}, got {unknown!r}")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        ids = np.empty(len(codes), dtype=np.int32)
        ok = np.ones(len(codes), dtype=bool)
        for start in range(0, len(codes), _ENCODE_CHUNK):
            block = codes[start:start + _ENCODE_CHUNK]
            pos = np.searchsorted(self._codes, block)
            np.minimum(pos, len(self._codes) - 1, out=pos)
            ids[start:start + len(block)] = pos
            ok[start:start + len(block)] = self._codes[pos] == block
        if ok.all():
            return ids
        if unknown == "error":
            missing = self.unknown(text)
            raise ValueError(
                f"{len(missing)} character{'s' if len(missing) > 1 else ''} not in the vocabulary: "
                f"{describe_chars(missing)}. The model knows {len(self)} characters; remove or replace "
                f"them, or pass unknown='skip' or unknown='replace'."
            )
        if unknown == "skip":
            return ids[ok]
        ids[~ok] = self._index[self._replacement(replacement)]
        return ids

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """Ids (any int array or list) -> text."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            bad = ids[(ids < 0) | (ids >= len(self))][0]
            raise ValueError(f"id {bad} is outside this vocabulary of {len(self)} characters (0..{len(self) - 1})")
        return self._char_array[ids].tobytes().decode("utf-32-le")

    def to_json(self) -> str:
        """A JSON document that :meth:`from_json` turns back into an equal vocabulary."""
        return json.dumps({"format": 1, "size": len(self), "chars": list(self.chars)}, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, document: str) -> Vocabulary:
        try:
            data = json.loads(document)
            chars = data["chars"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ValueError(f"not a vocabulary JSON document ({err}); expected {{\"chars\": [...]}}") from None
        vocab = cls(chars)
        if vocab.chars != tuple(chars):
            raise ValueError("vocabulary JSON is not in code-point order; it was not written by Vocabulary.to_json()")
        if "size" in data and data["size"] != len(vocab):
            raise ValueError(f"vocabulary JSON says size {data['size']} but lists {len(vocab)} characters")
        return vocab

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocabulary:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def _replacement(self, replacement: str | None) -> str:
        if replacement is None:
            if " " not in self._index:
                raise ValueError("this vocabulary has no space to use as replacement; pass replacement=")
            return " "
        if replacement not in self._index:
            raise ValueError(f"replacement {replacement!r} is not in the vocabulary")
        return replacement


def describe_chars(chars: Iterable[str]) -> str:
    """``'é' (U+00E9 LATIN SMALL LETTER E WITH ACUTE), ...``: readable even for invisible characters."""
    parts = []
    for c in chars:
        name = unicodedata.name(c, "")
        shown = repr(c) if c.isprintable() else "<invisible>"
        parts.append(f"{shown} (U+{ord(c):04X}{' ' + name if name else ''})")
    return ", ".join(parts)
