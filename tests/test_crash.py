"""A training process killed (SIGKILL) at any moment of a save loses at most the epoch it was saving.

Each test runs `textgen train` in a child process (tests/scripts/killed_run.py) that kills itself
at one exact moment inside the package's own save: while a checkpoint's model or state is being
written, between the two, while the final bundle is built or swapped in, or while an export is.
Then it does what a user would: `--resume` (or `--restart`), and checks what they would see. The kill needs a
process of its own; what comes before and after it (a first run, the recovery) runs through the same `main()`
in this process, which has TensorFlow loaded already, except where a resume must equal an uninterrupted run
exactly: there, as for a user, the resume is a new process.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from textgen_helpers.cli import main
from textgen_helpers.files import lock_name

SCRIPT = Path(__file__).parent / "scripts" / "killed_run.py"
TEXTGEN = str(Path(sys.executable).with_name("textgen"))
TINY = ["--examples-per-epoch", "64", "--batch-size", "32", "--sample-len", "16", "--lstm-layer-size", "8",
        "--display-length", "0", "--dropout", "0.1"]


@pytest.fixture
def corpus(shakespeare, tmp_path) -> Path:
    path = tmp_path / "small.txt"
    path.write_text(shakespeare.text[:20_000], encoding="utf-8")
    return path


def train_args(corpus: Path, save_path: Path, epochs: int, *more: str) -> list[str]:
    return ["train", str(corpus), *TINY, "--epochs", str(epochs), "--save-path", str(save_path), *more]


def killed(moment: str, name: str, count: int, args: list[str]) -> None:
    """Run ``textgen ARGS`` and SIGKILL it at ``moment`` of the ``count``-th rename to ``name``."""
    result = subprocess.run([sys.executable, str(SCRIPT), moment, name, str(count), "--", *args],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == -signal.SIGKILL, f"the run was not killed at {moment} {name}: {result.stderr}"


def textgen(*args) -> subprocess.CompletedProcess:
    """``textgen ARGS`` in a new process."""
    result = subprocess.run([TEXTGEN, *map(str, args)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def textgen_here(capsys, *args) -> str:
    """``textgen ARGS`` through ``main()`` in this process; returns what it printed."""
    capsys.readouterr()
    code = main([*map(str, args)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def ours_beside(path: Path) -> list[str]:
    """Our temporary names left beside ``path`` (the staging and old folders of a bundle or export; not the
    folder's lock file, which stays)."""
    return sorted(p.name for p in path.parent.iterdir()
                  if p.name.startswith(f".{path.name}.textgen-") and p.name != lock_name(path).name)


def bundle_epochs(path: Path) -> list[int]:
    return [row["epoch"] for row in json.loads((path / "config.json").read_text())["history"]]


def weights(path: Path) -> list[np.ndarray]:
    from textgen_helpers.bundle import load_bundle

    return load_bundle(path).model.get_weights()


# A kill before a rename and one halfway through writing the file leave the same thing behind (a temporary file,
# whole or not): one of each, in the model file and in state.json.
@pytest.mark.parametrize("moment, name", [("partial", "epoch_0001.keras"), ("before", "state.json")])
def test_a_run_killed_in_its_first_save_starts_afresh_on_resume(corpus, tmp_path, moment, name, capsys):
    bundle, checkpoint = tmp_path / "model", tmp_path / "model-checkpoint"
    killed(moment, name, 1, train_args(corpus, bundle, 2))
    assert not (checkpoint / "state.json").exists() and any(checkpoint.iterdir())  # only what the kill left
    out = textgen_here(capsys, *train_args(corpus, bundle, 2, "--resume"))
    assert "starting from epoch 1" in out and "interrupted save" in out
    assert bundle_epochs(bundle) == [1, 2]
    assert sorted(p.name for p in checkpoint.iterdir()) == ["epoch_0002.keras", "state.json"]


def test_restart_clears_what_a_killed_first_save_left(corpus, tmp_path, capsys):
    bundle, checkpoint = tmp_path / "model", tmp_path / "model-checkpoint"
    (tmp_path / "notes.txt").write_text("mine")
    killed("partial", "epoch_0001.keras", 1, train_args(corpus, bundle, 1))
    textgen_here(capsys, *train_args(corpus, bundle, 1, "--restart"))
    assert bundle_epochs(bundle) == [1]
    assert sorted(p.name for p in checkpoint.iterdir()) == ["epoch_0001.keras", "state.json"]
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.fixture(scope="module")
def whole(shakespeare, tmp_path_factory) -> Path:
    """The bundle of a 3-epoch run never interrupted, on the same text as ``corpus``: what a resume must end with."""
    folder = tmp_path_factory.mktemp("whole")
    text = folder / "small.txt"
    text.write_text(shakespeare.text[:20_000], encoding="utf-8")
    textgen(*train_args(text, folder / "whole", 3))
    return folder / "whole"


@pytest.mark.parametrize("moment, name, resumes_after", [
    ("after", "epoch_0002.keras", 1),  # epoch 2's model is written, its state.json is not
    ("partial", "state.json", 1),  # killed while writing epoch 2's state.json
    ("after", "state.json", 2),  # epoch 2 is saved; the older model file is not yet removed
])
def test_a_run_killed_in_a_later_save_resumes_from_its_last_complete_epoch_exactly(corpus, tmp_path, whole, moment,
                                                                                   name, resumes_after):
    bundle, checkpoint = tmp_path / "model", tmp_path / "model-checkpoint"
    count = 2 if name == "state.json" else 1
    killed(moment, name, count, train_args(corpus, bundle, 3))
    result = textgen(*train_args(corpus, bundle, 3, "--resume"))
    assert f"resumed from {checkpoint} after epoch {resumes_after}" in result.stdout
    assert sorted(p.name for p in checkpoint.iterdir()) == ["epoch_0003.keras", "state.json"]  # left-overs gone
    assert bundle_epochs(bundle) == [1, 2, 3]
    for resumed, uninterrupted in zip(weights(bundle), weights(whole), strict=True):
        np.testing.assert_array_equal(resumed, uninterrupted)  # as if it had never been killed


def test_a_run_killed_while_writing_its_bundle_saves_it_on_resume(corpus, tmp_path, capsys):
    bundle = tmp_path / "model"
    killed("before", "model", 1, train_args(corpus, bundle, 2))  # the bundle is built, not yet in place
    assert not bundle.exists() and len(ours_beside(bundle)) == 1
    assert lock_name(bundle).exists()  # the killed run held the folders: the next run is not blocked
    out = textgen_here(capsys, *train_args(corpus, bundle, 2, "--resume"))
    assert "nothing to train" in out and f"saved the model bundle to {bundle}" in out
    assert bundle_epochs(bundle) == [1, 2] and ours_beside(bundle) == []


@pytest.mark.parametrize("moment, epochs_after_kill", [("before", [1]), ("after", [1, 2])])
def test_a_bundle_replaced_when_the_run_is_killed_is_the_old_one_or_the_new_one_whole(corpus, tmp_path, moment,
                                                                                      epochs_after_kill, capsys):
    from textgen_helpers.bundle import load_bundle

    bundle = tmp_path / "model"
    textgen_here(capsys, *train_args(corpus, bundle, 1))
    killed(moment, "model", 1, train_args(corpus, bundle, 2, "--resume"))
    assert bundle_epochs(bundle) == epochs_after_kill
    load_bundle(bundle).generate("ROMEO:", 10)  # complete: it loads and generates
    textgen_here(capsys, *train_args(corpus, bundle, 2, "--resume"))
    assert bundle_epochs(bundle) == [1, 2] and ours_beside(bundle) == []


def test_an_export_killed_before_its_swap_leaves_the_old_export_and_is_cleaned_up_next_time(corpus, tmp_path,
                                                                                            capsys):
    bundle, web = tmp_path / "model", tmp_path / "web-model"
    textgen_here(capsys, *train_args(corpus, bundle, 1))
    textgen_here(capsys, "export-tfjs", bundle, web)
    before = (web / "model.json").read_bytes()
    killed("before", "web-model", 1, ["export-tfjs", str(bundle), str(web)])
    assert (web / "model.json").read_bytes() == before and len(ours_beside(web)) == 1
    textgen_here(capsys, "export-tfjs", bundle, web)
    assert ours_beside(web) == []
