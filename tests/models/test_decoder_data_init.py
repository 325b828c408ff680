"""The data-initialised decoder (`GaussianDecoder(data_init=True)`, the default)."""

import math

import keras
import numpy as np
import pytest

import keras_cvae
from keras_cvae.models import elbo
from tests.helpers import tiny_vae

CONV_NET = {"depth": 1, "channels": 8}


def _images(count=200, seed=0):
    """8×8 images whose left half is always empty (dequantized level 0), the right half not."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 1 / 17, size=(count, 8, 8, 1))
    images[:, :, 4:] = rng.uniform(0.2, 0.9, size=(count, 8, 4, 1))
    return images.astype("float32")


@pytest.mark.parametrize("decoder_scale", ["linear_per_pixel", "per_pixel", "learned", "linear"])
@pytest.mark.parametrize("mean_activation", ["sigmoid", "linear"])
def test_starts_at_the_pixel_statistics(decoder_scale, mean_activation):
    images = _images()
    decoder = keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET, decoder_scale=decoder_scale,
                                         mean_activation=mean_activation)
    decoder.build((None, 3))
    decoder.initialize_from_data(images)
    z = np.random.default_rng(1).normal(size=(5, 3)).astype("float32") * 3
    # The mean's head starts random: the code reaches the mean from the first step.
    assert np.ptp(np.asarray(decoder(z)[0]), axis=0).max() > 1e-3
    decoder.f_mean.kernel.assign(np.zeros(decoder.f_mean.kernel.shape))
    mean, scale = (np.asarray(t) for t in decoder(z))
    # Whatever the code: the pixel means (under the head), one σ for all pixels, the RMS deviation.
    np.testing.assert_allclose(mean, np.broadcast_to(images.mean(0), mean.shape), atol=2e-5)
    expected = np.sqrt(np.mean(images.var(0)))
    np.testing.assert_allclose(scale, np.broadcast_to(expected, scale.shape), rtol=1e-4)
    # So the untrained decoder's NLL is the independent-pixel Gaussian's, per pixel.
    nll = np.asarray(elbo.gaussian_nll(images[:5], mean, scale))
    reference = np.sum(np.log(expected) + 0.5 * math.log(2 * math.pi)
                       + 0.5 * ((images[:5] - images.mean(0)) / expected) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(nll, reference, rtol=1e-4)


def test_fit_initializes_once_from_the_first_images():
    images = _images()
    vae = tiny_vae(mean_activation="sigmoid", data_init=True, decoder_scale="linear_per_pixel")
    vae.compile()  # Adam, 1e-3
    assert isinstance(vae.optimizer, keras.optimizers.Adam)
    assert float(vae.decoder.data_initialized.numpy()) == 0
    vae.fit(images, batch_size=50, epochs=1, shuffle=False, verbose=0)
    assert float(vae.decoder.data_initialized.numpy()) == 1
    # σ started at the images' RMS deviation, for the empty half too (not at its own, ~0.017):
    # four small Adam steps later it is still there.
    sigma = np.asarray(vae.decoder(np.zeros((1, 4), "float32"))[1])[0]
    np.testing.assert_allclose(sigma, np.sqrt(np.mean(images.var(0))), rtol=0.05)
    # A second fit (other data) continues from the trained weights: no second initialisation.
    offsets = np.asarray(vae.decoder.mean_offset)
    vae.fit(np.full((100, 8, 8, 1), 0.5, "float32"), batch_size=50, epochs=1, verbose=0)
    assert np.abs(np.asarray(vae.decoder.mean_offset) - offsets).max() < 0.1


def test_a_pixel_the_first_images_never_vary_does_not_start_over_confident():
    """One σ for all pixels at the start: ink where the first images had none costs nats, not thousands.

    Started at its own deviation (about 1/17/√12 on the empty half), σ of such
    a pixel would make an image inked there (a test digit a little
    off-centre) cost about 1,000 nats per pixel before training could widen it.
    """
    images = _images()
    decoder = keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET)
    decoder.build((None, 3))
    decoder.initialize_from_data(images)
    mean, scale = decoder(np.zeros((2, 3), "float32"))
    usual = images[:1]
    inked = usual.copy()
    inked[0, 0, 0, 0] = 0.8  # on the always-empty half
    cost = float(elbo.gaussian_nll(inked, mean[:1], scale[:1])[0]
                 - elbo.gaussian_nll(usual, mean[:1], scale[:1])[0])
    own_sigma = 1 / 17 / math.sqrt(12)
    assert 0 < cost < 50 < (0.8 / own_sigma) ** 2 / 2


def test_saved_config_without_the_options_loads_as_saved(tmp_path):
    decoder = keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET)
    config = decoder.get_config()
    assert (config["decoder_scale"], config["mean_activation"], config["data_init"]) == (
        "linear_per_pixel", "sigmoid", True)
    for key in ("decoder_scale", "mean_activation", "data_init"):
        del config[key]
    legacy = keras_cvae.GaussianDecoder.from_config(config)
    assert (legacy.decoder_scale, legacy.mean_activation, legacy.data_init) == (
        "learned", "linear", False)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"`data_init`.*Received: data_init='yes'"):
        keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET, data_init="yes")
    decoder = keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET)
    decoder.build((None, 3))
    with pytest.raises(ValueError, match=r"`images`.*at least 2 images of shape \(8, 8, 1\).*"
                                         r"Received: images=\(5, 4, 4, 1\)"):
        decoder.initialize_from_data(np.zeros((5, 4, 4, 1)))
    with pytest.raises(ValueError, match=r"`images`.*Received"):
        decoder.initialize_from_data(np.full((5, 8, 8, 1), np.nan))  # a NaN start would spoil every step
    assert not float(decoder.data_initialized.numpy())
    lecture = keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET, data_init=False)
    lecture.build((None, 3))
    with pytest.raises(ValueError, match="data_init=True"):
        lecture.initialize_from_data(np.zeros((5, 8, 8, 1)))
