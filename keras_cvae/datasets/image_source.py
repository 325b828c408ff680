"""`ImageSource`: where the images of one split come from, before the pipeline."""

from typing import Callable, NamedTuple

import tensorflow as tf


class ImageSource(NamedTuple):
    """Unprocessed images of one split, as integer intensity levels.

    Args:
        name: str. The dataset name to report in `DatasetInfo`.
        split: str. The split.
        image_shape: tuple. The native `(height, width, channels)`; height and
            width are `None` when they vary between images.
        intensity_levels: int or None. The number of discrete levels, or
            `None` for float images already in [0, 1].
        num_examples: int or None. The number of images, if known.
        make_dataset: callable. Returns a `tf.data.Dataset` of single images
            (rank 3, integer levels or floats in [0, 1]).
    """

    name: str
    split: str
    image_shape: tuple
    intensity_levels: int | None
    num_examples: int | None
    make_dataset: Callable[[], tf.data.Dataset]
