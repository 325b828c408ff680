import math

import numpy as np
import pytest
from keras import ops

from keras_cvae.models import elbo


def to_np(x):
    return ops.convert_to_numpy(x)


def test_gaussian_nll_matches_formula():
    rng = np.random.default_rng(0)
    x = rng.random((3, 4, 4, 2)).astype("float32")
    mean = rng.random((3, 4, 4, 2)).astype("float32")
    sigma = np.array([0.1, 0.5, 2.0], "float32").reshape(3, 1, 1, 1)
    d = 32
    expected = ((x - mean) ** 2).reshape(3, -1).sum(1) / (2 * sigma.ravel() ** 2) + d * np.log(
        sigma.ravel()
    ) + 0.5 * d * math.log(2 * math.pi)
    np.testing.assert_allclose(to_np(elbo.gaussian_nll(x, mean, sigma)), expected, rtol=1e-5)


def test_gaussian_nll_stays_float32_for_float16_inputs():
    x = np.full((2, 8, 8, 1), 0.5, "float16")
    out = elbo.gaussian_nll(x, x * 0, np.full((2, 1, 1, 1), 1e-3, "float16"))
    assert out.dtype == "float32" and np.all(np.isfinite(to_np(out)))  # float16 would overflow


def test_kl_diagonal_matches_monte_carlo():
    rng = np.random.default_rng(1)
    mean = rng.normal(size=(2, 3)).astype("float32")
    scale = rng.uniform(0.3, 2.0, size=(2, 3)).astype("float32")
    closed = to_np(ops.sum(elbo.kl_diagonal(mean, scale), axis=1))
    eps = rng.normal(size=(400_000, 2, 3))
    z = mean + scale * eps
    log_q = (-0.5 * eps**2 - np.log(scale) - 0.5 * math.log(2 * math.pi)).sum(-1)
    log_p = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(-1)
    np.testing.assert_allclose(closed, (log_q - log_p).mean(0), atol=0.02)


def random_tril(rng, batch, z):
    tril = np.tril(rng.normal(scale=0.4, size=(batch, z, z)))
    idx = np.arange(z)
    tril[:, idx, idx] = rng.uniform(0.4, 1.5, size=(batch, z))
    return tril.astype("float32")


def test_kl_full_matches_textbook_formula():
    rng = np.random.default_rng(2)
    mean = rng.normal(size=(4, 5)).astype("float32")
    tril = random_tril(rng, 4, 5)
    sigma = tril @ np.transpose(tril, (0, 2, 1))
    expected = [
        0.5 * (np.trace(s) + m @ m - 5 - np.linalg.slogdet(s)[1]) for m, s in zip(mean, sigma)
    ]
    np.testing.assert_allclose(to_np(elbo.kl_full(mean, tril)), expected, rtol=1e-4)


def test_kl_full_matches_monte_carlo_and_diagonal_case():
    rng = np.random.default_rng(3)
    mean = rng.normal(size=(2, 3)).astype("float32")
    tril = random_tril(rng, 2, 3)
    eps = rng.normal(size=(400_000, 2, 3))
    z = mean + np.einsum("bij,nbj->nbi", tril, eps)
    log_det = np.log(np.diagonal(tril, axis1=1, axis2=2)).sum(-1)
    log_q = (-0.5 * eps**2).sum(-1) - log_det - 1.5 * math.log(2 * math.pi)
    log_p = (-0.5 * z**2).sum(-1) - 1.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(to_np(elbo.kl_full(mean, tril)), (log_q - log_p).mean(0), atol=0.02)
    diagonal = np.abs(rng.normal(size=(2, 3))).astype("float32") + 0.1
    np.testing.assert_allclose(
        to_np(elbo.kl_full(mean, diagonal[:, :, None] * np.eye(3, dtype="float32"))),
        to_np(ops.sum(elbo.kl_diagonal(mean, diagonal), axis=1)),
        rtol=1e-5,
    )


@pytest.mark.parametrize("z", [1, 4])
def test_standard_normal_log_prob(z):
    x = np.linspace(-2, 2, 2 * z).reshape(2, z).astype("float32")
    expected = -0.5 * (x**2).sum(1) - 0.5 * z * math.log(2 * math.pi)
    np.testing.assert_allclose(to_np(elbo.standard_normal_log_prob(x)), expected, rtol=1e-6)
