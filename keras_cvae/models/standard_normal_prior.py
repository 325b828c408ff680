"""The lecture's prior `r(z) = N(0, I)` as a Keras layer (no weights)."""

import math

import keras
import tensorflow as tf
from keras import ops

from keras_cvae.models.latent_prior import LatentPrior
from keras_cvae.models.latent_prior import as_codes
from keras_cvae.models.latent_prior import check_num_samples
from keras_cvae.models.latent_prior import check_temperature
from keras_cvae.models.latent_prior import seed_pair
from keras_cvae.validation import check_positive_int

_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


@keras.saving.register_keras_serializable(package="keras_cvae")
class StandardNormalPrior(LatentPrior):
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
