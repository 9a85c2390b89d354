"""Generation: the book's loop, and a fast generator that carries the LSTM state.

The book's generator (:func:`generate_reference`) repeats four steps for every new character:
predict the distribution from the current window, sample a character at the temperature, append
it, drop the window's first character. Each step runs the whole window through the model again
with ``model.predict`` (about 20 characters per second on a laptop CPU).

:class:`FastGenerator` runs the same LSTM cells one character at a time and keeps their state
instead of re-reading the window, with every temperature a row of one batch. Its step is
:func:`~textgen_helpers.step.lstm_step`, written once in ``keras.ops``, in a loop compiled for the
backend Keras runs on (``tf.function`` with XLA where available on TensorFlow, ``jax.jit`` on JAX,
eager on PyTorch). Feeding the state forward is the same as feeding the whole text so far, so the
two generators agree exactly while the text fits in the window (test_generation checks it at
temperature 0); beyond the window the fast generator remembers more than the book's does.

Its draw is the Gumbel-max trick: character ``n`` of row ``r`` is ``argmax(logits / T + g)``, with
``g = -log(-log(u))`` and ``u`` the ``n``-th row of ``np.random.default_rng(np.random.SeedSequence([seed,
r])).random((length, V), dtype=np.float32)`` (float32 NumPy throughout; a row at temperature 0 draws
nothing and takes the argmax). The noise is drawn on the host with NumPy and handed to the compiled
loop, so the same seed gives the same text on TensorFlow, JAX and PyTorch, up to ties in the logits
(where the backends' last-bit rounding can pick another character); and row ``r``'s stream is its own,
so its text does not depend on the rows after it.

A seed primes the state through its last ``sample_len`` characters by default, the window the
model was trained on (recorded on it by :func:`~textgen_helpers.model.set_sample_len`, as a
loaded bundle's model is): :func:`generate`, :class:`FastGenerator` and ``Bundle.generate`` prime
the same way. ``window=N`` keeps the last N characters, ``window=None`` the whole seed; a model
that records no ``sample_len`` is primed on the whole seed.

Both take ``top_k`` and ``top_p`` (see :func:`~textgen_helpers.sampling.filter_distribution`): the
fast generator masks the tempered logits outside the top-k / nucleus before its Gumbel-max draw,
with the same noise, so a filter changes a draw only where the unfiltered one fell outside it.
Without them it runs a loop with no filtering in it.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterator, Sequence

import numpy as np

from .checks import check_scalar, check_seed
from .model import model_framing, model_sample_len
from .runtime import import_keras
from .sampling import check_temperature, check_temperatures, check_top_k, check_top_p, sample
from .step import (
    compile_function,
    cross_entropy,
    lstm_step,
    stack_layers,
    step_weights,
    weight_values,
    xla_compiles,
    zero_state,
)
from .vocabulary import Vocabulary

keras = import_keras()
ops = keras.ops

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
    The same ``seed`` gives the same text, on every backend. Every row draws its own random numbers
    (row ``r`` of a call always gets the same stream for a given seed), so two rows at the same
    temperature write different texts, and a row's text does not depend on the rows after it.
    ``jit_compile`` chooses XLA on TensorFlow (None: where available); JAX always compiles with
    XLA and PyTorch never, whatever it says. ``self.jit_compile`` is what was chosen.

    It holds the model by a weak reference: a generator (or the cache behind :func:`generate`)
    never keeps a model alive that the user has let go of.
    """

    def __init__(self, model: keras.Model, vocab: Vocabulary | None, *, chunk: int = DEFAULT_CHUNK,
                 jit_compile: bool | None = None):
        self._model = weakref.ref(model)
        self.vocab = vocab
        self.chunk = check_scalar(chunk, "chunk", int, min_value=1)
        self._layers = stack_layers(model)
        self.vocab_size = int(self._layers[2].kernel.shape[-1])
        if vocab is not None and self.vocab_size != len(vocab):
            raise ValueError(
                f"the model predicts {self.vocab_size} characters but the vocabulary has "
                f"{len(vocab)}; use the vocabulary the model was trained with (its bundle's vocab.json)."
            )
        self.jit_compile = xla_compiles(jit_compile)
        self._sizes = [layer.units for layer in self._layers[1]]
        compiled = functools.partial(compile_function, jit_compile=self.jit_compile)
        self._prime_chunk = compiled(self._prime_chunk_py)
        self._sample_chunk = compiled(self._sample_chunk_py)
        self._filtered_sample_chunk = compiled(self._filtered_sample_chunk_py)  # compiled on first use only
        self._score_chunk = compiled(self._score_chunk_py)

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
            raise ValueError("this FastGenerator was made without a vocabulary (for scoring only); "
                             "pass the vocabulary to generate")
        if isinstance(window, str):  # the model is looked up only here: a generator need not outlive it otherwise
            window = _trained_window(self.model, window)
        ids = seed_ids(self.vocab, seed_text, window, unknown)
        batch = 1 << (rows - 1).bit_length()  # pad to 1, 2, 4, 8...: one compiled shape per size
        values = weight_values(self._layers)  # the weights as they are now
        state, logits = zero_state(self._sizes, 1), ops.zeros([1, self.vocab_size])
        padded = np.zeros(-(-len(ids) // self.chunk) * self.chunk, dtype=np.int32)
        padded[:len(ids)] = ids
        for start in range(0, len(ids), self.chunk):
            n_valid = np.asarray(min(self.chunk, len(ids) - start), np.int32)
            logits, state = self._prime_chunk(values, padded[start:start + self.chunk], n_valid, logits, state)
        logits = ops.tile(logits, [batch, 1])
        state = keras.tree.map_structure(lambda part: ops.tile(part, [batch, 1]), state)
        pad = batch - rows  # padding rows: temperature 0 (no noise) and no filter
        scale = np.float32(1.0) / np.asarray([t if t > 0 else 1.0 for t in temps] + [1.0] * pad, np.float32)[:, None]
        noise = GumbelNoise(seed, temps, batch, self.vocab_size)
        if all(k is None for k in top_ks) and all(p is None for p in top_ps):
            sample_chunk = self._sample_chunk
        else:  # "off" is k = V (keep all) and p = 1 (keep all)
            k_array = np.asarray([min(k or self.vocab_size, self.vocab_size) for k in top_ks] + [self.vocab_size] * pad,
                                 np.int32)
            p_array = np.asarray([1.0 if p is None else p for p in top_ps] + [1.0] * pad, np.float32)
            sample_chunk = functools.partial(self._filtered_sample_chunk, top_k=k_array, top_p=p_array)
        chunks = -(-length // self.chunk)
        next_noise = noise.draw(self.chunk)
        for k in range(chunks):
            chars, logits, state = sample_chunk(values, logits, state, scale, next_noise)
            if k + 1 < chunks:
                next_noise = noise.draw(self.chunk)  # while the backend computes, where it runs asynchronously
            ids_out = ops.convert_to_numpy(chars)[:min(self.chunk, length - k * self.chunk), :rows]  # [chunk, rows]
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
        positions = firsts[None, :] + np.arange(length)[:, None]  # [time, stream]
        weights = ((positions >= bounds[None, :-1]) & (positions < bounds[None, 1:])).astype(np.float32)
        positions = np.minimum(positions, n_inputs - 1)  # padding past a stream's end is weighted 0
        x, y = ids[positions], ids[positions + 1]
        values = weight_values(self._layers)
        state = zero_state(self._sizes, streams)
        totals = []
        for start in range(0, length, SCORE_CHUNK):
            sl = slice(start, start + SCORE_CHUNK)
            nats, state = self._score_chunk(values, x[sl], y[sl], weights[sl], state)
            totals.append(nats)
        return sum(float(ops.convert_to_numpy(nats)) for nats in totals) / float(weights.sum())

    # --- the compiled parts: loops of lstm_step ------------------------------------------------

    def _prime_chunk_py(self, values, tokens, n_valid, logits, state):
        """Feed the seed's ``tokens [chunk]`` (the first ``n_valid`` real, the rest padding) into one row's state."""
        weights = step_weights(values)

        def body(t, carry):
            logits, state = carry
            new_logits, new_state = lstm_step(weights, tokens[t][None], state)
            keep = t < n_valid  # the last piece of the seed is padded to a whole chunk
            return ops.where(keep, new_logits, logits), keras.tree.map_structure(
                lambda new, old: ops.where(keep, new, old), new_state, state)

        return ops.fori_loop(0, self.chunk, body, (logits, state))

    def _sample_chunk_py(self, values, logits, state, scale, noise):
        return self._sampling_loop(values, logits, state, scale, noise, mask=None)

    def _filtered_sample_chunk_py(self, values, logits, state, scale, noise, top_k, top_p):
        """:meth:`_sample_chunk_py` with top-k / top-p per row (``top_k [B]``, ``top_p [B]``).

        The filter needs no sorting: character j ranks before character i when its logit is higher,
        or equal with a lower id (the order :func:`~textgen_helpers.sampling.filter_distribution`
        uses), so a ``[B, V, V]`` comparison gives every rank, and the same matrix times the
        probabilities gives the mass ranked before each character. The draw adds the same noise to
        the same characters as the unfiltered loop: a row with no filter writes exactly what the
        unfiltered loop writes, and a filtered row differs only where the unfiltered draw fell
        outside what the filter keeps.
        """
        ids = ops.arange(self.vocab_size)
        lower_id = ops.expand_dims(ids[None, :] < ids[:, None], 0)  # [1, i, j]: j has the lower id

        def mask(scaled):
            mine, theirs = scaled[:, :, None], scaled[:, None, :]
            before = ops.logical_or(theirs > mine, ops.logical_and(theirs == mine, lower_id))  # [B, i, j]: j outranks i
            keep = ops.sum(ops.cast(before, "int32"), axis=2) < top_k[:, None]  # rank < k
            probs = ops.softmax(ops.where(keep, scaled, -np.inf), axis=1)
            mass_before = ops.matmul(ops.cast(before, "float32"), probs[:, :, None])[:, :, 0]  # [B, V]
            keep = ops.logical_and(keep, ops.logical_or(mass_before < top_p[:, None], top_p[:, None] >= 1.0))
            return ops.where(keep, scaled, -np.inf)  # the likeliest always stays: at T = 0 (no noise) the argmax

        return self._sampling_loop(values, logits, state, scale, noise, mask=mask)

    def _sampling_loop(self, values, logits, state, scale, noise, *, mask):
        """``chunk`` characters drawn one at a time, each fed back: ``argmax(mask(logits * scale) + noise[t])``.

        ``scale [B, 1]`` is 1 / T (1 at T = 0), ``noise [chunk, B, V]`` the Gumbel noise
        (:class:`GumbelNoise`; zero at T = 0, so the draw is the argmax): a draw from
        ``softmax(mask(logits / T))``. ``mask`` sets the logits of characters a filter drops to -inf.
        """
        weights = step_weights(values)
        out = ops.zeros_like(noise[:, :, 0], dtype="int32")  # [chunk, B]

        def body(t, carry):
            logits, state, out = carry
            scaled = logits * scale
            if mask is not None:
                scaled = mask(scaled)
            tokens = ops.cast(ops.argmax(scaled + noise[t], axis=1), "int32")
            out = ops.slice_update(out, (t, 0), tokens[None])
            logits, state = lstm_step(weights, tokens, state)
            return logits, state, out

        logits, state, out = ops.fori_loop(0, self.chunk, body, (logits, state, out))
        return out, logits, state

    def _score_chunk_py(self, values, x, y, w, state):
        """Weighted nats of ``SCORE_CHUNK`` characters of every stream: ``x, y, w [time, streams]``."""
        weights = step_weights(values)

        def body(t, carry):
            total, state = carry
            logits, state = lstm_step(weights, x[t], state)
            return total + ops.sum(cross_entropy(logits, y[t]) * w[t]), state

        return ops.fori_loop(0, SCORE_CHUNK, body, (ops.zeros([]), state))


class GumbelNoise:
    """The generator's random numbers, drawn on the host with NumPy: one stream per row.

    Row ``r`` draws from ``np.random.default_rng(np.random.SeedSequence([seed, r]))``: for each
    character, ``u = rng.random(V, dtype=np.float32)`` and the noise ``-log(-log(u))`` (float32);
    a row at temperature 0 (and a padding row) draws nothing and gets zeros.
    """

    def __init__(self, seed: int, temperatures: Sequence[float], batch: int, vocab_size: int):
        self.vocab_size, self.batch = vocab_size, batch
        self._rows = [(r, np.random.default_rng(np.random.SeedSequence([seed, r])))
                      for r, t in enumerate(temperatures) if t > 0]

    def draw(self, steps: int) -> np.ndarray:
        """The noise of the next ``steps`` characters: ``[steps, batch, V]`` float32."""
        noise = np.zeros((steps, self.batch, self.vocab_size), np.float32)
        with np.errstate(divide="ignore"):  # u = 0 (odds 2**-24) gives -inf: that character is not drawn
            for r, rng in self._rows:
                noise[:, r] = -np.log(-np.log(rng.random((steps, self.vocab_size), dtype=np.float32)))
        return noise


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
    one_number = isinstance(temperature, (int, float, np.number))
    one_in_text = isinstance(temperature, str) and "," not in temperature  # "0.5", not "0.2,0.5"
    return texts[0] if one_number or one_in_text else texts


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
