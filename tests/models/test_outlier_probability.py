"""Each pixel's density `(1 − ε) N(x; g(z), σ²) + ε U[0, 1]` (`GaussianDecoder(outlier_probability=ε)`)."""

import math

import keras
import numpy as np
import pytest

import keras_cvae
from keras_cvae.models import elbo
from tests.helpers import tiny_vae

CONV_NET = {"depth": 1, "channels": 8}


def _mixture_nll(x, mean, sigma, eps):
    gaussian = np.exp(-0.5 * ((x - mean) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    return -np.log((1 - eps) * gaussian + eps).reshape(len(x), -1).sum(1)


def test_the_mixture_matches_its_formula_and_zero_is_the_gaussian():
    rng = np.random.default_rng(0)
    x = rng.random((3, 4, 4, 2))
    mean = rng.random((3, 4, 4, 2))
    sigma = rng.uniform(0.05, 0.5, (3, 4, 4, 2))
    for eps in (1e-4, 0.1):
        got = keras.ops.convert_to_numpy(elbo.gaussian_nll(x, mean, sigma, eps))
        np.testing.assert_allclose(got, _mixture_nll(x, mean, sigma, eps), rtol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(elbo.gaussian_nll(x, mean, sigma, 0.0)),
                               _mixture_nll(x, mean, sigma, 0.0), rtol=1e-5)


def test_a_pixel_far_out_costs_at_most_minus_log_eps_and_the_density_integrates_to_one():
    # x − g = 1 at σ = 1e-3: the Gaussian alone costs 5e5 nats (and e^-5e5 underflows).
    far = keras.ops.convert_to_numpy(elbo.gaussian_nll(
        np.ones((1, 1)), np.zeros((1, 1)), np.full((1, 1), 1e-3), 1e-4))[0]
    assert np.isfinite(far) and -math.log(1e-4) - 1e-3 < far <= -math.log(1e-4) + 1e-3
    # A normalized density on [0, 1]: one pixel's exp(−nll) integrates to 1 (no mass outside).
    x = np.linspace(0, 1, 200_001)[:, None]
    for eps in (1e-4, 0.2):
        nll = elbo.gaussian_nll(x, np.full_like(x, 0.4), np.full_like(x, 0.02), eps)
        density = np.exp(-keras.ops.convert_to_numpy(nll).astype("float64"))
        assert np.trapezoid(density, x[:, 0]) == pytest.approx(1.0, abs=1e-5)


def test_training_loss_elbo_and_log_likelihood_use_the_decoders_mixture():
    images = np.random.default_rng(0).uniform(0, 0.1, (4, 8, 8, 1)).astype("float32")
    images[0, 3, 3, 0] = 1.0  # one pixel far from every other image's
    robust = tiny_vae(outlier_probability=1e-2, decoder_scale="constant")
    gaussian = keras_cvae.VAE.from_config(robust.get_config())
    gaussian.decoder.outlier_probability = 0.0
    robust(images), gaussian(images)
    # g(z) = 0.05 for every code: p(x|z) no longer depends on z, so every estimate is exact.
    robust.decoder.f_mean.kernel.assign(np.zeros(robust.decoder.f_mean.kernel.shape))
    robust.decoder.f_mean.bias.assign(np.full(robust.decoder.f_mean.bias.shape, 0.05))
    gaussian.set_weights(robust.get_weights())
    sigma = np.full(images.shape, robust.decoder.scale)
    mixture, plain = (_mixture_nll(images, 0.05, sigma, eps) for eps in (1e-2, 0.0))
    for model, expected in ((robust, mixture), (gaussian, plain)):
        reconstruction = np.asarray(model.elbo(images, seed=3)["reconstruction"])
        np.testing.assert_allclose(reconstruction, expected, rtol=1e-5)
    # The outlier pixel costs the Gaussian (σ = 0.1: 45 nats for x − g = 0.95) more than the mixture.
    assert plain[0] - mixture[0] > 30 and np.all(np.abs(plain[1:] - mixture[1:]) < 1)
    ll_gap = np.asarray(robust.log_likelihood(images, num_samples=8, seed=3)
                        - gaussian.log_likelihood(images, num_samples=8, seed=3))
    np.testing.assert_allclose(ll_gap, plain - mixture, rtol=1e-4, atol=1e-3)
    # Training minimizes the same term: `evaluate`'s reconstruction metric is its mean.
    robust.compile()
    metrics = robust.evaluate(images, batch_size=4, verbose=0, return_dict=True)
    assert metrics["reconstruction"] == pytest.approx(float(np.mean(mixture)), rel=1e-5)


def test_default_and_configs_saved_without_it():
    decoder = keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET)
    config = decoder.get_config()
    assert config["outlier_probability"] == 1e-4
    del config["outlier_probability"]
    assert keras_cvae.GaussianDecoder.from_config(config).outlier_probability == 0.0


@pytest.mark.parametrize("value", [-1e-3, 0.6, float("nan"), "small", True])
def test_bad_values_are_refused_naming_the_argument(value):
    with pytest.raises(ValueError, match=r"`outlier_probability`.*>= 0 and <= 0.5.*Received: "
                                         r"outlier_probability="):
        keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET, outlier_probability=value)


def test_mixed_precision_keeps_the_likelihood_finite():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        decoder = keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET)
        mean, scale = decoder(np.zeros((2, 4), "float32"))
        nll = decoder.negative_log_likelihood(np.ones((2, 8, 8, 1), "float16"), mean, scale * 0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert nll.dtype == "float32"
