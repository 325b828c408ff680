"""Drives `keras-cvae` as a user does: in a fresh process, reading only its output and files."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

TIMEOUT = 300
_SCRIPT = os.path.join(os.path.dirname(sys.executable), "keras-cvae")
# The installed console script, else its module (`keras_cvae_cli`, at the repository root).
COMMAND = [_SCRIPT] if os.path.exists(_SCRIPT) else [sys.executable, "-m", "keras_cvae_cli"]


@pytest.fixture(scope="session")
def cli_env(tmp_path_factory):
    """The environment of every command: a private data folder, TensorFlow logs left as they are."""
    data_dir = tmp_path_factory.mktemp("cli_data")
    env = {**os.environ, "KERAS_CVAE_DATA_DIR": str(data_dir), "TFDS_DATA_DIR": str(data_dir)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the CLI must quiet TensorFlow itself
    return env


def start(env, *args, cwd=None):
    """Starts `keras-cvae ARGS` in the background."""
    return subprocess.Popen([*COMMAND, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)


def finish(process):
    """`(returncode, stdout, stderr)` of a started command."""
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        pytest.fail(f"{process.args} timed out:\n{stdout[-3000:]}\n{stderr[-3000:]}")
    return process.returncode, stdout, stderr


def run(env, *args):
    return finish(start(env, *args))


def run_ok(env, *args):
    """Runs a command that must succeed; returns its stdout."""
    code, stdout, stderr = run(env, *args)
    assert code == 0, f"exit {code}:\n{stdout[-3000:]}\n{stderr[-3000:]}"
    return stdout


def decode_png(path):
    """The pixels `(height, width, channels)` of a PNG file, uint8 (TensorFlow's decoder)."""
    import tensorflow as tf

    with open(path, "rb") as f:
        return tf.io.decode_png(f.read()).numpy()


def png_shape(path):
    """`(height, width, channels)` of a PNG whose pixel data is complete."""
    return decode_png(path).shape


def grid_size(rows, columns, image, scale, padding=1):
    """`(height, width)` of `keras_cvae.utils.image_grid` of square `image`-pixel images."""
    side = image * scale
    return rows * (side + padding) + padding, columns * (side + padding) + padding


# The short training run of `test_train.py`: tiny overrides, a few seconds of training.
EPOCHS = 3
TRAIN = ["train", "--epochs", EPOCHS, "--batch-size", 128, "--channels", 8, "--depth", 1,
         "--latent-dim", 4, "--kernel-size", 3, "--dropout", 0.1, "--beta", 1.0, "--warmup", 1,
         "--iw-samples", 4, "--seed", 1]


@pytest.fixture(scope="session")
def background(cli_env, tmp_path_factory):
    """Commands started together at the first request, so that they overlap.

    `{name: Popen}`: the first attempt of the training run (`train`, writing
    to `train_dir`, killed by the `killer` thread with SIGKILL as soon as its
    first backup exists), a sample grid from the pretrained digits preset,
    and a training on a dataset that is not there. A test collects one with
    `finish`.
    """
    out = tmp_path_factory.mktemp("background")
    empty = tmp_path_factory.mktemp("no_datasets")
    offline = {**cli_env, "KERAS_CVAE_DATA_DIR": str(empty), "TFDS_DATA_DIR": str(empty)}
    train_dir = out / "digits_run"
    train = start(cli_env, *TRAIN, "--out", train_dir)
    killer = threading.Thread(target=_kill_after_first_backup, args=(train, train_dir), daemon=True)
    killer.start()
    return {
        "train_dir": train_dir,
        "train": train,
        "killer": killer,
        "sample_pretrained": start(cli_env, "sample", "--preset", "digits_basic", "--num", 16,
                                   "--columns", 8, "--seed", 0, "--out", out / "digits.png"),
        "missing_dataset": start(offline, "train", "--dataset", "mnist", "--preset", "mnist_basic",
                                 "--out", out / "mnist_run"),
    }


def _kill_after_first_backup(process, run_dir):
    backup = run_dir / "backup" / "backup.json"
    deadline = time.monotonic() + TIMEOUT
    while not backup.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
