import keras
from keras import ops

from keras_cvae.layers.residual_block import ResidualBlock


@keras.saving.register_keras_serializable(package="keras_cvae")
class BasicBlock(ResidualBlock):
    """The lecture's basic residual block: two k×k convolutions and an identity skip.

    `u = ReLU(BN(conv_k(x)))`, `z = ReLU(x + BN(conv_k(u)))`, every convolution
    padded with the lecture's `Pad` so the block maps `C × d × d` to itself
    (channels-last here: `(batch, d, d, C)`). With `dropout_rate > 0` dropout
    is applied to `u`. Arguments are those of `keras_cvae.layers.ResidualBlock`;
    the lecture's values are `channels=64, kernel_size=3`.

    Example:

    >>> block = keras_cvae.layers.BasicBlock(channels=64, kernel_size=3)
    >>> block(np.zeros((2, 8, 8, 64))).shape
    TensorShape([2, 8, 8, 64])

    References:
        He et al., "Deep Residual Learning for Image Recognition", CVPR 2016.
    """

    def __init__(self, channels=64, kernel_size=3, **kwargs):
        super().__init__(channels=channels, kernel_size=kernel_size, **kwargs)
        c, k = self.channels, self.kernel_size
        # === Layers ===
        self.conv1 = self._conv(c, k, "conv1")
        self.bn1 = self._batchnorm("bn1")
        self.dropout = self._dropout()
        self.conv2 = self._conv(c, k, "conv2")
        self.bn2 = self._batchnorm("bn2", last=True)

    def build(self, input_shape):
        self._check_input_shape(input_shape)
        for layer in (self.conv1, self.bn1, self.conv2, self.bn2):
            layer.build(input_shape)

    def branch(self, inputs, training=None):
        u = ops.relu(self._conv_bn(self.conv1, self.bn1, inputs, training))
        if self.dropout is not None:
            u = self.dropout(u, training=training)
        return self._conv_bn(self.conv2, self.bn2, u, training)
