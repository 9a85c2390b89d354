"""The runtime: importing TensorFlow quietly, seeding, fast mode, and what device we run on.

TensorFlow prints C++ log lines while it loads (on a machine without CUDA drivers, two
"Could not find cuda drivers" lines that a reader would wonder about). The package's modules
import Keras through :func:`import_tensorflow`, which sets ``TF_ENABLE_ONEDNN_OPTS=0`` and
``TF_CPP_MIN_LOG_LEVEL`` unless they are already set, and holds back what the C++ side prints
while the libraries load. What is held back is not thrown away: on a machine with an NVIDIA GPU
(``nvidia-smi`` or ``/dev/nvidia0``, as on a Colab GPU runtime) that TensorFlow then cannot use,
it is shown as a warning, since it says why (a missing or mismatched CUDA or cuDNN library).
There the log level is 2, so TensorFlow's own errors keep showing; on a machine without one it
is 3 (fatal errors only). Python warnings and errors always show.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import warnings

FAST_ENV = "TEXTGEN_FAST"


def import_tensorflow():
    """Import TensorFlow and Keras with their start-up log lines held back; returns ``(tf, keras)``."""
    gpu_present = nvidia_gpu_present()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if gpu_present else "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if "tensorflow" not in sys.modules:
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
                RuntimeWarning, stacklevel=2)
    import keras
    import tensorflow as tf

    logger = tf.get_logger()
    if logger.getEffectiveLevel() < logging.WARNING:  # INFO lines ("Using MirroredStrategy with ...") are noise
        logger.setLevel(logging.WARNING)
    return tf, keras


def nvidia_gpu_present() -> bool:
    """True where an NVIDIA GPU and its driver are installed (``nvidia-smi`` on the PATH, or ``/dev/nvidia0``)."""
    return shutil.which("nvidia-smi") is not None or os.path.exists("/dev/nvidia0")


def setup(seed: int = 0) -> bool:
    """The notebooks' first cell: quiet TensorFlow, seed everything, say what we run on.

    Returns True in fast mode (``TEXTGEN_FAST=1``), where notebooks shrink their runs.
    """
    tf, keras = import_tensorflow()
    set_seed(seed)
    report = device_report()
    fast = fast_mode()
    print(f"TensorFlow {report['tensorflow']}, Keras {report['keras']} on {report['device']}"
          f"{'; fast mode (TEXTGEN_FAST=1): small runs' if fast else ''}")
    return fast


def set_seed(seed: int = 0) -> None:
    """Seed Python, NumPy and TensorFlow (``keras.utils.set_random_seed``) for repeatable runs.

    Any seed in [0, 2**64) works: it is folded to the 32 bits Keras takes (seeds below 2**32 as they are).
    """
    from .checks import check_seed, seed_key

    _, keras = import_tensorflow()
    seed = check_seed(seed)
    keras.utils.set_random_seed(seed if seed < 2**32 else seed_key(seed))


def fast_mode() -> bool:
    """True when ``TEXTGEN_FAST`` is set to 1/true/yes: notebooks shrink their runs (used in CI)."""
    return os.environ.get(FAST_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def device_report() -> dict:
    """What TensorFlow will run on: ``{"gpus": [...], "device": "GPU: ..." or "CPU", ...}``."""
    tf, keras = import_tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    names = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        names.append(details.get("device_name", gpu.name))
    unused = "; an NVIDIA GPU is present, but TensorFlow cannot use it: see the warning" if nvidia_gpu_present() else ""
    return {
        "device": f"GPU: {', '.join(names)}" if gpus else f"CPU ({os.cpu_count()} cores{unused})",
        "gpus": names,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
    }


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
