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
