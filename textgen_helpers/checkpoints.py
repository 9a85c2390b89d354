"""Checkpoints: what a training run writes after every finished epoch, so that it can resume exactly.

::

    my-model-checkpoint/
      epoch_0007.keras   the model after epoch 7: architecture, weights and optimizer state
      state.json         the epoch count, the settings, the history and samples so far, the state of
                         the callbacks and of dropout's random numbers

:class:`CheckpointWriter`, a Keras callback, writes them after every finished epoch of
:func:`~textgen_helpers.training.train`, with the state of the callbacks that shape training
(``ReduceLROnPlateau``'s best loss and patience, :data:`CALLBACK_STATE`), which it hands back
to them on a resume.

Both are written with :func:`~textgen_helpers.files.atomic_file`, the model first, ``state.json``
second, so a process killed at any moment leaves the last finished epoch's checkpoint, or (during
the first save) a folder holding only our temporary files, which a resume treats as "no finished
epoch" and clears. ``state.json`` records every setting that shapes the weights (:data:`settings`
in :func:`~textgen_helpers.training.train`); a resume whose settings differ is refused, naming each
difference with both values (and the ``textgen train`` flag that sets it), before anything is loaded
or written. A checkpoint of an older format, which did not record them all, is refused in one line.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .checks import listed
from .files import atomic_file, is_temporary_of, json_records, json_value, write_text_atomic
from .runtime import import_keras
from .vocabulary import Vocabulary

keras = import_keras()

STATE_FILE = "state.json"
CHECKPOINT_FORMAT = 3  # 3: the run's settings, so that a resume can refuse what it cannot honour
_MODEL_FILE = re.compile(r"epoch_\d{4,}\.keras")
_OLD_TEMPORARY = re.compile(r"\.(epoch_\d{4,}\.keras\.part\.keras|state\.json\.part)")  # textgen 0.1.0's names
# Each setting a checkpoint records (training.run_settings), with the `textgen train` flag that sets it, so
# that one message serves a notebook (the name) and the command line (the flag).
SETTING_FLAGS = {
    "sample_len": "--sample-len", "sample_step": "--sample-step", "batch_size": "--batch-size",
    "examples_per_epoch": "--examples-per-epoch", "validation_fraction": "--validation-split",
    "seed_text": "--seed-text", "temperatures": "--temperatures", "display_length": "--display-length",
    "seed": "--seed", "framing": "--framing", "lstm_layer_sizes": "--lstm-layer-size",
    "embedding_dim": "--embedding-dim", "dropout": "--dropout", "optimizer": "--optimizer",
    "learning_rate": "--learning-rate", "optimizer_config.clipnorm": "--clipnorm",
    "callbacks": "--reduce-lr-on-plateau", "dtype_policy": "--mixed-precision",
    "text.sha256": "CORPUS_OR_PATH", "text.characters": "CORPUS_OR_PATH",
}

# Callback attributes a checkpoint keeps, so that a resumed run's callbacks carry on as if never stopped.
CALLBACK_STATE = {"ReduceLROnPlateau": ("best", "wait", "cooldown_counter"),
                  "EarlyStopping": ("best", "wait", "stopped_epoch")}
# Callback settings that shape training: a resume with other values is refused.
CALLBACK_SETTINGS = {
    "ReduceLROnPlateau": ("monitor", "factor", "patience", "min_lr", "min_delta", "cooldown", "mode"),
    "EarlyStopping": ("monitor", "patience", "min_delta", "mode", "baseline", "restore_best_weights"),
}


class ResumeMismatch(ValueError):
    """A resume asked for settings other than the checkpoint's; ``differences`` lists ``(name, saved, now)``.

    The message names each setting with its ``textgen train`` flag in brackets and both values, so
    a notebook and the command line print the same line.
    """

    def __init__(self, path: Path, differences: list[tuple[str, object, object]]):
        self.path, self.differences = path, differences
        super().__init__(f"cannot resume {path} exactly: {describe_differences(differences)}. Resume with the "
                         f"checkpoint's settings (only the epoch count and the time budget, --epochs and "
                         f"--max-minutes, may change), or start afresh with restart=True (--restart); nothing was "
                         f"changed")


@dataclass
class Restored:
    """What :meth:`Checkpoint.restore` read back besides the weights."""

    epoch: int
    history: list[dict]
    samples: list[dict]
    callbacks: list[dict]


class Checkpoint:
    """A checkpoint folder: :meth:`save` after each finished epoch, :meth:`restore` to resume."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def exists(self) -> bool:
        """True if the folder holds a finished epoch's checkpoint."""
        return (self.path / STATE_FILE).is_file()

    def check_target(self, *, resume: bool = False, restart: bool = False) -> None:
        """Raise ValueError unless a run may use this folder: a new or empty folder, one that an
        interrupted first save left (only our temporary files), or a checkpoint that the run
        resumes (``resume``, in a format this version reads) or deletes to start afresh
        (``restart``). A folder holding anything else is never touched.
        """
        if not self.path.exists():
            return
        if not self.path.is_dir():
            raise ValueError(f"checkpoint folder {self.path} is a file; choose a folder name for the checkpoints")
        entries = sorted(p.name for p in self.path.iterdir())
        others = [name for name in entries if not is_checkpoint_file(name)]
        if others:
            raise ValueError(f"refusing to write checkpoints to {self.path}: the folder holds files that are not a "
                             f"textgen checkpoint ({listed(others)}). Choose a new or empty folder; nothing was "
                             f"changed")
        if not self.exists() or restart:
            return
        if not resume:
            raise ValueError(f"{self.path} holds the checkpoint of an earlier run (after epoch "
                             f"{self.load_state().get('epoch')}): resume=True (--resume) continues it (with more "
                             f"epochs, a larger --epochs, to train it further), restart=True (--restart) deletes it "
                             f"and starts afresh; nothing was changed")
        self.resumable_state()

    def clear(self) -> None:
        """Delete the checkpoint and whatever an interrupted save left (``state.json`` first, so a
        half-cleared folder never looks like a checkpoint), then the folder if nothing else is in
        it. Refuses a folder holding anything else."""
        if not self.path.exists():
            return
        self.check_target(restart=True)
        (self.path / STATE_FILE).unlink(missing_ok=True)
        for path in self.path.iterdir():
            if is_checkpoint_file(path.name):
                path.unlink()
        if not any(self.path.iterdir()):
            self.path.rmdir()

    def save(self, model: keras.Model, vocab: Vocabulary, *, epoch: int, settings: dict, history: list[dict],
             samples: list[dict], callbacks: list[dict]) -> None:
        """Write the checkpoint after ``epoch``: the model file, then ``state.json``, then remove the older ones."""
        self.path.mkdir(parents=True, exist_ok=True)
        name = f"epoch_{epoch:04d}.keras"
        with atomic_file(self.path / name) as tmp:
            model.save(tmp)
        state = {
            "format": CHECKPOINT_FORMAT,
            "epoch": epoch,
            "model_file": name,
            "vocab": list(vocab.chars),
            "settings": settings,
            "callbacks": callbacks,
            "random_state": [keras.ops.convert_to_numpy(v).tolist() for v in seed_states(model)],
            "history": history,
            "samples": samples,
        }
        write_text_atomic(self.path / STATE_FILE, json.dumps(state, ensure_ascii=False, indent=1))
        for old in self.path.iterdir():  # earlier epochs, and temporaries a killed save left
            if old.name not in (name, STATE_FILE) and is_checkpoint_file(old.name):
                old.unlink(missing_ok=True)

    def load_state(self) -> dict:
        """``state.json`` as it is, in whatever format wrote it."""
        try:
            state = json.loads((self.path / STATE_FILE).read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"checkpoint {self.path} is unreadable ({err}); delete the folder, or pass restart=True "
                             f"(--restart), to start afresh") from None
        if not isinstance(state, dict):
            raise ValueError(f"checkpoint {self.path} is unreadable ({STATE_FILE} holds no object); delete the "
                             f"folder, or pass restart=True (--restart), to start afresh")
        return state

    def resumable_state(self) -> dict:
        """``state.json``, if this version can check a resume against it: one line otherwise."""
        state = self.load_state()
        written = state.get("format")
        if not isinstance(written, int) or written < CHECKPOINT_FORMAT or "settings" not in state:
            raise ValueError(f"checkpoint {self.path} was written by an older textgen (checkpoint format "
                             f"{written}; this one writes {CHECKPOINT_FORMAT}), which did not record every "
                             f"setting a resume must match: resume it with the version of textgen that wrote it, "
                             f"or start afresh with restart=True (--restart)")
        if written > CHECKPOINT_FORMAT:
            raise ValueError(f"checkpoint {self.path} was written by a newer textgen (checkpoint format "
                             f"{written}; this one reads {CHECKPOINT_FORMAT}): resume it with that version, or "
                             f"start afresh with restart=True (--restart)")
        return state

    def restore(self, model: keras.Model, vocab: Vocabulary, settings: dict) -> Restored:
        """Check that ``vocab`` and ``settings`` are the checkpoint's, then load its weights,
        optimizer state and dropout's random state into ``model``.

        Raises :class:`ResumeMismatch` naming every setting that differs, before loading anything.
        """
        state = self.resumable_state()
        if tuple(state["vocab"]) != vocab.chars:
            raise ValueError(f"checkpoint {self.path} was trained with a different vocabulary "
                             f"({len(state['vocab'])} characters, this one has {len(vocab)}); use the same corpus "
                             f"or another checkpoint folder")
        differences = compare_settings(state["settings"], settings)
        if differences:
            raise ResumeMismatch(self.path, differences)
        model_file = self.path / state["model_file"]
        if not model_file.is_file():
            raise ValueError(f"checkpoint {self.path} names {state['model_file']}, which is missing; delete the "
                             f"folder to start afresh")
        strategy = getattr(model, "distribute_strategy", None)  # TensorFlow's models have one; JAX's and torch's not
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            model.optimizer.build(model.trainable_variables)  # so its state has somewhere to load into
            model.load_weights(model_file)
            saved_random = state.get("random_state", [])
            for variable, value in zip(seed_states(model), saved_random, strict=True):
                variable.assign(np.asarray(value, dtype=variable.dtype))  # dropout masks continue where they stopped
        return Restored(epoch=int(state["epoch"]), history=state["history"], samples=state["samples"],
                        callbacks=state.get("callbacks", []))


class CheckpointWriter(keras.callbacks.Callback):
    """Writes the checkpoint of a :class:`~textgen_helpers.training.TrainingRun` after every finished
    epoch; placed after every other callback.

    It also hands the state of the user's callbacks (``CALLBACK_STATE``) to the checkpoint and,
    on a resume, back to the callbacks once they have reset themselves in ``on_train_begin``.
    """

    def __init__(self, run, checkpoint: Checkpoint | None, callbacks, restored_state: list | None):
        super().__init__()
        self.run, self.checkpoint, self.callbacks, self.restored_state = run, checkpoint, callbacks, restored_state

    def on_train_begin(self, logs=None):
        if self.restored_state is None:
            return
        # The resume checked that these are the callbacks the checkpoint was written with, in order.
        saved_state = [saved for saved in self.restored_state if saved["class"] in CALLBACK_STATE]
        for callback, saved in zip(shaping_callbacks(self.callbacks), saved_state, strict=True):
            for key, value in saved["state"].items():
                setattr(callback, key, value)

    def on_epoch_end(self, epoch, logs=None):
        run = self.run
        if self.checkpoint is None or not len(run.history) or not bool(run.history["complete"].iloc[-1]):
            return
        finished = run.history[run.history["complete"].astype(bool)]
        self.checkpoint.save(run.model, run.vocab, epoch=epoch + 1, settings=run.settings,
                             history=json_records(finished),
                             samples=json_records(run.samples[run.samples["epoch"].isin(finished["epoch"])]),
                             callbacks=callback_state(self.callbacks))


def shaping_callbacks(callbacks: list) -> list:
    """The callbacks that change training, whose settings a resume must match and whose state it restores."""
    return [callback for callback in callbacks if type(callback).__name__ in CALLBACK_SETTINGS]


def callback_state(callbacks: list) -> list[dict]:
    """The state of each shaping callback (:data:`CALLBACK_STATE`), for the checkpoint."""
    state = []
    for callback in shaping_callbacks(callbacks):
        keys = CALLBACK_STATE.get(type(callback).__name__, ())
        state.append({"class": type(callback).__name__,
                      "state": {key: json_value(getattr(callback, key)) for key in keys if hasattr(callback, key)}})
    return state


def describe_callback(callback: keras.callbacks.Callback) -> dict:
    """A callback's class and the settings of it that shape training (:data:`CALLBACK_SETTINGS`)."""
    name = type(callback).__name__
    keys = CALLBACK_SETTINGS[name]
    return {"class": name, **{key: json_value(getattr(callback, key)) for key in keys if hasattr(callback, key)}}


def is_checkpoint_file(name: str) -> bool:
    """True for the names a checkpoint folder may hold: ours, finished or being written."""
    if name == STATE_FILE or _MODEL_FILE.fullmatch(name) or _OLD_TEMPORARY.fullmatch(name):
        return True
    target = name[1:].split(".textgen-", 1)[0]
    return (target == STATE_FILE or bool(_MODEL_FILE.fullmatch(target))) and is_temporary_of(name, target)


def compare_settings(saved: dict, now: dict) -> list[tuple[str, object, object]]:
    """``(name, saved value, this run's value)`` for every setting both record and that differs.

    Nested dicts are compared key by key, named ``outer.inner``; a key only one side has is not a
    difference (an Adam optimizer has no ``rho`` to compare with RMSprop's: ``optimizer`` differs).
    """
    differences = []
    for key in sorted(set(saved) & set(now)):
        a, b = saved[key], now[key]
        if isinstance(a, dict) and isinstance(b, dict):
            differences += [(f"{key}.{name}", x, y) for name, x, y in compare_settings(a, b)]
        elif json_value(a) != json_value(b):
            differences.append((key, a, b))
    return differences


def seed_states(model: keras.Model) -> list:
    """The random-number states of the model's layers (dropout's), which ``model.save`` does not keep."""
    return [v for v in model.variables if v.name == "seed_generator_state"]


def describe_differences(differences: list[tuple[str, object, object]]) -> str:
    """``"learning_rate (--learning-rate): 0.01 in the checkpoint, 0.5 now; ..."``: each setting by its
    name and its ``textgen train`` flag, with both values."""
    said = []
    for name, saved, now in differences:
        flag = SETTING_FLAGS.get(name)
        said.append(f"{name}{f' ({flag})' if flag else ''}: {_shown(name, saved)} in the checkpoint, "
                    f"{_shown(name, now)} now")
    return "; ".join(said)


def _shown(name: str, value) -> str:
    """A setting's value as a reader compares it: ``0.01``, ``'rmsprop'``, ``[0, 0.5]``, ``none``."""
    if name == "callbacks":
        return ", ".join(_shown_callback(callback) for callback in value) or "none"
    if name == "text.sha256":
        return f"a text of sha256 {str(value)[:12]}..."
    if isinstance(value, bool) or value is None:
        return "none" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}" if name == "text.characters" else str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_shown("", v) for v in value) + "]"
    return repr(value)


def _shown_callback(callback) -> str:
    if not isinstance(callback, dict):
        return repr(callback)
    settings = ", ".join(f"{key}={_shown('', value)}" for key, value in callback.items() if key != "class")
    return f"{callback.get('class')}({settings})"
