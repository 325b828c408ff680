"""Resuming `fit` after a crash, from backups that are written atomically."""

import os
import shutil
import tempfile

import keras
import numpy as np

from keras_cvae.distribute.atomic_save import save_atomically
from keras_cvae.utils.json_file import read_json
from keras_cvae.utils.json_file import write_json
from keras_cvae.validation import check_positive_int
from keras_cvae.validation import describe_int
from keras_cvae.validation import invalid

STATE_FILE = "backup.json"


class AtomicBackupAndRestore(keras.callbacks.Callback):
    """Backs up the training state during `fit` and restores it when `fit` runs again.

    Like `keras.callbacks.BackupAndRestore`, but a backup is either complete
    or absent: the weights (model, optimizer) go to a new file, then
    `backup.json`, naming that file, the epoch and the random generators'
    states, replaces the previous one by an atomic rename. A run killed at
    any point (even while saving) restarts from the last complete backup:
    the epoch after it (`save_freq="epoch"`), or the start of the epoch that
    was interrupted (`save_freq=n`, as Keras does). The backup is kept when
    `fit` ends, so running a finished command again trains no further. Random
    generators' states are restored too; the order of the data is not.

    Under a multi-worker strategy only the chief writes `backup_dir`, which
    every worker must be able to read (a shared file system).

    Args:
        backup_dir: str. Folder of the backup.
        save_freq: `"epoch"` or int. Back up after each epoch, or every
            `save_freq` batches. Defaults to `"epoch"`.

    Example:

    >>> import os, tempfile
    >>> backup_dir = os.path.join(tempfile.mkdtemp(), "backup")
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> x, y = np.zeros((8, 2)), np.zeros((8, 1))
    >>> callback = keras_cvae.distribute.AtomicBackupAndRestore(backup_dir)
    >>> history = model.fit(x, y, epochs=2, callbacks=[callback], verbose=0)
    >>> sorted(os.listdir(backup_dir))
    ['backup.json', 'epoch-2.weights.h5']
    >>> # Run again (after a crash, or for more epochs): it resumes after epoch 2.
    >>> history = model.fit(x, y, epochs=3, callbacks=[callback], verbose=0)
    >>> len(history.history["loss"])
    1
    """

    def __init__(self, backup_dir, save_freq="epoch"):
        super().__init__()
        if not backup_dir:
            raise invalid("backup_dir", "a folder path", backup_dir)
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = _check_save_freq(save_freq)
        self._epoch = 0
        self._batches = 0
        self._finished_epochs = None

    def on_train_begin(self, logs=None):
        self._batches, self._finished_epochs = 0, None
        state = read_backup_state(self.backup_dir)
        if state is None:
            return
        model = self.model
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(os.path.join(self.backup_dir, state["weights"]))
        for variable in _seed_states(model):
            if variable.path in state["seeds"]:
                variable.assign(np.asarray(state["seeds"][variable.path], variable.dtype))
        model._initial_epoch = state["epoch"]  # read by `fit`, as BackupAndRestore does

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches += 1
        if self._batches % self.save_freq == 0:
            self._save(epoch=self._epoch, name=f"epoch-{self._epoch}-batch-{batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        self._finished_epochs = epoch + 1
        if self.save_freq == "epoch":
            self._save(epoch=epoch + 1, name=f"epoch-{epoch + 1}")

    def on_train_end(self, logs=None):
        # Batch-wise backups also record the end, or a rerun would redo the last epoch.
        if self.save_freq != "epoch" and self._finished_epochs is not None:
            self._save(epoch=self._finished_epochs, name=f"epoch-{self._finished_epochs}")

    def _save(self, epoch, name):
        if not self.model.distribute_strategy.extended.should_checkpoint:
            # A non-chief worker saves too (reading variables may need every
            # worker), to a folder of its own that it deletes.
            scratch = tempfile.mkdtemp()
            try:
                self.model.save_weights(os.path.join(scratch, "scratch.weights.h5"))
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            return
        weights = f"{name}.weights.h5"
        save_atomically(self.model, os.path.join(self.backup_dir, weights))
        seeds = {v.path: np.asarray(v).tolist() for v in _seed_states(self.model)}
        state = {"epoch": epoch, "weights": weights, "seeds": seeds}
        write_json(os.path.join(self.backup_dir, STATE_FILE), state)
        for stale in os.listdir(self.backup_dir):  # older backups, writes killed half-way
            if stale.endswith(".weights.h5") and stale != weights:
                os.remove(os.path.join(self.backup_dir, stale))
            elif stale.startswith(".") and stale.endswith(".partial"):
                shutil.rmtree(os.path.join(self.backup_dir, stale), ignore_errors=True)


def read_backup_state(backup_dir):
    """The last complete backup in `backup_dir` as a dict (`epoch`, `weights`, `seeds`), or None."""
    path = os.path.join(os.fspath(backup_dir), STATE_FILE)
    if not os.path.exists(path):
        return None
    return read_json(path, what="backup state")


def resumable_callbacks(run_dir, save_freq="epoch"):
    """The callbacks that make `fit` resume after a crash: give them to every run.

    Args:
        run_dir: str. The run's folder; the backup goes to `run_dir/backup`.
        save_freq: `"epoch"` or int. See `AtomicBackupAndRestore`. Defaults
            to `"epoch"`.

    Example:

    >>> import os, tempfile
    >>> run_dir = tempfile.mkdtemp()
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> callbacks = keras_cvae.distribute.resumable_callbacks(run_dir)
    >>> history = model.fit(np.zeros((8, 2)), np.zeros((8, 1)), callbacks=callbacks, verbose=0)
    >>> keras_cvae.distribute.read_backup_state(os.path.join(run_dir, "backup"))["epoch"]
    1
    """
    return [AtomicBackupAndRestore(os.path.join(os.fspath(run_dir), "backup"), save_freq)]


def _check_save_freq(save_freq):
    """`"epoch"`, or a number of batches (an integer >= 1)."""
    if isinstance(save_freq, str) and save_freq == "epoch":
        return save_freq
    try:
        return check_positive_int("save_freq", save_freq)
    except ValueError:
        raise invalid("save_freq", f"'epoch' or {describe_int(minimum=1)}", save_freq) from None


def _seed_states(model):
    """The random generators' states: variables that `save_weights` leaves out."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]
