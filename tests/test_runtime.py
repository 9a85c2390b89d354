"""The runtime: TensorFlow's start-up lines are held back, but never where they explain an unused GPU."""

import importlib.util
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


# A backend made impossible to import, as where it is not installed: sys.modules[name] = None makes `import name`
# raise ModuleNotFoundError(name=name), in the process and in every one it starts with this folder on PYTHONPATH.
BLOCK = "import sys\nfor name in {names!r}:\n    sys.modules[name] = None\n"


def _textgen_on(tmp_path, backend: str, blocked: tuple[str, ...]) -> subprocess.CompletedProcess:
    (tmp_path / "sitecustomize.py").write_text(BLOCK.format(names=blocked))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "KERAS_BACKEND": backend}
    textgen = str(Path(sys.executable).with_name("textgen"))
    return subprocess.run([textgen, "generate", str(ROOT / "data" / "bundles" / "shakespeare-128x2"), "--length", "5"],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("backend, name", [("tensorflow", "TensorFlow"), ("jax", "JAX"), ("torch", "PyTorch")])
def test_a_missing_backend_is_one_line_naming_the_extra_that_installs_it(tmp_path, backend, name):
    done = _textgen_on(tmp_path, backend, blocked=(backend,))
    assert done.returncode == 1 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"textgen generate: error: {name} is not installed: "
                           f"pip install 'textgen-helpers[{backend}]' (or "), line
    # the backend it suggests instead is one installed here, where there is one
    installed = [other for other in ("tensorflow", "jax", "torch")
                 if other != backend and importlib.util.find_spec(other) is not None]
    if installed:
        assert f"use one installed here: KERAS_BACKEND={installed[0]}; textgen --backend {installed[0]}" in line


def test_with_no_backend_installed_the_error_names_the_others_to_choose(tmp_path):
    done = _textgen_on(tmp_path, "torch", blocked=("tensorflow", "jax", "torch"))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "textgen generate: error: PyTorch is not installed: pip install 'textgen-helpers[torch]' (or choose another "
        "backend: KERAS_BACKEND=tensorflow or jax; textgen --backend tensorflow on the command line)")


def test_a_backend_that_is_installed_but_broken_says_what_its_import_said(tmp_path):
    (tmp_path / "jax").mkdir()  # a stand-in jax whose import fails as a broken install's would
    (tmp_path / "jax" / "__init__.py").write_text('raise ImportError("libjax.so: cannot open shared object file")\n')
    done = _textgen_on(tmp_path, "jax", blocked=())
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("textgen generate: error: JAX is installed but cannot be imported: libjax.so: cannot open "
                           "shared object file (or "), line
