from html.parser import HTMLParser

import numpy as np
import pytest

from textgen_helpers.bundle import load_bundle, save_bundle
from textgen_helpers.runtime import import_keras
from textgen_helpers.widgets import NextCharExplorer, TemperaturePanel, next_char_probs

keras = import_keras()


@pytest.fixture(scope="module")
def bundle(trained, tmp_path_factory):
    path = tmp_path_factory.mktemp("bundles") / "small"
    save_bundle(path, trained.model, trained.vocab, sample_len=40, history=trained.history, seed_text=trained.seed_text)
    return load_bundle(path)


def test_the_panel_shows_one_column_per_temperature(bundle):
    panel = TemperaturePanel(bundle, length=60, temperature=0.75, compare="0.25, 0.5, 1.0")
    assert panel.temperatures == [0.75, 0.25, 0.5, 1.0]
    assert len(panel.columns.children) == 4 and all(len(t) == 60 for t in panel.texts)
    assert 'data-temperature="0.75"' in panel.columns.children[0].value
    assert "T = 0.75 (slider)" in panel.columns.children[0].value
    assert "4 &times; 60 characters in" in panel.status.value


class _TextStyle(HTMLParser):
    """The inline style of each ``<pre class="textgen-text">``, as a dict, and the text inside it."""

    def __init__(self, markup: str):
        super().__init__()
        self.styles, self.texts, self._inside = [], [], False
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "pre" and attrs.get("class") == "textgen-text":
            declarations = (d.split(":", 1) for d in attrs.get("style", "").split(";") if d.strip())
            self.styles.append({name.strip(): value.strip() for name, value in declarations})
            self.texts.append("")
            self._inside = True

    def handle_endtag(self, tag):
        self._inside = self._inside and tag != "pre"

    def handle_data(self, data):
        if self._inside:
            self.texts[-1] += data


def test_the_text_columns_wrap_at_spaces_only_and_keep_line_breaks(bundle):
    panel = TemperaturePanel(bundle, seed_text="KING RICHARD:\n", length=200, compare="0.25, 1.5")
    for column, text in zip(panel.columns.children, panel.texts, strict=True):
        assert "break-all" not in column.value and "anywhere" not in column.value
        shown = _TextStyle(column.value)
        assert shown.texts == [text]  # every character, newlines included, reaches the page
        (style,) = shown.styles
        # pre-wrap: wrap at spaces and keep "\n"; normal: never inside a word (JupyterLab's <pre>
        # default, break-all, is overridden inline)
        assert style["white-space"] == "pre-wrap"
        assert style["word-break"] == "normal" and style["overflow-wrap"] == "normal"
    assert any("\n" in text for text in panel.texts)


def test_moving_the_slider_regenerates_and_moving_back_gives_the_same_text(bundle):
    panel = TemperaturePanel(bundle, length=80, temperature=0.75, compare="")
    first = panel.texts[0]
    panel.temperature.value = 1.5
    assert panel.temperatures == [1.5] and panel.texts[0] != first
    assert 'data-temperature="1.5"' in panel.columns.children[0].value
    panel.temperature.value = 0.75
    assert panel.texts[0] == first  # same random seed: only the temperature changed


def test_without_the_same_seed_every_change_draws_new_text(bundle):
    panel = TemperaturePanel(bundle, length=80, temperature=1.0, compare="")
    panel.same_seed.value = False
    texts = {panel.texts[0]}
    for _ in range(3):
        panel.regenerate()
        texts.add(panel.texts[0])
    assert len(texts) == 4


def test_length_seed_text_and_comparisons_are_followed(bundle):
    panel = TemperaturePanel(bundle, length=60, compare="0.5")
    panel.length.value = 100
    assert all(len(t) == 100 for t in panel.texts)
    panel.compare.value = "0, 1, 1.5"
    assert panel.temperatures == [0.75, 0.0, 1.0, 1.5] and len(panel.columns.children) == 4
    panel.seed_text.value = "KING RICHARD:\n"
    # what the generator writes after the new seed (the texts need not differ from the old ones: a model this
    # briefly trained can write the same text after either seed)
    assert panel.texts == bundle.generator("KING RICHARD:\n", 100, [0.75, 0.0, 1.0, 1.5], seed=0,
                                           window=bundle.sample_len)
    assert "Skipped" not in panel.status.value


def test_bad_input_in_the_panel_is_explained_not_raised(bundle):
    panel = TemperaturePanel(bundle, length=40, compare="0.5")
    before = list(panel.texts)
    panel.compare.value = "0.5, hot"
    assert "compare with" in panel.status.value and "&#x27;hot&#x27; is not a number" in panel.status.value
    assert panel.texts == before
    panel.compare.value = "0.5"
    panel.seed_text.value = ""
    assert "Type a seed text" in panel.status.value
    panel.seed_text.value = "Roméo"
    assert "Skipped characters the model does not know: &#x27;é&#x27;" in panel.status.value
    assert len(panel.texts[0]) == 40


def test_the_next_character_explorer_shows_the_model_distribution(bundle):
    explorer = NextCharExplorer(bundle, "ROMEO:\nWhat light", temperature=0.5)
    assert explorer.probs.shape == (65,) and explorer.probs.sum() == pytest.approx(1.0, abs=1e-5)
    explorer.temperature.value = 1.5
    assert explorer.axes.get_title().endswith("T = 1.5")
    top = np.sort(explorer.probs)[::-1][:15]
    heights = [bar.get_height() for bar in explorer.axes.patches]
    np.testing.assert_allclose(heights[:15], top)


def test_next_char_probs_match_the_models_softmax(bundle, trained):
    ids = trained.vocab.encode("To be, or not")
    probs = next_char_probs(bundle.model, ids)
    logits = keras.ops.convert_to_numpy(bundle.model(ids[None]))[0, -1].astype(np.float64)
    expected = np.exp(logits - logits.max())
    np.testing.assert_allclose(probs, expected / expected.sum(), rtol=1e-4)


def test_the_panel_compares_sampling_strategies_side_by_side(bundle):
    panel = TemperaturePanel(bundle, length=80, temperature=1.0, compare="1 k=1, 1 p=0.9, k=3")
    assert [s.label for s in panel.strategies] == ["T = 1", "T = 1, top-k 1", "T = 1, top-p 0.9", "T = 1, top-k 3"]
    assert 'data-top-k="1"' in panel.columns.children[1].value
    assert "T = 1, top-p 0.9" in panel.columns.children[2].value
    greedy = bundle.generate(length=80, temperature=0.0)
    assert panel.texts[1] == greedy  # top-k 1 is greedy at any temperature
    panel.temperature.value = 1.5  # "k=3" has no temperature of its own: it follows the slider
    assert [s.temperature for s in panel.strategies] == [1.5, 1.0, 1.0, 1.5]
    assert panel.texts[1] == greedy


def test_the_filter_controls_set_the_first_column_and_leave_the_others(bundle):
    panel = TemperaturePanel(bundle, length=80, temperature=1.0, compare="0.5")
    plain, other = panel.texts
    panel.top_k.value = 1
    assert panel.strategies[0].top_k == 1 and panel.texts[0] == bundle.generate(length=80, temperature=0.0)
    assert panel.texts[1] == other  # same random seed: the compared column did not change
    panel.top_k.value, panel.top_p.value = 0, 0.5
    assert panel.strategies[0].label == "T = 1, top-p 0.5" and panel.texts[0] != plain
    panel.top_p.value = 1.0
    assert panel.strategies[0].label == "T = 1" and panel.texts[0] == plain


def test_the_panel_reads_as_plain_text_where_widgets_do_not_show(bundle):
    panel = TemperaturePanel(bundle, length=60, temperature=1.0, compare="0, 1 k=3")
    first, greedy, top_k = panel.texts
    assert panel.as_text() == (f"--- T = 1 (slider) ---\n{first}\n\n--- T = 0 ---\n{greedy}\n\n"
                               f"--- T = 1, top-k 3 ---\n{top_k}")
    assert panel.as_text(chars=10).startswith(f"--- T = 1 (slider) ---\n{first[:10]}\n\n"
                                              f"--- T = 0 ---\n{greedy[:10]}\n\n")
    with pytest.raises(ValueError, match="chars must be >= 1"):
        panel.as_text(chars=0)


def test_a_saved_panel_reads_as_a_summary_where_widgets_do_not_show(bundle):
    from textgen_helpers.widgets import widget_bundle

    panel = TemperaturePanel(bundle, length=20, compare="0.25")
    data = widget_bundle(panel.widget, "summary")
    view = data["application/vnd.jupyter.widget-view+json"]  # what ipywidgets' own display publishes
    assert view == {"version_major": 2, "version_minor": 0, "model_id": panel.widget.model_id}
    assert data["text/plain"] == "summary"


def test_displaying_the_panel_shows_the_widget_with_a_readable_summary(bundle, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda data, raw=False: shown.append((data, raw)))
    TemperaturePanel(bundle, length=20, temperature=0.75, compare="0.25")._ipython_display_()
    (data, raw), = shown
    assert raw and "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"].startswith("[TemperaturePanel: a temperature slider and 2 columns of generated text "
                                         "(T = 0.75 (slider); T = 0.25)")


def test_the_panel_takes_a_bundle_folder_as_well(bundle):
    panel = TemperaturePanel(str(bundle.path), length=20, compare="")
    assert panel.texts == TemperaturePanel(bundle, length=20, compare="").texts
