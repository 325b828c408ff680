"""Image datasets for keras_cvae: float32 images in [0, 1], channels-last.

`load` and `info` read the embedded `"digits"`, `"mnist5k"` and
`"photo_patches"` (prepared from files of installed packages; see
`digits_builder`, `mnist5k_builder`, `photo_patches_builder`), any prepared
TFDS image dataset, or a directory of PNG/JPEG files; `validate_images` and
`validate_dataset` check data before training; `images_only` takes the
images out of `(images, labels)` data; `as_array_if_small` gathers a small
split into one array. Nothing is downloaded.
"""

from keras_cvae.utils.dataset_images import images_only
from keras_cvae.datasets.dataset_info import DatasetInfo
from keras_cvae.datasets.loader import as_array_if_small
from keras_cvae.datasets.loader import info
from keras_cvae.datasets.loader import load
from keras_cvae.utils.image_validation import validate_dataset
from keras_cvae.utils.image_validation import validate_images

__all__ = [
    "DatasetInfo",
    "as_array_if_small",
    "images_only",
    "info",
    "load",
    "validate_dataset",
    "validate_images",
]
