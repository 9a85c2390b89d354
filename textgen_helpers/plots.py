"""Plots: loss curves in nats and bits per character, the generation loop, the stacked model,
next-character distributions at several temperatures and their entropy. Every figure has a title,
labelled axes and units.
"""

from __future__ import annotations

import html
import itertools
import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .checks import check_scalar
from .sampling import BOOK_TEMPERATURES, apply_temperature, check_temperatures

HISTORY_CURVES = (  # column, legend label, style
    ("loss", "training text (windows, dropout off)", "-o"),
    ("val_loss", "validation (windows, dropout off)", "-s"),
    ("val_loss_stateful", "validation, state carried (as generation reads)", ":^"),
)
SHANNON_BITS = 1.3  # Shannon's (1951) estimate of the entropy of English, bits per character
LN2 = math.log(2)


def plot_history(history: pd.DataFrame, ax=None, *, title: str = "Training and validation loss",
                 references: dict[str, float] | None = None, ylim: tuple[float, float] | None = None):
    """Loss per epoch: nats per character on the left axis, bits per character on the right.

    The curves are the columns :func:`~textgen_helpers.training.train` records: ``loss`` (training
    text) and ``val_loss`` (validation tail), both read in windows from a zero state with dropout
    off, and, where present, ``val_loss_stateful`` (the tail read with the state carried, as
    generation reads it). An epoch cut short (``complete`` False) is drawn as a hollow marker.
    ``references`` maps a label to a level in bits per character (drawn as dashed lines), such
    as ``{"Shannon's estimate for English": 1.3, "best 5-gram": 2.1}``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    for child in list(ax.child_axes):  # the bits axis of an earlier draw
        child.remove()
    ax.clear()
    partial = history["complete"].eq(False) if "complete" in history else None
    for column, label, style in HISTORY_CURVES:
        if column in history and len(history) and history[column].notna().any():
            line, = ax.plot(history["epoch"], history[column], style, label=label, markersize=4)
            if partial is not None and partial.any():
                ax.plot(history["epoch"][partial], history[column][partial], style[-1], markersize=7,
                        markerfacecolor="white", color=line.get_color())
    for (label, bits), color in zip((references or {}).items(), itertools.cycle(("tab:gray", "tab:purple", "tab:brown"))):
        ax.axhline(bits * LN2, linestyle="--", linewidth=1, color=color, label=f"{label} ({bits:.2f} bits)")
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy (nats per character)")
    if ylim is not None:
        ax.set_ylim(*ylim)
    if len(history):
        ax.set_xlim(0.5, max(2, int(history["epoch"].max())) + 0.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
    bits = ax.secondary_yaxis("right", functions=(lambda n: n / LN2, lambda b: b * LN2))
    bits.set_ylabel("bits per character")
    ax.grid(alpha=0.3)
    # Under the axes, where no curve can run into it; the xlabel above it is given room by its offset.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize="small", frameon=False)
    return ax


class LiveTraining:
    """An ``on_epoch_end`` hook for :func:`~textgen_helpers.training.train` that redraws, in place,
    the loss curves and the table of samples (epochs x temperatures) after every epoch.

    >>> live = LiveTraining(references={"Shannon": 1.3})      # doctest: +SKIP
    >>> run = train(model, vocab, text, epochs=10, on_epoch_end=live, verbose=0)   # doctest: +SKIP
    """

    def __init__(self, *, title: str = "Training and validation loss", references: dict[str, float] | None = None,
                 ylim: tuple[float, float] | None = None, show_samples: bool = True, sample_width: int = 60):
        self.title, self.references, self.ylim = title, references, ylim
        self.show_samples, self.sample_width = show_samples, sample_width
        self._plot_handle = self._table_handle = None
        self._figure = None

    def __call__(self, run) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        if self._figure is None:
            self._figure, ax = plt.subplots(figsize=(8, 4.5))
            plt.close(self._figure)  # shown through the display handle only, not again at cell end
        ax = self._figure.axes[0]
        plot_history(run.history, ax, title=self.title, references=self.references, ylim=self.ylim)
        if self._plot_handle is None:
            self._plot_handle = display(self._figure, display_id=True)
        else:
            self._plot_handle.update(self._figure)
        if self.show_samples and not run.samples.empty:
            table = samples_table_html(run.samples_table(), self.sample_width)
            if self._table_handle is None:
                self._table_handle = display(table, display_id=True)
            else:
                self._table_handle.update(table)


def samples_table_html(table: pd.DataFrame, width: int = 60):
    """A samples table (epochs x temperatures) as HTML that keeps line breaks visible as ``⏎``, and as ``␣``
    the spaces HTML would collapse or drop: runs of two or more, and any at either end (so a sample of
    spaces only shows as ``␣␣␣…``, not as an empty cell)."""
    from IPython.display import HTML

    shown = table.map(lambda s: _collapsible_spaces_shown(_visible(s[:width])))
    return HTML(shown.to_html(escape=True).replace("<td>", '<td style="font-family: monospace; text-align: left">'))


def table_10_1_html(book: dict, history: pd.DataFrame, samples: pd.DataFrame, *, true_continuation: str | None = None,
                    label: str = "textgen"):
    """The book's Table 10.1 beside a run of ours, row by row.

    ``book`` is :func:`~textgen_helpers.book.load_book_table`'s; ``history`` has ``epoch`` and
    ``val_loss`` (nats per character) and ``samples`` has ``epoch``, ``temperature`` and ``text``, as
    a :class:`~textgen_helpers.training.TrainingRun` or :func:`~textgen_helpers.book.load_book_run`
    holds them. For each of the book's epochs: the book's row, then ours at the same epoch (marked
    "not trained" where the run stopped earlier). The seed text and the true continuation each take
    a full-width row. Line breaks show as ``⏎``.
    """
    from IPython.display import HTML

    temperatures = [float(t) for t in book["temperatures"]]
    cell = 'style="font-family: monospace; text-align: left; vertical-align: top; white-space: pre-wrap; ' \
           'word-break: break-all; font-size: 85%"'
    wide = f'<td colspan="{len(temperatures) + 1}" {cell}>'
    head = "".join(f"<th>T = {t:g}</th>" for t in temperatures)
    rows = [f"<tr><th></th><th>validation loss (nats/char)</th>{head}</tr>",
            f"<tr><th>seed text</th>{wide}{_shown(book['seed_text'])}</td></tr>",
            f"<tr><th>true continuation</th>{wide}"
            f"{_shown(true_continuation or book['true_continuation'])}</td></tr>"]
    losses = dict(zip(history["epoch"].astype(int), history["val_loss"], strict=True)) if len(history) else {}
    texts = {(int(e), float(t)): s for e, t, s in samples[["epoch", "temperature", "text"]].itertuples(index=False)}
    for row in book["rows"]:
        epoch = int(row["epoch"])
        book_cells = "".join(f"<td {cell}>{_shown(row['samples'][f'T = {t:g}'])}</td>" for t in temperatures)
        rows.append(f"<tr><th>epoch {epoch}, the book</th><td>{row['book_val_loss_nats']:.2f}</td>{book_cells}</tr>")
        if epoch in losses:
            ours = "".join(f"<td {cell}>{_shown(texts.get((epoch, t), ''))}</td>" for t in temperatures)
            rows.append(f"<tr><th>epoch {epoch}, {_shown(label)}</th><td>{losses[epoch]:.2f}</td>{ours}</tr>")
        else:
            rows.append(f"<tr><th>epoch {epoch}, {_shown(label)}</th>{wide}not trained this far</td></tr>")
    return HTML(f'<table class="dataframe">{"".join(rows)}</table>')


def _collapsible_spaces_shown(text: str) -> str:
    """Runs of two or more spaces, and spaces at either end, each shown as ``␣``; single spaces between words stay."""
    return re.sub(r"^ +| +$| {2,}", lambda match: "␣" * len(match.group()), text)


def _shown(text: str) -> str:
    """Text for an HTML cell that keeps its line breaks, each marked ``⏎``."""
    from html import escape

    return escape(text.replace("\n", "⏎\n"))


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
        ax.text(0.3 + k * cell + cell * 0.42, 3.25, _visible(char), ha="center", va="center", family="monospace")

    for k, char in enumerate(window):
        box(k, char, "#e6e6e6" if k == 0 else "#dbe9f6", "#999999" if k == 0 else "#4a7ab0", "//" if k == 0 else None)
    chosen = max(probs, key=probs.get)
    box(len(window), chosen, "#c8ecc7", "#3b8a3a")
    ax.text(0.3, 3.75, f"1. the window: the last {len(window)} characters", fontsize=9)
    ax.text(0.3, 2.65, "4. drop the first character, and repeat", fontsize=9, color="#666666")
    ax.add_patch(FancyBboxPatch((2.6, 1.3), 2.4, 0.8, boxstyle="round,pad=0.05", facecolor="#fde9c8", edgecolor="#c98a1b"))
    ax.text(3.8, 1.7, "stacked LSTM\n(predict)", ha="center", va="center", fontsize=10)
    ax.add_patch(FancyArrowPatch((3.8, 2.95), (3.8, 2.15), arrowstyle="-|>", mutation_scale=15))
    for k, name in enumerate(probs):
        ax.add_patch(plt.Rectangle((5.8 + k * 0.45, 0.45), 0.35, probs[name] * 1.3, color="#7fb77e"))
        ax.text(5.8 + k * 0.45 + 0.17, 0.25, _visible(name), ha="center", va="center", family="monospace", fontsize=9)
    ax.text(8.15, 0.55, "2. the next-character\n    distribution", fontsize=9)
    ax.add_patch(FancyArrowPatch((5.05, 1.6), (5.75, 1.2), arrowstyle="-|>", mutation_scale=15))
    target_x = 0.3 + len(window) * cell + cell * 0.42
    ax.add_patch(FancyArrowPatch((5.97, 1.6), (target_x, 2.95), arrowstyle="-|>", mutation_scale=15,
                                 connectionstyle="arc3,rad=-0.3", color="#3b8a3a"))
    ax.text(7.35, 1.75, "3. sample at a temperature,\n    append", fontsize=9, color="#3b8a3a")
    return ax


def draw_stacked_lstm(sizes: Sequence[int], vocab_size: int, *, framing: str = "seq2one", sample_len: int = 40, ax=None):
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
        ax.add_patch(FancyBboxPatch((1, k + 0.2), 8, 0.55, boxstyle="round,pad=0.03", facecolor=color, edgecolor="#555555"))
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
    ax.set_xticks(range(len(order)), [_visible(vocab.chars[i]) for i in order], family="monospace")
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
        ax.set_xticks(range(len(order)), [_visible(vocab.chars[i]) for i in order], family="monospace")
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
    colours of HTML; :func:`colored_text_html` is the HTML twin). A
    newline shows as ``↵`` and ends its row, a row longer than ``width`` characters wraps, a NaN
    value leaves its character on white, and the colour bar names ``label`` (give units) from
    ``vmin`` (default: the smallest value) to ``vmax`` (default: the largest). A ``title`` wider
    than the figure wraps onto more lines. Returns the figure.
    """
    import matplotlib.pyplot as plt

    values, vmin, vmax = _text_color_scale(text, values, vmin, vmax)
    colormap = _colormap(cmap)
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
    shown = colormap.with_extremes(bad="white")
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=shown, vmin=vmin, vmax=vmax, aspect="auto",
                      interpolation="nearest")
    for r, c, char, value in cells:
        if not char.isspace():
            ink = _colors(colormap, (value - vmin) / (vmax - vmin))[1] if np.isfinite(value) else "#000000"
            ax.text(c, r, char, ha="center", va="center", fontsize=9, family="monospace", color=ink)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(f"{len(text):,} characters, at most {width} to a row; ↵ is a line break")
    if title:  # wrapped to the figure's width: a longer line would widen the image with blank space
        _set_wrapped_title(ax, title, width_inches=fig.get_figwidth() - 0.3)
    fig.colorbar(image, ax=ax, orientation="horizontal", location="bottom", aspect=60, shrink=0.8).set_label(label)
    return fig


def colored_text_html(text: str, values, *, cmap: str = "RdBu_r", vmin: float | None = None,
                      vmax: float | None = None, title: str | None = None, label: str = "value",
                      tooltips: bool = True):
    """``text`` with each character's background coloured by ``values [len(text)]``; an ``IPython.display.HTML``.

    Plain HTML with inline styles only (Colab drops ``<style>`` blocks and scripts; GitHub's
    notebook view drops styles altogether, so for a notebook read there draw
    :func:`plot_colored_text` instead): the text is escaped, a newline shows as ``⏎`` before its line break, a NaN
    value leaves its character uncoloured, and a legend under the text names ``label`` and the
    colour scale from ``vmin`` (default: the smallest value) to ``vmax`` (default: the largest).
    ``tooltips`` puts each value in its character's ``title`` (shown on hover in Jupyter).
    """
    from IPython.display import HTML

    values, vmin, vmax = _text_color_scale(text, values, vmin, vmax)
    colormap = _colormap(cmap)
    spans = []
    for char, value in zip(text, values, strict=True):
        shown = "⏎" if char == "\n" else html.escape(char, quote=True)
        if np.isfinite(value):
            background, ink = _colors(colormap, (value - vmin) / (vmax - vmin))
            style = f"background-color:{background}" + ("" if ink == "#000000" else f";color:{ink}")
            tip = f' title="{value:.3g}"' if tooltips else ""
            spans.append(f'<span style="{style}"{tip}>{shown}</span>')
        else:
            spans.append(shown)
        if char == "\n":
            spans.append("\n")
    heading = (f'<div style="font-weight: bold; margin-bottom: 4px">{html.escape(title, quote=True)}</div>'
               if title else "")
    body = ('<pre style="white-space: pre-wrap; word-break: break-all; font-family: monospace; font-size: 12px; '
            'line-height: 1.45; margin: 0; padding: 4px; background-color: #ffffff; color: #000000">'
            + "".join(spans) + "</pre>")
    return HTML(f'<div style="margin: 6px 0">{heading}{body}{_legend(colormap, vmin, vmax, label)}</div>')


def plot_strategies(table: pd.DataFrame, *, reference: dict | None = None, marked: Sequence[float] = BOOK_TEMPERATURES,
                    title: str = "What each sampling strategy writes"):
    """Real words and repetition against the model's surprise, one line per family of strategies.

    ``table`` is :func:`~textgen_helpers.strategies.measure_strategies`'s; ``reference`` (optional)
    places a real text: ``{"label", "surprise_bits", "real_words", "distinct_4grams"}``. Points at
    the temperatures in ``marked`` (the book's) are ringed. On the left, each temperature is written
    beside its point where it covers no other label, point or line; the filters' values are in the
    legend. Temperature points are drawn above the filters' hollow ones, so none hides another.
    Returns the figure.
    """
    import matplotlib.pyplot as plt

    needed = {"family", "temperature", "top_k", "top_p", "surprise_bits", "real_words", "distinct_4grams"}
    if not needed <= set(table.columns):
        raise ValueError(f"table lacks the columns {sorted(needed - set(table.columns))}; pass measure_strategies()'s table")
    marked = [] if marked is None or len(marked) == 0 else check_temperatures(marked)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharex=True)
    measures = (("real_words", "real words (share of generated words, 0 to 1)"),
                ("distinct_4grams", "distinct word 4-grams (share of all, 0 to 1)"))
    families = list(dict.fromkeys(table["family"]))
    styles = dict(zip(families, zip(itertools.cycle(("#2f6db5", "#c0392b", "#2e8b57", "#8e44ad")),
                                    itertools.cycle(("o", "s", "^", "D")), strict=False), strict=False))
    labels: list[tuple[str, tuple[float, float]]] = []
    for ax, (column, ylabel) in zip(axes, measures, strict=True):
        for family in families:
            color, marker = styles[family]
            rows = table[table["family"] == family].sort_values("surprise_bits")
            temps = sorted(set(rows["temperature"]))
            name = family if family == "temperature" else f"{family} at T = {', '.join(f'{t:g}' for t in temps)}"
            column_of = {"top-k": "top_k", "top-p": "top_p"}.get(family)
            if column_of is not None:  # the values in the legend, in the order the line passes them
                name += f" ({family[-1]} = {', '.join(f'{v:g}' for v in rows[column_of])}, left to right)"
            if family == "temperature":  # small filled dots on top: a filter's point at the same spot rings them
                ax.plot(rows["surprise_bits"], rows[column], "o-", color=color, markersize=4, zorder=3, label=name)
            else:
                ax.plot(rows["surprise_bits"], rows[column], "-", marker=marker, color=color, markersize=6.5,
                        markerfacecolor="none", linewidth=1.2, zorder=2, label=name)
            if family == "temperature" and column == "real_words":  # each T beside its point; the filters' are in the legend
                labels = [(", ".join(f"{t:g}" for t in sorted(temperatures)), xy)
                          for temperatures, xy in _label_groups(rows, "surprise_bits", column, table)]
            if family == "temperature" and marked:
                book = rows[rows["temperature"].isin(marked)]
                ax.plot(book["surprise_bits"], book[column], "o", markersize=11, markerfacecolor="none",
                        markeredgecolor="black", zorder=4, label="the book's temperatures (0, 0.25, 0.5, 0.75)")
        if reference is not None:
            ax.plot([reference["surprise_bits"]], [reference[column]], "*", markersize=14, color="#f39c12",
                    markeredgecolor="black", zorder=4, label=reference.get("label", "real text"))
        ax.set_xlabel("model's own surprise at what was written (bits per character, read at T = 1)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[1].legend(loc="lower right", fontsize="small")
    color = styles.get("temperature", ("black",))[0]
    if labels:
        axes[0].set_title("numbers beside the dots: their temperature T", fontsize=9, color=color)
    fig.suptitle(title)
    fig.tight_layout()
    _place_labels(axes[0], labels, color=color)  # once the layout is final: it places them in pixels
    return fig


def _label_groups(rows: pd.DataFrame, x: str, y: str, table: pd.DataFrame, near: float = 0.02):
    """Temperatures of consecutive points that nearly coincide (within ``near`` of the table's range on
    both axes), with the first point of each group: one label per group, so none overprint."""
    span_x = float(np.ptp(table[x])) or 1.0
    span_y = float(np.ptp(table[y])) or 1.0
    groups: list[tuple[list[float], tuple[float, float]]] = []
    for _, row in rows.iterrows():
        if groups and (abs(row[x] - groups[-1][1][0]) < near * span_x and abs(row[y] - groups[-1][1][1]) < near * span_y):
            groups[-1][0].append(row["temperature"])
        else:
            groups.append(([row["temperature"]], (row[x], row[y])))
    return groups


# Where a label may go: its nearest edge at a distance (points) from its point, in a direction
# (degrees), with a score: the distance, five times over above the point (below is the empty side
# of a line that falls to the right), plus a little for each step away from straight below.
_LABEL_ANGLES = (270, 248, 292, 225, 315, 202, 338, 180, 0, 158, 22, 135, 45, 112, 68, 90)
_LABEL_OFFSETS = [(distance, angle, distance * (5 if 0 < angle < 180 else 1) + 0.1 * rank)
                  for distance in (4, 8, 13, 19, 26, 34, 44, 56, 70) for rank, angle in enumerate(_LABEL_ANGLES)]


def _place_labels(ax, labels: Sequence[tuple[str, tuple[float, float]]], *, color: str, fontsize: float = 8,
                  pad: float = 2.0) -> None:
    """Write each ``(text, (x, y))`` label of ``ax`` near its point where it stays inside the axes and
    covers no other label, marker or line; a label set more than a few points off gets a leader line
    that crosses no other label, leader or marker. Of the layouts that do so, it takes the one whose
    labels sit nearest their points, below them where it can (the ``_LABEL_OFFSETS`` scores). Where a
    label has no such place, the axes' margins widen (up to 20%) to make room at the edges.
    Deterministic; call it once the figure's layout is final: it works in pixels."""
    if not labels:
        return
    for margin in (None, 0.1, 0.15, 0.2):
        if margin is not None:
            ax.margins(margin)
        options = _all_label_options(ax, labels, fontsize, pad)
        if all(any(option["cost"] == 0 for option in label) for label in options):
            break
    chosen = _best_layout(options)
    for (text, xy), option in zip(labels, chosen, strict=True):
        arrow = dict(arrowstyle="-", color=color, linewidth=0.6, shrinkA=0, shrinkB=2) if option["leader"] else None
        ax.annotate(text, xy, textcoords="offset points", xytext=option["offset"], ha=option["ha"], va=option["va"],
                    fontsize=fontsize, color=color, arrowprops=arrow)


def _all_label_options(ax, labels, fontsize: float, pad: float) -> list[list[dict]]:
    """:func:`_label_options` for each label, against every marker and line of ``ax`` as it stands."""
    ax.get_xlim(), ax.get_ylim()  # settle the autoscaled limits before reading positions
    px = ax.get_figure().dpi / 72  # pixels per point
    markers: list[tuple[float, float, float, float]] = []  # boxes in pixels
    segments: list[tuple[tuple[float, float], tuple[float, float]]] = []
    for line in ax.get_lines():
        xy = [tuple(p) for p in ax.transData.transform(line.get_xydata()).tolist()]
        if line.get_marker() not in (None, "", " ", "None", "none"):
            half = line.get_markersize() * px / 2 + pad
            markers += [(x - half, y - half, x + half, y + half) for x, y in xy]
        if line.get_linestyle() not in ("None", "", " ", "none") and len(xy) > 1:
            segments += list(zip(xy[:-1], xy[1:], strict=True))
    return [_label_options(ax, text, tuple(ax.transData.transform(xy).tolist()), fontsize, px, pad,
                           ax.get_window_extent(), markers, segments) for text, xy in labels]


def _best_layout(options: list[list[dict]], budget: int = 20_000) -> list[dict]:
    """One option per label, none touching another, with the least total ``score``: a branch-and-bound
    search over each label's free options (``cost`` 0; for a label with none, those of its least
    cost), at most ``budget`` steps; where it finds no such layout, each label in turn takes its
    option that touches the fewest things."""
    free = [[o for o in label if o["cost"] == min(option["cost"] for option in label)] for label in options]
    touching: dict[tuple[int, int], bool] = {}

    def touch(a: dict, b: dict) -> bool:  # remembered: the search asks about the same pairs again and again
        key = (id(a), id(b))
        if key not in touching:
            touching[key] = _touch(a, b)
        return touching[key]

    order = sorted(range(len(options)), key=lambda k: len(free[k]))  # the most constrained label first
    floor = [min((o["score"] for o in free[k]), default=math.inf) for k in order]
    rest = [sum(floor[i:]) for i in range(len(order) + 1)]
    best: list = [math.inf, None]
    steps = 0

    def search(i: int, chosen: list[dict], score: float) -> None:
        nonlocal steps
        if score + rest[i] >= best[0] or steps >= budget:
            return
        if i == len(order):
            best[:] = [score, list(chosen)]
            return
        for option in free[order[i]]:
            steps += 1
            if not any(touch(option, other) for other in chosen):
                search(i + 1, [*chosen, option], score + option["score"])

    search(0, [], 0.0)
    if best[1] is not None:
        by_label = dict(zip(order, best[1], strict=True))
        return [by_label[k] for k in range(len(options))]
    chosen: list[dict] = []
    for label in options:
        chosen.append(min(label, key=lambda o: o["cost"] + 10 * sum(_touch(o, other) for other in chosen)))
    return chosen


def _label_options(ax, text: str, point: tuple[float, float], fontsize: float, px: float, pad: float, frame,
                   markers, segments) -> list[dict]:
    """Every place in ``_LABEL_OFFSETS`` for one label, in pixels, each with its ``score`` (how far,
    from ``_LABEL_OFFSETS``) and its ``cost``: how many markers and lines it covers, its leader line
    included, and 1 more if it leaves the axes."""
    probe = ax.text(0, 0, text, fontsize=fontsize)
    extent = probe.get_window_extent()
    probe.remove()
    width, height = float(extent.width), float(extent.height)
    options = []
    for distance, angle, score in _LABEL_OFFSETS:
        dx, dy = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        ha = "right" if dx < -0.3 else "left" if dx > 0.3 else "center"
        va = "top" if dy < -0.3 else "bottom" if dy > 0.3 else "center"
        anchor_x, anchor_y = point[0] + distance * px * dx, point[1] + distance * px * dy
        x0 = {"right": anchor_x - width, "left": anchor_x, "center": anchor_x - width / 2}[ha]
        y0 = {"top": anchor_y - height, "bottom": anchor_y, "center": anchor_y - height / 2}[va]
        box = _grown((x0, y0, x0 + width, y0 + height), pad)
        leader = (point, (x0 + width / 2, y0 + height / 2)) if distance > 6 else None
        cost = int(box[0] < frame.x0 or box[1] < frame.y0 or box[2] > frame.x1 or box[3] > frame.y1)
        cost += sum(_boxes_overlap(box, marker) for marker in markers)
        cost += sum(_segment_crosses_box(a, b, box) for a, b in segments)
        if leader is not None:  # it may cross no marker but its own point's
            cost += sum(_segment_crosses_box(*leader, m) for m in markers
                        if not (m[0] <= point[0] <= m[2] and m[1] <= point[1] <= m[3]))
        options.append(dict(box=box, ha=ha, va=va, offset=(round(distance * dx, 3), round(distance * dy, 3)),
                            leader=leader, cost=cost, score=score))
    return options


def _touch(a: dict, b: dict) -> bool:
    """Whether two placed labels touch: their boxes overlap, or a leader line crosses the other's
    box or leader."""
    if _boxes_overlap(a["box"], b["box"]):
        return True
    if a["leader"] is not None and _segment_crosses_box(*a["leader"], b["box"]):
        return True
    if b["leader"] is not None and _segment_crosses_box(*b["leader"], a["box"]):
        return True
    return a["leader"] is not None and b["leader"] is not None and _segments_cross(*a["leader"], *b["leader"])


def _grown(box, pad: float):
    return (box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad)


def _boxes_overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _segments_cross(a, b, c, d) -> bool:
    """Whether the segments ``a-b`` and ``c-d`` cross (touching at an end does not count)."""
    def side(p, q, r) -> int:  # which side of the line p-q the point r is on: 1, -1, or 0 on it
        turn = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
        return int(turn > 0) - int(turn < 0)

    return side(a, b, c) * side(a, b, d) < 0 and side(c, d, a) * side(c, d, b) < 0


def _segment_crosses_box(a, b, box) -> bool:
    """Whether the segment from ``a`` to ``b`` passes through the rectangle ``(x0, y0, x1, y1)``
    (Liang-Barsky clipping)."""
    (xa, ya), (xb, yb) = a, b
    t0, t1 = 0.0, 1.0
    for p, q in ((xa - xb, xa - box[0]), (xb - xa, box[2] - xa), (ya - yb, ya - box[1]), (yb - ya, box[3] - ya)):
        if p == 0:
            if q < 0:
                return False
        else:
            t = q / p
            if p < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
            if t0 > t1:
                return False
    return True


def entropy_bits(probs) -> float:
    """Entropy of a distribution ``probs [V]`` in bits: ``-sum p log2 p`` (0 log 0 counts as 0)."""
    probs = np.asarray(probs, dtype=np.float64)
    probs = probs[probs > 0]
    return 0.0 - float((probs * np.log2(probs)).sum())  # 0.0 - x: a certain outcome shows 0.00, not -0.00


def _set_wrapped_title(ax, title: str, *, width_inches: float) -> None:
    """Set ``ax``'s left-aligned title, broken at spaces into lines each at most ``width_inches`` wide as
    drawn (measured in the title's own font; a single word wider than that keeps its own line)."""
    shown = ax.set_title(title, loc="left")
    limit = width_inches * ax.get_figure().dpi
    lines: list[str] = []
    for paragraph in title.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            shown.set_text(candidate)
            if line and shown.get_window_extent().width > limit:
                lines.append(line)
                candidate = word
            line = candidate
        lines.append(line)
    shown.set_text("\n".join(lines))


def _visible(text: str) -> str:
    """Newlines and spaces made visible for figures and tables."""
    return text.replace("\n", "⏎").replace(" ", "␣") if len(text) == 1 else text.replace("\n", "⏎")


def _text_color_scale(text: str, values, vmin: float | None, vmax: float | None) -> tuple[np.ndarray, float, float]:
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


def _colormap(cmap: str):
    import matplotlib

    if not isinstance(cmap, str) or cmap not in matplotlib.colormaps:
        raise ValueError(f"cmap must be the name of a matplotlib colormap such as 'RdBu_r' or 'viridis', got {cmap!r}")
    return matplotlib.colormaps[cmap]


def _colors(colormap, fraction: float) -> tuple[str, str]:
    """(background, text colour) for a value at ``fraction`` of the scale: dark backgrounds get white ink."""
    red, green, blue, _ = colormap(float(min(max(fraction, 0.0), 1.0)))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}", (
        "#ffffff" if luminance < 0.45 else "#000000")


def _legend(colormap, vmin: float, vmax: float, label: str, steps: int = 11) -> str:
    swatches = "".join(f'<span style="background-color: {_colors(colormap, k / (steps - 1))[0]}">&nbsp;&nbsp;&nbsp;</span>'
                       for k in range(steps))
    return (f'<div style="font-family: monospace; font-size: 11px; margin-top: 4px">'
            f'{html.escape(label, quote=True)}: {vmin:.3g} {swatches} {vmax:.3g}</div>')
