"""Convolution that keeps the spatial size, padded exactly as the lecture's `Pad`."""

import keras
from keras import ops

from keras_cvae.layers.validation import check_positive_int
from keras_cvae.layers.validation import check_rank


def lecture_padding(kernel_size):
    """Zeros added (before, after) one spatial axis by the lecture's `Pad`.

    `floor(k/2)` zeros before and `k - 1 - floor(k/2)` after, so a "valid"
    convolution over the padded input keeps the size. For even `k` the extra
    zero goes *before*, whereas Keras's `padding="same"` puts it after.
    """
    before = kernel_size // 2
    return before, kernel_size - 1 - before


class PaddedConv(keras.layers.Layer):
    """Size-preserving convolution over `rank` spatial axes (channels-last).

    The base of `PaddedConv1D`, `PaddedConv2D` and `PaddedConv3D`; use those.
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
        check_rank(rank)
        self.rank = rank
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
        # Odd kernels pad symmetrically, which is exactly Keras's "same".
        self._paddings = [lecture_padding(k) for k in self.kernel_size]
        self._uses_same = all(b == a for b, a in self._paddings)

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
        if self._uses_same:
            outputs = ops.conv(inputs, self.kernel, padding="same")
        else:
            pad_width = [(0, 0), *self._paddings, (0, 0)]
            outputs = ops.conv(ops.pad(inputs, pad_width), self.kernel, padding="valid")
        if self.use_bias:
            outputs = ops.add(outputs, self.bias)
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
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


def _standardize_kernel_size(kernel_size, rank):
    if isinstance(kernel_size, int) and not isinstance(kernel_size, bool):
        kernel_size = (kernel_size,) * rank
    try:
        kernel_size = tuple(kernel_size)
    except TypeError:
        kernel_size = None
    if (
        kernel_size is None
        or len(kernel_size) != rank
        or not all(isinstance(k, int) and not isinstance(k, bool) and k > 0 for k in kernel_size)
    ):
        raise ValueError(
            "Invalid value for argument `kernel_size`. Expected a strictly positive "
            f"int or a tuple of {rank} strictly positive ints. "
            f"Received: kernel_size={kernel_size!r}"
        )
    return kernel_size
