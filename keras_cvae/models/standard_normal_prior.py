"""The lecture's prior `r(z) = N(0, I)` as a Keras layer (no weights)."""

import math
import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_cvae.validation import check_int, check_number, check_positive_int, invalid

_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


@keras.saving.register_keras_serializable(package="keras_cvae")
class StandardNormalPrior(keras.layers.Layer):
    """The standard normal prior `r(z) = N(0, I)` in a `Z`-dimensional latent space.

    The default prior of a VAE and the one Algorithm 1 trains with. It has no
    weights, so a model that holds it saves and loads the same weights files
    as one without a prior. Everything is computed in float32 whatever the
    dtype policy: inputs are not cast to the compute dtype.

    Randomness is stateless: `sample` draws `ε ~ N(0, I)` from a seed pair
    (an int `s` is the pair `[s, 0]`, as in `VAE.sample`) and hands it to
    `sample_from_noise`, which an export can call with noise it passes in.

    Args:
        latent_dim: int. `Z`, the size of the latent code.
        **kwargs: Base `keras.layers.Layer` arguments.

    Example:

    >>> from keras_cvae.models.standard_normal_prior import StandardNormalPrior
    >>> prior = StandardNormalPrior(latent_dim=2)
    >>> np.round(keras.ops.convert_to_numpy(prior.log_prob(np.zeros((1, 2)))), 4)
    array([-1.8379], dtype=float32)
    >>> prior.sample(3, seed=0).shape
    TensorShape([3, 2])
    """

    def __init__(self, latent_dim, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        self.built = True

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

    def log_prob(self, z):
        """`log N(z; 0, I)` in nats, float32: `(..., Z) -> (...)`."""
        z = as_codes(z, self.latent_dim)
        return -0.5 * ops.sum(ops.square(z), axis=-1) - self.latent_dim * _HALF_LOG_TWO_PI

    def sample(self, num_samples, seed=None, temperature=1.0):
        """Draws `(num_samples, Z)` codes from `N(0, T² I)`, float32.

        Args:
            num_samples: int. Number of codes.
            seed: int or a pair of ints (e.g. from
                `tf.random.experimental.stateless_fold_in`). Defaults to
                `None` (a fresh draw on every call).
            temperature: float. `T`: scales the covariance by `T²`.
                Defaults to `1.0`.
        """
        noise = tf.random.stateless_normal(
            (check_num_samples(num_samples), self.latent_dim), seed_pair(seed)
        )
        return self.sample_from_noise(noise, temperature=temperature)

    def sample_from_noise(self, noise, uniform=None, temperature=1.0):
        """`T ε` from given standard normal noise `ε` `(B, Z)`: the identity at `T = 1`.

        Args:
            noise: `ε`, standard normal, `(B, Z)`.
            uniform: Ignored: accepted so that every prior has the signature
                of `GaussianMixturePrior.sample_from_noise`. Defaults to `None`.
            temperature: float, scalar tensor or `(B,)` tensor. `T`.
                Defaults to `1.0`.
        """
        noise = as_codes(noise, self.latent_dim, name="noise")
        return check_temperature(temperature) * noise

    def get_config(self):
        config = super().get_config()
        config.update({"latent_dim": self.latent_dim})
        return config


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
    """`T >= 0` as float32, broadcastable against `(B, Z)` codes.

    A scalar, or one temperature per code `(B,)`. Numbers and arrays are
    checked; a tensor (an export's input) passes through.
    """
    if isinstance(temperature, numbers.Number):
        temperature = check_number("temperature", temperature, minimum=0)
    elif not tf.is_tensor(temperature):
        array = np.asarray(temperature)
        if (array.dtype.kind not in "iuf" or array.ndim > 1
                or not np.all(np.isfinite(array)) or np.any(array < 0)):
            raise invalid("temperature", "a finite number >= 0 or a (batch,) array of them",
                          temperature)
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
        return ops.convert_to_tensor([int(seed), 0], dtype="int64")
    if tf.is_tensor(seed) or isinstance(seed, (list, tuple, np.ndarray)):
        pair = ops.convert_to_tensor(seed)
        if tuple(pair.shape) == (2,) and pair.dtype.is_integer:
            return ops.cast(pair, "int64")
    raise invalid("seed", "an integer, a pair of integers or None", seed)
