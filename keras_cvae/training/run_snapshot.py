"""Keeping a run folder's previous contents aside until a new run has succeeded."""

import os
import shutil

# The previous contents while a run is under way (a hidden folder inside the run folder).
SNAPSHOT_DIR = ".previous-run.partial"


class RunSnapshot:
    """The contents of a run folder kept aside, to put back (`restore`) or drop (`discard`).

    Args:
        run_dir: str. The run folder.
        names: tuple of str. The files and folders of `run_dir` to keep.
        move: bool. Move the contents aside (the run then starts empty)
            instead of copying them. Defaults to `False`.
    """

    def __init__(self, run_dir, names, move=False):
        self.run_dir = os.fspath(run_dir)
        self.names = tuple(names)
        self.existed = os.path.isdir(self.run_dir)
        self.path = os.path.join(self.run_dir, SNAPSHOT_DIR)
        self._kept, self._absent = [], []  # names put aside; names that did not exist
        if os.path.lexists(self.path):  # left by a killed run, whose progress is in run_dir
            shutil.rmtree(self.path)
        os.makedirs(self.path)
        try:
            for name in self.names:
                source, kept = os.path.join(self.run_dir, name), os.path.join(self.path, name)
                if not os.path.lexists(source):
                    self._absent.append(name)
                    continue
                if move:
                    os.rename(source, kept)
                elif os.path.isdir(source):
                    _copy_folder(source, kept)
                else:
                    shutil.copy2(source, kept)
                self._kept.append(name)
        except BaseException:
            # Nothing has changed in the run folder but what was moved: put that back.
            if move or not self.existed:
                self.restore()
            else:
                self.discard()
            raise

    def restore(self):
        """Puts the run folder back as it was (renames only: works on a full disk)."""
        if not self.existed:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            return
        for name in self._absent:
            _remove(os.path.join(self.run_dir, name))
        for name in self._kept:
            _remove(os.path.join(self.run_dir, name))
            os.rename(os.path.join(self.path, name), os.path.join(self.run_dir, name))
        self.discard()

    def discard(self):
        """Drops the previous run: the new one succeeded."""
        shutil.rmtree(self.path, ignore_errors=True)


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def _copy_folder(source, target):
    """`shutil.copytree`, raising its first failure as one OSError (e.g. a full disk)."""
    try:
        shutil.copytree(source, target, symlinks=True)
    except shutil.Error as error:
        failures = error.args[0] if error.args and isinstance(error.args[0], list) else []
        reason = failures[0][2] if failures else str(error)
        raise OSError(f"Could not keep a copy of {source} until the run succeeds: {reason}") from None
