import numpy as np
import pytest

from textgen_helpers.generation import FastGenerator, generate, generate_reference
from textgen_helpers.model import build_model, model_sample_len, set_sample_len
from textgen_helpers.runtime import import_keras, set_seed
from textgen_helpers.sampling import filter_distribution
from textgen_helpers.vocabulary import Vocabulary

keras = import_keras()
ON_TENSORFLOW = keras.backend.backend() == "tensorflow"
# XLA on or off is TensorFlow's choice: JAX always compiles with XLA, PyTorch never.
XLA_CHOICES = [
    None,
    pytest.param(False, marks=pytest.mark.skipif(not ON_TENSORFLOW, reason="jit_compile is TensorFlow's")),
]

SEED_TEXT = "ROMEO:\nI "


@pytest.fixture(scope="module")
def seq2seq(trained):
    return trained.model, trained.vocab, FastGenerator(trained.model, trained.vocab)


@pytest.fixture(scope="module")
def seq2one(shakespeare):
    """The book's model with random weights, spread so that argmax ties cannot happen."""
    set_seed(3)
    vocab = Vocabulary.from_text(shakespeare.text)
    model = build_model(len(vocab), "32,16", framing="seq2one")
    rng = np.random.default_rng(0)
    model.set_weights([w + rng.normal(0, 0.3, w.shape).astype("float32") for w in model.get_weights()])
    return model, vocab, FastGenerator(model, vocab)


@pytest.mark.parametrize("which", ["seq2seq", "seq2one"])
def test_at_temperature_zero_both_generators_write_the_same_text(which, request):
    model, vocab, fast = request.getfixturevalue(which)
    # Within the window the book's generator re-reads exactly the text the fast one has carried.
    reference = generate_reference(model, vocab, SEED_TEXT, 30, 0.0, window=40)
    assert fast(SEED_TEXT, 30, 0.0)[0] == reference
    # With the whole text as its window, the book's generator agrees however long the text gets: here past
    # 40 characters (the reference re-reads a longer input for every character, which JAX compiles anew).
    long_reference = generate_reference(model, vocab, SEED_TEXT, 45, 0.0, window=None)
    assert fast(SEED_TEXT, 45, [0.0])[0] == long_reference


def test_a_seed_longer_than_the_window_is_cut_to_its_last_window(seq2seq):
    model, vocab, fast = seq2seq
    long_seed = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
    cut = fast(long_seed, 40, 0.0, window=40)[0]
    assert cut == fast(long_seed[-40:], 40, 0.0)[0]
    assert cut[:1] == generate_reference(model, vocab, long_seed, 1, 0.0, window=40)


# Longer than the shipped bundle's sample_len (32), with a start odd enough that a model primed on all
# of it writes another text than one primed on its last 32 characters (on plain verse they soon agree).
LONG_SEED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz the king is"


def test_generate_primes_as_bundle_generate_does_on_a_seed_longer_than_sample_len():
    from textgen_helpers.bundle import load_bundle, shipped_bundle

    bundle = load_bundle(shipped_bundle().path)
    set_sample_len(bundle.model, bundle.sample_len)  # as load_bundle records it on the model it loads
    assert len(LONG_SEED) > bundle.sample_len
    for temperature in (0.0, [0.0, 1.0]):
        expected = bundle.generate(LONG_SEED, 120, temperature, seed=3)
        assert generate(bundle.model, bundle.vocab, LONG_SEED, 120, temperature, seed=3) == expected
        fast = FastGenerator(bundle.model, bundle.vocab)(LONG_SEED, 120, temperature, seed=3)
        assert fast == (expected if isinstance(expected, list) else [expected])
    # the test can fail: primed on the whole seed, the same model writes another text
    whole = generate(bundle.model, bundle.vocab, LONG_SEED, 120, 0.0, window=None)
    assert whole != bundle.generate(LONG_SEED, 120, 0.0)


def test_a_window_given_or_none_overrides_the_models_sample_len(seq2one):
    model, vocab, fast = seq2one
    assert model_sample_len(model) is None  # fresh from build_model: the whole seed primes
    whole = generate(model, vocab, LONG_SEED, 40, 0.0)
    assert whole == generate(model, vocab, LONG_SEED, 40, 0.0, window=None) == fast(LONG_SEED, 40, 0.0)[0]
    cut = generate(model, vocab, LONG_SEED, 40, 0.0, window=20)
    assert cut == generate(model, vocab, LONG_SEED[-20:], 40, 0.0) != whole
    try:
        set_sample_len(model, 20)
        assert generate(model, vocab, LONG_SEED, 40, 0.0) == fast(LONG_SEED, 40, 0.0)[0] == cut
        assert generate(model, vocab, LONG_SEED, 40, 0.0, window=None) == whole
    finally:
        del model.textgen_sample_len
    with pytest.raises(ValueError, match="window must be a number of characters, None .* or 'sample_len'"):
        fast(LONG_SEED, 10, window="trained")
    with pytest.raises(ValueError, match="sample_len must be >= 1"):
        set_sample_len(model, 0)


def test_a_seed_of_one_character_works(seq2seq):
    _, _, fast = seq2seq
    text = fast("T", 25, 0.5, seed=1)[0]
    assert len(text) == 25


def test_seed_text_with_unknown_characters_is_refused_naming_them_or_handled_on_request(seq2seq):
    _, _, fast = seq2seq
    with pytest.raises(ValueError, match="'é' \\(U\\+00E9"):
        fast("Roméo", 10)
    assert len(fast("Roméo", 10, unknown="skip")[0]) == 10
    assert len(fast("Roméo", 10, unknown="replace")[0]) == 10


def test_an_empty_seed_is_refused(seq2seq):
    _, _, fast = seq2seq
    with pytest.raises(ValueError, match="seed text is empty"):
        fast("", 10)
    with pytest.raises(ValueError, match="nothing of the seed text is left once the characters the model does not "
                                         "know are skipped \\('éé'\\)"):
        fast("éé", 10, unknown="skip")  # not "empty": the user did give text
    with pytest.raises(ValueError, match="seed text must be a string"):
        fast(None, 10)


@pytest.mark.parametrize("kwargs, message", [
    (dict(length=0), "length must be >= 1"),
    (dict(length=2.5), "length must be an integer"),
    (dict(temperatures=-1), "temperature must be >= 0"),
    (dict(temperatures=[0.5, float("nan")]), "finite"),
    (dict(seed="x"), "seed must be an integer"),
    (dict(seed=-1), "seed must be >= 0"),
    (dict(seed=2**64), "seed must be <="),
    (dict(window=0), "window must be >= 1"),
])
def test_bad_generation_arguments_are_refused(seq2seq, kwargs, message):
    _, _, fast = seq2seq
    args = dict(length=10) | kwargs
    with pytest.raises(ValueError, match=message):
        fast(SEED_TEXT, **args)


def test_the_same_seed_gives_the_same_text_and_another_seed_another(seq2seq):
    _, _, fast = seq2seq
    a = fast(SEED_TEXT, 200, [1.0], seed=5)
    assert a == fast(SEED_TEXT, 200, [1.0], seed=5)
    assert a != fast(SEED_TEXT, 200, [1.0], seed=6)


def test_several_temperatures_come_out_of_one_call_and_a_row_does_not_depend_on_the_rows_after_it(seq2seq):
    _, _, fast = seq2seq
    together = fast(SEED_TEXT, 150, [0.0, 0.25, 0.5, 0.75, 1.0], seed=9)
    assert len(together) == 5 and all(len(t) == 150 for t in together)
    assert fast(SEED_TEXT, 150, [0.0, 0.25, 0.5], seed=9) == together[:3]  # batch of 4 rows, then of 8
    assert fast(SEED_TEXT, 150, [0.0], seed=9)[0] == together[0]
    assert len(set(together)) > 2


def test_two_rows_at_the_same_temperature_write_different_texts(seq2seq):
    model, vocab, fast = seq2seq
    a, b = generate(model, vocab, SEED_TEXT, 100, [1.0, 1.0], seed=4)
    assert a != b


def test_seeds_use_the_whole_64_bit_range(seq2seq):
    _, _, fast = seq2seq
    low = fast(SEED_TEXT, 100, 1.0, seed=1)
    assert fast(SEED_TEXT, 100, 1.0, seed=2**63 + 1) != low  # not folded onto seed 1
    assert fast(SEED_TEXT, 100, 1.0, seed=2**32 + 1) != low
    assert fast(SEED_TEXT, 100, 1.0, seed=np.uint64(2**64 - 1)) == fast(SEED_TEXT, 100, 1.0, seed=2**64 - 1)


def test_streamed_pieces_join_to_the_whole_text(seq2seq):
    _, _, fast = seq2seq
    pieces = list(fast.stream(SEED_TEXT, 150, [0.0, 1.0], seed=3))
    assert [len(p[0]) for p in pieces] == [64, 64, 22]
    assert ["".join(p[r] for p in pieces) for r in (0, 1)] == fast(SEED_TEXT, 150, [0.0, 1.0], seed=3)


@pytest.fixture(scope="module")
def peaked():
    """A one-layer model whose next-character logits are spread out (so temperatures differ clearly)."""
    set_seed(1)
    vocab = Vocabulary("abcdefghij")
    model = build_model(len(vocab), "8", compile=False)
    rng = np.random.default_rng(0)
    model.get_layer("next_char").bias.assign(rng.normal(0, 1.5, len(vocab)).astype("float32"))
    return model, vocab


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_the_fast_generator_draws_from_softmax_of_logits_over_temperature(peaked, temperature):
    model, vocab = peaked
    seed_text = "abcab"
    logits = keras.ops.convert_to_numpy(model(vocab.encode(seed_text)[None], training=False))[0, -1].astype(np.float64)

    def softmax(z):
        e = np.exp(z - z.max())
        return e / e.sum()

    expected, inverted = softmax(logits / temperature), softmax(logits * temperature)
    rows = 8192  # every row draws its own noise: 8192 independent first characters in one call
    first = [text[0] for text in FastGenerator(model, vocab)(seed_text, 1, [temperature] * rows, seed=11)]
    observed = np.bincount(vocab.encode("".join(first)), minlength=len(vocab)) / rows
    distance = 0.5 * np.abs(observed - expected).sum()  # total variation
    assert distance < 0.03
    assert 0.5 * np.abs(observed - inverted).sum() > distance + 0.1  # an inverted temperature would be caught


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


@pytest.mark.parametrize("temperature, top_k, top_p", [(1.0, 3, None), (2.0, None, 0.6), (0.7, 4, 0.8), (1.5, 6, 0.9)])
def test_the_fast_generator_draws_from_the_filtered_distribution(peaked, temperature, top_k, top_p):
    model, vocab = peaked
    seed_text = "abcab"
    logits = keras.ops.convert_to_numpy(model(vocab.encode(seed_text)[None], training=False))[0, -1].astype(np.float64)
    expected = filter_distribution(_softmax(logits / temperature), top_k=top_k, top_p=top_p)
    unfiltered = _softmax(logits / temperature)
    rows = 8192  # every row draws its own noise: 8192 independent first characters in one call
    first = [text[0] for text in FastGenerator(model, vocab)(seed_text, 1, [temperature] * rows, seed=11,
                                                              top_k=top_k, top_p=top_p)]
    observed = np.bincount(vocab.encode("".join(first)), minlength=len(vocab)) / rows
    distance = 0.5 * np.abs(observed - expected).sum()  # total variation
    assert distance < 0.03
    assert observed[expected == 0].sum() == 0  # nothing outside the top-k / nucleus is ever drawn
    assert 0.5 * np.abs(observed - unfiltered).sum() > distance + 0.05  # an ignored filter would be caught


@pytest.mark.parametrize("jit_compile", XLA_CHOICES)  # None: XLA where available
def test_top_k_one_is_greedy_in_the_compiled_loop_at_any_temperature(seq2one, jit_compile):
    model, vocab, _ = seq2one
    fast = FastGenerator(model, vocab, jit_compile=jit_compile)
    greedy = fast(SEED_TEXT, 70, 0.0)[0]
    for seed in (0, 1, 2):
        assert fast(SEED_TEXT, 70, [0.25, 1.0, 3.0], seed=seed, top_k=1) == [greedy] * 3
        assert fast(SEED_TEXT, 70, [1.0, 3.0], seed=seed, top_p=1e-6) == [greedy] * 2
    assert fast(SEED_TEXT, 70, [3.0], seed=0)[0] != greedy  # without the filter these rows do sample


def test_temperature_zero_stays_greedy_whatever_the_filters(seq2one):
    model, vocab, fast = seq2one
    greedy = fast(SEED_TEXT, 70, 0.0)[0]
    assert fast(SEED_TEXT, 70, [0.0, 1.0], seed=5, top_k=5, top_p=0.5)[0] == greedy
    assert generate_reference(model, vocab, SEED_TEXT, 5, 1.0, rng=0, top_k=1) == greedy[:5]


def test_filters_apply_to_generate_and_the_filtered_rows_are_reproducible(seq2seq):
    model, vocab, _ = seq2seq
    a = generate(model, vocab, SEED_TEXT, 120, [1.0, 1.0], seed=4, top_k=5, top_p=0.9)
    assert a == generate(model, vocab, SEED_TEXT, 120, [1.0, 1.0], seed=4, top_k=5, top_p=0.9)
    assert a != generate(model, vocab, SEED_TEXT, 120, [1.0, 1.0], seed=4)


def _gumbel_max_reference(model, vocab, seed_text, length, temperatures, *, seed):
    """The unfiltered loop's texts, computed another way: character n of row r is
    ``argmax(logits / T_r + g)``, with the model's logits for the text so far (read whole, from a zero
    state, by Keras's own layers) and the Gumbel noise the module documents: ``g = -log(-log(u))``, ``u``
    row n of ``default_rng(SeedSequence([seed, r])).random((length, V), dtype=float32)``.
    """
    size, rows = len(vocab), len(temperatures)
    seed_ids = vocab.encode(seed_text)
    ids = np.zeros((rows, len(seed_ids) + length), np.int32)  # padded at the end: an LSTM reads left to right
    ids[:, :len(seed_ids)] = seed_ids
    uniforms = [np.random.default_rng(np.random.SeedSequence([seed, r])).random((length, size), dtype=np.float32)
                for r in range(rows)]
    for n in range(length):
        position = len(seed_ids) + n - 1  # the logits for the character after it
        logits = model.predict_on_batch([ids])[:, position]  # [rows, V]; one compiled shape for every n
        for r, temperature in enumerate(temperatures):
            scaled = logits[r] * (np.float32(1) / np.float32(temperature or 1))
            ids[r, position + 1] = np.argmax(scaled - np.log(-np.log(uniforms[r][n])) if temperature else scaled)
    return [vocab.decode(row[len(seed_ids):]) for row in ids]


@pytest.mark.parametrize("jit_compile", XLA_CHOICES)  # None: XLA where available
def test_without_filters_the_loop_draws_the_gumbel_max_of_the_models_own_logits(jit_compile):
    from textgen_helpers.bundle import shipped_bundle

    bundle = shipped_bundle()
    fast = FastGenerator(bundle.model, bundle.vocab, jit_compile=jit_compile)
    expected = _gumbel_max_reference(bundle.model, bundle.vocab, "ROMEO:", 100, [0.5, 0.0, 1.0], seed=3)
    assert fast("ROMEO:", 100, [0.5, 0.0, 1.0], seed=3) == expected
    assert fast("ROMEO:", 100, [0.5, 0.0, 1.0], seed=3, top_k=None, top_p=None) == expected
    # The filtered loop adds the same noise to the same characters: a filter that keeps everything changes nothing.
    assert fast("ROMEO:", 100, [0.5, 0.0, 1.0], seed=3, top_k=len(bundle.vocab), top_p=1.0) == expected
    assert fast("ROMEO:", 100, [0.5, 0.0, 1.0], seed=3, top_k=3) != expected
    assert fast("ROMEO:", 100, [0.5, 0.0, 1.0], seed=3, top_k=3)[1] == expected[1]  # greedy whatever the filter
    assert fast("ROMEO:", 100, [0.5, 0.0, 1.0], seed=4) != expected  # another seed, other noise


def test_strategies_are_compared_in_one_call_with_a_filter_per_row(seq2seq):
    model, vocab, _ = seq2seq
    fast = FastGenerator(model, vocab)
    plain = fast(SEED_TEXT, 120, [1.0, 1.5], seed=9)
    mixed = fast(SEED_TEXT, 120, [1.0, 1.5, 1.5, 1.5], seed=9,
                 top_k=[None, None, 2, None], top_p=[None, None, None, 0.3])
    assert mixed[:2] == plain  # unfiltered rows write what they write without the others
    assert mixed[2] == fast(SEED_TEXT, 120, [1.0, 1.5, 1.5], seed=9, top_k=2)[2]  # row r's text is row r's own
    assert mixed[3] == fast(SEED_TEXT, 120, [1.0, 1.5, 1.5, 1.5], seed=9, top_p=0.3)[3]
    assert len(set(mixed[1:])) == 3  # and the filters really change what is drawn


def test_a_filter_changes_a_draw_only_where_the_unfiltered_draw_falls_outside_it(peaked):
    model, vocab = peaked
    seed_text = "abcab"
    logits = keras.ops.convert_to_numpy(model(vocab.encode(seed_text)[None], training=False))[0, -1].astype(np.float64)
    kept = set(np.argsort(-logits, kind="stable")[:2])
    rows = 512
    fast = FastGenerator(model, vocab)
    plain = [text[0] for text in fast(seed_text, 1, [2.0] * rows, seed=5)]
    filtered = [text[0] for text in fast(seed_text, 1, [2.0] * rows, seed=5, top_k=2)]
    inside = [vocab.encode(a)[0] in kept for a in plain]
    assert 0 < sum(inside) < rows  # the test sees draws on both sides of the filter
    assert all(a == b for a, b, i in zip(plain, filtered, inside, strict=True) if i)
    assert all(vocab.encode(b)[0] in kept for b in filtered)


def test_a_list_of_filters_must_have_one_entry_per_row(seq2one):
    _, _, fast = seq2one
    with pytest.raises(ValueError, match="top_k lists 3 values for 2 rows"):
        fast(SEED_TEXT, 10, [1.0, 0.5], top_k=[1, 2, 3])
    with pytest.raises(ValueError, match="top_p must be <= 1"):
        fast(SEED_TEXT, 10, [1.0, 0.5], top_p=[0.5, 1.5])


@pytest.mark.parametrize("kwargs, message", [
    (dict(top_k=0), "top_k must be >= 1"),
    (dict(top_k=1.5), "top_k must be an integer"),
    (dict(top_p=0.0), "top_p must be > 0"),
    (dict(top_p=2), "top_p must be <= 1"),
])
def test_bad_top_k_or_top_p_is_refused_by_the_generator(seq2one, kwargs, message):
    _, _, fast = seq2one
    with pytest.raises(ValueError, match=message):
        fast(SEED_TEXT, 10, 1.0, **kwargs)


def test_neither_generate_nor_evaluate_loss_keeps_a_deleted_model_alive(shakespeare):
    import gc
    import weakref

    from textgen_helpers.training import evaluate_loss

    vocab = Vocabulary.from_text(shakespeare.text)
    model = build_model(len(vocab), "8")
    generate(model, vocab, SEED_TEXT, 10, [0.0, 1.0])
    ids = vocab.encode(shakespeare.text[:2000])
    evaluate_loss(model, ids, 20)
    evaluate_loss(model, ids, 20, stateful=True)
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None


def test_generated_characters_follow_the_models_distribution(seq2seq):
    model, vocab, fast = seq2seq
    ids = vocab.encode(SEED_TEXT)[None]
    probs = keras.ops.convert_to_numpy(keras.ops.softmax(model(ids)[0, -1]))
    draws = [fast(SEED_TEXT, 1, 1.0, seed=s)[0] for s in range(400)]
    counts = np.bincount(vocab.encode("".join(draws)), minlength=len(vocab)) / 400
    top = np.argsort(probs)[-3:]
    np.testing.assert_allclose(counts[top], probs[top], atol=0.08)


def test_the_generator_reads_the_weights_as_they_are_now(shakespeare):
    set_seed(0)
    vocab = Vocabulary.from_text(shakespeare.text)
    model = build_model(len(vocab), "16")
    fast = FastGenerator(model, vocab)
    before = fast(SEED_TEXT, 40, 0.0)[0]
    dense = model.get_layer("next_char")
    bias = np.zeros(len(vocab), dtype="float32")
    bias[vocab.chars.index("z")] = 100.0
    dense.bias.assign(bias)
    assert fast(SEED_TEXT, 40, 0.0)[0] == "z" * 40 != before


def test_a_vocabulary_that_does_not_fit_the_model_is_refused(seq2seq):
    model, _, _ = seq2seq
    with pytest.raises(ValueError, match="predicts 65 characters but the vocabulary has 3"):
        FastGenerator(model, Vocabulary("abc"))


def test_models_of_other_shapes_are_sent_to_the_reference_generator():
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(5, 4)(inputs)
    x = keras.layers.GRU(4, return_sequences=True)(x)
    model = keras.Model(inputs, keras.layers.Dense(5)(x))
    with pytest.raises(ValueError, match="generate_reference"):
        FastGenerator(model, Vocabulary("abcde"))


def test_generate_returns_a_string_for_one_temperature_and_a_list_for_several(seq2seq):
    model, vocab, _ = seq2seq
    one = generate(model, vocab, SEED_TEXT, 20, 0.5, seed=2)
    several = generate(model, vocab, SEED_TEXT, 20, [0.5, 1.0], seed=2)
    assert isinstance(one, str) and several[0] == one and len(several) == 2


def test_the_reference_generator_samples_at_a_temperature_reproducibly(seq2seq):
    model, vocab, _ = seq2seq
    a = generate_reference(model, vocab, SEED_TEXT, 8, 1.0, rng=3)
    assert a == generate_reference(model, vocab, SEED_TEXT, 8, 1.0, rng=3) and len(a) == 8


def test_a_generator_made_for_scoring_says_it_cannot_generate(seq2one):
    model, _, _ = seq2one
    with pytest.raises(ValueError, match="made without a vocabulary"):
        FastGenerator(model, None)(SEED_TEXT, 10, 0.5)


def test_the_same_seed_gives_the_same_text_on_another_backend():
    import importlib.util
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from textgen_helpers.bundle import shipped_bundle

    other = "jax" if keras.backend.backend() != "jax" else "tensorflow"
    spec = importlib.util.find_spec(other)
    installed = spec is not None and spec.origin is not None  # no origin: blocked here (tests/no_tensorflow)
    if not installed:
        pytest.skip(f"{other} cannot be imported here: no other backend to compare with")
    code = ("import json; from textgen_helpers.bundle import shipped_bundle; from textgen_helpers.generation import "
            "FastGenerator; b = shipped_bundle(); print(json.dumps(FastGenerator(b.model, b.vocab)('ROMEO:', 200, "
            "[0.5, 1.0, 1.0], seed=11, top_k=[None, None, 10])))")
    run = subprocess.run([sys.executable, "-c", code], env={**os.environ, "KERAS_BACKEND": other}, capture_output=True,
                         text=True, cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    bundle = shipped_bundle()
    here = FastGenerator(bundle.model, bundle.vocab)("ROMEO:", 200, [0.5, 1.0, 1.0], seed=11, top_k=[None, None, 10])
    assert json.loads(run.stdout.splitlines()[-1]) == here  # the noise is NumPy's, drawn on the host
