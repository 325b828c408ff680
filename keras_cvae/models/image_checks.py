"""Checks on the images a model is given, before any training step runs."""

import numpy as np
import tensorflow as tf


def check_images(images, image_shape, what="images"):
    """Raises a ValueError unless `images` is a finite batch of `image_shape` in [0, 1]."""
    array = np.asarray(images)
    expected = f"{what} of shape (batch, {', '.join(map(str, image_shape))}) with values in [0, 1]"
    if array.ndim != len(image_shape) + 1 or tuple(array.shape[1:]) != tuple(image_shape):
        raise ValueError(f"Expected {expected}. Received: shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"Expected {expected} as floats (divide 8-bit images by 255). "
            f"Received: dtype {array.dtype}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"Expected {expected}. Received: {int(np.sum(~np.isfinite(array)))} NaN or infinite values")
    low, high = float(array.min()), float(array.max()) if array.size else (0.0, 0.0)
    if low < 0 or high > 1:
        raise ValueError(f"Expected {expected}. Received: values in [{low:g}, {high:g}]")


def check_training_data(data, image_shape):
    """Checks what `fit`/`evaluate` receive: an array, or a `tf.data.Dataset` (spec and first batch)."""
    if data is None:
        return
    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        if isinstance(spec, tuple):
            spec = spec[0]
        if not isinstance(spec, tf.TensorSpec) or spec.shape.rank != len(image_shape) + 1:
            raise ValueError(
                f"Expected a dataset of batched images (batch, {', '.join(map(str, image_shape))}). "
                f"Received: element_spec={data.element_spec}"
            )
        for batch in data.take(1):
            check_images(batch[0] if isinstance(batch, tuple) else batch, image_shape)
        return
    if isinstance(data, (np.ndarray, tf.Tensor)) or hasattr(data, "__array__"):
        check_images(data, image_shape)
