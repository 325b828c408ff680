import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_cvae
from tests.helpers import digits, tiny_vae


def to_np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("posterior", ["diagonal", "full"])
def test_train_step_loss_is_the_lecture_objective(posterior, monkeypatch):
    sigma = 0.3
    vae = tiny_vae(posterior=posterior, decoder_scale="constant")
    vae.decoder.scale = sigma
    vae.compile(optimizer=keras.optimizers.SGD(0.0))
    x = np.random.default_rng(0).random((6, 8, 8, 1)).astype("float32")
    eps = np.random.default_rng(1).normal(size=(6, 4)).astype("float32")
    monkeypatch.setattr(vae, "_noise", lambda batch, seed=None: tf.constant(eps))
    logs = vae.train_on_batch(x, return_dict=True)

    mean, scale = (to_np(t) for t in vae.encoder(x, training=True))
    tril = scale if posterior == "full" else scale[:, :, None] * np.eye(4)
    z = mean + np.einsum("bij,bj->bi", tril, eps)
    g = to_np(vae.decoder(z.astype("float32"), training=True)[0])
    d = 64
    reconstruction = ((x - g) ** 2).reshape(6, -1).sum(1) / (2 * sigma**2) + 0.5 * d * math.log(
        2 * math.pi * sigma**2
    )
    cov = tril @ np.transpose(tril, (0, 2, 1))
    kl = np.array([0.5 * (np.trace(c) + m @ m - 4 - np.linalg.slogdet(c)[1]) for m, c in zip(mean, cov)])
    np.testing.assert_allclose(logs["reconstruction"], reconstruction.mean(), rtol=1e-4)
    np.testing.assert_allclose(logs["kl"], kl.mean(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(logs["loss"], (reconstruction + kl).mean(), rtol=1e-4)


def test_kl_warmup_and_free_bits():
    x = np.random.default_rng(2).random((8, 8, 8, 1)).astype("float32")
    vae = tiny_vae(kl_warmup_steps=10)
    vae.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = vae.train_on_batch(x, return_dict=True)
    np.testing.assert_allclose(logs["loss"], logs["reconstruction"] + 0.1 * logs["kl"], rtol=1e-5)

    vae = tiny_vae(free_bits=5.0)
    vae.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = vae.train_on_batch(x, return_dict=True)
    assert logs["kl"] < 4 * 5.0  # every dimension below its free nats: the floor applies
    np.testing.assert_allclose(logs["loss"], logs["reconstruction"] + 4 * 5.0, rtol=1e-5)


def test_l2_is_part_of_the_loss():
    x = np.random.default_rng(3).random((8, 8, 8, 1)).astype("float32")
    conv_net = {"depth": 1, "channels": 8, "l2": 1.0}
    vae = keras_cvae.VAE(keras_cvae.GaussianEncoder(4, conv_net), keras_cvae.GaussianDecoder((8, 8, 1), conv_net))
    vae.compile(optimizer=keras.optimizers.SGD(0.0))
    logs = vae.train_on_batch(x, return_dict=True)
    penalty = float(sum(to_np(l) for l in vae.losses))
    assert penalty > 1
    np.testing.assert_allclose(logs["loss"], logs["reconstruction"] + logs["kl"] + penalty, rtol=1e-4)


@pytest.mark.parametrize("posterior", ["diagonal", "full"])
def test_methods_shapes_eager_and_in_tf_function(posterior):
    vae = tiny_vae(posterior=posterior)
    x = np.random.default_rng(4).random((5, 8, 8, 1)).astype("float32")

    @tf.function(input_signature=[tf.TensorSpec((None, 8, 8, 1), tf.float32)])
    def graph(images):
        mean, tril = vae.encode(images)
        x_mean, x_scale = vae.decode(mean)
        return mean, tril, x_mean, x_scale, vae.reconstruct(images), vae.log_likelihood(images, 7, seed=1)

    for outputs in (graph(x), (*vae.encode(x), *vae.decode(vae.encode(x)[0]), vae.reconstruct(x),
                               vae.log_likelihood(x, 7, seed=1))):
        mean, tril, x_mean, x_scale, recon, ll = (to_np(o) for o in outputs)
        assert mean.shape == (5, 4) and tril.shape == (5, 4, 4)
        np.testing.assert_array_equal(np.triu(tril, 1), 0)
        assert x_mean.shape == (5, 8, 8, 1) and x_scale.shape == (5, 1, 1, 1)
        assert recon.shape == (5, 8, 8, 1) and ll.shape == (5,)
    np.testing.assert_allclose(to_np(graph(x)[-1]), to_np(vae.log_likelihood(x, 7, seed=1)), rtol=1e-5)
    terms = vae.elbo(x, seed=3)
    assert set(terms) == {"elbo", "reconstruction", "kl"} and terms["elbo"].shape == (5,)
    np.testing.assert_allclose(to_np(terms["elbo"]), -to_np(terms["reconstruction"] + terms["kl"]), rtol=1e-6)
    np.testing.assert_array_equal(to_np(vae.elbo(x, seed=3)["elbo"]), to_np(terms["elbo"]))


def test_sample():
    vae = tiny_vae()
    a, b = vae.sample(6, seed=7), vae.sample(6, seed=7)
    assert a.shape == (6, 8, 8, 1)
    np.testing.assert_array_equal(to_np(a), to_np(b))
    assert not np.allclose(to_np(vae.sample(6)), to_np(vae.sample(6)))
    cold = vae.sample(6, seed=7, temperature=0.0)
    z0 = to_np(vae.decode(np.zeros((1, 4), "float32"))[0])
    np.testing.assert_allclose(to_np(cold), np.repeat(z0, 6, 0), atol=1e-5)
    noisy = to_np(vae.sample(6, seed=7, add_noise=True))
    residual = noisy - to_np(a)
    sigma = float(to_np(vae.decode(np.zeros((1, 4), "float32"))[1]).ravel()[0])
    assert abs(residual.std() - sigma) < 0.3 * sigma  # x = g(z) + σ·η


def linear_gaussian_vae(sigma=1.0):
    """A VAE whose decoder is exactly linear where z lives: g(z) = A z + c, constant σ.

    f_in's bias keeps the convnet's input far above 0, and zero-initialised last
    gammas make every block ReLU(x) = x there, so p(x) = N(c, A Aᵀ + σ² I). ‖A‖ ~ σ
    and c ~ 0.5, so that for a small σ the data lie in [0, 1], as images must.
    """
    conv_net = {"block": "basic", "depth": 1, "channels": 4}
    vae = keras_cvae.VAE(
        keras_cvae.GaussianEncoder(2, conv_net),
        keras_cvae.GaussianDecoder((4, 4, 1), conv_net, decoder_scale="constant", scale=sigma,
                                   mean_activation="linear", data_init=False),
        seed=0,
    )
    rng = np.random.default_rng(5)
    # q(z|x) = N(0, I) whatever x (the prior as proposal): crude, but with heavier
    # tails than the posterior, so the importance weights have finite variance.
    for head in (vae.encoder.f_mean, vae.encoder.f_var):
        head.kernel.assign(np.zeros(head.kernel.shape, "float32"))
    vae.encoder.f_var.bias.assign(np.full((2,), math.log(math.expm1(1.0 - 1e-4)), "float32"))
    f_in = vae.decoder.f_in
    f_in.kernel.assign(rng.normal(scale=0.5, size=f_in.kernel.shape).astype("float32"))
    f_in.bias.assign(np.full(f_in.bias.shape, 50.0, "float32"))
    z = np.concatenate([np.zeros((1, 2)), np.eye(2)]).astype("float32")
    g = to_np(vae.decode(z)[0]).reshape(3, -1)
    # Rescale so that ‖A‖ / σ ~ 1: a posterior broad enough for K ≈ 1000 samples of q.
    norm = np.linalg.norm(g[1:] - g[0])
    f_in.kernel.assign(f_in.kernel * (sigma / norm))
    g = to_np(vae.decode(z)[0]).reshape(3, -1)
    f_mean = vae.decoder.f_mean
    f_mean.bias.assign(f_mean.bias + (0.5 - g[0].mean()).astype("float32"))
    g = to_np(vae.decode(z)[0]).reshape(3, -1)
    c, a = g[0], (g[1:] - g[0]).T
    return vae, c, a


def test_log_likelihood_converges_to_exact_linear_gaussian():
    sigma = 0.1  # the data in [0, 1]; the importance weights are those of σ = 1, ‖A‖ ~ 1
    vae, c, a = linear_gaussian_vae(sigma)
    z_check = np.random.default_rng(6).normal(size=(4, 2)).astype("float32")
    np.testing.assert_allclose(to_np(vae.decode(z_check)[0]).reshape(4, -1), z_check @ a.T + c, atol=1e-3)

    rng = np.random.default_rng(7)
    x = (rng.normal(size=(16, 2)) @ a.T + c + sigma * rng.normal(size=(16, 16))).astype("float32")
    cov = a @ a.T + sigma**2 * np.eye(16)
    diff = x.reshape(16, -1) - c
    exact = -0.5 * (np.einsum("bi,ij,bj->b", diff, np.linalg.inv(cov), diff)
                    + np.linalg.slogdet(cov)[1] + 16 * math.log(2 * math.pi))
    images = x.reshape(16, 4, 4, 1)
    assert 0 <= images.min() and images.max() <= 1
    elbo = to_np(vae.elbo(images, seed=0)["elbo"]).mean()
    estimates = [to_np(vae.log_likelihood(images, k, seed=1)).mean() for k in (1, 10, 100, 3000)]
    # The IWAE bound tightens with K in expectation only; per draw, K=100 and K=3000 sit
    # within Monte-Carlo noise of each other (about 0.01 nats here), so no strict ordering
    # between them. Both are well above the ELBO (gap about 0.8 nats).
    assert elbo < min(estimates[1:]) - 0.3, (elbo, estimates)
    assert abs(estimates[3] - exact.mean()) < 0.03
    assert abs(estimates[2] - exact.mean()) < 0.08
    assert abs(estimates[0] - exact.mean()) > abs(estimates[3] - exact.mean())
    # Chunks of 300 (the last one partly discarded) give an equally good estimate.
    chunked = to_np(vae.log_likelihood(images, 2000, seed=2, chunk_size=300)).mean()
    assert abs(chunked - exact.mean()) < 0.03


@pytest.mark.slow
def test_training_on_digits_lowers_test_negative_elbo():
    train, test = digits("train"), digits("test")
    keras.utils.set_random_seed(0)  # initialisation and shuffling: the same run in any suite order
    vae = tiny_vae(channels=16, latent_dim=8)
    vae.compile(optimizer=keras.optimizers.Adam(2e-3))
    before = vae.evaluate(test, batch_size=120, verbose=0, return_dict=True)
    history = vae.fit(train, batch_size=64, epochs=6, verbose=0)
    keras_cvae.recalibrate_batchnorm(vae, train)
    after = vae.evaluate(test, batch_size=120, verbose=0, return_dict=True)
    assert after["loss"] < before["loss"] - 50, (before, after)
    assert history.history["loss"][-1] < history.history["loss"][0]
    samples = to_np(vae.sample(16, seed=0))
    recon = to_np(vae.reconstruct(test[:16]))
    assert samples.shape == recon.shape == (16, 8, 8, 1)
    assert np.all(np.isfinite(samples))
    # A 6-epoch model: blurry samples, a little darker than the data (0.25-0.26 against 0.31
    # with seeds 0 and 1); a broken sampler (zeros, noise around 0.5) is off by 0.2 or more.
    many = to_np(vae.sample(256, seed=1))
    assert abs(many.mean() - train.mean()) < 0.12, (many.mean(), train.mean())
    assert np.abs(recon - test[:16]).mean() < np.abs(test[:16] - test.mean(0)).mean()


def test_save_load_and_resume(tmp_path):
    x = np.random.default_rng(9).random((32, 8, 8, 1)).astype("float32")
    vae = tiny_vae(posterior="full", decoder_scale="linear", block="bottleneck")
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    vae.fit(x, batch_size=16, epochs=1, verbose=0)
    path = str(tmp_path / "vae.keras")
    vae.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(to_np(loaded.reconstruct(x)), to_np(vae.reconstruct(x)))
    assert int(loaded.optimizer.iterations) == int(vae.optimizer.iterations) == 2
    for a, b in zip(loaded.optimizer.variables, vae.optimizer.variables):
        np.testing.assert_array_equal(to_np(a), to_np(b))
    loaded.fit(x, batch_size=16, epochs=1, verbose=0)
    assert int(loaded.optimizer.iterations) == 4

    weights = str(tmp_path / "vae.weights.h5")
    vae.save_weights(weights)
    fresh = tiny_vae(posterior="full", decoder_scale="linear", block="bottleneck", seed=5)
    fresh.load_weights(weights)
    np.testing.assert_array_equal(to_np(fresh.reconstruct(x)), to_np(vae.reconstruct(x)))


def test_config_round_trip():
    vae = tiny_vae(beta=0.5, kl_warmup_steps=3, free_bits=0.1)
    clone = keras_cvae.VAE.from_config(vae.get_config())
    assert clone.get_config() == vae.get_config()
    assert clone.count_params() == vae.count_params()


@pytest.mark.parametrize(
    "data, message",
    [
        (np.full((4, 8, 8, 1), np.nan, "float32"), r"`x`.*Received: x=<.* with 256 NaN values>"),
        (np.full((4, 8, 8, 1), 2.0, "float32"),
         r"in \[0, 1\]. Received: x=<float32 array of shape \(4, 8, 8, 1\) with values in \[2, 2\]>"),
        (np.zeros((4, 8, 8, 3), "float32"),
         r"shape \(batch, 8, 8, 1\).*Received: x=<float32 array of shape \(4, 8, 8, 3\)>"),
        (np.zeros((4, 8, 8), "float32"), r"Received: x=<float32 array of shape \(4, 8, 8\)>"),
        (np.full((4, 8, 8, 1), 255, "uint8"), r"values in \[255, 255\]> \(scale them to \[0, 1\], e.g. divide 8-bit images by 255\)"),
        (tf.data.Dataset.from_tensor_slices(np.full((4, 8, 8, 1), 3.0, "float32")).batch(2),
         r"Received: x=<dataset whose batch 0 is a float32 tensor of shape \(2, 8, 8, 1\) with values in \[3, 3\]>"),
        (tf.data.Dataset.from_tensor_slices(np.zeros((4, 8, 8, 1), "float32")), r"unbatched: call dataset.batch"),
        (tf.data.Dataset.from_tensor_slices((np.full((4, 8, 8, 1), -1.0, "float32"),) * 2).batch(2),
         r"values in \[-1, -1\]"),
    ],
)
def test_bad_data_is_refused_before_training(data, message):
    vae = tiny_vae()
    vae.compile(optimizer="adam")
    with pytest.raises(ValueError, match=message):
        vae.fit(data, epochs=1, verbose=0)
    assert int(vae.optimizer.iterations) == 0


def test_nan_loss_stops_training_with_a_message():
    vae = tiny_vae()
    vae.compile(optimizer=keras.optimizers.SGD(1e30))
    x = np.random.default_rng(10).random((64, 8, 8, 1)).astype("float32")
    with pytest.warns(RuntimeWarning, match=r"Training stopped in epoch 1: the loss is (nan|inf)"):
        history = vae.fit(x, batch_size=8, epochs=5, verbose=0)
    assert len(history.history["loss"]) == 1 and int(vae.optimizer.iterations) < 8


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"beta": -1.0}, r"`beta`.*Received: beta=-1.0"),
        ({"free_bits": -0.5}, r"`free_bits`.*Received: free_bits=-0.5"),
        ({"kl_warmup_steps": 1.5}, r"`kl_warmup_steps`.*Received: kl_warmup_steps=1.5"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_vae(**kwargs)


def test_rank_mismatch():
    with pytest.raises(ValueError, match="same rank"):
        keras_cvae.VAE(
            keras_cvae.GaussianEncoder(4, {"depth": 1, "channels": 4, "rank": 1}),
            keras_cvae.GaussianDecoder((8, 8, 1), {"depth": 1, "channels": 4}),
        )
