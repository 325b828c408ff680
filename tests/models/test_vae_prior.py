"""The model's prior: fitted after training, used by sample, elbo and log_likelihood, saved."""

import keras
import numpy as np
import pytest

import keras_cvae
from keras_cvae.models.gaussian_mixture_prior import GaussianMixturePrior
from keras_cvae.models.standard_normal_prior import StandardNormalPrior
from tests.helpers import digits
from tests.helpers import tiny_vae


@pytest.fixture(scope="module")
def fitted():
    """The pretrained digits_basic with a 10-component prior fitted to its training codes."""
    vae = keras_cvae.VAE.from_preset("digits_basic")
    before = np.asarray(vae.sample(8, seed=3, prior="standard"))
    vae.fit_prior(digits("train"), num_components=4, seed=0)
    return vae, before


def test_a_model_starts_with_the_standard_prior_and_presets_without_one_load_with_it():
    assert isinstance(tiny_vae().prior, StandardNormalPrior)
    config = keras_cvae.zoo.read_config("mnist_basic")  # written before priors existed
    assert "prior" not in config["config"]
    vae = keras_cvae.VAE.from_preset("mnist_basic", load_weights=False)
    assert isinstance(vae.prior, StandardNormalPrior) and vae.prior.latent_dim == 32


def test_fit_prior_replaces_the_prior_and_keeps_the_standard_one_at_hand(fitted):
    vae, before = fitted
    assert isinstance(vae.prior, GaussianMixturePrior) and vae.prior.num_components == 4
    np.testing.assert_array_equal(np.asarray(vae.sample(8, seed=3, prior="standard")), before)
    assert not np.allclose(np.asarray(vae.sample(8, seed=3)), before)
    np.testing.assert_array_equal(np.asarray(vae.sample(8, seed=3, prior="fitted")),
                                  np.asarray(vae.sample(8, seed=3)))


def test_the_fitted_prior_gives_the_test_digits_a_higher_likelihood(fitted):
    vae, _ = fitted
    test = digits("test")[:64]
    fitted_ll = np.mean(vae.log_likelihood(test, num_samples=32, seed=0))
    standard_ll = np.mean(vae.log_likelihood(test, num_samples=32, seed=0, prior="standard"))
    assert fitted_ll > standard_ll + 1.0


def test_evaluate_density_reports_both_priors_from_the_same_samples(fitted):
    vae, _ = fitted
    test = digits("test")[:32]
    results = keras_cvae.evaluate_density(vae, test, intensity_levels=17, num_samples=8, verbose=0)
    assert results["prior"] == "GaussianMixturePrior"
    assert results["bits_per_dim"] < results["standard_prior"]["bits_per_dim"]


def test_refitting_replaces_the_mixture_without_leaving_weights_behind():
    vae = tiny_vae()
    images = digits("train")[:64]
    vae.fit_prior(images, num_components=3, samples_per_image=2)
    count = len(vae.weights)
    vae.fit_prior(images, num_components=2, samples_per_image=2)
    assert len(vae.weights) == count and vae.prior.num_components == 2


def test_fitting_is_deterministic_for_a_seed():
    images = digits("train")[:64]
    a, b = tiny_vae(), tiny_vae()
    b.set_weights(a.get_weights())
    for vae in (a, b):
        vae.fit_prior(images, num_components=3, samples_per_image=3, seed=5)
    for x, y in zip(a.prior.parameters(), b.prior.parameters()):
        np.testing.assert_array_equal(x, y)


def test_the_fitted_prior_is_saved_in_keras_files_and_presets(fitted, tmp_path):
    vae, _ = fitted
    vae.save(tmp_path / "model.keras")
    vae.save_to_preset(tmp_path / "preset")
    for loaded in (keras.models.load_model(tmp_path / "model.keras"),
                   keras_cvae.VAE.from_preset(str(tmp_path / "preset"))):
        assert isinstance(loaded.prior, GaussianMixturePrior)
        np.testing.assert_array_equal(np.asarray(loaded.sample(4, seed=1)),
                                      np.asarray(vae.sample(4, seed=1)))


def test_monte_carlo_kl_against_a_one_component_standard_mixture_matches_the_closed_form():
    vae = tiny_vae(posterior="full")
    standard_mixture = GaussianMixturePrior(vae.latent_dim, 1)  # N(0, I) as a mixture
    images = digits("test")[:16]
    closed = np.asarray(vae.elbo(images, seed=0)["kl"])
    draws = [np.asarray(vae._terms(images, vae._noise(16, seed), False, standard_mixture)["kl"])
             for seed in range(400)]
    np.testing.assert_allclose(np.mean(draws, axis=0), closed, atol=0.15)


def test_sample_from_noise_needs_the_uniform_noise_of_a_mixture(fitted):
    vae, _ = fitted
    z_noise = np.random.default_rng(0).standard_normal((2, 16)).astype("float32")
    with pytest.raises(ValueError, match="`z_uniform`"):
        vae.sample_from_noise(z_noise)
    images = vae.sample_from_noise(z_noise, z_uniform=np.array([0.1, 0.9], "float32"))
    assert images.shape == (2, 8, 8, 1)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda vae: vae.fit_prior(digits("train")[:8], num_components=0), "`num_components`"),
        (lambda vae: vae.fit_prior(digits("train")[:2], num_components=5, samples_per_image=2),
         "`num_components`"),
        (lambda vae: vae.fit_prior(np.zeros((4, 7, 7, 1), "float32")), r"`data`.*\(batch, 8, 8, 1\)"),
        (lambda vae: vae.fit_prior(np.full((4, 8, 8, 1), np.nan, "float32")), "`data`.*(NaN|finite)"),
        (lambda vae: vae.fit_prior(digits("train")[:8], samples_per_image=0), "`samples_per_image`"),
        (lambda vae: vae.sample(2, prior="gaussian"), "`prior`"),
        (lambda vae: vae.sample(2, prior="fitted"), "no fitted prior"),
        (lambda vae: vae.sample(0), "`num_samples`"),
        (lambda vae: vae.sample(2, temperature=float("nan")), "`temperature`"),
    ],
)
def test_bad_arguments_name_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call(tiny_vae())
