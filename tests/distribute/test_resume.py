"""Fault tolerance: a run killed mid-epoch resumes from its last complete backup.

`resumable_run.py` is killed with SIGKILL in the middle of an epoch, then run
again with the same command. The backup holds the weights, the optimizer's
state and the noise generator's state, and the batches of an epoch (order and
dequantization noise) depend on (seed, epoch) only, so the resumed run retraces
the uninterrupted one exactly (same CPU kernels, same order).
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import keras_cvae.distribute as kd
from tests.distribute import resumable_run
from tests.distribute.conftest import HERE
from tests.distribute.conftest import run_script

KILL_AFTER_EPOCH = 2
TIMEOUT = 180


def progress(run_dir):
    path = run_dir / "progress.log"
    lines = path.read_text().split("\n")[:-1] if path.exists() else []
    return [tuple(map(int, line.split())) for line in lines]


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("resume")
    command = [sys.executable, os.path.join(HERE, "resumable_run.py"), str(run_dir), "0.05"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + TIMEOUT
    try:
        # Wait until the epoch after the backup is half done, then kill.
        while (KILL_AFTER_EPOCH, resumable_run.STEPS_PER_EPOCH // 2) not in progress(run_dir):
            assert process.poll() is None, process.stdout.read().decode()[-5000:]
            assert time.monotonic() < deadline, "the run never reached the kill point"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    state_after_kill = kd.read_backup_state(run_dir / "backup")
    killed_progress = progress(run_dir)
    run_script("resumable_run.py", run_dir, 0.0, timeout=TIMEOUT)
    return run_dir, state_after_kill, killed_progress, dict(np.load(run_dir / "result.npz"))


def test_kill_landed_mid_epoch_after_a_complete_backup(killed_and_resumed):
    run_dir, state, killed_progress, _ = killed_and_resumed
    assert state["epoch"] == KILL_AFTER_EPOCH
    last_epoch, last_batch = killed_progress[-1]
    assert last_epoch == KILL_AFTER_EPOCH and last_batch < resumable_run.STEPS_PER_EPOCH - 1


def test_restarted_run_resumes_from_the_backup_and_ends_at_the_same_epoch(killed_and_resumed):
    run_dir, _, _, result = killed_and_resumed
    assert list(result["epochs"]) == list(range(KILL_AFTER_EPOCH, resumable_run.EPOCHS))
    assert len(result["history/loss"]) == resumable_run.EPOCHS - KILL_AFTER_EPOCH
    assert kd.read_backup_state(run_dir / "backup")["epoch"] == resumable_run.EPOCHS


def test_resumed_run_ends_like_an_uninterrupted_one(killed_and_resumed):
    _, _, _, result = killed_and_resumed
    variables, history, _ = resumable_run.training_run()
    for i, want in enumerate(variables):
        np.testing.assert_array_equal(result[f"variable/{i}"], want, err_msg=str(i))
    for name in ("loss", "reconstruction", "kl"):
        np.testing.assert_array_equal(result[f"history/{name}"], history[name][KILL_AFTER_EPOCH:])
