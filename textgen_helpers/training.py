"""Training: one ``fit`` with the callbacks a reader wants to watch.

``train(model, vocab, text, epochs=20)`` holds out the text's tail for validation, streams random
training windows with ``tf.data``, and after every epoch

* measures the loss on the held-out tail and, by the same rule, on as much training text
  (nats and bits per character; see :func:`train` for the rule),
* generates from one fixed seed text at temperatures 0, 0.25, 0.5 and 0.75 (the book's Table 10.1),
* writes a checkpoint (model, optimizer state, history, callback state) from which an interrupted
  run resumes exactly where it stopped.

It returns a :class:`TrainingRun` whose ``history`` and ``samples`` are pandas DataFrames.
"""

from __future__ import annotations

import gc
import json
import math
import os
import re
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from .checks import check_scalar, check_seed, listed
from .distribute import (
    check_model_in_scope,
    check_workers_resume_alike,
    distributed_windows,
    is_chief,
    is_multi_worker,
)
from .generation import FastGenerator, stateful_loss
from .model import (
    call_model,
    format_layer_sizes,
    lstm_layer_sizes,
    model_framing,
    model_vocab_size,
    nats_to_bits,
)
from .runtime import import_tensorflow
from .sampling import BOOK_TEMPERATURES, check_temperatures
from .vocabulary import Vocabulary
from .windows import (
    check_batch_size,
    check_fraction,
    check_window_args,
    split_train_validation,
    validation_windows,
    window_dataset,
)

tf, keras = import_tensorflow()

CHECKPOINT_STATE = "state.json"
_CHECKPOINT_FILE = re.compile(r"\.?epoch_\d{4,}\.keras(\.part\.keras)?")  # the files Checkpoint.save writes
CHECKPOINT_FORMAT = 2
SAMPLE_COLUMNS = ["epoch", "temperature", "text"]
HISTORY_COLUMNS = ["epoch", "complete", "loss", "val_loss", "val_loss_stateful", "fit_loss", "loss_bits",
                   "val_loss_bits", "val_loss_stateful_bits", "learning_rate", "train_seconds", "seconds", "chars",
                   "chars_per_second"]
# Callback attributes a checkpoint keeps, so that a resumed run's callbacks carry on as if never stopped.
CALLBACK_STATE = {"ReduceLROnPlateau": ("best", "wait", "cooldown_counter"),
                  "EarlyStopping": ("best", "wait", "stopped_epoch")}


@dataclass
class TrainingConfig:
    """Everything that shapes a training run; saved into checkpoints and model bundles.

    ``temperatures`` are the sampling temperatures after each epoch: one (``0.5``), several
    (``(0, 0.5)`` or ``"0,0.5"``), with 0 meaning greedy; ``None`` or ``()`` samples nothing.
    """

    sample_len: int = 60
    sample_step: int = 3
    batch_size: int = 128
    examples_per_epoch: int = 10_000
    validation_fraction: float = 0.1
    max_validation_windows: int = 2_000  # seq2one only: windows spread over the validation tail
    seed_text: str | None = None
    temperatures: tuple[float, ...] = BOOK_TEMPERATURES
    display_length: int = 120
    seed: int = 0

    def __post_init__(self):
        self.sample_len, self.sample_step = check_window_args(self.sample_len, self.sample_step)
        self.batch_size = check_batch_size(self.batch_size)
        self.examples_per_epoch = check_scalar(self.examples_per_epoch, "examples_per_epoch", int, min_value=1)
        self.validation_fraction = check_fraction(self.validation_fraction)
        self.max_validation_windows = check_scalar(self.max_validation_windows, "max_validation_windows", int, min_value=1)
        self.display_length = check_scalar(self.display_length, "display_length", int, min_value=0)
        self.seed = check_seed(self.seed)
        if self.seed_text is not None and not isinstance(self.seed_text, str):
            raise ValueError(f"seed_text must be a string or None, got {self.seed_text!r}")
        empty = self.temperatures is None or (isinstance(self.temperatures, (tuple, list)) and not self.temperatures)
        self.temperatures = () if empty else tuple(check_temperatures(self.temperatures))

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.examples_per_epoch // self.batch_size)

    def to_dict(self) -> dict:
        return {**asdict(self), "temperatures": list(self.temperatures)}

    @classmethod
    def from_dict(cls, data: dict) -> TrainingConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})  # __post_init__ checks and normalises


@dataclass
class TrainingRun:
    """What :func:`train` returns: the model, and what happened to it, epoch by epoch."""

    model: keras.Model
    vocab: Vocabulary
    config: TrainingConfig
    history: pd.DataFrame
    samples: pd.DataFrame
    resumed_from_epoch: int = 0
    stopped_early: bool = False
    seed_text: str = ""

    def samples_table(self) -> pd.DataFrame:
        """Samples laid out like the book's Table 10.1: one row per epoch, one column per temperature."""
        if self.samples.empty:
            return pd.DataFrame()
        table = self.samples.pivot(index="epoch", columns="temperature", values="text")
        table.columns = [f"T = {t:g}" for t in table.columns]
        return table

    @property
    def chars_per_second(self) -> float:
        """Predicted characters per second of training over the whole run (validation time excluded)."""
        history = self.history
        return float(history["chars"].sum() / (history["chars"] / history["chars_per_second"]).sum())

    @property
    def best_val_loss(self) -> float:
        """Lowest validation loss so far, nats per character (NaN before the first epoch)."""
        return float(self.history["val_loss"].min()) if len(self.history) else math.nan


def train(
    model: keras.Model,
    vocab: Vocabulary,
    text: str | np.ndarray,
    *,
    epochs: int = 20,
    config: TrainingConfig | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    max_seconds: float | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    on_epoch_end: Callable[[TrainingRun], None] | None = None,
    verbose: int = 1,
    strategy: tf.distribute.Strategy | None = None,
    **config_overrides,
) -> TrainingRun:
    """Train ``model`` on ``text`` (a string, or ids from ``vocab.encode``) for ``epochs`` epochs in all.

    How the loss is measured: after every epoch, with dropout off, :func:`evaluate_loss` scores
    the validation tail (the last ``validation_fraction`` of the text) and, by exactly the same
    rule, as many characters of training text (the stretch just before the tail). So ``loss``
    and ``val_loss`` differ only in which text they read, and their gap is over-fitting.
    ``val_loss_stateful`` reads the tail as generation does, carrying the LSTM state from
    character to character. ``fit_loss`` is Keras's running average over the epoch's batches
    (dropout on, weights changing as it goes), kept for reference.

    Args:
        epochs: the epoch count to reach, counting epochs done before a resume.
        config: window, batch and sampling settings; keyword arguments override its fields
            (``train(..., sample_len=40, batch_size=64)``).
        checkpoint_dir: where to write a checkpoint after every finished epoch.
        resume: continue from the checkpoint in ``checkpoint_dir`` if there is one: weights,
            optimizer state, epoch count, history, the state of the given callbacks (such as
            ``ReduceLROnPlateau``) and the position in the stream of training windows are
            restored, so the resumed run ends with the weights the uninterrupted one would have.
        max_seconds: stop after this much wall-clock time (evaluation included); the epoch it cuts short is recorded
            with ``complete=False`` and is not checkpointed, so a resume runs it again in full.
        callbacks: more Keras callbacks; they see ``val_loss`` in ``logs``.
        on_epoch_end: called with the run so far after every epoch (live plots use it).
        verbose: 1 prints one line per epoch and the samples; 0 prints nothing.
        strategy: a ``tf.distribute.Strategy`` (see :mod:`textgen_helpers.distribute`); the model
            must have been built under its scope (``build_model(..., strategy=strategy)``).
            ``batch_size`` is the global batch, split between the replicas; only the chief of a
            multi-worker run writes checkpoints, and to resume, every worker must read them (a
            shared ``checkpoint_dir``): workers that would start from different epochs all stop.
    """
    config = _merge_config(config, config_overrides)
    if strategy is not None:
        check_model_in_scope(model, strategy)
    epochs = check_scalar(epochs, "epochs", int, min_value=1)
    max_seconds = check_scalar(max_seconds, "max_seconds", float, min_value=0, include_min=False, allow_none=True)
    if model_vocab_size(model) != len(vocab):
        raise ValueError(f"the model predicts {model_vocab_size(model)} characters but the vocabulary has {len(vocab)}; build the model with vocab_size=len(vocab)")
    if getattr(model, "optimizer", None) is None:
        raise ValueError("the model is not compiled; build it with build_model() or call compile_model(model)")
    ids = vocab.encode(text) if isinstance(text, str) else np.asarray(text, dtype=np.int32)
    train_ids, val_ids = split_train_validation(ids, config.validation_fraction)
    if len(val_ids) <= config.sample_len + 1 or len(train_ids) <= len(val_ids) + config.sample_len:
        raise ValueError(
            f"a text of {len(ids):,} characters is too short for windows of {config.sample_len}: its validation "
            f"tail (the last {config.validation_fraction:g}, {len(val_ids):,} characters) must be longer than one "
            f"window, and the training text longer than the tail. Use a longer text, a smaller sample_len or "
            f"another validation fraction."
        )
    framing = model_framing(model)
    run = TrainingRun(model=model, vocab=vocab, config=config,
                      history=pd.DataFrame(columns=HISTORY_COLUMNS), samples=pd.DataFrame(columns=SAMPLE_COLUMNS))
    checkpoint = Checkpoint(checkpoint_dir) if checkpoint_dir is not None else None
    if checkpoint is not None:
        checkpoint.check_target(resume=resume)
    callbacks = list(callbacks)
    callback_state = None
    if is_multi_worker(strategy) and resume:  # before restoring, which makes variables: a collective step
        saved = checkpoint.load_state()["epoch"] if checkpoint is not None and checkpoint.exists() else 0
        check_workers_resume_alike(strategy, saved, checkpoint_dir)
    if resume and checkpoint is not None and checkpoint.exists():
        callback_state = checkpoint.restore(run)
        if verbose:
            print(f"resumed from {checkpoint.path} after epoch {run.resumed_from_epoch}")
    elif resume and verbose:
        print(f"no checkpoint in {checkpoint_dir}; starting from epoch 1")
    initial_epoch = run.resumed_from_epoch
    seed_text = run.seed_text = config.seed_text or _default_seed_text(vocab, val_ids, config.sample_len)
    vocab.encode(seed_text)  # unknown characters in a given seed text fail now, not after epoch 1
    if initial_epoch >= epochs:
        if verbose:
            print(f"the checkpoint has already reached epoch {initial_epoch} of {epochs}: nothing to train; "
                  f"ask for more epochs to train it further")
        return run

    def windows():
        return window_dataset(train_ids, config.sample_len, config.batch_size, framing=framing, vocab_size=len(vocab),
                              sample_step=config.sample_step, seed=config.seed,
                              start_step=initial_epoch * config.steps_per_epoch)

    dataset = windows() if strategy is None else distributed_windows(strategy, windows, config.batch_size)
    probe_ids = train_ids[-len(val_ids):]  # as much training text as validation text, scored the same way
    reporter = _EpochReporter(run, probe_ids, val_ids, seed_text, on_epoch_end, verbose, epochs)
    all_callbacks = [reporter]
    if max_seconds is not None:
        all_callbacks.append(TimeBudget(max_seconds))
    # The checkpoint goes last, so it records what every other callback did at that epoch.
    writer = checkpoint if is_chief(strategy) else None  # other workers of a multi-worker run write nothing
    all_callbacks += [*callbacks, _CheckpointWriter(run, writer, callbacks, callback_state)]
    try:
        if is_multi_worker(strategy):
            _fit_multi_worker(model, strategy, dataset, windows, epochs=epochs, initial_epoch=initial_epoch,
                              steps_per_epoch=config.steps_per_epoch, callbacks=all_callbacks)
        else:
            model.fit(dataset, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=config.steps_per_epoch,
                      callbacks=all_callbacks, verbose=0, shuffle=False)
    finally:
        gc.collect()  # frees the tf.data iterator now rather than stalling a later fit (see TESTING-NOTES)
    finished = run.history[run.history["complete"].astype(bool)]
    run.stopped_early = len(finished) == 0 or int(finished["epoch"].iloc[-1]) < epochs
    return run


def _fit_multi_worker(model, strategy, dataset, make_windows, *, epochs, initial_epoch, steps_per_epoch, callbacks):
    """``model.fit`` for ``MultiWorkerMirroredStrategy``, where Keras 3's own ``fit`` fails.

    Keras 3's ``fit`` averages the first batch with ``strategy.reduce`` before training (a tuple,
    which this strategy's reduce cannot take) and every step's scalar logs along axis 0 (which a
    scalar has not); keras-team/keras#20585. This loop runs the same ``model.train_step`` on every
    replica with ``strategy.run`` (the same loss scaling, gradient all-reduce and optimizer update
    as ``fit``), reads the loss once an epoch, and calls the same callbacks at the same points. A
    callback that stops training on one worker (a time budget) stops every worker at the same step
    (an all-reduce of the flag), since a worker that ran one step more would wait for the others forever.
    """
    x, y = next(iter(make_windows().take(1)))
    with strategy.scope():  # variables must exist before the first step: none may be made inside strategy.run
        model.optimizer.build(model.trainable_variables)
        model.compute_loss(x[:1], y[:1], model(x[:1], training=False))  # builds the compiled loss and its tracker
    step = tf.function(lambda iterator: strategy.run(model.train_step, args=(next(iterator),)))
    any_worker = tf.function(lambda flag: strategy.reduce("SUM", strategy.run(lambda: flag), axis=None) > 0)

    def agreed_stop() -> bool:
        """Stop on every worker if a callback stopped any of them (a worker one step ahead would wait forever)."""
        model.stop_training = bool(any_worker(tf.constant(float(model.stop_training))))
        return model.stop_training

    callbacks = keras.callbacks.CallbackList(callbacks, model=model, epochs=epochs, steps=steps_per_epoch, verbose=0)
    model.stop_training = False
    iterator = iter(dataset)
    logs = {}
    callbacks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callbacks.on_epoch_begin(epoch)
        for batch in range(steps_per_epoch):
            callbacks.on_train_batch_begin(batch)
            step(iterator)
            callbacks.on_train_batch_end(batch)
            if agreed_stop():  # a time budget, mid-epoch
                break
        logs = {name: float(value) for name, value in model.get_metrics_result().items()}
        callbacks.on_epoch_end(epoch, logs)
        if agreed_stop():  # early stopping, or the budget
            break
    callbacks.on_train_end(logs)


def halve_lr_on_plateau(learning_rate: float) -> keras.callbacks.Callback:
    """Halve the learning rate after an epoch whose validation loss did not improve, down to 1/32 of it."""
    return keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_lr=learning_rate / 32)


class TimeBudget(keras.callbacks.Callback):
    """Stop training once ``seconds`` of wall-clock time have passed since it began, mid-epoch if
    need be. The time counts everything ``train`` does, the evaluation and sampling after each
    epoch included (``--max-minutes`` is a budget for the whole run)."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = check_scalar(seconds, "max_seconds", float, min_value=0, include_min=False)
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if time.perf_counter() - self._start >= self.seconds:
            self.model.stop_training = True


def evaluate_loss(model: keras.Model, ids: np.ndarray, sample_len: int, *, max_windows: int | None = None,
                  batch_size: int = 256, stateful: bool = False, streams: int = 32) -> float:
    """Mean cross-entropy (nats per character) of ``model`` on a text ``ids [n]``, dropout off.

    Two ways to read the text:

    * ``stateful=False`` (as the model was trained): windows of ``sample_len``, each starting
      from a zero LSTM state (see :func:`~textgen_helpers.windows.validation_windows`). For
      seq2seq every target character is counted once, with at least ``sample_len // 2``
      characters of context; ``max_windows`` subsamples a sequence-to-one model's windows.
    * ``stateful=True`` (as generation reads it): the state is carried from character to
      character. The text is cut into ``streams`` contiguous pieces read side by side (one
      batch); each piece after the first is first run over the ``sample_len`` characters
      before it, uncounted, so every target from position ``sample_len`` on is counted once.
      ``streams=1`` reads the whole text as one sequence.
    """
    sample_len = check_scalar(sample_len, "sample_len", int, min_value=1)
    batch_size = check_batch_size(batch_size)
    ids = np.asarray(ids, dtype=np.int32)
    if stateful:
        streams = check_scalar(streams, "streams", int, min_value=1)
        return stateful_loss(model, ids, warmup=sample_len, streams=streams)
    framing = model_framing(model)
    if framing == "seq2seq":
        max_windows = None  # every character once is cheap here; the cap is for seq2one
    x, y, w = validation_windows(ids, sample_len, framing=framing, max_windows=max_windows)
    loss_fn = _loss_function(model)
    total = weight = 0.0
    for start in range(0, len(x), batch_size):
        sl = slice(start, start + batch_size)
        xb, yb, wb = _pad_batch(x[sl], y[sl], w[sl], batch_size)
        s, n = loss_fn(xb, yb, wb)
        total += float(s)
        weight += float(n)
    return total / weight


class Checkpoint:
    """A folder holding the latest ``epoch_NNNN.keras`` (weights and optimizer) and ``state.json``.

    ``state.json`` is replaced atomically after the model file is complete, so a run killed at any
    moment leaves a checkpoint that loads: the last one finished.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def exists(self) -> bool:
        return (self.path / CHECKPOINT_STATE).is_file()

    def check_target(self, *, resume: bool) -> None:
        """Raise ValueError unless training may write here: a new or empty folder, or (with
        ``resume``) a checkpoint folder holding nothing but a checkpoint. A checkpoint is never
        overwritten by a run that was not asked to resume it, and nothing else is ever touched.
        """
        if not self.path.exists():
            return
        if not self.path.is_dir():
            raise ValueError(f"checkpoint folder {self.path} is a file; choose a folder name for the checkpoints")
        entries = sorted(p.name for p in self.path.iterdir())
        if not entries:
            return
        others = [name for name in entries if name != CHECKPOINT_STATE and not _CHECKPOINT_FILE.fullmatch(name)]
        if others or not self.exists():
            raise ValueError(f"refusing to write checkpoints to {self.path}: the folder holds files that are not a "
                             f"textgen checkpoint ({listed(entries)}). Choose a new or empty folder; nothing was changed")
        if not resume:
            raise ValueError(f"{self.path} already holds a checkpoint (after epoch {self.load_state().get('epoch')}); "
                             f"pass resume=True (--resume on the command line) to continue it, or delete the folder "
                             f"to start afresh")

    def clear(self) -> None:
        """Delete the checkpoint (``state.json`` first, so a half-cleared folder never looks like one),
        then the folder if nothing else is left in it. Refuses a folder holding anything else."""
        if not self.path.exists():
            return
        self.check_target(resume=True)
        (self.path / CHECKPOINT_STATE).unlink(missing_ok=True)
        for path in self.path.iterdir():
            if _CHECKPOINT_FILE.fullmatch(path.name):
                path.unlink()
        if not any(self.path.iterdir()):
            self.path.rmdir()

    def save(self, run: TrainingRun, epoch: int, callback_state: list | None = None) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        name = f"epoch_{epoch:04d}.keras"
        tmp = self.path / f".{name}.part.keras"
        run.model.save(tmp)
        os.replace(tmp, self.path / name)
        finished = run.history[run.history["complete"].astype(bool)]
        state = {
            "format": CHECKPOINT_FORMAT,
            "epoch": epoch,
            "model_file": name,
            "lstm_layer_sizes": format_layer_sizes(lstm_layer_sizes(run.model)),
            "framing": model_framing(run.model),
            "vocab": list(run.vocab.chars),
            "config": run.config.to_dict(),
            "callbacks": callback_state or [],
            "random_state": [keras.ops.convert_to_numpy(v).tolist() for v in _seed_states(run.model)],
            "history": _records(finished),
            "samples": _records(run.samples[run.samples["epoch"].isin(finished["epoch"])]),
        }
        _write_json_atomic(self.path / CHECKPOINT_STATE, state)
        for old in self.path.glob("epoch_*.keras"):
            if old.name != name:
                old.unlink(missing_ok=True)

    def load_state(self) -> dict:
        try:
            return json.loads((self.path / CHECKPOINT_STATE).read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"checkpoint {self.path} is unreadable ({err}); delete the folder to start afresh") from None

    def restore(self, run: TrainingRun) -> list:
        """Load weights, optimizer state, history and epoch count into ``run`` (and its model).

        Returns the saved callback state, for :func:`train` to hand back to the callbacks.
        """
        state = self.load_state()
        if tuple(state["vocab"]) != run.vocab.chars:
            raise ValueError(f"checkpoint {self.path} was trained with a different vocabulary ({len(state['vocab'])} characters, this one has {len(run.vocab)}); use the same corpus or another checkpoint folder")
        sizes = format_layer_sizes(lstm_layer_sizes(run.model))
        if state["lstm_layer_sizes"] != sizes or state["framing"] != model_framing(run.model):
            raise ValueError(f"checkpoint {self.path} holds a {state['framing']} model with LSTM sizes {state['lstm_layer_sizes']}, but this model is {model_framing(run.model)} with {sizes}; build the same model or use another checkpoint folder")
        saved = TrainingConfig.from_dict(state["config"])
        for key in ("sample_len", "sample_step", "batch_size", "examples_per_epoch", "seed"):
            if getattr(saved, key) != getattr(run.config, key):
                raise ValueError(f"checkpoint {self.path} was trained with {key}={getattr(saved, key)!r}, this run asks for "
                                 f"{getattr(run.config, key)!r}; resume with the same settings, or use another checkpoint folder")
        model_file = self.path / state["model_file"]
        if not model_file.is_file():
            raise ValueError(f"checkpoint {self.path} names {state['model_file']}, which is missing; delete the folder to start afresh")
        model = run.model
        with model.distribute_strategy.scope():  # a no-op without tf.distribute
            model.optimizer.build(model.trainable_variables)  # so its state has somewhere to load into
            model.load_weights(model_file)
            for variable, value in zip(_seed_states(model), state.get("random_state", []), strict=False):
                variable.assign(np.asarray(value, dtype=variable.dtype))  # dropout masks continue where they stopped
        run.history = pd.DataFrame(state["history"], columns=HISTORY_COLUMNS)
        run.history["complete"] = True  # a checkpoint holds finished epochs only (format 1 had no such column)
        run.samples = pd.DataFrame(state["samples"], columns=SAMPLE_COLUMNS)
        run.resumed_from_epoch = int(state["epoch"])
        return state.get("callbacks", [])


# --- helpers -------------------------------------------------------------------------------------

class _EpochReporter(keras.callbacks.Callback):
    """Losses, samples, history and printing after every epoch."""

    def __init__(self, run: TrainingRun, probe_ids, val_ids, seed_text, on_epoch_end, verbose, epochs):
        super().__init__()
        self.run, self.probe_ids, self.val_ids, self.seed_text = run, probe_ids, val_ids, seed_text
        self.hook, self.verbose, self.epochs = on_epoch_end, verbose, epochs
        self.generator = None
        self._epoch_start = 0.0
        self._steps = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        run, config = self.run, self.run.config
        train_seconds = time.perf_counter() - self._epoch_start
        seq2seq = model_framing(run.model) == "seq2seq"
        predicted = self._steps * config.batch_size * (config.sample_len if seq2seq else 1)
        measure = dict(sample_len=config.sample_len, max_windows=config.max_validation_windows)
        val_loss = evaluate_loss(run.model, self.val_ids, **measure)
        loss = evaluate_loss(run.model, self.probe_ids, **measure)
        val_stateful = evaluate_loss(run.model, self.val_ids, config.sample_len, stateful=True)
        fit_loss = float(logs.get("loss", math.nan))
        logs["val_loss"] = val_loss
        samples = []
        if config.temperatures and config.display_length:
            if self.generator is None:
                self.generator = FastGenerator(run.model, run.vocab)
            texts = self.generator(self.seed_text, config.display_length, list(config.temperatures),
                                   seed=(config.seed + epoch) % 2**64, window=config.sample_len)
            samples = [{"epoch": epoch + 1, "temperature": t, "text": s} for t, s in zip(config.temperatures, texts, strict=True)]
        row = {"epoch": epoch + 1, "complete": self._steps >= config.steps_per_epoch, "loss": loss, "val_loss": val_loss,
               "val_loss_stateful": val_stateful, "fit_loss": fit_loss, "loss_bits": nats_to_bits(loss),
               "val_loss_bits": nats_to_bits(val_loss), "val_loss_stateful_bits": nats_to_bits(val_stateful),
               "learning_rate": _learning_rate(run.model), "train_seconds": train_seconds,
               "seconds": time.perf_counter() - self._epoch_start, "chars": predicted,
               "chars_per_second": predicted / train_seconds if train_seconds > 0 else math.nan}
        run.history = pd.DataFrame([*run.history.to_dict(orient="records"), row], columns=HISTORY_COLUMNS)
        if samples:
            new = pd.DataFrame(samples, columns=SAMPLE_COLUMNS)
            run.samples = new if run.samples.empty else pd.concat([run.samples, new], ignore_index=True)
        if self.verbose:
            print(format_epoch(row, self.epochs))
            if not row["complete"]:
                print(f"  (stopped after {self._steps} of {config.steps_per_epoch} steps: this epoch is not checkpointed; "
                      f"a resume runs it again)")
            for s in samples:
                print(f"  T={s['temperature']:<4g} {s['text']!r}")
        if self.hook is not None:
            self.hook(run)


class _CheckpointWriter(keras.callbacks.Callback):
    """Writes the checkpoint after every finished epoch; placed after every other callback.

    It also hands the state of the user's callbacks (``CALLBACK_STATE``) to the checkpoint and,
    on a resume, back to the callbacks once they have reset themselves in ``on_train_begin``.
    """

    def __init__(self, run: TrainingRun, checkpoint: Checkpoint | None, callbacks, restored_state):
        super().__init__()
        self.run, self.checkpoint, self.callbacks, self.restored_state = run, checkpoint, callbacks, restored_state

    def on_train_begin(self, logs=None):
        for callback, saved in zip(self.callbacks, self.restored_state or [], strict=False):
            if saved and saved.get("class") == type(callback).__name__:
                for key, value in saved["state"].items():
                    setattr(callback, key, value)

    def on_epoch_end(self, epoch, logs=None):
        history = self.run.history
        if self.checkpoint is None or not len(history) or not bool(history["complete"].iloc[-1]):
            return
        self.checkpoint.save(self.run, epoch + 1, _callback_state(self.callbacks))


def _callback_state(callbacks) -> list:
    state = []
    for callback in callbacks:
        keys = CALLBACK_STATE.get(type(callback).__name__, ())
        state.append({"class": type(callback).__name__,
                      "state": {key: _plain(getattr(callback, key)) for key in keys if hasattr(callback, key)}})
    return state


def _plain(value):
    """A NumPy or Python number as a JSON-friendly Python number (inf stays inf)."""
    return float(value) if isinstance(value, (float, np.floating)) else int(value) if isinstance(value, (int, np.integer)) else value


def _seed_states(model: keras.Model) -> list:
    """The random-number states of the model's layers (dropout's), which ``model.save`` does not keep."""
    return [v for v in model.variables if v.name == "seed_generator_state"]


def _learning_rate(model: keras.Model) -> float:
    try:
        return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    except (AttributeError, TypeError, ValueError):
        return math.nan


def format_epoch(row: dict, epochs: int | None = None) -> str:
    """``epoch 3/20  loss 1.83 nats (2.64 bits)  val 1.90 nats (2.74 bits)  12.3 s  36,000 chars/s``."""
    total = f"/{epochs}" if epochs else ""
    return (f"epoch {int(row['epoch'])}{total}  loss {row['loss']:.3f} nats ({row['loss_bits']:.2f} bits)  "
            f"val {row['val_loss']:.3f} nats ({row['val_loss_bits']:.2f} bits)  {row['seconds']:.1f} s  "
            f"{row['chars_per_second']:,.0f} chars/s")


def _merge_config(config: TrainingConfig | None, overrides: dict) -> TrainingConfig:
    base = (config or TrainingConfig()).to_dict()
    unknown = set(overrides) - set(base)
    if unknown:
        raise TypeError(f"train() got unknown settings {sorted(unknown)}; known: {sorted(base)}")
    return TrainingConfig.from_dict({**base, **overrides})


def _default_seed_text(vocab: Vocabulary, val_ids: np.ndarray, sample_len: int) -> str:
    """The first window of the validation text: held-out prose, the same every epoch."""
    return vocab.decode(val_ids[:sample_len])


_LOSS_FUNCTIONS: weakref.WeakKeyDictionary[keras.Model, Callable] = weakref.WeakKeyDictionary()


def _loss_function(model: keras.Model):
    """A compiled ``(x, y, w) -> (sum of weighted nats, sum of weights)`` for this model's framing."""
    cached = _LOSS_FUNCTIONS.get(model)
    if cached is not None:
        return cached
    framing = model_framing(model)
    vocab_size = model_vocab_size(model)
    model_ref = weakref.ref(model)  # the cache must not keep the model alive (its key is weak)

    @tf.function(reduce_retracing=True, autograph=False)
    def batch_loss(x, y, w):
        model = model_ref()
        if framing == "seq2one":
            probs = call_model(model, tf.one_hot(x, vocab_size))
            nats = -tf.math.log(tf.clip_by_value(tf.gather(probs, y, batch_dims=1), 1e-7, 1.0))
        else:
            logits = call_model(model, x)
            nats = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
        return tf.reduce_sum(nats * w), tf.reduce_sum(w)

    _LOSS_FUNCTIONS[model] = batch_loss
    return batch_loss


def _pad_batch(x, y, w, batch_size):
    """Pad the last batch to full size with zero weights, so the compiled loss sees one shape."""
    missing = batch_size - len(x)
    if missing <= 0:
        return x, y, w
    pad = lambda a: np.concatenate([a, np.zeros((missing, *a.shape[1:]), dtype=a.dtype)])  # noqa: E731
    return pad(x), pad(y), pad(w)


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as plain Python values (NaN as None, floats to 15 digits), ready for JSON."""
    return json.loads(frame.to_json(orient="records", double_precision=15))


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)

