"""Activations: what the LSTM computes inside, character by character.

After Karpathy, Johnson and Fei-Fei, "Visualizing and Understanding Recurrent Networks" (2015).
:func:`lstm_trace` runs a model made by :func:`~textgen_helpers.model.build_model` over a text one
character at a time, carrying the state from a zero start, and keeps everything the cells compute:
per layer the cell state ``c``, the output ``h`` and the gates ``i, f, g, o`` (``[T, units]``
each), and the logits for the next character (``[T, V]``). It runs the step the generator runs,
:func:`~textgen_helpers.step.lstm_step` (the LSTM equations in ``keras.ops``, compiled for the
backend), keeping its gates, and agrees with ``model(ids)`` (tests/test_activations.py checks it).

Row ``t`` of a trace is the moment after reading character ``t``, from which the model predicts
character ``t + 1``. :func:`text_features` describes the text at the same moments, so that
:func:`best_cells` can correlate every cell with every feature and find the interpretable ones
automatically; :func:`surprise_bits` gives ``-log2 p`` of every actual next character;
:func:`gate_saturation` counts how often each gate sits near 0 or 1 (the paper's figure 3, drawn
by :func:`~textgen_helpers.plots.plot_gate_saturation`). Any of these values can colour a text's
characters: :func:`~textgen_helpers.plots.plot_colored_text` draws a figure (a picture, so it
shows wherever the notebook does, GitHub included), and
:func:`~textgen_helpers.display.colored_text_html` writes HTML
whose characters show their values on hover in Jupyter and Colab (GitHub's notebook view drops
the colours of HTML).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .checks import check_scalar
from .runtime import import_keras
from .step import compile_function, lstm_step, stack_layers, step_weights, weight_values, zero_state

if TYPE_CHECKING:
    from .bundle import Bundle

keras = import_keras()
ops = keras.ops

GATES = ("i", "f", "g", "o")  # Keras's order in the kernels: input, forget, candidate (c), output
STATES = ("c", "h")
SATURATING_GATES = {"input": "i", "forget": "f", "output": "o"}  # the sigmoid gates, by name
FEATURES = {  # name -> what it measures at row t (after reading character t)
    "inside_quotes": ("1 after an opening double quote up to its closing one "
                      "(the opening quote counts, the closing one not)"),
    "inside_brackets": ("1 after an opening (, [ or { up to its closing one "
                        "(the opening bracket counts, the closing one not)"),
    "position_in_line": ("characters of the current line read so far: "
                         "0 after a newline, 1 after the line's first character"),
    "chars_to_newline": ("characters still to come before the next newline "
                         "(0: the next character is a newline); looks ahead"),
    "speaker_name": ("1 if character t is part of a speaker's name in capitals, "
                     "a line such as 'ROMEO:' (colon included)"),
    "after_vowel": ("1 if character t is a vowel (a, e, i, o, u, either case): "
                    "the next character comes after a vowel"),
    "position_in_word": "letters of the current word read so far: 0 after a non-letter, 1 after a word's first letter",
}
VOWELS = frozenset("aeiouAEIOU")
TRACE_CHUNK = 256  # characters per compiled call; the state is carried from call to call


@dataclass(frozen=True)
class LSTMTrace:
    """Everything the LSTMs computed over a text of ``T`` characters: see :func:`lstm_trace`.

    ``c``, ``h``, ``i``, ``f``, ``g``, ``o`` hold one ``[T, units]`` array per layer, bottom first
    (gates after their activation: ``i, f, o`` in (0, 1), ``g`` in (-1, 1)); ``logits [T, V]`` are
    the next-character logits at each position; ``ids [T]`` the text read.
    """

    ids: np.ndarray
    c: tuple[np.ndarray, ...]
    h: tuple[np.ndarray, ...]
    i: tuple[np.ndarray, ...]
    f: tuple[np.ndarray, ...]
    g: tuple[np.ndarray, ...]
    o: tuple[np.ndarray, ...]
    logits: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def layer_sizes(self) -> list[int]:
        return [int(c.shape[1]) for c in self.c]

    def cell(self, layer: int, unit: int, state: str = "c") -> np.ndarray:
        """One unit's values ``[T]``: ``layer`` counts from 1 (as Keras names ``lstm_1``), ``unit`` from 0."""
        layer = check_scalar(layer, "layer", int, min_value=1, max_value=len(self.c),
                             hint=f"the model has {len(self.c)} LSTM layers, numbered from 1")
        unit = check_scalar(unit, "unit", int, min_value=0, max_value=self.layer_sizes[layer - 1] - 1,
                            hint=f"layer {layer} has {self.layer_sizes[layer - 1]} units, numbered from 0")
        return getattr(self, _check_state(state))[layer - 1][:, unit]


def lstm_trace(model: keras.Model | Bundle, ids: np.ndarray) -> LSTMTrace:
    """Run ``model`` over ``ids [T]`` one character at a time from a zero state; keep what every cell computes.

    ``model`` is one made by :func:`~textgen_helpers.model.build_model`, either framing (dropout
    layers are skipped: inference). Returns an :class:`LSTMTrace`: per layer ``[T, units]`` arrays
    of ``c, h, i, f, g, o`` and ``logits [T, V]`` (before the softmax, also for the book's
    softmax model). Computed in float32, as the model computes, in a compiled loop: under a second
    per 10,000 characters of a 128,128 model on a CPU (0.2 s on two server cores), once the first
    call has compiled it (one to two seconds).
    """
    if not isinstance(model, keras.Model) and isinstance(getattr(model, "model", None), keras.Model):
        model = model.model  # a Bundle: trace its model
    if not isinstance(model, keras.Model):
        raise ValueError("lstm_trace needs a Keras model made by build_model (or a bundle), "
                         f"got {type(model).__name__}")
    layers = stack_layers(model)
    sizes, vocab_size = [layer.units for layer in layers[1]], int(layers[2].kernel.shape[-1])
    ids = _check_ids(ids, vocab_size)
    values, state = weight_values(layers), zero_state(sizes, 1)
    padded = np.zeros(-(-len(ids) // TRACE_CHUNK) * TRACE_CHUNK, np.int32)  # whole chunks: one compiled shape
    padded[:len(ids)] = ids
    rows = []
    for start in range(0, len(padded), TRACE_CHUNK):
        chunk_rows, state = _trace_chunk()(values, padded[start:start + TRACE_CHUNK], state)
        rows.append(chunk_rows)
    rows = np.concatenate([ops.convert_to_numpy(r) for r in rows])[:len(ids)]  # [T, 6 * sum(units) + V]
    names = (*GATES, *STATES)  # a row holds, layer by layer, i, f, g, o, c, h; then the logits
    parts = np.split(rows, np.cumsum([units for units in sizes for _ in names]), axis=1)
    arrays = {name: tuple(parts[len(names) * k + j] for k in range(len(sizes))) for j, name in enumerate(names)}
    return LSTMTrace(ids=ids, logits=parts[-1], **arrays)


def text_features(text: str) -> pd.DataFrame:
    """Simple features of a text, one row per character, aligned with :func:`lstm_trace`'s rows.

    ``text`` of ``T`` characters -> DataFrame ``[T, len(FEATURES)]`` of floats. Row ``t`` describes
    the moment after reading character ``t`` (the state the trace holds there), except where
    :data:`FEATURES` says otherwise: ``speaker_name`` and ``after_vowel`` are about character ``t``
    itself, and ``chars_to_newline`` looks ahead (the end of the text counts as a newline).
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    if not text:
        raise ValueError("text is empty: give at least one character")
    n = len(text)
    columns = {name: np.zeros(n) for name in FEATURES}
    quoted = bracket_depth = line_pos = word_pos = 0
    for t, char in enumerate(text):
        if char == '"':
            quoted = 1 - quoted
        elif char in "“”":
            quoted = int(char == "“")
        if char in "([{":
            bracket_depth += 1
        elif char in ")]}":
            bracket_depth = max(bracket_depth - 1, 0)  # a stray closer does not go below zero
        line_pos = 0 if char == "\n" else line_pos + 1
        word_pos = word_pos + 1 if char.isalpha() else 0
        columns["inside_quotes"][t] = quoted
        columns["inside_brackets"][t] = bracket_depth > 0
        columns["position_in_line"][t] = line_pos
        columns["position_in_word"][t] = word_pos
        columns["after_vowel"][t] = char in VOWELS
    next_newline = n  # the end of the text counts as a newline
    for t in range(n - 1, -1, -1):
        columns["chars_to_newline"][t] = next_newline - t - 1
        if text[t] == "\n":
            next_newline = t
    start = 0
    for line in text.split("\n"):
        if _is_speaker_line(line):
            columns["speaker_name"][start:start + len(line)] = 1
        start += len(line) + 1
    return pd.DataFrame(columns)


def best_cells(trace: LSTMTrace, features: pd.DataFrame, *, top: int = 3, state: str = "c") -> pd.DataFrame:
    """The ``top`` units most correlated with each feature, by |Pearson r| over the trace's ``T`` rows.

    Every unit of every layer is scored, on its cell state ``c`` (``state="c"``, as the paper
    colours) or its output ``h``. Returns one row per (feature, rank): ``feature, rank, layer``
    (from 1), ``unit`` (from 0), ``state, r``. A feature that never changes in the text has no
    correlation: it gets one row with ``r`` NaN and no unit.
    """
    top = check_scalar(top, "top", int, min_value=1, hint="the number of units to show per feature")
    r = cell_correlations(trace, features, state=state)
    rows = []
    for name in r.columns:
        column = r[name].dropna()
        if column.empty:
            rows.append({"feature": name, "rank": 1, "layer": pd.NA, "unit": pd.NA, "state": state, "r": np.nan})
            continue
        for rank, (layer, unit) in enumerate(column.abs().sort_values(ascending=False, kind="stable").index[:top], 1):
            rows.append({"feature": name, "rank": rank, "layer": layer, "unit": unit, "state": state,
                         "r": float(column[(layer, unit)])})
    table = pd.DataFrame(rows, columns=["feature", "rank", "layer", "unit", "state", "r"])
    return table.astype({"layer": "Int64", "unit": "Int64"})


def cell_correlations(trace: LSTMTrace, features: pd.DataFrame, *, state: str = "c") -> pd.DataFrame:
    """Pearson r of every unit with every feature: ``[sum(units), n_features]``, indexed by (layer, unit).

    A unit or feature that is constant over the text gets NaN (no correlation is defined).
    """
    if not isinstance(trace, LSTMTrace):
        raise ValueError(f"trace must be an LSTMTrace (from lstm_trace), got {type(trace).__name__}")
    state = _check_state(state)
    if not isinstance(features, pd.DataFrame):
        raise ValueError(f"features must be a pandas DataFrame (from text_features), got {type(features).__name__}")
    if len(features) != len(trace):
        raise ValueError(f"features have {len(features):,} rows but the trace has {len(trace):,} characters; "
                         "compute both from the same text "
                         "(text_features(text), lstm_trace(model, vocab.encode(text)))")
    values = features.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError("features must be finite numbers; fill or drop the NaN rows first")
    cells = np.concatenate(getattr(trace, state), axis=1).astype(np.float64)  # [T, sum units]
    r = _standardise(cells).T @ _standardise(values) / len(trace)
    index = pd.MultiIndex.from_tuples([(k + 1, u) for k, size in enumerate(trace.layer_sizes) for u in range(size)],
                                      names=["layer", "unit"])
    return pd.DataFrame(np.clip(r, -1.0, 1.0), index=index, columns=features.columns)


def surprise_bits(logits: LSTMTrace | np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
    """How surprised the model is by each actual next character: ``-log2 p(ids[t + 1])``, ``[T - 1]`` bits.

    ``logits [T, V]`` (or a trace, whose ``ids`` are used when ``ids`` is None): row ``t``
    predicts character ``t + 1``. The mean is the cross-entropy in bits per character.
    """
    if isinstance(logits, LSTMTrace):
        ids = logits.ids if ids is None else ids
        logits = logits.logits
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(f"logits must be [T, V], got shape {logits.shape}")
    if ids is None:
        raise ValueError("give the ids of the text the logits were computed on")
    ids = _check_ids(ids, logits.shape[1])
    if len(ids) != len(logits):
        raise ValueError(f"ids have {len(ids):,} characters but the logits {len(logits):,} rows; use the same text")
    if len(ids) < 2:
        raise ValueError("a text needs at least two characters: the first one predicts the second")
    shifted = logits[:-1] - logits[:-1].max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # log-softmax, nats
    return -log_probs[np.arange(len(ids) - 1), ids[1:]] / math.log(2)


def gate_saturation(trace: LSTMTrace, low: float = 0.1, high: float = 0.9) -> pd.DataFrame:
    """How often each unit's input, forget and output gate is saturated, as in the paper's figure 3.

    Returns one row per (layer, gate, unit): ``left`` the fraction of the ``T`` characters where
    the gate's value is below ``low`` (nearly shut), ``right`` the fraction above ``high``
    (nearly open). ``layer`` counts from 1, ``unit`` from 0, ``gate`` is "input", "forget" or "output".
    """
    if not isinstance(trace, LSTMTrace):
        raise ValueError(f"trace must be an LSTMTrace (from lstm_trace), got {type(trace).__name__}")
    low = check_scalar(low, "low", float, min_value=0, max_value=1, include_min=False, include_max=False,
                       hint="a gate value such as 0.1")
    high = check_scalar(high, "high", float, min_value=0, max_value=1, include_min=False, include_max=False,
                        hint="a gate value such as 0.9")
    if high <= low:
        raise ValueError(f"high must be greater than low, got low={low:g}, high={high:g}; use for example 0.1 and 0.9")
    frames = []
    for name, attribute in SATURATING_GATES.items():
        for k, gate in enumerate(getattr(trace, attribute), start=1):
            frames.append(pd.DataFrame({"layer": k, "gate": name, "unit": np.arange(gate.shape[1]),
                                        "left": (gate < low).mean(axis=0), "right": (gate > high).mean(axis=0)}))
    table = pd.concat(frames, ignore_index=True)
    table = table.sort_values(["layer", "gate", "unit"], kind="stable", ignore_index=True)
    table.attrs.update(low=low, high=high)  # for the figure's axis labels
    return table


# --- helpers ----------------------------------------------------------------------------------


@functools.cache  # one compiled function for every model: the weights are its argument
def _trace_chunk():
    return compile_function(_trace_chunk_py)


def _trace_chunk_py(values, tokens, state):
    """``tokens [chunk]`` from ``state`` (batch 1) -> (``[chunk, 6 * sum(units) + V]`` rows, the state after):
    per character ``i, f, g, o, c, h`` of every layer, bottom first, then the logits."""
    weights = step_weights(values)
    steps = ops.shape(tokens)[0]
    width = sum(6 * ops.shape(h)[1] for h, _ in state) + ops.shape(weights.dense_bias)[0]  # a tensor where not static
    rows = ops.zeros([steps, width])

    def body(t, carry):
        state, rows = carry
        logits, state, gates = lstm_step(weights, tokens[t][None], state, gates=True)
        per_layer = [x for (h, c), g in zip(state, gates, strict=True) for x in (*g, c, h)]
        row = ops.concatenate([*per_layer, logits], axis=1)
        return state, ops.slice_update(rows, (t, 0), row)

    state, rows = ops.fori_loop(0, steps, body, (state, rows))
    return rows, state


def _check_ids(ids, vocab_size: int) -> np.ndarray:
    array = np.asarray(ids)
    if array.ndim != 1 or not (np.issubdtype(array.dtype, np.integer) or array.size == 0):
        raise ValueError(f"ids must be a 1-D array of character ids [T], got shape {array.shape} of {array.dtype}; "
                         f"use vocab.encode(text)")
    if array.size == 0:
        raise ValueError("ids are empty: give at least one character")
    if array.min() < 0 or array.max() >= vocab_size:
        raise ValueError(f"ids must lie in [0, {vocab_size}) for a model of {vocab_size} characters, got "
                         f"{int(array.min())}..{int(array.max())}; encode the text with the model's own vocabulary")
    return array.astype(np.int64)


def _check_state(state: str) -> str:
    if state not in STATES:
        raise ValueError(f"state must be 'c' (the cell state) or 'h' (the cell's output), got {state!r}")
    return state


def _standardise(x: np.ndarray) -> np.ndarray:
    """Columns shifted to mean 0 and scaled to standard deviation 1; constant columns become NaN."""
    x = x - x.mean(axis=0)
    std = np.sqrt((x * x).mean(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(std > 1e-12 * (1 + np.abs(x).max(axis=0)), x / np.where(std > 0, std, 1), np.nan)


def _is_speaker_line(line: str) -> bool:
    """'ROMEO:', 'KING RICHARD III:': capitals (and spaces, apostrophes...) ending in a colon."""
    name = line[:-1]
    return (line.endswith(":") and any(ch.isalpha() for ch in name)
            and all(ch.isupper() or ch in " '.-&," for ch in name if not ch.isdigit()))
