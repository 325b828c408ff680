"""A Gaussian mixture prior in latent space as a Keras layer (non-trainable weights)."""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_cvae.models.latent_prior import LatentPrior
from keras_cvae.models.latent_prior import as_codes
from keras_cvae.models.latent_prior import check_num_samples
from keras_cvae.models.latent_prior import check_temperature
from keras_cvae.models.latent_prior import seed_pair
from keras_cvae.validation import check_positive_int

_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)
# Tolerance on `sum(weights) == 1` in `set_parameters` (then renormalised).
_WEIGHTS_SUM_TOLERANCE = 1e-4


@keras.saving.register_keras_serializable(package="keras_cvae")
class GaussianMixturePrior(LatentPrior):
    """A `K`-component Gaussian mixture `p(z) = Σ_k π_k N(z; μ_k, L_k L_kᵀ)`.

    The parameters are non-trainable float32 weights (saved in `.keras` and
    `.weights.h5` files): `mixture_weights` `π` `(K,)`, `means` `μ` `(K, Z)`
    and `scale_trils` `L` `(K, Z, Z)`, lower-triangular with a positive
    diagonal. A new layer is `K` copies of `N(0, I)` with equal weights (the
    standard normal); `set_parameters` installs a fit, e.g. from
    `fit_gaussian_mixture`. Everything is computed in float32 whatever the
    dtype policy: inputs are not cast and the weights are not autocast.

    `log_prob` solves `L_k y = z − μ_k` (no inverse), takes `log |L_k|` from
    the diagonal and a log-sum-exp over the components with `log π_k`
    (`−inf` for a zero weight, never `log 0`). `sample_from_noise` turns
    given noise into codes with builtin TFLite ops only (comparisons, casts,
    matmuls): the component is `min(Σ_k [u ≥ cumsum(π)_k], K − 1)`, chosen
    by a one-hot matrix product, and `z = μ_k + T L_k ε`. `sample` draws
    `ε` and `u` from a seed pair and calls it.

    Args:
        latent_dim: int. `Z`, the size of the latent code.
        num_components: int. `K`, the number of Gaussians.
        **kwargs: Base `keras.layers.Layer` arguments.

    Example:

    >>> from keras_cvae.models.gaussian_mixture_prior import GaussianMixturePrior
    >>> prior = GaussianMixturePrior(latent_dim=2, num_components=2)
    >>> prior.set_parameters(
    ...     weights=[0.25, 0.75], means=[[-2.0, 0.0], [2.0, 0.0]],
    ...     scale_trils=[np.eye(2), [[0.5, 0.0], [0.1, 0.5]]])
    >>> prior.log_prob(np.zeros((4, 2))).shape
    TensorShape([4])
    >>> z = prior.sample_from_noise(np.zeros((2, 2)), uniform=np.array([0.1, 0.9]))
    >>> keras.ops.convert_to_numpy(z)
    array([[-2.,  0.],
           [ 2.,  0.]], dtype=float32)
    """

    def __init__(self, latent_dim, num_components, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        self.num_components = check_positive_int("num_components", num_components)
        k, z = self.num_components, self.latent_dim
        self.mixture_weights = self._parameter("mixture_weights", (k,), "ones", 1.0 / k)
        self.means = self._parameter("means", (k, z), "zeros")
        self.scale_trils = self._parameter("scale_trils", (k, z, z), "identity")
        self.built = True

    def _parameter(self, name, shape, kind, scale=1.0):
        def initializer(shape, dtype=None):
            if kind == "identity":
                return ops.broadcast_to(ops.eye(shape[-1], dtype="float32"), shape)
            return scale * (ops.ones if kind == "ones" else ops.zeros)(shape, dtype="float32")

        return self.add_weight(
            name=name, shape=shape, initializer=initializer, dtype="float32",
            trainable=False, autocast=False,
        )

    # === Density ===

    def log_prob(self, z):
        """`log p(z)` in nats, float32: `(..., Z) -> (...)`.

        Memory is `O(N K Z)` floats for `N` codes: chunk very large batches.
        """
        z = as_codes(z, self.latent_dim)
        flat = ops.reshape(z, (-1, self.latent_dim))
        # (K, Z, N): the codes relative to each mean, one column per code.
        centred = ops.transpose(flat[None, :, :] - self.means[:, None, :], (0, 2, 1))
        solved = tf.linalg.triangular_solve(self.scale_trils, centred, lower=True)
        diagonal = ops.diagonal(self.scale_trils, axis1=-2, axis2=-1)
        log_det = ops.sum(ops.log(diagonal), axis=-1)  # positive by `set_parameters`
        log_normal = (
            -0.5 * ops.sum(ops.square(solved), axis=1)
            - log_det[:, None]
            - self.latent_dim * _HALF_LOG_TWO_PI
        )  # (K, N)
        log_prob = ops.logsumexp(log_normal + self._log_weights()[:, None], axis=0)
        return ops.reshape(log_prob, ops.shape(z)[:-1])

    def _log_weights(self):
        weights = self.mixture_weights
        positive = weights > 0
        safe = ops.where(positive, weights, ops.ones_like(weights))
        return ops.where(positive, ops.log(safe), ops.full_like(weights, -np.inf))

    # === Sampling ===

    def sample(self, num_samples, seed=None, temperature=1.0):
        """Draws `(num_samples, Z)` codes, float32; `T` scales every covariance by `T²`.

        `ε ~ N(0, I)` comes from the seed pair and `u ~ U[0, 1)` from the pair
        folded in with 1; see `sample_from_noise`.

        Args:
            num_samples: int. Number of codes.
            seed: int or a pair of ints (e.g. from
                `tf.random.experimental.stateless_fold_in`). Defaults to
                `None` (a fresh draw on every call).
            temperature: float. `T`. Defaults to `1.0`.
        """
        num_samples, seed = check_num_samples(num_samples), seed_pair(seed)
        noise = tf.random.stateless_normal((num_samples, self.latent_dim), seed)
        uniform_seed = tf.random.experimental.stateless_fold_in(seed, 1)
        uniform = tf.random.stateless_uniform((num_samples,), uniform_seed)
        return self.sample_from_noise(noise, uniform, temperature=temperature)

    def sample_from_noise(self, noise, uniform, temperature=1.0):
        """`μ_k + T L_k ε` with `k` picked by `u` through the cumulative weights.

        Only ops that TFLite has as builtins, and no randomness: exports pass
        all of it in.

        Args:
            noise: `ε`, standard normal, `(B, Z)`.
            uniform: `u`, uniform on `[0, 1)`, `(B,)`: component
                `min(Σ_k [u ≥ cumsum(π)_k], K − 1)`.
            temperature: float, scalar tensor or `(B,)` tensor. `T`.
                Defaults to `1.0`.
        """
        noise = as_codes(noise, self.latent_dim, name="noise")
        one_hot = self._one_hot_component(uniform, ops.shape(noise)[0])  # (B, K)
        k, z = self.num_components, self.latent_dim
        mean = ops.matmul(one_hot, self.means)
        scale = ops.reshape(
            ops.matmul(one_hot, ops.reshape(self.scale_trils, (k, z * z))), (-1, z, z)
        )
        scaled = ops.sum(scale * noise[:, None, :], axis=-1)  # L_k ε, row by row
        return mean + check_temperature(temperature) * scaled

    def _one_hot_component(self, uniform, batch):
        uniform = ops.cast(ops.convert_to_tensor(uniform), "float32")
        if len(uniform.shape) != 1:
            raise ValueError(
                "Invalid value for argument `uniform`. Expected a tensor of shape (batch,). "
                f"Received: uniform=<shape {tuple(uniform.shape)}>"
            )
        if self.num_components == 1:
            return ops.ones((batch, 1), dtype="float32")
        # above[b, k] = [u_b >= cumsum_k] for k < K - 1: ones, then zeros.
        cumulative = ops.cumsum(self.mixture_weights)[:-1]
        above = ops.cast(uniform[:, None] >= cumulative[None, :], "float32")
        ones = ops.ones_like(above[:, :1])
        # Component k is chosen when above[k - 1] = 1 and above[k] = 0.
        return ops.concatenate([ones, above], axis=1) - ops.concatenate(
            [above, ops.zeros_like(ones)], axis=1
        )

    # === Parameters ===

    def set_parameters(self, weights, means, scale_trils):
        """Installs `π` `(K,)`, `μ` `(K, Z)` and `L` `(K, Z, Z)` after checking them.

        Each must be finite and numeric with these shapes; `weights` >= 0
        summing to 1 (within 1e-4; renormalised beyond float32 rounding);
        `scale_trils` lower-triangular with a positive diagonal (in float32).
        Raises a ValueError naming the argument otherwise, assigning nothing.
        """
        k, z = self.num_components, self.latent_dim
        weights = _checked_array("weights", weights, (k,))
        means = _checked_array("means", means, (k, z))
        scale_trils = _checked_array("scale_trils", scale_trils, (k, z, z))
        total = float(np.sum(weights, dtype=np.float64))
        if np.any(weights < 0) or abs(total - 1.0) > _WEIGHTS_SUM_TOLERANCE:
            raise _array_error("weights", "non-negative numbers summing to 1",
                               f"<weights summing to {total!r}, minimum {weights.min()!r}>")
        if np.any(np.triu(scale_trils, 1) != 0):
            raise _array_error("scale_trils", "lower-triangular matrices",
                               "<non-zero entries above the diagonal>")
        if np.any(np.diagonal(scale_trils, axis1=-2, axis2=-1) <= 0):
            raise _array_error("scale_trils", "a positive diagonal", "<a diagonal entry <= 0>")
        if abs(total - 1.0) > 1e-6:  # more than float32 rounding: renormalise
            weights = (weights.astype(np.float64) / total).astype("float32")
        self.mixture_weights.assign(weights)
        self.means.assign(means)
        self.scale_trils.assign(scale_trils)

    def parameters(self):
        """`(weights, means, scale_trils)` as float32 NumPy arrays."""
        return tuple(
            np.array(ops.convert_to_numpy(v))
            for v in (self.mixture_weights, self.means, self.scale_trils)
        )

    def get_config(self):
        config = super().get_config()
        config.update({"latent_dim": self.latent_dim, "num_components": self.num_components})
        return config


def _checked_array(name, value, shape):
    """`value` as a finite float32 NumPy array of `shape`; a ValueError naming `name` otherwise."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        raise _array_error(name, f"a numeric array of shape {shape}", repr(value)) from None
    if array.dtype.kind not in "iuf":
        raise _array_error(name, f"a numeric array of shape {shape}", f"<{array.dtype} array>")
    if array.shape != shape:
        raise _array_error(name, f"an array of shape {shape}", f"<shape {array.shape}>")
    array = array.astype("float32")
    if not np.all(np.isfinite(array)):
        raise _array_error(name, "finite values (in float32)", "<an array with NaN or inf>")
    return array


def _array_error(name, expected, received):
    return ValueError(
        f"Invalid value for argument `{name}`. Expected {expected}. Received: {name}={received}"
    )
