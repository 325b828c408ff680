import keras
import numpy as np
import pytest

import keras_cvae
from tests.helpers import assert_config_mirrors_init

CONV_NET = {"block": "basic", "depth": 1, "channels": 8}


def roundtrip(layer, inputs, tmp_path):
    outputs = [keras.ops.convert_to_numpy(o) for o in layer(inputs)]
    assert_config_mirrors_init(layer)
    clone = type(layer).from_config(layer.get_config())
    clone.build(inputs.shape)
    clone.set_weights(layer.get_weights())
    for a, b in zip(clone(inputs), outputs):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), b)
    return outputs


@pytest.mark.parametrize("posterior", ["diagonal", "full"])
def test_encoder_outputs(posterior, tmp_path):
    encoder = keras_cvae.GaussianEncoder(5, CONV_NET, posterior=posterior)
    x = np.random.default_rng(0).random((3, 8, 8, 2)).astype("float32")
    mean, scale = roundtrip(encoder, x, tmp_path)
    assert mean.shape == (3, 5)
    if posterior == "diagonal":
        assert scale.shape == (3, 5) and np.all(scale > 0)
    else:
        assert scale.shape == (3, 5, 5)
        np.testing.assert_array_equal(np.triu(scale, 1), 0)
        assert np.all(np.diagonal(scale, axis1=1, axis2=2) > 0)
        assert np.any(np.tril(scale, -1) != 0)
    # f_in is a 1×1 convolution to C channels; the heads are linear maps of C·d·d features.
    assert encoder.f_in.kernel.shape == (1, 1, 2, 8)
    assert encoder.f_mean.kernel.shape == (8 * 8 * 8, 5)
    assert encoder.f_var.kernel.shape[1] == (5 if posterior == "diagonal" else 15)


@pytest.mark.parametrize("decoder_scale", ["constant", "learned", "linear"])
def test_decoder_outputs(decoder_scale, tmp_path):
    decoder = keras_cvae.GaussianDecoder((6, 6, 3), CONV_NET, decoder_scale=decoder_scale, scale=0.2)
    z = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
    mean, scale = roundtrip(decoder, z, tmp_path)
    assert mean.shape == (4, 6, 6, 3) and scale.shape == (4, 1, 1, 1)
    np.testing.assert_allclose(scale, 0.2, rtol=1e-4)  # every mode starts at `scale`
    trainable = {w.name for w in decoder.trainable_weights}
    assert ("raw_scale" in trainable) == (decoder_scale == "learned")
    assert (decoder.f_var is not None) == (decoder_scale == "linear")


def per_pixel_decoder(decoder_scale, tmp_path):
    """A decoder with one σ per pixel and channel, checked to start at `scale` everywhere."""
    decoder = keras_cvae.GaussianDecoder((6, 6, 3), CONV_NET, decoder_scale=decoder_scale, scale=0.2,
                                         data_init=False)
    z = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
    mean, scale = roundtrip(decoder, z, tmp_path)
    assert mean.shape == scale.shape == (4, 6, 6, 3)
    assert decoder.compute_output_shape((4, 3)) == ((4, 6, 6, 3), (4, 6, 6, 3))
    np.testing.assert_allclose(scale, 0.2, rtol=1e-4)
    return decoder, z, mean


def test_decoder_linear_per_pixel_scale(tmp_path):
    decoder, z, _ = per_pixel_decoder("linear_per_pixel", tmp_path)  # zero kernel at start
    # σ(z) = softplus(1×1 conv of the decoder's features) + min_scale, per pixel and channel.
    assert decoder.f_var.kernel.shape == (1, 1, 8, 3)
    rng = np.random.default_rng(3)
    decoder.f_var.kernel.assign(rng.normal(size=(1, 1, 8, 3)).astype("float32"))
    _, scale = decoder(z)
    features = decoder.conv_net(
        keras.ops.reshape(decoder.f_in(z), (4, 6, 6, 8)), training=False)
    raw = np.einsum("bhwc,cd->bhwd", np.asarray(features), np.asarray(decoder.f_var.kernel[0, 0]))
    raw = raw + np.asarray(decoder.f_var.bias)
    np.testing.assert_allclose(scale, np.logaddexp(0, raw) + decoder.min_scale, rtol=1e-4, atol=1e-6)
    assert not np.allclose(scale[0], scale[1])  # depends on z


def test_decoder_per_pixel_scale(tmp_path):
    decoder, z, mean = per_pixel_decoder("per_pixel", tmp_path)
    # One trainable float32 σ per pixel and channel, each free to move on its own.
    assert decoder.raw_scale.shape == (6, 6, 3) and decoder.raw_scale.dtype == "float32"
    decoder.raw_scale.assign(np.arange(108, dtype="float32").reshape(6, 6, 3) - 50.0)
    _, scale = decoder(z)
    assert len(np.unique(np.round(np.asarray(scale[0]), 6))) > 50
    assert np.all(np.asarray(scale) >= decoder.min_scale)
    x = np.random.default_rng(2).uniform(size=(4, 6, 6, 3)).astype("float32")
    expected = np.sum(0.5 * ((x - mean) / scale) ** 2 + np.log(scale) + 0.5 * np.log(2 * np.pi), axis=(1, 2, 3))
    from keras_cvae.models import elbo
    np.testing.assert_allclose(elbo.gaussian_nll(x, mean, scale), expected, rtol=1e-4)


def test_decoder_sigmoid_mean(tmp_path):
    conv_net = {**CONV_NET, "zero_init_last": False}
    decoder = keras_cvae.GaussianDecoder((6, 6, 3), conv_net, mean_activation="sigmoid",
                                         data_init=False)
    z = np.random.default_rng(0).normal(size=(4, 5)).astype("float32") * 3
    mean, _ = roundtrip(decoder, z, tmp_path)
    features = decoder.conv_net(keras.ops.reshape(decoder.f_in(z), (4, 6, 6, 8)), training=False)
    raw = np.asarray(decoder.f_mean(features))
    np.testing.assert_allclose(mean, 1 / (1 + np.exp(-raw)), rtol=1e-5, atol=1e-7)
    assert np.all((mean >= 0) & (mean <= 1)) and np.ptp(raw) > 1


def test_decoder_sigmoid_mean_is_float32_under_mixed_precision():
    decoder = keras_cvae.GaussianDecoder(
        (6, 6, 1), CONV_NET, mean_activation="sigmoid", dtype="mixed_bfloat16")
    mean, scale = decoder(np.zeros((2, 5), "float32"))
    assert mean.dtype == "float32" and scale.dtype == "float32"


def test_decoder_rank_1_and_3():
    for rank, shape in ((1, (10, 2)), (3, (4, 4, 4, 1))):
        conv_net = {**CONV_NET, "rank": rank}
        decoder = keras_cvae.GaussianDecoder(shape, conv_net)
        encoder = keras_cvae.GaussianEncoder(3, conv_net)
        mean, scale = decoder(np.zeros((2, 3), "float32"))
        assert mean.shape == scale.shape == (2, *shape)  # σ(z) per pixel by default
        assert encoder(mean)[0].shape == (2, 3)


@pytest.mark.parametrize(
    "factory, message",
    [
        (lambda: keras_cvae.GaussianEncoder(0, CONV_NET), r"`latent_dim`.*Received: latent_dim=0"),
        (lambda: keras_cvae.GaussianEncoder(4, CONV_NET, posterior="lowrank"),
         r"`posterior`.*Received: posterior='lowrank'"),
        (lambda: keras_cvae.GaussianEncoder(4, "resnet"), r"`conv_net`.*Received: conv_net='resnet'"),
        (lambda: keras_cvae.GaussianDecoder((8, 8), CONV_NET), r"`image_shape`.*Received: image_shape=\(8, 8\)"),
        (lambda: keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET, decoder_scale="pixel"),
         r"`decoder_scale`.*Received: decoder_scale='pixel'"),
        (lambda: keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET, scale=0.0), r"`scale`.*Received: scale=0.0"),
        (lambda: keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET, mean_activation="relu"),
         r"`mean_activation`.*Received: mean_activation='relu'"),
    ],
)
def test_bad_arguments(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()


def test_encoder_wrong_image_rank():
    encoder = keras_cvae.GaussianEncoder(4, CONV_NET)
    with pytest.raises(ValueError, match=r"Received: input_shape=\(2, 8, 1\)"):
        encoder(np.zeros((2, 8, 1), "float32"))
