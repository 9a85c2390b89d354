"""Pin Colab to this release: ``python tools/pin_colab.py`` (``make pin-colab``).

Every notebook's set-up cell (and the README) installs the helper package on Colab from git, and
every notebook's badge opens it in Colab from GitHub. Both name the release tag ``v<version>``,
with the version read from pyproject.toml, the one place a release changes, so that a notebook
opened from its badge runs against the package it was written for. A release: bump the version
there, run this, commit, then tag that commit ``v<version>`` and push the tag.
tests/test_packaging.py fails if a line drifts.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = "git+https://github.com/textgen-workshop/textgen"
LINE = re.compile(re.escape(f"textgen-helpers @ {REPOSITORY}") + r"(@[A-Za-z0-9._/-]+)?")
BADGE = re.compile(r"(colab\.research\.google\.com/github/textgen-workshop/textgen/blob/)[A-Za-z0-9._-]+/")
FILES = ("notebooks/*.ipynb", "apps/*.ipynb", "README.md")


def version() -> str:
    match = re.search(r'^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    if match is None:
        raise SystemExit("pyproject.toml has no version = \"...\" line")
    return match.group(1)


def pinned_spec() -> str:
    """``textgen-helpers @ git+https://...textgen@v0.1.0``: what every install line must say."""
    return f"textgen-helpers @ {REPOSITORY}@v{version()}"


def files() -> list[Path]:
    return sorted(path for pattern in FILES for path in ROOT.glob(pattern))


def main() -> int:
    spec, changed = pinned_spec(), []
    for path in files():
        text = path.read_text(encoding="utf-8")
        pinned = BADGE.sub(rf"\g<1>v{version()}/", LINE.sub(spec, text))
        if pinned != text:
            path.write_text(pinned, encoding="utf-8")
            changed.append(path.relative_to(ROOT))
    print(f"install line: {spec}; " + (f"updated {', '.join(map(str, changed))}" if changed else "all files already say so"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
