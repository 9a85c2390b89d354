"""The runtime: TensorFlow's start-up lines are held back, but never where they explain an unused GPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from textgen_helpers.runtime import cpu_model, nvidia_gpu_present

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import json, os, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from textgen_helpers.runtime import device_report, import_tensorflow
    import_tensorflow()
print(json.dumps({"level": os.environ["TF_CPP_MIN_LOG_LEVEL"], "device": device_report()["device"],
                  "warnings": [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]}))
"""


def _probe(tmp_path, *, fake_gpu: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}
    env["PYTHONPATH"] = str(ROOT)
    if fake_gpu:  # an nvidia-smi on the PATH, as on a GPU runtime whose TensorFlow cannot use the GPU
        (tmp_path / "nvidia-smi").write_text("#!/bin/sh\necho 'NVIDIA-SMI (test stand-in)'\n")
        (tmp_path / "nvidia-smi").chmod(0o755)
        env["PATH"] = f"{tmp_path}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_an_unused_gpu_is_explained_with_what_tensorflow_said_while_loading(tmp_path):
    if nvidia_gpu_present():
        pytest.skip("this machine has an NVIDIA GPU; the test stands one in on machines without")
    seen = _probe(tmp_path, fake_gpu=True)
    assert seen["level"] == "2"  # TensorFlow's own errors keep showing where a GPU should be used
    (warning,) = seen["warnings"]
    assert "NVIDIA GPU, but TensorFlow cannot use it" in warning and "TensorFlow said while loading:" in warning
    assert "see the warning" in seen["device"]


def test_without_a_gpu_the_start_up_lines_stay_quiet(tmp_path):
    if nvidia_gpu_present():
        pytest.skip("this machine has an NVIDIA GPU")
    seen = _probe(tmp_path, fake_gpu=False)
    assert seen == {"level": "3", "device": f"CPU ({os.cpu_count()} cores, {cpu_model()})", "warnings": []}


def test_the_gpu_check_refuses_a_machine_without_a_gpu_and_says_what_to_do():
    if nvidia_gpu_present():
        pytest.skip("this machine has an NVIDIA GPU")
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu.py")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "no GPU" in done.stderr and "--cpu-smoke" in done.stderr


def test_the_gpu_check_runs_whole_on_a_cpu_without_tensorflow(tmp_path, mirror):
    pytest.importorskip("jax")
    results = (ROOT / "bench" / "results.json").read_bytes()
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": "tests/no_tensorflow",
           "TEXTGEN_DATA_DIR": str(tmp_path / "cache"), "TEXTGEN_CORPUS_MIRROR": str(mirror), "TMPDIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "bench/gpu.py", "--cpu-smoke"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "backend modules loaded: jax"  # printed last: TensorFlow was never imported
    (wrote,) = [line for line in lines if line.startswith("wrote ")]
    written = [Path(word) for word in wrote.split() if word.endswith((".json", ".md"))]
    assert len(written) == 2 and all(path.is_file() and tmp_path in path.parents for path in written)
    assert (ROOT / "bench" / "results.json").read_bytes() == results  # a smoke run writes only into a temporary folder
