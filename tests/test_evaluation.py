"""evaluate_loss: the windowed and the stateful reading, and the cap that keeps scoring a fixed amount of work."""

import numpy as np
import pytest

from textgen_helpers.evaluation import STATEFUL_STRETCHES, describe_scoring, evaluate_loss, stateful_stretches
from textgen_helpers.model import build_model
from textgen_helpers.runtime import import_keras, set_seed
from textgen_helpers.training import DEFAULT_VALIDATION_WINDOWS, TrainingConfig, train
from textgen_helpers.vocabulary import Vocabulary
from textgen_helpers.windows import scored_characters, split_train_validation, validation_windows

keras = import_keras()


@pytest.fixture(scope="module")
def vocab(shakespeare):
    return Vocabulary.from_text(shakespeare.text)


@pytest.fixture(scope="module")
def model(vocab):
    set_seed(0)
    return build_model(len(vocab), "16")


@pytest.fixture(scope="module")
def ids(shakespeare, vocab):
    return vocab.encode(shakespeare.text[:6_000])


def test_a_text_within_the_cap_is_scored_whole(model, ids):
    # 6,000 characters in windows of 30 overlapping by half: 399 windows.
    assert scored_characters(len(ids), 30, max_windows=399) == len(ids) - 1
    for stateful in (False, True):
        whole = evaluate_loss(model, ids, 30, stateful=stateful)
        assert evaluate_loss(model, ids, 30, max_windows=399, stateful=stateful) == whole
        assert evaluate_loss(model, ids, 30, max_windows=398, stateful=stateful) != whole


def test_the_stateful_sample_reads_each_stretch_after_its_context(model, ids):
    stretches = stateful_stretches(len(ids), 30, max_windows=40)
    assert len(stretches) == STATEFUL_STRETCHES and stretches[0][0] == 0 and stretches[-1][1] == len(ids)
    nats = []
    for start, stop in stretches:  # by hand: the model from a zero state over context and stretch, one sequence
        first = max(start - 30, 0)
        logits = keras.ops.convert_to_numpy(model(ids[None, first:stop - 1], training=False))[0]
        log_probs = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
        targets = np.arange(first + 1, stop)
        nats.append(-log_probs[targets - first - 1, ids[targets]][targets > start])
    by_hand = np.concatenate(nats).mean()
    assert evaluate_loss(model, ids, 30, max_windows=40, stateful=True, streams=3) == pytest.approx(by_hand, rel=1e-4)


def test_the_cap_bounds_the_characters_scored_however_long_the_text():
    for n_chars in (100_000, 10_000_000, 100_000_000):
        windowed = scored_characters(n_chars, 60, max_windows=8_000)
        stateful = sum(stop - start - 1 for start, stop in stateful_stretches(n_chars, 60, max_windows=8_000))
        assert windowed <= 8_000 * 30 + 30 and stateful <= windowed  # the first window counts all its 60 targets
        assert scored_characters(n_chars, 60, framing="seq2one", max_windows=8_000) == min(8_000, n_chars - 60)


def test_the_stateful_stretches_are_evenly_spread_and_fixed():
    stretches = stateful_stretches(10_000_000, 60, max_windows=8_000)
    assert stretches == stateful_stretches(10_000_000, 60, max_windows=8_000)
    starts = np.array([start for start, _ in stretches])
    lengths = {stop - start for start, stop in stretches}
    assert len(lengths) == 1 and np.ptp(np.diff(starts)) <= 1  # equal stretches, equal gaps (to rounding)


@pytest.mark.parametrize("sample_len", [32, 60])
def test_tiny_shakespeares_tail_is_scored_whole_by_default(shakespeare, vocab, sample_len):
    config = TrainingConfig(sample_len=sample_len)
    _, tail = split_train_validation(vocab.encode(shakespeare.text), config.validation_fraction)
    windows = DEFAULT_VALIDATION_WINDOWS["seq2seq"]  # what train() takes for a seq2seq model when the config says None
    assert config.max_validation_windows is None and len(tail) == 111_539
    assert scored_characters(len(tail), sample_len, max_windows=windows) == len(tail) - 1
    assert stateful_stretches(len(tail), sample_len, windows) == [(0, len(tail))]


def test_the_scoring_line_says_how_much_is_read():
    assert describe_scoring(111_539, 60, max_windows=8_000) == (
        "scoring all 111,538 validation characters and as many training characters after every epoch")
    assert describe_scoring(10_000_000, 60, max_windows=8_000) == (
        "scoring 240,009 of 10,000,000 validation characters (8,000 windows of 60, evenly spread, the same every "
        "epoch; val_loss_stateful reads 240,008) and as many training characters after every epoch")
    assert describe_scoring(111_539, 60, framing="seq2one", max_windows=8_000).startswith(
        "scoring 8,000 of 111,539 validation characters (8,000 windows of 60, evenly spread, the same every epoch; "
        "val_loss_stateful reads 111,538)")


@pytest.mark.parametrize("bad", [0, -1, 1.5, "10"])
def test_max_validation_windows_must_be_a_positive_count_or_none(bad):
    with pytest.raises(ValueError, match="max_validation_windows must be .*or None for the framing's default"):
        TrainingConfig(max_validation_windows=bad)
    assert TrainingConfig(max_validation_windows=None).max_validation_windows is None


@pytest.mark.parametrize("framing", ["seq2seq", "seq2one"])
def test_a_run_records_the_number_of_windows_its_framing_scores_by_default(vocab, ids, framing):
    set_seed(0)
    model = build_model(len(vocab), "16", framing=framing)
    run = train(model, vocab, ids[:20_000], epochs=1, sample_len=20, batch_size=16, examples_per_epoch=32,
                display_length=0, verbose=0)
    assert run.config.max_validation_windows == DEFAULT_VALIDATION_WINDOWS[framing]
    assert run.settings["max_validation_windows"] == DEFAULT_VALIDATION_WINDOWS[framing]  # what a resume compares


def test_a_seq2seq_model_read_as_seq2one_counts_only_the_character_after_each_full_window(model, ids):
    x, y, _ = validation_windows(ids, 12, framing="seq2one", max_windows=30)
    logits = keras.ops.convert_to_numpy(model(x))[:, -1]  # each window's last position predicts the next character
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    by_hand = -log_probs[np.arange(len(y)), y].mean()
    assert evaluate_loss(model, ids, 12, framing="seq2one", max_windows=30) == pytest.approx(by_hand, rel=1e-5)
    assert evaluate_loss(model, ids, 12, max_windows=30) != pytest.approx(by_hand, rel=1e-3)  # its own reading differs


def test_a_reading_the_model_cannot_give_is_refused_in_one_line(vocab, model, ids):
    with pytest.raises(ValueError, match="cannot be read as seq2seq"):
        evaluate_loss(build_model(len(vocab), "8", framing="seq2one"), ids, 12, framing="seq2seq")
    with pytest.raises(ValueError, match="framing must be one of"):
        evaluate_loss(model, ids, 12, framing="seq")
    with pytest.raises(ValueError, match="leave framing=None with stateful=True"):
        evaluate_loss(model, ids, 12, framing="seq2one", stateful=True)
