"""Checkpoints: what a training run writes after every finished epoch, so that it can resume exactly.

::

    my-model-checkpoint/
      epoch_0007.keras   the model after epoch 7: architecture, weights and optimizer state
      state.json         the epoch count, the settings, the history and samples so far, the state of
                         the callbacks and of dropout's random numbers

Both are written with :func:`~textgen_helpers.files.atomic_file`, the model first, ``state.json``
second, so a process killed at any moment leaves the last finished epoch's checkpoint, or (during
the first save) a folder holding only our temporary files, which a resume treats as "no finished
epoch" and clears. ``state.json`` records every setting that shapes the weights (:data:`settings`
in :func:`~textgen_helpers.training.train`); a resume whose settings differ is refused, naming each
difference with both values, before anything is loaded or written.
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
from .files import atomic_file, is_temporary_of, write_text_atomic
from .runtime import import_keras
from .vocabulary import Vocabulary

keras = import_keras()

STATE_FILE = "state.json"
CHECKPOINT_FORMAT = 3  # 3: the run's settings, so that a resume can refuse what it cannot honour
_MODEL_FILE = re.compile(r"epoch_\d{4,}\.keras")
_OLD_TEMPORARY = re.compile(r"\.(epoch_\d{4,}\.keras\.part\.keras|state\.json\.part)")  # textgen 0.1.0's names


class ResumeMismatch(ValueError):
    """A resume asked for settings other than the checkpoint's; ``differences`` lists ``(name, saved, now)``."""

    def __init__(self, path: Path, differences: list[tuple[str, object, object]]):
        self.path, self.differences = path, differences
        said = "; ".join(f"{name}: {_show(saved)} in the checkpoint, {_show(now)} now" for name, saved, now in differences)
        super().__init__(f"cannot resume {path} exactly: {said}. Resume with the checkpoint's settings (only the "
                         f"epoch count and the time budget may change), or start afresh in another checkpoint "
                         f"folder; nothing was changed")


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

    def check_target(self, *, resume: bool) -> None:
        """Raise ValueError unless training may write here: a new or empty folder, a folder that an
        interrupted first save left (only our temporary files), or, with ``resume``, a checkpoint.
        A checkpoint is never overwritten by a run that was not asked to resume it, and a folder
        holding anything else is never touched.
        """
        if not self.path.exists():
            return
        if not self.path.is_dir():
            raise ValueError(f"checkpoint folder {self.path} is a file; choose a folder name for the checkpoints")
        entries = sorted(p.name for p in self.path.iterdir())
        others = [name for name in entries if not is_checkpoint_file(name)]
        if others:
            raise ValueError(f"refusing to write checkpoints to {self.path}: the folder holds files that are not a "
                             f"textgen checkpoint ({listed(others)}). Choose a new or empty folder; nothing was changed")
        if self.exists() and not resume:
            raise ValueError(f"{self.path} already holds a checkpoint (after epoch {self.load_state().get('epoch')}); "
                             f"pass resume=True (--resume on the command line) to continue it, or delete the folder "
                             f"to start afresh")

    def clear(self) -> None:
        """Delete the checkpoint and whatever an interrupted save left (``state.json`` first, so a
        half-cleared folder never looks like a checkpoint), then the folder if nothing else is in
        it. Refuses a folder holding anything else."""
        if not self.path.exists():
            return
        self.check_target(resume=True)
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
        try:
            return json.loads((self.path / STATE_FILE).read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"checkpoint {self.path} is unreadable ({err}); delete the folder to start afresh") from None

    def restore(self, model: keras.Model, vocab: Vocabulary, settings: dict) -> Restored:
        """Check that ``vocab`` and ``settings`` are the checkpoint's, then load its weights,
        optimizer state and dropout's random state into ``model`` (which must be freshly built).

        Raises :class:`ResumeMismatch` naming every setting that differs, before loading anything.
        """
        state = self.load_state()
        if tuple(state["vocab"]) != vocab.chars:
            raise ValueError(f"checkpoint {self.path} was trained with a different vocabulary ({len(state['vocab'])} "
                             f"characters, this one has {len(vocab)}); use the same corpus or another checkpoint folder")
        differences = compare_settings(saved_settings(state), settings)
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


def is_checkpoint_file(name: str) -> bool:
    """True for the names a checkpoint folder may hold: ours, finished or being written."""
    if name == STATE_FILE or _MODEL_FILE.fullmatch(name) or _OLD_TEMPORARY.fullmatch(name):
        return True
    target = name[1:].split(".textgen-", 1)[0]
    return (target == STATE_FILE or bool(_MODEL_FILE.fullmatch(target))) and is_temporary_of(name, target)


def saved_settings(state: dict) -> dict:
    """The settings a checkpoint was trained with (textgen 0.1.0's format 2 kept only some of them)."""
    if "settings" in state:
        return state["settings"]
    return {**state.get("config", {}), **{key: state[key] for key in ("framing", "lstm_layer_sizes") if key in state}}


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
        elif _plain(a) != _plain(b):
            differences.append((key, a, b))
    return differences


def seed_states(model: keras.Model) -> list:
    """The random-number states of the model's layers (dropout's), which ``model.save`` does not keep."""
    return [v for v in model.variables if v.name == "seed_generator_state"]


def _plain(value):
    """A value as JSON would give it back (tuples as lists, NumPy numbers as Python ones)."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return "none" if value is None else repr(value) if isinstance(value, str) else str(value)
