"""Figures: loss curves in nats and bits per character, the generation loop, the stacked model,
next-character distributions and their entropy, gate saturation, text coloured by a value, and what
each sampling strategy writes. Every figure has a title, labelled axes and units. The HTML tables
and the live training display a notebook shows beside them are in :mod:`~textgen_helpers.display`.
"""

from __future__ import annotations

import itertools
import math
import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .checks import check_scalar
from .sampling import BOOK_TEMPERATURES, apply_temperature, check_temperatures, entropy_bits

HISTORY_CURVES = (  # column, legend label, style
    ("loss", "training text (windows, dropout off)", "-o"),
    ("val_loss", "validation (windows, dropout off)", "-s"),
    ("val_loss_stateful", "validation, state carried (as generation reads)", ":^"),
)
SHANNON_BITS = 1.3  # Shannon's (1951) estimate of the entropy of English, bits per character
LN2 = math.log(2)


def plot_history(history: pd.DataFrame, ax=None, *, title: str = "Training and validation loss",
                 references: dict[str, float] | None = None, ylim: tuple[float, float] | None = None,
                 curves=HISTORY_CURVES, against: str = "epoch", compare: dict[str, pd.DataFrame] | None = None):
    """Loss per epoch, or against minutes of training: nats per character left, bits per character right.

    ``curves`` are (column, label, style) of ``history`` to draw; by default the columns
    :func:`~textgen_helpers.training.train` records: ``loss`` (training text) and ``val_loss``
    (validation tail), read in windows from a zero state with dropout off, and ``val_loss_stateful``
    (the tail read as generation reads it). An epoch cut short (``complete`` False) is a hollow marker.
    ``against="minutes"`` draws against training time on a log scale (``train_seconds`` summed),
    with ``compare``'s runs ({label: history}) as thin lines of their ``val_loss``: give only runs
    scored by the same measure. ``references`` maps a label to a level in bits per character (dashed).
    """
    import matplotlib.pyplot as plt

    if against not in ("epoch", "minutes"):
        raise ValueError(f"against must be 'epoch' or 'minutes', got {against!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    for child in list(ax.child_axes):  # the bits axis of an earlier draw
        child.remove()
    ax.clear()
    x = history["epoch"] if against == "epoch" else history["train_seconds"].cumsum() / 60
    partial = history["complete"].eq(False) if "complete" in history else None
    for column, label, style in curves:
        if column in history and len(history) and history[column].notna().any():
            line, = ax.plot(x, history[column], style, label=label, markersize=4)
            if partial is not None and partial.any():
                ax.plot(x[partial], history[column][partial], style[-1], markersize=7,
                        markerfacecolor="white", color=line.get_color())
    for label, other in (compare or {}).items():
        ax.plot(other["train_seconds"].cumsum() / 60, other["val_loss"], "-", linewidth=1, label=label)
    for (label, bits), color in zip((references or {}).items(),
                                    itertools.cycle(("tab:gray", "tab:purple", "tab:brown"))):
        ax.axhline(bits * LN2, linestyle="--", linewidth=1, color=color, label=f"{label} ({bits:.2f} bits)")
    ax.set_title(title)
    if against == "minutes":  # a log scale: a run of minutes and a run of half an hour both read
        ax.set_xscale("log")
    ax.set_xlabel("epoch" if against == "epoch" else "minutes of training, log scale (scoring and sampling left out)")
    ax.set_ylabel("cross-entropy (nats per character)")
    if ylim is not None:
        ax.set_ylim(*ylim)
    if len(history) and against == "epoch":
        ax.set_xlim(0.5, max(2, int(history["epoch"].max())) + 0.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
    bits = ax.secondary_yaxis("right", functions=(lambda n: n / LN2, lambda b: b * LN2))
    bits.set_ylabel("bits per character")
    ax.grid(alpha=0.3)
    # Under the axes, where no curve can run into it; the xlabel above it is given room by its offset.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize="small", frameon=False)
    return ax


def draw_generation_loop(window: str = "To be, or not to b", probs: dict[str, float] | None = None, ax=None):
    """The book's Figure 10.1: window -> model -> next-character distribution -> sample -> slide."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    probs = probs or {"e": 0.82, "y": 0.06, "a": 0.04, " ": 0.03, "o": 0.02}
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.8))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 4.1)
    ax.axis("off")
    ax.set_title("Generating text one character at a time")
    cell = 9.2 / (len(window) + 1)

    def box(k, char, face, edge, hatch=None):
        ax.add_patch(FancyBboxPatch((0.3 + k * cell, 3.0), cell * 0.85, 0.5, boxstyle="round,pad=0.02",
                                    facecolor=face, edgecolor=edge, hatch=hatch))
        ax.text(0.3 + k * cell + cell * 0.42, 3.25, visible_text(char), ha="center", va="center", family="monospace")

    for k, char in enumerate(window):
        box(k, char, "#e6e6e6" if k == 0 else "#dbe9f6", "#999999" if k == 0 else "#4a7ab0", "//" if k == 0 else None)
    chosen = max(probs, key=probs.get)
    box(len(window), chosen, "#c8ecc7", "#3b8a3a")
    ax.text(0.3, 3.75, f"1. the window: the last {len(window)} characters", fontsize=9)
    ax.text(0.3, 2.65, "4. drop the first character, and repeat", fontsize=9, color="#666666")
    ax.add_patch(FancyBboxPatch((2.6, 1.3), 2.4, 0.8, boxstyle="round,pad=0.05", facecolor="#fde9c8",
                                edgecolor="#c98a1b"))
    ax.text(3.8, 1.7, "stacked LSTM\n(predict)", ha="center", va="center", fontsize=10)
    ax.add_patch(FancyArrowPatch((3.8, 2.95), (3.8, 2.15), arrowstyle="-|>", mutation_scale=15))
    for k, name in enumerate(probs):
        ax.add_patch(plt.Rectangle((5.8 + k * 0.45, 0.45), 0.35, probs[name] * 1.3, color="#7fb77e"))
        ax.text(5.97 + k * 0.45, 0.25, visible_text(name), ha="center", va="center", family="monospace", fontsize=9)
    ax.text(8.15, 0.55, "2. the next-character\n    distribution", fontsize=9)
    ax.add_patch(FancyArrowPatch((5.05, 1.6), (5.75, 1.2), arrowstyle="-|>", mutation_scale=15))
    target_x = 0.3 + len(window) * cell + cell * 0.42
    ax.add_patch(FancyArrowPatch((5.97, 1.6), (target_x, 2.95), arrowstyle="-|>", mutation_scale=15,
                                 connectionstyle="arc3,rad=-0.3", color="#3b8a3a"))
    ax.text(7.35, 1.75, "3. sample at a temperature,\n    append", fontsize=9, color="#3b8a3a")
    return ax


def draw_stacked_lstm(sizes: Sequence[int], vocab_size: int, *, framing: str = "seq2one", sample_len: int = 40,
                      ax=None):
    """A diagram of the stacked model, bottom to top, with each layer's output shape."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    layers = [(f"one-hot input  [batch, {sample_len}, {vocab_size}]", "#dbe9f6")]
    for i, units in enumerate(sizes, start=1):
        sequences = framing == "seq2seq" or i < len(sizes)
        shape = f"[batch, {sample_len}, {units}]" if sequences else f"[batch, {units}]"
        note = "return_sequences=True" if sequences else "last step only"
        layers.append((f"LSTM({units})  {shape}   {note}", "#fde9c8"))
    out = f"[batch, {sample_len}, {vocab_size}]" if framing == "seq2seq" else f"[batch, {vocab_size}]"
    layers.append((f"Dense({vocab_size}, softmax)  {out}", "#c8ecc7"))
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.9 * len(layers) + 0.6))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, len(layers))
    ax.axis("off")
    ax.set_title(f"Stacked LSTM {','.join(map(str, sizes))} ({framing})")
    for k, (label, color) in enumerate(layers):
        ax.add_patch(FancyBboxPatch((1, k + 0.2), 8, 0.55, boxstyle="round,pad=0.03", facecolor=color,
                                    edgecolor="#555555"))
        ax.text(5, k + 0.47, label, ha="center", va="center", family="monospace", fontsize=9)
        if k:
            ax.add_patch(FancyArrowPatch((5, k - 0.22), (5, k + 0.18), arrowstyle="-|>", mutation_scale=12))
    return ax


def plot_next_char_distribution(probs, vocab, temperature: float, *, top: int = 15, ax=None, title: str | None = None):
    """Bar chart of the ``top`` most likely next characters after re-sharpening at ``temperature``."""
    import matplotlib.pyplot as plt

    sharpened = apply_temperature(np.asarray(probs, dtype=np.float64), temperature)
    order = np.argsort(np.asarray(probs))[::-1][:top]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    ax.clear()
    ax.bar(range(len(order)), np.asarray(probs)[order], color="#c7d7ea", label="model (T = 1)")
    ax.bar(range(len(order)), sharpened[order], width=0.5, color="#2f6db5", label=f"T = {temperature:g}")
    ax.set_xticks(range(len(order)), [visible_text(vocab.chars[i]) for i in order], family="monospace")
    ax.set_ylim(0, 1)
    ax.set_xlabel("next character (most likely first)")
    ax.set_ylabel("probability")
    ax.set_title(title or f"Next-character distribution at temperature {temperature:g}")
    ax.legend(loc="upper right")
    return ax


def plot_next_char_panels(probs, vocab, temperatures: Sequence[float], *, top: int = 15, seed_text: str | None = None,
                          ncols: int = 3):
    """Small multiples: the next-character distribution ``probs [V]`` at each temperature, one panel each.

    Every panel shows the same ``top`` characters in the same order (most likely under the model
    first), so a bar can be followed from panel to panel; its height is ``apply_temperature(probs, T)``,
    and each panel's title gives that distribution's entropy in bits. Returns the axes, one per
    temperature, in the order given.
    """
    import matplotlib.pyplot as plt

    temperatures = check_temperatures(temperatures)
    top = check_scalar(top, "top", int, min_value=1)
    ncols = min(check_scalar(ncols, "ncols", int, min_value=1), len(temperatures))
    probs = np.asarray(probs, dtype=np.float64)
    order = np.argsort(probs)[::-1][:top]
    nrows = -(-len(temperatures) // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.0 * nrows), sharey=True, squeeze=False,
                             layout="constrained")
    axes = grid.ravel()
    for ax in axes[len(temperatures):]:
        ax.remove()
    for ax, temperature in zip(axes, temperatures, strict=False):
        sharpened = apply_temperature(probs, temperature)
        ax.bar(range(len(order)), sharpened[order], color="#2f6db5")
        ax.set_xticks(range(len(order)), [visible_text(vocab.chars[i]) for i in order], family="monospace")
        ax.set_ylim(0, 1)
        ax.set_xlabel("character")
        ax.set_ylabel("probability")
        note = " (greedy)" if temperature == 0 else " (the model as it is)" if temperature == 1 else ""
        ax.set_title(f"T = {temperature:g}{note}: {entropy_bits(sharpened):.2f} bits", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    after = f" after {('…' if len(seed_text) > 24 else '') + seed_text[-24:]!r}" if seed_text else ""
    fig.suptitle(f"The next character{after}, at {len(temperatures)} temperatures")
    return axes[:len(temperatures)]


def plot_entropy_vs_temperature(probs, *, temperatures=None, marked: Sequence[float] = BOOK_TEMPERATURES, ax=None,
                                title: str = "How uncertain the next character is, by temperature"):
    """Entropy (bits) of the distribution sampled at each temperature, as a line; ``marked`` as points.

    ``probs [V]`` is the model's next-character distribution; ``temperatures`` defaults to 0..2 in
    steps of 0.02. A dashed line marks the most any distribution over V characters can have,
    log2 V bits (uniform). Returns the axes.
    """
    import matplotlib.pyplot as plt

    probs = np.asarray(probs, dtype=np.float64)
    if temperatures is None:
        temperatures = np.linspace(0, 2, 101)
    temperatures = np.asarray(check_temperatures(temperatures))
    marked = [] if marked is None or len(marked) == 0 else check_temperatures(marked)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    entropy = [entropy_bits(apply_temperature(probs, t)) for t in temperatures]
    ax.plot(temperatures, entropy, "-", color="#2f6db5", label="entropy of the distribution sampled at T")
    ax.axhline(math.log2(len(probs)), linestyle="--", linewidth=1, color="tab:gray",
               label=f"uniform over {len(probs)} characters ({math.log2(len(probs)):.2f} bits)")
    if marked:
        points = [entropy_bits(apply_temperature(probs, t)) for t in marked]
        ax.plot(marked, points, "o", color="#c0392b", label="the book's temperatures")
        for t, bits in zip(marked, points, strict=True):
            below = bits > 0.5  # the curve rises to the right: a label below-right stays clear of it
            ax.annotate(f"T = {t:g}: {bits:.2f} bits", (t, bits), textcoords="offset points",
                        xytext=(6, -12 if below else 6), fontsize=8)
    ax.set_xlim(float(min(temperatures)), float(max(temperatures)))
    ax.set_ylim(0, math.log2(len(probs)) * 1.08)
    ax.set_xlabel("temperature T")
    ax.set_ylabel("entropy of the next character (bits)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_gate_saturation(saturation: pd.DataFrame, *, title: str = "How often the gates saturate"):
    """The paper's figure 3 (Karpathy et al. 2015): one panel per gate, one dot per unit.

    ``saturation`` is :func:`~textgen_helpers.activations.gate_saturation`'s table (columns
    ``layer, gate, unit, left, right``). A dot's x is the fraction of characters where that unit's
    gate is nearly shut, its y the fraction where it is nearly open (the axis labels give the
    thresholds the table was counted with); layers have their own colours. Dots on the dashed
    diagonal are saturated all the time; dots near (0, 0) never are. One legend for the whole
    figure, below the panels, names the layers. Returns the axes.
    """
    import matplotlib.pyplot as plt

    missing = {"layer", "gate", "unit", "left", "right"} - set(saturation.columns)
    if missing:
        raise ValueError(f"saturation needs the columns of gate_saturation()'s table; missing {sorted(missing)}")
    gates = [gate for gate in ("forget", "input", "output") if gate in set(saturation["gate"])]
    low, high = saturation.attrs.get("low"), saturation.attrs.get("high")  # the thresholds, if the table says
    shut, open_ = ("", "") if low is None or high is None else (f", < {low:g}", f", > {high:g}")
    fig, axes = plt.subplots(1, len(gates), figsize=(4.1 * len(gates) + 0.4, 4.8), squeeze=False,
                             layout="constrained", sharey=True)
    for k, (ax, gate) in enumerate(zip(axes[0], gates, strict=True)):
        rows = saturation[saturation["gate"] == gate]
        for layer, group in rows.groupby("layer"):
            ax.scatter(group["left"], group["right"], s=14, alpha=0.7, label=f"layer {layer} ({len(group)} units)")
        ax.plot([0, 1], [1, 0], "--", color="tab:gray", linewidth=1, label="always saturated")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_aspect("equal")
        ax.set_xlabel(f"share of characters nearly shut{shut}\n(left-saturated)")
        if k == 0:  # the panels share the y axis: one label, not three crowding the panels beside them
            ax.set_ylabel(f"share of characters nearly open{open_}\n(right-saturated)")
        ax.set_title(f"{gate} gate")
        ax.grid(alpha=0.3)
    legend = {}  # label -> handle over all panels, in the order drawn: each layer once, however many panels
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    fig.legend(legend.values(), legend.keys(), loc="outside lower center", ncols=len(legend), frameon=False,
               markerscale=1.5)
    fig.suptitle(title)
    return axes[0]


def plot_colored_text(text: str, values, *, cmap: str = "RdBu_r", vmin: float | None = None,
                      vmax: float | None = None, title: str | None = None, label: str = "value", width: int = 80):
    """``text`` drawn as a grid of characters, each on a background coloured by ``values [len(text)]``.

    A picture, so it reads the same in Jupyter, Colab and on GitHub (whose notebook view drops the
    colours of HTML; :func:`~textgen_helpers.display.colored_text_html` is the HTML twin). A newline
    shows as ``↵`` and ends its row, a row longer than ``width`` characters wraps, a NaN value
    leaves its character on white, and the colour bar names ``label`` (give units) from ``vmin``
    (default: the smallest value) to ``vmax`` (default: the largest). A ``title`` wider than the
    figure wraps onto more lines. Returns the figure.
    """
    import matplotlib.pyplot as plt

    values, vmin, vmax = text_color_scale(text, values, vmin, vmax)
    colormap = named_colormap(cmap)
    width = check_scalar(width, "width", int, min_value=10)
    cells, row, col = [], 0, 0  # (row, column, shown character, value)
    for char, value in zip(text, values, strict=True):
        if col == width:
            row, col = row + 1, 0
        cells.append((row, col, "↵" if char == "\n" else char, value))
        row, col = (row + 1, 0) if char == "\n" else (row, col + 1)
    rows = max((r for r, *_ in cells), default=0) + 1
    columns = max((c for _, c, *_ in cells), default=0) + 1  # as wide as the longest row, no wider
    grid = np.full((rows, columns), np.nan)
    for r, c, _, value in cells:
        grid[r, c] = value
    fig, ax = plt.subplots(figsize=(0.105 * max(columns, 40) + 0.6, 0.2 * rows + 1.3), layout="constrained")
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=colormap.with_extremes(bad="white"), vmin=vmin, vmax=vmax,
                      aspect="auto", interpolation="nearest")
    for r, c, char, value in cells:
        if not char.isspace():
            ink = cell_colors(colormap, (value - vmin) / (vmax - vmin))[1] if np.isfinite(value) else "#000000"
            ax.text(c, r, char, ha="center", va="center", fontsize=9, family="monospace", color=ink)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"{len(text):,} characters, at most {width} to a row; ↵ is a line break")
    if title:  # wrapped to the figure's width (a title font's ~10 characters an inch): no wider image
        width = int(10 * (fig.get_figwidth() - 0.3))
        ax.set_title("\n".join(textwrap.fill(line, width) for line in title.split("\n")), loc="left")
    fig.colorbar(image, ax=ax, orientation="horizontal", location="bottom", aspect=60, shrink=0.8).set_label(label)
    return fig


def plot_strategies(table: pd.DataFrame, *, reference: dict | None = None, marked: Sequence[float] = BOOK_TEMPERATURES,
                    title: str = "What each sampling strategy writes"):
    """Real words and repetition against the model's surprise, one line per family of strategies.

    ``table`` is :func:`~textgen_helpers.strategies.measure_strategies`'s; ``reference`` (optional)
    places a real text: ``{"label", "surprise_bits", "real_words", "distinct_4grams"}``. Each
    temperature's dot is coloured by its T, blue below 1 (sharpened), red above (flattened), and
    the colour scale under the panels names every temperature measured; points at the temperatures
    in ``marked`` (the book's) are ringed. The filters' values are in the legend; their hollow
    markers are drawn under the temperature dots, so none hides another. Returns the figure.
    """
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import BoundaryNorm, ListedColormap, to_hex

    needed = {"family", "temperature", "top_k", "top_p", "surprise_bits", "real_words", "distinct_4grams"}
    if not needed <= set(table.columns):
        raise ValueError(f"table lacks the columns {sorted(needed - set(table.columns))}; "
                         "pass measure_strategies()'s table")
    marked = [] if marked is None or len(marked) == 0 else check_temperatures(marked)
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.4), sharex=True, layout="constrained")
    measures = (("real_words", "real words (share of generated words, 0 to 1)"),
                ("distinct_4grams", "distinct word 4-grams (share of all, 0 to 1)"))
    filters = [family for family in dict.fromkeys(table["family"]) if family != "temperature"]
    temperatures = table[table["family"] == "temperature"].sort_values("surprise_bits")
    shades = sorted(set(temperatures["temperature"]))
    hottest, coolwarm = max(shades, default=1.0), matplotlib.colormaps["coolwarm"]  # blue at T = 0, grey at 1
    colors = {t: to_hex(coolwarm(0.5 * t if t <= 1 else 0.5 + 0.5 * (t - 1) / (hottest - 1))) for t in shades}
    for ax, (column, ylabel) in zip(axes, measures, strict=True):
        if len(temperatures):  # a grey line through the dots, each dot in its temperature's colour
            ax.plot(temperatures["surprise_bits"], temperatures[column], "-", color="#8c8c8c", linewidth=1.2,
                    zorder=2, label="temperature")
            ax.scatter(temperatures["surprise_bits"], temperatures[column], s=36, zorder=3, linewidths=0.6,
                       c=[colors[t] for t in temperatures["temperature"]], edgecolors="#333333")
            book = temperatures[temperatures["temperature"].isin(marked)]
            ax.plot(book["surprise_bits"], book[column], "o", markersize=12, markerfacecolor="none",
                    markeredgecolor="black", zorder=4,
                    label=f"the book's temperatures ({', '.join(f'{t:g}' for t in marked)})")
        for family, color, marker in zip(filters, itertools.cycle(("#2e8b57", "#6a3d9a", "#8c564b")),
                                         itertools.cycle("s^D"), strict=False):
            rows = table[table["family"] == family].sort_values("surprise_bits")
            name = f"{family} at T = {', '.join(f'{t:g}' for t in sorted(set(rows['temperature'])))}"
            column_of = {"top-k": "top_k", "top-p": "top_p"}.get(family)
            if column_of is not None:  # the values in the legend, in the order the line passes them
                name += f" ({family[-1]} = {', '.join(f'{v:g}' for v in rows[column_of])}, left to right)"
            ax.plot(rows["surprise_bits"], rows[column], "-", marker=marker, color=color, markersize=8,
                    markerfacecolor="none", linewidth=1.2, zorder=2, label=name)
        if reference is not None:
            ax.plot([reference["surprise_bits"]], [reference[column]], "*", markersize=14, color="#f39c12",
                    markeredgecolor="black", zorder=4, label=reference.get("label", "real text"))
        ax.set_xlabel("model's own surprise at what was written (bits per character, read at T = 1)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[1].legend(loc="lower right", fontsize="small")
    if shades:  # one swatch per temperature measured, each named: the key to the dots' colours
        key = ScalarMappable(BoundaryNorm(range(len(shades) + 1), len(shades)),
                             ListedColormap([colors[t] for t in shades]))
        bar = fig.colorbar(key, ax=axes, location="bottom", aspect=60, shrink=0.6)
        bar.set_ticks([k + 0.5 for k in range(len(shades))], labels=[f"{t:g}" for t in shades])
        bar.set_label("temperature T of each dot (blue: sharpened, T < 1; red: flattened, T > 1)")
    fig.suptitle(title)
    return fig


# Shared with display.py, whose tables and coloured text show characters and colours as these figures do.

def visible_text(text: str) -> str:
    """Newlines and spaces made visible for figures and tables."""
    return text.replace("\n", "⏎").replace(" ", "␣") if len(text) == 1 else text.replace("\n", "⏎")


def text_color_scale(text: str, values, vmin: float | None, vmax: float | None) -> tuple[np.ndarray, float, float]:
    """Check a text and its ``values [len(text)]``; return the values as floats and the colour scale's ends
    (by default the smallest and the largest finite value)."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (len(text),):
        raise ValueError(f"values must be one number per character, shape ({len(text)},); got shape {values.shape}")
    finite = values[np.isfinite(values)]
    vmin = check_scalar(vmin, "vmin", float, allow_none=True)
    vmax = check_scalar(vmax, "vmax", float, allow_none=True)
    vmin = vmin if vmin is not None else float(finite.min()) if finite.size else 0.0
    vmax = vmax if vmax is not None else float(finite.max()) if finite.size else 1.0
    if vmax <= vmin:
        if finite.size and finite.min() == finite.max():
            vmax = vmin + 1.0  # every value the same: one colour, any scale will do
        else:
            raise ValueError(f"vmax must be greater than vmin, got vmin={vmin:g}, vmax={vmax:g}")
    return values, vmin, vmax


def named_colormap(cmap: str):
    """The matplotlib colormap called ``cmap``, or a ValueError that says what names look like."""
    import matplotlib

    if not isinstance(cmap, str) or cmap not in matplotlib.colormaps:
        raise ValueError(f"cmap must be the name of a matplotlib colormap such as 'RdBu_r' or 'viridis', got {cmap!r}")
    return matplotlib.colormaps[cmap]


def cell_colors(colormap, fraction: float) -> tuple[str, str]:
    """(background, text colour) for a value at ``fraction`` of the scale: dark backgrounds get white ink."""
    red, green, blue, _ = colormap(float(min(max(fraction, 0.0), 1.0)))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}", (
        "#ffffff" if luminance < 0.45 else "#000000")
