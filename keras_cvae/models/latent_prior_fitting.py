"""Fitting a VAE's latent prior to the aggregate posterior, after training."""

import keras
import numpy as np
import tensorflow as tf

from keras_cvae.models.gaussian_mixture_prior import GaussianMixturePrior
from keras_cvae.models.prior_fitting import fit_gaussian_mixture
from keras_cvae.models.random_seeds import fold_in
from keras_cvae.models.image_checks import image_batches
from keras_cvae.validation import check_positive_int


def posterior_draws(vae, data, samples_per_image, seed, batch_size=256, progress=None):
    """`samples_per_image` draws `z ~ q(z|x)` for every image of `data`: `(N · S, Z)` float32.

    `data` is an array of images or a `tf.data.Dataset` of image batches (or
    of `(images, ...)` tuples); every batch is checked like `fit`'s input.
    `progress`, a `keras.utils.Progbar`, advances one step per batch.
    """
    samples_per_image = check_positive_int("samples_per_image", samples_per_image)
    draws = []
    for index, images in enumerate(image_batches(data, vae.image_shape, batch_size)):
        batch = int(images.shape[0])
        noise = tf.random.stateless_normal((samples_per_image * batch, vae.latent_dim),
                                           fold_in(tf.constant([seed, 0], "int64"), index))
        tiled = tf.tile(images, [samples_per_image] + [1] * len(vae.image_shape))
        z, _, _ = vae._posterior_sample(tiled, noise, training=False)
        draws.append(np.asarray(z, "float32"))
        if progress is not None:
            progress.add(1)
    return np.concatenate(draws)


def fitted_mixture_prior(vae, data, num_components, samples_per_image, seed, reg_covar,
                         verbose=0):
    """A `GaussianMixturePrior` fitted to draws from `vae`'s posterior over `data`.

    With `verbose`, a labelled progress bar: one step per batch of images
    encoded, and one for the fit.
    """
    progress = None
    if verbose:
        print(f"Fitting a {num_components}-component Gaussian mixture prior to "
              f"{samples_per_image} codes z ~ q(z|x) per image", flush=True)
        batches = int(data.cardinality()) if isinstance(data, tf.data.Dataset) else -(-len(data) // 256)
        progress = keras.utils.Progbar(batches + 1 if batches >= 0 else None, unit_name="step")
    codes = posterior_draws(vae, data, samples_per_image, seed, progress=progress)
    weights, means, scale_trils = fit_gaussian_mixture(codes, num_components, seed=seed,
                                                       reg_covar=reg_covar)
    if progress is not None:
        progress.add(1)
    prior = GaussianMixturePrior(vae.latent_dim, num_components, name="prior")
    prior.set_parameters(weights, means, scale_trils)
    return prior

