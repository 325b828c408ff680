"""Small helpers shared by the library: image grids, atomic file writes, JSON files, tables.

The file helpers are pure Python; the image helpers (which need TensorFlow)
are imported on first use, so the command line can read presets and JSON
files before TensorFlow loads.
"""

import importlib

from keras_cvae.utils.atomic_write import atomic_directory
from keras_cvae.utils.atomic_write import atomic_path
from keras_cvae.utils.atomic_write import atomic_write_bytes
from keras_cvae.utils.dims import check_dims
from keras_cvae.utils.json_file import read_json
from keras_cvae.utils.json_file import write_json
from keras_cvae.utils.text_table import format_table

_LAZY = {
    "image_grid": "keras_cvae.utils.image_grid",
    "save_png": "keras_cvae.utils.image_grid",
    "png_bytes": "keras_cvae.utils.image_grid",
    "ImageLogger": "keras_cvae.utils.image_logger",
}

__all__ = ["ImageLogger", "atomic_directory", "atomic_path", "atomic_write_bytes", "check_dims",
           "format_table", "image_grid", "png_bytes", "read_json", "save_png", "write_json"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'keras_cvae.utils' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
