import hashlib
import itertools
import sys
import tracemalloc

import numpy as np
import pytest

from textgen_helpers.model import build_model
from textgen_helpers.runtime import import_keras, set_seed
from textgen_helpers.vocabulary import Vocabulary
from textgen_helpers.windows import (
    count_windows,
    estimate_onehot_memory,
    onehot_windows,
    random_onehot_windows,
    scored_characters,
    split_train_validation,
    validation_windows,
    window_dataset,
    window_starts,
)

keras = import_keras()


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


def reference_batch(ids, sample_len, batch_size, k, *, seed, sample_step=1, framing="seq2seq", vocab_size=None):
    """Batch k by the rule window_dataset documents, written out here in NumPy."""
    n_starts = len(range(0, len(ids) - sample_len, sample_step))
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k,)))
    starts = rng.integers(0, n_starts, size=batch_size) * sample_step
    windows = np.asarray(ids)[starts[:, None] + np.arange(sample_len + 1)]
    if framing == "seq2seq":
        return windows[:, :-1], windows[:, 1:]
    eye = np.eye(vocab_size, dtype=np.float32)
    return eye[windows[:, :-1]], eye[windows[:, -1]]


def test_window_dataset_streams_shifted_integer_windows(encoded):
    _, ids = encoded
    stream = window_dataset(ids[:20_000], sample_len=50, batch_size=8, sample_step=3, seed=1)
    (x, y), (x2, _) = stream[0], stream[1]
    assert x.shape == y.shape == (8, 50) and x.dtype == y.dtype == np.int32
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])  # y is x shifted by one character
    assert not np.array_equal(x, x2)
    assert isinstance(stream, keras.utils.PyDataset)
    assert stream.num_batches is None  # endless: fit needs steps_per_epoch


def test_every_window_starts_on_the_sample_step_grid(encoded):
    _, ids = encoded
    text = ids[:20_000]
    stream = window_dataset(text, sample_len=50, batch_size=64, sample_step=3, seed=1)
    for k in range(20):
        starts = stream.batch_starts(k)
        assert np.all(starts % 3 == 0) and starts.min() >= 0 and starts.max() + 50 < len(text)
        x, y = stream[k]
        np.testing.assert_array_equal(x, text[starts[:, None] + np.arange(50)])
        np.testing.assert_array_equal(y[:, -1], text[starts + 50])  # the character after the window exists
    drawn = np.concatenate([stream.batch_starts(k) for k in range(200)])  # 12,800 draws from 6,650 starts
    assert len(np.unique(drawn)) > 0.8 * stream.n_starts  # uniform draws reach 1 - exp(-12800 / 6650) = 85% of them


@pytest.mark.parametrize("framing", ["seq2seq", "seq2one"])
def test_batch_k_is_the_documented_draw_of_seed_and_k(encoded, framing):
    vocab, ids = encoded
    stream = window_dataset(ids[:20_000], 40, 16, framing=framing, vocab_size=len(vocab), sample_step=3,
                            seed=2**63 + 5)
    for k in (0, 1, 7, 10**12):
        reference = reference_batch(ids[:20_000], 40, 16, k, seed=2**63 + 5, sample_step=3, framing=framing,
                                    vocab_size=len(vocab))
        for got, expected in zip(stream.batch(k), reference, strict=True):
            assert got.dtype == (np.int32 if framing == "seq2seq" else np.float32)
            np.testing.assert_array_equal(got, expected)


def test_window_dataset_batch_k_depends_only_on_the_seed_and_k(encoded):
    _, ids = encoded
    stream = window_dataset(ids[:20_000], 20, 4, seed=3)
    batches = [x for x, _ in itertools.islice(stream, 5)]
    assert not any(np.array_equal(batches[0], b) for b in batches[1:])  # new windows every batch
    np.testing.assert_array_equal(batches, [stream[k][0] for k in range(5)])  # iterating is indexing, in order
    np.testing.assert_array_equal(batches, [stream[k][0] for k in range(5)])  # and the same again: nothing is used up
    resumed = window_dataset(ids[:20_000], 20, 4, seed=3, start_step=3)
    np.testing.assert_array_equal([resumed[i][0] for i in range(2)], batches[3:5])  # a resumed stream continues
    np.testing.assert_array_equal([x for x, _ in itertools.islice(resumed, 2)], batches[3:5])
    assert not np.array_equal(window_dataset(ids[:20_000], 20, 4, seed=4)[0][0], batches[0])


def test_fit_reads_batch_k_at_step_k_across_epochs(encoded):
    # A stream handed to fit (as train does on JAX and torch) is read on from epoch to epoch, never restarted,
    # so a run resumed at start_step sees what the uninterrupted run would have.
    vocab, ids = encoded

    def fresh_model():
        set_seed(0)
        return build_model(len(vocab), "8")

    stream = window_dataset(ids[:20_000], 16, 4, seed=5, start_step=2)
    fitted = fresh_model()
    fitted.fit(stream, steps_per_epoch=3, epochs=2, verbose=0, shuffle=False)
    by_hand = fresh_model()
    for k in range(2, 8):
        by_hand.train_on_batch(*window_dataset(ids[:20_000], 16, 4, seed=5)[k])
    for a, b in zip(fitted.get_weights(), by_hand.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_window_dataset_can_stream_the_books_onehot_framing(encoded):
    vocab, ids = encoded
    x, y = window_dataset(ids[:20_000], 40, 4, framing="seq2one", vocab_size=len(vocab))[0]
    assert x.shape == (4, 40, 65) and y.shape == (4, 65) and x.dtype == y.dtype == np.float32
    assert np.all(x.sum(axis=2) == 1) and np.all(y.sum(axis=1) == 1)
    with pytest.raises(ValueError, match="needs vocab_size"):
        window_dataset(ids, 40, 4, framing="seq2one")
    with pytest.raises(ValueError, match="framing must be one of"):
        window_dataset(ids, 40, 4, framing="seq2many")
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 10\)"):
        window_dataset(ids, 40, 4, framing="seq2one", vocab_size=10)


@pytest.mark.parametrize("bad, match", [(np.zeros((10, 10), dtype=np.int32), "1-D array"),
                                        (np.linspace(0, 1, 100), "integer character ids"),
                                        (np.arange(100) - 1, r"ids must lie in \[0, \.\.\.\)")])
def test_window_dataset_refuses_what_is_not_encoded_text(bad, match):
    with pytest.raises(ValueError, match=match):
        window_dataset(bad, 5, 4)


def test_a_stream_index_must_be_a_count_from_start_step():
    stream = window_dataset(np.arange(100) % 7, 5, 4, start_step=3)
    with pytest.raises(ValueError, match=r"index must be >= 0, got -1; stream\[i\] is batch start_step \+ i"):
        stream[-1]
    assert "seed 0, from batch 3" in repr(stream)


def test_the_same_seed_gives_the_same_windows_on_every_backend():
    # Run in each suite's own process, on its backend: the TensorFlow suite, and the backend suite on JAX and on
    # PyTorch (the Makefile's BACKEND_TESTS), where TensorFlow cannot be imported at all.
    ids = (np.arange(30_000, dtype=np.int64) * 7919 % 65).astype(np.int32)
    streamed, expected = hashlib.sha256(), hashlib.sha256()
    for framing in ("seq2seq", "seq2one"):
        stream = window_dataset(ids, 60, 32, framing=framing, vocab_size=65, sample_step=3, seed=12345, start_step=4)
        for i in range(6):
            for array in stream[i]:
                streamed.update(array.tobytes())
        for k in range(4, 10):
            for array in reference_batch(ids, 60, 32, k, seed=12345, sample_step=3, framing=framing, vocab_size=65):
                expected.update(np.ascontiguousarray(array, dtype=np.int32 if framing == "seq2seq" else np.float32)
                                .tobytes())
    assert streamed.hexdigest() == expected.hexdigest(), keras.backend.backend()
    if keras.backend.backend() != "tensorflow":
        assert "tensorflow" not in sys.modules  # the stream itself never imports TensorFlow


def test_the_stream_stores_no_window_a_5_mb_corpus_takes_well_under_100_mb():
    ids = np.random.default_rng(0).integers(0, 65, size=5_000_000).astype(np.int32)  # as vocab.encode gives
    tracemalloc.start()
    try:
        for framing in ("seq2seq", "seq2one"):
            stream = window_dataset(ids, 100, 128, framing=framing, vocab_size=65, sample_step=3)
            for k in range(20):
                stream[k]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.shares_memory(stream.ids, ids)  # the text is kept as given, not copied
    # One seq2one batch is 128 x 100 x 65 float32 (3.3 MB); every window of the grid would be 6.5 GB.
    assert peak < 20e6, f"peak {peak / 1e6:.1f} MB"


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


@pytest.mark.parametrize("framing", ["seq2seq", "seq2one"])
def test_a_capped_reading_keeps_evenly_spread_windows_the_same_every_call(framing):
    ids = np.arange(100_000, dtype=np.int32)
    x, y, w = validation_windows(ids, 40, framing=framing, max_windows=50)
    assert len(x) == 50
    starts = x[:, 0]
    assert starts[0] == 0 and starts[-1] == 100_000 - 1 - 40  # from the first window to the last
    gaps = np.diff(starts)
    assert gaps.max() - gaps.min() <= 40  # evenly spread: gaps differ by at most one step of the grid
    again = validation_windows(ids, 40, framing=framing, max_windows=50)
    assert all(np.array_equal(a, b) for a, b in zip((x, y, w), again, strict=True))  # no randomness


def test_capped_seq2seq_windows_are_rows_of_the_whole_reading_with_their_weights():
    ids = np.arange(5_000, dtype=np.int32)
    whole = validation_windows(ids, 40)
    x, y, w = validation_windows(ids, 40, max_windows=7)
    rows = [int(np.flatnonzero(whole[0][:, 0] == start)[0]) for start in x[:, 0]]
    for array, full in zip((x, y, w), whole, strict=True):
        np.testing.assert_array_equal(array, full[rows])
    # The first window counts all its targets, the others the 20 new ones, the last (flush with the end) 19.
    assert w.sum() == scored_characters(5_000, 40, max_windows=7) == 40 + 5 * 20 + 19


@pytest.mark.parametrize("framing", ["seq2seq", "seq2one"])
def test_a_text_with_no_more_windows_than_the_cap_is_read_whole(framing):
    ids = np.arange(1_013, dtype=np.int32)
    whole = validation_windows(ids, 40, framing=framing)
    capped = validation_windows(ids, 40, framing=framing, max_windows=len(whole[0]))
    assert all(np.array_equal(a, b) for a, b in zip(whole, capped, strict=True))
    assert scored_characters(1_013, 40, framing=framing, max_windows=len(whole[0])) == whole[2].sum()


@pytest.mark.parametrize("max_windows", [0, -3, 2.5, True])
def test_max_windows_must_be_a_positive_count(max_windows):
    with pytest.raises(ValueError, match="max_windows must be"):
        validation_windows(np.arange(500, dtype=np.int32), 40, max_windows=max_windows)
