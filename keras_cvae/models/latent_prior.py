"""What every latent prior shares: a float32 Keras layer with `log_prob`, `sample`, `sample_from_noise`."""

import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_cvae import validation
from keras_cvae.validation import MAX_TEMPERATURE, check_int, check_seed, invalid


class LatentPrior(keras.layers.Layer):
    """Base of the latent priors: calling one returns `log_prob(z)`, `(..., Z) -> (...)`.

    Subclasses implement `log_prob(z)`, `sample(num_samples, seed=None,
    temperature=1.0)` and `sample_from_noise(noise, uniform=None,
    temperature=1.0)`. Codes are float32 whatever the dtype policy.

    Args:
        **kwargs: Base `keras.layers.Layer` arguments.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    @property
    def input_dtype(self):
        # Codes stay float32 under a mixed policy (no rounding to bfloat16).
        return "float32"

    def build(self, input_shape=None):
        self.built = True

    def call(self, z):
        """`log_prob(z)`."""
        return self.log_prob(z)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])

    def compute_output_spec(self, z):
        return keras.KerasTensor(tuple(z.shape[:-1]), dtype="float32")


def as_codes(z, latent_dim, name="z"):
    """`z` as a float32 tensor `(..., latent_dim)`; a ValueError naming `name` otherwise."""
    z = ops.cast(ops.convert_to_tensor(z), "float32")
    if len(z.shape) < 1 or z.shape[-1] not in (None, latent_dim):
        raise invalid(name, f"a tensor of shape (..., {latent_dim})", f"<shape {tuple(z.shape)}>")
    return z


def check_num_samples(num_samples):
    """A Python int >= 1, or a scalar integer tensor passed through (traced exports)."""
    if tf.is_tensor(num_samples):
        return num_samples
    return check_int("num_samples", num_samples, minimum=1)


def check_temperature(temperature):
    """`T` in [0, `MAX_TEMPERATURE`] as float32, broadcastable against `(B, Z)` codes.

    A scalar, or one temperature per code `(B,)`. Numbers and arrays are
    checked; a tensor (an export's input) passes through.
    """
    if isinstance(temperature, numbers.Number):
        temperature = validation.check_temperature(temperature)
    elif not tf.is_tensor(temperature):
        array = np.asarray(temperature)
        if (array.dtype.kind not in "iuf" or array.ndim > 1 or not np.all(np.isfinite(array))
                or np.any(array < 0) or np.any(array > MAX_TEMPERATURE)):
            raise invalid("temperature", f"a finite number >= 0 and <= {MAX_TEMPERATURE:g} or a "
                          "(batch,) array of them", temperature)
    temperature = ops.cast(temperature, "float32")
    if len(temperature.shape) == 1:
        temperature = temperature[:, None]
    return temperature


def seed_pair(seed):
    """A stateless seed pair (int64 `(2,)`) from an int `s` (`[s, 0]`), a pair, or `None`.

    `None` draws a pair from TensorFlow's stateful generator: a fresh draw on
    every call, reproducible under `tf.random.set_seed`.
    """
    if seed is None:
        return tf.random.uniform((2,), maxval=2**31 - 1, dtype="int64")
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return ops.convert_to_tensor([check_seed("seed", seed), 0], dtype="int64")
    if tf.is_tensor(seed) or isinstance(seed, (list, tuple, np.ndarray)):
        pair = ops.convert_to_tensor(seed)
        if tuple(pair.shape) == (2,) and pair.dtype.is_integer:
            return ops.cast(pair, "int64")
    raise invalid("seed", "an integer, a pair of integers or None", seed)
