"""The notebooks' Colab set-up cell, run where Colab would run it.

A fresh virtual environment stands in for a Colab runtime: Colab's Python (3.13, where this machine
has it) with Colab's preinstalled TensorFlow, Keras, JAX and ipywidgets at Colab's versions. The
package's wheel is built from this checkout, and the notebooks' first code cell runs in IPython (its
``%pip`` line is IPython's), once as on a laptop, where it must install nothing, and once with
``google.colab`` imported, where it must install the package from its ``TEXTGEN`` source (pointed at
the wheel) with a Keras new enough for every backend, and leave Colab's TensorFlow and ipywidgets as
they are. The package must then import and generate from its shipped bundle on TensorFlow and on JAX.

PyTorch (Colab: torch 2.11) is left out: PyPI's build is about 3 GB. This needs PyPI (about 900 MB
of wheels, under a minute with uv, two to four with pip); it is skipped where PyPI cannot be reached, except in CI.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COLAB = {"tensorflow": "2.20.0", "keras": "3.13.2", "jax": "0.7.2", "jaxlib": "0.7.2", "ipywidgets": "7.7.1"}
COLAB_PYTHON = "3.13"
PRE_INSTALLED = ["ipython", "matplotlib", "pandas", "tqdm"]  # on Colab too, at versions of its own


def _colab_python() -> str:
    pyenv = sorted((Path.home() / ".pyenv" / "versions").glob(f"{COLAB_PYTHON}.*/bin/python3"))
    for candidate in [*map(str, pyenv), shutil.which(f"python{COLAB_PYTHON}")]:
        if candidate and subprocess.run([candidate, "--version"], capture_output=True).returncode == 0:
            return candidate
    return sys.executable  # the nearest we have; test_the_stand_in_runs_on_colabs_python says so


def _setup_cell() -> str:
    notebook = json.loads((ROOT / "notebooks" / "01_next_char_prediction.ipynb").read_text("utf-8"))
    return "".join(next(c for c in notebook["cells"] if c["cell_type"] == "code")["source"])


RUN_CELL = textwrap.dedent("""
    import json, re, sys, types
    cell, wheel, colab = sys.argv[1], sys.argv[2], sys.argv[3] == "colab"
    if colab:
        sys.modules["google.colab"] = types.ModuleType("google.colab")  # what `"google.colab" in sys.modules` sees
    # the one place the cell names its source, pointed at this checkout's wheel
    cell, n = re.subn(r'^TEXTGEN = ".*?"', f'TEXTGEN = "file://{wheel}"', open(cell).read(), flags=re.MULTILINE)
    assert n == 1, "the set-up cell has no TEXTGEN line"
    from IPython.core.interactiveshell import InteractiveShell
    result = InteractiveShell.instance().run_cell(cell)
    error = result.error_in_exec or result.error_before_exec
    print(json.dumps({"error": type(error).__name__ if error else None, "message": str(error or "")}))
""")

AFTER = textwrap.dedent("""
    import importlib.metadata as md, json, os, platform
    import textgen_helpers as tg
    bundle = tg.shipped_bundle()
    text = bundle.generate("ROMEO:\\n", 80, temperature=0)
    # notebook 5's panel on Colab's ipywidgets: built, then its slider moved as a reader would
    panel = tg.TemperaturePanel(bundle, length=60, temperature=0.75, compare="0.25, 1.0")
    panel.temperature.value = 0.5
    print(json.dumps({"backend": os.environ["KERAS_BACKEND"], "text": text, "python": platform.python_version(),
                      "panel": {"temperatures": panel.temperatures, "lengths": [len(t) for t in panel.texts]},
                      **{name: md.version(name) for name in ("keras", "tensorflow", "ipywidgets", "textgen-helpers")}}))
""")


@pytest.fixture(scope="module")
def colab(tmp_path_factory, require_pypi):
    require_pypi("run the Colab stand-in (it installs Colab's TensorFlow, Keras and JAX)")
    tmp = tmp_path_factory.mktemp("colab")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp / "dist"), str(ROOT)],
                   check=True, capture_output=True, text=True)
    wheel = next((tmp / "dist").glob("textgen_helpers-*.whl"))
    python = _colab_python()
    subprocess.run([python, "-m", "venv", str(tmp / "venv")], check=True)
    venv_python = str(tmp / "venv" / "bin" / "python")
    # Colab's preinstalled packages, at its versions: with uv where make install put it beside this Python (the same
    # wheels, in a fraction of pip's time), else with pip. The set-up cell's own %pip install is pip, as on Colab.
    uv = shutil.which("uv", path=str(Path(sys.executable).parent))
    installer = ([uv, "pip", "install", "--python", venv_python, "--compile-bytecode"] if uv
                 else [venv_python, "-m", "pip", "install"])
    subprocess.run([*installer, "--quiet", *(f"{name}=={version}" for name, version in COLAB.items()),
                    *PRE_INSTALLED], check=True, capture_output=True, text=True)
    (tmp / "cell.py").write_text(_setup_cell(), "utf-8")
    (tmp / "run_cell.py").write_text(RUN_CELL, "utf-8")
    (tmp / "after.py").write_text(AFTER, "utf-8")
    return {"python": venv_python, "tmp": tmp, "wheel": wheel}


def _run(colab, *args, backend="tensorflow"):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", PIP_DISABLE_PIP_VERSION_CHECK="1")
    result = subprocess.run([colab["python"], *args], capture_output=True, text=True, cwd=colab["tmp"], env=env,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_off_colab_the_set_up_cell_installs_nothing(colab):
    result = _run(colab, "run_cell.py", "cell.py", str(colab["wheel"]), "laptop")
    assert result["error"] == "ModuleNotFoundError" and "textgen_helpers" in result["message"], result
    versions = subprocess.run([colab["python"], "-m", "pip", "list", "--format", "json"], capture_output=True,
                              text=True, check=True).stdout
    installed = {p["name"].lower(): p["version"] for p in json.loads(versions)}
    assert "textgen-helpers" not in installed and installed["keras"] == COLAB["keras"]


def test_on_colab_the_set_up_cell_installs_the_package_and_a_keras_new_enough(colab):
    result = _run(colab, "run_cell.py", "cell.py", str(colab["wheel"]), "colab")
    assert result["error"] is None, result
    after = _run(colab, "after.py")
    keras_version = tuple(int(p) for p in after["keras"].split(".")[:2])
    assert keras_version >= (3, 14), f"the [colab] extra left Keras at {after['keras']}"
    assert after["tensorflow"] == COLAB["tensorflow"], "the install replaced Colab's own TensorFlow"
    assert after["ipywidgets"] == COLAB["ipywidgets"], "the install replaced Colab's ipywidgets, which its page draws"
    assert after["textgen-helpers"] == colab["wheel"].name.split("-")[1]
    on_jax = _run(colab, "after.py", backend="jax")
    assert len(after["text"]) == 80 and on_jax["text"] == after["text"], (after, on_jax)
    assert after["panel"] == {"temperatures": [0.5, 0.25, 1.0], "lengths": [60, 60, 60]}, after["panel"]


def test_the_stand_in_runs_on_colabs_python(colab):
    version = subprocess.run([colab["python"], "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    if version.startswith(COLAB_PYTHON + "."):
        return
    message = f"no Python {COLAB_PYTHON} on this machine: the Colab stand-in ran on Python {version}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI's machine image has it under pyenv; has the image changed?)")
    pytest.skip(message)
