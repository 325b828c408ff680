import keras
import numpy as np
import pytest

from keras_cvae import layers
from keras_cvae.layers.residual_block import batchnorm_layers_called
from tests.helpers import assert_config_mirrors_init
from tests.helpers import run_layer_test
from tests.layers.test_padded_conv import lecture_conv


def numpy_batchnorm(z, gamma, beta, epsilon):
    axes = tuple(range(z.ndim - 1))
    return gamma * (z - z.mean(axes)) / np.sqrt(z.var(axes) + epsilon) + beta


def numpy_conv(x, kernel):
    """Linear padded convolution of a batch (the lecture's formula without ReLU)."""
    pos = np.stack([lecture_conv(xi, kernel) for xi in x])
    neg = np.stack([lecture_conv(xi, -kernel) for xi in x])
    return pos - neg


def test_basic_block_matches_lecture_table():
    block = layers.BasicBlock(4, kernel_size=2, zero_init_last=False)
    x = np.random.default_rng(0).normal(size=(3, 5, 5, 4)).astype("float32")
    y = keras.ops.convert_to_numpy(block(x, training=True))
    eps = block.batchnorm_epsilon
    k1 = keras.ops.convert_to_numpy(block.conv1.kernel)
    k2 = keras.ops.convert_to_numpy(block.conv2.kernel)
    u = np.maximum(numpy_batchnorm(numpy_conv(x, k1), 1.0, 0.0, eps), 0)
    z = np.maximum(x + numpy_batchnorm(numpy_conv(u, k2), 1.0, 0.0, eps), 0)
    np.testing.assert_allclose(y, z, atol=1e-4)


def test_bottleneck_block_matches_lecture_table():
    block = layers.BottleneckBlock(6, bottleneck_channels=3, kernel_size=3, zero_init_last=False)
    x = np.random.default_rng(1).normal(size=(2, 4, 4, 6)).astype("float32")
    y = keras.ops.convert_to_numpy(block(x, training=True))
    eps = block.batchnorm_epsilon
    k1, k2, k3 = (keras.ops.convert_to_numpy(c.kernel) for c in (block.conv1, block.conv2, block.conv3))
    assert k1.shape == (1, 1, 6, 3) and k2.shape == (3, 3, 3, 3) and k3.shape == (1, 1, 3, 6)
    u = np.maximum(numpy_batchnorm(numpy_conv(x, k1), 1.0, 0.0, eps), 0)
    v = np.maximum(numpy_batchnorm(numpy_conv(u, k2), 1.0, 0.0, eps), 0)
    z = np.maximum(x + numpy_batchnorm(numpy_conv(v, k3), 1.0, 0.0, eps), 0)
    np.testing.assert_allclose(y, z, atol=1e-4)


def count(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


def test_parameter_counts():
    basic = layers.BasicBlock(64, 3)
    basic.build((None, 8, 8, 64))
    conv = [w for w in basic.trainable_weights if "kernel" in w.path]
    assert count(conv) == 2 * 64 * 64 * 9
    assert count(basic.trainable_weights) - count(conv) == 2 * 2 * 64  # gamma, beta
    assert count(basic.non_trainable_weights) == 2 * 2 * 64  # moving mean, variance

    bottleneck = layers.BottleneckBlock(256, 64, 3)
    bottleneck.build((None, 8, 8, 256))
    conv = [w for w in bottleneck.trainable_weights if "kernel" in w.path]
    assert count(conv) == 256 * 64 + 64 * 64 * 9 + 64 * 256
    bn_channels = 64 + 64 + 256
    assert count(bottleneck.trainable_weights) - count(conv) == 2 * bn_channels
    assert count(bottleneck.non_trainable_weights) == 2 * bn_channels


@pytest.mark.parametrize("cls", [layers.BasicBlock, layers.BottleneckBlock])
def test_zero_init_last_starts_as_relu(cls):
    block = cls(8, kernel_size=3) if cls is layers.BasicBlock else cls(8, 4, 3)
    x = np.random.default_rng(2).normal(size=(2, 5, 5, 8)).astype("float32")
    for training in (True, False):
        y = keras.ops.convert_to_numpy(block(x, training=training))
        np.testing.assert_allclose(y, np.maximum(x, 0), atol=1e-6)


def test_batchnorm_training_vs_inference():
    block = layers.BasicBlock(4, zero_init_last=False, batchnorm_momentum=0.0)
    x = 3.0 + 2.0 * np.random.default_rng(3).normal(size=(8, 4, 4, 4)).astype("float32")
    block.build(x.shape)
    conv_out = keras.ops.convert_to_numpy(block.conv1(x))
    train = keras.ops.convert_to_numpy(block.bn1(conv_out, training=True))
    # Batch statistics: each channel normalised to mean 0, variance ~1 over the batch.
    np.testing.assert_allclose(train.mean((0, 1, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(train.var((0, 1, 2)), 1, atol=1e-2)
    # momentum=0 stores this batch's statistics; inference uses them, not the batch's.
    mean = keras.ops.convert_to_numpy(block.bn1.moving_mean)
    np.testing.assert_allclose(mean, conv_out.mean((0, 1, 2)), rtol=1e-4, atol=1e-5)
    shifted = conv_out + 5.0
    infer = keras.ops.convert_to_numpy(block.bn1(shifted, training=False))
    np.testing.assert_allclose(infer, train + 5.0 / np.sqrt(conv_out.var((0, 1, 2)) + 1e-3), atol=1e-3)
    # The whole block: training and inference differ on an off-statistics batch.
    inference = keras.ops.convert_to_numpy(block(x + 1, training=False))
    assert not np.allclose(block(x + 1, training=True), inference, atol=1e-3)


@pytest.mark.parametrize("rank,kernel_size", [(1, 3), (2, 2), (2, 3), (3, 3)])
@pytest.mark.parametrize("cls", [layers.BasicBlock, layers.BottleneckBlock])
def test_inference_folds_batchnorm_into_the_convolution_with_the_same_values(cls, rank, kernel_size):
    block = cls(8, kernel_size=kernel_size, rank=rank, zero_init_last=False, batchnorm_momentum=0.0)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, *[5] * rank, 8)).astype("float32")
    block(3.0 * x + 1.0, training=True)  # moving statistics far from (0, 1)
    for batchnorm in (b for b in block._flatten_layers() if isinstance(b, keras.layers.BatchNormalization)):
        batchnorm.gamma.assign(rng.uniform(0.5, 2, batchnorm.gamma.shape))
        batchnorm.beta.assign(rng.normal(size=batchnorm.beta.shape))
    folded = keras.ops.convert_to_numpy(block(x, training=False))
    with batchnorm_layers_called():  # each convolution, then its BatchNorm layer
        unfolded = keras.ops.convert_to_numpy(block(x, training=False))
    np.testing.assert_allclose(folded, unfolded, rtol=1e-5, atol=1e-5)
    assert np.abs(unfolded).max() > 0.1
    # A frozen BatchNorm normalises with its stored statistics in training too: folded as well.
    block.trainable = False
    np.testing.assert_allclose(block(x, training=True), unfolded, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("block", ["basic", "bottleneck"])
def test_every_rank_and_serialization(rank, block, tmp_path):
    cls = {"basic": layers.BasicBlock, "bottleneck": layers.BottleneckBlock}[block]
    kwargs = {"bottleneck_channels": 2} if block == "bottleneck" else {}
    layer = cls(4, kernel_size=2, rank=rank, dropout_rate=0.1, l2=1e-4, zero_init_last=False, **kwargs)
    run_layer_test(layer, (2,) + (3,) * rank + (4,), tmp_path)
    assert len(layer.losses) == (2 if block == "basic" else 3)  # one l2 term per conv


@keras.saving.register_keras_serializable(package="tests")
class OneConvBlock(layers.ResidualBlock):
    """The smallest concrete ResidualBlock: `z = ReLU(x + BN(conv_k(x)))`."""

    def __init__(self, channels, **kwargs):
        super().__init__(channels, **kwargs)
        self.conv = self._conv(self.channels, self.kernel_size, "conv")
        self.bn = self._batchnorm("bn", last=True)

    def build(self, input_shape):
        self._check_input_shape(input_shape)
        self.conv.build(input_shape)
        self.bn.build(input_shape)

    def branch(self, inputs, training=None):
        return self.bn(self.conv(inputs), training=training)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_residual_block_base_serialization(rank, tmp_path):
    kwargs = dict(kernel_size=2, rank=rank, l2=1e-4, zero_init_last=False, batchnorm_epsilon=1e-2)
    base = layers.ResidualBlock(4, **kwargs)
    assert_config_mirrors_init(base)
    config = base.get_config()
    assert config["rank"] == rank and config["batchnorm_epsilon"] == 1e-2
    assert layers.ResidualBlock.from_config(config).get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(base))
    assert type(restored) is layers.ResidualBlock and restored.get_config() == config
    # Through a subclass that only adds a branch: every base argument round-trips
    # through get_config/from_config and a .keras file.
    block = OneConvBlock(4, **kwargs)
    x = np.random.default_rng(0).normal(size=(2,) + (3,) * rank + (4,)).astype("float32")
    y = run_layer_test(block, x.shape, tmp_path)
    # Inference BatchNorm with the initial moving statistics (mean 0, variance 1).
    z = keras.ops.convert_to_numpy(block.conv(x)) / np.sqrt(1 + 1e-2)
    np.testing.assert_allclose(y, np.maximum(x + z, 0), atol=1e-5)
    assert len(block.losses) == 1


def test_residual_block_without_branch_says_so():
    with pytest.raises(NotImplementedError, match="without a residual branch"):
        layers.ResidualBlock(4)(np.zeros((1, 3, 3, 4), "float32"))


def test_dropout_only_in_training():
    block = layers.BasicBlock(4, dropout_rate=0.5, zero_init_last=False)
    x = np.random.default_rng(4).normal(size=(2, 4, 4, 4)).astype("float32")
    a, b = block(x, training=False), block(x, training=False)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(block(x, training=True), block(x, training=True))


def test_synchronized_batchnorm_is_passed_down():
    net = layers.ConvNet("bottleneck", depth=2, channels=4, bottleneck_channels=2, synchronized=True)
    bns = [l for l in net._flatten_layers() if isinstance(l, keras.layers.BatchNormalization)]
    assert len(bns) == 6 and all(bn.synchronized for bn in bns)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"channels": 0}, "channels"),
        ({"channels": -4}, "channels"),
        ({"kernel_size": 0}, "kernel_size"),
        ({"kernel_size": -1}, "kernel_size"),
        ({"rank": 4}, "rank"),
        ({"dropout_rate": 1.5}, "dropout_rate"),
        ({"l2": -1.0}, "l2"),
        ({"bottleneck_channels": 0}, "bottleneck_channels"),
    ],
)
def test_bad_arguments(kwargs, argument):
    value = list(kwargs.values())[0]
    with pytest.raises(ValueError, match=rf"`{argument}`.*Received: {argument}={value}"):
        layers.BottleneckBlock(**kwargs)
    if argument != "bottleneck_channels":
        with pytest.raises(ValueError, match=rf"Received: {argument}={value}"):
            layers.BasicBlock(**kwargs)


@pytest.mark.parametrize("cls", [layers.BasicBlock, layers.BottleneckBlock])
def test_channel_mismatch(cls):
    with pytest.raises(ValueError, match=r"channels=16.*Received: input_shape=\(2, 4, 4, 8\)"):
        cls(16)(np.zeros((2, 4, 4, 8), "float32"))


def test_wrong_input_rank():
    with pytest.raises(ValueError, match=r"rank=2.*Received: input_shape=\(2, 4, 8\)"):
        layers.BasicBlock(8)(np.zeros((2, 4, 8), "float32"))


def batchnorms(layer):
    return [l for l in layer._flatten_layers() if isinstance(l, keras.layers.BatchNormalization)]


@pytest.mark.parametrize(
    "synchronized, attribute, in_config",
    [("auto", "auto", "auto"), (True, True, True), (False, False, "per_replica"),
     ("per_replica", False, "per_replica")],
)
def test_synchronized_choice_is_kept_and_written(synchronized, attribute, in_config):
    for layer in (layers.ConvNet("basic", depth=1, channels=4, synchronized=synchronized),
                  layers.BasicBlock(4, synchronized=synchronized)):
        assert layer.synchronized == attribute and type(layer.synchronized) is type(attribute)
        assert all(bn.synchronized is attribute or bn.synchronized == attribute for bn in batchnorms(layer))
        config = layer.get_config()
        assert config["synchronized"] == in_config
        assert type(layer).from_config(config).get_config() == config


def test_synchronized_defaults_to_auto():
    net = layers.ConvNet("bottleneck", depth=2, channels=4, bottleneck_channels=2)
    assert net.synchronized == "auto" and layers.BasicBlock(4).synchronized == "auto"
    assert all(bn.synchronized == "auto" for bn in batchnorms(net))


@pytest.mark.parametrize("cls", [layers.ConvNet, layers.BasicBlock, layers.BottleneckBlock])
def test_false_in_a_config_from_before_auto_loads_as_auto(cls):
    """Older versions wrote `synchronized: false` by default (every preset has it)."""
    config = {**cls(channels=4).get_config(), "synchronized": False}
    assert cls.from_config(config).synchronized == "auto"
    assert cls.from_config({**config, "synchronized": True}).synchronized is True


def test_preset_built_from_its_old_config_synchronizes_automatically():
    import keras_cvae

    # A preset's config as saved before "auto" existed: `synchronized: false` in both convnets.
    config = keras_cvae.zoo.read_config("digits_bottleneck")
    for part in ("encoder", "decoder"):
        config["config"][part]["config"]["conv_net"]["config"]["synchronized"] = False
    vae = keras.saving.deserialize_keras_object(config)
    for conv_net in (vae.encoder.conv_net, vae.decoder.conv_net):
        assert conv_net.synchronized == "auto"
        assert all(bn.synchronized == "auto" for bn in batchnorms(conv_net))


def test_bad_synchronized_value():
    with pytest.raises(ValueError, match=r"`synchronized`.*Received: synchronized='yes'"):
        layers.ConvNet(synchronized="yes")
    with pytest.raises(ValueError, match=r"Received: synchronized=None"):
        layers.BasicBlock(4, synchronized=None)


@pytest.mark.parametrize("rank", [1, 2])
def test_auto_on_one_device_trains_bit_for_bit_like_unsynchronized(rank):
    import tensorflow as tf

    shape = (4, *[6] * rank, 4)
    x = tf.constant(np.random.default_rng(7).normal(size=shape).astype("float32"))
    results = []
    for synchronized in (False, "auto"):
        keras.utils.set_random_seed(1)
        net = layers.ConvNet("basic", depth=2, channels=4, rank=rank, zero_init_last=False,
                             synchronized=synchronized)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(net(x, training=True)))
        grads = tape.gradient(loss, net.trainable_weights)
        results.append([np.asarray(v) for v in (loss, *grads, *net.non_trainable_weights)])
    for expected, actual in zip(*results):
        np.testing.assert_array_equal(actual, expected)
