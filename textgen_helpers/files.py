"""Files and folders of ours: written whole or not at all, and never over anything of the user's.

Three things write to paths a user names, and all of them go through this module:

* :func:`atomic_file` writes one file (a corpus copied from a folder mirror, a checkpoint's model and its
  ``state.json``): the data goes to a hidden temporary file beside the target, which is renamed
  over the target only once it is complete, so a process killed at any moment leaves either the
  old file or the new one, never half of one.
* :func:`replaced_folder` writes one folder (a model bundle, a TensorFlow.js export): it is built
  in a hidden staging folder beside the target and swapped in whole. On Linux the swap is one
  atomic exchange of the two names (``renameat2(RENAME_EXCHANGE)``), so at every instant the
  target is the complete old folder or the complete new one. Where that call does not exist the
  swap is two renames, and the old folder is put back if the second one fails.
* :func:`check_folder_is_free` says whether a folder may be replaced: it must be missing, empty,
  or one of ours holding only our own files. Anything else is refused with a message that names
  what is in it.

Our temporary names all start with a dot and contain ``.textgen-``; a process killed between the
steps can leave one behind, and :func:`remove_leftovers` (called by the next write to the same
target) deletes such a left-over, once it has checked that it holds nothing but our own files.
The lock file of a run's folder (:func:`lock_name`, ``.NAME.textgen-lock`` beside it) is not a
temporary name: it stays, and no clean-up touches it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from .checks import listed

_ROLES = ("part", "new", "old")  # a file being written, a folder being built, an old folder on its way out


def temporary_name(path: Path, role: str) -> Path:
    """A hidden name beside ``path`` for a file or folder being written: ``.NAME.textgen-ROLE-TOKEN.SUFFIX``.

    The suffix is kept (Keras saves only to names ending in ``.keras``).
    """
    return path.with_name(f".{path.name}.textgen-{role}-{secrets.token_hex(4)}{path.suffix}")


def lock_name(path: Path) -> Path:
    """The hidden lock file of the folder ``path``, beside it: ``.NAME.textgen-lock`` (outside the folder,
    so the atomic swap of a bundle cannot carry it away; not a temporary name: no clean-up removes it)."""
    return path.with_name(f".{path.name}.textgen-lock")


def is_temporary_of(name: str, target: str) -> bool:
    """True if ``name`` is a temporary name that :func:`temporary_name` makes for ``target``."""
    suffix = Path(target).suffix
    pattern = rf"\.{re.escape(target)}\.textgen-({'|'.join(_ROLES)})-[0-9a-f]{{8}}{re.escape(suffix)}"
    return re.fullmatch(pattern, name) is not None


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; when the block ends, it replaces ``path``.

    The file is flushed to disk before the rename. On an error (or a kill) ``path`` is as it was;
    the temporary file is removed on an error, and left for :func:`remove_leftovers` after a kill.
    """
    path = Path(path)
    tmp = temporary_name(path, "part")
    try:
        yield tmp
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` with :func:`atomic_file`."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


@contextlib.contextmanager
def replaced_folder(path: str | os.PathLike, check: Callable[[Path], None],
                    own_file: Callable[[str], bool]) -> Iterator[Path]:
    """Write a folder of ours whole, or not at all.

    Yields an empty staging folder beside ``path`` (readable by all: bundles and exports are meant
    to be shared); once the block has filled it, it takes the place of ``path``. An existing
    ``path`` is checked again with ``check`` just before the swap (nothing may have been added
    meanwhile), and the old folder is removed only after the swap. On an error the staging folder
    goes and ``path`` is as it was. Left-overs of an earlier write that was killed are removed
    first (see :func:`remove_leftovers`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path, own_file)
    staging = temporary_name(path, "new")
    staging.mkdir()
    staging.chmod(0o755)
    try:
        yield staging
        if path.exists():
            check(path)
            _swap(staging, path)  # staging now holds the old folder
        else:
            os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_leftovers(path: str | os.PathLike, own_file: Callable[[str], bool]) -> list[Path]:
    """Delete what a killed write to ``path`` left beside it: our temporary files, and our staging
    folders if they hold only files that ``own_file`` names. Returns what was deleted.

    Anything else with a name like ours (a folder holding other files) is left alone.
    """
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for entry in path.parent.iterdir():
        if not is_temporary_of(entry.name, path.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            if all(own_file(child.name) and child.is_file() for child in entry.iterdir()):
                shutil.rmtree(entry)
                removed.append(entry)
        else:
            entry.unlink()
            removed.append(entry)
    return removed


def check_folder_is_free(path: Path, *, kind: str, action: str, verb: str, own_file: Callable[[str], bool],
                         is_ours: bool, example: str, error: type[Exception]) -> None:
    """Raise ``error`` unless ``path`` may be replaced by a folder of ours: it is missing, an empty
    folder, or ``kind`` written by us (``is_ours``) holding only files that ``own_file`` names.

    The message says what the folder holds that is not ours, and that nothing was changed.
    """
    if not path.exists():
        above = next((parent for parent in path.parents if parent.exists()), None)
        if above is not None and not above.is_dir():
            raise error(f"cannot {action} {path}: {above} is a file, not a folder; choose a folder that is not "
                        f"under a file; nothing was changed")
        return
    if not path.is_dir():
        raise error(f"cannot {action} {path}: it is a file, not a folder. Choose a new folder name, such as "
                    f"{path.with_suffix('')}-{example}; nothing was changed")
    entries = sorted(p.name for p in path.iterdir())
    others = [name for name in entries if not own_file(name)]
    if not entries or (is_ours and not others):
        return
    named = others if is_ours else entries  # beside a folder of ours, name only what is not ours
    what = (f"{kind} with other files beside it ({listed(named)})" if is_ours
            else f"not {kind} written by textgen (it holds {listed(named)})")
    them = "it" if len(named) == 1 else "them"
    raise error(f"refusing to {action} {path}: the folder is {what}, and {verb} would delete {them}. "
                f"Choose a new or empty folder, such as {path / example}; nothing was changed")


# --- helpers -------------------------------------------------------------------------------------

def _swap(new: Path, old: Path) -> None:
    """Exchange the folders ``new`` and ``old``: afterwards ``old``'s name holds the new folder."""
    if _exchange(new, old):
        return
    # No atomic exchange here: two renames, and the old folder put back if the second fails.
    aside = temporary_name(old, "old")
    os.replace(old, aside)
    try:
        os.replace(new, old)
    except BaseException:
        os.replace(aside, old)
        raise
    os.replace(aside, new)  # so the caller removes the old folder as it removes the staging one


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two names in one step with Linux's ``renameat2``; False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):  # a C library without it (glibc before 2.28, musl)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):  # a file system that cannot
        return False
    raise OSError(code, os.strerror(code), str(b))


def json_records(frame) -> list[dict]:
    """A DataFrame's rows as plain Python values (NaN as None, floats to 15 digits), ready for JSON."""
    return json.loads(frame.to_json(orient="records", double_precision=15))


def json_value(value):
    """``value`` as JSON gives it back: tuples as lists, NumPy numbers as Python ones (inf stays inf),
    anything else JSON cannot hold as its ``str``."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
