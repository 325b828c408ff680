"""Tiling a batch of images into one picture, and saving it as PNG.

NumPy only until a PNG is encoded, so `keras_cvae.utils` imports it without
loading TensorFlow.
"""

import math

import numpy as np

from keras_cvae.utils.atomic_write import atomic_write_bytes


def image_grid(images, columns=None, padding=1, scale=1):
    """Tiles `(N, H, W, C)` images in [0, 1] into one `(rows·H', cols·W', C)` uint8 image.

    Values are clipped to [0, 1]. `scale` enlarges each pixel (nearest
    neighbour), for small images such as 8×8 digits.

    Args:
        images: array `(N, H, W, C)` with C in {1, 3}.
        columns: int. Defaults to `ceil(sqrt(N))`.
        padding: int. Pixels of white between images. Defaults to `1`.
        scale: int. Enlargement factor. Defaults to `1`.
    """
    images = np.asarray(images, dtype="float32")
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
        raise ValueError(
            "Expected a non-empty batch of images (N, H, W, C) with C in (1, 3). "
            f"Received: shape {images.shape}"
        )
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    tiles = np.clip(images, 0.0, 1.0).repeat(scale, axis=1).repeat(scale, axis=2)
    h, w = h * scale, w * scale
    grid = np.ones((rows * (h + padding) + padding, columns * (w + padding) + padding, c), "float32")
    for i, tile in enumerate(tiles):
        r, q = divmod(i, columns)
        top, left = padding + r * (h + padding), padding + q * (w + padding)
        grid[top : top + h, left : left + w] = tile
    return np.round(grid * 255).astype("uint8")


def png_bytes(image):
    """A uint8 `(H, W, C)` image encoded as PNG."""
    import tensorflow as tf

    return tf.io.encode_png(image).numpy()


def save_png(path, image, overwrite=True):
    """Writes a uint8 `(H, W, C)` image to `path` as PNG, atomically.

    `overwrite=False` refuses an existing `path` (a `FileExistsError`).
    """
    atomic_write_bytes(path, png_bytes(image), overwrite=overwrite)
