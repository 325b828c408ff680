"""What the VAE's entry points check before any computation: images, codes, noise, data."""

import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_cvae.utils.dataset_images import images_only
from keras_cvae.utils.image_validation import checked_batches
from keras_cvae.utils.image_validation import validate_batch
from keras_cvae.utils.image_validation import validate_dataset
from keras_cvae.utils.image_validation import validate_images
from keras_cvae.validation import MAX_TEMPERATURE
from keras_cvae.validation import invalid


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


def check_sample_noise(z_noise, pixel_noise, temperature, z_uniform, latent_dim, image_shape):
    """The inputs of `VAE.sample_from_noise`, checked, as float tensors (a number stays one).

    `z_noise` `(B, Z)` and `pixel_noise` `(B, *image_shape)` (or `None`)
    finite; `temperature` a number or `(B,)` values in [0, `MAX_TEMPERATURE`]
    (a scalar tensor as `(1,)`); `z_uniform` `(B,)` (or `None`) in [0, 1);
    the same `B` for all where it is known.
    """
    z_noise = _as_float_tensor(validate_batch(z_noise, "z_noise", item_shape=(latent_dim,)))
    if pixel_noise is not None:
        pixel_noise = _as_float_tensor(
            validate_batch(pixel_noise, "pixel_noise", item_shape=tuple(image_shape)))
    if z_uniform is not None:
        z_uniform = _as_float_tensor(validate_batch(z_uniform, "z_uniform", item_shape=(),
                                                    value_range=(0, 1), high_inclusive=False))
    if not isinstance(temperature, numbers.Real) or isinstance(temperature, bool):
        temperature = _per_example(temperature, "temperature")
        temperature = _as_float_tensor(validate_batch(
            temperature, "temperature", item_shape=(), value_range=(0, MAX_TEMPERATURE)))
    sizes = {"z_noise": z_noise.shape[0]}
    for name, value in (("pixel_noise", pixel_noise), ("z_uniform", z_uniform),
                        ("temperature", temperature)):
        if hasattr(value, "shape") and not (
                name == "temperature" and value.shape[0] == 1):  # one temperature for all
            sizes[name] = value.shape[0]
    if len({size for size in sizes.values() if size is not None}) > 1:
        shown = ", ".join(f"{name} {size}" for name, size in sizes.items())
        raise invalid("z_noise", "inputs with one batch size", received=f"batch sizes {shown}")
    return z_noise, pixel_noise, temperature, z_uniform


def _per_example(values, name):
    """`values` as a tensor, a scalar as `(1,)`: one value per example, broadcastable."""
    if not (tf.is_tensor(values) or isinstance(values, keras.KerasTensor)):
        try:
            values = np.asarray(values)
        except (TypeError, ValueError):
            raise invalid(name, "a number or a (batch,) array of them", values) from None
    if len(values.shape) == 0:
        values = ops.reshape(values, (1,))
    return values


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
