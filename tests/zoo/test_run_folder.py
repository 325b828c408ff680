"""The run folder of `keras_cvae.training.train`: what a restart keeps, refuses and discards.

`run.json` is written only once training is about to start: a run that fails
on its data leaves nothing that refuses the corrected command.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

import keras_cvae

from keras_cvae.training import TrainingConfig
from keras_cvae.training import run_folder as training
from keras_cvae.training import train

ARGUMENTS = {"preset": "digits_basic", "epochs": 2, "seed": 0}


def _run_with_a_finished_preset(tmp_path):
    run_dir, preset_dir = tmp_path / "run", tmp_path / "run" / "preset"
    os.makedirs(preset_dir)
    (preset_dir / "config.json").write_text("{}")
    (preset_dir / "metadata.json").write_text(json.dumps(  # as `save_to_preset` writes it
        {"preset": "digits_basic", "keras_cvae_version": keras_cvae.__version__,
         "files": ["config.json", "metadata.json"]}))
    for folder in (training.BACKUP_DIR, training.LOG_DIR, training.SAMPLES_DIR):
        os.makedirs(run_dir / folder)
    (run_dir / training.RUN_FILE).write_text(json.dumps(ARGUMENTS))
    (run_dir / training.METRICS_FILE).write_text("{}")
    return str(run_dir), str(preset_dir)


def _listing(path):
    return sorted(os.path.relpath(os.path.join(parent, name), path)
                  for parent, folders, files in os.walk(path) for name in folders + files)


def _contents(path):
    """`{relative path: bytes}` of every file under `path` (folders as None)."""
    return {name: None if os.path.isdir(os.path.join(path, name)) else
            open(os.path.join(path, name), "rb").read() for name in _listing(path)}


@pytest.mark.parametrize("overwrite", [True, False])
def test_a_started_run_keeps_the_previous_one_aside_until_it_succeeds(tmp_path, overwrite):
    run_dir, preset_dir = _run_with_a_finished_preset(tmp_path)
    (tmp_path / "run" / training.LOG_DIR / "events").write_bytes(b"old events")
    before = _contents(run_dir)
    arguments = {**ARGUMENTS, "epochs": 3}
    assert training.check_run(run_dir, arguments, True, preset_dir) is None
    assert _contents(run_dir) == before  # checking writes and removes nothing
    snapshot = training.start_run(run_dir, arguments, overwrite)
    kept = ["preset", training.RUN_FILE] if overwrite else [n for n in before if os.sep not in n]
    assert sorted(name for name in os.listdir(run_dir) if not name.startswith(".")) == kept
    assert json.load(open(os.path.join(run_dir, training.RUN_FILE)))["epochs"] == 3
    os.makedirs(os.path.join(run_dir, training.LOG_DIR), exist_ok=True)
    with open(os.path.join(run_dir, training.LOG_DIR, "events"), "ab") as f:  # appended in place
        f.write(b" and new ones")
    snapshot.restore()  # the run failed
    assert _contents(run_dir) == before
    training.start_run(run_dir, arguments, overwrite).discard()  # the run succeeded
    assert not os.path.exists(os.path.join(run_dir, training.SNAPSHOT_DIR))
    assert json.load(open(os.path.join(run_dir, training.RUN_FILE)))["epochs"] == 3
    assert os.path.exists(os.path.join(preset_dir, "metadata.json"))


@pytest.mark.parametrize("overwrite", [True, False])
def test_a_full_disk_while_keeping_the_previous_run_changes_nothing(tmp_path, monkeypatch, overwrite):
    import errno

    from keras_cvae.training import run_snapshot

    run_dir, _ = _run_with_a_finished_preset(tmp_path)
    before = _contents(run_dir)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    renames, real_rename = [], os.rename

    def second_rename_fails(source, target):  # moving aside: run.json moves, metrics.json fails
        renames.append(source)
        if len(renames) == 2:
            disk_full()
        real_rename(source, target)

    monkeypatch.setattr(run_snapshot.shutil, "copytree", disk_full)  # copying the backups
    monkeypatch.setattr(run_snapshot.os, "rename", second_rename_fails)
    with pytest.raises(OSError, match="No space left on device"):
        training.start_run(run_dir, {**ARGUMENTS, "epochs": 3}, overwrite)
    assert _contents(run_dir) == before


def test_same_arguments_return_the_finished_run_and_others_are_refused(tmp_path):
    run_dir, preset_dir = _run_with_a_finished_preset(tmp_path)
    finished = training.check_run(run_dir, ARGUMENTS, False, preset_dir)
    assert finished == json.load(open(os.path.join(preset_dir, "metadata.json")))
    with pytest.raises(FileExistsError, match=r"other arguments \(epochs differ\)"):
        training.check_run(run_dir, {**ARGUMENTS, "epochs": 3}, False, preset_dir)


def test_checking_a_new_or_foreign_folder_writes_nothing(tmp_path):
    run_dir = str(tmp_path / "new")
    assert training.check_run(run_dir, ARGUMENTS, False, os.path.join(run_dir, "preset")) is None
    assert not os.path.exists(run_dir)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="is not a keras_cvae run"):
        training.check_run(str(tmp_path / "foreign"), ARGUMENTS, False, str(tmp_path / "p"))


# === Training on a folder of images: a failure before training blocks nothing ===


def _pngs(folder, count, size, first=0):
    """`count` gray PNGs of `size`x`size` in a flat folder (split by file name hash).

    A bright square on a dark ground, with noise: structure that one epoch can learn.
    """
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    square = np.zeros((size, size, 1))
    square[size // 4:3 * size // 4, size // 4:3 * size // 4] = 180
    images = (square + rng.integers(0, 60, (count, size, size, 1))).astype(np.uint8)
    for i, image in enumerate(images, start=first):
        tf.io.write_file(os.path.join(folder, f"{i:03d}.png"), tf.io.encode_png(image))
    return str(folder)


def _mixed_sizes(folder, count):
    """`count` PNGs, the first 16x16, the others 12x12."""
    _pngs(folder, 1, 16)
    return _pngs(folder, count - 1, 12, first=1)


def _tiny_config(dataset, **changes):
    return TrainingConfig("digits_basic", dataset=dataset, epochs=1, batch_size=16, num_samples=2,
                          prior_components=0,
                          overrides={"channels": 4, "depth": 1, "latent_dim": 2}, **changes)


SIZE_ERROR = (r"Expected images of one size in '.*pngs', or an `image_size` and resize=True to "
              r"resize them \(`keras-cvae train --resize`: to the preset's size\). Received: "
              r"'000.png' of size 16x16 and '001.png' of size 12x12 \(and \d+ more of another "
              r"size\)")


def test_a_folder_at_another_size_trains_the_presets_network_at_its_size(tmp_path):
    metadata = train(_tiny_config(_pngs(tmp_path / "pngs", 40, 16)), str(tmp_path / "preset"),
                     verbose=0)
    assert metadata["input_shape"] == [16, 16, 1]
    assert metadata["network_of"] == {"preset": "digits_basic", "input_shape": [8, 8, 1]}
    model = keras_cvae.VAE.from_preset(str(tmp_path / "preset"))
    assert model.image_shape == (16, 16, 1) and model.sample(2).shape == (2, 16, 16, 1)


def test_a_run_refused_for_its_image_sizes_leaves_nothing_and_the_corrected_one_trains(tmp_path):
    pngs = _mixed_sizes(tmp_path / "pngs", 40)
    run_dir, preset_dir = str(tmp_path / "run"), str(tmp_path / "run" / "preset")
    with pytest.raises(ValueError, match=SIZE_ERROR):
        train(_tiny_config(pngs), preset_dir, run_dir=run_dir, verbose=0)
    assert not os.path.exists(run_dir)
    # The corrected command (resizing all to the preset's 8x8), without overwrite.
    metadata = train(_tiny_config(pngs, resize_images=True), preset_dir, run_dir=run_dir,
                     verbose=0)
    recorded = json.load(open(os.path.join(run_dir, training.RUN_FILE)))
    assert recorded["resize_images"] is True and recorded["dataset"] == pngs
    assert metadata["training"]["resize_images"] is True
    assert metadata["input_shape"] == [8, 8, 1]
    assert metadata["dataset"]["num_train"] + metadata["dataset"]["num_test"] == 40
    assert os.path.exists(os.path.join(run_dir, training.METRICS_FILE))


def test_a_failed_overwrite_keeps_the_earlier_run(tmp_path):
    run_dir, preset_dir = _run_with_a_finished_preset(tmp_path)
    before = _listing(run_dir)
    with pytest.raises(ValueError, match=SIZE_ERROR):
        train(_tiny_config(_mixed_sizes(tmp_path / "pngs", 12)), preset_dir, run_dir=run_dir,
              overwrite=True, verbose=0)
    assert _listing(run_dir) == before
    assert json.load(open(os.path.join(run_dir, training.RUN_FILE))) == ARGUMENTS


def test_a_folder_without_images_leaves_nothing(tmp_path):
    (tmp_path / "empty").mkdir()
    run_dir = str(tmp_path / "run")
    with pytest.raises(ValueError, match=r"Expected PNG or JPEG files .* under '.*empty'"):
        train(_tiny_config(str(tmp_path / "empty")), os.path.join(run_dir, "preset"),
              run_dir=run_dir, verbose=0)
    assert not os.path.exists(run_dir)
