"""Generation: the book's loop, and a fast generator that carries the LSTM state.

The book's generator (:func:`generate_reference`) repeats four steps for every new character:
predict the distribution from the current window, sample a character at the temperature, append
it, drop the window's first character. Each step runs the whole window through the model again
with ``model.predict`` (about 20 characters per second on a laptop CPU).

:class:`FastGenerator` runs the same LSTM cells one character at a time and keeps their state
instead of re-reading the window, with the loop compiled (``tf.function``, XLA where available)
and every temperature a row of one batch. Feeding the state forward is the same as feeding the
whole text so far, so the two generators agree exactly while the text fits in the window
(test_generation checks it at temperature 0); beyond the window the fast generator remembers
more than the book's does.

A seed primes the state through its last ``sample_len`` characters by default, the window the
model was trained on (recorded on it by :func:`~textgen_helpers.model.set_sample_len`, as a
loaded bundle's model is): :func:`generate`, :class:`FastGenerator` and ``Bundle.generate`` prime
the same way. ``window=N`` keeps the last N characters, ``window=None`` the whole seed; a model
that records no ``sample_len`` is primed on the whole seed.

Both take ``top_k`` and ``top_p`` (see :func:`~textgen_helpers.sampling.filter_distribution`): the
fast generator masks the tempered logits outside the top-k / nucleus before its Gumbel-max draw.
Without them it runs a loop with no filtering in it, so its text is exactly what it was before
these filters existed.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterator, Sequence

import numpy as np

from .checks import check_scalar, check_seed, seed_key
from .model import is_one_hot_layer, is_sigmoid, is_tanh, model_framing, model_sample_len
from .runtime import import_tensorflow
from .sampling import check_temperature, check_temperatures, check_top_k, check_top_p, sample
from .vocabulary import Vocabulary

tf, keras = import_tensorflow()

DEFAULT_CHUNK = 64  # characters per compiled call; the state is carried from call to call
TRAINED_WINDOW = "sample_len"  # the default window: the model's sample_len (model_sample_len), else the whole seed
SCORE_CHUNK = 256  # characters per compiled call when scoring a text


def generate_reference(
    model: keras.Model,
    vocab: Vocabulary,
    seed_text: str,
    length: int,
    temperature: float = 0.5,
    *,
    window: int | None = None,
    rng: np.random.Generator | int | None = None,
    unknown: str = "error",
    top_k: int | None = None,
    top_p: float | None = None,
) -> str:
    """The book's generator: ``model.predict`` on the last ``window`` characters, once per new character.

    ``window=None`` feeds the whole text so far. Returns only the generated characters.
    ``top_k``/``top_p`` filter each draw as :func:`~textgen_helpers.sampling.sample` does.
    """
    temperature = check_temperature(temperature)
    top_k, top_p = check_top_k(top_k), check_top_p(top_p)
    length = _check_length(length)
    ids = list(seed_ids(vocab, seed_text, window, unknown))
    framing = model_framing(model)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    out = []
    for _ in range(length):
        current = np.asarray(ids[-window:] if window else ids, dtype=np.int32)[None, :]
        if framing == "seq2one":
            current = np.eye(len(vocab), dtype=np.float32)[current]  # one-hot [1, T, V]
            probs = model.predict(current, verbose=0)[0]  # softmax [V]
            next_id = sample(probs=probs, temperature=temperature, rng=rng, top_k=top_k, top_p=top_p)
        else:
            logits = model.predict(current, verbose=0)[0, -1]  # logits [V]
            next_id = sample(logits=logits, temperature=temperature, rng=rng, top_k=top_k, top_p=top_p)
        ids.append(next_id)
        out.append(next_id)
    return vocab.decode(out)


class FastGenerator:
    """Stateful, compiled, batched generation from a model made by :func:`build_model`.

    >>> generator = FastGenerator(model, vocab)                        # doctest: +SKIP
    >>> generator("ROMEO:", 400, temperatures=[0, 0.5, 1.0], seed=7)   # doctest: +SKIP
    ['...', '...', '...']

    It reads the model's weights when called, so it follows a model that is still training.
    The same ``seed`` gives the same text. Every row draws its own random numbers (row ``r`` of a
    call always gets the same stream for a given seed), so two rows at the same temperature write
    different texts, and a row's text does not depend on the rows after it.

    It holds the model by a weak reference: a generator (or the cache behind :func:`generate`)
    never keeps a model alive that the user has let go of.
    """

    def __init__(self, model: keras.Model, vocab: Vocabulary | None, *, chunk: int = DEFAULT_CHUNK,
                 jit_compile: bool | None = None):
        self._model = weakref.ref(model)
        self.vocab = vocab
        self.chunk = check_scalar(chunk, "chunk", int, min_value=1)
        self._input, self._lstms, self._dense = stack_layers(model)
        self.vocab_size = int(self._dense.kernel.shape[-1])
        if vocab is not None and self.vocab_size != len(vocab):
            raise ValueError(
                f"the model predicts {self.vocab_size} characters but the vocabulary has "
                f"{len(vocab)}; use the vocabulary the model was trained with (its bundle's vocab.json)."
            )
        if jit_compile is None:
            jit_compile = _xla_available()
        self.jit_compile = bool(jit_compile)
        self._sizes = [layer.units for layer in self._lstms]
        state_spec = tf.TensorSpec([None, 2 * sum(self._sizes)], tf.float32)  # [h1 c1 h2 c2 ...]
        logits_spec = tf.TensorSpec([None, self.vocab_size], tf.float32)
        # Concrete functions: calling them skips most of tf.function's per-call argument handling.
        compiled = dict(jit_compile=self.jit_compile, autograph=False)
        self._prime_chunk = tf.function(self._prime_chunk_py, **compiled).get_concrete_function(
            tf.TensorSpec([self.chunk], tf.int32), tf.TensorSpec([], tf.int32), logits_spec, state_spec)
        self._sample_chunk = tf.function(self._sample_chunk_py, **compiled).get_concrete_function(
            logits_spec, state_spec, tf.TensorSpec([None], tf.float32), tf.TensorSpec([2], tf.int64))
        # The filtered loop (top_k / top_p) is a separate function, traced on first use only, so
        # the unfiltered loop above stays exactly as it was and its text bit-for-bit the same.
        self._filtered_sample_chunk = tf.function(
            self._filtered_sample_chunk_py, input_signature=[
                logits_spec, state_spec, tf.TensorSpec([None], tf.float32), tf.TensorSpec([2], tf.int64),
                tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.float32)], **compiled)
        chunk_spec = tf.TensorSpec([None, SCORE_CHUNK], tf.int32)
        self._score_chunk = tf.function(  # traced on first use only
            self._score_chunk_py, input_signature=[chunk_spec, chunk_spec, tf.TensorSpec([None, SCORE_CHUNK], tf.float32),
                                                   state_spec], **compiled)

    @property
    def model(self) -> keras.Model:
        model = self._model()
        if model is None:
            raise RuntimeError("the model this generator was made for has been deleted; make a new FastGenerator")
        return model

    def __call__(
        self,
        seed_text: str,
        length: int,
        temperatures: float | Sequence[float] = 0.5,
        *,
        seed: int = 0,
        window: int | str | None = TRAINED_WINDOW,
        unknown: str = "error",
        top_k: int | Sequence[int | None] | None = None,
        top_p: float | Sequence[float | None] | None = None,
    ) -> list[str]:
        """Generate ``length`` characters after ``seed_text`` at each temperature: one string per temperature.

        ``window`` keeps only the seed's last ``window`` characters; the default, ``"sample_len"``,
        is the model's :func:`~textgen_helpers.model.model_sample_len` (the whole seed if it records
        none); None primes the state on the whole seed. ``top_k``/``top_p`` filter each draw after the
        temperature, as :func:`~textgen_helpers.sampling.sample` does: one value for every row, or a
        list with one per row (None: no filter for that row), so several sampling strategies are
        compared in one call. Temperature 0 stays greedy whatever they are.
        """
        pieces = list(self.stream(seed_text, length, temperatures, seed=seed, window=window, unknown=unknown,
                                  top_k=top_k, top_p=top_p))
        return ["".join(row) for row in zip(*pieces, strict=True)] if pieces else []

    def stream(
        self,
        seed_text: str,
        length: int,
        temperatures: float | Sequence[float] = 0.5,
        *,
        seed: int = 0,
        window: int | str | None = TRAINED_WINDOW,
        unknown: str = "error",
        top_k: int | Sequence[int | None] | None = None,
        top_p: float | Sequence[float | None] | None = None,
    ) -> Iterator[list[str]]:
        """Like calling the generator, but yield the text as it is made: one list (a string per
        temperature) for every ``chunk`` characters, so a long run can be shown, saved or stopped
        part-way. Joining the pieces gives exactly what ``__call__`` returns.
        """
        temps = check_temperatures(temperatures)
        length = _check_length(length)
        seed = check_seed(seed)
        rows = len(temps)
        top_ks, top_ps = _per_row(top_k, rows, check_top_k, "top_k"), _per_row(top_p, rows, check_top_p, "top_p")
        if self.vocab is None:
            raise ValueError("this FastGenerator was made without a vocabulary (for scoring only); pass the vocabulary to generate")
        if isinstance(window, str):  # the model is looked up only here: a generator need not outlive it otherwise
            window = _trained_window(self.model, window)
        ids = seed_ids(self.vocab, seed_text, window, unknown)
        batch = 1 << (rows - 1).bit_length()  # pad to 1, 2, 4, 8...: one compiled shape per size
        state = tf.zeros([1, 2 * sum(self._sizes)])
        logits = tf.zeros([1, self.vocab_size])
        padded = np.zeros(-(-len(ids) // self.chunk) * self.chunk, dtype=np.int32)
        padded[:len(ids)] = ids
        for start in range(0, len(ids), self.chunk):
            n_valid = tf.constant(min(self.chunk, len(ids) - start), tf.int32)
            logits, state = self._prime_chunk(tf.constant(padded[start:start + self.chunk]), n_valid, logits, state)
        logits, state = tf.tile(logits, [batch, 1]), tf.tile(state, [batch, 1])
        temp_tensor = tf.constant(temps + [0.0] * (batch - rows), tf.float32)
        key0 = seed_key(seed)  # every bit of the 64-bit seed, folded into the 32 bits the kernels read
        if all(k is None for k in top_ks) and all(p is None for p in top_ps):
            sample_chunk = self._sample_chunk
        else:  # "off" is k = V (keep all) and p = 1 (keep all); padding rows are off
            pad = batch - rows
            k_tensor = tf.constant([min(k or self.vocab_size, self.vocab_size) for k in top_ks] + [self.vocab_size] * pad,
                                   tf.int32)
            p_tensor = tf.constant([1.0 if p is None else p for p in top_ps] + [1.0] * pad, tf.float32)
            sample_chunk = functools.partial(self._filtered_sample_chunk, top_k=k_tensor, top_p=p_tensor)
        for k in range(-(-length // self.chunk)):
            key = tf.constant([key0, k * self.chunk], tf.int64)
            chars, logits, state = sample_chunk(logits, state, temp_tensor, key)
            ids_out = chars.numpy()[:min(self.chunk, length - k * self.chunk), :rows]  # [chunk, rows]
            yield [self.vocab.decode(ids_out[:, r]) for r in range(rows)]

    def score(self, ids: np.ndarray, *, warmup: int, streams: int = 32) -> float:
        """Mean nats per character of the text ``ids [n]`` read with the state carried (targets 1..n-1).

        The text is cut into ``streams`` contiguous pieces read side by side; each piece after
        the first is first run, uncounted, over the ``warmup`` characters before it.
        """
        ids = np.asarray(ids, dtype=np.int32)
        n_inputs = len(ids) - 1  # input p predicts ids[p + 1]
        if n_inputs < 1:
            raise ValueError("a text to score needs at least two characters")
        streams = min(streams, n_inputs)
        bounds = np.linspace(0, n_inputs, streams + 1).round().astype(np.int64)
        firsts = np.maximum(bounds[:-1] - warmup, 0)  # where each stream starts reading
        length = int((bounds[1:] - firsts).max())
        length = -(-length // SCORE_CHUNK) * SCORE_CHUNK  # whole chunks: one compiled shape
        positions = firsts[:, None] + np.arange(length)
        weights = ((positions >= bounds[:-1, None]) & (positions < bounds[1:, None])).astype(np.float32)
        positions = np.minimum(positions, n_inputs - 1)  # padding past a stream's end is weighted 0
        x, y = ids[positions], ids[positions + 1]
        state = tf.zeros([streams, 2 * sum(self._sizes)])
        total = 0.0
        for start in range(0, length, SCORE_CHUNK):
            sl = slice(start, start + SCORE_CHUNK)
            nats, state = self._score_chunk(tf.constant(x[:, sl]), tf.constant(y[:, sl]), tf.constant(weights[:, sl]), state)
            total += float(nats)
        return total / float(weights.sum())

    # --- the compiled parts ---------------------------------------------------------------------

    def _weights(self):
        """Per-call view of the live weights: (first-layer input table [V, 4u], per-layer weights, dense)."""
        first = self._lstms[0].cell
        kernel = tf.convert_to_tensor(first.kernel)
        if isinstance(self._input, keras.layers.Embedding):
            kernel = tf.matmul(tf.convert_to_tensor(self._input.embeddings), kernel)
        table = kernel + tf.convert_to_tensor(first.bias)  # one-hot @ W + b is a row lookup
        layers = [(table, tf.convert_to_tensor(first.recurrent_kernel), None)]
        for layer in self._lstms[1:]:
            cell = layer.cell
            stacked = tf.concat([tf.convert_to_tensor(cell.kernel), tf.convert_to_tensor(cell.recurrent_kernel)], axis=0)
            layers.append((stacked, None, tf.convert_to_tensor(cell.bias)))
        dense = (tf.convert_to_tensor(self._dense.kernel), tf.convert_to_tensor(self._dense.bias))
        return layers, dense

    def _step(self, weights, tokens, state):
        """One character through every LSTM: tokens [B], state [B, S] -> logits [B, V], new state."""
        layers, (dense_kernel, dense_bias) = weights
        parts = tf.split(state, [u for u in self._sizes for _ in (0, 1)], axis=1)
        new_parts = []
        x = None
        for k, (a, recurrent, bias) in enumerate(layers):
            h, c = parts[2 * k], parts[2 * k + 1]
            if k == 0:
                z = tf.gather(a, tokens) + tf.matmul(h, recurrent)
            else:
                z = tf.matmul(tf.concat([x, h], axis=1), a) + bias
            i, f, g, o = tf.split(z, 4, axis=1)  # Keras's gate order
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            new_parts += [h, c]
            x = h
        return tf.matmul(x, dense_kernel) + dense_bias, tf.concat(new_parts, axis=1)

    def _prime_chunk_py(self, tokens, n_valid, logits, state):
        weights = self._weights()

        def body(t, logits, state):
            new_logits, new_state = self._step(weights, tokens[t][None], state)
            keep = t < n_valid  # the last piece of the seed is padded to a whole chunk
            return t + 1, tf.where(keep, new_logits, logits), tf.where(keep, new_state, state)

        _, logits, state = tf.while_loop(lambda t, *_: t < self.chunk, body, (tf.constant(0), logits, state))
        return logits, state

    def _sample_chunk_py(self, logits, state, temperatures, key):
        return self._sampling_loop(logits, state, temperatures, key, mask=lambda scaled: scaled)

    def _filtered_sample_chunk_py(self, logits, state, temperatures, key, top_k, top_p):
        """:meth:`_sample_chunk_py` with top-k / top-p per row (``top_k [B]``, ``top_p [B]``).

        The filter needs no sorting: character j ranks before character i when its logit is higher,
        or equal with a lower id (the order :func:`~textgen_helpers.sampling.filter_distribution`
        uses), so a ``[B, V, V]`` comparison gives every rank, and the same matrix times the
        probabilities gives the mass ranked before each character. The draw adds the same noise to
        the same characters as the unfiltered loop: a row with no filter writes exactly what the
        unfiltered loop writes, and a filtered row differs only where the unfiltered draw fell
        outside what the filter keeps.
        """
        ids = tf.range(self.vocab_size)
        lower_id = ids[None, :] < ids[:, None]  # [i, j]: j has the lower id

        def mask(scaled):
            mine, theirs = scaled[:, :, None], scaled[:, None, :]
            before = (theirs > mine) | ((theirs == mine) & lower_id[None])  # [B, i, j]: j ranks before i
            keep = tf.reduce_sum(tf.cast(before, tf.int32), axis=2) < top_k[:, None]  # rank < k
            probs = tf.nn.softmax(tf.where(keep, scaled, -np.inf), axis=1)
            mass_before = tf.linalg.matvec(tf.cast(before, tf.float32), probs)  # [B, V]
            keep &= (mass_before < top_p[:, None]) | (top_p[:, None] >= 1.0)  # the likeliest always stays
            return tf.where(keep, scaled, -np.inf)  # at T = 0 (no noise) the argmax, which every filter keeps

        return self._sampling_loop(logits, state, temperatures, key, mask=mask)

    def _sampling_loop(self, logits, state, temperatures, key, *, mask):
        """``chunk`` characters drawn one at a time, each fed back: ``argmax(mask(logits / T) + Gumbel noise)``.

        That is a draw from ``softmax(mask(logits / T))``; T = 0 adds no noise (the argmax). ``mask``
        sets the logits of characters a filter drops to -inf (the identity when there is no filter).
        """
        weights = self._weights()
        scale = (1.0 / tf.where(temperatures > 0, temperatures, 1.0))[:, None]
        noise_on = tf.cast(temperatures > 0, tf.float32)[:, None]
        out = tf.TensorArray(tf.int32, size=self.chunk)

        def body(t, logits, state, out):
            # Drawn inside the loop: slicing a precomputed [chunk, V] table was 1.7x slower under XLA.
            # One row of noise per row of the batch: independent draws, row r the same for any batch size.
            uniform = tf.random.stateless_uniform(tf.shape(logits), seed=tf.stack([key[0], key[1] + tf.cast(t, tf.int64)]),
                                                  minval=1e-12, maxval=1.0)
            gumbel = -tf.math.log(-tf.math.log(uniform))
            tokens = tf.argmax(mask(logits * scale) + gumbel * noise_on, axis=1, output_type=tf.int32)
            out = out.write(t, tokens)
            logits, state = self._step(weights, tokens, state)
            return t + 1, logits, state, out

        _, logits, state, out = tf.while_loop(lambda t, *_: t < self.chunk, body, (tf.constant(0), logits, state, out))
        return out.stack(), logits, state

    def _score_chunk_py(self, x, y, w, state):
        weights = self._weights()

        def body(t, total, state):
            logits, state = self._step(weights, x[:, t], state)
            nats = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y[:, t], logits=logits)
            return t + 1, total + tf.reduce_sum(nats * w[:, t]), state

        _, total, state = tf.while_loop(lambda t, *_: t < SCORE_CHUNK, body, (tf.constant(0), tf.constant(0.0), state))
        return total, state


_GENERATORS: weakref.WeakKeyDictionary[keras.Model, dict] = weakref.WeakKeyDictionary()


def generate(
    model: keras.Model,
    vocab: Vocabulary,
    seed_text: str,
    length: int = 200,
    temperature: float | Sequence[float] = 0.5,
    *,
    seed: int = 0,
    window: int | str | None = TRAINED_WINDOW,
    unknown: str = "error",
    top_k: int | Sequence[int | None] | None = None,
    top_p: float | Sequence[float | None] | None = None,
) -> str | list[str]:
    """Generate with a cached :class:`FastGenerator`: a string for one temperature, a list for several.

    The seed primes on its last ``sample_len`` characters, the window the model records (see
    :func:`~textgen_helpers.model.set_sample_len`), as ``Bundle.generate`` does: for a bundle's
    model ``generate(bundle.model, bundle.vocab, seed)`` writes what ``bundle.generate(seed)`` does.
    ``window=N`` keeps the last N characters instead, None the whole seed (also the default for a
    model that records no ``sample_len``, such as one fresh from ``build_model``).
    ``top_k``/``top_p`` filter every draw (see :meth:`FastGenerator.__call__`). The cache is keyed
    weakly by the model, and the generator holds the model weakly too, so a model the user deletes
    is freed with its generator.
    """
    texts = _cached_generator(model, vocab)(seed_text, length, temperature, seed=seed, window=window, unknown=unknown,
                                            top_k=top_k, top_p=top_p)
    return one_or_many(temperature, texts)


def stateful_loss(model: keras.Model, ids: np.ndarray, *, warmup: int, streams: int = 32) -> float:
    """Mean nats per character of ``ids`` read as generation reads text: see :meth:`FastGenerator.score`."""
    return _cached_generator(model, None).score(ids, warmup=warmup, streams=streams)


def _cached_generator(model: keras.Model, vocab: Vocabulary | None) -> FastGenerator:
    cache = _GENERATORS.setdefault(model, {})
    generator = cache.get(vocab)
    if generator is None:
        generator = cache[vocab] = FastGenerator(model, vocab)
    return generator


def one_or_many(temperature, texts: list[str]) -> str | list[str]:
    """The text for a single temperature given as a number; the list when several were asked for."""
    single = isinstance(temperature, (int, float, np.number)) or (isinstance(temperature, str) and "," not in temperature)
    return texts[0] if single else texts


def _trained_window(model: keras.Model, window: str) -> int | None:
    """The window ``"sample_len"`` names: the model's recorded sample_len, or None (the whole seed)."""
    if window != TRAINED_WINDOW:
        raise ValueError(f"window must be a number of characters, None (the whole seed) or "
                         f"{TRAINED_WINDOW!r} (the model's own), got {window!r}")
    return model_sample_len(model)


def seed_ids(vocab: Vocabulary, seed_text: str, window: int | None, unknown: str) -> np.ndarray:
    """The ids ``[n]`` a generator primes on: the seed's last ``window`` characters (all if None), encoded
    with ``unknown`` (``"error"``, ``"skip"`` or ``"replace"``); an empty result is a ValueError."""
    if not isinstance(seed_text, str):
        raise ValueError(f"seed text must be a string, got {type(seed_text).__name__}")
    window = check_scalar(window, "window", int, min_value=1, allow_none=True)
    if window is not None:
        seed_text = seed_text[-window:]
    ids = vocab.encode(seed_text, unknown=unknown)
    if len(ids) == 0 and seed_text:
        raise ValueError(f"nothing of the seed text is left once the characters the model does not know are "
                         f"skipped ({seed_text[:40]!r}); give at least one character it knows")
    if len(ids) == 0:
        raise ValueError("seed text is empty: give at least one character for the model to continue from")
    return ids


def _per_row(value, rows: int, check, name: str) -> list:
    """One filter setting for every row, or a list with one per row: a list of ``rows`` checked values."""
    if isinstance(value, (list, tuple, np.ndarray)):
        values = list(value)
        if len(values) != rows:
            raise ValueError(f"{name} lists {len(values)} values for {rows} rows; give one value per temperature, "
                             "or a single value for all of them")
        return [check(v) for v in values]
    return [check(value)] * rows


def _check_length(length: int) -> int:
    return check_scalar(length, "length", int, min_value=1, hint="give the number of characters to generate")


def stack_layers(model: keras.Model):
    """``(input layer, [LSTM layers], Dense layer)`` of a model made by build_model, or a ValueError
    that says which layer is not one of those (the fast generator and lstm_trace read these)."""
    input_layer, lstms, dense = None, [], None
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer) or isinstance(layer, keras.layers.Dropout):
            continue
        if (is_one_hot_layer(layer) or isinstance(layer, keras.layers.Embedding)) and input_layer is None and not lstms:
            input_layer = layer
        elif isinstance(layer, keras.layers.LSTM) and dense is None:
            if not is_tanh(layer.activation) or not is_sigmoid(layer.recurrent_activation):
                raise ValueError(f"FastGenerator needs tanh/sigmoid LSTMs; layer {layer.name} differs. Use generate_reference().")
            lstms.append(layer)
        elif isinstance(layer, keras.layers.Dense) and dense is None and lstms:
            dense = layer
        else:
            raise ValueError(
                f"FastGenerator understands models made by build_model (one-hot or embedding, LSTMs, "
                f"dropout, one Dense layer); layer {layer.name!r} ({type(layer).__name__}) is not one of "
                f"those. Use generate_reference() for other models."
            )
    if not lstms or dense is None:
        raise ValueError("FastGenerator needs at least one LSTM followed by a Dense layer; use generate_reference() for other models.")
    return input_layer, lstms, dense


@functools.cache  # one probe a process: a new tf.function each time makes TensorFlow warn of retracing
def _xla_available() -> bool:
    """XLA compiles the loop ~5x faster on CPUs; fall back to plain graph mode where it is missing."""
    try:
        tf.function(lambda x: x + 1, jit_compile=True)(tf.constant(1))
        return True
    except Exception:  # noqa: BLE001 - any failure means: do not use XLA here
        return False
