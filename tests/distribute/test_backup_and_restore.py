"""Backups are complete or absent: a crash while saving leaves the last complete one."""

import os

import keras
import numpy as np
import pytest

import keras_cvae.distribute as kd
from tests.distribute.resumable_run import build

IMAGES = np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32")


def weights(model):
    return [np.asarray(v) for v in model.variables]


def test_save_atomically_keeps_the_previous_file_when_saving_fails(tmp_path, monkeypatch):
    vae = build()
    path = tmp_path / "model.weights.h5"
    kd.save_atomically(vae, path)
    saved = path.read_bytes()

    def crash_half_way(filepath):
        with open(filepath, "wb") as f:
            f.write(b"half a file")
        raise KeyboardInterrupt("killed while saving")

    monkeypatch.setattr(vae, "save_weights", crash_half_way)
    with pytest.raises(KeyboardInterrupt):
        kd.save_atomically(vae, path)
    assert path.read_bytes() == saved
    assert os.listdir(tmp_path) == ["model.weights.h5"]
    with pytest.raises(ValueError, match=r"Expected a name ending with one of \('.keras', '.weights.h5'\)"):
        kd.save_atomically(vae, tmp_path / "model.h5")


def test_crash_while_backing_up_leaves_the_last_complete_backup(tmp_path, monkeypatch):
    vae = build()
    backup = kd.AtomicBackupAndRestore(tmp_path / "backup")
    vae.fit(IMAGES, batch_size=8, epochs=1, callbacks=[backup], verbose=0)
    after_one_epoch = weights(vae)
    state = kd.read_backup_state(tmp_path / "backup")
    assert state["epoch"] == 1

    real_save_weights = vae.save_weights

    def crash_after_writing(filepath):
        real_save_weights(filepath)  # the new weights are written, then the process dies
        raise KeyboardInterrupt("killed before the backup was committed")

    monkeypatch.setattr(vae, "save_weights", crash_after_writing)
    with pytest.raises(KeyboardInterrupt):
        vae.fit(IMAGES, batch_size=8, epochs=2, callbacks=[backup], verbose=0)
    assert kd.read_backup_state(tmp_path / "backup") == state

    restored = build()
    restored.fit(IMAGES, batch_size=8, epochs=1, callbacks=[kd.AtomicBackupAndRestore(tmp_path / "backup")], verbose=0)
    for got, want in zip(weights(restored), after_one_epoch):  # restored, then no epoch left to run
        np.testing.assert_array_equal(got, want)


def test_mid_epoch_backups_and_a_finished_run_trains_no_further(tmp_path, monkeypatch):
    vae = build()
    saved, real_save = [], kd.AtomicBackupAndRestore._save

    def logged_save(self, epoch, name):
        saved.append(name)
        real_save(self, epoch, name)

    monkeypatch.setattr(kd.AtomicBackupAndRestore, "_save", logged_save)
    callbacks = kd.resumable_callbacks(tmp_path, save_freq=3)
    history = vae.fit(IMAGES, batch_size=4, epochs=2, callbacks=callbacks, verbose=0)
    assert len(history.history["loss"]) == 2
    # Every 3rd of 4 batches per epoch, then the end of training.
    assert saved == ["epoch-0-batch-3", "epoch-1-batch-2", "epoch-2"]
    assert sorted(os.listdir(tmp_path / "backup")) == ["backup.json", "epoch-2.weights.h5"]
    again = build()
    callbacks = kd.resumable_callbacks(tmp_path, save_freq=3)
    history = again.fit(IMAGES, batch_size=4, epochs=2, callbacks=callbacks, verbose=0)
    assert history.history == {}


def test_bad_arguments():
    with pytest.raises(ValueError, match="`save_freq`. Expected 'epoch' or an integer >= 1. Received: save_freq=0"):
        kd.AtomicBackupAndRestore("backup", save_freq=0)
    with pytest.raises(ValueError, match="Received: save_freq='batch'"):
        kd.AtomicBackupAndRestore("backup", save_freq="batch")
    assert kd.AtomicBackupAndRestore("backup", save_freq=3).save_freq == 3
    with pytest.raises(ValueError, match="`backup_dir`. Expected a folder path. Received: backup_dir=''"):
        kd.AtomicBackupAndRestore("")
    assert isinstance(kd.resumable_callbacks("run")[0], keras.callbacks.Callback)
