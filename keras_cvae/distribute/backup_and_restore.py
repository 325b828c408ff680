"""Resuming `fit` after a crash, from backups that are written atomically and verified."""

import errno
import hashlib
import numbers
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
    generators' states are restored too; the order of the data is not (see
    `keras_cvae.training.epoch_data` for data that is).

    A backup is verified before it is restored: `backup.json` must be valid,
    its epoch an integer in `[1, epochs]` of this `fit`, and its weights file
    must have the SHA-256 it records; otherwise `fit` raises a ValueError
    naming the file. Non-finite weights are never backed up (a ValueError),
    and a failed write (e.g. a full disk) raises an `OSError` naming the
    backup, leaving the previous backup in place.

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
        state = read_backup_state(self.backup_dir, epochs=self.params.get("epochs"))
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
        _check_finite(self.model)
        weights = f"{name}.weights.h5"
        path = os.path.join(self.backup_dir, weights)
        try:
            save_atomically(self.model, path)
        except OSError as error:
            _release_files_under(self.backup_dir)
            reason = os.strerror(error.errno) if error.errno else str(error).split(" (")[0]
            raise OSError(error.errno or errno.EIO,
                          f"Could not write the backup {path}: {reason}") from None
        seeds = {v.path: np.asarray(v).tolist() for v in _seed_states(self.model)}
        state = {"epoch": epoch, "weights": weights, "sha256": _sha256(path), "seeds": seeds}
        write_json(os.path.join(self.backup_dir, STATE_FILE), state)
        for stale in os.listdir(self.backup_dir):  # older backups, writes killed half-way
            if stale.endswith(".weights.h5") and stale != weights:
                os.remove(os.path.join(self.backup_dir, stale))
            elif stale.startswith(".") and stale.endswith(".partial"):
                shutil.rmtree(os.path.join(self.backup_dir, stale), ignore_errors=True)


def read_backup_state(backup_dir, epochs=None):
    """The last complete backup in `backup_dir` as a dict (`epoch`, `weights`, `sha256`, `seeds`), or None.

    The backup is verified: a ValueError names `backup.json` if it is not
    valid JSON or its fields are not those of a backup (with `epochs`, an
    epoch in `[1, epochs]`), and names the weights file if it is missing or
    its SHA-256 is not the recorded one.

    Args:
        backup_dir: str. The backup folder.
        epochs: int. The epochs of the run, the most a backup may have done.
            Defaults to `None` (not checked).
    """
    backup_dir = os.fspath(backup_dir)
    path = os.path.join(backup_dir, STATE_FILE)
    if not os.path.exists(path):
        return None
    try:
        state = read_json(path, what="backup state")
    except ValueError as error:
        raise _damaged(path, str(error).rstrip(".")) from None
    if not isinstance(state, dict):
        raise _damaged(path, f"expected a JSON object, received {type(state).__name__}")
    epoch = state.get("epoch")
    if (not isinstance(epoch, numbers.Integral) or isinstance(epoch, bool) or epoch < 1
            or (epochs is not None and epoch > epochs)):
        bound = f"1 to the run's {epochs} epochs" if epochs is not None else "1 or more"
        raise _damaged(path, f"expected an epoch from {bound}, received epoch={epoch!r}")
    weights = state.get("weights")
    if not isinstance(weights, str) or os.path.basename(weights) != weights or not weights.endswith(".weights.h5"):
        raise _damaged(path, f"expected a weights file name in this folder, received weights={weights!r}")
    if not isinstance(state.get("sha256"), str) or not isinstance(state.get("seeds"), dict):
        raise _damaged(path, "expected the SHA-256 of the weights and the generators' states (sha256, seeds)")
    weights_path = os.path.join(backup_dir, weights)
    if not os.path.isfile(weights_path):
        raise _damaged(weights_path, "the file is missing")
    actual = _sha256(weights_path)
    if actual != state["sha256"]:
        raise _damaged(weights_path, f"its SHA-256 is {actual}, {STATE_FILE} records {state['sha256']}")
    return state


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


def _damaged(path, reason):
    return ValueError(
        f"The backup {path} is damaged ({reason}): pass --overwrite (overwrite=True) to start "
        "the run afresh, or delete the backup folder."
    )


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_finite(model):
    """Refuses to back up a model with a NaN or infinite weight (or optimizer variable)."""
    variables = list(model.variables)
    if model.optimizer is not None:
        variables += [v for v in model.optimizer.variables if all(v is not w for w in variables)]
    for variable in variables:
        value = np.asarray(variable)
        if np.issubdtype(value.dtype, np.floating) and not np.isfinite(value).all():
            raise ValueError(
                f"Expected finite weights to back up. Received: {variable.path} with "
                f"{np.size(value) - np.isfinite(value).sum()} NaN or infinite values; "
                "no backup was written."
            )


def _release_files_under(folder):
    """Points this process's open files under `folder` at /dev/null (Linux; elsewhere a no-op).

    h5py keeps a file whose write failed (a full disk) open, and HDF5 retries
    the write when it is collected or at exit, which crashes the process;
    writes to /dev/null succeed instead.
    """
    prefix = os.path.abspath(folder) + os.sep
    try:
        descriptors = os.listdir("/proc/self/fd")
    except OSError:
        return
    for descriptor in descriptors:
        try:
            if not os.readlink(f"/proc/self/fd/{descriptor}").startswith(prefix):
                continue
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, int(descriptor))
            finally:
                os.close(null)
        except OSError:
            continue
