"""Widgets: the temperature slider, and a live view of the next-character distribution.

``TemperaturePanel(bundle)`` shows a control panel (temperature 0-2, top-k and top-p filters, seed
text, length, a "same random seed" toggle, sampling strategies to compare) and the text generated
by each strategy side by side, in columns. Every change regenerates all columns in one batched
call of the fast generator, so moving the slider answers in tens of milliseconds on a laptop CPU.
"""

from __future__ import annotations

import html
import itertools
import time

import numpy as np

from .checks import check_scalar
from .sampling import check_temperature, check_top_k, check_top_p
from .strategies import Strategy, parse_strategies

MAX_TEMPERATURE = 2.0
# How a column's text wraps: at spaces only, keeping the generated text's own line breaks. Set inline,
# because JupyterLab's stylesheet gives every <pre> in an output `word-break: break-all`, which cuts
# words anywhere ("senten" | "ce"). A run of characters longer than the column scrolls sideways.
COLUMN_TEXT_STYLE = ("white-space: pre-wrap; word-break: normal; overflow-wrap: normal; overflow-x: auto; "
                     "font-size: 12px; margin: 4px 0")


class TemperaturePanel:
    """The workshop's control panel for one model bundle (a Bundle, or the path of its folder; see the
    module docstring).

    The first column follows the controls (the slider's temperature, and top-k / top-p when they
    are switched on); *compare with* lists more strategies, written like ``"0.25, 1 k=10, 1 p=0.9"``
    (see :mod:`textgen_helpers.strategies`; ``"k=10"`` alone follows the slider's temperature).

    Attributes of interest to tests and notebooks: ``temperature``, ``top_k``, ``top_p``,
    ``seed_text``, ``length``, ``same_seed`` and ``compare`` (the controls), ``strategies`` and
    ``texts`` (the last strategies and texts, one per column), ``temperatures`` (theirs) and
    ``last_seconds`` (how long the last regeneration took).
    """

    def __init__(self, bundle, *, seed_text: str | None = None, length: int = 400, temperature: float = 0.75,
                 compare: str = "0.25, 0.5, 1.0", seed: int = 0, top_k: int | None = None,
                 top_p: float | None = None):
        import ipywidgets as w

        from .bundle import as_bundle

        self.bundle = bundle = as_bundle(bundle)
        self._seed = seed
        style = {"description_width": "120px"}
        self._fresh_seeds = itertools.count(seed + 1)
        self.temperature = w.FloatSlider(value=check_temperature(temperature), min=0.0, max=MAX_TEMPERATURE, step=0.05,
                                         description="temperature", readout_format=".2f", continuous_update=True,
                                         style=style, layout=w.Layout(width="480px"))
        top_k, top_p = check_top_k(top_k), check_top_p(top_p)
        self.top_k = w.IntSlider(value=top_k or 0, min=0, max=len(bundle.vocab), step=1, description="top-k (0: off)",
                                 continuous_update=False, style=style, layout=w.Layout(width="480px"))
        self.top_p = w.FloatSlider(value=1.0 if top_p is None else top_p, min=0.05, max=1.0, step=0.05,
                                   description="top-p (1: off)", readout_format=".2f", continuous_update=False,
                                   style=style, layout=w.Layout(width="480px"))
        self.seed_text = w.Textarea(value=seed_text if seed_text is not None else bundle.default_seed_text,
                                    description="seed text", style=style, layout=w.Layout(width="480px", height="64px"))
        self.length = w.IntSlider(value=length, min=20, max=1000, step=20, description="length",
                                  continuous_update=False, style=style, layout=w.Layout(width="480px"))
        self.same_seed = w.Checkbox(value=True, description="same random seed", style=style)
        self.compare = w.Text(value=compare, description="compare with", placeholder="0.25, 0.5, 1 k=10, 1 p=0.9",
                              continuous_update=False, style=style, layout=w.Layout(width="480px"))
        self.status = w.HTML()
        self.columns = w.HBox(layout=w.Layout(flex_flow="row wrap", align_items="flex-start"))
        self.columns.add_class("textgen-columns")
        controls = w.VBox([self.temperature, self.top_k, self.top_p, self.length, self.seed_text, self.compare,
                           self.same_seed])
        self.widget = w.VBox([controls, self.status, self.columns])
        self.widget.add_class("textgen-panel")
        self.texts: list[str] = []
        self.strategies: list[Strategy] = []
        self.last_seconds = float("nan")
        for control in (self.temperature, self.top_k, self.top_p, self.length, self.seed_text, self.compare,
                        self.same_seed):
            control.observe(self._on_change, names="value")
        self.regenerate()

    def _ipython_display_(self):
        headings = "; ".join(_heading(strategy, main=k == 0) for k, strategy in enumerate(self.strategies))
        _display_widget(self.widget, f"[TemperaturePanel: a temperature slider and {len(self.texts)} columns of "
                                     f"generated text ({headings}). A widget: it shows when the notebook runs "
                                     f"(Jupyter, JupyterLab, Colab); panel.as_text() prints its texts.]")

    def _on_change(self, change) -> None:
        self.regenerate()

    @property
    def temperatures(self) -> list[float]:
        """The temperature of each column, in order."""
        return [strategy.temperature for strategy in self.strategies]

    def as_text(self, chars: int | None = None) -> str:
        """The columns as plain text, each under its heading, cut to their first ``chars`` characters
        (all of them by default): the panel for a page that shows no widgets, such as a notebook
        read on GitHub."""
        chars = check_scalar(chars, "chars", int, min_value=1, allow_none=True)
        return "\n\n".join(f"--- {_heading(strategy, main=k == 0)} ---\n{text[:chars]}"
                             for k, (strategy, text) in enumerate(zip(self.strategies, self.texts, strict=True)))

    def regenerate(self) -> list[str]:
        """Generate every column again from the current controls; returns the texts."""
        import ipywidgets as w

        try:
            compare = parse_strategies(self.compare.value) if self.compare.value.strip() else []
        except ValueError as err:
            self.status.value = _note(f"compare with: {err}")
            return self.texts
        seed_text = self.seed_text.value
        unknown = self.bundle.vocab.unknown(seed_text)
        if not self.bundle.vocab.encode(seed_text, unknown="skip").size:
            self.status.value = _note("Type a seed text for the model to continue.")
            return self.texts
        temperature = float(self.temperature.value)
        main = Strategy(temperature, self.top_k.value or None, self.top_p.value if self.top_p.value < 1 else None)
        strategies = [main] + [s for s in dict.fromkeys(s.at(temperature) for s in compare) if s != main]
        seed = self._seed if self.same_seed.value else next(self._fresh_seeds)
        start = time.perf_counter()
        texts = self.bundle.generator(seed_text, int(self.length.value), [s.temperature for s in strategies], seed=seed,
                                      window=self.bundle.sample_len, unknown="skip",
                                      top_k=[s.top_k for s in strategies], top_p=[s.top_p for s in strategies])
        self.last_seconds = time.perf_counter() - start
        self.texts, self.strategies = texts, strategies
        if len(self.columns.children) != len(texts):
            self.columns.children = [w.HTML(layout=w.Layout(width="320px", margin="0 12px 0 0")) for _ in texts]
        for column, strategy, text in zip(self.columns.children, strategies, texts, strict=True):
            column.value = _column_html(strategy, text, main=column is self.columns.children[0])
        skipped = f" Skipped characters the model does not know: {''.join(unknown)!r}." if unknown else ""
        self.status.value = (f'<span class="textgen-status">{len(texts)} &times; {self.length.value} characters in '
                             f'{self.last_seconds * 1000:.0f} ms (seed {seed}).{html.escape(skipped)}</span>')
        return texts


class NextCharExplorer:
    """A temperature slider over a bar chart of the model's next-character distribution."""

    def __init__(self, bundle, seed_text: str, *, temperature: float = 1.0, top: int = 15):
        import ipywidgets as w

        from .bundle import as_bundle
        from .generation import seed_ids
        from .plots import plot_next_char_distribution

        bundle = as_bundle(bundle)
        ids = seed_ids(bundle.vocab, seed_text, bundle.sample_len, "error")
        self.probs = next_char_probs(bundle.model, ids)
        self.bundle, self.seed_text, self.top = bundle, seed_text, top
        self.temperature = w.FloatSlider(value=check_temperature(temperature), min=0.0, max=MAX_TEMPERATURE, step=0.05,
                                         description="temperature", readout_format=".2f", continuous_update=True)
        self.output = w.Output()
        self._plot = plot_next_char_distribution
        self.temperature.observe(lambda change: self.draw(), names="value")
        self.widget = w.VBox([self.temperature, self.output])
        self.draw()

    def draw(self) -> None:
        """Redraw the bar chart at the slider's temperature (kept as ``self.axes``)."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        fig, self.axes = plt.subplots(figsize=(8, 3.2))
        self._plot(self.probs, self.bundle.vocab, self.temperature.value, top=self.top, ax=self.axes,
                   title=f"After {self.seed_text[-30:]!r}: the next character at T = {self.temperature.value:g}")
        plt.close(fig)  # shown once, inside the output widget, not again below the cell
        with self.output:
            self.output.clear_output(wait=True)
            display(fig)

    def _ipython_display_(self):
        _display_widget(self.widget, f"[NextCharExplorer: a temperature slider over the model's next-character "
                                     f"distribution after {self.seed_text[-30:]!r}. A widget: it shows when the "
                                     f"notebook runs (Jupyter, JupyterLab, Colab).]")


def next_char_probs(model, ids) -> np.ndarray:
    """``[V]`` probabilities of the character after ``ids [T]`` (works for both framings and every backend)."""
    from .model import call_model, model_framing
    from .runtime import import_keras

    ops = import_keras().ops
    ids = np.asarray(ids, dtype=np.int32)[None, :]
    if model_framing(model) == "seq2one":
        vocab_size = int(model.outputs[0].shape[-1])
        probs = call_model(model, ops.one_hot(ids, vocab_size))[0]
    else:
        probs = ops.softmax(call_model(model, ids)[0, -1])
    # not .numpy(): PyTorch refuses it on a tensor autograd tracks
    return ops.convert_to_numpy(probs).astype(np.float64)


def widget_bundle(widget, summary: str) -> dict:
    """The display data of ``widget``, with ``summary`` as its plain text: what a page that cannot
    run widgets (a notebook read on GitHub) shows in its place, instead of the widget's repr."""
    return {"text/plain": summary,
            "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0,
                                                         "model_id": widget.model_id}}


def _display_widget(widget, summary: str) -> None:
    from IPython.display import display

    display(widget_bundle(widget, summary), raw=True)


def _heading(strategy: Strategy, *, main: bool) -> str:
    return strategy.label + (" (slider)" if main else "")


def _column_html(strategy: Strategy, text: str, *, main: bool) -> str:
    label = _heading(strategy, main=main)
    given = (("top-k", strategy.top_k), ("top-p", strategy.top_p))
    filters = "".join(f' data-{name}="{value:g}"' for name, value in given if value is not None)
    return (f'<div class="textgen-column" data-temperature="{strategy.temperature:g}"{filters}>'
            f'<div class="textgen-heading" style="font-weight: bold">{html.escape(label)}</div>'
            f'<pre class="textgen-text" style="{COLUMN_TEXT_STYLE}">'
            f"{html.escape(text)}</pre></div>")


def _note(message: str) -> str:
    return f'<span class="textgen-status" style="color: #a15c00">{html.escape(message)}</span>'
