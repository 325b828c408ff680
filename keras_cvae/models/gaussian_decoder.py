import math

import keras
import numpy as np
from keras import ops

from keras_cvae import validation
from keras_cvae.layers import PaddedConv
from keras_cvae.models import elbo
from keras_cvae.models.conv_net_config import as_conv_net
from keras_cvae.utils.image_validation import validate_images

# Codes are clipped to [-CODE_LIMIT, CODE_LIMIT] per coordinate: far beyond
# where any prior or posterior puts mass (N(0, 1) has density e^-5e7 there),
# so no sample or reconstruction changes, but `z · W` cannot overflow float32.
CODE_LIMIT = 1e4
DECODER_SCALES = ("constant", "learned", "linear", "per_pixel", "linear_per_pixel")
MEAN_ACTIVATIONS = ("linear", "sigmoid")
# The values that configs written without these keys were saved with.
LEGACY_DEFAULTS = {"decoder_scale": "learned", "mean_activation": "linear", "data_init": False,
                   "outlier_probability": 0.0, "residual_rank": 0}
# `outlier_probability` of a decoder with independent pixels (`residual_rank=0`).
OUTLIER_PROBABILITY = 1e-4


@keras.saving.register_keras_serializable(package="keras_cvae")
class GaussianDecoder(keras.layers.Layer):
    """The lecture's decoder: `p(x|z) = N(x; g(z), σ(z)² I)` from a residual convnet.

    `f_in` is a linear map from `Z` to `C × d × d`, `h` the convnet, `f_mean`
    a 1×1 padded convolution from `C` to the image's channels, so
    `g(z) = f_mean(h(f_in(z)))`. The standard deviation `σ` follows
    `decoder_scale`:

    - `"constant"`: `σ = scale`, fixed.
    - `"learned"`: one trainable `σ`, started at `scale`.
    - `"linear"`: `σ(z)` a linear function of the flattened features `h`,
      one per example, started near `scale`.
    - `"per_pixel"`: one trainable `σ` per output pixel and channel, started
      at `scale` (lets always-empty borders get a small `σ`).
    - `"linear_per_pixel"` (the default): `σ(z)` per output pixel and
      channel, a 1×1 convolution of `h` like `f_mean` (a linear function of
      the features at each position), started at `scale`. The lecture's
      `σ(z)² I` made diagonal: each pixel's uncertainty depends on `z`.

    The mean is `f_mean`'s output as the lecture has it
    (`mean_activation="linear"`), or squashed into (0, 1) by a sigmoid
    (`"sigmoid"`, the default, computed in float32). The sigmoid lets pixels
    that are nearly constant, such as the empty background of digits, be
    predicted to within their quantization width so that their σ can shrink
    to match; with a linear mean the decoder must reach that accuracy
    through an unbounded output, and σ stays an order of magnitude too large.

    `data_init=True` (the default) adds a per-pixel offset to the mean and
    to σ(z)'s pre-activation, and starts σ's head at zero; `VAE.fit` sets
    the offsets once, before the first step, from the first training images
    (`initialize_from_data`): the mean starts at the pixel means (plus the
    randomly initialised head's function of the code) and σ at the images'
    typical deviation from them (the root mean square of the pixel standard
    deviations, the same for every pixel). The model then starts at the
    data's scale instead of having to travel there at Adam's pace (a plateau
    whose crossing depended on the learning rate and the seed). Two choices
    here are measured on 28×28 digits: σ of pixels that the first images
    never vary (a digit's empty border) is left for training to shrink, as
    started at their own near-zero deviation such pixels make any image that
    does vary there (a test digit a little off-centre) cost thousands of
    nats; and the mean's head is not zero, as a zero head passes the encoder
    no gradient at the start, while the KL term pulls `q(z|x)` onto the
    prior. The offsets are ordinary trainable weights afterwards.

    `outlier_probability=ε` (`1e-4` by default when `residual_rank=0`) makes
    each pixel's density
    the mixture `(1 − ε) N(x; g(z), σ²) + ε U[0, 1]`: a pixel that the
    Gaussian puts far out — a test image inking where no training image
    does, after σ has shrunk there — costs at most `−log ε ≈ 9.2` nats
    instead of thousands, and every other pixel `−log(1 − ε) ≈ 1e-4` nats
    more. It is still a normalized density on [0, 1], used by the training
    loss and by `log_likelihood` alike (`negative_log_likelihood`).
    Sampling draws the Gaussian part, `g(z) + σ η` (a draw from the mixture
    would replace one pixel in 1/ε by uniform noise). `ε = 0` is the
    lecture's Gaussian.

    `residual_rank=r > 0` correlates the pixels' noise: `x = g(z) + σ(z) ⊙
    (I + V Vᵀ) η`, `η ~ N(0, I_D)`, with `V` a trainable `D × r` matrix
    (`D` the image's values), so `p(x|z) = N(g(z), S (I + V Vᵀ)² S)`, `S =
    diag(σ(z))`: σ(z) per pixel as before, and `r` directions in which the
    standardized residuals of all pixels move together (the textures and
    colour correlations that a code of a few dimensions leaves in natural
    images). The density stays exact and costs `O(D r)` per image (Woodbury
    and the matrix determinant lemma: `log det(I + V Vᵀ) = log det(I_r + Vᵀ
    V)`), and a sample needs only the pixel noise `η` (two matrix products).
    Per-pixel outliers are then not defined: `outlier_probability` must be
    0 (its default with a rank).

    `data_init=False`, `outlier_probability=0`, `residual_rank=0` with a
    linear mean is the lecture's decoder exactly.

    Learned scales are `softplus(·) + min_scale` in float32. `scale` and
    `min_scale` lie in `keras_cvae.validation.SCALE_RANGE`, [1e-6, 1e6]: a
    smaller σ makes `(x − g(z))² / (2σ²)` overflow float32. Codes are clipped
    to [−1e4, 1e4] per coordinate before `f_in` (`CODE_LIMIT`), so every
    finite code, however large, decodes to finite outputs; codes a prior or
    an encoder produces lie far inside. Call returns
    `(mean, scale)`: `mean` `(B, *image_shape)`, `scale` `(B, 1, ..., 1)`, or
    `(B, *image_shape)` for `"per_pixel"` and `"linear_per_pixel"`.

    Args:
        image_shape: tuple. `(d, d, C_out)` for 2-d images (channels-last;
            `(d, C_out)` or `(d, d, d, C_out)` for 1-d or 3-d convnets).
        conv_net: `keras_cvae.layers.ConvNet` or a dict of its arguments. `h`.
        decoder_scale: str. `"constant"`, `"learned"`, `"linear"`,
            `"per_pixel"` or `"linear_per_pixel"`. Defaults to
            `"linear_per_pixel"`.
        scale: float. The constant `σ`, or the initial one (without data
            initialisation), in [1e-6, 1e6] (above `min_scale` if learned).
            Defaults to `0.1`.
        min_scale: float. Lower bound of a learned `σ`, in [1e-6, 1e6].
            Defaults to `1e-3`.
        mean_activation: str. `"linear"` (the lecture's `g(z)`) or
            `"sigmoid"` (the mean in (0, 1)). Defaults to `"sigmoid"`.
        data_init: bool. Start the mean and σ at the training images' pixel
            statistics (see above). Defaults to `True`.
        outlier_probability: float. `ε` in [0, 0.5]: the weight of the
            uniform component of each pixel's density (see above). Defaults
            to `None`: `1e-4` without a `residual_rank`, else `0`.
        residual_rank: int. `r`, the rank of the pixels' correlated noise
            (see above); `0` makes the pixels independent given `z`.
            Defaults to `0`.
        **kwargs: Base `keras.layers.Layer` arguments.

    A config saved without `decoder_scale`, `mean_activation`, `data_init`,
    `outlier_probability` or `residual_rank` loads with the values it was
    saved under (`"learned"`, `"linear"`, `False`, `0`, `0`).

    Example:

    >>> decoder = keras_cvae.GaussianDecoder(
    ...     image_shape=(8, 8, 1), conv_net={"depth": 1, "channels": 8})
    >>> mean, scale = decoder(np.zeros((2, 4)))
    >>> mean.shape, scale.shape
    (TensorShape([2, 8, 8, 1]), TensorShape([2, 8, 8, 1]))
    """

    def __init__(
        self,
        image_shape,
        conv_net,
        decoder_scale="linear_per_pixel",
        scale=0.1,
        min_scale=1e-3,
        mean_activation="sigmoid",
        data_init=True,
        outlier_probability=None,
        residual_rank=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.conv_net = as_conv_net(conv_net)
        self.image_shape = _check_image_shape(image_shape, self.conv_net.rank)
        self.decoder_scale = validation.check_choice("decoder_scale", decoder_scale, DECODER_SCALES)
        self.min_scale = validation.check_scale("min_scale", min_scale)
        # A learned σ starts at `scale` and never goes below `min_scale`.
        lowest = None if decoder_scale == "constant" else self.min_scale
        self.scale = validation.check_scale("scale", scale, minimum=lowest)
        self.mean_activation = validation.check_choice(
            "mean_activation", mean_activation, MEAN_ACTIVATIONS)
        self.data_init = validation.check_bool("data_init", data_init)
        self.residual_rank = validation.check_int(
            "residual_rank", residual_rank, minimum=0, maximum=math.prod(self.image_shape))
        if outlier_probability is None:
            outlier_probability = 0.0 if self.residual_rank else OUTLIER_PROBABILITY
        self.outlier_probability = validation.check_number(
            "outlier_probability", outlier_probability, minimum=0, maximum=0.5)
        if self.outlier_probability and self.residual_rank:
            raise ValueError(
                "A decoder with correlated pixel noise has no per-pixel outliers: expected "
                "outlier_probability=0 (or None) with a residual_rank. Received: "
                f"outlier_probability={outlier_probability}, residual_rank={residual_rank}")
        self._features_shape = (*self.image_shape[:-1], self.conv_net.channels)
        self.f_in = keras.layers.Dense(
            math.prod(self._features_shape), dtype=self.dtype_policy, name="f_in"
        )
        self.f_mean = PaddedConv(
            self.conv_net.rank, self.image_shape[-1], 1, dtype=self.dtype_policy, name="f_mean"
        )
        # softplus(inverse_softplus(scale - min_scale)) + min_scale == scale at start.
        self._raw_start = _inverse_softplus(max(self.scale - self.min_scale, 1e-6))
        self.f_var = self._scale_head()

    def _scale_head(self):
        """The layer of `σ(z)` (`"linear"`, `"linear_per_pixel"`), started at `scale`; else None."""
        # With `data_init`, σ's start is the per-pixel `scale_offset`, not this bias.
        bias = 0.0 if self.data_init and self.decoder_scale == "linear_per_pixel" else self._raw_start
        start = {"kernel_initializer": "zeros",
                 "bias_initializer": keras.initializers.Constant(bias),
                 "dtype": "float32", "name": "f_var"}
        if self.decoder_scale == "linear":
            return keras.layers.Dense(1, **start)
        if self.decoder_scale == "linear_per_pixel":
            return PaddedConv(self.conv_net.rank, self.image_shape[-1], 1, **start)
        return None

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                "GaussianDecoder expects latent codes of shape (batch, latent_dim). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.f_in.build(input_shape)
        features = (input_shape[0], *self._features_shape)
        if not self.conv_net.built:  # a ConvNet passed in or deserialized may be built
            self.conv_net.build(features)
        self.f_mean.build(features)
        if self.decoder_scale == "linear":
            self.f_var.build((input_shape[0], math.prod(self._features_shape)))
        elif self.decoder_scale == "linear_per_pixel":
            self.f_var.build(features)
        if self.decoder_scale == "learned":
            self.raw_scale = self.add_weight(
                name="raw_scale",
                shape=(),
                initializer=keras.initializers.Constant(self._raw_start),
                dtype="float32",
                autocast=False,
            )
        elif self.decoder_scale == "per_pixel":
            self.raw_scale = self.add_weight(
                name="raw_scale",
                shape=self.image_shape,
                initializer=keras.initializers.Constant(self._raw_start),
                dtype="float32",
                autocast=False,
            )
        if self.data_init:
            self._build_data_init()
        if self.residual_rank:
            # Small and random: V = 0 is a stationary point of the likelihood.
            self.residual_factor = self.add_weight(
                name="residual_factor", shape=(math.prod(self.image_shape), self.residual_rank),
                initializer=keras.initializers.RandomNormal(stddev=0.01), dtype="float32",
                autocast=False)

    def _build_data_init(self):
        """Per-pixel offsets of the mean (and of σ(z)), and whether `initialize_from_data` ran."""
        self.mean_offset = self.add_weight(
            name="mean_offset", shape=self.image_shape, initializer="zeros", dtype="float32",
            autocast=False)
        if self.decoder_scale == "linear_per_pixel":
            self.scale_offset = self.add_weight(
                name="scale_offset", shape=self.image_shape,
                initializer=keras.initializers.Constant(self._raw_start), dtype="float32",
                autocast=False)
        self.data_initialized = self.add_weight(
            name="data_initialized", shape=(), initializer="zeros", dtype="float32",
            trainable=False, autocast=False)

    def initialize_from_data(self, images):
        """Starts `g(z)` at the images' pixel means and `σ` at their typical deviation.

        For a decoder built with `data_init=True`; `VAE.fit` calls it once,
        before the first step, with the first training images. The mean's
        per-pixel offset becomes the pixel means (their logits for a sigmoid
        mean, the means clipped to [1e-3, 1 − 1e-3]) and every σ starts at the
        root mean square of the pixel standard deviations, at least
        `min_scale`: one value for all pixels, also for the per-pixel σ (see
        the class docstring for why).

        Args:
            images: array `(N, *image_shape)` in [0, 1], `N >= 2`.
        """
        if not self.data_init:
            raise ValueError("initialize_from_data needs a decoder built with data_init=True. "
                             "Received: data_init=False")
        images = np.asarray(images, dtype="float64")
        if images.ndim != len(self.image_shape) + 1 or images.shape[1:] != self.image_shape \
                or len(images) < 2:
            raise validation.invalid(
                "images", f"at least 2 images of shape {self.image_shape}", images.shape)
        validate_images(images, self.image_shape, name="images")  # finite, in [0, 1]
        if not self.built:
            raise ValueError("initialize_from_data needs a built decoder: call it on a batch of "
                             "codes first (`VAE.fit` builds it).")
        mean = images.mean(axis=0)
        if self.mean_activation == "sigmoid":
            mean = np.clip(mean, 1e-3, 1 - 1e-3)
            mean = np.log(mean) - np.log1p(-mean)
        self.mean_offset.assign(mean.astype("float32"))
        # One σ for every pixel: the root mean square of the pixel deviations.
        std = max(float(np.sqrt(np.mean(images.var(axis=0)))), self.min_scale * 1.01)
        raw = np.float32(np.log(np.expm1(std - self.min_scale)))
        if self.decoder_scale == "linear_per_pixel":
            self.scale_offset.assign(np.full(self.scale_offset.shape, raw))
        elif self.decoder_scale in ("learned", "per_pixel"):
            self.raw_scale.assign(np.broadcast_to(raw, self.raw_scale.shape))
        elif self.decoder_scale == "linear":
            self.f_var.bias.assign(np.reshape(raw, (1,)))
        self.data_initialized.assign(1.0)

    def call(self, z, training=None):
        batch = ops.shape(z)[0]
        z = ops.clip(z, -CODE_LIMIT, CODE_LIMIT)  # any finite code decodes to finite outputs
        h = ops.reshape(self.f_in(z), (batch, *self._features_shape))
        h = self.conv_net(h, training=training)
        mean = self.f_mean(h)
        if self.data_init or self.mean_activation == "sigmoid":
            # float32: in bfloat16 a mean of 0.998 would round to 0.996 or 1.
            mean = ops.cast(mean, "float32")
        if self.data_init:
            mean = mean + self.mean_offset
        if self.mean_activation == "sigmoid":
            mean = ops.sigmoid(mean)
        ones = (1,) * len(self.image_shape)
        if self.decoder_scale == "constant":
            scale = ops.full((batch, *ones), self.scale, dtype="float32")
        elif self.decoder_scale == "learned":
            scale = ops.softplus(self.raw_scale) + self.min_scale
            scale = ops.broadcast_to(scale, (batch, *ones))
        elif self.decoder_scale == "per_pixel":
            scale = ops.softplus(self.raw_scale) + self.min_scale
            scale = ops.broadcast_to(scale[None], (batch, *self.image_shape))
        elif self.decoder_scale == "linear_per_pixel":
            # f_var is a float32 layer: it casts `h` in and computes σ in float32.
            raw = self.f_var(h)
            if self.data_init:
                raw = raw + self.scale_offset
            scale = ops.softplus(raw) + self.min_scale
        else:
            raw = self.f_var(ops.reshape(h, (batch, -1)))
            scale = ops.reshape(ops.softplus(ops.cast(raw, "float32")) + self.min_scale, (batch, *ones))
        return mean, scale

    def negative_log_likelihood(self, images, mean, scale):
        """`−log p(x|z)` per example (nats, float32) given the decoder's outputs at `z`.

        Each pixel's density is `N(x; mean, scale²)`, mixed with `U[0, 1]` at
        weight `outlier_probability` when that is positive
        (`keras_cvae.models.elbo.gaussian_nll`); with a `residual_rank` the
        image's density is `N(x; mean, S (I + V Vᵀ)² S)`, `S = diag(scale)`.

        Args:
            images: `(B, *image_shape)` in [0, 1].
            mean, scale: what calling the decoder returned, `(B, *image_shape)`
                and a `scale` broadcastable to it.
        """
        if not self.residual_rank:
            return elbo.gaussian_nll(images, mean, scale, self.outlier_probability)
        # With u = (x − g) / σ: −log p = Σ log σ + D/2 log 2π + log det B + ½‖B⁻¹u‖², where
        # B = I + V Vᵀ, B⁻¹ = I − V M⁻¹ Vᵀ and det B = det M, M = I_r + Vᵀ V (r × r).
        x = ops.cast(images, "float32")
        batch = ops.shape(x)[0]
        scale = ops.reshape(ops.broadcast_to(ops.cast(scale, "float32"), ops.shape(x)), (batch, -1))
        u = ops.reshape(x - ops.cast(mean, "float32"), (batch, -1)) / scale
        factor = self.residual_factor
        cholesky = ops.cholesky(ops.eye(self.residual_rank) + ops.matmul(ops.transpose(factor),
                                                                         factor))
        half = ops.solve_triangular(cholesky, ops.transpose(ops.matmul(u, factor)), lower=True)
        solved = ops.solve_triangular(ops.transpose(cholesky), half, lower=False)  # M⁻¹ Vᵀu
        whitened = u - ops.matmul(ops.transpose(solved), ops.transpose(factor))
        log_det = 2.0 * ops.sum(ops.log(ops.diagonal(cholesky)))
        dims = math.prod(self.image_shape)
        return (ops.sum(ops.log(scale), axis=1) + 0.5 * dims * elbo.LOG_2PI + log_det
                + 0.5 * ops.sum(ops.square(whitened), axis=1))

    def correlate(self, noise):
        """`(I + V Vᵀ) η`: the residual noise of a sample from standard normal pixel noise `η`.

        `η` itself without a `residual_rank`. `noise` `(B, *image_shape)`,
        float32; so `g(z) + σ(z) · correlate(η)` draws `x ~ p(x|z)`.
        """
        noise = ops.cast(noise, "float32")
        if not self.residual_rank:
            return noise
        flat = ops.reshape(noise, (ops.shape(noise)[0], -1))
        factor = self.residual_factor
        flat = flat + ops.matmul(ops.matmul(flat, factor), ops.transpose(factor))
        return ops.reshape(flat, ops.shape(noise))

    def compute_output_shape(self, input_shape):
        batch = input_shape[0]
        if self.decoder_scale in ("per_pixel", "linear_per_pixel"):
            return (batch, *self.image_shape), (batch, *self.image_shape)
        return (batch, *self.image_shape), (batch,) + (1,) * len(self.image_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_shape": self.image_shape,
                "conv_net": keras.saving.serialize_keras_object(self.conv_net),
                "decoder_scale": self.decoder_scale,
                "scale": self.scale,
                "min_scale": self.min_scale,
                "mean_activation": self.mean_activation,
                "data_init": self.data_init,
                "outlier_probability": self.outlier_probability,
                "residual_rank": self.residual_rank,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        # Configs saved before an option existed behave as saved: its value then.
        return super().from_config({**LEGACY_DEFAULTS, **config})


def _inverse_softplus(y):
    """`x` with `softplus(x) = log(1 + e^x) = y`, for any `y > 0` (`y` itself past 30)."""
    return y if y > 30 else math.log(math.expm1(y))


def _check_image_shape(image_shape, rank):
    """`image_shape` as a tuple of `rank + 1` positive ints (spatial sizes, then channels)."""
    shape = tuple(image_shape) if isinstance(image_shape, (list, tuple)) else None
    if shape is None or len(shape) != rank + 1 or not all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
        raise validation.invalid(
            "image_shape", f"{rank + 1} positive ints (spatial sizes, then channels) for a "
            f"rank-{rank} convnet", image_shape)
    return shape
