"""Fitting a full-covariance Gaussian mixture to latent codes (the aggregate posterior)."""

import warnings

import numpy as np

from keras_cvae.utils.image_validation import validate_batch
from keras_cvae.validation import check_int, check_number, invalid


def fit_gaussian_mixture(codes, num_components, seed=0, reg_covar=1e-4, max_iter=200, tol=1e-3):
    """Fits `K` full-covariance Gaussians to `codes` by EM: parameters of `GaussianMixturePrior`.

    `codes` are meant to be draws `z ~ q(z|x)` over the training images (the
    aggregate posterior `q(z) = E_x q(z|x)`), not only the posterior means.
    The fit is scikit-learn's `GaussianMixture` (k-means initialisation, one
    run) in float64, with `reg_covar` added to the diagonal of every
    covariance: each component's scale is at least `sqrt(reg_covar)` along
    every axis, so no component collapses onto a few codes. It is
    deterministic for a `seed`. Scikit-learn's `ConvergenceWarning` is
    passed on when `max_iter` is reached first.

    Why scikit-learn rather than EM written in TensorFlow: on 20,118 codes of
    a 16-dimensional posterior (`digits_basic_full`, 14 draws per training
    image), K = 10, both reach the same log-likelihood within the spread
    over seeds 0–2 (train −19.94 to −19.97 nats per code for scikit-learn,
    −19.88 to −19.96 for TF EM; held-out −21.05 to −21.10 vs −20.92 to
    −21.10) in about a second (0.6–1.1 s vs 0.4–0.9 s on two shared CPU
    cores); on 100,000 codes, Z = 32, K = 40, 20 iterations take 23 s vs
    30 s. Equal quality and time, so the maintained float64 implementation
    with its k-means initialisation wins over a second copy of EM to
    maintain.

    Args:
        codes: array `(N, Z)` of latent codes, finite numbers.
        num_components: int. `K`, between 1 and `N`.
        seed: int. Seed of the k-means initialisation. Defaults to `0`.
        reg_covar: float. Added to the diagonal of every covariance.
            Defaults to `1e-4`.
        max_iter: int. Maximum number of EM iterations. Defaults to `200`.
        tol: float. EM stops when the mean log-likelihood per code improves
            by less than this. Defaults to `1e-3`.

    Returns:
        `(weights, means, scale_trils)`, float32 NumPy arrays of shapes
        `(K,)`, `(K, Z)` and `(K, Z, Z)` (lower-triangular Cholesky factors
        of the covariances): the arguments of
        `GaussianMixturePrior.set_parameters`.

    Example:

    >>> from keras_cvae.models.prior_fitting import fit_gaussian_mixture
    >>> rng = np.random.default_rng(0)
    >>> codes = np.concatenate([rng.normal(-3, 1, (300, 2)), rng.normal(3, 1, (100, 2))])
    >>> weights, means, scale_trils = fit_gaussian_mixture(codes, num_components=2)
    >>> np.round(np.sort(weights), 2), means.shape, scale_trils.shape
    (array([0.25, 0.75], dtype=float32), (2, 2), (2, 2, 2))
    """
    codes = _checked_codes(codes)
    num_components = check_int("num_components", num_components, minimum=1)
    if num_components > len(codes):
        raise invalid(
            "num_components", f"an integer <= the number of codes ({len(codes)})", num_components
        )
    seed = check_int("seed", seed, minimum=0, maximum=2**32 - 1)
    reg_covar = check_number("reg_covar", reg_covar, minimum=0)
    max_iter = check_int("max_iter", max_iter, minimum=1)
    tol = check_number("tol", tol, minimum=0)

    from sklearn.mixture import GaussianMixture  # only needed here

    mixture = GaussianMixture(
        n_components=num_components,
        covariance_type="full",
        reg_covar=reg_covar,
        max_iter=max_iter,
        tol=tol,
        random_state=seed,
    )
    with warnings.catch_warnings():
        # k-means warns about fewer distinct codes than components; EM copes.
        warnings.filterwarnings("ignore", message=".*Number of distinct clusters.*")
        mixture.fit(codes)
    weights = mixture.weights_ / np.sum(mixture.weights_)
    scale_trils = np.linalg.cholesky(mixture.covariances_)
    return (
        weights.astype("float32"),
        mixture.means_.astype("float32"),
        scale_trils.astype("float32"),
    )


def _checked_codes(codes):
    """`codes` as a finite float64 array `(N, Z)`, N, Z >= 1; a ValueError naming `codes`."""
    expected = "a non-empty array of finite codes of shape (num_codes, latent_dim)"
    return np.asarray(validate_batch(codes, "codes", item_shape=(None,), expected=expected),
                      np.float64)
