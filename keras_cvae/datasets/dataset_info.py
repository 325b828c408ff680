"""The `DatasetInfo` record describing a loaded image dataset."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Static description of an image dataset split.

    Args:
        name: str. The dataset name as given to `keras_cvae.datasets.load`
            (a directory is reported as its absolute path).
        split: str. The split, e.g. `"train"` or `"test"`.
        image_shape: tuple. The `(height, width, channels)` of one image
            after resizing and channel conversion.
        intensity_levels: int or None. The number `L` of discrete intensity
            levels per pixel (17 for digits, 256 for 8-bit images), or `None`
            for non-discrete data.
        num_examples: int or None. The number of images in the split, or
            `None` if unknown.

    Example:

    >>> info = keras_cvae.datasets.info("digits", split="test")
    >>> info.image_shape, info.intensity_levels, info.num_examples
    ((8, 8, 1), 17, 360)
    """

    name: str
    split: str
    image_shape: tuple
    intensity_levels: int | None
    num_examples: int | None
