"""Per-image operations of the input pipeline, on integer intensity levels."""

import tensorflow as tf


def drop_alpha(image):
    """Drops the alpha channel of gray+alpha (2) and RGBA (4) images."""
    if image.shape[-1] in (2, 4):
        return image[..., :-1]
    return image


def convert_channels(image, channels):
    """Converts an image with 1 or 3 channels to `channels` (1 or 3).

    RGB -> grayscale uses `tf.image.rgb_to_grayscale` and rounds back to the
    nearest level, so the result stays on the same integer grid.
    """
    current = image.shape[-1]
    if channels is None or current == channels:
        return image
    if channels == 3:
        return tf.image.grayscale_to_rgb(image)
    gray = tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))
    return _round_like(gray, image.dtype)


def resize(image, image_size, levels):
    """Center-crops to the aspect ratio of `image_size`, then resizes.

    Resizing is bilinear with antialiasing; integer images are rounded back
    to their levels `0..levels - 1`, keeping the data discrete.
    """
    height, width = image_size
    if tuple(image.shape[:2]) == (height, width):
        return image
    shape = tf.shape(image)
    in_height, in_width = shape[0], shape[1]
    crop_height = tf.minimum(in_height, in_width * height // width)
    crop_width = tf.minimum(in_width, in_height * width // height)
    image = tf.image.crop_to_bounding_box(
        image,
        (in_height - crop_height) // 2,
        (in_width - crop_width) // 2,
        crop_height,
        crop_width,
    )
    resized = tf.image.resize(
        tf.cast(image, tf.float32), (height, width), antialias=True
    )
    if levels is None:
        return tf.clip_by_value(resized, 0.0, 1.0)
    resized = tf.clip_by_value(resized, 0.0, float(levels - 1))
    return _round_like(resized, image.dtype)


def check_size(image, image_size, name):
    """`image`, with a check in the pipeline that it is `image_size` `(height, width)`.

    For datasets whose images vary in size (the size is known only per
    image): a mismatch fails the pipeline with the dataset's name and the
    expected size, instead of a silent resize.
    """
    height, width = image_size
    size = tf.shape(image)[:2]
    check = tf.debugging.Assert(
        tf.reduce_all(tf.equal(size, [height, width])),
        [f"Expected images of size {height}x{width} (height x width, the `image_size`) in "
         f"dataset {name}, whose images vary in size; pass resize=True (--resize) to "
         "center-crop and resize them. Received: an image of (height, width)", size],
    )
    with tf.control_dependencies([check]):
        image = tf.identity(image)
    image.set_shape((height, width, image.shape[-1]))
    return image


def check_unit_interval(image, name):
    """`image`, with a check in the pipeline that its values are finite and in [0, 1].

    For float sources (`intensity_levels=None`), whose values the pipeline
    does not compute itself: a NaN or an 8-bit value fails the pipeline with
    the dataset's name, instead of reaching the model.
    """
    low, high = tf.reduce_min(image), tf.reduce_max(image)
    check = tf.debugging.Assert(
        tf.logical_and(low >= 0.0, high <= 1.0),  # False for NaN
        [f"Expected images with finite values in [0, 1] in dataset {name}, whose images are "
         "floats. Received: an image with values in [min, max] (NaN if any value is NaN)",
         low, high],
    )
    with tf.control_dependencies([check]):
        return tf.identity(image)


def to_unit_interval(levels_batch, levels, noise_seed=None):
    """Maps integer levels `v` to float32 in [0, 1].

    Without `noise_seed` returns `v / (levels - 1)`. With `noise_seed` (a
    shape-(2,) stateless seed) returns the uniform dequantization
    `(v + u) / levels`, `u ~ U[0, 1)` per pixel, kept below `(v + 1) / levels`
    despite float32 rounding.
    """
    x = tf.cast(levels_batch, tf.float32)
    if levels is None:
        return x
    if noise_seed is None:
        return x / float(levels - 1)
    u = tf.random.stateless_uniform(tf.shape(x), seed=noise_seed)
    upper = tf.math.nextafter((x + 1.0) / float(levels), 0.0)
    return tf.minimum((x + u) / float(levels), upper)


def _round_like(x, dtype):
    if dtype.is_floating:
        return tf.cast(x, dtype)
    return tf.cast(tf.round(x), dtype)
