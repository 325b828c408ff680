"""The importance-weighted estimate of `log p(x)` (Burda et al. 2016), decoded in chunks."""

import math

import tensorflow as tf
from keras import ops

from keras_cvae.models import elbo as elbo_terms
from keras_cvae.models.random_seeds import fold_in

# Decoded images per chunk (bounds memory).
IMAGES_PER_CHUNK = 4096


def importance_weighted_log_likelihood(vae, images, num_samples, seed, chunk_size=None,
                                       priors=None):
    """`log (1/K) Σ_k p(x, z_k) / q(z_k|x)` per example, nats, with `z_k ~ q(z|x)`.

    A lower bound on `log p(x)` that tightens as `K` grows and equals the
    ELBO in expectation for `K = 1`. The `K` samples are decoded `chunk_size`
    at a time, so memory does not grow with `K`. `vae.log_likelihood` is the
    public entry point.

    Args:
        vae: `keras_cvae.VAE`.
        images: `(B, *image_shape)` tensor.
        num_samples: int. `K`.
        seed: A stateless seed pair.
        chunk_size: int. Samples decoded at once. Defaults to about
            `IMAGES_PER_CHUNK` images per chunk.
        priors: list. The priors whose `log_prob` gives `log p(z)`: one
            estimate each from the same samples. Defaults to `[vae.prior]`.

    Returns:
        `(len(priors), B)`: one row of estimates per prior.
    """
    priors = [vae.prior] if priors is None else list(priors)
    images = ops.convert_to_tensor(images)
    batch = images.shape[0] or 64
    chunk = chunk_size or max(1, min(num_samples, IMAGES_PER_CHUNK // batch))
    num_chunks = -(-num_samples // chunk)
    diagonal = vae.encoder.posterior == "diagonal"
    mean, scale = vae.encoder(images, training=False)
    tiled = ops.tile(images, [chunk] + [1] * len(vae.image_shape))
    log_det = ops.tile(elbo_terms.log_det(scale, diagonal), [chunk])

    def chunk_log_weights(index):
        eps = tf.random.stateless_normal((chunk, ops.shape(images)[0], vae.latent_dim),
                                         fold_in(seed, index))
        z = mean[None] + elbo_terms.scale_noise(scale[None], eps, diagonal)
        z_flat = ops.reshape(z, (-1, vae.latent_dim))
        x_mean, x_scale = vae.decoder(z_flat, training=False)
        log_px_z = -vae.decoder.negative_log_likelihood(tiled, x_mean, x_scale)
        log_qz = elbo_terms.standard_normal_log_prob(ops.reshape(eps, (-1, vae.latent_dim))) - log_det
        log_weights = [log_px_z + prior.log_prob(z_flat) - log_qz for prior in priors]
        return ops.reshape(ops.stack(log_weights), (len(priors), chunk, -1))

    log_weights = tf.map_fn(chunk_log_weights, tf.range(num_chunks),
                            fn_output_signature=tf.float32, parallel_iterations=1)
    # (chunks, priors, chunk, B) -> (priors, K, B)
    log_weights = ops.reshape(ops.transpose(log_weights, (1, 0, 2, 3)),
                              (len(priors), num_chunks * chunk, -1))[:, :num_samples]
    return ops.logsumexp(log_weights, axis=1) - math.log(num_samples)
