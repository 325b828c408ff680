"""What `VAE.fit` / `evaluate` check before any step runs."""

import tensorflow as tf

from keras_cvae.utils.dataset_images import images_only
from keras_cvae.utils.image_validation import validate_dataset
from keras_cvae.utils.image_validation import validate_images


def check_training_data(data, image_shape):
    """Checks an array (fully) or a `tf.data.Dataset` (spec and first batch).

    Datasets of `(images, ...)` tuples, as Keras accepts, are checked on their
    images. Generators and other inputs are left to Keras.
    """
    if data is None:
        return
    if isinstance(data, tf.data.Dataset):
        validate_dataset(images_only(data), image_shape)
    elif hasattr(data, "__array__") or isinstance(data, tf.Tensor):
        validate_images(data, image_shape)
