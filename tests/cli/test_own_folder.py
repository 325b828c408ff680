"""`keras-cvae train --dataset FOLDER` at the images' own size, and every command on the result.

Two tiny runs (one epoch, tiny overrides), started together: a flat folder of
25×25 grayscale PNGs with no `--preset` (the default network for grayscale
images), and a folder of 20×32 colour PNGs, a few of them grayscale, with
`--preset digits_basic` (an 8×8×1 preset). `evaluate`, `sample`,
`interpolate`, `reconstruct` and `export` then run on the colour preset.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.cli.conftest import decode_png
from tests.cli.conftest import finish
from tests.cli.conftest import start

TINY = ["--epochs", 1, "--batch-size", 16, "--channels", 4, "--bottleneck-channels", 4,
        "--depth", 1, "--latent-dim", 2, "--iw-samples", 2, "--prior-components", 2]


def _pngs(folder, count, height, width, channels, grayscale_every=0):
    """A bright rectangle on a dark ground with noise; every `grayscale_every`-th image grayscale."""
    os.makedirs(folder)
    rng = np.random.default_rng(0)
    for i in range(count):
        depth = 1 if grayscale_every and i % grayscale_every == 0 else channels
        image = np.zeros((height, width, depth))
        image[height // 4:3 * height // 4, width // 4:3 * width // 4] = 180
        image = (image + rng.integers(0, 60, image.shape)).astype(np.uint8)
        tf.io.write_file(os.path.join(folder, f"{i:03d}.png"), tf.io.encode_png(image))
    return folder


@pytest.fixture(scope="module")
def runs(cli_env, tmp_path_factory):
    root = tmp_path_factory.mktemp("own_folders")
    gray = _pngs(root / "gray25", 40, 25, 25, 1)
    colour = _pngs(root / "colour20x32", 40, 20, 32, 3, grayscale_every=5)
    started = {
        "gray": start(cli_env, "train", "--dataset", gray, *TINY, "--out", root / "gray_run"),
        "colour": start(cli_env, "train", "--dataset", colour, "--preset", "digits_basic", *TINY,
                        "--out", root / "colour_run"),
    }
    results = {}
    for name, process in started.items():
        code, stdout, stderr = finish(process)
        assert code == 0, f"{name}: exit {code}:\n{stdout[-3000:]}\n{stderr[-3000:]}"
        preset = root / f"{name}_run" / "preset"
        results[name] = {"stdout": stdout, "preset": preset,
                         "metadata": json.loads((preset / "metadata.json").read_text())}
    return root, results


def test_grayscale_folder_trains_at_its_size_with_the_default_network(runs):
    _, results = runs
    run = results["gray"]
    assert ("Building mnist5k_basic's network for the 25×25×1 images of" in run["stdout"]
            and "(the preset takes 28×28×1;" in run["stdout"])
    metadata = run["metadata"]
    assert metadata["input_shape"] == [25, 25, 1]
    assert metadata["network_of"] == {"preset": "mnist5k_basic", "input_shape": [28, 28, 1]}
    assert metadata["description"].startswith("mnist5k_basic's network, built for the 25×25×1")
    card = (run["preset"] / "README.md").read_text()
    assert 'from_preset("path/to/this/folder")' in card and "(25, 25, 1)" in card
    assert decode_png(run["preset"] / "samples.png").shape[-1] == 1


def test_a_colour_folder_stays_colour_and_every_command_runs_on_it(runs, cli_env):
    root, results = runs
    run = results["colour"]
    assert "Building digits_basic's network for the 20×32×3 images" in run["stdout"]
    assert run["metadata"]["input_shape"] == [20, 32, 3]  # the grayscale fifth converted to RGB
    preset = run["preset"]
    commands = {
        "evaluate": ["evaluate", "--iw-samples", 2, "--json", root / "eval.json"],
        "sample": ["sample", "--num", 6, "--columns", 3, "--out", root / "samples.png"],
        "interpolate": ["interpolate", "--num-pairs", 2, "--num-steps", 4,
                        "--out", root / "paths.png"],
        "reconstruct": ["reconstruct", "--num", 3, "--out", root / "recon.png"],
        "export": ["export", "--format", "saved_model", "--out", root / "export"],
    }
    started = {name: start(cli_env, *args[:1], "--preset", preset, *args[1:])
               for name, args in commands.items()}
    for name, process in started.items():
        code, stdout, stderr = finish(process)
        assert code == 0, f"{name}: exit {code}:\n{stdout[-3000:]}\n{stderr[-3000:]}"
    assert np.isfinite(json.loads((root / "eval.json").read_text())["bits_per_dim"])
    scale = 4  # the commands' default enlargement
    tile_h, tile_w = 20 * scale + 1, 32 * scale + 1
    assert decode_png(root / "samples.png").shape == (2 * tile_h + 1, 3 * tile_w + 1, 3)
    assert decode_png(root / "paths.png").shape == (2 * tile_h + 1, 4 * tile_w + 1, 3)
    assert decode_png(root / "recon.png").shape[-1] == 3
    assert (root / "export" / "saved_model" / "saved_model.pb").exists() or any(
        name == "saved_model.pb" for _, _, files in os.walk(root / "export") for name in files)
