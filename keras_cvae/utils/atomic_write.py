"""Writes that either complete or leave nothing behind: write beside the target, then rename."""

import contextlib
import os
import shutil
import tempfile

from keras_cvae.validation import invalid


@contextlib.contextmanager
def atomic_path(path, overwrite=False, is_dir=False):
    """Yields a temporary path beside `path`; moves it to `path` if the block succeeds.

    The temporary name starts with a dot and ends with `.partial` (TF Serving
    ignores such a folder in a model's base path, since it is not a number),
    and a temporary file keeps `path`'s name, so suffix checks such as
    Keras's `.keras` / `.weights.h5` still pass. If the block raises, the
    temporary file or folder is removed and `path` is left as it was. Files
    are flushed to disk before the rename, so a killed process leaves the
    old `path` or the new one, never a truncated one.

    Args:
        path: str. The final file or folder.
        overwrite: bool. Replace an existing `path`. Defaults to `False`
            (raise a `FileExistsError`).
        is_dir: bool. Whether the artifact is a folder. Defaults to `False`.

    Example:

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "run", "model.keras")
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> with atomic_path(path, overwrite=True) as temporary:
    ...     model.save(temporary)
    >>> os.listdir(os.path.dirname(path))
    ['model.keras']
    """
    if not isinstance(overwrite, bool):
        raise invalid("overwrite", "a bool", overwrite)
    path = os.path.abspath(os.fspath(path))
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(
            f"{path} already exists. Pass `overwrite=True` (`--overwrite` on the command line) "
            f"to replace it, or choose another path. Received: path={path!r}"
        )
    parent, base = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=f".{base}.", suffix=".partial", dir=parent)
    temporary = work if is_dir else os.path.join(work, base)
    try:
        if is_dir:
            os.chmod(work, 0o755)  # mkdtemp makes it private; a published folder is not
        yield temporary
        if is_dir:
            _replace_directory(temporary, path)
        else:
            with open(temporary, "rb") as f:
                os.fsync(f.fileno())
            os.replace(temporary, path)  # atomic, also over an existing file
        _fsync_directory(parent)
    finally:
        if os.path.lexists(work):
            shutil.rmtree(work, ignore_errors=True)


def _replace_directory(temporary, path):
    """Renames the folder `temporary` to `path`, replacing an existing `path` folder."""
    if not os.path.lexists(path):
        os.rename(temporary, path)
        return
    # A folder cannot be replaced in one rename: move the old one aside first.
    parent, base = os.path.split(path)
    old = tempfile.mkdtemp(prefix=f".{base}.", suffix=".old", dir=parent)
    os.rename(path, os.path.join(old, base))
    try:
        os.rename(temporary, path)
    except BaseException:
        os.rename(os.path.join(old, base), path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def atomic_write_bytes(path, data):
    """Writes `data` to `path` (replacing it) through a temporary file beside it."""
    with atomic_path(path, overwrite=True) as temporary:
        with open(temporary, "wb") as f:
            f.write(data)


def atomic_directory(path, overwrite=False):
    """`atomic_path(path, overwrite, is_dir=True)`: a folder that appears whole or not at all."""
    return atomic_path(path, overwrite=overwrite, is_dir=True)


def _fsync_directory(directory):
    """Makes a rename in `directory` durable (POSIX); a no-op where folders cannot be opened."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
