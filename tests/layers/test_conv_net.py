import keras
import numpy as np
import pytest

from keras_cvae import layers
from tests.helpers import run_layer_test


@pytest.mark.parametrize("block", ["basic", "bottleneck"])
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_shape_preserving_and_serializable(block, rank, tmp_path):
    net = layers.ConvNet(block, depth=2, channels=4, bottleneck_channels=2, kernel_size=2,
                         rank=rank, zero_init_last=False)
    run_layer_test(net, (2,) + (3,) * rank + (4,), tmp_path)


def test_is_composition_of_blocks():
    net = layers.ConvNet("basic", depth=3, channels=4, zero_init_last=False)
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 4)).astype("float32")
    y = net(x, training=False)
    assert len(net.blocks) == 3
    expected = x
    for block in net.blocks:
        expected = block(expected, training=False)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(y), keras.ops.convert_to_numpy(expected))


def test_hyperparameters_reach_every_block():
    net = layers.ConvNet("bottleneck", depth=2, channels=8, bottleneck_channels=3, kernel_size=5,
                         dropout_rate=0.2, l2=1e-3)
    net.build((None, 6, 6, 8))
    for block in net.blocks:
        assert isinstance(block, layers.BottleneckBlock)
        assert block.conv2.kernel.shape == (5, 5, 3, 3)
        assert block.dropout.rate == 0.2
    assert len(net.losses) == 6


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"block": "dense"}, r"`block`. Expected one of 'basic', 'bottleneck'. Received: block='dense'"),
        ({"depth": 0}, r"`depth`.*Received: depth=0"),
        ({"rank": 0}, r"`rank`.*Received: rank=0"),
        ({"channels": 0}, r"`channels`.*Received: channels=0"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        layers.ConvNet(**kwargs)
