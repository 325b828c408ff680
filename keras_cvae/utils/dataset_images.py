"""`images_only`: the images of what Keras takes as data, without labels or sample weights."""

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
