"""Saving so that a file is either complete or absent, even if the process is killed."""

import os
import uuid

SUFFIXES = (".keras", ".weights.h5")


def save_atomically(model, filepath):
    """Saves `model` to `filepath`: to a temporary file in the same folder, then a rename.

    A process killed while saving leaves the previous `filepath` (or none)
    and a stray hidden temporary file, never a truncated `filepath`.

    Args:
        model: `keras.Model`.
        filepath: str. Ends with `.keras` (the whole model) or `.weights.h5`
            (the weights, with the optimizer's state).

    Example:

    >>> keras_cvae.distribute.save_atomically(vae, "run/model.keras")
    """
    filepath = os.fspath(filepath)
    if not filepath.endswith(SUFFIXES):
        raise ValueError(
            f"Invalid value for argument `filepath`. Expected a name ending with one of "
            f"{SUFFIXES}. Received: filepath={filepath!r}"
        )
    directory, name = os.path.split(os.path.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f".tmp-{uuid.uuid4().hex}-{name}")
    try:
        if name.endswith(".keras"):
            model.save(temporary)
        else:
            model.save_weights(temporary)
        fsync_and_replace(temporary, filepath)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def fsync_and_replace(source, target):
    """Flushes `source` to disk and renames it to `target` (atomic on POSIX)."""
    with open(source, "rb") as f:
        os.fsync(f.fileno())
    os.replace(source, target)
    directory = os.open(os.path.dirname(os.path.abspath(target)), os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
