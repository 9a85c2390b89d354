import numpy as np
import pytest

from textgen_helpers.vocabulary import Vocabulary
from textgen_helpers.windows import (
    count_windows,
    estimate_onehot_memory,
    onehot_windows,
    random_onehot_windows,
    split_train_validation,
    validation_windows,
    window_dataset,
    window_starts,
)


@pytest.fixture(scope="module")
def encoded(shakespeare):
    vocab = Vocabulary.from_text(shakespeare.text)
    return vocab, vocab.encode(shakespeare.text)


def test_validation_is_the_contiguous_tail():
    ids = np.arange(1000)
    train, val = split_train_validation(ids, 0.1)
    assert len(train) == 900 and len(val) == 100
    np.testing.assert_array_equal(np.concatenate([train, val]), ids)
    assert train.max() < val.min()  # no validation character comes from the training text


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, "0.1", None])
def test_validation_fraction_must_lie_strictly_between_0_and_1(fraction):
    with pytest.raises(ValueError, match="validation_fraction must be"):
        split_train_validation(np.arange(100), fraction)


def test_a_text_too_short_to_split_is_refused():
    with pytest.raises(ValueError, match="too short"):
        split_train_validation(np.arange(5), 0.1)


def test_window_starts_step_through_the_text_and_leave_room_for_the_target():
    starts = window_starts(100, sample_len=10, sample_step=3)
    assert starts[0] == 0 and np.all(np.diff(starts) == 3)
    assert starts[-1] + 10 < 100 <= starts[-1] + 10 + 3
    assert count_windows(100, 10, 3) == len(starts)
    assert count_windows(1_115_394, 60, 3) == len(window_starts(1_115_394, 60, 3)) == 371_778


def test_a_text_shorter_than_one_window_is_refused():
    with pytest.raises(ValueError, match="shorter than one window of 60"):
        window_starts(60, 60, 3)


@pytest.mark.parametrize("sample_len, sample_step", [(0, 3), (60, 0), (-1, 1), (2.5, 1), (True, 1)])
def test_window_arguments_must_be_positive_integers(sample_len, sample_step):
    with pytest.raises(ValueError, match="must be (>= 1|an integer)"):
        window_starts(1000, sample_len, sample_step)


def test_memory_estimate_for_tiny_shakespeare_matches_the_book_framing():
    n = count_windows(1_115_394, 60, 3)
    as_bool = estimate_onehot_memory(n, 60, 65, "bool")
    as_float = estimate_onehot_memory(n, 60, 65, "float32")
    assert round(as_bool.inputs / 1e9, 2) == 1.45
    assert round(as_float.inputs / 1e9, 2) == 5.80
    assert as_bool.targets == n * 65 and as_float.total == 4 * as_bool.total
    assert "1.45 GB" in str(as_bool)


def test_onehot_windows_have_the_books_shapes_and_content(encoded):
    vocab, ids = encoded
    x, y = onehot_windows(ids[:4000], len(vocab), sample_len=40, sample_step=3)
    assert x.shape == (count_windows(4000, 40, 3), 40, 65) and y.shape == (x.shape[0], 65)
    assert x.dtype == bool and np.all(x.sum(axis=2) == 1) and np.all(y.sum(axis=1) == 1)
    k = 7
    assert vocab.decode(x[k].argmax(axis=1)) == vocab.decode(ids[3 * k:3 * k + 40])
    assert y[k].argmax() == ids[3 * k + 40]


def test_onehot_windows_above_the_limit_are_refused_with_the_estimate(encoded):
    vocab, ids = encoded
    with pytest.raises(MemoryError) as err:
        onehot_windows(ids, len(vocab), 60, 3, dtype="float32")
    message = str(err.value)
    assert "371,778 one-hot windows" in message and "5.80 GB" in message and "window_dataset" in message


def test_random_onehot_windows_draw_from_the_step_grid(encoded):
    vocab, ids = encoded
    rng = np.random.default_rng(0)
    x1, _ = random_onehot_windows(ids, len(vocab), 40, 3, 50, rng)
    x2, _ = random_onehot_windows(ids, len(vocab), 40, 3, 50, rng)
    assert x1.shape == (50, 40, 65) and not np.array_equal(x1, x2)
    text = vocab.decode(ids)
    for window in x1[:5]:
        start = text.find(vocab.decode(window.argmax(axis=1)))
        assert start >= 0


def test_window_dataset_streams_shifted_integer_windows(encoded):
    vocab, ids = encoded
    dataset = window_dataset(ids[:20_000], sample_len=50, batch_size=8, sample_step=3, seed=1)
    batches = list(dataset.take(2).as_numpy_iterator())
    (x, y), (x2, _) = batches
    assert x.shape == y.shape == (8, 50) and x.dtype == np.int32
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])  # y is x shifted by one character
    assert not np.array_equal(x, x2)
    grid = np.lib.stride_tricks.sliding_window_view(ids[:20_000], 51)[::3]  # windows starting every 3rd character
    for row_x, row_y in zip(x, y, strict=True):
        assert (grid == np.concatenate([row_x, row_y[-1:]])).all(axis=1).any()


def test_window_dataset_batch_k_depends_only_on_the_seed_and_k(encoded):
    _, ids = encoded
    batches = [x.numpy() for x, _ in window_dataset(ids[:20_000], 20, 4, seed=3).take(5)]
    assert not any(np.array_equal(batches[0], b) for b in batches[1:])  # new windows every batch
    resumed = [x.numpy() for x, _ in window_dataset(ids[:20_000], 20, 4, seed=3, start_step=3).take(2)]
    np.testing.assert_array_equal(resumed, batches[3:5])  # a resumed stream continues where it stopped
    other = next(iter(window_dataset(ids[:20_000], 20, 4, seed=4)))[0].numpy()
    assert not np.array_equal(other, batches[0])


def test_window_dataset_can_stream_the_books_onehot_framing(encoded):
    vocab, ids = encoded
    x, y = next(iter(window_dataset(ids[:20_000], 40, 4, framing="seq2one", vocab_size=len(vocab))))
    assert x.shape == (4, 40, 65) and y.shape == (4, 65)
    assert np.all(x.numpy().sum(axis=2) == 1)
    with pytest.raises(ValueError, match="needs vocab_size"):
        window_dataset(ids, 40, 4, framing="seq2one")
    with pytest.raises(ValueError, match="framing must be one of"):
        window_dataset(ids, 40, 4, framing="seq2many")


def test_seq2seq_validation_windows_count_every_character_once():
    ids = np.arange(1, 1001, dtype=np.int32)
    x, y, w = validation_windows(ids, 40, framing="seq2seq")
    counted = y[w > 0]
    # Each target character exactly once, in order: a contiguous stretch from the second character.
    np.testing.assert_array_equal(counted, np.arange(2, 2 + len(counted)))
    assert len(counted) > 900
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    assert np.all(w[1:, :20] == 0) and np.all(w[0] == 1)


@pytest.mark.parametrize("n", [41, 42, 59, 60, 61, 1000, 1013])
def test_seq2seq_validation_windows_count_every_target_of_the_text_exactly_once(n):
    ids = np.arange(n, dtype=np.int32)
    x, y, w = validation_windows(ids, 40, framing="seq2seq")
    counts = np.bincount(y[w > 0], minlength=n)
    np.testing.assert_array_equal(counts, [0] + [1] * (n - 1))  # every character after the first, once
    assert w.sum() == n - 1


def test_seq2one_validation_windows_predict_the_next_character():
    ids = np.arange(500, dtype=np.int32)
    x, y, w = validation_windows(ids, 40, framing="seq2one", max_windows=10)
    assert x.shape == (10, 40) and y.shape == (10,) and np.all(w == 1)
    np.testing.assert_array_equal(y, x[:, -1] + 1)
    assert x[0, 0] == 0 and x[-1, -1] == 498  # spread over the whole text


def test_only_sequence_to_one_validation_is_subsampled():
    with pytest.raises(ValueError, match="max_windows applies to framing='seq2one'"):
        validation_windows(np.arange(500, dtype=np.int32), 40, framing="seq2seq", max_windows=3)


def test_the_window_stream_runs_no_autotuner():
    # With tf.data's autotuner on, tearing down an iterator of a run stopped mid-epoch waited seconds for
    # the autotuner's thread (seen with py-spy: RootDataset::Iterator::~Iterator); fixed buffers need none.
    ds = window_dataset(np.arange(500, dtype=np.int32) % 7, 10, 4, framing="seq2seq", seed=0)
    assert ds.options().autotune.enabled is False
    x, y = next(iter(ds))
    assert x.shape == (4, 10) and np.array_equal(x[:, 1:], y[:, :-1])
