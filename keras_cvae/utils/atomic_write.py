"""Writes that either complete or leave nothing behind: write beside the target, then swap.

`atomic_path` yields a temporary file or folder beside the destination and,
when the block succeeds, puts it in place in one step: `os.replace` for a
file, Linux's `renameat2(RENAME_EXCHANGE)` for a folder (an atomic swap of
the old and new folders). A process killed at any instant leaves the old
version or the new one under the destination's name, complete. Where the
swap is unavailable (another OS or file system), a folder is replaced by two
renames (old aside, new in place); a kill between them leaves the old version
in a hidden `.old` folder, which the next save or load (`remove_leftovers`)
puts back.

Temporary names are `.<name>.<pid>.<random>.partial` (the version being
written, or the old one after the swap) and `.<name>.<pid>.<random>.old`.
`remove_leftovers(path)` removes those of `path` whose process is no longer
running, and nothing else. A full disk ends with a one-line `OSError` ("No
space left on device") and the destination as it was.
"""

import contextlib
import ctypes
import errno
import math
import os
import re
import shutil
import tempfile

import numpy as np

from keras_cvae.validation import invalid

_PARTIAL = ".partial"
_OLD = ".old"
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_NO_SPACE_TEXT = os.strerror(errno.ENOSPC)  # "No space left on device"
_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2
_AT_FDCWD = -100


@contextlib.contextmanager
def atomic_path(path, overwrite=False, is_dir=False, owned=None):
    """Yields a temporary path beside `path`; moves it to `path` if the block succeeds.

    The temporary name starts with a dot and ends with `.partial` (TF Serving
    ignores such a folder in a model's base path, since it is not a number),
    and a temporary file keeps `path`'s name, so suffix checks such as
    Keras's `.keras` / `.weights.h5` still pass. If the block raises, the
    temporary file or folder is removed and `path` is left as it was. Files
    are flushed to disk before the swap, so a killed process leaves the old
    `path` or the new one, never a truncated one. Leftovers of killed saves
    to `path` are removed first (`remove_leftovers`).

    Args:
        path: str. The final file or folder.
        overwrite: bool. Replace an existing `path`. Defaults to `False`
            (raise a `FileExistsError`).
        is_dir: bool. Whether the artifact is a folder. Defaults to `False`.
        owned: callable or `None`. For a folder: `owned(path)` returns `None`
            if the existing, non-empty `path` is one the caller wrote (and may
            replace), else the reason it is not, and `path` is refused. See
            `check_destination`. Defaults to `None`: any folder may be replaced.

    Raises:
        FileExistsError: `path` exists and `overwrite` is False, or `owned`
            refuses it.
        IsADirectoryError, NotADirectoryError: `path` is a folder where a file
            is written, or the reverse.
        OSError: the disk is full ("No space left on device"); `path` is unchanged.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "run", "model.keras")
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> with atomic_path(path, overwrite=True) as temporary:
    ...     model.save(temporary)
    >>> os.listdir(os.path.dirname(path))
    ['model.keras']
    """
    path = os.path.abspath(os.fspath(path))
    remove_leftovers(path)
    check_destination(path, overwrite, is_dir=is_dir, owned=owned)
    parent, base = os.path.split(path)
    work = None
    try:
        os.makedirs(parent, exist_ok=True)
        work = tempfile.mkdtemp(prefix=f".{base}.{os.getpid()}.", suffix=_PARTIAL, dir=parent)
        temporary = work if is_dir else os.path.join(work, base)
        if is_dir:
            os.chmod(work, 0o755)  # mkdtemp makes it private; a published folder is not
        yield temporary
        _fsync_tree(temporary)
        _publish(temporary, path, overwrite)
        _fsync(parent)  # makes the rename durable
    except Exception as error:
        if _is_no_space(error):
            raise _no_space_error(path) from error
        raise
    finally:
        if work is not None and os.path.lexists(work):
            _remove(work)  # after a swap, the old version


def check_destination(path, overwrite, is_dir=False, owned=None, name="path"):
    """Raises unless `atomic_path(path, overwrite, is_dir, owned)` may write `path`.

    Call it before long work (training, loading a model) so that a refused
    destination fails at once. `path` may be written if it is absent; an
    existing one only with `overwrite`, of the same kind (file or folder),
    and, for a non-empty folder with `owned` given, only if `owned(path)`
    returns `None` (a folder the caller wrote).

    Args:
        path: str. The destination.
        overwrite: bool. Whether an existing `path` may be replaced.
        is_dir: bool. Whether `path` is to be a folder. Defaults to `False`.
        owned: callable `owned(path) -> None or str`: `None` for a folder the
            caller wrote, else why it is not ("it holds notes.txt, which
            `save_to_preset` did not write"). Defaults to `None`.
        name: str. The argument named in the message. Defaults to `"path"`.

    Example:

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> check_destination(folder, overwrite=False, is_dir=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileExistsError: ... already exists. Pass `overwrite=True` ...
    """
    if not isinstance(overwrite, bool):
        raise invalid("overwrite", "a bool", overwrite)
    path = os.fspath(path)
    received = f"Received: {name}={path!r}"
    if not os.path.lexists(path):
        return
    if is_dir and not os.path.isdir(path):
        raise NotADirectoryError(f"{path} is a file, not a folder: refusing to replace it. {received}")
    if not is_dir and os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a folder; expected the path of a file. {received}")
    if not overwrite:
        raise FileExistsError(
            f"{path} already exists. Pass `overwrite=True` (`--overwrite` on the command line) "
            f"to replace it, or choose another path. {received}"
        )
    reason = owned(path) if owned is not None and is_dir and os.listdir(path) else None
    if reason:
        raise FileExistsError(
            f"Refusing to replace {path}: {reason}. Remove it yourself or choose another "
            f"path. {received}"
        )


def atomic_write_bytes(path, data, overwrite=True):
    """Writes `data` to `path` through a temporary file beside it (replacing `path` by default)."""
    with atomic_path(path, overwrite=overwrite) as temporary:
        with open(temporary, "wb") as f:
            f.write(data)


def atomic_directory(path, overwrite=False, owned=None):
    """`atomic_path(path, overwrite, is_dir=True, owned)`: a folder that appears whole or not at all."""
    return atomic_path(path, overwrite=overwrite, is_dir=True, owned=owned)


def check_free_space(path, variables):
    """Raises the full-disk `OSError` if the file system of `path` cannot hold `variables`.

    Call it before HDF5 writes them (Keras's `save_weights`, `.keras`
    files): HDF5 does not fail cleanly on a full disk (h5py 3 crashes the
    process when it closes the file), so the space is checked first. The
    estimate is the variables' bytes plus 2 KiB each and 64 KiB; a disk
    filled by another process meanwhile can still end in HDF5's failure.

    Args:
        path: str. An existing file or folder on the file system to write.
        variables: list of variables or arrays (anything with `shape` and
            `dtype`).
    """
    if not hasattr(os, "statvfs"):  # Windows
        return
    needed = 64 * 1024 + sum(math.prod(v.shape) * _itemsize(v.dtype) + 2048 for v in variables)
    stats = os.statvfs(path)
    if stats.f_bavail * stats.f_frsize < needed:
        raise OSError(errno.ENOSPC, f"{_NO_SPACE_TEXT} (about {needed:,} bytes needed)", path)


def remove_leftovers(path):
    """Cleans up after saves to `path` that were killed: restores `path` if needed, removes debris.

    If `path` is missing and a killed save had moved its previous version
    aside (the two-rename fallback), that version is renamed back. Then the
    temporary files and folders `atomic_path` names after `path` are removed,
    if the process that made them is no longer running. Nothing else is
    touched; errors (a read-only folder) are ignored.

    Example:

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(folder, ".model.keras.999999999.abc_1234.partial"))
    >>> open(os.path.join(folder, "notes.txt"), "w").close()
    >>> remove_leftovers(os.path.join(folder, "model.keras"))
    >>> os.listdir(folder)
    ['notes.txt']
    """
    path = os.path.abspath(os.fspath(path))
    parent, base = os.path.split(path)
    pattern = re.compile(rf"\.{re.escape(base)}\.(\d+)\.[a-z0-9_]+({_PARTIAL}|{_OLD})")
    try:
        names = os.listdir(parent)
    except OSError:
        return
    leftovers = [(os.path.join(parent, n), m[2]) for n in names
                 if (m := pattern.fullmatch(n)) and not _running(int(m[1]))]
    newest_first = sorted(leftovers, key=lambda item: _mtime(item[0]), reverse=True)
    for leftover, kind in newest_first:
        moved_aside = os.path.join(leftover, base)
        if kind == _OLD and not os.path.lexists(path) and os.path.lexists(moved_aside):
            with contextlib.suppress(OSError):
                os.rename(moved_aside, path)
        _remove(leftover)


# === Steps ===


def _publish(temporary, path, overwrite):
    """Puts `temporary` at `path` in one step; after a swap, `temporary` holds the old version."""
    if not overwrite:
        _rename_no_replace(temporary, path)
    elif not os.path.lexists(path):
        os.rename(temporary, path)
    elif not os.path.isdir(path):
        os.replace(temporary, path)  # atomic, also over an existing file
    elif not _rename2(temporary, path, _RENAME_EXCHANGE):
        _replace_directory(temporary, path)


def _replace_directory(temporary, path):
    """Replaces the folder `path` by `temporary` with two renames (no atomic swap here).

    A kill between the two leaves `path` missing and its old version in a
    `.old` folder beside it, which `remove_leftovers` renames back.
    """
    parent, base = os.path.split(path)
    aside = tempfile.mkdtemp(prefix=f".{base}.{os.getpid()}.", suffix=_OLD, dir=parent)
    os.rename(path, os.path.join(aside, base))
    try:
        os.rename(temporary, path)
    except BaseException:
        os.rename(os.path.join(aside, base), path)
        raise
    _remove(aside)


def _rename_no_replace(source, target):
    """Renames `source` to `target`; a FileExistsError if `target` appeared meanwhile."""
    try:
        if _rename2(source, target, _RENAME_NOREPLACE):
            return
    except FileExistsError:
        pass
    check_destination(target, overwrite=False, is_dir=os.path.isdir(source))
    os.rename(source, target)


def _rename2(source, target, flags):
    """Linux `renameat2(source, target, flags)`: True if done, False if unsupported here."""
    function = _renameat2()
    if function is None:
        return False
    if function(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # an old kernel, or a file system without it
    raise OSError(code, os.strerror(code), target)


def _renameat2():
    """libc's `renameat2`, or None (not Linux, or glibc < 2.28)."""
    try:
        return ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError, TypeError):
        return None


# === Helpers ===


def _is_no_space(error):
    """Whether `error` says the disk is full (an errno, or h5py's and TensorFlow's messages)."""
    return getattr(error, "errno", None) in _NO_SPACE or _NO_SPACE_TEXT in str(error)


def _no_space_error(path):
    error = OSError(
        f"Could not write {path}: {_NO_SPACE_TEXT}. The previous version (if any) is unchanged "
        "and the temporary files were removed; free some space and retry."
    )
    error.errno = errno.ENOSPC  # not `filename`: str(error) would become "[Errno 28] ..."
    return error


def _itemsize(dtype):
    try:
        return np.dtype(getattr(dtype, "name", dtype)).itemsize
    except TypeError:  # bfloat16 without ml_dtypes: count 4 bytes
        return 4


def _running(pid):
    """Whether process `pid` may still be writing its temporary files (this one counts)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except PermissionError:  # another user's process
        return True
    except (OSError, OverflowError):
        return False
    return True


def _mtime(path):
    try:
        return os.lstat(path).st_mtime
    except OSError:
        return 0.0


def _remove(path):
    """Removes a file, a symbolic link (not what it points to) or a folder tree; errors ignored."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _fsync_tree(path):
    """Flushes the file `path`, or every file in the folder `path`, to disk."""
    if not os.path.isdir(path):
        _fsync(path)
        return
    for folder, _, files in os.walk(path):
        for name in files:
            _fsync(os.path.join(folder, name))
        _fsync(folder)


def _fsync(path):
    """Flushes a file or folder to disk; a no-op where it cannot be opened (folders on Windows)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno in _NO_SPACE:
            raise
    finally:
        os.close(descriptor)
