"""The ELBO's terms in closed form, in float32 whatever the compute dtype.

Every function returns one value per example (nats). Scales are given as
standard deviations or lower-triangular factors `L` with `Σ = L Lᵀ`, never as
variances, so nothing is exponentiated and nothing needs a Cholesky.
"""

import math

from keras import ops

LOG_2PI = math.log(2.0 * math.pi)


def _flat(x):
    return ops.reshape(ops.cast(x, "float32"), (ops.shape(x)[0], -1))


def gaussian_nll(x, mean, scale, outlier_probability=0.0):
    """`-log p(x)` per example, summed over all pixels, for a Gaussian per pixel.

    With `outlier_probability=0` each pixel's density is `N(x; mean, σ²)`:
    `= D/2 log 2π + D log σ + ‖x − mean‖² / (2σ²)` when `scale` is one σ per
    example; `scale` may also be per pixel. With `outlier_probability=ε > 0`
    each pixel's density is the mixture `(1 − ε) N(x; mean, σ²) + ε U[0, 1]`
    (`x` in [0, 1]): a pixel far from the mean costs at most `−log ε` nats
    instead of `(x − mean)² / (2σ²)`, a pixel near it `−log(1 − ε) ≈ ε`
    more. Computed as a `logaddexp` of the two log-densities, so neither
    underflows. Shapes: `x`, `mean` `(B, ...)`, `scale` broadcastable to them.
    """
    x = ops.cast(x, "float32")
    mean = ops.cast(mean, "float32")
    scale = ops.broadcast_to(ops.cast(scale, "float32"), ops.shape(x))
    z = (x - mean) / scale
    per_pixel = 0.5 * ops.square(z) + ops.log(scale) + 0.5 * LOG_2PI
    if outlier_probability:
        per_pixel = -ops.logaddexp(math.log1p(-outlier_probability) - per_pixel,
                                   math.log(outlier_probability))
    return ops.sum(_flat(per_pixel), axis=1)


def kl_diagonal(mean, scale):
    """`KL(N(mean, diag(scale²)) ‖ N(0, I))` per latent dimension, shape `(B, Z)`."""
    mean = ops.cast(mean, "float32")
    scale = ops.cast(scale, "float32")
    return 0.5 * (ops.square(scale) + ops.square(mean) - 1.0) - ops.log(scale)


def kl_full(mean, scale_tril):
    """`KL(N(mean, L Lᵀ) ‖ N(0, I))` per example, shape `(B,)`.

    `= ½ (tr(L Lᵀ) + ‖mean‖² − Z) − Σ_i log L_ii`, with `tr(L Lᵀ) = ‖L‖²_F`
    and the log-determinant read off the diagonal of the triangular factor.
    """
    mean = ops.cast(mean, "float32")
    scale_tril = ops.cast(scale_tril, "float32")
    latent_dim = ops.shape(mean)[-1]
    trace = ops.sum(ops.square(scale_tril), axis=(1, 2))
    log_det = ops.sum(ops.log(ops.diagonal(scale_tril, axis1=1, axis2=2)), axis=1)
    return 0.5 * (trace + ops.sum(ops.square(mean), axis=1) - ops.cast(latent_dim, "float32")) - log_det


def standard_normal_log_prob(z):
    """`log N(z; 0, I)` per example over the last axis."""
    z = ops.cast(z, "float32")
    latent_dim = ops.cast(ops.shape(z)[-1], "float32")
    return -0.5 * ops.sum(ops.square(z), axis=-1) - 0.5 * latent_dim * LOG_2PI


def scale_noise(scale, noise, diagonal):
    """`Σ^½ ε`: elementwise for a diagonal scale `(..., Z)`, a matrix product for `L` `(..., Z, Z)`."""
    if diagonal:
        return scale * noise
    return ops.einsum("...ij,...j->...i", scale, noise)


def log_det(scale, diagonal):
    """`log |Σ^½|` per example, from the diagonal scale or the diagonal of `L`."""
    if not diagonal:
        scale = ops.diagonal(scale, axis1=-2, axis2=-1)
    return ops.sum(ops.log(scale), axis=-1)
