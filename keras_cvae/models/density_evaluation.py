"""Density evaluation the way papers report it: negative ELBO, IWAE NLL, bits/dim."""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_cvae.models.importance_weighting import importance_weighted_log_likelihood
from keras_cvae.models.standard_normal_prior import StandardNormalPrior
from keras_cvae.models.vae import VAE
from keras_cvae.models.image_checks import image_batches
from keras_cvae.validation import check_choice
from keras_cvae.validation import check_int
from keras_cvae.validation import check_optional_int
from keras_cvae.validation import check_positive_int
from keras_cvae.validation import check_seed
from keras_cvae.validation import invalid


def evaluate_density(model, data, intensity_levels=None, num_samples=1000, seed=0,
                     batch_size=64, verbose=1):
    """Negative ELBO and importance-weighted NLL over a dataset, and bits/dim.

    For discrete images with `L` intensity levels (given as `v / (L − 1)`,
    `v ∈ {0, …, L−1}`, as `keras_cvae.datasets.load` yields them without
    `dequantize`), each image is dequantized uniformly, `x̃ = (v + u) / L`,
    `u ~ U[0, 1)^D`, and

        bits/dim = −(log p(x̃) − D log L) / (D ln 2),

    an upper bound on the discrete model's code length. `log p(x̃)` is the
    importance-weighted estimate with `num_samples` samples.

    Args:
        model: `keras_cvae.VAE`.
        data: array of images or a `tf.data.Dataset` of batches of images
            (or of `(images, ...)` tuples), in [0, 1]: an array is checked
            at once, a dataset batch by batch (a ValueError naming `data`).
        intensity_levels: int. `L`; `None` for continuous data (no bits/dim).
        num_samples: int. `K` of the importance-weighted estimate. Defaults
            to `1000`.
        seed: int. Seeds the dequantization and all samples. Defaults to `0`.
        batch_size: int. Batch size when `data` is an array. Defaults to `64`.
        verbose: int. `1` shows a progress bar. Defaults to `1`.

    Returns:
        dict with `negative_elbo` and `nll` (nats per example) under the
        model's prior, and with `intensity_levels`: `bits_per_dim` (from the
        NLL) and `negative_elbo_bits_per_dim`; plus `num_examples`,
        `num_samples` and `prior` (the prior's class name). A model with a
        fitted prior (`VAE.fit_prior`) also gets `standard_prior`: the same
        figures under `N(0, I)`, from the same samples.
    """
    if not isinstance(model, VAE):
        raise invalid("model", "a `keras_cvae.VAE`", model)
    levels = check_optional_int("intensity_levels", intensity_levels, minimum=2)
    num_samples = check_positive_int("num_samples", num_samples)
    seed = check_seed("seed", seed)
    batch_size = check_positive_int("batch_size", batch_size)
    verbose = check_choice("verbose", verbose, (0, 1, 2))
    dataset = image_batches(data, model.image_shape, batch_size)
    total = int(dataset.cardinality())
    total = total if total >= 0 else None  # unknown or infinite

    # The model's prior, and N(0, I) beside a fitted one: both from the same samples.
    priors = ["model"] + ([] if isinstance(model.prior, StandardNormalPrior) else ["standard"])

    @tf.function(reduce_retracing=True)
    def evaluate_batch(images, index):
        batch_seed = evaluation_batch_seed(seed, index)
        if levels is not None:
            images = dequantize(images, levels, batch_seed)
        elbo_seed = tf.random.experimental.stateless_fold_in(batch_seed, 1)
        elbos = [model.elbo(images, seed=elbo_seed, prior=prior)["elbo"] for prior in priors]
        log_likelihoods = importance_weighted_log_likelihood(
            model, images, num_samples, tf.random.experimental.stateless_fold_in(batch_seed, 2),
            priors=[model._prior(prior) for prior in priors])
        return ops.stack(elbos), log_likelihoods

    progress = None
    if verbose:
        print(f"Evaluating: negative ELBO and importance-weighted NLL (K = {num_samples})"
              + (", under the fitted prior and under N(0, I)" if len(priors) > 1 else ""),
              flush=True)
        progress = keras.utils.Progbar(total, unit_name="batch")
    elbos, log_likelihoods = [], []
    for index, images in enumerate(dataset):
        if levels is not None:
            _check_on_grid(images, levels)
        elbo, log_likelihood = evaluate_batch(images, tf.constant(index))
        elbos.append(np.asarray(elbo, np.float64))
        log_likelihoods.append(np.asarray(log_likelihood, np.float64))
        if progress is not None:
            progress.add(1)
    if progress is not None and total is None:
        progress.update(len(elbos), finalize=True)  # ends the bar's line
    elbo = np.concatenate(elbos, axis=1)
    log_likelihood = np.concatenate(log_likelihoods, axis=1)
    results = _summary(model, elbo[0], log_likelihood[0], levels)
    results.update({"num_examples": int(elbo.shape[1]), "num_samples": num_samples,
                    "prior": type(model.prior).__name__})
    if len(priors) > 1:
        results["standard_prior"] = _summary(model, elbo[1], log_likelihood[1], levels)
    return results


def _summary(model, elbo, log_likelihood, levels):
    """Negative ELBO and NLL in nats per example, and in bits/dim for discrete data."""
    results = {"negative_elbo": float(-elbo.mean()), "nll": float(-log_likelihood.mean())}
    if levels is not None:
        dims = math.prod(model.image_shape)

        results["bits_per_dim"] = bits_per_dim(log_likelihood.mean(), dims, levels)
        results["negative_elbo_bits_per_dim"] = bits_per_dim(elbo.mean(), dims, levels)
        results["intensity_levels"] = levels
    return results


def evaluation_batch_seed(seed, index):
    """The stateless seed pair of batch `index` in `evaluate_density(..., seed=seed)`.

    Its dequantization noise is `dequantize(batch, L, evaluation_batch_seed(seed, index))`:
    other code can put the same noise on the same test images.
    """
    return tf.random.experimental.stateless_fold_in(
        tf.constant([seed, 0], "int64"), tf.cast(index, "int64"))


def bits_per_dim(log_p, dims, intensity_levels):
    """`−(log p(x̃) − D log L) / (D ln 2)` from a mean log-density `log p(x̃)` in nats.

    Example:

    >>> from keras_cvae.models.density_evaluation import bits_per_dim
    >>> bits_per_dim(0.0, 784, 256)  # the uniform density on [0, 1]^D
    8.0
    """
    dims = check_positive_int("dims", dims)
    intensity_levels = check_int("intensity_levels", intensity_levels, minimum=2)
    return float(-(log_p - dims * math.log(intensity_levels)) / (dims * math.log(2)))


def dequantize(images, intensity_levels, seed):
    """Uniform dequantization: `v / (L − 1)` ↦ `(v + u) / L`, `u ~ U[0, 1)` per value.

    `seed` is a stateless seed pair (shape `(2,)`).
    """
    intensity_levels = check_int("intensity_levels", intensity_levels, minimum=2)
    v = ops.round(ops.cast(images, "float32") * (intensity_levels - 1))
    u = tf.random.stateless_uniform(ops.shape(v), seed)
    return (v + u) / intensity_levels


def _check_on_grid(images, levels):
    scaled = np.asarray(images) * (levels - 1)
    off = np.abs(scaled - np.round(scaled)).max() if scaled.size else 0.0
    if off > 1e-3:
        raise invalid(
            "data", f"images on the grid of {levels} intensity levels, v / {levels - 1} (not "
            "yet dequantized: load them with dequantize=False), for `intensity_levels`",
            received=f"images with values up to {off / (levels - 1):.3g} away from the grid")
