"""Small helpers shared by the library: image grids, atomic file writes, JSON files, tables.

Importing it does not load TensorFlow (`png_bytes` and `save_png` load it
when called; `ImageLogger` is imported on first use), so the command line can
read presets and JSON files before TensorFlow loads.
"""

import importlib

from keras_cvae.utils.atomic_write import atomic_directory
from keras_cvae.utils.atomic_write import atomic_path
from keras_cvae.utils.atomic_write import atomic_write_bytes
from keras_cvae.utils.image_grid import image_grid
from keras_cvae.utils.image_grid import png_bytes
from keras_cvae.utils.image_grid import save_png
from keras_cvae.utils.json_file import read_json
from keras_cvae.utils.json_file import write_json
from keras_cvae.utils.text_table import format_table

# Not `image_grid`: a lazy name that is also a submodule's would be shadowed
# by the submodule once anything imports it.
_LAZY = {"ImageLogger": "keras_cvae.utils.image_logger"}

__all__ = ["ImageLogger", "atomic_directory", "atomic_path", "atomic_write_bytes",
           "format_table", "image_grid", "png_bytes", "read_json", "save_png", "write_json"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'keras_cvae.utils' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
