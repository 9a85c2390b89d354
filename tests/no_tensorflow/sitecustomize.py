"""Make TensorFlow impossible to import in every Python process started with this folder on PYTHONPATH.

The backend suite (``make test``) runs ``KERAS_BACKEND=jax`` with ``PYTHONPATH=tests/no_tensorflow``:
Python imports this file at start-up, in the test process and in every ``textgen`` it starts, so a
stray ``import tensorflow`` fails there as it would on a machine without TensorFlow. Setting the
variable alone would prove nothing: TensorFlow is installed beside JAX here.
"""

import importlib.abc
import sys


class _NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ModuleNotFoundError(f"No module named {name!r} (tests/no_tensorflow blocks TensorFlow here)",
                                      name=name)
        return None


sys.meta_path.insert(0, _NoTensorFlow())
