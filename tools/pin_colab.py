"""Point Colab at one ref of the repository: ``python tools/pin_colab.py [REF]`` (``make pin-colab``).

Every notebook's set-up cell installs the helper package on Colab from git, from the one line

    TEXTGEN = "git+https://github.com/textgen-workshop/textgen@REF"

and every notebook's badge opens it in Colab from GitHub at the same REF, so that a notebook opened
from its badge runs against the package it was written with. REF is ``main`` until a release is
tagged; a release pins it (``make pin-colab`` pins ``v<version>``, the version read from
pyproject.toml). A release: bump the version there, run this, commit, tag that commit
``v<version>`` and push the tag; run ``python tools/pin_colab.py main`` after it to follow main again.
tests/test_notebook_text.py fails if a notebook's badge and install line name different refs.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = "git+https://github.com/textgen-workshop/textgen"
LINE = re.compile(r'(TEXTGEN = ")' + re.escape(REPOSITORY) + r'@([A-Za-z0-9._/-]+)(")')
BADGE = re.compile(r"(colab\.research\.google\.com/github/textgen-workshop/textgen/blob/)([A-Za-z0-9._-]+)/")
README_LINE = re.compile(re.escape(REPOSITORY) + r"@([A-Za-z0-9._/-]+)")
FILES = ("notebooks/*.ipynb", "apps/*.ipynb", "README.md")


def version() -> str:
    match = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    if match is None:
        raise SystemExit("pyproject.toml has no version = \"...\" line")
    return match.group(1)


def files() -> list[Path]:
    return sorted(path for pattern in FILES for path in ROOT.glob(pattern))


def main(argv: list[str]) -> int:
    ref = argv[0] if argv else f"v{version()}"
    if not re.fullmatch(r"[A-Za-z0-9._/-]+", ref):
        raise SystemExit(f"pin_colab: {ref!r} is not a git ref; "
                         f"give a tag such as v{version()} or a branch such as main")
    changed = []
    for path in files():
        text = path.read_text(encoding="utf-8")
        pinned = BADGE.sub(rf"\g<1>{ref}/", LINE.sub(rf"\g<1>{REPOSITORY}@{ref}\g<3>", text))
        if path.suffix == ".md":
            pinned = README_LINE.sub(f"{REPOSITORY}@{ref}", pinned)
        if pinned != text:
            path.write_text(pinned, encoding="utf-8")
            changed.append(path.relative_to(ROOT))
    print(f"Colab installs and opens {REPOSITORY}@{ref}; " +
          (f"updated {', '.join(map(str, changed))}" if changed else "every file already says so"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
