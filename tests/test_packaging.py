"""Install files and the package's surface: what a new user meets before any model is trained."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]

# pip name -> conda-forge name, where they differ
CONDA_NAMES = {"pyyaml": "pyyaml"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


# The extras the workshop installs (make start, make test; environment.yml for conda): TensorFlow is its backend,
# JAX runs the backend suite, and the notebooks and tests need their tools. The Makefile adds `browser`.
WORKSHOP_EXTRAS = ("tensorflow", "jax", "notebooks", "test")
BACKENDS = ("tensorflow", "jax", "torch")


def _floor(requirement: str) -> str:
    return requirement.strip()[len(_name(requirement)):].replace(" ", "")


def _workshop_requirements() -> dict[str, str]:
    """``{name: version specifier}`` of the package's dependencies and the workshop's extras, in conda's names."""
    project = _pyproject()["project"]
    requirements = list(project["dependencies"])
    for extra in WORKSHOP_EXTRAS:
        requirements += project["optional-dependencies"][extra]
    return {CONDA_NAMES.get(_name(r), _name(r)): _floor(r) for r in requirements}


def test_environment_yml_names_the_same_packages_as_pyproject():
    wanted = _workshop_requirements()
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert environment["channels"] == ["conda-forge"]
    conda = [d for d in environment["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert "python=3.11" in conda and "-e ." in pip
    named = {_name(d): _floor(d) for d in conda if _name(d) not in ("python", "pip")}
    assert named.keys() == wanted.keys(), (f"only in environment.yml: {named.keys() - wanted.keys()}; "
                                           f"only in pyproject.toml: {wanted.keys() - named.keys()}")
    assert named == wanted, f"environment.yml {named}, pyproject.toml {wanted}"


def test_the_makefile_installs_the_workshops_extras():
    installs = re.findall(r"pip install --quiet -e '\.\[([a-z,]+)\]'", (ROOT / "Makefile").read_text())
    assert len(installs) == 1, "the Makefile should install the package in one place"
    assert sorted(installs[0].split(",")) == sorted([*WORKSHOP_EXTRAS, "browser"])


def test_each_backend_is_an_extra_and_none_a_dependency():
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    assert not {_name(r) for r in project["dependencies"]} & {*BACKENDS, "tensorflow-cpu"}
    for backend in BACKENDS:
        (requirement,) = extras[backend]
        assert _name(requirement) == backend  # `tensorflow`, not `tensorflow-cpu`: Colab's GPU build satisfies it
        assert ">=" in requirement and "==" not in requirement, f"{requirement}: users get a range; only CI pins"
    # Colab has its TensorFlow, JAX and PyTorch; [colab] adds only what it lacks, and the tools bring no backend.
    for extra in ("colab", "test", "notebooks"):
        assert not {_name(r) for r in extras[extra]} & set(BACKENDS), f"[{extra}] installs a backend"


def test_ci_pins_the_pytorch_it_runs_the_backend_suite_on():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"pip install .*'torch==2\.13\.0'", ci), ".ci/run should install torch==2.13.0 into .venv"
    assert ci.index("torch==2.13.0") < ci.index("\nmake test")


def test_installing_the_jax_extra_installs_no_tensorflow(tmp_path, require_pypi):
    # pip resolves `.[jax]` as in a clean environment (--ignore-installed) and downloads no wheel (--dry-run reads
    # only the packages' metadata); its report lists what it would install.
    require_pypi("resolve the [jax] extra")
    report = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                           "--disable-pip-version-check", "--report", str(report), f"{ROOT}[jax]"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    names = {_name(item["metadata"]["name"]) for item in json.loads(report.read_text())["install"]}
    assert {"textgen-helpers", "keras", "jax", "jaxlib", "pooch", "filelock"} <= names
    assert not {name for name in names if name.startswith(("tensorflow", "tf-", "tensorboard"))}, sorted(names)
    assert "torch" not in names


def test_the_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make start" in readme
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.M)
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: ", makefile, re.M) and re.search(r"^start: ", makefile, re.M)


def test_every_exported_name_resolves():
    import textgen_helpers

    for name in textgen_helpers.__all__:
        assert getattr(textgen_helpers, name) is not None, name


def test_the_cli_starts_without_importing_tensorflow():
    code = "import sys, textgen_helpers.cli, textgen_helpers.corpus; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_importing_the_package_prints_nothing():
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    result = subprocess.run([sys.executable, "-c", "import textgen_helpers as t; t.build_model(65)"],
                            capture_output=True, text=True, env=env, check=True)
    assert result.stdout == "" and result.stderr == ""


def test_the_registry_ships_inside_the_package():
    from importlib import resources

    assert resources.files("textgen_helpers.data").joinpath("corpora.json").is_file()


def test_no_call_that_fails_on_windows():
    # os.sysconf does not exist on Windows; runtime.total_memory_bytes() works everywhere.
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for path in [*root.glob("textgen_helpers/*.py"), *root.glob("notebooks/*.ipynb"), *root.glob("bench/*.py")]:
        text = path.read_text(encoding="utf-8")
        uses = text.count("os.sysconf(")
        allowed = 2 if path.name == "runtime.py" else 0  # the guarded use inside total_memory_bytes
        assert uses <= allowed, f"{path.name} calls os.sysconf, which Windows lacks; use tg.total_memory_bytes()"


def test_the_shipped_bundle_loads_under_the_oldest_keras_allowed():
    # Keras reads .keras files saved by older versions, not newer ones: the shipped model must have
    # been saved by a Keras no newer than pyproject's floor, or Colab's older Keras cannot open it.
    # After `make bundle`, re-save model.keras under that Keras (see pyproject.toml's comment).
    import json
    import zipfile

    floor = next(r for r in _pyproject()["project"]["dependencies"] if _name(r) == "keras").split(">=")[1]
    saved = json.loads(zipfile.ZipFile(ROOT / "data/bundles/shakespeare-128x2/model.keras").read("metadata.json"))
    as_tuple = lambda v: tuple(int(p) for p in v.split(".")[:2])  # noqa: E731
    assert as_tuple(saved["keras_version"]) <= as_tuple(floor), (
        f"the shipped bundle was saved by Keras {saved['keras_version']}, newer than the floor keras>={floor}")


def test_every_public_name_is_listed_once_and_imports():
    """The public names are listed once, in __init__.pyi, which editors read and lazy_loader imports
    from; each must import, and no name may stand twice."""
    import ast
    import importlib

    import textgen_helpers

    tree = ast.parse((ROOT / "textgen_helpers" / "__init__.pyi").read_text())
    listed = [alias.name for node in tree.body if isinstance(node, ast.ImportFrom) for alias in node.names]
    assert len(listed) == len(set(listed)), f"listed twice: {sorted({n for n in listed if listed.count(n) > 1})}"
    assert sorted(textgen_helpers.__all__) == sorted(listed)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                assert alias.asname == alias.name, f"{alias.name}: a stub re-exports a name as itself"
                assert getattr(textgen_helpers, alias.name) is getattr(
                    importlib.import_module(f"textgen_helpers.{node.module}"), alias.name)


# Lower modules first: each may import only from the modules before it (the data flows one way:
# text, ids, windows, model, its checkpoints and bundle, the run folders that hold them, training, and what reads
# a bundle).
LAYERS = ["checks", "book", "runtime", "files", "corpus", "vocabulary", "windows", "model", "sampling", "step",
          "generation", "evaluation", "distribute", "checkpoints", "bundle", "run_folders", "training", "export",
          "strategies", "ngram", "activations", "plots", "display", "widgets", "cli_args", "cli"]


def _package_imports(module: str) -> list[tuple[str, str]]:
    """``(imported module, name)`` for every ``from .x import name`` in ``module``, inside functions too;
    ``from . import x`` is ``("x", "x")``, and ``from . import __version__`` is ``("", "__version__")``."""
    import ast

    tree = ast.parse((ROOT / "textgen_helpers" / f"{module}.py").read_text())
    found = [(node.module or "", alias.name) for node in ast.walk(tree)
             if isinstance(node, ast.ImportFrom) and node.level == 1 for alias in node.names]
    return [(name, name) if imported == "" and name != "__version__" else (imported, name)
            for imported, name in found]


def test_every_module_has_its_place_in_the_layers():
    modules = sorted(p.stem for p in (ROOT / "textgen_helpers").glob("*.py") if p.stem != "__init__")
    assert sorted(LAYERS) == modules


@pytest.mark.parametrize("module", LAYERS)
def test_a_module_imports_only_from_the_modules_below_it_and_only_their_public_names(module):
    for imported, name in _package_imports(module):
        if imported == "" and name == "__version__":
            continue
        assert LAYERS.index(imported) < LAYERS.index(module), f"{module} imports {imported}, which comes after it"
        assert not name.startswith("_"), f"{module} imports {imported}.{name}, a private name"
