"""Training: one ``fit`` with the callbacks a reader wants to watch.

``train(model, vocab, text, epochs=20)`` holds out the text's tail for validation, streams random
training windows (:func:`~textgen_helpers.windows.window_dataset`, on every backend), and after every epoch

* measures the loss on the held-out tail and, by the same rule, on as much training text
  (nats and bits per character; see :func:`~textgen_helpers.evaluation.evaluate_loss`),
* generates from one fixed seed text at temperatures 0, 0.25, 0.5 and 0.75 (the book's Table 10.1),
* writes a checkpoint (:mod:`~textgen_helpers.checkpoints`) from which an interrupted run resumes
  exactly where it stopped.

It returns a :class:`TrainingRun` whose ``history`` and ``samples`` are pandas DataFrames, and
whose ``settings`` are everything that shaped the weights.
"""

from __future__ import annotations

import gc
import hashlib
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np
import pandas as pd

from .checkpoints import Checkpoint, CheckpointWriter, describe_callback, shaping_callbacks
from .checks import check_scalar, check_seed
from .distribute import (
    check_model_in_scope,
    check_workers_resume_alike,
    distributed_windows,
    fit_multi_worker,
    is_chief,
    is_multi_worker,
)
from .evaluation import describe_scoring, evaluate_loss
from .generation import FastGenerator
from .model import model_framing, model_settings, model_vocab_size, nats_to_bits, set_sample_len
from .run_folders import claim_run_folders
from .runtime import import_keras
from .sampling import BOOK_TEMPERATURES, check_temperatures
from .vocabulary import Vocabulary
from .windows import (
    check_batch_size,
    check_fraction,
    check_window_args,
    split_train_validation,
    window_dataset,
)

keras = import_keras()

SAMPLE_COLUMNS = ["epoch", "temperature", "text"]
HISTORY_COLUMNS = ["epoch", "complete", "loss", "val_loss", "val_loss_stateful", "fit_loss", "loss_bits",
                   "val_loss_bits", "val_loss_stateful_bits", "learning_rate", "train_seconds", "seconds", "chars",
                   "chars_per_second"]
# Windows scored per text after every epoch when the config says None (see TrainingConfig).
DEFAULT_VALIDATION_WINDOWS = {"seq2seq": 8_000, "seq2one": 2_000}


@dataclass
class TrainingConfig:
    """Everything that shapes a training run; saved into checkpoints and model bundles.

    ``temperatures`` are the sampling temperatures after each epoch: one (``0.5``), several
    (``(0, 0.5)`` or ``"0,0.5"``), with 0 meaning greedy; ``None`` or ``()`` samples nothing.

    ``max_validation_windows`` bounds the scoring after every epoch, in windows of ``sample_len``
    characters, for both framings and the stateful reading (see
    :func:`~textgen_helpers.evaluation.evaluate_loss`): a validation tail with more windows has that
    many scored, evenly spread and the same every epoch, and as many of training text; a smaller
    tail is scored whole. None (the default) takes the framing's :data:`DEFAULT_VALIDATION_WINDOWS`,
    recorded as a number. In seq2seq, where windows overlap by half, 8,000 windows score tiny
    Shakespeare's whole tail for any ``sample_len`` of 27 or more, and about 8,000 x ``sample_len`` / 2
    characters of a longer tail (240,000 at 60); seq2one scores one character per window, 2,000 of
    them (the stored book run's measure).
    """

    sample_len: int = 60
    sample_step: int = 3
    batch_size: int = 128
    examples_per_epoch: int = 10_000
    validation_fraction: float = 0.1
    max_validation_windows: int | None = None  # windows of sample_len scored per text (None: the framing's)
    seed_text: str | None = None
    temperatures: tuple[float, ...] = BOOK_TEMPERATURES
    display_length: int = 120
    seed: int = 0

    def __post_init__(self):
        self.sample_len, self.sample_step = check_window_args(self.sample_len, self.sample_step)
        self.batch_size = check_batch_size(self.batch_size)
        self.examples_per_epoch = check_scalar(self.examples_per_epoch, "examples_per_epoch", int, min_value=1)
        self.validation_fraction = check_fraction(self.validation_fraction)
        self.max_validation_windows = check_scalar(
            self.max_validation_windows, "max_validation_windows", int, min_value=1, allow_none=True,
            hint="give the number of windows of sample_len to score after every epoch, or None for the "
                 "framing's default (8,000 for seq2seq, 2,000 for seq2one)")
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
    settings: dict = field(default_factory=dict)  # what shaped the weights: see run_settings()

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
    restart: bool = False,
    max_seconds: float | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    on_epoch_end: Callable[[TrainingRun], None] | None = None,
    verbose: int = 1,
    strategy=None,
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
        checkpoint_dir: where to write a checkpoint after every finished epoch. The run holds the
            folder's lock until it returns (a second run on it is refused at once), and a folder that
            holds another run's checkpoint is refused unless ``resume`` or ``restart`` says what to do
            with it (see :mod:`~textgen_helpers.run_folders`).
        resume: continue from the checkpoint in ``checkpoint_dir`` if there is one: weights,
            optimizer state, epoch count, history, the state of the given callbacks (such as
            ``ReduceLROnPlateau``) and the position in the stream of training windows are
            restored, so the resumed run ends with the weights the uninterrupted one would have.
            Every setting that shapes the weights must be the checkpoint's (the model may be the
            one that wrote it, whatever rate a callback has lowered it to).
        restart: delete the checkpoint in ``checkpoint_dir`` (only a checkpoint: a folder holding
            anything else is refused) and start afresh, once every other check has passed.
        max_seconds: stop after this much wall-clock time (evaluation included); the epoch it cuts
            short is recorded with ``complete=False`` and is not checkpointed, so a resume runs it
            again in full.
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
    if config.max_validation_windows is None:  # the framing's default, recorded as the number it is
        windows = DEFAULT_VALIDATION_WINDOWS[model_framing(model)]
        config = replace(config, max_validation_windows=windows)
    if strategy is not None:
        check_model_in_scope(model, strategy)
    epochs = check_scalar(epochs, "epochs", int, min_value=1)
    max_seconds = check_scalar(max_seconds, "max_seconds", float, min_value=0, include_min=False, allow_none=True)
    if model_vocab_size(model) != len(vocab):
        raise ValueError(f"the model predicts {model_vocab_size(model)} characters but the vocabulary has "
                         f"{len(vocab)}; build the model with vocab_size=len(vocab)")
    if getattr(model, "optimizer", None) is None:
        raise ValueError("the model is not compiled; build it with build_model() or call compile_model(model)")
    if (resume or restart) and checkpoint_dir is None:
        raise ValueError(f"{'resume' if resume else 'restart'}=True needs the checkpoint_dir of the run")
    ids = vocab.encode(text) if isinstance(text, str) else np.asarray(text, dtype=np.int32)
    train_ids, val_ids = split_train_validation(ids, config.validation_fraction)
    if len(val_ids) <= config.sample_len + 1 or len(train_ids) <= len(val_ids) + config.sample_len:
        raise ValueError(
            f"a text of {len(ids):,} characters is too short for windows of {config.sample_len}: its validation "
            f"tail (the last {config.validation_fraction:g}, {len(val_ids):,} characters) must be longer than one "
            f"window, and the training text longer than the tail. Use a longer text, a smaller sample_len or "
            f"another validation fraction."
        )
    seed_text = config.seed_text or _default_seed_text(vocab, val_ids, config.sample_len)
    vocab.encode(seed_text)  # unknown characters in a given seed text fail now, not after epoch 1
    callbacks = list(callbacks)
    set_sample_len(model, config.sample_len)  # generate(run.model, ...) then primes as the epoch samples do
    run = TrainingRun(model=model, vocab=vocab, config=config, history=pd.DataFrame(columns=HISTORY_COLUMNS),
                      samples=pd.DataFrame(columns=SAMPLE_COLUMNS), seed_text=seed_text,
                      settings=run_settings(model, config, callbacks, ids))
    with claim_run_folders(checkpoint_dir, resume=resume, restart=restart, strategy=strategy) as checkpoint:
        if restart and is_chief(strategy):
            checkpoint.clear()  # only now: every check has passed, and this run holds the folder
        callback_state = _resume(run, checkpoint, resume=resume, strategy=strategy, verbose=verbose)
        if run.resumed_from_epoch >= epochs:
            if verbose:
                print(f"the checkpoint has already reached epoch {run.resumed_from_epoch} of {epochs}: nothing to "
                      f"train; ask for more epochs to train it further")
            return run
        if verbose:  # how much text each epoch's scoring reads: a fixed amount, however long the corpus
            print(describe_scoring(len(val_ids), config.sample_len, framing=run.settings["framing"],
                                   max_windows=config.max_validation_windows))
        _fit(run, train_ids, val_ids, epochs=epochs, checkpoint=checkpoint, max_seconds=max_seconds,
             callbacks=callbacks, callback_state=callback_state, on_epoch_end=on_epoch_end, verbose=verbose,
             strategy=strategy)
    return run


def run_settings(model: keras.Model, config: TrainingConfig, callbacks: Sequence[keras.callbacks.Callback],
                 ids: np.ndarray) -> dict:
    """Everything that shapes the weights of a run, as plain JSON values: the checkpoint records it,
    a resume must match it, and a bundle keeps it as the record of how the model was trained.

    The window, batch and sampling settings (``config``), the model and its optimizer as built
    (:func:`~textgen_helpers.model.model_settings`, with the learning rate it starts from), the
    callbacks that change training (``ReduceLROnPlateau`` and ``EarlyStopping``, with their settings;
    others, such as a live plot, may come and go), and the text itself
    (its length and sha256). Only the epoch count and the time budget are left out: they may change.
    """
    ids = np.ascontiguousarray(ids, dtype=np.int32)
    return {
        **config.to_dict(),
        **model_settings(model),
        "callbacks": [describe_callback(callback) for callback in shaping_callbacks(callbacks)],
        "text": {"characters": len(ids), "sha256": hashlib.sha256(ids.tobytes()).hexdigest()},
    }


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


# --- helpers -------------------------------------------------------------------------------------

def _resume(run: TrainingRun, checkpoint: Checkpoint | None, *, resume: bool, strategy, verbose: int) -> list | None:
    """Restore the checkpoint into ``run`` if ``resume`` finds one; returns the callbacks' saved state."""
    if not resume:
        return None
    if is_multi_worker(strategy):  # before restoring, which makes variables: a collective step
        saved = checkpoint.load_state()["epoch"] if checkpoint.exists() else 0
        check_workers_resume_alike(strategy, saved, checkpoint.path)
    if not checkpoint.exists():
        if verbose:
            left = checkpoint.path.is_dir() and any(checkpoint.path.iterdir())
            what = ("no finished epoch in {} (only what an interrupted save left, which the first save clears)"
                    if left else "no checkpoint in {}")
            print(f"{what.format(checkpoint.path)}; starting from epoch 1")
        return None
    restored = checkpoint.restore(run.model, run.vocab, run.settings)  # refuses other settings before loading
    run.history = pd.DataFrame(restored.history, columns=HISTORY_COLUMNS)
    run.samples = pd.DataFrame(restored.samples, columns=SAMPLE_COLUMNS)
    run.resumed_from_epoch = restored.epoch
    if verbose:
        print(f"resumed from {checkpoint.path} after epoch {run.resumed_from_epoch}")
    return restored.callbacks


def _fit(run: TrainingRun, train_ids: np.ndarray, val_ids: np.ndarray, *, epochs: int, checkpoint, max_seconds,
         callbacks: list, callback_state, on_epoch_end, verbose: int, strategy) -> None:
    """``fit`` from the run's epoch to ``epochs`` with the reporting, time-budget and checkpoint callbacks."""
    model, config, initial_epoch = run.model, run.config, run.resumed_from_epoch

    def windows():
        return window_dataset(train_ids, config.sample_len, config.batch_size, framing=run.settings["framing"],
                              vocab_size=len(run.vocab), sample_step=config.sample_step, seed=config.seed,
                              start_step=initial_epoch * config.steps_per_epoch)

    # On TensorFlow, fit reads the stream through tf.data with fixed buffers (distributed_windows); handed the
    # stream itself, Keras would prefetch it with tf.data's autotuner, which can hold a stopped run's end for seconds.
    on_tensorflow = keras.backend.backend() == "tensorflow"
    dataset = (distributed_windows(strategy, windows, config.batch_size) if on_tensorflow or strategy is not None
               else windows())
    probe_ids = train_ids[-len(val_ids):]  # as much training text as validation text, scored the same way
    reporter = _EpochReporter(run, probe_ids, val_ids, on_epoch_end, verbose, epochs)
    all_callbacks = [reporter]
    if max_seconds is not None:
        all_callbacks.append(TimeBudget(max_seconds))
    # The checkpoint goes last, so it records what every other callback did at that epoch.
    writer = checkpoint if is_chief(strategy) else None  # other workers of a multi-worker run write nothing
    all_callbacks += [*callbacks, CheckpointWriter(run, writer, callbacks, callback_state)]
    try:
        if is_multi_worker(strategy):
            fit_multi_worker(model, strategy, dataset, windows, epochs=epochs, initial_epoch=initial_epoch,
                             steps_per_epoch=config.steps_per_epoch, callbacks=all_callbacks)
        else:
            model.fit(dataset, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=config.steps_per_epoch,
                      callbacks=all_callbacks, verbose=0, shuffle=False)
    finally:
        gc.collect()  # frees the tf.data iterator now rather than stalling a later fit (see TESTING-NOTES)
    finished = run.history[run.history["complete"].astype(bool)]
    run.stopped_early = len(finished) == 0 or int(finished["epoch"].iloc[-1]) < epochs


class _EpochReporter(keras.callbacks.Callback):
    """Losses, samples, history and printing after every epoch."""

    def __init__(self, run: TrainingRun, probe_ids, val_ids, on_epoch_end, verbose, epochs):
        super().__init__()
        self.run, self.probe_ids, self.val_ids = run, probe_ids, val_ids
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
        seq2seq = run.settings["framing"] == "seq2seq"
        predicted = self._steps * config.batch_size * (config.sample_len if seq2seq else 1)
        measure = dict(sample_len=config.sample_len, max_windows=config.max_validation_windows)
        val_loss = evaluate_loss(run.model, self.val_ids, **measure)
        loss = evaluate_loss(run.model, self.probe_ids, **measure)
        val_stateful = evaluate_loss(run.model, self.val_ids, **measure, stateful=True)
        fit_loss = float(logs.get("loss", math.nan))
        logs["val_loss"] = val_loss
        samples = []
        if config.temperatures and config.display_length:
            if self.generator is None:
                self.generator = FastGenerator(run.model, run.vocab)
            texts = self.generator(run.seed_text, config.display_length, list(config.temperatures),
                                   seed=(config.seed + epoch) % 2**64, window=config.sample_len)
            pairs = zip(config.temperatures, texts, strict=True)
            samples = [{"epoch": epoch + 1, "temperature": t, "text": s} for t, s in pairs]
        row = {"epoch": epoch + 1, "complete": self._steps >= config.steps_per_epoch, "loss": loss,
               "val_loss": val_loss, "val_loss_stateful": val_stateful, "fit_loss": fit_loss,
               "loss_bits": nats_to_bits(loss), "val_loss_bits": nats_to_bits(val_loss),
               "val_loss_stateful_bits": nats_to_bits(val_stateful),
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
                print(f"  (stopped after {self._steps} of {config.steps_per_epoch} steps: this epoch is not "
                      f"checkpointed; a resume runs it again)")
            for s in samples:
                print(f"  T={s['temperature']:<4g} {s['text']!r}")
        if self.hook is not None:
            self.hook(run)


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

