import math

import numpy as np
import pytest

from textgen_helpers.sampling import (
    apply_temperature,
    check_temperature,
    check_temperatures,
    sample,
)

PROBS = np.array([0.1, 0.6, 0.05, 0.25])


def test_temperature_zero_is_argmax_for_probabilities_and_logits():
    assert sample(PROBS, 0) == 1
    assert sample(np.log(PROBS) + 3.0, 0) == 1
    assert sample([-2.0, 5.0, 7.5, 1.0], 0.0, kind="logits") == 2


@pytest.mark.parametrize("bad", [-1, -0.001, float("nan"), float("inf"), -float("inf"), "hot", None, True, [0.5]])
def test_negative_nan_infinite_or_non_numbers_are_refused(bad):
    with pytest.raises(ValueError, match="temperature must be") as err:
        sample(PROBS, bad)
    assert "use 0 for greedy decoding" in str(err.value)


def test_numeric_strings_are_accepted_as_temperatures():
    assert check_temperature("0.5") == 0.5
    assert check_temperatures("0, 0.25,0.5,0.75") == [0.0, 0.25, 0.5, 0.75]
    assert check_temperatures(1) == [1.0]
    with pytest.raises(ValueError, match="empty entry"):
        check_temperatures("0,,1")
    with pytest.raises(ValueError, match="at least one"):
        check_temperatures([])


def test_temperature_one_draws_from_the_distribution_itself():
    rng = np.random.default_rng(0)
    draws = np.bincount([sample(PROBS, 1.0, rng) for _ in range(20_000)], minlength=4) / 20_000
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
    draws = [sample(PROBS, 0.25, rng) for _ in range(2000)]
    assert np.mean(np.array(draws) == 1) > 0.9


def test_a_seed_or_generator_makes_draws_repeatable():
    a = [sample(PROBS, 1.0, np.random.default_rng(42)) for _ in range(5)]
    assert len(set(a)) == 1
    first = [sample(PROBS, 1.0, 7) for _ in range(3)]
    assert first == [sample(PROBS, 1.0, 7)] * 3


def test_logits_and_probabilities_give_the_same_draws():
    logits = np.log(PROBS) - 12.0
    for seed in range(20):
        assert sample(PROBS, 0.7, seed, kind="probs") == sample(logits, 0.7, seed, kind="logits")
        assert sample(logits, 0.7, seed) == sample(logits, 0.7, seed, kind="logits")  # auto: not probabilities


def test_broken_distributions_are_refused():
    with pytest.raises(ValueError, match="NaN or infinite"):
        sample([0.5, math.nan], 1.0)
    with pytest.raises(ValueError, match="empty"):
        sample([], 1.0)
    with pytest.raises(ValueError, match="kind must be"):
        sample(PROBS, 1.0, kind="odds")
