import keras

from keras_cvae.layers.basic_block import BasicBlock
from keras_cvae.layers.bottleneck_block import BottleneckBlock
from keras_cvae.layers.fused_batch_normalization import check_synchronized
from keras_cvae.layers.residual_block import config_with_auto_synchronization
from keras_cvae.layers.residual_block import synchronized_config
from keras_cvae.validation import BLOCK_TYPES
from keras_cvae.validation import check_choice
from keras_cvae.validation import check_positive_int

BLOCKS = {"basic": BasicBlock, "bottleneck": BottleneckBlock}


@keras.saving.register_keras_serializable(package="keras_cvae")
class ConvNet(keras.layers.Layer):
    """A stack of L residual blocks, `f = b(L) ∘ … ∘ b(1)`, mapping `C × d × d` to itself.

    The architecture is data: the block type and the lecture's hyper-parameters
    `C`, `D`, `k`, `L` (plus dropout, l2 and initialisation) fully describe it.
    Inputs are channels-last, `(batch, *spatial, channels)` with `rank` spatial
    axes and exactly `channels` channels.

    Args:
        block: str. `"basic"` (`keras_cvae.layers.BasicBlock`) or `"bottleneck"`
            (`keras_cvae.layers.BottleneckBlock`). Defaults to `"basic"`.
        depth: int. `L`, the number of blocks. Defaults to `2`.
        channels: int. `C`, the channels of every block. Defaults to `64`.
        bottleneck_channels: int. `D`, the inner channels of bottleneck
            blocks (unused by basic blocks). Defaults to `64`.
        kernel_size: int. `k`. Defaults to `3`.
        rank: int. Number of spatial axes, 1, 2 or 3. Defaults to `2`.
        **block_kwargs: The other `keras_cvae.layers.ResidualBlock` arguments
            (`dropout_rate`, `l2`, `kernel_initializer`, `zero_init_last`,
            `synchronized`, `batchnorm_momentum`, `batchnorm_epsilon`), given to
            every block, and base layer arguments (`name`, `dtype`, ...).
            `synchronized` defaults to `"auto"`: BatchNorm statistics over the
            global batch under a strategy with several replicas, the fused
            single-device BatchNorm otherwise.

    Example:

    >>> net = keras_cvae.layers.ConvNet("bottleneck", depth=3, channels=256)
    >>> net(np.zeros((2, 8, 8, 256))).shape
    TensorShape([2, 8, 8, 256])
    """

    def __init__(
        self,
        block="basic",
        depth=2,
        channels=64,
        bottleneck_channels=64,
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
        self.block = check_choice("block", block, BLOCK_TYPES)
        self.depth = check_positive_int("depth", depth)
        self.channels = channels
        self.bottleneck_channels = check_positive_int("bottleneck_channels", bottleneck_channels)
        self.kernel_size = kernel_size
        self.rank = rank
        self.dropout_rate = dropout_rate
        self.l2 = l2
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.zero_init_last = zero_init_last
        self.synchronized = check_synchronized(synchronized)
        self.batchnorm_momentum = batchnorm_momentum
        self.batchnorm_epsilon = batchnorm_epsilon
        block_kwargs = dict(
            channels=channels,
            kernel_size=kernel_size,
            rank=rank,
            dropout_rate=dropout_rate,
            l2=l2,
            kernel_initializer=kernel_initializer,
            zero_init_last=zero_init_last,
            synchronized=self.synchronized,
            batchnorm_momentum=batchnorm_momentum,
            batchnorm_epsilon=batchnorm_epsilon,
            dtype=self.dtype_policy,
        )
        if block == "bottleneck":
            block_kwargs["bottleneck_channels"] = bottleneck_channels
        self.blocks = [
            BLOCKS[block](**block_kwargs, name=f"block{i + 1}") for i in range(self.depth)
        ]

    def build(self, input_shape):
        for block in self.blocks:
            block.build(input_shape)

    def call(self, inputs, training=None):
        x = inputs
        for block in self.blocks:
            x = block(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "block": self.block,
                "depth": self.depth,
                "channels": self.channels,
                "bottleneck_channels": self.bottleneck_channels,
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
