"""Write an artifact beside its target, then rename it into place: no half-written exports."""

import contextlib
import os
import shutil
import tempfile


def check_overwrite(overwrite):
    if not isinstance(overwrite, bool):
        raise ValueError(
            "Invalid value for argument `overwrite`. Expected a bool. "
            f"Received: overwrite={overwrite!r}"
        )


def refuse_existing(path, overwrite):
    """Raises a FileExistsError if `path` exists and `overwrite` is False."""
    check_overwrite(overwrite)
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(
            f"The export target already exists. Pass `overwrite=True` to replace it, "
            f"or choose another path. Received: path={str(path)!r}"
        )


@contextlib.contextmanager
def atomic_target(path, overwrite=False, is_dir=False):
    """Yields a temporary path beside `path`; moves it to `path` if the block succeeds.

    The temporary name starts with a dot and ends with `.partial` (TF Serving
    ignores such a folder in a model's base path, since it is not a number).
    If the block raises, the temporary file or folder is removed and `path`
    is left as it was. An existing `path` is replaced only with `overwrite`.

    Args:
        path: str. The final file or folder.
        overwrite: bool. Replace an existing `path`. Defaults to `False`.
        is_dir: bool. Whether the artifact is a folder. Defaults to `False`.
    """
    path = os.path.abspath(os.fspath(path))
    refuse_existing(path, overwrite)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    base = os.path.basename(path)
    work = tempfile.mkdtemp(prefix=f".{base}.", suffix=".partial", dir=parent)
    temp = work if is_dir else os.path.join(work, base)
    try:
        yield temp
        if not is_dir:
            os.replace(temp, path)  # atomic, also over an existing file
        elif os.path.lexists(path):  # only reached with overwrite=True
            # Directories cannot be replaced in one rename: move the old one aside first.
            old = tempfile.mkdtemp(prefix=f".{base}.", suffix=".old", dir=parent)
            os.rename(path, os.path.join(old, base))
            try:
                os.rename(temp, path)
            except BaseException:
                os.rename(os.path.join(old, base), path)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(temp, path)
    finally:
        if os.path.lexists(work):
            shutil.rmtree(work, ignore_errors=True)
