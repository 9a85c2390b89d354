"""run_folders.py: one run per folder, and the rules for the folders a run writes (no training here)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import pytest

from textgen_helpers.files import lock_name, remove_leftovers
from textgen_helpers.run_folders import FolderInUse, check_run_folders, claim_run_folders

# Claims the folders given on its command line, says so, and waits to be killed.
HOLDER = textwrap.dedent("""
    import sys, time
    from textgen_helpers.run_folders import claim_run_folders
    with claim_run_folders(sys.argv[1], sys.argv[2]):
        print("holding", flush=True)
        time.sleep(600)
""")


@pytest.fixture
def holder(tmp_path):
    """Another process that holds the folders ``tmp_path/m-checkpoint`` and ``tmp_path/m``."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "m-checkpoint"), str(tmp_path / "m")],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "holding"
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_a_folder_held_by_another_run_is_refused_at_once_naming_it(tmp_path, holder):
    with pytest.raises(FolderInUse) as refused:
        with claim_run_folders(tmp_path / "m-checkpoint", tmp_path / "m"):
            pytest.fail("two runs held one folder")
    message = str(refused.value)
    assert message.startswith(f"{tmp_path / 'm-checkpoint'} is in use by another textgen run")
    assert "\n" not in message and "nothing was changed" in message
    with pytest.raises(FolderInUse, match="is in use"):  # the bundle folder alone, too
        with claim_run_folders(None, tmp_path / "m"):
            pass


def test_a_lock_left_by_a_killed_run_never_blocks_the_next(tmp_path, holder):
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert lock_name(tmp_path / "m").exists()  # the file stays; the system's lock died with the process
    with claim_run_folders(tmp_path / "m-checkpoint", tmp_path / "m"):
        pass


def test_the_same_process_may_claim_a_folder_again_inside_its_claim(tmp_path):
    with claim_run_folders(tmp_path / "c", tmp_path / "b"), claim_run_folders(tmp_path / "c"):
        pass
    with claim_run_folders(tmp_path / "c"):  # and again once it has let go
        pass


def test_the_lock_lies_beside_the_folder_where_no_clean_up_or_check_touches_it(tmp_path):
    from textgen_helpers.bundle import check_bundle_target
    from textgen_helpers.checkpoints import Checkpoint

    with claim_run_folders(tmp_path / "c", tmp_path / "b"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == [".b.textgen-lock", ".c.textgen-lock"]
    assert remove_leftovers(tmp_path / "b", lambda name: True) == []  # not a left-over of a write
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    check_bundle_target(tmp_path / "b")  # both folders are still free
    Checkpoint(tmp_path / "c").check_target()


def test_only_the_chief_of_a_cluster_holds_the_lock(tmp_path, holder, monkeypatch):
    class Resolver:
        task_type, task_id = "worker", 1

    class Worker:
        cluster_resolver = Resolver()

    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]}}))
    with claim_run_folders(tmp_path / "m-checkpoint", tmp_path / "m", strategy=Worker()):
        pass  # another worker of the cluster, which writes nothing, is not refused by the chief's lock


@pytest.mark.parametrize("bundle, checkpoint", [("model", "model"), ("model", "model/checkpoints"),
                                                ("model/inner", "model"), ("model", ".")])
def test_the_bundle_and_the_checkpoints_must_be_two_separate_folders(tmp_path, bundle, checkpoint):
    with pytest.raises(ValueError, match="must be two separate folders, neither inside the other"):
        with claim_run_folders(tmp_path / checkpoint, tmp_path / bundle):
            pass
    assert list(tmp_path.iterdir()) == []  # refused before anything was locked or written


def test_a_checkpoint_folder_holding_a_run_needs_resume_or_restart_and_never_both(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "state.json").write_text(json.dumps({"format": 3, "epoch": 4, "settings": {}}))
    with pytest.raises(ValueError, match=r"holds the checkpoint of an earlier run \(after epoch 4\)"):
        check_run_folders(tmp_path / "c")
    check_run_folders(tmp_path / "c", resume=True)
    check_run_folders(tmp_path / "c", restart=True)
    with pytest.raises(ValueError, match="resume and restart exclude each other"):
        check_run_folders(tmp_path / "c", resume=True, restart=True)
