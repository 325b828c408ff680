"""The latent priors (standard normal, Gaussian mixture) and fitting a mixture to codes."""

import numpy as np
import pytest
import keras
import tensorflow as tf
from keras import ops
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from keras_cvae.models.gaussian_mixture_prior import GaussianMixturePrior
from keras_cvae.models.prior_fitting import fit_gaussian_mixture
from keras_cvae.models.standard_normal_prior import StandardNormalPrior
from tests.helpers import assert_config_mirrors_init, run_layer_test


def to_np(x):
    return ops.convert_to_numpy(x)


def random_mixture(rng, k, z, diagonal=False, scale=(0.3, 1.5)):
    weights = rng.dirichlet(np.full(k, 2.0))
    means = rng.normal(scale=2.0, size=(k, z))
    trils = np.zeros((k, z, z)) if diagonal else np.tril(rng.normal(scale=0.5, size=(k, z, z)), -1)
    trils[:, np.arange(z), np.arange(z)] = rng.uniform(*scale, size=(k, z))
    return weights.astype("float32"), means.astype("float32"), trils.astype("float32")


def mixture_prior(parameters):
    weights, means, _ = parameters
    prior = GaussianMixturePrior(latent_dim=means.shape[1], num_components=len(weights))
    prior.set_parameters(*parameters)
    return prior


def scipy_log_prob(z, weights, means, trils):
    z = np.asarray(z, np.float64)
    components = [
        np.log(w) + multivariate_normal(m, np.float64(t) @ np.float64(t).T).logpdf(z)
        for w, m, t in zip(weights, means, trils)
    ]
    return logsumexp(np.stack(components), axis=0)


def mixture_moments(weights, means, trils, temperature=1.0):
    """Mean and covariance of the mixture, component covariances scaled by T²."""
    w, mu, tril = (np.float64(a) for a in (weights, means, trils))
    mean = w @ mu
    second = np.einsum("k,kij->ij", w, temperature**2 * tril @ tril.transpose(0, 2, 1))
    second += np.einsum("k,ki,kj->ij", w, mu, mu)
    return mean, second - np.outer(mean, mean)


# === log_prob ===


@pytest.mark.parametrize("diagonal", [True, False], ids=["diagonal", "full"])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_mixture_log_prob_matches_scipy(k, diagonal):
    rng = np.random.default_rng(k)
    parameters = random_mixture(rng, k, 3, diagonal=diagonal)
    prior = mixture_prior(parameters)
    z = rng.normal(scale=2.5, size=(64, 3)).astype("float32")
    expected = scipy_log_prob(z, *parameters)
    log_prob = to_np(prior.log_prob(z))
    assert log_prob.dtype == np.float32 and log_prob.shape == (64,)
    np.testing.assert_allclose(log_prob, expected, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(to_np(prior(z)), log_prob)  # call is log_prob


def test_log_prob_keeps_leading_axes():
    parameters = random_mixture(np.random.default_rng(0), 3, 4)
    z = np.random.default_rng(1).normal(size=(2, 5, 4)).astype("float32")
    for prior in (mixture_prior(parameters), StandardNormalPrior(4)):
        log_prob = to_np(prior.log_prob(z))
        assert log_prob.shape == (2, 5)
        np.testing.assert_allclose(log_prob.ravel(), to_np(prior.log_prob(z.reshape(10, 4))),
                                   rtol=1e-6)


def test_standard_normal_log_prob_matches_scipy():
    z = np.random.default_rng(0).normal(scale=3.0, size=(32, 6))
    log_prob = to_np(StandardNormalPrior(6).log_prob(z))
    assert log_prob.dtype == np.float32
    expected = multivariate_normal(np.zeros(6), np.eye(6)).logpdf(z)
    np.testing.assert_allclose(log_prob, expected, rtol=1e-6)


def test_new_mixture_is_the_standard_normal():
    z = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    mixture = GaussianMixturePrior(latent_dim=3, num_components=4)
    np.testing.assert_allclose(
        to_np(mixture.log_prob(z)), to_np(StandardNormalPrior(3).log_prob(z)), rtol=1e-6
    )


def test_zero_weight_component_is_never_used():
    weights = np.array([0.0, 1.0], "float32")
    means = np.array([[0.0, 0.0], [50.0, 0.0]], "float32")
    trils = np.stack([np.eye(2)] * 2).astype("float32")
    prior = mixture_prior((weights, means, trils))
    expected = multivariate_normal(means[1], np.eye(2)).logpdf(np.zeros((1, 2)))
    np.testing.assert_allclose(to_np(prior.log_prob(np.zeros((1, 2)))), [expected], rtol=1e-6)
    z = to_np(prior.sample_from_noise(np.zeros((5, 2)), np.linspace(0, 0.999, 5)))
    np.testing.assert_array_equal(z, np.repeat(means[1:], 5, axis=0))


def test_log_prob_is_finite_far_out():
    rng = np.random.default_rng(0)
    weights, means, trils = random_mixture(rng, 3, 4, diagonal=True, scale=(0.01, 0.02))
    trils[:, 1, 0] = 0.005  # a little correlation, still well conditioned
    prior = mixture_prior((weights, means, trils))
    z = np.array([[1e3] * 4, [-1e3, 1e3, 0, 5e2]], "float32")
    log_prob = to_np(prior.log_prob(z))
    assert np.all(np.isfinite(log_prob))
    np.testing.assert_allclose(log_prob, scipy_log_prob(z, weights, means, trils), rtol=1e-4)
    assert np.all(np.isfinite(to_np(StandardNormalPrior(4).log_prob(z))))


@pytest.fixture
def mixed_bfloat16_policy():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def test_log_prob_is_float32_under_mixed_bfloat16(mixed_bfloat16_policy):
    parameters = random_mixture(np.random.default_rng(0), 3, 4)
    z = np.random.default_rng(1).normal(size=(8, 4)).astype("float32")
    z[0] = 1e3
    expected = scipy_log_prob(z, *parameters)
    prior = mixture_prior(parameters)
    assert prior.dtype_policy.name == "mixed_bfloat16"
    assert all(v.dtype == "float32" for v in prior.weights)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, prior(inputs))
    for log_prob in (prior.log_prob(z), prior(z), model(z)):  # inputs not rounded to bfloat16
        assert log_prob.dtype == "float32"
        np.testing.assert_allclose(to_np(log_prob), expected, rtol=1e-5)
    standard = to_np(StandardNormalPrior(4)(z))
    np.testing.assert_allclose(standard, multivariate_normal(np.zeros(4)).logpdf(z), rtol=1e-6)


# === Sampling ===


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_mixture_samples_match_mean_and_covariance(temperature):
    parameters = random_mixture(np.random.default_rng(3), 3, 2)
    z = to_np(mixture_prior(parameters).sample(200_000, seed=0, temperature=temperature))
    assert z.shape == (200_000, 2) and z.dtype == np.float32
    mean, covariance = mixture_moments(*parameters, temperature=temperature)
    np.testing.assert_allclose(z.mean(0), mean, atol=0.02)
    np.testing.assert_allclose(np.cov(z.T), covariance, atol=0.05 * np.abs(covariance).max())


def test_temperature_scales_each_component_by_t():
    parameters = random_mixture(np.random.default_rng(4), 3, 3)
    prior = mixture_prior(parameters)
    noise = np.random.default_rng(5).normal(size=(50, 3)).astype("float32")
    uniform = np.random.default_rng(6).random(50).astype("float32")
    centre = to_np(prior.sample_from_noise(noise * 0, uniform))  # the components' means
    z1 = to_np(prior.sample_from_noise(noise, uniform)) - centre
    z2 = to_np(prior.sample_from_noise(noise, uniform, temperature=0.3)) - centre
    np.testing.assert_allclose(z2, 0.3 * z1, rtol=1e-5, atol=1e-6)
    per_code = to_np(prior.sample_from_noise(noise, uniform, temperature=np.full(50, 0.3)))
    np.testing.assert_allclose(per_code - centre, z2, rtol=1e-6, atol=1e-6)
    standard = StandardNormalPrior(3)
    np.testing.assert_allclose(
        to_np(standard.sample(50, seed=1, temperature=0.3)),
        0.3 * to_np(standard.sample(50, seed=1)),
    )


def test_sample_from_noise_picks_components_by_cumulative_weights():
    weights, means, trils = random_mixture(np.random.default_rng(7), 4, 2)
    prior = mixture_prior((weights, means, trils))
    uniform = np.random.default_rng(8).random(100_000).astype("float32")
    z = to_np(prior.sample_from_noise(np.zeros((100_000, 2), "float32"), uniform))
    picked = np.argmin(((z[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(z, means[picked])
    cumulative = np.cumsum(to_np(prior.mixture_weights))
    rule = np.minimum((uniform[:, None] >= cumulative[None]).sum(1), 3)
    np.testing.assert_array_equal(picked, rule)
    np.testing.assert_allclose(np.bincount(picked, minlength=4) / 100_000, weights, atol=0.01)


def test_sampling_is_deterministic_for_a_seed():
    prior = mixture_prior(random_mixture(np.random.default_rng(9), 3, 2))
    first = to_np(prior.sample(100, seed=5))
    np.testing.assert_array_equal(to_np(prior.sample(100, seed=5)), first)
    np.testing.assert_array_equal(to_np(prior.sample(100, seed=(5, 0))), first)
    assert not np.array_equal(to_np(prior.sample(100, seed=6)), first)
    assert not np.array_equal(to_np(prior.sample(100)), to_np(prior.sample(100)))
    # The standard prior draws what `VAE.sample(seed=s)` draws: N(0, I) from the pair [s, 0].
    np.testing.assert_array_equal(
        to_np(StandardNormalPrior(2).sample(100, seed=5)),
        to_np(tf.random.stateless_normal((100, 2), [5, 0])),
    )


def test_sample_from_noise_converts_to_tflite_builtins(tmp_path):
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    prior = mixture_prior(random_mixture(np.random.default_rng(10), 3, 2))
    archive = keras.export.ExportArchive()
    archive.track(prior)
    specs = [tf.TensorSpec([None, 2], tf.float32, name="noise"),
             tf.TensorSpec([None], tf.float32, name="uniform"),
             tf.TensorSpec([None], tf.float32, name="temperature")]
    archive.add_endpoint("sample", lambda n, u, t: {"z": prior.sample_from_noise(n, u, t)}, specs)
    archive.write_out(str(tmp_path / "saved_model"), verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "saved_model"))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = interpreter_module.Interpreter(model_content=converter.convert())
    rng = np.random.default_rng(11)
    inputs = {"noise": rng.normal(size=(9, 2)).astype("float32"),
              "uniform": rng.random(9).astype("float32"),
              "temperature": rng.uniform(0.5, 1.0, 9).astype("float32")}
    z = interpreter.get_signature_runner("sample")(**inputs)["z"]
    expected = to_np(prior.sample_from_noise(*inputs.values()))
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-6)


# === Serialization ===


@pytest.mark.parametrize("kind", ["standard", "mixture"])
def test_config_and_keras_round_trips_are_bit_identical(kind, tmp_path):
    if kind == "standard":
        prior = StandardNormalPrior(latent_dim=3)
        assert prior.weights == []  # a model holding it saves the same weights as before
    else:
        prior = mixture_prior(random_mixture(np.random.default_rng(12), 4, 3))
        assert prior.get_config()["num_components"] == 4
    assert_config_mirrors_init(prior)
    run_layer_test(prior, (5, 3), tmp_path)  # from_config + set_weights, and `.keras`
    if kind == "mixture":
        inputs = keras.Input((3,))
        model = keras.Model(inputs, prior(inputs))
        model.save(tmp_path / "prior.keras")
        loaded = keras.models.load_model(tmp_path / "prior.keras").layers[-1]
        model.save_weights(tmp_path / "prior.weights.h5")
        fresh = GaussianMixturePrior(latent_dim=3, num_components=4)
        inputs = keras.Input((3,))
        keras.Model(inputs, fresh(inputs)).load_weights(tmp_path / "prior.weights.h5")
        clone = GaussianMixturePrior.from_config(prior.get_config())
        clone.set_weights(prior.get_weights())
        for other in (loaded, fresh, clone):
            for a, b in zip(other.parameters(), prior.parameters()):
                np.testing.assert_array_equal(a, b)


def test_parameters_round_trip():
    parameters = random_mixture(np.random.default_rng(13), 3, 2)
    prior = mixture_prior(parameters)
    for got, given in zip(prior.parameters(), parameters):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, given, rtol=1e-6)
    before = prior.parameters()
    prior.set_parameters(*before)
    for a, b in zip(prior.parameters(), before):
        np.testing.assert_array_equal(a, b)


# === Bad input ===


def bad_parameters(name):
    weights, means, trils = random_mixture(np.random.default_rng(14), 2, 2)
    upper = trils.copy()
    upper[0, 0, 1] = 0.5
    flat = trils.copy()
    flat[1, 1, 1] = 0.0
    return {
        "weights": [weights[:1], -weights, weights * 0.5, np.array([np.nan, 1.0]), ["a", "b"]],
        "means": [means[:, :1], np.full_like(means, np.inf)],
        "scale_trils": [trils[:1], upper, flat, trils * np.nan],
    }[name]


@pytest.mark.parametrize("name", ["weights", "means", "scale_trils"])
def test_set_parameters_rejects_bad_values(name):
    prior = GaussianMixturePrior(latent_dim=2, num_components=2)
    good = dict(zip(("weights", "means", "scale_trils"), random_mixture(
        np.random.default_rng(14), 2, 2)))
    before = prior.parameters()
    for value in bad_parameters(name):
        with pytest.raises(ValueError, match=f"argument `{name}`"):
            prior.set_parameters(**{**good, name: value})
    for a, b in zip(prior.parameters(), before):  # nothing assigned
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: GaussianMixturePrior(latent_dim=0, num_components=2), "latent_dim"),
        (lambda: GaussianMixturePrior(latent_dim=2, num_components=0), "num_components"),
        (lambda: StandardNormalPrior(latent_dim=1.5), "latent_dim"),
        (lambda: StandardNormalPrior(2).sample(0), "num_samples"),
        (lambda: StandardNormalPrior(2).sample(3, temperature=-1.0), "temperature"),
        (lambda: StandardNormalPrior(2).sample(3, seed="x"), "seed"),
        (lambda: GaussianMixturePrior(2, 2).sample(3, seed=(1, 2, 3)), "seed"),
        (lambda: GaussianMixturePrior(2, 2).log_prob(np.zeros((3, 5))), "z"),
        (lambda: GaussianMixturePrior(2, 2).sample_from_noise(np.zeros((3, 5)), np.zeros(3)),
         "noise"),
        (lambda: GaussianMixturePrior(2, 2).sample_from_noise(np.zeros((3, 2)), np.zeros((3, 1))),
         "uniform"),
    ],
)
def test_priors_reject_bad_arguments(call, name):
    with pytest.raises(ValueError, match=f"argument `{name}`"):
        call()


# === Fitting ===


def known_mixture_codes(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    weights = np.array([0.5, 0.3, 0.2])
    means = np.array([[-4.0, 0.0], [4.0, 1.0], [0.0, 5.0]])
    trils = np.array(
        [[[1.0, 0.0], [0.5, 0.5]], [[0.5, 0.0], [0.0, 1.0]], [[0.8, 0.0], [-0.3, 0.6]]]
    )
    labels = rng.choice(3, size=n, p=weights)
    codes = means[labels] + np.einsum("nij,nj->ni", trils[labels], rng.normal(size=(n, 2)))
    return codes.astype("float32"), (weights, means, trils)


def test_fit_recovers_a_known_mixture():
    codes, (weights, means, trils) = known_mixture_codes()
    fitted = fit_gaussian_mixture(codes, num_components=3, seed=0)
    assert [a.dtype for a in fitted] == [np.float32] * 3
    assert [a.shape for a in fitted] == [(3,), (3, 2), (3, 2, 2)]
    order = [np.argmin(((fitted[1] - m) ** 2).sum(1)) for m in means]
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(fitted[1][order], means, atol=0.1)
    np.testing.assert_allclose(fitted[0][order], weights, atol=0.03)
    covariances = fitted[2] @ fitted[2].transpose(0, 2, 1)
    np.testing.assert_allclose(covariances[order], trils @ trils.transpose(0, 2, 1), atol=0.1)
    prior = mixture_prior(fitted)  # ready for set_parameters
    assert np.mean(to_np(prior.log_prob(codes))) > np.mean(scipy_log_prob(codes, *fitted)) - 1e-3


def test_fit_is_deterministic_for_a_seed():
    codes, _ = known_mixture_codes(n=1000, seed=1)
    first = fit_gaussian_mixture(codes, num_components=4, seed=3)
    for a, b in zip(fit_gaussian_mixture(codes, num_components=4, seed=3), first):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"num_components": 0}, "num_components"),
        ({"num_components": 11}, "num_components"),
        ({"num_components": 2.0}, "num_components"),
        ({"codes": np.zeros(10)}, "codes"),
        ({"codes": np.zeros((10, 2, 1))}, "codes"),
        ({"codes": np.zeros((0, 2))}, "codes"),
        ({"codes": np.where(np.eye(10, 2) > 0, np.nan, 0.0)}, "codes"),
        ({"codes": np.full((10, 2), np.inf)}, "codes"),
        ({"codes": [["a", "b"]] * 10}, "codes"),
        ({"codes": [[1.0, 2.0], [3.0]]}, "codes"),
        ({"reg_covar": -1.0}, "reg_covar"),
        ({"seed": -1}, "seed"),
    ],
)
def test_fit_rejects_bad_input(kwargs, name):
    arguments = {"codes": np.random.default_rng(0).normal(size=(10, 2)), "num_components": 2}
    with pytest.raises(ValueError, match=f"argument `{name}`"):
        fit_gaussian_mixture(**{**arguments, **kwargs})
