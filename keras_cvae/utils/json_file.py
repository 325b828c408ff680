"""Reading and writing the project's JSON files: strict JSON, written atomically.

Every JSON file the project writes (preset metadata, run files, metrics,
export reports, backup state) goes through `write_json`: tuples become lists,
NumPy scalars become numbers, and a NaN or an infinity is refused (strict JSON
has no token for them) instead of being written as `NaN`.

Example:

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "metrics.json")
>>> write_json(path, {"bits_per_dim": 2.2, "shape": (8, 8, 1)})
>>> read_json(path)
{'bits_per_dim': 2.2, 'shape': [8, 8, 1]}
"""

import json
import math
import os
import stat

from keras_cvae.utils.atomic_write import atomic_write_bytes


def to_json(value):
    """`value` as strict JSON text (indented, newline-terminated)."""
    return json.dumps(_plain(value), indent=2, allow_nan=False) + "\n"


def write_json(path, value, overwrite=True):
    """Writes `value` to `path` atomically as strict JSON; a ValueError names a non-finite number.

    `overwrite=False` refuses an existing `path` (a `FileExistsError`).
    """
    atomic_write_bytes(path, to_json(value).encode(), overwrite=overwrite)


def check_regular_file(path, what="file"):
    """Raises a ValueError unless `path` is (or links to) a regular file; reads nothing.

    A FIFO, a device such as `/dev/zero` or a folder would block or never
    end a read: it is refused from `os.stat` alone. A missing `path` passes
    (the reader reports it).

    Example:

    >>> check_regular_file("/dev/zero", "weights file")
    Traceback (most recent call last):
        ...
    ValueError: The weights file /dev/zero is not a regular file (it is a character device): refusing to read it.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise ValueError(f"The {what} {path} is a broken link (to {os.readlink(path)}).") from None
        return
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                else "a character device" if stat.S_ISCHR(mode)
                else "a block device" if stat.S_ISBLK(mode) else "a socket")
        raise ValueError(f"The {what} {path} is not a regular file (it is {kind}): refusing "
                         "to read it.")


def read_json(path, what="JSON file"):
    """The parsed contents of `path`; a ValueError naming the file if it is missing or invalid.

    Only a regular file is read (`check_regular_file`).
    """
    check_regular_file(path, what)
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError as error:
        raise ValueError(f"Missing {what} {path}.") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error


def _plain(value, key="value"):
    if isinstance(value, dict):
        return {str(k): _plain(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, key) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # NumPy / TF scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(
            f"Cannot write {key}={value} to JSON: strict JSON has no NaN or infinity."
        )
    return value
