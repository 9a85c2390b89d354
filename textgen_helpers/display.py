"""What a notebook shows beside its figures: HTML tables of samples, text coloured by a value, and
the live training display that redraws the loss curves and the samples table after every epoch.

HTML here uses inline styles only: Colab drops ``<style>`` blocks and scripts. The figures
themselves, and the colour scale shared with :func:`~textgen_helpers.plots.plot_colored_text`,
are in :mod:`~textgen_helpers.plots`.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd

from .plots import cell_colors, named_colormap, plot_history, text_color_scale, visible_text


class LiveTraining:
    """An ``on_epoch_end`` hook for :func:`~textgen_helpers.training.train` that redraws, in place,
    the loss curves and the table of samples (epochs x temperatures) after every epoch.

    With ``score`` (a function of the model giving nats per character, such as one fixed measure on
    held-out text), it scores the model after every epoch and draws that score against minutes of
    training instead, beside ``compare``'s runs (``{label: history}``, their ``val_loss``: runs scored
    by the same measure, which ``score_label`` names). ``scores`` keeps them: epoch, minutes, nats.

    >>> live = LiveTraining(references={"Shannon": 1.3})      # doctest: +SKIP
    >>> run = train(model, vocab, text, epochs=10, on_epoch_end=live, verbose=0)   # doctest: +SKIP
    """

    def __init__(self, *, title: str = "Training and validation loss", references: dict[str, float] | None = None,
                 ylim: tuple[float, float] | None = None, show_samples: bool = True, sample_width: int = 60,
                 score=None, score_label: str = "validation loss", compare: dict[str, pd.DataFrame] | None = None):
        self.title, self.references, self.ylim = title, references, ylim
        self.show_samples, self.sample_width = show_samples, sample_width
        self.score, self.score_label, self.compare = score, score_label, compare
        self.scores = pd.DataFrame(columns=["epoch", "minutes", "nats"])
        self._plot_handle = self._table_handle = None
        self._figure = None

    def __call__(self, run) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        if self._figure is None:
            self._figure, ax = plt.subplots(figsize=(8, 4.5))
            plt.close(self._figure)  # shown through the display handle only, not again at cell end
        ax = self._figure.axes[0]
        if self.score is None:
            plot_history(run.history, ax, title=self.title, references=self.references, ylim=self.ylim)
        else:
            last = run.history.iloc[-1]
            minutes = run.history["train_seconds"].sum() / 60
            self.scores.loc[len(self.scores)] = [int(last["epoch"]), minutes, float(self.score(run.model))]
            scored = dict(zip(self.scores["epoch"], self.scores["nats"], strict=True))
            history = run.history.assign(score=run.history["epoch"].astype(int).map(scored))  # NaN: not scored here
            plot_history(history, ax, title=self.title, references=self.references, ylim=self.ylim,
                         curves=[("score", self.score_label, "-o")], against="minutes", compare=self.compare)
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
    """A samples table (epochs x temperatures) as HTML that keeps line breaks visible as ``⏎``, and as
    ``␣`` the spaces HTML would collapse or drop: runs of two or more, and any at either end (so a
    sample of spaces only shows as ``␣␣␣…``, not as an empty cell)."""
    from IPython.display import HTML

    shown = table.map(lambda s: _collapsible_spaces_shown(visible_text(s[:width])))
    return HTML(shown.to_html(escape=True).replace("<td>", '<td style="font-family: monospace; text-align: left">'))


def table_10_1_html(book: dict, history: pd.DataFrame, samples: pd.DataFrame, *,
                    true_continuation: str | None = None, label: str = "textgen"):
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


def colored_text_html(text: str, values, *, cmap: str = "RdBu_r", vmin: float | None = None,
                      vmax: float | None = None, title: str | None = None, label: str = "value",
                      tooltips: bool = True):
    """``text`` with each character's background coloured by ``values [len(text)]``, as
    ``IPython.display.HTML``.

    Plain HTML with inline styles only (Colab drops ``<style>`` blocks and scripts; GitHub's
    notebook view drops styles altogether, so for a notebook read there draw
    :func:`~textgen_helpers.plots.plot_colored_text` instead): the text is escaped, a newline shows
    as ``⏎`` before its line break, a NaN value leaves its character uncoloured, and a legend under
    the text names ``label`` and the colour scale from ``vmin`` (default: the smallest value) to
    ``vmax`` (default: the largest). ``tooltips`` puts each value in its character's ``title``
    (shown on hover in Jupyter).
    """
    from IPython.display import HTML

    values, vmin, vmax = text_color_scale(text, values, vmin, vmax)
    colormap = named_colormap(cmap)
    spans = []
    for char, value in zip(text, values, strict=True):
        shown = "⏎" if char == "\n" else html.escape(char, quote=True)
        if np.isfinite(value):
            background, ink = cell_colors(colormap, (value - vmin) / (vmax - vmin))
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


def _collapsible_spaces_shown(text: str) -> str:
    """Runs of two or more spaces, and spaces at either end, each shown as ``␣``; single spaces between
    words stay."""
    return re.sub(r"^ +| +$| {2,}", lambda match: "␣" * len(match.group()), text)


def _shown(text: str) -> str:
    """Text for an HTML cell that keeps its line breaks, each marked ``⏎``."""
    return html.escape(text.replace("\n", "⏎\n"))


def _legend(colormap, vmin: float, vmax: float, label: str, steps: int = 11) -> str:
    """The colour scale under a coloured text: ``label: vmin``, ``steps`` swatches, ``vmax``."""
    swatches = "".join(f'<span style="background-color: {cell_colors(colormap, k / (steps - 1))[0]}">'
                       "&nbsp;&nbsp;&nbsp;</span>" for k in range(steps))
    return (f'<div style="font-family: monospace; font-size: 11px; margin-top: 4px">'
            f'{html.escape(label, quote=True)}: {vmin:.3g} {swatches} {vmax:.3g}</div>')
