"""`images_only`: the images of what Keras takes as data, without labels or sample weights."""

import numpy as np
import tensorflow as tf


def images_only(data):
    """The images of `data`, whether or not labels come with them.

    Keras's `fit` and `evaluate` take a `tf.data.Dataset` of images or of
    `(images, labels)` / `(images, labels, sample_weights)` tuples, and give
    a train step one element of it. A VAE models the images alone, so:

    - a `tf.data.Dataset` of tuples becomes a dataset of their first items;
      a dataset of images is returned as it is;
    - a tuple or list (one element, `(images, ...)`) gives its first item;
    - anything else (an array, a tensor) is returned as it is.

    Args:
        data: `tf.data.Dataset`, tuple, list, array or tensor.

    Returns:
        The images: a `tf.data.Dataset`, an array or a tensor.

    Example:

    >>> import tensorflow as tf
    >>> images, labels = np.zeros((4, 8, 8, 1), "float32"), np.arange(4)
    >>> pairs = tf.data.Dataset.from_tensor_slices((images, labels)).batch(2)
    >>> keras_cvae.datasets.images_only(pairs).element_spec
    TensorSpec(shape=(None, 8, 8, 1), dtype=tf.float32, name=None)
    >>> keras_cvae.datasets.images_only((images, labels)).shape
    (4, 8, 8, 1)
    """
    if isinstance(data, tf.data.Dataset):
        if isinstance(data.element_spec, tuple):
            return data.map(lambda images, *rest: images)
        return data
    if isinstance(data, (tuple, list)):
        return data[0]
    return data


def first_images(data, count):
    """Up to `count` of the first images of `data` as a float32 array; `None` for other inputs.

    `data` is what `images_only` takes: a `tf.data.Dataset` of image
    batches (read from a fresh iterator until `count` images, so a shuffled
    dataset gives a random subset), an array or tensor of images, or a tuple
    of them. Generators and other Keras inputs give `None`.

    Example:

    >>> from keras_cvae.utils.dataset_images import first_images
    >>> import tensorflow as tf
    >>> batches = tf.data.Dataset.from_tensor_slices(np.zeros((10, 8, 8, 1), "float32")).batch(4)
    >>> first_images(batches, 6).shape
    (8, 8, 8, 1)
    """
    images = images_only(data)
    if isinstance(images, tf.data.Dataset):
        batches, total = [], 0
        for batch in images:
            batches.append(np.asarray(batch, "float32"))
            total += len(batches[-1])
            if total >= count:
                break
        return np.concatenate(batches) if batches else None
    if hasattr(images, "__array__") or tf.is_tensor(images):
        return np.asarray(images[:count], "float32")
    return None
