"""The part every residual block shares: arguments, sub-layer factories, checks."""

import contextlib

import keras
import tensorflow as tf
from keras import ops

from keras_cvae.layers.fused_batch_normalization import FusedBatchNormalization
from keras_cvae.layers.fused_batch_normalization import check_synchronized
from keras_cvae.layers.padded_conv import PaddedConv
from keras_cvae.layers.padded_conv import inference_padded_convolution
from keras_cvae.validation import check_non_negative
from keras_cvae.validation import check_number
from keras_cvae.validation import check_positive_int
from keras_cvae.validation import check_rank
from keras_cvae.validation import check_rate


@keras.saving.register_keras_serializable(package="keras_cvae")
class ResidualBlock(keras.layers.Layer):
    """Base of `BasicBlock` and `BottleneckBlock`: `z = ReLU(x + branch(x))`.

    Holds the arguments the two blocks share, so both take the same keywords,
    and builds their convolutions (no bias: BatchNorm's beta takes its place),
    BatchNorms and dropout. Subclasses create their layers in `__init__`,
    build them in `build` (after `_check_input_shape`) and define `branch`.

    Args:
        channels: int. `C`, the channels of the input and the output.
        kernel_size: int. `k`, the size of the spatial convolution window.
            Defaults to `3`.
        rank: int. Number of spatial axes, 1, 2 or 3. Defaults to `2`.
        dropout_rate: float in [0, 1). Dropout after the inner activation(s).
            Defaults to `0.0`.
        l2: float. L2 weight decay on every convolution kernel (added to the
            model's losses). Defaults to `0.0`.
        kernel_initializer: Initializer of the convolution kernels. Defaults to
            `"he_normal"`, as for ResNets.
        zero_init_last: bool. Start the last BatchNorm's gamma at zero, so the
            block starts as `ReLU(x)` (the identity on non-negative inputs).
            Defaults to `True`.
        synchronized: `"auto"`, `True` or `False`. Whether BatchNorm statistics
            are computed over the global batch of all replicas of a
            `tf.distribute` strategy. `"auto"` decides at each call: over all
            replicas under a strategy with several replicas in sync, and on
            one device the plain (fused) BatchNorm. `True` always uses Keras's
            synchronized BatchNorm; `False` (also spelled `"per_replica"`,
            the way `get_config` writes it) keeps each replica's own
            statistics. A `false` in a config saved before `"auto"` existed
            was that version's default and loads as `"auto"`. Defaults to
            `"auto"`.
        batchnorm_momentum: float. Momentum of the moving statistics. Defaults
            to `0.99`.
        batchnorm_epsilon: float. Added to the variance. Defaults to `1e-3`.
        **kwargs: Base `keras.layers.Layer` arguments.

    Example:

    >>> block = keras_cvae.layers.ResidualBlock(channels=8, rank=1)
    >>> config = block.get_config()
    >>> config["channels"], config["rank"], config["kernel_size"]
    (8, 1, 3)
    >>> keras_cvae.layers.ResidualBlock.from_config(config).get_config() == config
    True
    """

    def __init__(
        self,
        channels,
        kernel_size=3,
        rank=2,
        dropout_rate=0.0,
        l2=0.0,
        kernel_initializer="he_normal",
        zero_init_last=True,
        synchronized="auto",
        batchnorm_momentum=0.99,
        batchnorm_epsilon=1e-3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.channels = check_positive_int("channels", channels)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.rank = check_rank(rank)
        self.dropout_rate = check_rate("dropout_rate", dropout_rate)
        self.l2 = check_non_negative("l2", l2)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.zero_init_last = bool(zero_init_last)
        self.synchronized = check_synchronized(synchronized)
        self.batchnorm_momentum = check_number("batchnorm_momentum", batchnorm_momentum,
                                               minimum=0, maximum=1)
        self.batchnorm_epsilon = check_number("batchnorm_epsilon", batchnorm_epsilon,
                                              minimum=0, minimum_inclusive=False)

    # === Sub-layer factories ===

    def _conv(self, filters, kernel_size, name):
        return PaddedConv(
            rank=self.rank,
            filters=filters,
            kernel_size=kernel_size,
            use_bias=False,
            kernel_initializer=self.kernel_initializer,
            kernel_regularizer=keras.regularizers.L2(self.l2) if self.l2 else None,
            dtype=self.dtype_policy,
            name=name,
        )

    def _batchnorm(self, name, last=False):
        # Keras's BatchNorm, computed by one fused kernel in training (TensorFlow).
        return FusedBatchNormalization(
            momentum=self.batchnorm_momentum,
            epsilon=self.batchnorm_epsilon,
            gamma_initializer="zeros" if last and self.zero_init_last else "ones",
            synchronized=self.synchronized,
            dtype=self.dtype_policy,
            name=name,
        )

    def _dropout(self):
        if not self.dropout_rate:
            return None
        return keras.layers.Dropout(self.dropout_rate, dtype=self.dtype_policy, name="dropout")

    # === The residual computation ===

    def _conv_bn(self, conv, batchnorm, inputs, training=None):
        """`batchnorm(conv(inputs))`; outside training one convolution with BatchNorm folded in.

        In training BatchNorm normalises with the batch's statistics and the
        two layers run as they are. Otherwise (inference, or a frozen
        BatchNorm) it is the affine map `γ (y − μ) / √(σ² + ε) + β` of its
        stored statistics, which folds into the convolution: kernel
        `W γ / √(σ² + ε)`, bias `β − μ γ / √(σ² + ε)`. TensorFlow's CPU
        kernels then run the convolution, the bias, the ReLU (and the
        residual add) that follow as one operation. Same values to float32
        rounding.
        """
        if (training and batchnorm.trainable) or not _folding:
            return batchnorm(conv(inputs), training=training)
        scale = ops.cast(batchnorm.gamma, "float32") * ops.rsqrt(
            ops.cast(batchnorm.moving_variance, "float32") + batchnorm.epsilon)
        kernel = ops.cast(conv.kernel, "float32") * scale
        bias = ops.cast(batchnorm.beta, "float32") - ops.cast(batchnorm.moving_mean, "float32") * scale
        outputs = inference_padded_convolution(inputs, ops.cast(kernel, inputs.dtype), conv._paddings)
        return tf.nn.bias_add(outputs, ops.cast(bias, inputs.dtype))

    def branch(self, inputs, training=None):
        """`F(x)`, the residual that the block adds to its input: each subclass defines it."""
        raise NotImplementedError(
            f"{self.__class__.__name__} is a ResidualBlock without a residual branch: "
            "subclasses define `branch(inputs, training)` (see BasicBlock, BottleneckBlock)."
        )

    def call(self, inputs, training=None):
        return ops.relu(ops.add(inputs, self.branch(inputs, training=training)))

    # === Keras layer contract ===

    def _check_input_shape(self, input_shape):
        if len(input_shape) != self.rank + 2 or input_shape[-1] != self.channels:
            raise ValueError(
                f"{self.__class__.__name__} with rank={self.rank} and "
                f"channels={self.channels} expects inputs of shape (batch, "
                f"{', '.join(['d'] * self.rank)}, {self.channels}): the identity skip "
                f"adds the input to the output. Received: input_shape={tuple(input_shape)}"
            )
        self.input_spec = keras.layers.InputSpec(
            ndim=self.rank + 2, axes={-1: self.channels}
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "channels": self.channels,
                "kernel_size": self.kernel_size,
                "rank": self.rank,
                "dropout_rate": self.dropout_rate,
                "l2": self.l2,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "zero_init_last": self.zero_init_last,
                "synchronized": synchronized_config(self.synchronized),
                "batchnorm_momentum": self.batchnorm_momentum,
                "batchnorm_epsilon": self.batchnorm_epsilon,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return super().from_config(config_with_auto_synchronization(config))


_folding = True  # False inside `batchnorm_layers_called()`


@contextlib.contextmanager
def batchnorm_layers_called():
    """Within it, the blocks call their BatchNorm layers at inference too, without folding.

    For code that intercepts a BatchNorm layer's call to see its inputs (as
    `recalibrate_batchnorm` does); functions traced inside keep it.
    """
    global _folding
    outer, _folding = _folding, False
    try:
        yield
    finally:
        _folding = outer  # nested uses leave it off until the outermost ends


def synchronized_config(synchronized):
    """`synchronized` as a config holds it: `"auto"`, `True` or `"per_replica"`.

    `False` is written `"per_replica"`: a `false` in a config is what versions
    without `"auto"` wrote by default, so `from_config` reads it as `"auto"`.
    """
    return "per_replica" if synchronized is False else synchronized


def config_with_auto_synchronization(config):
    """`config` with an older version's default `synchronized: false` read as `"auto"`.

    Those versions wrote `false` unless asked for synchronized BatchNorm (the
    zoo trainer, for one replica and for every saved preset); on one device
    `"auto"` is that same layer, and under several replicas it is the
    statistics the user would have asked for.
    """
    if config.get("synchronized") is False:
        return {**config, "synchronized": "auto"}
    return config
