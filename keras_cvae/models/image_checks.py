"""What the VAE's entry points check before any computation: images, codes, noise, data."""

import keras
import numpy as np
import tensorflow as tf

from keras_cvae.utils.dataset_images import images_only
from keras_cvae.utils.image_validation import checked_batches
from keras_cvae.utils.image_validation import validate_batch
from keras_cvae.utils.image_validation import validate_dataset
from keras_cvae.utils.image_validation import validate_images


def check_training_data(data, image_shape, name="x"):
    """Checks an array (fully) or a `tf.data.Dataset` (spec and first batch).

    Datasets of `(images, ...)` tuples, as Keras accepts, are checked on their
    images. Generators and other inputs are left to Keras.
    """
    if data is None:
        return
    if isinstance(data, tf.data.Dataset):
        validate_dataset(images_only(data), image_shape, name=name)
    elif hasattr(data, "__array__") or tf.is_tensor(data):
        validate_images(data, image_shape, name=name)


def check_images(images, image_shape, name="images"):
    """`images` as a float tensor after `validate_images`: what `encode`, `elbo` ... take."""
    return _as_float_tensor(validate_images(images, image_shape, name=name))


def check_codes(z, latent_dim, name="z"):
    """`z`, a non-empty `(batch, latent_dim)` batch of finite codes, as a float tensor."""
    expected = f"a non-empty batch of codes of shape (batch, {latent_dim}) with finite real values"
    return _as_float_tensor(validate_batch(z, name, item_shape=(latent_dim,), expected=expected))


def image_batches(data, image_shape, batch_size, name="data"):
    """`data`, an array or a `tf.data.Dataset` of image batches, as checked batches.

    An array is checked at once (fully) and batched; a dataset (of images or
    `(images, ...)` tuples) is checked on its spec and then batch by batch as
    the returned iterable is read. Each iteration reads `data` again.
    """
    if isinstance(data, tf.data.Dataset):
        return _Checked(images_only(data), image_shape, name)
    array = np.asarray(validate_images(data, image_shape, name=name), "float32")
    return tf.data.Dataset.from_tensor_slices(array).batch(batch_size)


class _Checked:
    """An iterable over a dataset's batches, each checked (`checked_batches`) as it is read."""

    def __init__(self, dataset, image_shape, name):
        self.dataset, self.image_shape, self.name = dataset, image_shape, name

    def __iter__(self):
        return checked_batches(self.dataset, self.image_shape, self.name)

    def cardinality(self):
        return self.dataset.cardinality()


def _as_float_tensor(values):
    """`values` as a float tensor (integers as float32); a Keras symbolic tensor as it is."""
    if isinstance(values, keras.KerasTensor):
        return values
    tensor = tf.convert_to_tensor(values)
    return tensor if tensor.dtype.is_floating else tf.cast(tensor, "float32")
