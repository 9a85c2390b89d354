"""The runtime: choosing the Keras backend, importing it quietly, seeding, fast mode, the device.

Keras 3 runs on TensorFlow (the default), JAX or PyTorch, chosen the Keras way: the
``KERAS_BACKEND`` environment variable (or ``~/.keras/keras.json``), read once, when Keras is first
imported. :func:`choose_backend` sets it from Python (``textgen --backend jax`` calls it before
anything imports Keras), and every module of the package imports Keras through
:func:`import_keras`, so TensorFlow is imported only on the TensorFlow backend.

On that backend TensorFlow prints C++ log lines while it loads (on a machine without CUDA drivers,
"Could not find cuda drivers" lines that a reader would wonder about). :func:`import_keras` sets
``TF_ENABLE_ONEDNN_OPTS=0`` and ``TF_CPP_MIN_LOG_LEVEL`` unless they are already set, and holds back
what the C++ side prints while the libraries load. What is held back is not thrown away: on a
machine with an NVIDIA GPU (``nvidia-smi`` or ``/dev/nvidia0``, as on a Colab GPU runtime) that
TensorFlow then cannot use, it is shown as a warning, since it says why (a missing or mismatched
CUDA or cuDNN library). There the log level is 2, so TensorFlow's own errors keep showing; on a
machine without one it is 3 (fatal errors only). Python warnings and errors always show.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

FAST_ENV = "TEXTGEN_FAST"
BACKENDS = ("tensorflow", "jax", "torch")  # each also the name of its module and of the package's extra for it
BACKEND_NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
DISTRIBUTION = "textgen-helpers"  # the name pip installs the package by


def choose_backend(name: str | None) -> str:
    """Use Keras backend ``name`` (``"tensorflow"``, ``"jax"`` or ``"torch"``; None: the one Keras
    would choose). Must run before Keras is imported; returns the backend's name.

    Raises ValueError for an unknown name, or once Keras runs on another backend in this process.
    """
    if name is not None and name not in BACKENDS:
        raise ValueError(f"unknown Keras backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if "keras" in sys.modules:
        running = sys.modules["keras"].backend.backend()
        if name is not None and running != name:
            raise ValueError(f"Keras already runs on {running} in this process; choose the backend before Keras is "
                             f"imported: set KERAS_BACKEND={name} (in a notebook, in its first cell, then restart "
                             f"the kernel)")
        return running
    if name is not None:
        os.environ["KERAS_BACKEND"] = name
    return configured_backend()


def configured_backend() -> str:
    """The backend Keras will use: ``KERAS_BACKEND``, else ``~/.keras/keras.json``, else TensorFlow."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    name = os.environ.get("KERAS_BACKEND")
    if not name:
        config = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "keras.json"
        try:
            name = json.loads(config.read_text()).get("backend")
        except (OSError, ValueError, AttributeError):
            name = None
    return name or "tensorflow"


def import_keras():
    """Import Keras on the chosen backend (TensorFlow's start-up lines held back); returns ``keras``.

    A backend that is not installed is one clear ImportError naming the package's extra that installs it
    (``pip install 'textgen-helpers[jax]'``) and another backend to choose (one installed here, if any is).
    """
    if "keras" in sys.modules:
        return sys.modules["keras"]
    backend = configured_backend()
    if backend not in BACKENDS:
        raise ImportError(f"KERAS_BACKEND={backend!r} is not a backend this package runs on; set it to one of "
                          f"{', '.join(BACKENDS)}")
    try:
        if backend == "tensorflow":
            _import_tensorflow_quietly()
        else:
            importlib.import_module(backend)
    except ImportError as err:
        raise ImportError(_missing_backend_message(backend, err)) from None
    import keras

    return keras


def _missing_backend_message(backend: str, err: ImportError) -> str:
    """One line: which backend failed, the extra that installs it, and the backends to choose instead."""
    name = BACKEND_NAMES[backend]
    missing = isinstance(err, ModuleNotFoundError) and (err.name or "").split(".")[0] == backend
    others = [other for other in BACKENDS if other != backend]
    installed = [other for other in others if _installed(other)]
    instead = (f"use one installed here: KERAS_BACKEND={installed[0]}" if installed else
               f"choose another backend: KERAS_BACKEND={others[0]} or {others[1]}")
    choice = f"(or {instead}; textgen --backend {(installed or others)[0]} on the command line)"
    if missing:
        return f"{name} is not installed: pip install '{DISTRIBUTION}[{backend}]' {choice}"
    said = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return f"{name} is installed but cannot be imported: {said} {choice}"


def _installed(backend: str) -> bool:
    """True where ``backend``'s module is on the path (found, not imported; a finder that blocks it has no file)."""
    try:
        spec = importlib.util.find_spec(backend)
    except (ImportError, ValueError):
        return False
    return spec is not None and (spec.origin is not None or bool(spec.submodule_search_locations))


def import_tensorflow():
    """TensorFlow itself, for what only it does (``tf.distribute``); returns ``(tf, keras)``.

    On another backend this is a ValueError saying so: the rest of the package never needs it.
    """
    keras = import_keras()
    if keras.backend.backend() != "tensorflow":
        raise ValueError(f"this needs TensorFlow's backend, and Keras runs on {keras.backend.backend()}; set "
                         f"KERAS_BACKEND=tensorflow (textgen --backend tensorflow)")
    import tensorflow as tf

    return tf, keras


def _import_tensorflow_quietly() -> None:
    gpu_present = nvidia_gpu_present()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if gpu_present else "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if sys.modules.get("tensorflow") is not None:  # imported already (None there: blocked, as not installed)
        return
    with _native_stderr_captured() as captured:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")  # loads the device plugins now, while captured
        import keras  # noqa: F401
    if gpu_present and not gpus:
        said = "".join(captured).strip() or "(nothing)"
        warnings.warn(
            "this machine has an NVIDIA GPU, but TensorFlow cannot use it and will run on the CPU. "
            "Check that the installed TensorFlow is a GPU build (pip install 'tensorflow[and-cuda]') and that its "
            f"CUDA and cuDNN libraries load. TensorFlow said while loading:\n{said}",
            RuntimeWarning, stacklevel=3)
    logger = tf.get_logger()
    if logger.getEffectiveLevel() < logging.WARNING:  # INFO lines ("Using MirroredStrategy with ...") are noise
        logger.setLevel(logging.WARNING)


def nvidia_gpu_present() -> bool:
    """True where an NVIDIA GPU and its driver are installed (``nvidia-smi`` on the PATH, or ``/dev/nvidia0``)."""
    return shutil.which("nvidia-smi") is not None or os.path.exists("/dev/nvidia0")


def setup(seed: int = 0) -> bool:
    """The notebooks' first cell: quiet TensorFlow, seed everything, say what we run on.

    Returns True in fast mode (``TEXTGEN_FAST=1``), where notebooks shrink their runs.
    """
    import_keras()
    set_seed(seed)
    report = device_report()
    fast = fast_mode()
    print(f"Keras {report['keras']} on {report['backend_version']}, {report['device']}"
          f"{'; fast mode (TEXTGEN_FAST=1): small runs' if fast else ''}")
    return fast


def set_seed(seed: int = 0) -> None:
    """Seed Python, NumPy and the backend (``keras.utils.set_random_seed``) for repeatable runs.

    Any seed in [0, 2**64) works: it is folded to the 32 bits Keras takes (seeds below 2**32 as they are).
    """
    from .checks import check_seed, seed_key

    keras = import_keras()
    seed = check_seed(seed)
    seed = seed if seed < 2**32 else seed_key(seed)
    if keras.backend.backend() == "tensorflow" or sys.modules.get("tensorflow") is not None:
        keras.utils.set_random_seed(seed)
        return
    # keras.utils.set_random_seed without its last step, which imports TensorFlow (if installed) to seed it.
    import random

    import numpy as np
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    from keras.src.utils.rng_utils import GLOBAL_RANDOM_SEED

    global_state.set_global_attribute(GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)
    if keras.backend.backend() == "torch":
        import torch

        torch.manual_seed(seed)


def fast_mode() -> bool:
    """True when ``TEXTGEN_FAST`` is set to 1/true/yes: notebooks shrink their runs (used in CI)."""
    return os.environ.get(FAST_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def device_report() -> dict:
    """What Keras will run on: ``{"backend": "jax", "device": "GPU: ..." or "CPU (2 cores, AMD EPYC)",
    "gpus": [...], ...}``."""
    keras = import_keras()
    backend = keras.backend.backend()
    names, version = [], ""
    if backend == "tensorflow":
        import tensorflow as tf

        version = f"TensorFlow {tf.__version__}"
        for gpu in tf.config.list_physical_devices("GPU"):
            names.append(tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name))
    elif backend == "jax":
        import jax

        version = f"JAX {jax.__version__}"
        names = [getattr(d, "device_kind", str(d)) for d in jax.devices() if d.platform == "gpu"]
    elif backend == "torch":
        import torch

        version = f"PyTorch {torch.__version__}"
        names = [torch.cuda.get_device_name(k) for k in range(torch.cuda.device_count())]
    unused = (f"; an NVIDIA GPU is present, but {version.split()[0]} cannot use it" + (": see the warning" if backend ==
              "tensorflow" else "") if nvidia_gpu_present() and not names else "")
    return {
        "device": f"GPU: {', '.join(names)}" if names else f"CPU ({os.cpu_count()} cores, {cpu_model()}{unused})",
        "gpus": names,
        "backend": backend,
        "backend_version": version,
        "keras": keras.__version__,
    }


def cpu_model() -> str:
    """The processor's model name (``AMD EPYC``), for naming the machine beside a measurement.

    Read from Linux's ``/proc/cpuinfo``; elsewhere ``platform.processor()``, else ``"unknown CPU"``.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        import platform

        return platform.processor() or "unknown CPU"


def backend_versions() -> dict:
    """``{"backend": "jax", "jax": "0.7.2"}``: the backend Keras runs on and its version, for the record."""
    backend = import_keras().backend.backend()
    return {"backend": backend, backend: sys.modules[backend].__version__}


def total_memory_bytes() -> int | None:
    """This machine's physical memory in bytes, on Linux, macOS and Windows; None if it cannot tell."""
    if hasattr(os, "sysconf"):
        try:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            pass
    if sys.platform == "win32":
        import ctypes

        class MemoryStatus(ctypes.Structure):
            _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong)] + [
                (name, ctypes.c_ulonglong) for name in ("total", "available", "total_page", "available_page",
                                                        "total_virtual", "available_virtual", "available_extended")]

        status = MemoryStatus()
        status.length = ctypes.sizeof(MemoryStatus)
        if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
            return int(status.total)
    return None


@contextlib.contextmanager
def _native_stderr_captured():
    """Point file descriptor 2 at a temporary file for the duration (C++ logging writes there directly).

    Yields a list that holds, once the block has ended, the text written there.
    """
    text: list[str] = []
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as captured:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):  # no real stderr (some embedded interpreters)
            yield text
            return
        try:
            os.dup2(captured.fileno(), 2)
            yield text
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text.append(captured.read())
