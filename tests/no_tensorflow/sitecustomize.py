"""Make TensorFlow impossible to import in every Python process started with this folder on PYTHONPATH.

The backend suite (``make test``) runs ``KERAS_BACKEND=jax`` with ``PYTHONPATH=tests/no_tensorflow``:
Python imports this file at start-up, in the test process and in every ``textgen`` it starts, so a
stray ``import tensorflow`` fails there as it would on a machine without TensorFlow. Setting the
variable alone would prove nothing: TensorFlow is installed beside JAX here.
"""

import importlib.abc
import importlib.machinery
import sys


class _NoTensorFlow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds TensorFlow first and refuses to load it.

    The spec has no origin (no file), so a library that only looks TensorFlow up to skip its folder
    (PyTorch's ``torch._dynamo`` does, at import) carries on as where TensorFlow is absent; importing it
    raises ``ModuleNotFoundError`` as there.
    """

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            return importlib.machinery.ModuleSpec(name, self, origin=None)
        return None

    def create_module(self, spec):
        raise ModuleNotFoundError(f"No module named {spec.name!r} (tests/no_tensorflow blocks TensorFlow here)",
                                  name=spec.name)

    def exec_module(self, module):  # never reached: create_module refuses
        raise ModuleNotFoundError(module.__name__)


sys.meta_path.insert(0, _NoTensorFlow())
