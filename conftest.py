"""pytest set-up shared by the package tests and the notebooks run under nbval."""

import os

# Notebooks read TEXTGEN_FAST in their set-up cell; the kernels nbval starts inherit it.
os.environ.setdefault("TEXTGEN_FAST", "1")
