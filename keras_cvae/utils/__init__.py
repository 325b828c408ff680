"""Small helpers shared by the library: image grids and atomic file writes."""

from keras_cvae.utils.atomic_write import atomic_directory
from keras_cvae.utils.atomic_write import atomic_path
from keras_cvae.utils.atomic_write import atomic_write_bytes
from keras_cvae.utils.image_grid import image_grid
from keras_cvae.utils.image_grid import save_png
from keras_cvae.utils.image_logger import ImageLogger
