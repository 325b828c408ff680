"""Small helpers shared by the library: image grids, atomic file writes, JSON files, tables."""

from keras_cvae.utils.atomic_write import atomic_directory
from keras_cvae.utils.atomic_write import atomic_path
from keras_cvae.utils.atomic_write import atomic_write_bytes
from keras_cvae.utils.image_grid import image_grid
from keras_cvae.utils.image_grid import save_png
from keras_cvae.utils.image_logger import ImageLogger
from keras_cvae.utils.json_file import read_json
from keras_cvae.utils.json_file import write_json
from keras_cvae.utils.text_table import format_table
