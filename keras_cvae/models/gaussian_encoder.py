import math

import keras
from keras import ops

from keras_cvae.layers import PaddedConv
from keras_cvae.models.conv_net_config import as_conv_net
from keras_cvae.validation import check_choice
from keras_cvae.validation import check_scale
from keras_cvae.validation import check_positive_int

POSTERIORS = ("diagonal", "full")


@keras.saving.register_keras_serializable(package="keras_cvae")
class GaussianEncoder(keras.layers.Layer):
    """The lecture's encoder: `q(z|x) = N(z; f(x), Σ(x))` from a residual convnet.

    `f_in` is a 1×1 padded convolution from the image's channels to the
    convnet's `C`, `h` the convnet, and two linear maps of the flattened
    `C × d × d` features give the mean `f_mean(h) ∈ R^Z` and `Σ^½ = f_var(h)`:
    a positive diagonal (`posterior="diagonal"`) or a `Z × Z` lower-triangular
    matrix with a positive diagonal (`posterior="full"`). Positivity comes from
    `softplus(·) + min_scale`, computed in float32 (no `exp` that can overflow).

    Call returns `(mean, scale)`: `mean` `(B, Z)`; `scale` `(B, Z)` (the
    diagonal) for `"diagonal"` and `(B, Z, Z)` for `"full"`, both float32.

    Args:
        latent_dim: int. `Z`, the size of the latent code.
        conv_net: `keras_cvae.layers.ConvNet` or a dict of its arguments. `h`.
        posterior: str. `"diagonal"` or `"full"`. Defaults to `"diagonal"`.
        min_scale: float. Lower bound added to every standard deviation, in
            [1e-6, 1e6] (`keras_cvae.validation.SCALE_RANGE`).
            Defaults to `1e-4`.
        **kwargs: Base `keras.layers.Layer` arguments.

    Example:

    >>> encoder = keras_cvae.GaussianEncoder(
    ...     latent_dim=4, conv_net={"depth": 1, "channels": 8})
    >>> mean, scale = encoder(np.zeros((2, 8, 8, 1)))
    >>> mean.shape, scale.shape
    (TensorShape([2, 4]), TensorShape([2, 4]))
    """

    def __init__(self, latent_dim, conv_net, posterior="diagonal", min_scale=1e-4, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        self.posterior = check_choice("posterior", posterior, POSTERIORS)
        self.min_scale = check_scale("min_scale", min_scale)
        self.conv_net = as_conv_net(conv_net)
        z = self.latent_dim
        # === Layers ===
        self.f_in = PaddedConv(
            self.conv_net.rank, self.conv_net.channels, 1, dtype=self.dtype_policy, name="f_in"
        )
        # The heads are linear maps to the distribution's parameters: float32.
        self.f_mean = keras.layers.Dense(z, dtype="float32", name="f_mean")
        scale_units = z if posterior == "diagonal" else z * (z + 1) // 2
        self.f_var = keras.layers.Dense(
            scale_units,
            kernel_initializer=keras.initializers.VarianceScaling(0.01),
            dtype="float32",
            name="f_var",
        )

    def build(self, input_shape):
        rank = self.conv_net.rank
        if len(input_shape) != rank + 2 or any(d is None for d in input_shape[1:]):
            raise ValueError(
                f"GaussianEncoder with a rank-{rank} convnet expects images of shape "
                f"(batch, {', '.join(['d'] * rank)}, channels) with known sizes. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        features_shape = (*input_shape[:-1], self.conv_net.channels)
        self.f_in.build(input_shape)
        if not self.conv_net.built:  # a ConvNet passed in or deserialized may be built
            self.conv_net.build(features_shape)
        flat = (input_shape[0], math.prod(features_shape[1:]))
        self.f_mean.build(flat)
        self.f_var.build(flat)

    def call(self, images, training=None):
        h = self.conv_net(self.f_in(images), training=training)
        h = ops.reshape(h, (ops.shape(h)[0], -1))
        mean = self.f_mean(h)
        raw = ops.cast(self.f_var(h), "float32")
        if self.posterior == "diagonal":
            return mean, ops.softplus(raw) + self.min_scale
        return mean, _lower_triangular(raw, self.latent_dim, self.min_scale)

    def compute_output_shape(self, input_shape):
        batch, z = input_shape[0], self.latent_dim
        return (batch, z), (batch, z) if self.posterior == "diagonal" else (batch, z, z)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "latent_dim": self.latent_dim,
                "conv_net": keras.saving.serialize_keras_object(self.conv_net),
                "posterior": self.posterior,
                "min_scale": self.min_scale,
            }
        )
        return config


def _lower_triangular(raw, z, min_scale):
    """Fills a `(B, Z(Z+1)/2)` vector into `(B, Z, Z)` lower-triangular, positive diagonal.

    Row-major packing: entry `(i, j)`, `j <= i`, is `raw[:, i(i+1)/2 + j]`.
    Only matmul, gather and elementwise ops with static shapes, so the same
    graph compiles with XLA and converts to TFLite builtins (no
    `MatrixDiagPart`, which TFLite lacks).
    """
    index = [i * z + j for i in range(z) for j in range(i + 1)]
    # Scatter by a fixed 0/1 matrix.
    placement = ops.one_hot(ops.convert_to_tensor(index), z * z, dtype="float32")
    tril = ops.reshape(ops.matmul(raw, placement), (-1, z, z))
    diagonal_index = [i * (i + 1) // 2 + i for i in range(z)]
    diagonal = ops.softplus(ops.take(raw, diagonal_index, axis=1)) + min_scale
    eye = ops.eye(z, dtype="float32")
    return tril * (1.0 - eye) + eye * diagonal[:, :, None]
