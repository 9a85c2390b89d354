"""Run folders: the rules for the folders a training run writes, and one run at a time in each.

A run writes checkpoints to one folder after every finished epoch and, at its end, a model bundle
to another. :func:`claim_run_folders` is the one place that decides whether it may:

* the bundle folder and the checkpoint folder are two separate folders, neither inside the other
  (saving a bundle replaces its folder whole);
* the bundle folder is free: missing, empty, or a bundle of ours
  (:func:`~textgen_helpers.bundle.check_bundle_target`);
* the checkpoint folder is missing, empty, or ours; one that holds a run is refused unless this run
  resumes it (``resume``) or deletes it to start afresh (``restart``, which
  :func:`~textgen_helpers.training.train` does only once every other check has passed);
* each folder is locked, from before anything is cleared until the run ends: a second run on a
  folder in use is refused at once, in one line naming it.

The lock is ``filelock``'s, the operating system's own (``flock`` on Unix, ``LockFileEx`` on
Windows), on a hidden ``.NAME.textgen-lock`` file beside the folder (:func:`~textgen_helpers.files.lock_name`),
where the atomic swap of a bundle cannot carry it away. The system drops it when its process ends,
so a killed run never blocks the next one; the empty file stays. Under multi-worker training only
the chief, the one worker that writes, holds it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import filelock

from .bundle import check_bundle_target
from .checkpoints import Checkpoint
from .distribute import is_chief
from .files import lock_name


class FolderInUse(ValueError):
    """Another run holds the lock of a folder this run would write."""


def check_separate_folders(bundle_path: str | os.PathLike | None, checkpoint_dir: str | os.PathLike | None) -> None:
    """Raise ValueError if the bundle folder and the checkpoint folder are one, or one is inside the other."""
    if bundle_path is None or checkpoint_dir is None:
        return
    a, b = Path(bundle_path).resolve(), Path(checkpoint_dir).resolve()
    if a == b or a in b.parents or b in a.parents:
        raise ValueError(f"the bundle folder {bundle_path} (--save-path) and the checkpoint folder "
                         f"{checkpoint_dir} (--checkpoint-dir) must be two separate folders, neither inside the "
                         f"other (saving the bundle replaces its folder whole); leave --checkpoint-dir out to use "
                         f"{Path(bundle_path).name}-checkpoint beside the bundle")


def check_run_folders(checkpoint_dir: str | os.PathLike | None, bundle_path: str | os.PathLike | None = None, *,
                      resume: bool = False, restart: bool = False) -> None:
    """Raise ValueError unless a run may write these folders (the rules above, without the lock):
    a bad folder fails before any work, not after the run."""
    if resume and restart:
        raise ValueError("resume and restart exclude each other: resume continues the checkpoint, restart "
                         "deletes it; choose one")
    check_separate_folders(bundle_path, checkpoint_dir)
    if bundle_path is not None:
        check_bundle_target(bundle_path)
    if checkpoint_dir is not None:
        Checkpoint(checkpoint_dir).check_target(resume=resume, restart=restart)


@contextlib.contextmanager
def claim_run_folders(checkpoint_dir: str | os.PathLike | None, bundle_path: str | os.PathLike | None = None, *,
                      resume: bool = False, restart: bool = False, strategy=None) -> Iterator[Checkpoint | None]:
    """Check the run's folders, lock them for as long as the block runs, and check them again under
    the lock (another run may have written meanwhile); yields the :class:`Checkpoint` (None without
    ``checkpoint_dir``).

    Raises :class:`FolderInUse` at once, naming the folder, if another run holds either; a refused
    folder raises ValueError before anything is locked. The same process may claim a folder again
    inside the block (``textgen train`` claims both folders, then ``train`` its checkpoint folder).
    """
    check_run_folders(checkpoint_dir, bundle_path, resume=resume, restart=restart)
    paths = [Path(p) for p in (checkpoint_dir, bundle_path) if p is not None]
    with contextlib.ExitStack() as held:
        if is_chief(strategy):  # the other workers of a cluster write nothing
            for path in paths:
                held.enter_context(_lock(path))
        check_run_folders(checkpoint_dir, bundle_path, resume=resume, restart=restart)
        yield Checkpoint(checkpoint_dir) if checkpoint_dir is not None else None


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Hold the lock of the folder ``path`` (refused at once if another process holds it)."""
    lock_file = lock_name(path.resolve())  # one lock whatever the spelling of the path
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    # One lock object a path in this process (a Unix lock belongs to an open file): a nested claim re-enters it.
    lock = filelock.FileLock(lock_file, timeout=0, is_singleton=True)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise FolderInUse(f"{path} is in use by another textgen run (it holds {lock_file.name} beside the folder); "
                          f"wait for that run to end or choose another folder; nothing was changed") from None
    try:
        yield
    finally:
        lock.release()
