import math

import numpy as np
import pytest

from textgen_helpers.ngram import NgramModel
from textgen_helpers.vocabulary import Vocabulary


@pytest.fixture(scope="module")
def data(shakespeare):
    vocab = Vocabulary.from_text(shakespeare.text)
    ids = vocab.encode(shakespeare.text)
    split = int(len(ids) * 0.9)
    return vocab, ids[:split], ids[split:]


def test_the_unigram_model_scores_the_entropy_of_character_frequencies(data):
    vocab, train, val = data
    model = NgramModel(1, len(vocab)).fit(train)
    counts = np.bincount(train, minlength=len(vocab)) + 1.0
    p = counts / counts.sum()
    assert model.cross_entropy(val) == pytest.approx(-np.log(p[val]).mean())
    assert 3.0 < model.cross_entropy(val) < math.log(len(vocab))  # better than uniform, ~4.7 bits


def test_longer_contexts_predict_better_up_to_a_point(data):
    vocab, train, val = data
    scores = [NgramModel(n, len(vocab)).fit(train).cross_entropy(val[:20_000], context=train) for n in (1, 2, 3, 4)]
    assert scores == sorted(scores, reverse=True)
    assert scores[-1] < 1.9  # a 4-gram gets below about 2.7 bits per character


def test_every_distribution_sums_to_one_and_has_no_zeros(data):
    vocab, train, _ = data
    model = NgramModel(3, len(vocab)).fit(train[:50_000])
    for context in ("th", "Qz", "\n\n", "e"):
        probs = model.next_distribution(vocab.encode(context))
        assert probs.shape == (65,) and probs.sum() == pytest.approx(1.0) and probs.min() > 0


def test_the_distribution_matches_the_scores_it_gives(data):
    vocab, train, val = data
    model = NgramModel(3, len(vocab)).fit(train[:100_000])
    log_probs = model.log_probs(val[:50], context=train)
    full = np.concatenate([train[-2:], val[:50]])
    for i in (5, 17, 42):
        probs = model.next_distribution(full[i:i + 2])
        assert log_probs[i] == pytest.approx(math.log(probs[val[i]]))


def test_a_frequent_continuation_is_predicted():
    vocab = Vocabulary.from_text("the cat sat on the mat ")
    ids = vocab.encode("the cat sat on the mat " * 50)
    model = NgramModel(3, len(vocab)).fit(ids)
    probs = model.next_distribution(vocab.encode("th"))
    assert vocab.chars[int(np.argmax(probs))] == "e" and probs.max() > 0.9


@pytest.mark.parametrize("kwargs, message", [
    (dict(order=0, vocab_size=65), "order must be"), (dict(order=9, vocab_size=65), "order must be"),
    (dict(order=3, vocab_size=1), "vocab_size"), (dict(order=3, vocab_size=65, discount=1.5), "discount"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NgramModel(**kwargs)


def test_an_unfitted_model_says_so():
    with pytest.raises(ValueError, match="not fitted"):
        NgramModel(2, 5).cross_entropy([1, 2, 3])
    with pytest.raises(ValueError, match="ids must lie"):
        NgramModel(2, 5).fit([1, 2, 9])
