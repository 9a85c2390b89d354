import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from textgen_helpers.plots import (
    draw_generation_loop,
    draw_stacked_lstm,
    plot_colored_text,
    plot_entropy_vs_temperature,
    plot_history,
    plot_next_char_distribution,
    plot_next_char_panels,
)
from textgen_helpers.sampling import apply_temperature, entropy_bits
from textgen_helpers.vocabulary import Vocabulary

matplotlib.use("Agg")

HISTORY = pd.DataFrame({"epoch": [1, 2, 3], "loss": [3.0, 2.2, 1.9], "val_loss": [2.8, 2.3, 2.1]})


def test_history_plot_has_nats_on_the_left_and_bits_on_the_right():
    ax = plot_history(HISTORY, references={"Shannon": 1.3})
    assert ax.get_ylabel() == "cross-entropy (nats per character)" and ax.get_xlabel() == "epoch"
    assert ax.get_title() == "Training and validation loss"
    assert [child.get_ylabel() for child in ax.child_axes] == ["bits per character"]
    levels = [line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert levels == [pytest.approx(1.3 * math.log(2))]
    labels = ax.get_legend_handles_labels()[1]
    assert labels[:2] == ["training text (windows, dropout off)", "validation (windows, dropout off)"]
    assert labels[2].startswith("Shannon (1.30 bits)")


def test_redrawing_keeps_a_single_bits_axis():
    ax = plot_history(HISTORY)
    for _ in range(3):
        plot_history(HISTORY, ax)
    assert len(ax.child_axes) == 1 and len(ax.get_lines()) == 2


def test_the_explanatory_figures_draw():
    assert draw_generation_loop().get_title() == "Generating text one character at a time"
    assert draw_stacked_lstm([128, 128], 65).get_title() == "Stacked LSTM 128,128 (seq2one)"


def test_the_distribution_chart_shows_the_sharpened_probabilities():
    vocab = Vocabulary("abcd")
    probs = np.array([0.1, 0.6, 0.05, 0.25])
    ax = plot_next_char_distribution(probs, vocab, 0.5, top=3)
    heights = [bar.get_height() for bar in ax.patches]
    np.testing.assert_allclose(heights[:3], [0.6, 0.25, 0.1])
    np.testing.assert_allclose(heights[3:], apply_temperature(probs, 0.5)[[1, 3, 0]])
    assert ax.get_ylabel() == "probability" and "temperature 0.5" in ax.get_title()


def test_small_multiples_draw_one_labelled_panel_per_temperature():
    vocab = Vocabulary("abcd")
    probs = np.array([0.1, 0.6, 0.05, 0.25])
    axes = plot_next_char_panels(probs, vocab, [0, 0.5, 1.0, 1.5], top=3, seed_text="To be")
    assert len(axes) == 4 and len(axes[0].figure.axes) == 4  # the grid's spare cells are removed
    for ax, temperature in zip(axes, [0, 0.5, 1.0, 1.5], strict=True):
        assert ax.get_xlabel() == "character" and ax.get_ylabel() == "probability"
        assert ax.get_title().startswith(f"T = {temperature:g}")
        assert [t.get_text() for t in ax.get_xticklabels()] == ["b", "d", "a"]  # the same order everywhere
        np.testing.assert_allclose([bar.get_height() for bar in ax.patches],
                                   apply_temperature(probs, temperature)[[1, 3, 0]])
    assert axes[0].get_title() == "T = 0 (greedy): 0.00 bits"
    assert "'To be'" in axes[0].figure.get_suptitle()


def test_the_entropy_curve_rises_with_temperature_towards_uniform():
    probs = np.array([0.5, 0.3, 0.1, 0.05, 0.03, 0.02])
    ax = plot_entropy_vs_temperature(probs, marked=(0, 0.25, 0.5, 0.75))
    curve, ceiling, points = ax.get_lines()
    bits = np.asarray(curve.get_ydata())
    assert bits[0] == 0 and np.all(np.diff(bits) >= -1e-12)
    assert bits[-1] < math.log2(6) == pytest.approx(ceiling.get_ydata()[0])
    assert bits[curve.get_xdata().tolist().index(1.0)] == pytest.approx(entropy_bits(probs))
    assert list(points.get_xdata()) == [0, 0.25, 0.5, 0.75]
    assert ax.get_xlabel() == "temperature T" and "bits" in ax.get_ylabel() and ax.get_title()
    assert len(ax.get_legend().get_texts()) == 3


def test_gate_saturation_figure_has_a_panel_per_gate_and_a_colour_per_layer():
    from textgen_helpers.plots import plot_gate_saturation

    saturation = pd.DataFrame({"layer": [1, 1, 2, 2] * 3, "gate": ["forget"] * 4 + ["input"] * 4 + ["output"] * 4,
                               "unit": [0, 1] * 6, "left": np.linspace(0, 0.5, 12), "right": np.linspace(0.4, 0, 12)})
    axes = plot_gate_saturation(saturation, title="2 layers, 100 characters")
    assert [ax.get_title() for ax in axes] == ["forget gate", "input gate", "output gate"]
    assert axes[0].figure._suptitle.get_text() == "2 layers, 100 characters"
    assert all("nearly shut\n(left" in ax.get_xlabel() for ax in axes)
    # one y label for the shared axis, so that it does not crowd the panel beside it
    assert "nearly open\n(right" in axes[0].get_ylabel() and [ax.get_ylabel() for ax in axes[1:]] == ["", ""]
    saturation.attrs.update(low=0.1, high=0.9)  # as gate_saturation() leaves them
    shut = plot_gate_saturation(saturation)[0].get_xlabel()
    assert shut == "share of characters nearly shut, < 0.1\n(left-saturated)"
    np.testing.assert_allclose(axes[1].collections[0].get_offsets(), saturation.iloc[4:6][["left", "right"]])
    with pytest.raises(ValueError, match="missing \\['right'\\]"):
        plot_gate_saturation(saturation.drop(columns="right"))


def test_gate_saturation_figure_has_one_legend_below_the_panels_and_none_on_them():
    import matplotlib.pyplot as plt

    from textgen_helpers.plots import plot_gate_saturation

    saturation = pd.DataFrame({"layer": [1, 1, 2, 2] * 3, "gate": ["forget"] * 4 + ["input"] * 4 + ["output"] * 4,
                               "unit": [0, 1] * 6, "left": np.linspace(0, 0.5, 12), "right": np.linspace(0.4, 0, 12)})
    axes = plot_gate_saturation(saturation.iloc[:10])  # the output gate has no layer 2: its legend entry still shows
    fig = axes[0].figure
    assert [ax.get_legend() for ax in axes] == [None] * 3
    assert len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["layer 1 (2 units)", "layer 2 (2 units)",
                                                                  "always saturated"]
    fig.canvas.draw()
    legend_top = fig.legends[0].get_window_extent().y1
    lowest_label = min(ax.xaxis.label.get_window_extent().y0 for ax in axes)
    assert legend_top <= lowest_label, "the legend must sit below the panels and their axis labels"
    plt.close(fig)


def test_colored_text_lays_each_character_on_its_value_and_wraps_at_line_breaks_and_width():
    import matplotlib.pyplot as plt

    text = "ab c\n" + "x" * 12 + "<&>"  # a line break, then a row that wraps at width 10
    values = np.arange(len(text), dtype=float)
    values[1] = np.nan
    fig = plot_colored_text(text, values, cmap="Greys", width=10, label="surprise (bits per character)")
    ax = fig.axes[0]
    grid = ax.get_images()[0].get_array()
    assert grid.shape == (3, 10)  # "ab c↵"; ten x's; then two x's and "<&>"
    assert list(grid[0, :5].filled(-1)) == [0, -1, 2, 3, 4]  # NaN is masked; the newline has its cell
    assert grid.mask[0, 5:].all()  # nothing after a line break
    assert list(grid[1]) == list(range(5, 15)) and list(grid[2, :5]) == [15, 16, 17, 18, 19]
    drawn = [t.get_text() for t in ax.texts]
    assert drawn == ["a", "b", "c", "↵", *"x" * 12, "<", "&", ">"]  # spaces are left blank, text is not escaped
    assert ax.texts[-1].get_color() == "#ffffff" and ax.texts[0].get_color() == "#000000"  # ink on dark and light
    assert fig.axes[1].get_xlabel() == "surprise (bits per character)"  # the colour bar names what it shows
    assert "at most 10 to a row" in ax.get_xlabel()
    plt.close(fig)


def test_colored_text_wraps_a_long_title_to_the_figure_so_the_image_is_no_wider():
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    text = "GREMIO:\nGood morrow, neighbour Baptista.\n" * 3
    values = np.linspace(-1, 1, len(text))
    widths, titles = [], {}
    for name, title in (("short", "Layer 1, unit 0"),
                        ("long", "Layer 2, unit 65: cell state c over 700 validation characters "
                                 "(r = 0.86 with being in a speaker's name)")):
        fig = plot_colored_text(text, values, title=title)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")  # as Jupyter's inline backend saves it
        widths.append(Image.open(buffer).size[0])
        titles[name] = fig.axes[0].get_title(loc="left")
        plt.close(fig)
    assert titles["short"] == "Layer 1, unit 0"
    fig = plot_colored_text(text, values, title="Layer 1, unit 0\nits own line")  # a line break the caller wrote
    assert fig.axes[0].get_title(loc="left") == "Layer 1, unit 0\nits own line"
    plt.close(fig)
    assert "\n" in titles["long"] and titles["long"].replace("\n", " ") == (
        "Layer 2, unit 65: cell state c over 700 validation characters (r = 0.86 with being in a speaker's name)")
    assert widths[1] == widths[0], f"the long title widened the image from {widths[0]} to {widths[1]} pixels"


@pytest.mark.parametrize("call, message", [
    (lambda: plot_colored_text("abc", [1, 2]), "one number per character"),
    (lambda: plot_colored_text("ab", [1, 2], width=3), "width must be >= 10"),
    (lambda: plot_colored_text("ab", [1, 2], vmin=2, vmax=1), "vmax must be greater than vmin"),
    (lambda: plot_colored_text("ab", [1, 2], cmap="nope"), "matplotlib colormap"),
])
def test_colored_text_rejects_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# The notebook 5 run whose labels crowded each other: strategy, real words, distinct 4-grams, surprise (bits/char).
STORED_STRATEGIES = """0 1.000 0.048 1.183 | 0.1 0.998 0.527 1.186 | 0.25 0.997 0.941 1.255 | 0.4 0.989 0.995 1.366
| 0.5 0.985 0.997 1.425 | 0.6 0.974 1.000 1.498 | 0.75 0.946 1.000 1.653 | 0.9 0.889 1.000 1.870 | 1 0.858 1.000 2.013
| 1.25 0.749 1.000 2.467 | 1.5 0.597 1.000 3.095 | 1_k=2 0.983 0.982 1.398 | 1_k=3 0.970 0.999 1.495
| 1_k=5 0.943 1.000 1.661 | 1_k=10 0.905 1.000 1.816 | 1_k=20 0.871 1.000 1.981 | 1_p=0.5 0.993 0.996 1.345
| 1_p=0.7 0.984 1.000 1.469 | 1_p=0.8 0.973 1.000 1.554 | 1_p=0.9 0.938 1.000 1.711 | 1_p=0.95 0.909 1.000 1.821"""
STORED_REFERENCE = {"label": "the validation text", "surprise_bits": 2.217, "real_words": 0.944,
                    "distinct_4grams": 0.993}
STORED_TEMPERATURES = [0, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 1, 1.25, 1.5]


def _strategies_table(rows: str = STORED_STRATEGIES) -> pd.DataFrame:
    from textgen_helpers.strategies import parse_strategy

    records = []
    for row in rows.replace("\n", " ").split("|"):
        name, real, distinct, surprise = row.split()
        strategy = parse_strategy(name.replace("_", " "))
        records.append(dict(strategy=strategy.label, family=strategy.family, temperature=strategy.temperature,
                            top_k=strategy.top_k, top_p=strategy.top_p, surprise_bits=float(surprise),
                            real_words=float(real), distinct_4grams=float(distinct)))
    return pd.DataFrame(records)


def _temperature_dots(ax):
    """The panel's temperature dots: their (x, y) positions and fill colours, as drawn."""
    (dots,) = ax.collections
    return dots.get_offsets(), [matplotlib.colors.to_hex(c) for c in dots.get_facecolors()]


def test_the_strategies_figure_colours_each_temperature_dot_by_its_temperature_and_writes_no_text_on_the_panels():
    import matplotlib.pyplot as plt

    from textgen_helpers.plots import plot_strategies

    table = _strategies_table()
    fig = plot_strategies(table, reference=STORED_REFERENCE)
    temperatures = table[table["family"] == "temperature"].sort_values("surprise_bits")
    coolwarm = matplotlib.colormaps["coolwarm"]
    for ax, column in zip(fig.axes[:2], ["real_words", "distinct_4grams"], strict=True):
        assert len(ax.texts) == 0  # no label beside any point, so none can cover another
        offsets, colors = _temperature_dots(ax)
        np.testing.assert_allclose(offsets, temperatures[["surprise_bits", column]])
        by_temperature = dict(zip(temperatures["temperature"], colors, strict=True))
        assert len(set(colors)) == len(STORED_TEMPERATURES)  # each temperature its own colour
        # blue for the sharpened (T < 1), the map's grey middle for the model as it is, red at the hottest
        assert by_temperature[0] == matplotlib.colors.to_hex(coolwarm(0.0))
        assert by_temperature[1] == matplotlib.colors.to_hex(coolwarm(0.5))
        assert by_temperature[1.5] == matplotlib.colors.to_hex(coolwarm(1.0))
        scale = coolwarm(np.linspace(0, 1, 256))[:, :3]
        along = [np.abs(scale - matplotlib.colors.to_rgb(by_temperature[t])).sum(axis=1).argmin()
                 for t in STORED_TEMPERATURES]
        assert along == sorted(set(along)), "a hotter dot must sit further along the scale from blue to red"
        assert "bits per character" in ax.get_xlabel() and "share" in ax.get_ylabel()  # the axes keep their units
    plt.close(fig)


def test_the_strategies_colour_key_names_every_temperature_in_its_dots_colour_without_overlap():
    import matplotlib.pyplot as plt

    from textgen_helpers.plots import plot_strategies

    fig = plot_strategies(_strategies_table(), reference=STORED_REFERENCE)
    left, _, key = fig.axes
    assert [t.get_text() for t in key.get_xticklabels()] == [f"{t:g}" for t in STORED_TEMPERATURES]
    assert key.get_xlabel().startswith("temperature T of each dot")
    (swatch_mesh,) = [c for c in key.collections if isinstance(c, matplotlib.collections.QuadMesh)]
    swatches = [matplotlib.colors.to_hex(c) for c in swatch_mesh.get_cmap().colors]
    temperatures = _strategies_table().query("family == 'temperature'").sort_values("surprise_bits")["temperature"]
    by_temperature = dict(zip(temperatures, _temperature_dots(left)[1], strict=True))
    assert swatches == [by_temperature[t] for t in STORED_TEMPERATURES]  # a swatch is its dot's colour
    fig.canvas.draw()
    boxes = [label.get_window_extent() for label in key.get_xticklabels()]
    for a, b in zip(boxes[:-1], boxes[1:], strict=True):  # one swatch each, evenly spaced: 0 and 0.1 do not collide
        assert a.x1 < b.x0, "two temperatures' names in the colour key overlap"
    assert key.get_window_extent().y1 < min(ax.xaxis.label.get_window_extent().y0 for ax in fig.axes[:2])
    plt.close(fig)


def test_the_strategies_figure_without_temperatures_draws_no_colour_key():
    import matplotlib.pyplot as plt

    from textgen_helpers.plots import plot_strategies

    table = _strategies_table()
    fig = plot_strategies(table[table["family"] != "temperature"], marked=())
    assert len(fig.axes) == 2 and all(len(ax.collections) == 0 for ax in fig.axes)
    assert [line.get_label() for line in fig.axes[0].get_lines()][0].startswith("top-k at T = 1 (k = 2, 3")
    plt.close(fig)


def test_no_point_of_the_strategies_figure_hides_another():
    import matplotlib.pyplot as plt

    from textgen_helpers.plots import plot_strategies

    fig = plot_strategies(_strategies_table(), reference=STORED_REFERENCE)
    for ax in fig.axes[:2]:
        dots = ax.collections[0]
        filters = [line for line in ax.get_lines() if line.get_label().startswith(("top-k", "top-p"))]
        assert len(filters) == 2
        for line in filters:  # T = 0.75 and top-k 5 nearly coincide: the filled dot shows inside the open square
            assert line.get_markerfacecolor() == "none"
            assert line.get_markersize() > np.sqrt(dots.get_sizes()[0])  # a scatter's size is its area in points²
            assert dots.get_zorder() > line.get_zorder()
    assert fig.axes[0].get_ylabel() == "real words (share of generated words, 0 to 1)"
    assert fig.axes[1].get_ylabel() == "distinct word 4-grams (share of all, 0 to 1)"
    plt.close(fig)
