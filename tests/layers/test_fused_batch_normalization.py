import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_cvae import layers
from tests.helpers import run_layer_test


def pair(**kwargs):
    """A Keras BatchNorm and a fused one with the same (non-trivial) weights."""
    keras_bn = keras.layers.BatchNormalization(**kwargs)
    fused_bn = layers.FusedBatchNormalization(**kwargs)
    for layer in (keras_bn, fused_bn):
        layer.build((None, 4, 4, 6))
    rng = np.random.default_rng(0)
    fused_bn.set_weights([rng.uniform(0.5, 2.0, w.shape).astype("float32") for w in fused_bn.weights])
    keras_bn.set_weights(fused_bn.get_weights())
    return keras_bn, fused_bn


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"momentum": 0.9, "epsilon": 1e-2}, {"center": False, "scale": False}],
)
def test_training_step_matches_keras_batchnorm(kwargs):
    keras_bn, fused_bn = pair(**kwargs)
    x = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, (5, 4, 4, 6)).astype("float32"))
    results = []
    for layer in (keras_bn, fused_bn):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * tf.sin(x))
        grads = tape.gradient(loss, [x, *layer.trainable_weights])
        results.append([y, *grads, layer.moving_mean, layer.moving_variance])
    for expected, actual in zip(*results):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)


def test_inference_and_other_ranks_are_keras_batchnorm():
    keras_bn, fused_bn = pair()
    x = np.random.default_rng(2).normal(size=(5, 4, 4, 6)).astype("float32")
    np.testing.assert_array_equal(fused_bn(x, training=False), keras_bn(x, training=False))
    flat = layers.FusedBatchNormalization()
    assert flat(np.ones((3, 6), "float32"), training=True).shape == (3, 6)


def test_fused_training_step_compiles_with_xla():
    keras_bn, fused_bn = pair()
    x = np.random.default_rng(3).normal(size=(5, 4, 4, 6)).astype("float32")
    compiled = tf.function(lambda x: fused_bn(x, training=True), jit_compile=True)
    np.testing.assert_allclose(compiled(x), keras_bn(x, training=True), atol=1e-5)


def test_layer_contract(tmp_path):
    run_layer_test(layers.FusedBatchNormalization(), (2, 4, 4, 3), tmp_path)


def test_residual_blocks_use_it():
    block = layers.BasicBlock(4)
    assert isinstance(block.bn1, layers.FusedBatchNormalization)


def training_step(layer, x):
    """Output, gradients (input, gamma, beta) and moving statistics of one training call."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * tf.sin(x))
    grads = tape.gradient(loss, [x, *layer.trainable_weights])
    return [y, *grads, tf.identity(layer.moving_mean.value), tf.identity(layer.moving_variance.value)]


@pytest.mark.parametrize("shape", [(5, 4, 4, 6), (5, 4, 6), (5, 2, 2, 2, 6)])
@pytest.mark.parametrize("strategy", [None, "one_device"])
def test_auto_on_one_replica_is_the_unsynchronized_layer_bit_for_bit(shape, strategy):
    """Rank 4: the fused kernel; other ranks: Keras's own moments (`_moments`)."""
    x = tf.constant(np.random.default_rng(5).normal(1.0, 2.0, shape).astype("float32"))
    results = []
    for synchronized in (False, "auto"):
        layer = layers.FusedBatchNormalization(momentum=0.9, synchronized=synchronized)
        layer.build(shape)
        layer.set_weights([np.full(w.shape, 0.5 + i, "float32") for i, w in enumerate(layer.weights)])
        if strategy is None:
            results.append(training_step(layer, x))
        else:
            one = tf.distribute.OneDeviceStrategy("/cpu:0")
            results.append(one.run(tf.function(lambda: training_step(layer, x))))
    for expected, actual in zip(*results):
        np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected))


def graph_ops(layer, x):
    graph = tf.function(lambda x: layer(x, training=True)).get_concrete_function(x).graph
    return {op.type for op in graph.get_operations()}


def test_auto_keeps_the_fused_kernel_on_one_replica():
    x = tf.constant(np.ones((2, 4, 4, 3), "float32"))
    assert layers.FusedBatchNormalization(synchronized="auto").synchronizes() is False
    assert "FusedBatchNormV3" in graph_ops(layers.FusedBatchNormalization(synchronized="auto"), x)
    assert "FusedBatchNormV3" not in graph_ops(layers.FusedBatchNormalization(synchronized=True), x)


def test_auto_synchronizes_when_several_replicas_are_in_sync(monkeypatch):
    from keras_cvae.layers import fused_batch_normalization

    monkeypatch.setattr(fused_batch_normalization, "replicas_in_sync", lambda: 2)
    auto = layers.FusedBatchNormalization(synchronized="auto")
    assert auto.synchronizes() is True
    x = tf.constant(np.random.default_rng(6).normal(size=(5, 4, 4, 6)).astype("float32"))
    assert "FusedBatchNormV3" not in graph_ops(auto, x)
    # Keras's synchronized moments (here over the default strategy's one replica).
    keras_bn = keras.layers.BatchNormalization(synchronized=True)
    for actual, expected in zip(training_step(auto, x), training_step(keras_bn, x)):
        np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected))


def test_synchronized_argument():
    assert layers.FusedBatchNormalization().synchronized is False  # Keras's default
    auto = layers.FusedBatchNormalization(synchronized="auto")
    config = auto.get_config()
    assert config["synchronized"] == "auto"
    assert layers.FusedBatchNormalization.from_config(config).synchronized == "auto"
    assert layers.FusedBatchNormalization(synchronized="per_replica").synchronized is False
    assert layers.FusedBatchNormalization(synchronized=np.bool_(True)).synchronized is True
    with pytest.raises(ValueError, match=r"`synchronized`.*\"auto\".*Received: synchronized='always'"):
        layers.FusedBatchNormalization(synchronized="always")
    with pytest.raises(ValueError, match=r"Received: synchronized=1"):
        layers.FusedBatchNormalization(synchronized=1)
