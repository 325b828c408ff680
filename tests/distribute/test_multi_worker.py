"""Two worker processes on 127.0.0.1 train with MultiWorkerMirroredStrategy.

Plain Keras 3.15 `fit` crashes there ("Invalid reduction dimension 0 for
input with 0 dimensions", tensorflow/tensorflow#72388); the VAE works
around it. The workers must end with identical weights (the all-reduce
gives every worker the same sums), and equal to one device trained on the
same global batches, to float32 rounding (see `test_replicas.py`).
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.distribute import multi_worker
from tests.distribute.conftest import HERE

TIMEOUT = 240


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("multi_worker")
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    processes = []
    for index in range(2):
        env = {
            **os.environ,
            "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        command = [sys.executable, os.path.join(HERE, "multi_worker.py"), str(tmp / f"{index}.npz"), str(tmp / "run")]
        processes.append(
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        )
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=TIMEOUT)[0])
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-5000:]
    return [dict(np.load(tmp / f"{index}.npz")) for index in range(2)], tmp / "run"


def test_workers_finish_fit_with_identical_weights(workers):
    (first, second), _ = workers
    variables = [key for key in first if key.startswith("variable/")]
    for key in variables:
        np.testing.assert_array_equal(first[key], second[key])
    assert len(first["history/loss"]) == multi_worker.EPOCHS
    assert np.all(np.isfinite(first["history/loss"]))
    for name in ("loss", "reconstruction", "kl"):  # `evaluate` works around the crash too
        assert first[f"evaluate/{name}"] == second[f"evaluate/{name}"]


def test_workers_train_like_one_device_on_the_same_global_batches(workers):
    (first, _), _ = workers
    reference, history, evaluation = multi_worker.training_run(tf.distribute.get_strategy())
    for i, value in enumerate(reference):
        got = first[f"variable/{i}"]
        scale = np.max(np.abs(value)) + 1e-6
        assert np.max(np.abs(got - value)) <= 1e-4 * scale, i
    for name in ("loss", "reconstruction", "kl"):
        np.testing.assert_allclose(first[f"history/{name}"], history[name], rtol=1e-5)
        np.testing.assert_allclose(first[f"evaluate/{name}"], evaluation[name], rtol=1e-5)


def test_only_the_chief_writes_the_backup(workers):
    _, run_dir = workers
    state = json.loads((run_dir / "backup" / "backup.json").read_text())
    assert state["epoch"] == multi_worker.EPOCHS
    assert sorted(os.listdir(run_dir / "backup")) == ["backup.json", state["weights"]]
