import itertools

import keras
import numpy as np
import pytest

from keras_cvae import layers
from tests.helpers import assert_config_mirrors_init
from tests.helpers import run_layer_test

CONVS = {1: layers.PaddedConv1D, 2: layers.PaddedConv2D, 3: layers.PaddedConv3D}


def lecture_conv(x, kernel):
    """NumPy transcription of the lecture: z = ReLU(sum_c' <W[c,c'], Pad(x)[i:i+k, ...]>).

    x: (*spatial, C_in), kernel: (*k, C_in, C_out). Pad puts floor(k/2) zeros
    before and k-1-floor(k/2) after every spatial axis.
    """
    ks = kernel.shape[:-2]
    pad = [(k // 2, k - 1 - k // 2) for k in ks] + [(0, 0)]
    padded = np.pad(x, pad)
    out = np.zeros((*x.shape[:-1], kernel.shape[-1]))
    for index in itertools.product(*(range(d) for d in x.shape[:-1])):
        window = padded[tuple(slice(i, i + k) for i, k in zip(index, ks))]
        out[index] = np.tensordot(window, kernel, axes=len(ks) + 1)
    return np.maximum(out, 0)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("channels", [(1, 3), (3, 2)])
def test_matches_lecture_formula(rank, k, channels):
    c_in, c_out = channels
    d = 6 if rank < 3 else 5
    rng = np.random.default_rng(rank * 100 + k)
    x = rng.normal(size=(2,) + (d,) * rank + (c_in,)).astype("float32")
    layer = CONVS[rank](c_out, k, activation="relu", use_bias=False)
    y = keras.ops.convert_to_numpy(layer(x))
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    assert y.shape == x.shape[:-1] + (c_out,)
    for b in range(2):
        np.testing.assert_allclose(y[b], lecture_conv(x[b], kernel), atol=1e-5)


@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("k", [(1,), (2,), (3,), (4,), (2, 3, 1)])
def test_gradients_match_autodiff_of_pad_then_valid_convolution(rank, k):
    """The custom gradient (input gradient as a convolution) equals TF's autodiff."""
    import tensorflow as tf

    kernel_size = (k * rank)[:rank]
    rng = np.random.default_rng(rank * 10 + sum(kernel_size))
    x = tf.constant(rng.normal(size=(3,) + (5,) * rank + (2,)), "float32")
    layer = CONVS[rank](4, kernel_size, use_bias=False)
    output_weights = tf.constant(rng.normal(size=(3,) + (5,) * rank + (4,)), "float32")
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = tf.reduce_sum(layer(x) * output_weights)
        pad_width = [(0, 0), *(layers.padded_conv.lecture_padding(k) for k in kernel_size), (0, 0)]
        plain = tf.nn.convolution(tf.pad(x, pad_width), layer.kernel, padding="VALID")
        reference = tf.reduce_sum(plain * output_weights)
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5)
    for ours_gradient, reference_gradient in zip(
        tape.gradient(ours, [x, layer.kernel]), tape.gradient(reference, [x, layer.kernel])
    ):
        assert np.abs(reference_gradient.numpy()).max() > 0.1
        np.testing.assert_allclose(ours_gradient.numpy(), reference_gradient.numpy(), atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("k", [2, 4])
def test_even_kernel_differs_from_keras_same(k):
    x = np.random.default_rng(0).normal(size=(1, 7, 7, 2)).astype("float32")
    ours = layers.PaddedConv2D(3, k, use_bias=False)
    same = keras.layers.Conv2D(3, k, padding="same", use_bias=False)
    same.build(x.shape)
    y = keras.ops.convert_to_numpy(ours(x))
    same.set_weights(ours.get_weights())
    y_same = keras.ops.convert_to_numpy(same(x))
    assert y.shape == y_same.shape
    assert np.abs(y - y_same).max() > 1e-2
    # Keras "same" puts the extra zero after: it equals ours shifted by one pixel.
    np.testing.assert_allclose(y[:, 1:, 1:], y_same[:, :-1, :-1], atol=1e-5)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_odd_kernel_equals_keras_same(k):
    x = np.random.default_rng(1).normal(size=(2, 5, 5, 2)).astype("float32")
    ours = layers.PaddedConv2D(4, k)
    same = keras.layers.Conv2D(4, k, padding="same")
    same.build(x.shape)
    y = keras.ops.convert_to_numpy(ours(x))
    same.set_weights(ours.get_weights())
    np.testing.assert_allclose(y, keras.ops.convert_to_numpy(same(x)), atol=1e-5)


def test_bias_and_non_square_kernel():
    x = np.random.default_rng(2).normal(size=(1, 5, 6, 2)).astype("float32")
    layer = layers.PaddedConv2D(2, (2, 3), bias_initializer="ones")
    y = keras.ops.convert_to_numpy(layer(x))
    kernel = keras.ops.convert_to_numpy(layer.kernel)
    reference = lecture_conv(x[0], kernel)  # ReLU'd; compare where positive
    linear = y[0] - 1.0
    mask = reference > 0
    np.testing.assert_allclose(linear[mask], reference[mask], atol=1e-5)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_serialization(rank, tmp_path):
    layer = CONVS[rank](3, 2, activation="relu", kernel_regularizer="l2")
    run_layer_test(layer, (2,) + (4,) * rank + (2,), tmp_path)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_base_class_serialization(rank, tmp_path):
    shape = (2,) + (4,) * rank + (2,)
    layer = layers.PaddedConv(rank, 3, 2, activation="relu", kernel_regularizer="l2")
    assert layer.get_config()["rank"] == rank
    y = run_layer_test(layer, shape, tmp_path, seed=0)
    # The same computation as the subclass of that rank.
    fixed = CONVS[rank](3, 2, activation="relu")
    fixed.build(shape)
    fixed.set_weights(layer.get_weights())
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(fixed(x)), y)


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_fixed_rank_subclasses_leave_rank_out_of_their_config(rank):
    config = CONVS[rank](3, 2).get_config()
    assert "rank" not in config
    with pytest.raises(TypeError, match="multiple values for keyword argument 'rank'"):
        CONVS[rank].from_config({**config, "rank": rank})


def test_config_check_catches_a_forgotten_argument():
    class ForgetsRank(layers.PaddedConv):  # the defect the check once let through
        def get_config(self):
            config = super().get_config()
            del config["rank"]
            return config

    with pytest.raises(AssertionError, match="missing from get_config: {'rank'}"):
        assert_config_mirrors_init(ForgetsRank(2, 3, 2))


@pytest.mark.parametrize("kernel_size", [0, -1, (3, 0), (3,), 2.5, "3", None])
def test_bad_kernel_size(kernel_size):
    with pytest.raises(ValueError, match=r"`kernel_size`.*Received: kernel_size="):
        layers.PaddedConv2D(4, kernel_size)


@pytest.mark.parametrize("filters", [0, -3, 1.5])
def test_bad_filters(filters):
    with pytest.raises(ValueError, match=rf"`filters`.*Received: filters={filters}"):
        layers.PaddedConv2D(filters, 3)


@pytest.mark.parametrize("rank", [0, 4])
def test_bad_rank(rank):
    with pytest.raises(ValueError, match=rf"`rank`.*Received: rank={rank}"):
        layers.PaddedConv(rank, 4, 3)


def test_wrong_input_rank():
    with pytest.raises(ValueError, match=r"rank 4.*Received: input_shape=\(2, 5, 3\)"):
        layers.PaddedConv2D(4, 3)(np.zeros((2, 5, 3), "float32"))
