"""`keras-cvae presets`, `sample` from the zoo, `--help`, and what a user sees when it fails."""

import argparse
import os
import re
import subprocess

import pytest

from keras_cvae.zoo import read_metadata
from tests.cli.conftest import COMMAND
from tests.cli.conftest import decode_png
from tests.cli.conftest import finish
from tests.cli.conftest import grid_size
from tests.cli.conftest import run


def _one_line_error(result, *expected):
    code, _, stderr = result
    assert code != 0
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def test_presets_lists_the_zoo_as_a_table(cli_env):
    code, stdout, stderr = run(cli_env, "presets")
    assert code == 0 and stderr == ""
    header, *rows = stdout.strip().splitlines()
    assert header.split() == ["name", "architecture", "input", "params", "dataset", "weights", "test",
                              "bits/dim"]
    by_name = {row.split()[0]: row for row in rows}
    assert set(by_name) == {"digits_basic", "digits_bottleneck", "digits_basic_full",
                            "mnist5k_basic", "photo_patches_bottleneck",
                            "mnist_basic", "cifar10_bottleneck", "celeba64_basic"}
    recorded = read_metadata("digits_basic")
    assert "8×8×1" in by_name["digits_basic"]
    assert f"{recorded['parameter_count']:,}" in by_name["digits_basic"]
    assert by_name["digits_basic"].endswith(f"{recorded['metrics']['bits_per_dim']:.3f}")
    assert "bottleneck ×2, C=256, D=64, k=3" in by_name["digits_bottleneck"]
    assert "no (train it)" in by_name["mnist_basic"] and by_name["mnist_basic"].endswith("—")
    assert "28×28×1" in by_name["mnist5k_basic"] and "sigmoid mean" in by_name["mnist5k_basic"]
    assert "16×16×3" in by_name["photo_patches_bottleneck"]


def test_sample_from_a_pretrained_preset(background):
    code, stdout, stderr = finish(background["sample_pretrained"])
    assert code == 0, stderr
    path = stdout.split(" to ")[-1].strip()
    pixels = decode_png(path)
    assert pixels.shape == (*grid_size(2, 8, image=8, scale=4), 1)  # --num 16 --columns 8
    # Digits: dark backgrounds, some bright strokes in every tile.
    tiles = [pixels[1 + r * 33:33 + r * 33, 1 + c * 33:33 + c * 33] for r in range(2) for c in range(8)]
    assert all(tile.max() > 150 and (tile < 60).mean() > 0.3 for tile in tiles)


def test_interpolate_draws_one_path_per_row(cli_env, tmp_path):
    out = tmp_path / "paths.png"
    code, stdout, stderr = run(cli_env, "interpolate", "--preset", "digits_basic", "--num-pairs", 3,
                               "--num-steps", 5, "--path", "spherical", "--out", out)
    assert code == 0, stderr
    assert "Wrote 3 spherical interpolations of 5 steps" in stdout
    assert decode_png(out).shape == (*grid_size(3, 5, image=8, scale=4), 1)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["train", "--epochs", "0"], ["--epochs", "an integer >= 1", "Received: 0"]),
        (["train", "--dropout", "1.5"], ["--dropout", ">= 0 and < 1", "Received: 1.5"]),
        (["train", "--learning-rate", "-1"], ["--learning-rate", "> 0", "Received: -1"]),
        (["train", "--augment-shift", "-1"], ["--augment-shift", "an integer >= 0", "Received: -1"]),
        (["train", "--strategy", "gpus"], ["--strategy", "'one_device'", "'gpus'"]),
        (["sample", "--preset", "digits_basic", "--num", "many"], ["--num", "Received: 'many'"]),
        (["sample", "--preset", "digits_basic", "--prior", "gmm", "--out", "x.png"],
         ["--prior", "'standard'", "'gmm'"]),
        (["interpolate", "--preset", "digits_basic", "--num-steps", "1", "--out", "x.png"],
         ["--num-steps", "an integer >= 2", "Received: 1"]),
        (["bogus"], ["invalid choice: 'bogus'", "train"]),
    ],
)
def test_bad_flag_values_give_one_line_with_the_accepted_range(args, expected):
    result = subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=60,
                            check=False)
    _one_line_error((result.returncode, result.stdout, result.stderr), *expected)


def test_unknown_preset_lists_the_known_names(cli_env, tmp_path):
    result = run(cli_env, "sample", "--preset", "digits_basic_typo", "--out", tmp_path / "x.png")
    line = _one_line_error(result, "Unknown preset 'digits_basic_typo'")
    for name in ("digits_basic", "digits_bottleneck", "mnist_basic", "celeba64_basic"):
        assert name in line


def test_verbose_shows_the_traceback(cli_env, tmp_path):
    code, _, stderr = run(cli_env, "--verbose", "sample", "--preset", "nope", "--out", tmp_path / "x.png")
    assert code != 0 and "Traceback" in stderr and "Unknown preset 'nope'" in stderr


def test_missing_dataset_offline_says_how_to_get_it(background):
    line = _one_line_error(finish(background["missing_dataset"]), "'mnist' is not prepared",
                           "tfds build mnist", "pass --data-dir DIR")
    assert "data_dir=DIR)" in line  # the Python call quoted in the message is left as it is


def test_errors_name_the_flags_not_the_library_arguments(cli_env, tmp_path):
    (tmp_path / "notes.txt").write_text("not a run")
    line = _one_line_error(run(cli_env, "train", "--out", tmp_path, "--epochs", 1),
                           "choose another folder", "--overwrite")
    assert "overwrite=" not in line


def test_the_first_digits_load_prints_only_the_result(cli_env, tmp_path):
    fresh = {**cli_env, "KERAS_CVAE_DATA_DIR": str(tmp_path / "data")}
    code, stdout, stderr = run(fresh, "reconstruct", "--preset", "digits_basic", "--num", 2,
                               "--out", tmp_path / "recon.png")
    assert code == 0, stderr
    assert (tmp_path / "data" / "keras_cvae_digits").is_dir()  # prepared by this command
    out = tmp_path / "recon.png"
    assert stdout == f"Wrote 2 inputs (top) and reconstructions (bottom) to {out}\n"
    assert stderr == ""


def _option_actions():
    """`(command, actions)` of `keras-cvae` itself and of every sub-command."""
    from keras_cvae import cli

    parser = cli.build_parser()
    yield "keras-cvae", parser._actions
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, sub in commands.choices.items():
        yield name, sub._actions


def test_every_flag_has_a_description_and_its_default():
    undescribed, no_default = [], []
    for command, actions in _option_actions():
        for action in actions:
            if not action.option_strings or action.dest == "help":
                continue
            flag = f"{command} {action.option_strings[-1]}"
            text = action.help or ""
            described = re.sub(r"\(?default: [^)]*\)?", "", text)
            if len(re.findall(r"[A-Za-z]{2,}", described)) < 2:
                undescribed.append(f"{flag}: {text!r}")
            if action.default not in (None, argparse.SUPPRESS) and "default: " not in text:
                no_default.append(f"{flag} (default {action.default!r}): {text!r}")
    assert not undescribed, "flags without a description:\n" + "\n".join(undescribed)
    assert not no_default, "flags whose help does not give the default:\n" + "\n".join(no_default)
    assert sum(1 for _ in _option_actions()) == 8  # keras-cvae and its seven commands


@pytest.mark.parametrize("command, message, expected", [
    ("train", "exists: pass --overwrite (overwrite=True) or choose another folder.",
     "exists: pass --overwrite or choose another folder."),
    ("export", "/x already exists. Pass `overwrite=True` (`--overwrite` on the command line) to "
               "replace it. Received: path='/x'",
     "/x already exists. Pass `--overwrite` to replace it. Received: --out /x"),
    ("evaluate", "run `tfds build mnist --data_dir DIR` (or `tfds.builder('mnist', data_dir=DIR)"
                 ".download_and_prepare()`), then pass data_dir=DIR or set $KERAS_CVAE_DATA_DIR=DIR.",
     "run `tfds build mnist --data_dir DIR` (or `tfds.builder('mnist', data_dir=DIR)"
     ".download_and_prepare()`), then pass --data-dir DIR or set $KERAS_CVAE_DATA_DIR=DIR."),
    ("train", "images of 'x'. Received: batch_size=2000.",
     "images of 'x'. Received: --batch-size 2000."),
    ("train", "Unknown dataset 'mnits'. Received: name='mnits'",
     "Unknown dataset 'mnits'. Received: --dataset mnits"),
    ("train", "Expected an `warmup_epochs` >= 0. Received: warmup_epochs=-1 and dropout_rate=1",
     "Expected an `--warmup` >= 0. Received: --warmup -1 and --dropout 1"),
    ("sample", "Received: num_samples=0 and prior='fitted'", "Received: --num 0 and --prior fitted"),
    ("train", "the 28×28 images. Received: augment_shift=14",
     "the 28×28 images. Received: --augment-shift 14"),
    ("evaluate", "Received: num_samples=0, split='train[:1%]'",
     "Received: --iw-samples 0, --split train[:1%]"),
    ("evaluate", "Received: input_shape=(None, 8), intensity_levels=None, TF_CONFIG='{}'",
     "Received: input_shape=(None, 8), intensity_levels=None, TF_CONFIG='{}'"),
])
def test_the_error_printer_writes_flag_names(command, message, expected):
    from keras_cvae import cli

    argv = [command, "--preset", "digits_basic", *(["--out", "x"] if command in ("sample", "export")
                                                   else [])]
    args = cli.build_parser().parse_args(argv)
    assert cli._error_line(ValueError(message), args) == expected


def test_a_trained_preset_records_its_command_without_where_the_run_went(monkeypatch):
    from keras_cvae import cli
    from keras_cvae import training

    commands = []
    monkeypatch.setattr(training, "train", lambda *args, command, **kwargs: commands.append(command))
    argv = ["train", "--preset", "digits_basic", "--out", "runs/a b", "--epochs", "2", "--overwrite",
            "--out=runs/c", "--preset-dir", "zoo/digits_basic"]
    args = cli.build_parser().parse_args(argv)
    args.argv = argv
    cli.train(args)
    assert commands == ["keras-cvae train --preset digits_basic --epochs 2 --preset-dir zoo/digits_basic"]


def test_train_passes_the_augment_shift_to_the_trainer(monkeypatch):
    from keras_cvae import cli
    from keras_cvae import training

    configs = []
    monkeypatch.setattr(training, "train", lambda config, *args, **kwargs: configs.append(config))
    for argv, expected in ((["--augment-shift", "3"], 3), ([], None)):
        args = cli.build_parser().parse_args(["train", "--preset", "mnist5k_basic", *argv])
        assert args.augment_shift == expected
        cli.train(args)
        assert configs[-1].augment_shift == expected  # None: the preset's (2 for mnist5k_basic)


@pytest.mark.parametrize(
    "strategy, environment, expected",
    [("auto", None, None), ("one_device", None, None), ("mirrored", None, "0"), ("mirrored", "1", "1")],
)
def test_train_turns_off_onednn_for_mirrored_unless_set(monkeypatch, strategy, environment, expected):
    from keras_cvae import cli

    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "")  # recorded, so undone after the test
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    if environment is not None:
        monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", environment)
    cli._keep_onednn_off_if_mirrored(strategy)
    assert os.environ.get("TF_ENABLE_ONEDNN_OPTS") == expected
