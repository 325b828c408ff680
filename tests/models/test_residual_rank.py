"""Correlated pixel noise: `GaussianDecoder(residual_rank=r)`, `p(x|z) = N(g, S (I + V Vᵀ)² S)`."""

import keras
import numpy as np
import pytest
from scipy.stats import multivariate_normal

import keras_cvae
from tests.export.export_checks import check_export_matches_keras
from tests.export.export_checks import tiny_vae

CONV_NET = {"depth": 1, "channels": 8}


def _decoder_with_factor(rank=3, seed=0):
    decoder = keras_cvae.GaussianDecoder((4, 4, 3), CONV_NET, residual_rank=rank)
    decoder(np.zeros((1, 5), "float32"))
    factor = np.random.default_rng(seed).normal(0, 0.5, (48, rank)).astype("float32")
    decoder.residual_factor.assign(factor)
    return decoder, factor


def test_the_density_is_the_gaussian_with_that_covariance():
    decoder, factor = _decoder_with_factor()
    z = np.random.default_rng(1).normal(size=(3, 5)).astype("float32")
    mean, scale = (np.asarray(t, "float64") for t in decoder(z))
    x = np.random.default_rng(2).random((3, 4, 4, 3)).astype("float32")
    got = keras.ops.convert_to_numpy(decoder.negative_log_likelihood(x, mean, scale))
    root = np.eye(48) + factor @ factor.T
    for i in range(3):
        s = np.diag(scale[i].ravel())
        expected = -multivariate_normal(mean[i].ravel(), s @ root @ root @ s).logpdf(x[i].ravel())
        assert got[i] == pytest.approx(expected, rel=1e-5)


def test_samples_correlate_the_pixel_noise_and_have_that_covariance():
    decoder, factor = _decoder_with_factor()
    eta = np.random.default_rng(3).normal(size=(40_000, 4, 4, 3)).astype("float32")
    noise = keras.ops.convert_to_numpy(decoder.correlate(eta)).reshape(len(eta), -1)
    flat = eta.reshape(len(eta), -1)
    np.testing.assert_allclose(noise, flat + flat @ factor @ factor.T, rtol=1e-4, atol=1e-4)
    root = np.eye(48) + factor @ factor.T
    target = root @ root
    assert np.abs(np.cov(noise, rowvar=False) - target).max() < 0.05 * np.abs(target).max()
    # What `sample_from_noise` (and every export) computes: g(z) + σ(z) (I + V Vᵀ) η.
    vae = tiny_vae(residual_rank=2, seed=4)
    z_noise = np.random.default_rng(5).normal(size=(2, vae.latent_dim)).astype("float32")
    pixel = np.random.default_rng(6).normal(size=(2, 8, 8, 1)).astype("float32")
    mean, scale = vae.decode(z_noise)
    v = vae.decoder.residual_factor.numpy()
    expected = np.asarray(mean) + np.asarray(scale) * (
        pixel.reshape(2, -1) + pixel.reshape(2, -1) @ v @ v.T).reshape(pixel.shape)
    np.testing.assert_allclose(vae.sample_from_noise(z_noise, pixel, prior="standard"), expected,
                               rtol=1e-5, atol=1e-5)


def test_it_trains_and_its_likelihood_is_finite():
    images = np.random.default_rng(0).uniform(0, 1, (64, 8, 8, 1)).astype("float32")
    vae = keras_cvae.VAE(keras_cvae.GaussianEncoder(4, CONV_NET),
                         keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET, residual_rank=4))
    vae.compile()
    history = vae.fit(images, batch_size=32, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert np.all(np.isfinite(vae.log_likelihood(images[:4], num_samples=4, seed=0)))
    assert vae.decoder.residual_factor.trainable


def test_defaults_configs_and_bad_values():
    decoder = keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET, residual_rank=4)
    config = decoder.get_config()
    assert (config["residual_rank"], config["outlier_probability"]) == (4, 0.0)
    assert keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET).outlier_probability == 1e-4
    del config["residual_rank"]
    assert keras_cvae.GaussianDecoder.from_config(config).residual_rank == 0
    with pytest.raises(ValueError, match=r"no per-pixel outliers.*Received: "
                                         r"outlier_probability=0.01, residual_rank=4"):
        keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET, residual_rank=4, outlier_probability=0.01)
    for value in (-1, 65, 2.5, True):
        with pytest.raises(ValueError, match=r"`residual_rank`.*Received: residual_rank="):
            keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET, residual_rank=value)


def test_exports_sample_the_correlated_noise_as_keras_does(tmp_path):
    images = np.random.default_rng(0).uniform(0, 1, (17, 8, 8, 1)).astype("float32")
    differences = check_export_matches_keras(tiny_vae(residual_rank=3, seed=2), tmp_path, images,
                                             quantizations=(None,))
    assert set(differences) == {"saved_model", "tflite_float32", "onnx"}
