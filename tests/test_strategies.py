"""Sampling strategies: how they are written, and the measures of what each one writes."""

import math

import numpy as np
import pytest

from textgen_helpers.bundle import shipped_bundle
from textgen_helpers.runtime import import_keras
from textgen_helpers.strategies import (
    Strategy,
    distinct_ngram_share,
    known_words,
    measure_strategies,
    measure_text,
    parse_strategies,
    parse_strategy,
    real_word_share,
    text_surprise_bits,
    words,
)

keras = import_keras()


@pytest.mark.parametrize("text, expected", [
    ("0.5", Strategy(0.5)),
    ("1 k=10", Strategy(1.0, top_k=10)),
    ("0.8 top-p=0.9", Strategy(0.8, top_p=0.9)),
    ("T=1 top_k=20 p=0.95", Strategy(1.0, 20, 0.95)),
    ("k=3", Strategy(None, top_k=3)),
    ("  p=0.5   0  ", Strategy(0.0, top_p=0.5)),
])
def test_a_strategy_is_read_from_how_it_is_written(text, expected):
    assert parse_strategy(text) == expected


def test_strategies_are_comma_separated_and_labelled():
    strategies = parse_strategies("0.25, 1 k=10, 1 p=0.9, k=5 p=0.5")
    assert [s.label for s in strategies] == ["T = 0.25", "T = 1, top-k 10", "T = 1, top-p 0.9",
                                             "T = ?, top-k 5, top-p 0.5"]
    assert [s.family for s in strategies] == ["temperature", "top-k", "top-p", "top-k and top-p"]
    assert strategies[3].at(0.7) == Strategy(0.7, 5, 0.5) and strategies[1].at(0.7) == strategies[1]


@pytest.mark.parametrize("text, message", [
    ("hot", "'hot' is not a number"),
    ("1 k=1.5", "top_k must be an integer"),
    ("1 k=0", "top_k must be >= 1"),
    ("1 p=1.5", "top_p must be <= 1"),
    ("-1", "temperature must be >= 0"),
    ("1 2", "the temperature is given twice"),
    ("1 q=3", "cannot read 'q=3'"),
    ("0.5,,1", "empty entry"),
])
def test_a_badly_written_strategy_is_explained(text, message):
    with pytest.raises(ValueError, match=message):
        parse_strategies(text)


def test_words_keep_inner_apostrophes_and_ignore_case_and_punctuation():
    assert words("O'er the Hills, thou'rt 'tis; ROMEO: rest!") == ["o'er", "the", "hills", "thou'rt", "tis", "romeo",
                                                                   "rest"]


def test_real_word_share_counts_the_words_found_in_the_vocabulary():
    vocabulary = {"the", "king", "is", "dead"}
    assert real_word_share("The king is dead.", vocabulary) == 1.0
    assert real_word_share("The kang is deed, the king!", vocabulary) == pytest.approx(4 / 6)
    assert math.isnan(real_word_share("!!! 42", vocabulary))


def test_distinct_4grams_fall_when_the_text_repeats_itself():
    assert distinct_ngram_share("a b c d e f g") == 1.0
    looped = "the man the man the man the man"  # 8 words, 5 four-grams, 2 distinct
    assert distinct_ngram_share(looped) == pytest.approx(2 / 5)
    assert math.isnan(distinct_ngram_share("a b c"))
    with pytest.raises(ValueError, match="n must be >= 1"):
        distinct_ngram_share("a b", n=0)


@pytest.fixture(scope="module")
def bundle():
    return shipped_bundle()


def test_surprise_is_the_models_mean_minus_log2_p_of_each_written_character(bundle):
    seed_text, text = "\nROMEO:\nWhat light", " through yonder window"
    ids = bundle.vocab.encode(seed_text[-bundle.sample_len:] + text)
    # from a zero state, carried
    logits = keras.ops.convert_to_numpy(bundle.model([ids[None]], training=False))[0].astype(np.float64)
    log_p = logits - logits.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    first = len(ids) - len(text)  # the first written character is predicted at position first - 1
    expected = -np.mean([log_p[t - 1, ids[t]] for t in range(first, len(ids))]) / math.log(2)
    (measured,) = text_surprise_bits(bundle, seed_text, [text])
    assert measured == pytest.approx(expected, abs=1e-4)


def test_measuring_strategies_gives_one_row_each_and_tells_greedy_from_hot(bundle):
    vocabulary = known_words("the and of to a in that is my you it not with be his")
    table = measure_strategies(bundle, ["0", "1.5", "1.5 k=1", "1.5 p=0.5"], vocabulary, length=300, rows=2)
    assert list(table["strategy"]) == ["T = 0", "T = 1.5", "T = 1.5, top-k 1", "T = 1.5, top-p 0.5"]
    assert (table["characters"] == 600).all()
    greedy, hot, top1, nucleus = table.to_dict("records")
    assert top1["surprise_bits"] == pytest.approx(greedy["surprise_bits"])  # top-k 1 writes the greedy text
    assert greedy["distinct_4grams"] < hot["distinct_4grams"]  # greedy text loops
    assert hot["surprise_bits"] > nucleus["surprise_bits"] > greedy["surprise_bits"] - 1e-9
    with pytest.raises(ValueError, match="needs its own temperature"):
        measure_strategies(bundle, ["k=3"], vocabulary)


def test_the_strategies_figure_draws_each_family_against_surprise_and_rings_the_book(bundle):
    import matplotlib

    matplotlib.use("Agg")
    from textgen_helpers.plots import plot_strategies

    vocabulary = known_words("the and of to a in that is my you it not with be his")
    table = measure_strategies(bundle, ["0", "0.25", "0.5", "1", "1 k=3", "1 k=10", "1 p=0.8"], vocabulary,
                               length=200, rows=1)
    fig = plot_strategies(table, reference={"label": "real text", "surprise_bits": 2.2, "real_words": 0.9,
                                            "distinct_4grams": 0.99})
    left, right, _ = fig.axes  # two panels, then the colour key of the temperatures
    assert "bits per character" in left.get_xlabel() and "real words" in left.get_ylabel()
    assert "4-grams" in right.get_ylabel()
    labels = [text.get_text() for text in right.get_legend().get_texts()]
    assert {"temperature", "real text", "top-k at T = 1 (k = 3, 10, left to right)"} <= set(labels)
    assert any(label.startswith("top-p at T = 1 (p = 0.8") for label in labels)
    families = {line.get_label(): line for line in left.get_lines()}
    np.testing.assert_allclose(sorted(families["temperature"].get_xdata()),
                               sorted(table.loc[table["family"] == "temperature", "surprise_bits"]))
    ring = families["the book's temperatures (0, 0.25, 0.5, 0.75)"]
    assert len(ring.get_xdata()) == 3  # 0, 0.25 and 0.5 were measured; 0.75 was not
    with pytest.raises(ValueError, match="surprise_bits"):
        plot_strategies(table.drop(columns="surprise_bits"))


def test_measuring_refuses_a_vocabulary_that_is_not_a_set_of_words(bundle):
    with pytest.raises(ValueError, match=r"set of words, got str; make one from a text with known_words\(text\)"):
        measure_strategies(bundle, ["0.5"], "the and of")  # a string would test substrings, not words


def test_measuring_takes_strategies_as_one_string_and_a_bundle_as_its_folder(bundle):
    table = measure_strategies(bundle.path, "0, 1 k=1", known_words("the"), length=50, rows=1)
    assert list(table["strategy"]) == ["T = 0", "T = 1, top-k 1"]
    assert table["top_k"].tolist()[1] == 1 and table["top_k"].isna().tolist() == [True, False]


def test_a_filter_given_twice_is_named():
    with pytest.raises(ValueError, match="k is given twice"):
        parse_strategy("1 k=5 k=6")


def test_real_words_are_compared_in_lower_case_whatever_the_set_holds(bundle):
    lower = measure_strategies(bundle, ["0"], {"the", "and", "of"}, length=200, rows=1)
    mixed = measure_strategies(bundle, ["0"], {"The", "AND", "of"}, length=200, rows=1)
    assert lower["real_words"].iloc[0] > 0 and mixed["real_words"].iloc[0] == lower["real_words"].iloc[0]
    assert measure_text("The cat and the dog", {"THE", "And"})["real_words"] == pytest.approx(3 / 5)


def test_a_bundle_is_given_as_itself_or_as_its_folder(bundle):
    from textgen_helpers.bundle import as_bundle

    assert as_bundle(bundle) is bundle
    assert as_bundle(str(bundle.path)).vocab.chars == bundle.vocab.chars
    with pytest.raises(ValueError, match="expected a model bundle or the path of its folder, got int"):
        as_bundle(3)
