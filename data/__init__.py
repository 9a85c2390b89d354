"""Package data for textgen_helpers: the corpus registry and the shipped model bundle.

Installed as ``textgen_helpers.data``; the downloaded corpus cache (``data/cache/``) is not part
of the package and is git-ignored.
"""
