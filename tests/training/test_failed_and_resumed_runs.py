"""A run that fails publishes nothing and leaves the run folder as it was; a resumed run is exact.

One uninterrupted tiny run on the digits is the reference of every test: a run
stopped after its first epoch and resumed ends with the same weights and
metrics, and failing runs over a copy of it (diverged, disk full) leave that
copy byte for byte as it was.
"""

import errno
import json
import os
import shutil

import h5py
import numpy as np
import pytest

from keras_cvae.distribute import backup_and_restore
from keras_cvae.training import TrainingConfig
from keras_cvae.training import run_folder
from keras_cvae.training import train
from keras_cvae.training import trainer
from keras_cvae.training.divergence import TrainingDivergedError

EPOCHS = 2


def _config(**changes):
    return TrainingConfig(**{
        "preset": "digits_basic", "epochs": EPOCHS, "batch_size": 512, "learning_rate": 1e-2,
        "num_samples": 2, "prior_components": 0,
        "overrides": {"channels": 4, "depth": 1, "latent_dim": 2}, **changes})


@pytest.fixture(autouse=True)
def _small_checks(monkeypatch):
    monkeypatch.setattr(trainer, "CHECK_NUM_SAMPLES", 2)
    monkeypatch.setattr(trainer, "_sample_quality", lambda *args: None)


def _train(run_dir, **kwargs):
    return train(_config(**kwargs.pop("config", {})), os.path.join(run_dir, "preset"),
                 run_dir=str(run_dir), verbose=0, **kwargs)


def _contents(path):
    """`{relative path: bytes}` of every file under `path`, hidden ones too (folders as None)."""
    found = {}
    for parent, folders, files in os.walk(path):
        for name in folders + files:
            full = os.path.join(parent, name)
            found[os.path.relpath(full, path)] = None if name in folders else open(full, "rb").read()
    return found


def _weights(path):
    with h5py.File(path, "r") as f:
        arrays = {}
        f.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                     if isinstance(item, h5py.Dataset) else None)
    return arrays


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """An uninterrupted run: `(run_dir, metadata)`."""
    run_dir = tmp_path_factory.mktemp("uninterrupted") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer, "CHECK_NUM_SAMPLES", 2)
        patch.setattr(trainer, "_sample_quality", lambda *args: None)
        metadata = _train(run_dir)
    return run_dir, metadata


@pytest.fixture
def previous(finished, tmp_path):
    """A copy of the finished run, and its contents."""
    run_dir = tmp_path / "run"
    shutil.copytree(finished[0], run_dir)
    recorded = json.loads((run_dir / run_folder.RUN_FILE).read_text())  # the copy's own preset
    recorded["preset_dir"] = str(run_dir / "preset")
    (run_dir / run_folder.RUN_FILE).write_text(json.dumps(recorded))
    return run_dir, _contents(run_dir)


def test_a_run_stopped_after_an_epoch_resumes_to_the_same_weights_and_metrics(finished, tmp_path,
                                                                              monkeypatch):
    reference_dir, reference = finished
    run_dir = tmp_path / "run"
    real_save = backup_and_restore.AtomicBackupAndRestore._save

    def killed_after_the_first_backup(self, epoch, name):
        real_save(self, epoch, name)
        raise KeyboardInterrupt  # as a kill: the run folder keeps the backup

    with monkeypatch.context() as patch:
        patch.setattr(backup_and_restore.AtomicBackupAndRestore, "_save", killed_after_the_first_backup)
        with pytest.raises(KeyboardInterrupt):
            _train(run_dir)
    assert json.loads((run_dir / "backup" / "backup.json").read_text())["epoch"] == 1
    metadata = _train(run_dir)
    assert metadata["training"]["resumed_from_epoch"] == 1
    for name in ("metrics", "check_metrics"):
        timeless = {key: value for key, value in metadata[name].items() if key != "eval_seconds"}
        assert timeless == {key: reference[name][key] for key in timeless}
    assert metadata["training"]["progress_check"] == reference["training"]["progress_check"]
    for folder in ("preset", "backup"):
        file = "model.weights.h5" if folder == "preset" else f"epoch-{EPOCHS}.weights.h5"
        got, want = _weights(run_dir / folder / file), _weights(reference_dir / folder / file)
        assert got.keys() == want.keys()
        for key in want:
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_a_diverged_run_fails_and_leaves_the_previous_run_and_preset(previous):
    run_dir, before = previous
    with pytest.raises(TrainingDivergedError,
                       match=r"^Training diverged: the loss is nan at epoch 1, batch \d+\. Nothing "
                             r"was published; the previous preset and run folder are unchanged\. "
                             r"Try a lower learning rate than learning_rate=1e\+30\.$"):
        _train(run_dir, overwrite=True, config={"learning_rate": 1e30})
    assert _contents(run_dir) == before


def test_a_full_disk_fails_with_one_line_and_keeps_the_previous_backup(tmp_path, monkeypatch):
    # The trainer puts the run folder back after any failure (as after a divergence, above).
    from tests.distribute.resumable_run import build

    vae, images = build(), np.full((8, 8, 8, 1), 0.5, "float32")
    backup_dir = tmp_path / "backup"
    vae.fit(images, batch_size=8, epochs=1, verbose=0,
            callbacks=[backup_and_restore.AtomicBackupAndRestore(backup_dir)])
    before = _contents(backup_dir)

    def disk_full(model, filepath):
        with open(filepath + ".tmp", "wb") as f:
            f.write(b"part of a backup")
        raise OSError(errno.ENOSPC, "Can't synchronously write data (file write failed: ...)")

    monkeypatch.setattr(backup_and_restore, "save_atomically", disk_full)
    with pytest.raises(OSError, match=r"^\[Errno 28\] Could not write the backup .*epoch-2"
                                      r"\.weights\.h5: No space left on device$"):
        vae.fit(images, batch_size=8, epochs=2, verbose=0,
                callbacks=[backup_and_restore.AtomicBackupAndRestore(backup_dir)])
    os.remove(backup_dir / "epoch-2.weights.h5.tmp")  # left by the stand-in, not by a real save
    assert _contents(backup_dir) == before


@pytest.mark.parametrize("damage, message", [
    (lambda path: path.write_bytes(path.read_bytes()[:-10]), r"epoch-2\.weights\.h5 is damaged \(its SHA-256 is"),
    (lambda path: path.write_bytes(bytes([path.read_bytes()[0] ^ 1]) + path.read_bytes()[1:]),
     r"epoch-2\.weights\.h5 is damaged \(its SHA-256 is"),
    (lambda path: path.unlink(), r"epoch-2\.weights\.h5 is damaged \(the file is missing\)"),
    ("epoch", r"backup\.json is damaged \(expected an epoch from 1 to the run's 2 epochs, received epoch=7\)"),
    ("json", r"backup\.json is damaged \(.*"),
])
def test_a_damaged_backup_is_refused_naming_the_file(previous, damage, message):
    run_dir, _ = previous
    os.remove(run_dir / run_folder.METRICS_FILE)  # not finished: the backup is to resume
    state_file = run_dir / "backup" / "backup.json"
    if damage == "epoch":
        state_file.write_text(json.dumps({**json.loads(state_file.read_text()), "epoch": 7}))
    elif damage == "json":
        state_file.write_text('{"epoch": 2,')
    else:
        damage(run_dir / "backup" / f"epoch-{EPOCHS}.weights.h5")
    before = _contents(run_dir)
    with pytest.raises(ValueError, match=message + r".*pass --overwrite \(overwrite=True\) to start "
                                                   r"the run afresh"):
        _train(run_dir)
    assert _contents(run_dir) == before


def test_overwrite_replaces_only_a_run_folder(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "holiday.jpg").write_bytes(b"jpeg")
    (tmp_path / "a_file").write_text("mine")
    for folder, message in (("photos", r"is not a keras_cvae run \(no run.json; it holds holiday.jpg\)"),
                            ("a_file", "is a file")):
        with pytest.raises(FileExistsError, match=message):
            run_folder.check_run(str(tmp_path / folder), {"epochs": 1}, True, str(tmp_path / "p"))
    assert os.listdir(tmp_path / "photos") == ["holiday.jpg"]


def test_no_backup_of_non_finite_weights(tmp_path):
    from tests.distribute.resumable_run import build

    vae = build()
    vae.fit(np.full((8, 8, 8, 1), 0.5, "float32"), batch_size=8, epochs=1, verbose=0)
    vae.trainable_variables[0].assign(np.full(vae.trainable_variables[0].shape, np.nan))
    callback = backup_and_restore.AtomicBackupAndRestore(tmp_path / "backup")
    callback.set_model(vae)
    with pytest.raises(ValueError, match=r"Expected finite weights to back up\. Received: .* NaN or "
                                         r"infinite values; no backup was written\."):
        callback.on_epoch_end(0)
    assert not os.path.exists(tmp_path / "backup" / "backup.json")
