"""tf.distribute with real replicas on this CPU: the CPU split into two logical devices.

Each run is a fresh subprocess (tests/scripts/distributed_run.py): logical devices and TF_CONFIG
must be set before TensorFlow starts, and must not leak into other tests.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).parent / "scripts" / "distributed_run.py"
TIMEOUT = 240


def _run(mode, out, *args, env=None):
    done = subprocess.run([sys.executable, str(SCRIPT), mode, str(out), *map(str, args)], capture_output=True,
                          text=True, timeout=TIMEOUT, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _assert_same_weights(a, b, atol=1e-6):
    for x, y in zip(a["weights"], b["weights"], strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=0, atol=atol)


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    return _run("single", tmp_path_factory.mktemp("single"))


def test_two_mirrored_replicas_train_exactly_as_one_device_with_the_same_global_batch(single, tmp_path):
    mirrored = _run("mirrored", tmp_path)
    assert mirrored["replicas_in_sync"] == 2
    assert len(set(mirrored["variable_devices"])) == 2  # a copy of every variable on each logical CPU
    np.testing.assert_allclose(mirrored["loss"], single["loss"], rtol=1e-5)
    _assert_same_weights(mirrored, single)
    assert (tmp_path / "bundle" / "model.keras").is_file()


def test_a_mirrored_run_resumes_exactly_from_its_checkpoint(single, tmp_path):
    _run("mirrored", tmp_path, 1)
    resumed = _run("mirrored", tmp_path, 2, "--resume")
    _assert_same_weights(resumed, single)


def test_a_global_batch_that_does_not_split_evenly_is_refused():
    from textgen_helpers.distribute import distributed_windows

    class TwoReplicas:
        num_replicas_in_sync = 2

    with pytest.raises(ValueError, match="batch_size 7 does not split evenly between 2 replicas"):
        distributed_windows(TwoReplicas(), lambda: None, 7)


def test_multiworker_is_refused_with_the_reason_and_unknown_names_too():
    from textgen_helpers.distribute import make_strategy

    with pytest.raises(ValueError, match="keras-team/keras#20585"):
        make_strategy("multiworker")
    with pytest.raises(ValueError, match="must be one of"):
        make_strategy("horovod")


def test_only_the_chief_of_a_multiworker_cluster_writes(monkeypatch):
    from textgen_helpers.distribute import is_chief

    class Resolver:
        def __init__(self, task_type, task_id):
            self.task_type, self.task_id = task_type, task_id

    class Strategy:
        def __init__(self, *task):
            self.cluster_resolver = Resolver(*task)

    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]}}))
    assert is_chief(None) and is_chief(Strategy("worker", 0)) and not is_chief(Strategy("worker", 1))
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"chief": ["c:0"], "worker": ["a:1"]}}))
    assert is_chief(Strategy("chief", 0)) and not is_chief(Strategy("worker", 0))
