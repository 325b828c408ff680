"""Drives `keras-cvae` as a user does: in a fresh process, reading only its output and files."""

import os
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib

import numpy as np
import pytest

TIMEOUT = 300
_SCRIPT = os.path.join(os.path.dirname(sys.executable), "keras-cvae")
# The installed console script, else `python -m keras_cvae`.
COMMAND = [_SCRIPT] if os.path.exists(_SCRIPT) else [sys.executable, "-m", "keras_cvae"]


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


def png_shape(path):
    """`(height, width, channels)` of an 8-bit PNG whose pixel data is complete."""
    return _read_png(path)[:3]


def decode_png(path):
    """The pixels `(height, width, channels)` of an 8-bit, non-interlaced PNG, without TensorFlow."""
    height, width, channels, raw = _read_png(path)
    stride = width * channels
    previous = np.zeros(stride, np.int64)
    rows = []
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int64)
        row = np.zeros(stride, np.int64)
        for x in range(stride):
            left = row[x - channels] if x >= channels else 0
            up_left = previous[x - channels] if x >= channels else 0
            up = previous[x]
            if kind == 4:  # Paeth
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
            else:
                predictor = (0, left, up, (left + up) // 2)[kind]
            row[x] = (line[x] + predictor) % 256
        rows.append(row)
        previous = row
    return np.stack(rows).astype(np.uint8).reshape(height, width, channels)


def _read_png(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    position, chunks = 8, {}
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind = data[position + 4:position + 8]
        chunks[kind] = chunks.get(kind, b"") + data[position + 8:position + 8 + length]
        position += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert depth == 8 and interlace == 0, (depth, interlace)
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color]
    raw = zlib.decompress(chunks[b"IDAT"])
    assert len(raw) == height * (1 + width * channels), "truncated pixel data"
    return height, width, channels, raw


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
