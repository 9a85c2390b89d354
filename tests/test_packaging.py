"""Install files and the package's surface: what a new user meets before any model is trained."""

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


def test_environment_yml_names_the_same_packages_as_pyproject():
    project = _pyproject()["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in ("notebooks", "test"):
        wanted |= {_name(r) for r in project["optional-dependencies"][extra]}
    wanted = {CONDA_NAMES.get(n, n) for n in wanted}
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert environment["channels"] == ["conda-forge"]
    conda = [d for d in environment["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert "python=3.11" in conda and "-e ." in pip
    named = {_name(d) for d in conda} - {"python", "pip"}
    assert named == wanted, f"only in environment.yml: {named - wanted}; only in pyproject.toml: {wanted - named}"


def test_the_package_depends_on_tensorflow_not_tensorflow_cpu():
    names = {_name(r) for r in _pyproject()["project"]["dependencies"]}
    assert "tensorflow" in names and "tensorflow-cpu" not in names


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
# text, ids, windows, model, its training and checkpoints, the bundle, and what reads a bundle).
LAYERS = ["checks", "book", "runtime", "files", "corpus", "vocabulary", "windows", "model", "sampling", "step", "generation",
          "evaluation", "distribute", "checkpoints", "training", "bundle", "export", "strategies", "ngram",
          "activations", "plots", "widgets", "cli"]


def _package_imports(module: str) -> list[tuple[str, str]]:
    """``(imported module, name)`` for every ``from .x import name`` in ``module``, inside functions too."""
    import ast

    tree = ast.parse((ROOT / "textgen_helpers" / f"{module}.py").read_text())
    return [(node.module or "", alias.name) for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 1 for alias in node.names]


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
