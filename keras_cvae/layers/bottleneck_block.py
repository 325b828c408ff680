import keras
from keras import ops

from keras_cvae.layers.residual_block import ResidualBlock
from keras_cvae.validation import check_positive_int


@keras.saving.register_keras_serializable(package="keras_cvae")
class BottleneckBlock(ResidualBlock):
    """The lecture's "modern" bottleneck block: 1×1 C→D, k×k D→D, 1×1 D→C, identity skip.

    `u = ReLU(BN(conv_1(x)))`, `v = ReLU(BN(conv_k(u)))`,
    `z = ReLU(x + BN(conv_1(v)))`, the k×k convolution padded with the
    lecture's `Pad`. With `dropout_rate > 0` dropout is applied to `v`.
    Arguments are those of `keras_cvae.layers.ResidualBlock` plus
    `bottleneck_channels`; the lecture's values are `channels=256,
    bottleneck_channels=64, kernel_size=3`.

    Args:
        bottleneck_channels: int. `D`, the channels inside the block.
            Defaults to `64`.

    Example:

    >>> block = keras_cvae.layers.BottleneckBlock(256, bottleneck_channels=64)
    >>> block(np.zeros((2, 8, 8, 256))).shape
    TensorShape([2, 8, 8, 256])

    References:
        He et al., "Deep Residual Learning for Image Recognition", CVPR 2016.
    """

    def __init__(self, channels=256, bottleneck_channels=64, kernel_size=3, **kwargs):
        super().__init__(channels=channels, kernel_size=kernel_size, **kwargs)
        self.bottleneck_channels = check_positive_int("bottleneck_channels", bottleneck_channels)
        c, d, k = self.channels, self.bottleneck_channels, self.kernel_size
        # === Layers ===
        self.conv1 = self._conv(d, 1, "conv1")
        self.bn1 = self._batchnorm("bn1")
        self.conv2 = self._conv(d, k, "conv2")
        self.bn2 = self._batchnorm("bn2")
        self.dropout = self._dropout()
        self.conv3 = self._conv(c, 1, "conv3")
        self.bn3 = self._batchnorm("bn3", last=True)

    def build(self, input_shape):
        self._check_input_shape(input_shape)
        inner_shape = (*input_shape[:-1], self.bottleneck_channels)
        self.conv1.build(input_shape)
        self.bn1.build(inner_shape)
        self.conv2.build(inner_shape)
        self.bn2.build(inner_shape)
        self.conv3.build(inner_shape)
        self.bn3.build(input_shape)

    def branch(self, inputs, training=None):
        u = ops.relu(self._conv_bn(self.conv1, self.bn1, inputs, training))
        v = ops.relu(self._conv_bn(self.conv2, self.bn2, u, training))
        if self.dropout is not None:
            v = self.dropout(v, training=training)
        return self._conv_bn(self.conv3, self.bn3, v, training)

    def get_config(self):
        return {**super().get_config(), "bottleneck_channels": self.bottleneck_channels}
