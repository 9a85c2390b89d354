"""Run `textgen` in this process and SIGKILL it at one exact moment of a save (for tests/test_crash.py).

    python killed_run.py MOMENT NAME COUNT -- textgen arguments...

MOMENT is one of
  partial  the file about to be renamed to NAME is cut to half its size, then the process is killed
           (a kill in the middle of writing it);
  before   killed just before the rename to NAME (the temporary copy is complete);
  after    killed just after the rename to NAME, or after the swap of the folder NAME.
COUNT says which such moment (1 = the first). The renames are the ones the package's files module
makes (os.replace, and the atomic exchange of two folders), so the kill lands inside the package's
real save, in a real training process.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path


def main() -> None:
    moment, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    args = sys.argv[sys.argv.index("--") + 1:]
    from textgen_helpers import files

    seen = 0

    def due(target) -> bool:
        nonlocal seen
        if Path(target).name != name:
            return False
        seen += 1
        return seen == count

    def kill():
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    real_replace, real_swap = os.replace, files._swap

    def replace(src, dst, *a, **k):
        if moment in ("partial", "before") and due(dst):
            if moment == "partial" and Path(src).is_file():
                os.truncate(src, Path(src).stat().st_size // 2)
            kill()
        real_replace(src, dst, *a, **k)
        if moment == "after" and due(dst):
            kill()

    def swap(new, old):
        if moment == "before" and due(old):
            kill()
        real_swap(new, old)
        if moment == "after" and due(old):
            kill()

    os.replace = replace
    files._swap = swap
    from textgen_helpers.cli import main as textgen

    sys.exit(textgen(args))


if __name__ == "__main__":
    main()
