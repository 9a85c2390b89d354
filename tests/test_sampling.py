import math
import re

import numpy as np
import pytest

from textgen_helpers.sampling import (
    apply_temperature,
    check_temperature,
    check_temperatures,
    entropy_bits,
    filter_distribution,
    sample,
)

PROBS = np.array([0.1, 0.6, 0.05, 0.25])


def test_temperature_zero_is_argmax_for_probabilities_and_logits():
    assert sample(probs=PROBS, temperature=0) == 1
    assert sample(logits=np.log(PROBS) + 3.0, temperature=0) == 1
    assert sample(logits=[-2.0, 5.0, 7.5, 1.0], temperature=0.0) == 2


@pytest.mark.parametrize("bad", [-1, -0.001, float("nan"), float("inf"), -float("inf"), "hot", None, True, [0.5]])
def test_negative_nan_infinite_or_non_numbers_are_refused(bad):
    with pytest.raises(ValueError, match="temperature must be") as err:
        sample(probs=PROBS, temperature=bad)
    assert "use 0 for greedy decoding" in str(err.value)


def test_temperatures_come_as_one_several_or_a_comma_separated_string():
    assert check_temperatures("0, 0.25,0.5,0.75") == [0.0, 0.25, 0.5, 0.75]
    assert check_temperatures("0.5") == [0.5]
    assert check_temperatures(1) == [1.0] and check_temperatures(0) == [0.0]
    assert check_temperatures(np.array([0, 0.5])) == [0.0, 0.5]
    assert check_temperature(np.float32(0.5)) == 0.5 and type(check_temperature(np.int64(1))) is float
    with pytest.raises(ValueError, match="'x' is not a number"):
        check_temperatures("0,x")
    with pytest.raises(ValueError, match="empty entry"):
        check_temperatures("0,,1")
    with pytest.raises(ValueError, match="at least one"):
        check_temperatures([])


def test_temperature_one_draws_from_the_distribution_itself():
    rng = np.random.default_rng(0)
    draws = np.bincount([sample(probs=PROBS, temperature=1.0, rng=rng) for _ in range(20_000)], minlength=4) / 20_000
    np.testing.assert_allclose(draws, PROBS, atol=0.015)


def test_low_temperature_sharpens_and_high_temperature_flattens():
    def entropy(p):
        return -np.sum(p * np.log(p + 1e-300))

    entropies = [entropy(apply_temperature(PROBS, t)) for t in (0.25, 0.5, 1.0, 2.0, 100.0)]
    assert entropies == sorted(entropies)
    np.testing.assert_allclose(apply_temperature(PROBS, 1.0), PROBS)
    np.testing.assert_allclose(apply_temperature(PROBS, 1e6), 0.25, atol=1e-4)
    np.testing.assert_array_equal(apply_temperature(PROBS, 0), [0, 1, 0, 0])
    # p ** (1/T), renormalised: at T = 0.5 the ratio of two probabilities is squared.
    sharp = apply_temperature(PROBS, 0.5)
    assert sharp[1] / sharp[3] == pytest.approx((0.6 / 0.25) ** 2)


def test_draws_at_low_temperature_favour_the_most_likely_character():
    rng = np.random.default_rng(1)
    draws = [sample(probs=PROBS, temperature=0.25, rng=rng) for _ in range(2000)]
    assert np.mean(np.array(draws) == 1) > 0.9


def test_a_seed_or_generator_makes_draws_repeatable():
    a = [sample(probs=PROBS, temperature=1.0, rng=np.random.default_rng(42)) for _ in range(5)]
    assert len(set(a)) == 1
    first = [sample(probs=PROBS, temperature=1.0, rng=7) for _ in range(3)]
    assert first == [sample(probs=PROBS, temperature=1.0, rng=7)] * 3


def test_logits_and_probabilities_give_the_same_draws():
    logits = np.log(PROBS) - 12.0
    for seed in range(20):
        assert sample(probs=PROBS, temperature=0.7, rng=seed) == sample(logits=logits, temperature=0.7, rng=seed)


def test_a_slice_of_probabilities_is_taken_as_probabilities_not_logits():
    top3 = np.array([0.5, 0.2, 0.1])  # the three likeliest characters: the slice sums to 0.8
    rng = np.random.default_rng(0)
    draws = np.bincount([sample(probs=top3, temperature=1.0, rng=rng) for _ in range(20_000)], minlength=3) / 20_000
    np.testing.assert_allclose(draws, top3 / top3.sum(), atol=0.015)  # as logits it would be ~[0.40, 0.30, 0.30]


def test_the_distribution_must_be_named():
    with pytest.raises(TypeError):
        sample(PROBS, 0.5)  # the old positional call: probabilities or logits? no guessing
    with pytest.raises(ValueError, match="exactly one of probs"):
        sample(probs=PROBS, logits=PROBS, temperature=0.5)
    with pytest.raises(ValueError, match="non-negative"):
        sample(probs=[0.5, -0.1, 0.6], temperature=0.5)


def test_broken_distributions_are_refused():
    with pytest.raises(ValueError, match="NaN or infinite"):
        sample(probs=[0.5, math.nan], temperature=1.0)
    with pytest.raises(ValueError, match="empty"):
        sample(logits=[], temperature=1.0)


NUCLEUS = np.array([0.5, 0.25, 0.15, 0.1])


@pytest.mark.parametrize("top_p, kept", [(0.5, [0]), (0.7, [0, 1]), (0.75, [0, 1]), (0.76, [0, 1, 2]),
                                         (0.9, [0, 1, 2]), (0.91, [0, 1, 2, 3]), (1.0, [0, 1, 2, 3])])
def test_top_p_keeps_the_smallest_set_of_likeliest_characters_whose_mass_reaches_p(top_p, kept):
    # By hand: cumulative mass 0.5, 0.75, 0.9, 1.0; 0.5 + 0.25 reaches 0.75, so 0.75 needs two characters.
    out = filter_distribution(NUCLEUS[[2, 0, 3, 1]], top_p=top_p)  # shuffled: ranking is by probability, not id
    expected = np.zeros(4)
    expected[kept] = NUCLEUS[kept] / NUCLEUS[kept].sum()
    np.testing.assert_allclose(out[[1, 3, 0, 2]], expected)


def test_top_k_keeps_the_k_likeliest_and_breaks_ties_by_index():
    np.testing.assert_allclose(filter_distribution(PROBS, top_k=2), [0, 0.6 / 0.85, 0, 0.25 / 0.85])
    np.testing.assert_array_equal(filter_distribution(PROBS, top_k=1), [0, 1, 0, 0])
    np.testing.assert_allclose(filter_distribution(PROBS, top_k=10), PROBS)  # more than V keeps them all
    np.testing.assert_array_equal(filter_distribution([0.2, 0.4, 0.4], top_k=1), [0, 1, 0])  # the lower id wins a tie
    np.testing.assert_array_equal(filter_distribution([0.3, 0.2, 0.3, 0.2], top_k=3) > 0, [True, True, True, False])


def test_top_p_is_measured_after_top_k_renormalises():
    # top_k=2 leaves [0.6, 0.25] -> [0.706, 0.294]; the first alone reaches 0.7, so top_p=0.7 keeps one.
    np.testing.assert_array_equal(filter_distribution(PROBS, top_k=2, top_p=0.7), [0, 1, 0, 0])
    np.testing.assert_array_equal(filter_distribution(PROBS, top_p=0.7) > 0, [False, True, False, True])


@pytest.mark.parametrize("temperature", [0.3, 1.0, 5.0, 100.0])
def test_top_k_one_is_greedy_at_any_temperature(temperature):
    logits = np.random.default_rng(0).normal(0, 2, 30)
    for seed in range(10):
        assert sample(logits=logits, temperature=temperature, rng=seed, top_k=1) == np.argmax(logits)
        assert sample(logits=logits, temperature=temperature, rng=seed, top_p=1e-9) == np.argmax(logits)


def test_temperature_zero_stays_greedy_with_filters():
    assert sample(probs=PROBS, temperature=0, top_k=3, top_p=0.2) == 1


def test_filtered_draws_follow_the_filtered_tempered_distribution():
    rng = np.random.default_rng(3)
    expected = filter_distribution(apply_temperature(PROBS, 2.0), top_k=3, top_p=0.85)
    assert np.count_nonzero(expected) == 3  # the check below would miss a filter that did nothing
    draws = np.bincount([sample(probs=PROBS, temperature=2.0, rng=rng, top_k=3, top_p=0.85) for _ in range(20_000)],
                        minlength=4) / 20_000
    np.testing.assert_allclose(draws, expected, atol=0.015)


def test_no_filter_gives_the_same_draws_as_before():
    # None for both is plain temperature sampling, draw for draw, and so is the filter that keeps everything.
    for seed in range(20):
        plain = sample(probs=PROBS, temperature=0.7, rng=seed)
        assert sample(probs=PROBS, temperature=0.7, rng=seed, top_k=None, top_p=None) == plain
        assert sample(probs=PROBS, temperature=0.7, rng=seed, top_k=4, top_p=1.0) == plain


@pytest.mark.parametrize("kwargs, message", [
    (dict(top_k=0), "top_k must be >= 1, got 0; use a whole number such as 40"),
    (dict(top_k=2.0), "top_k must be an integer, got 2.0"),
    (dict(top_k=True), "top_k must be an integer"),
    (dict(top_p=0), "top_p must be > 0, got 0; use a probability in (0, 1]"),
    (dict(top_p=1.01), "top_p must be <= 1, got 1.01"),
    (dict(top_p=float("nan")), "top_p must be a finite number"),
    (dict(top_p="0.9"), "top_p must be a number"),
])
def test_bad_top_k_or_top_p_is_refused_saying_what_to_pass(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        sample(probs=PROBS, temperature=1.0, **kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        filter_distribution(PROBS, **kwargs)


# --- apply_temperature is the distribution sample() draws from, at every temperature -------------

TINY = np.array([0.55, 0.45 - 2e-40 - 1e-250, 1e-40, 1e-250, 0.0])  # tiny and zero probabilities


class _RecordingGenerator(np.random.Generator):
    """A NumPy Generator that records the probabilities of every ``choice`` it is asked to draw from."""

    def __init__(self, seed: int = 0):
        super().__init__(np.random.PCG64(seed))
        self.drawn_from = []

    def choice(self, a, *args, p=None, **kwargs):
        self.drawn_from.append(None if p is None else np.array(p))
        return super().choice(a, *args, p=p, **kwargs)


@pytest.mark.parametrize("temperature", [0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 100.0, 1e4])
@pytest.mark.parametrize("probs", [PROBS, TINY], ids=["plain", "tiny"])
def test_apply_temperature_is_exactly_what_sample_draws_from(probs, temperature):
    rng = _RecordingGenerator()
    sample(probs=probs, temperature=temperature, rng=rng)
    (weights,) = rng.drawn_from
    np.testing.assert_allclose(weights, apply_temperature(probs, temperature), rtol=1e-12, atol=0)
    # and both are p ** (1/T), renormalised, computed here another way (with p = 0 giving 0)
    expected = probs ** (1 / temperature)
    np.testing.assert_allclose(apply_temperature(probs, temperature), expected / expected.sum(), rtol=1e-9, atol=0)


def test_draws_at_a_high_temperature_follow_apply_temperature_for_tiny_probabilities():
    # At T = 100 a probability of 1e-40 has weight 1e-40 ** 0.01 = 0.40 against 0.99 for the likeliest:
    # about 17% of the draws. Clipping it at 1e-30 first (as apply_temperature once did) would say 20%.
    expected = apply_temperature(TINY, 100.0)
    assert 0.16 < expected[2] < 0.175
    rng = np.random.default_rng(5)
    n = 40_000
    draws = np.bincount([sample(probs=TINY, temperature=100.0, rng=rng) for _ in range(n)], minlength=5) / n
    np.testing.assert_allclose(draws, expected, atol=0.01)


@pytest.mark.parametrize("temperature", [1.0, 10.0, 100.0, 1e4])
def test_a_character_of_probability_zero_is_never_drawn_at_any_temperature(temperature):
    assert apply_temperature(TINY, temperature)[4] == 0
    rng = np.random.default_rng(0)
    assert all(sample(probs=TINY, temperature=temperature, rng=rng) != 4 for _ in range(20_000))


def test_apply_temperature_checks_its_probabilities_as_sample_does():
    with pytest.raises(ValueError, match="non-negative"):
        apply_temperature([0.5, -0.1, 0.6], 1.0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        apply_temperature([0.5, math.nan], 1.0)
    np.testing.assert_array_equal(apply_temperature([0.0, 0.2, 0.2], 0), [0, 1, 0])  # the lower id wins a tie


def test_entropy_is_in_bits_and_zero_for_a_certain_outcome():
    assert entropy_bits([0.25] * 4) == pytest.approx(2.0)
    assert entropy_bits([0.0, 1.0, 0.0]) == 0.0 and math.copysign(1, entropy_bits([1.0])) == 1.0


def test_entropy_falls_as_temperature_sharpens_the_distribution():
    entropies = [entropy_bits(apply_temperature(PROBS, t)) for t in (0, 0.5, 1, 2)]
    assert entropies[0] == 0.0 and entropies == sorted(entropies)
    assert entropies[2] == pytest.approx(-sum(p * math.log2(p) for p in PROBS))
