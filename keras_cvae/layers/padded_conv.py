"""Convolution that keeps the spatial size, padded exactly as the lecture's `Pad`."""

import keras
import tensorflow as tf
from keras import ops

from keras_cvae.validation import check_dims
from keras_cvae.validation import check_positive_int
from keras_cvae.validation import check_rank


def lecture_padding(kernel_size):
    """Zeros added (before, after) one spatial axis by the lecture's `Pad`.

    `floor(k/2)` zeros before and `k - 1 - floor(k/2)` after, so a "valid"
    convolution over the padded input keeps the size. For even `k` the extra
    zero goes *before*, whereas Keras's `padding="same"` puts it after.
    """
    before = kernel_size // 2
    return before, kernel_size - 1 - before


@keras.saving.register_keras_serializable(package="keras_cvae")
class PaddedConv(keras.layers.Layer):
    """Size-preserving convolution over `rank` spatial axes (channels-last).

    The base of `PaddedConv1D`, `PaddedConv2D` and `PaddedConv3D`, which fix
    `rank`; the residual blocks use it directly, with their own `rank`.
    Computes `z[..., c] = activation(sum_c' <W[c, c'], Pad(x)[i:i+k, ...]> + b[c])`
    with `Pad` from the lecture: `floor(k/2)` zeros before and
    `k - 1 - floor(k/2)` after each spatial axis.

    Args:
        rank: int. Number of spatial axes, 1, 2 or 3.
        filters: int. Number of output channels.
        kernel_size: int or tuple of `rank` ints. Size of the window.
        activation: Activation name or callable. Defaults to `None` (linear).
        use_bias: bool. Whether to add a bias. Defaults to `True`.
        kernel_initializer: Initializer for the kernel. Defaults to
            `"glorot_uniform"`, like `keras.layers.Conv2D`.
        bias_initializer: Initializer for the bias. Defaults to `"zeros"`.
        kernel_regularizer: Optional regularizer for the kernel.
        bias_regularizer: Optional regularizer for the bias.
        activity_regularizer: Optional regularizer for the output.
        kernel_constraint: Optional constraint for the kernel.
        bias_constraint: Optional constraint for the bias.
        **kwargs: Base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:

    >>> layer = keras_cvae.layers.PaddedConv(rank=2, filters=4, kernel_size=2)
    >>> layer(np.zeros((1, 5, 5, 3))).shape
    TensorShape([1, 5, 5, 4])
    >>> layer.get_config()["rank"]
    2
    """

    def __init__(
        self,
        rank,
        filters,
        kernel_size,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.rank = check_rank(rank)
        self.filters = check_positive_int("filters", filters)
        self.kernel_size = _standardize_kernel_size(kernel_size, rank)
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self._paddings = [lecture_padding(k) for k in self.kernel_size]

    def build(self, input_shape):
        if len(input_shape) != self.rank + 2:
            raise ValueError(
                f"{self.__class__.__name__} expects inputs of rank {self.rank + 2} "
                f"(batch, {self.rank} spatial axes, channels). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        input_channels = input_shape[-1]
        if input_channels is None:
            raise ValueError(
                f"The channel axis of the inputs of {self.__class__.__name__} "
                f"must be known. Received: input_shape={tuple(input_shape)}"
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(*self.kernel_size, input_channels, self.filters),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.filters,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self.input_spec = keras.layers.InputSpec(
            ndim=self.rank + 2, axes={-1: input_channels}
        )

    def call(self, inputs):
        outputs = padded_convolution(inputs, self.kernel, self._paddings)
        if self.use_bias:
            outputs = ops.add(outputs, self.bias)
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "rank": self.rank,
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": keras.regularizers.serialize(
                    self.activity_regularizer
                ),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
                "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            }
        )
        return config


def padded_convolution(inputs, kernel, paddings):
    """`conv(Pad(x), W)` ("valid" over the padded input), differentiated as two convolutions.

    The gradient with respect to `x` of a size-preserving convolution is
    itself a size-preserving convolution: of the output gradient, padded
    `(after, before)`, with the kernel flipped in space and its channel axes
    swapped. Without oneDNN (TensorFlow's default on CPUs without AVX-512)
    TensorFlow runs that forward convolution in about half the time of the
    `Conv2DBackpropInput` op autodiff would use (13 vs 25 ms for 32×28×28×64
    inputs and a 3×3×64×64 kernel on 2 cores); with oneDNN the two are equal.
    The kernel gradient is TensorFlow's own `ConvBackpropFilter`.

    Args:
        inputs: `(batch, *spatial, channels_in)` tensor.
        kernel: `(*kernel_size, channels_in, channels_out)` tensor.
        paddings: `(before, after)` per spatial axis, summing to `k - 1`.
    """
    rank = len(paddings)
    padding, pad = _padding_of(paddings)

    @tf.custom_gradient
    def forward(inputs, kernel):
        padded = pad(inputs, paddings)  # also the kernel gradient's input

        def gradient(output_gradient):
            flipped = tf.reverse(kernel, axis=list(range(rank)))
            flipped = tf.transpose(flipped, [*range(rank), rank + 1, rank])
            mirrored = [(after, before) for before, after in paddings]
            input_gradient = tf.nn.convolution(pad(output_gradient, mirrored), flipped, padding=padding)
            kernel_gradient = _kernel_gradient(padded, kernel, output_gradient, padding)
            return input_gradient, kernel_gradient

        return tf.nn.convolution(padded, kernel, padding=padding), gradient

    # Read a variable kernel outside: its gradient flows through the read.
    return forward(tf.convert_to_tensor(inputs), tf.convert_to_tensor(kernel))


def inference_padded_convolution(inputs, kernel, paddings):
    """`conv(Pad(x), W)` as plain TensorFlow ops, differentiated by TensorFlow.

    The same values as `padded_convolution`; without its custom gradient
    (which wraps the result in an `IdentityN`), TensorFlow's graph optimizer
    fuses the convolution with a bias add, a residual add and a ReLU that
    follow it into one CPU kernel. The residual blocks use it at inference,
    with BatchNorm folded into the kernel.
    """
    padding, pad = _padding_of(paddings)
    return tf.nn.convolution(pad(tf.convert_to_tensor(inputs), paddings), kernel, padding=padding)


def _padding_of(paddings):
    """TensorFlow's `padding` for the lecture's `paddings`, and the function padding a tensor."""
    # Odd kernels pad symmetrically, which is exactly "SAME": no padded copy.
    padding = "SAME" if all(before == after for before, after in paddings) else "VALID"

    def pad(values, pads):
        return values if padding == "SAME" else tf.pad(values, [(0, 0), *pads, (0, 0)])

    return padding, pad


# TensorFlow's kernel-gradient op per number of spatial axes (1-d runs as 2-d).
_KERNEL_GRADIENT_OPS = {2: tf.raw_ops.Conv2DBackpropFilter, 3: tf.raw_ops.Conv3DBackpropFilterV2}


def _kernel_gradient(inputs, kernel, output_gradient, padding):
    """TensorFlow's `ConvBackpropFilter` of `conv(inputs, kernel, padding)`."""
    rank = len(kernel.shape) - 2
    if rank == 1:  # as a 2-d convolution over (1, length)
        return _kernel_gradient(inputs[:, None], kernel[None], output_gradient[:, None], padding)[0]
    return _KERNEL_GRADIENT_OPS[rank](
        input=inputs,
        filter_sizes=tf.shape(kernel),
        out_backprop=output_gradient,
        strides=[1] * (rank + 2),
        padding=padding,
    )


def _standardize_kernel_size(kernel_size, rank):
    expected = f"an integer >= 1 or a tuple of {rank} integers >= 1"
    return check_dims("kernel_size", kernel_size, rank, expected, broadcast=True)


class FixedRankPaddedConv(PaddedConv):
    """A `PaddedConv` whose class fixes `rank` (`RANK`): not an argument, not in the config.

    The base of `PaddedConv1D`, `PaddedConv2D` and `PaddedConv3D`, whose
    `get_config` mirrors their `__init__`: every argument of `PaddedConv`
    but `rank`.
    """

    RANK = None

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(rank=self.RANK, filters=filters, kernel_size=kernel_size, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["rank"]
        return config
