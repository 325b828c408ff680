"""`keras-cvae train`, killed after its first backup and run again, then the commands on its run.

One short run on the embedded digits (tiny overrides, a few seconds of
training) serves every test here: it is killed with SIGKILL once the first
epoch's backup exists, rerun with the same command, and must resume from that
epoch and write every promised file. `evaluate`, `reconstruct` and `export` then
run on its preset, side by side.
"""

import json
import math
import re
import signal

import numpy as np
import pytest

from tests.cli.conftest import EPOCHS
from tests.cli.conftest import TIMEOUT
from tests.cli.conftest import TRAIN
from tests.cli.conftest import decode_png
from tests.cli.conftest import finish
from tests.cli.conftest import grid_size
from tests.cli.conftest import png_shape
from tests.cli.conftest import start

PRESET_FILES = ("config.json", "model.weights.h5", "metadata.json", "README.md", "samples.png",
                "reconstructions.png")


@pytest.fixture(scope="module")
def run(cli_env, background):
    run_dir = background["train_dir"]
    command = [*TRAIN, "--out", run_dir]
    process = background["train"]  # started as `start(cli_env, *command)`
    background["killer"].join(TIMEOUT)
    backup = run_dir / "backup" / "backup.json"
    if not backup.exists():
        pytest.fail(f"train wrote no backup (exit {process.returncode}):\n{finish(process)}")
    assert process.returncode == -signal.SIGKILL, "the first attempt ended by itself"
    killed = {
        "epoch": json.loads(backup.read_text())["epoch"],
        "metrics": (run_dir / "metrics.json").exists(),
        "preset": (run_dir / "preset").exists(),
    }
    code, stdout, stderr = finish(start(cli_env, *command))
    assert code == 0, f"exit {code}:\n{stdout[-3000:]}\n{stderr[-3000:]}"
    return {"dir": run_dir, "killed": killed, "stdout": stdout, "stderr": stderr}


@pytest.fixture(scope="module")
def commands(run, cli_env, tmp_path_factory):
    """`evaluate`, `reconstruct` and `export` on the run's preset, started together."""
    out = tmp_path_factory.mktemp("cli_outputs")
    preset = run["dir"] / "preset"
    started = {
        "evaluate": start(cli_env, "evaluate", "--preset", preset, "--iw-samples", 3,
                          "--json", out / "eval.json"),
        "reconstruct": start(cli_env, "reconstruct", "--preset", preset, "--num", 5, "--scale", 3,
                             "--out", out / "recon.png"),
        "export": start(cli_env, "export", "--preset", preset, "--format", "saved_model",
                        "--out", out / "export"),
    }
    results = {}
    for name, process in started.items():
        code, stdout, stderr = finish(process)
        assert code == 0, f"{name}: exit {code}:\n{stdout[-3000:]}\n{stderr[-3000:]}"
        results[name] = stdout
    return out, results


def test_killed_run_resumes_from_its_backup_not_from_epoch_0(run):
    killed = run["killed"]
    assert 1 <= killed["epoch"] < EPOCHS, killed
    assert not killed["metrics"] and not killed["preset"], "killed before the end, nothing final"
    stdout = run["stdout"]
    assert f"Resuming from the backup of epoch {killed['epoch']}/{EPOCHS}" in stdout
    epochs = [int(e) for e in re.findall(rf"Epoch (\d+)/{EPOCHS}", stdout)]
    assert epochs == list(range(killed["epoch"] + 1, EPOCHS + 1))
    metadata = json.loads((run["dir"] / "preset" / "metadata.json").read_text())
    assert metadata["training"]["resumed_from_epoch"] == killed["epoch"]
    assert metadata["training"]["epochs"] == EPOCHS
    assert json.loads((run["dir"] / "backup" / "backup.json").read_text())["epoch"] == EPOCHS


def test_run_writes_every_promised_file(run):
    run_dir = run["dir"]
    for name in PRESET_FILES:
        assert (run_dir / "preset" / name).stat().st_size > 0, name
    metadata = json.loads((run_dir / "preset" / "metadata.json").read_text())
    vae = json.loads((run_dir / "preset" / "config.json").read_text())["config"]
    encoder = vae["encoder"]["config"]
    net = encoder["conv_net"]["config"]
    assert (net["channels"], net["depth"], net["dropout_rate"]) == (8, 1, 0.1)
    assert encoder["latent_dim"] == 4
    assert vae["kl_warmup_steps"] == math.ceil(1437 / 128)  # one epoch
    assert metadata["training"]["seed"] == vae["seed"] == 1
    assert metadata["dataset"]["name"] == "digits"
    assert metadata["dataset"]["num_train"] == 1437 and metadata["dataset"]["num_test"] == 360

    for epoch in range(1, EPOCHS + 1):  # written by both processes
        samples = png_shape(run_dir / "samples" / f"samples_epoch_{epoch:03d}.png")
        assert samples[:2] == grid_size(8, 8, image=8, scale=4)
        recon = png_shape(run_dir / "samples" / f"reconstructions_epoch_{epoch:03d}.png")
        assert recon[:2] == grid_size(2, 8, image=8, scale=4)

    events = {part: b"".join(p.read_bytes() for p in (run_dir / "logs" / part).iterdir())
              for part in ("train", "validation", "images")}
    assert b"epoch_loss" in events["train"] and b"epoch_kl" in events["train"]
    assert b"epoch_loss" in events["validation"]
    assert b"samples" in events["images"] and b"reconstructions" in events["images"]

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics == metadata["metrics"] and metrics["num_samples"] == 4
    for key in ("negative_elbo_nats", "nll_nats", "bits_per_dim"):
        assert math.isfinite(metrics[key]), key
    assert metrics["bits_per_dim"] > 0

    last_lines = run["stdout"].strip().splitlines()[-5:]
    for path in (run_dir / "preset", run_dir / "metrics.json",
                 run_dir / "samples" / f"samples_epoch_{EPOCHS:03d}.png"):
        assert any(str(path) in line for line in last_lines), path


def _event_steps(folder):
    """`{tag: set of steps}` of the TensorBoard event files in `folder`."""
    import tensorflow as tf

    steps = {}
    for path in folder.iterdir():
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                steps.setdefault(value.tag, set()).add(event.step)
    return steps


def test_tensorboard_scalars_and_images_use_the_same_epoch_steps(run):
    logs = run["dir"] / "logs"
    epochs = set(range(EPOCHS))  # Keras logs epoch scalars at the epoch index, from 0
    assert _event_steps(logs / "train")["epoch_loss"] == epochs
    assert _event_steps(logs / "validation")["epoch_loss"] == epochs
    images = _event_steps(logs / "images")
    assert images["samples"] == images["reconstructions"] == epochs


def test_tensorflow_start_up_noise_is_hidden(run):
    assert "cuda" not in run["stderr"].lower() and "absl" not in run["stderr"]


def test_evaluate_prints_and_writes_the_same_metrics(commands):
    out, stdout = commands
    results = json.loads((out / "eval.json").read_text())
    assert json.loads(stdout["evaluate"][stdout["evaluate"].index("{"):]) == results
    assert results["num_examples"] == 360 and results["num_samples"] == 3
    assert results["split"] == "test" and results["dataset"] == "digits"
    # IWAE with K = 3 is a tighter bound than the ELBO (up to Monte-Carlo noise).
    assert results["nll"] <= results["negative_elbo"] + 1.0
    dims, levels = 64, 17
    bits = (results["nll"] + dims * math.log(levels)) / (dims * math.log(2))
    assert results["bits_per_dim"] == pytest.approx(bits, rel=1e-6)


def test_reconstruct_puts_inputs_above_reconstructions(commands):
    from sklearn.datasets import load_digits

    out, _ = commands
    pixels = decode_png(out / "recon.png")[..., 0]
    assert pixels.shape == grid_size(2, 5, image=8, scale=3)
    inputs = np.round(load_digits().images[1437:1442] / 16 * 255).astype("uint8")  # test split
    for i, digit in enumerate(inputs):
        left = 1 + i * (8 * 3 + 1)
        np.testing.assert_array_equal(pixels[1:25:3, left:left + 24:3], digit)  # top row: inputs
        below = pixels[26:50:3, left:left + 24:3]
        assert not np.array_equal(below, digit) and below.std() > 0  # bottom row: reconstructions


def test_export_writes_a_saved_model_and_report(commands):
    out, _ = commands
    assert (out / "export" / "saved_model" / "vae" / "1" / "saved_model.pb").exists()
    report = json.loads((out / "export" / "export_report.json").read_text())
    assert "saved_model" in report["artifacts"]


def test_a_diverged_overwrite_fails_in_one_line_and_keeps_the_finished_run(run, cli_env, tmp_path):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(run["dir"], run_dir)
    before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    code, stdout, stderr = finish(start(cli_env, *TRAIN, "--learning-rate", "1e30", "--overwrite",
                                        "--out", run_dir))
    assert code == 2, stdout[-2000:] + stderr[-2000:]
    assert re.fullmatch(
        r"keras-cvae train: error: Training diverged: the loss is nan at epoch 1, batch \d+\. "
        r"Nothing was published; the previous preset and run folder are unchanged\. "
        r"Try a lower learning rate than --learning-rate 1e\+30\.\n", stderr), stderr[-2000:]
    assert {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()} == before
