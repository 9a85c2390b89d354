"""tf.distribute with real replicas on this CPU: the CPU split into two logical devices.

Each run is a fresh subprocess (tests/scripts/distributed_run.py): logical devices and TF_CONFIG
must be set before TensorFlow starts, and must not leak into other tests.
"""

import itertools
import json
import os
import shutil
import socket
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


def test_a_global_batch_that_does_not_split_evenly_is_refused():
    from textgen_helpers.distribute import distributed_windows

    class TwoReplicas:
        num_replicas_in_sync = 2

    with pytest.raises(ValueError, match="batch_size 7 does not split evenly between 2 replicas"):
        distributed_windows(TwoReplicas(), lambda: None, 7)


def test_on_one_device_tensorflow_reads_the_window_stream_in_order_with_no_autotuner():
    # With tf.data's autotuner on (as Keras's own adapter for a PyDataset has it), tearing down the iterator of a
    # run stopped mid-epoch waited seconds for the autotuner's thread (py-spy: RootDataset::Iterator::~Iterator).
    from textgen_helpers.distribute import distributed_windows
    from textgen_helpers.runtime import import_keras
    from textgen_helpers.windows import window_dataset

    if import_keras().backend.backend() != "tensorflow":
        pytest.skip("tf.data is TensorFlow's: on the other backends train hands fit the stream itself")

    def make():
        return window_dataset(np.arange(500, dtype=np.int32) % 7, 10, 4, seed=0, start_step=2)

    dataset = distributed_windows(None, make, 4)
    assert dataset.options().autotune.enabled is False
    stream = make()
    for i, (x, y) in enumerate(itertools.islice(dataset, 5)):
        np.testing.assert_array_equal(x.numpy(), stream[i][0])
        np.testing.assert_array_equal(y.numpy(), stream[i][1])
    first, _ = next(iter(dataset))  # a new iterator starts again from the stream's first batch
    np.testing.assert_array_equal(first.numpy(), stream[0][0])


def test_unknown_strategy_names_and_a_broken_tf_config_are_explained(monkeypatch):
    from textgen_helpers.distribute import make_strategy

    with pytest.raises(ValueError, match="must be one of"):
        make_strategy("horovod")
    monkeypatch.setenv("TF_CONFIG", "{cluster: [")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        make_strategy("multiworker")


def test_a_tf_config_without_this_workers_task_says_how_to_write_it():
    tf_config = json.dumps({"cluster": {"worker": ["localhost:1", "localhost:2"]}})  # no "task"
    probe = ("from textgen_helpers.distribute import make_strategy\n"
             "try:\n    make_strategy('multiworker')\nexcept ValueError as err:\n    print(err)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=TIMEOUT,
                          env={**os.environ, "TF_CONFIG": tf_config})
    assert "TF_CONFIG does not describe this worker's place in a cluster" in done.stdout, done.stderr[-2000:]
    assert '"task": {"type": "worker", "index": 0}' in done.stdout


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _run_cluster(command, outs):
    """Start one process per worker, each with its TF_CONFIG; wait for all, and kill all whatever happens."""
    ports = _free_ports(len(outs))
    cluster = {"worker": [f"localhost:{port}" for port in ports]}
    processes = []
    try:
        for index, out in enumerate(outs):
            tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            processes.append(subprocess.Popen(command(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                              env={**os.environ, "TF_CONFIG": tf_config}))
        results = [p.communicate(timeout=TIMEOUT) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.communicate()
    for p, (_, stderr) in zip(processes, results, strict=True):
        assert p.returncode == 0, stderr[-3000:]
    return [stdout for stdout, _ in results]


def test_two_workers_on_localhost_train_as_one_device_and_only_the_chief_writes(single, tmp_path):
    outs = [tmp_path / "worker0", tmp_path / "worker1"]
    stdouts = _run_cluster(lambda out: [sys.executable, str(SCRIPT), "multiworker", str(out)], outs)
    chief, other = (json.loads(out.strip().splitlines()[-1]) for out in stdouts)
    assert chief["replicas_in_sync"] == other["replicas_in_sync"] == 2  # one replica on each worker
    assert chief["chief"] and not other["chief"]
    _assert_same_weights(chief, other, atol=0)  # every step all-reduced: the workers hold the same weights
    _assert_same_weights(chief, single)  # and those of one device with the same global batch and seed
    np.testing.assert_allclose(chief["loss"], single["loss"], rtol=1e-5)
    assert (outs[0] / "bundle" / "model.keras").is_file() and (outs[0] / "checkpoint").is_dir()
    assert not outs[1].exists()  # the other worker wrote nothing


def _cluster_command(epochs, checkpoint=None, *extra):
    shared = ["--checkpoint", str(checkpoint)] if checkpoint is not None else []
    return lambda out: [sys.executable, str(SCRIPT), "multiworker", str(out), str(epochs), *shared, *extra]


@pytest.fixture(scope="module")
def cluster_checkpoint(tmp_path_factory):
    """The checkpoint that two workers sharing one folder leave after one epoch."""
    root = tmp_path_factory.mktemp("cluster")
    _run_cluster(_cluster_command(1, root / "checkpoint"), [root / "worker0", root / "worker1"])
    assert json.loads((root / "checkpoint" / "state.json").read_text())["epoch"] == 1
    return root / "checkpoint"


def test_two_workers_sharing_a_checkpoint_folder_resume_exactly(single, cluster_checkpoint, tmp_path):
    # Both workers train on one folder: only the chief holds its lock (the other would be refused), and
    # every worker restores the chief's checkpoint under the strategy.
    shared = tmp_path / "checkpoint"
    shutil.copytree(cluster_checkpoint, shared)
    stdouts = _run_cluster(_cluster_command(2, shared, "--resume"), [tmp_path / "worker0", tmp_path / "worker1"])
    chief, other = (json.loads(out.strip().splitlines()[-1]) for out in stdouts)
    assert len(chief["loss"]) == 2  # the first epoch's history comes from the checkpoint
    _assert_same_weights(chief, other, atol=0)
    _assert_same_weights(chief, single)  # as if never interrupted
    assert json.loads((shared / "state.json").read_text())["epoch"] == 2


def test_workers_that_would_resume_from_different_epochs_stop_with_a_message(cluster_checkpoint, tmp_path):
    outs = [tmp_path / "worker0", tmp_path / "worker1"]
    shutil.copytree(cluster_checkpoint, outs[0] / "checkpoint")  # only the chief's folder holds the checkpoint
    stdouts = _run_cluster(_cluster_command(2, None, "--resume"), outs)  # without the check, worker 1 waits forever
    for out in stdouts:
        error = json.loads(out.strip().splitlines()[-1])["error"]
        assert "would not resume from the same epoch (replica 0: after epoch 1, replica 1: from the start)" in error
        assert "a filesystem they all share" in error
    assert json.loads((outs[0] / "checkpoint" / "state.json").read_text())["epoch"] == 1  # untouched


def test_the_command_line_trains_on_two_workers_and_the_chief_saves(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer. " * 80)
    outs = [tmp_path / "worker0", tmp_path / "worker1"]
    train = ["train", str(corpus), "--lstm-layer-size", "8", "--sample-len", "16", "--batch-size", "8",
             "--examples-per-epoch", "32", "--epochs", "1", "--display-length", "10", "--distribute", "multiworker",
             "--quiet"]
    _run_cluster(lambda out: [sys.executable, "-c", "import sys; from textgen_helpers.cli import main; "
                              "sys.exit(main(sys.argv[1:]))", *train, "--save-path", str(out / "bundle")], outs)
    assert (outs[0] / "bundle" / "model.keras").is_file()
    assert not (outs[1] / "bundle").exists()


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


def test_multiworker_without_tf_config_trains_this_machine_alone_and_says_so(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer. " * 80)
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    main = "import sys; from textgen_helpers.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run([sys.executable, "-c", main,
                           "train", str(corpus), "--lstm-layer-size", "8", "--sample-len", "16", "--batch-size", "8",
                           "--examples-per-epoch", "32", "--epochs", "1", "--display-length", "10", "--distribute",
                           "multiworker", "--quiet", "--save-path", str(tmp_path / "bundle")],
                          capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "TF_CONFIG is not set, so this machine trains alone" in done.stderr
    assert (tmp_path / "bundle" / "model.keras").is_file()  # alone, it is its own chief
