"""The lecture's Gaussian VAE as a Keras model: `train_step` is Algorithm 1."""

import functools
import inspect
import math
import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_cvae import validation
from keras_cvae.models import elbo as elbo_terms
from keras_cvae.models.array_batches import keras_arguments_with_batches
from keras_cvae.models.cross_replica import global_mean
from keras_cvae.models.cross_replica import num_replicas
from keras_cvae.models.cross_replica import reduces_outputs_on_axis_0
from keras_cvae.models.cross_replica import replica_cond
from keras_cvae.models.gaussian_decoder import GaussianDecoder
from keras_cvae.models.gaussian_encoder import GaussianEncoder
from keras_cvae.models.latent_prior import LatentPrior
from keras_cvae.models.latent_prior_fitting import fitted_mixture_prior
from keras_cvae.models.progress_bar import BatchProgbarLogger
from keras_cvae.models.standard_normal_prior import StandardNormalPrior
from keras_cvae.models.image_checks import check_codes
from keras_cvae.models.image_checks import check_images
from keras_cvae.models.image_checks import check_sample_noise
from keras_cvae.models.image_checks import check_training_data
from keras_cvae.utils.dataset_images import first_images
from keras_cvae.utils.finite_weights import check_finite_weights
from keras_cvae.models import interpolation
from keras_cvae.models.importance_weighting import importance_weighted_log_likelihood
from keras_cvae.models.random_seeds import fold_in
from keras_cvae.models.random_seeds import global_batch_noise
from keras_cvae.models.random_seeds import seed_pair
from keras_cvae.zoo import preset_io
from keras_cvae.zoo import preset_lookup


# `prior=` of `sample`, `elbo` and `log_likelihood`: None and "model" mean the model's prior.
PRIOR_CHOICES = (None, "model", "fitted", "standard")
# How many of the first training images start a `data_init` decoder (`VAE.fit`).
DATA_INIT_IMAGES = 1024


@keras.saving.register_keras_serializable(package="keras_cvae")
class VAE(keras.Model):
    """The lecture's Gaussian VAE, trained on the ELBO with `model.fit`.

    Prior `r(z) = N(0, I)`, posterior `q(z|x) = N(f(x), Σ(x))` from a
    `GaussianEncoder`, likelihood `p(x|z) = N(g(z), σ² I)` from a
    `GaussianDecoder`. After training, `fit_prior` may replace the model's
    prior `vae.prior` by a Gaussian mixture fitted to the encoder's codes,
    which `sample`, `elbo` and `log_likelihood` then use (training keeps
    `N(0, I)`). `train_step` is Algorithm 1: draw `ε ~ N(0, I)`, set
    `z = f(x) + Σ^½(x) ε`, and take a gradient step on the batch mean of
    `−log N(x; g(z), σ² I) + β · KL(q(z|x) ‖ N(0, I))` (KL in closed form; with
    a constant σ the first term is `‖x − g(z)‖² / (2σ²)` plus a constant).
    Metrics `loss`, `reconstruction` and `kl` are in nats per example. Images
    are channels-last, `(batch, height, width, channels)`, in [0, 1].

    Args:
        encoder: `keras_cvae.GaussianEncoder`.
        decoder: `keras_cvae.GaussianDecoder`. Its `image_shape` is the
            model's input shape.
        prior: The model's prior `p(z)`: a `keras_cvae.models.StandardNormalPrior`
            or `GaussianMixturePrior` (or its config). Defaults to `None`,
            the standard normal (the lecture's `r(z)`).
        beta: float. Weight of the KL term. Defaults to `1.0` (the ELBO).
        kl_warmup_steps: int. Ramp β linearly from 0 over this many training
            steps. Defaults to `0` (no warm-up).
        free_bits: float. Nats per latent dimension below which the KL is not
            penalised (Kingma et al. 2016; on the batch-averaged KL per
            dimension, or on the total KL over `Z` dimensions for the full
            posterior). Defaults to `0.0`.
        seed: int. Seed of the reparameterisation noise. Defaults to `None`.
        **kwargs: Base `keras.Model` arguments.

    Example:

    >>> conv_net = {"block": "basic", "depth": 1, "channels": 16}
    >>> vae = keras_cvae.VAE(
    ...     keras_cvae.GaussianEncoder(latent_dim=8, conv_net=conv_net),
    ...     keras_cvae.GaussianDecoder(image_shape=(8, 8, 1), conv_net=conv_net))
    >>> vae.compile(optimizer="adam")
    >>> history = vae.fit(np.random.rand(64, 8, 8, 1), batch_size=32, verbose=0)
    >>> vae.sample(4).shape
    TensorShape([4, 8, 8, 1])
    """

    def __init__(
        self,
        encoder,
        decoder,
        prior=None,
        beta=1.0,
        kl_warmup_steps=0,
        free_bits=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.encoder = _as_layer(encoder, GaussianEncoder, "encoder")
        self.decoder = _as_layer(decoder, GaussianDecoder, "decoder")
        if self.encoder.conv_net.rank != self.decoder.conv_net.rank:
            raise ValueError(
                "The encoder and decoder convnets must have the same rank. Received: "
                f"encoder rank={self.encoder.conv_net.rank}, "
                f"decoder rank={self.decoder.conv_net.rank}"
            )
        self.beta = validation.check_non_negative("beta", beta)
        self.kl_warmup_steps = validation.check_int("kl_warmup_steps", kl_warmup_steps, minimum=0)
        self.free_bits = validation.check_non_negative("free_bits", free_bits)
        self.seed = validation.check_seed("seed", seed, optional=True)
        self.image_shape = self.decoder.image_shape
        self.latent_dim = self.encoder.latent_dim
        self.prior = _as_prior(prior, self.latent_dim)
        self.seed_generator = keras.random.SeedGenerator(seed, name="noise_seed")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        # Built from the known image shape: usable (saved, exported, loaded)
        # before it has seen data.
        self.build((None, *self.image_shape))

    def build(self, input_shape):
        # Deserialized sub-layers arrive built.
        if not self.encoder.built:
            self.encoder.build(input_shape)
        if not self.decoder.built:
            self.decoder.build((input_shape[0], self.latent_dim))
        if not self.prior.built:
            self.prior.build((input_shape[0], self.latent_dim))

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    # === Public API ===

    def call(self, images, training=False):
        """Reconstructs `images` from their posterior means: `g(f(x))`.

        `images`, `(B, *image_shape)` in [0, 1], are checked as `encode`
        checks them: eagerly a ValueError naming `images`; in a graph
        (`predict`, an exported SavedModel) an assertion that raises
        `tf.errors.InvalidArgumentError` with the same words when a value is
        not finite or outside [0, 1] (see `keras_cvae.utils.image_validation`).
        """
        images = check_images(images, self.image_shape)
        mean, _ = self.encoder(images, training=training)
        return self.decoder(mean, training=training)[0]

    def encode(self, images):
        """Returns `(z_mean, z_scale_tril)`, shapes `(B, Z)` and `(B, Z, Z)`.

        `z_scale_tril` is `Σ^½`, lower-triangular (diagonal for the diagonal
        posterior). `images`, `(B, *image_shape)` in [0, 1], are checked as
        `fit`'s are (a ValueError naming `images`).
        """
        images = check_images(images, self.image_shape)
        mean, scale = self.encoder(images, training=False)
        if self.encoder.posterior == "diagonal":
            scale = scale[:, :, None] * ops.eye(self.latent_dim, dtype=scale.dtype)
        return mean, scale

    def decode(self, z):
        """Returns `(x_mean, x_scale)`: `g(z)` and `σ(z)` broadcastable to it.

        `z` is a non-empty `(B, Z)` batch of finite codes (a ValueError naming
        `z` otherwise). Every finite code decodes to finite outputs: the
        decoder clips each coordinate to [−1e4, 1e4] first
        (`GaussianDecoder`'s `CODE_LIMIT`), far beyond where the prior and
        the encoder put codes.
        """
        return self.decoder(check_codes(z, self.latent_dim), training=False)

    def reconstruct(self, images):
        """`g(f(x))`: the decoder mean at the posterior mean, for `(B, *image_shape)` images in [0, 1]."""
        return self(check_images(images, self.image_shape), training=False)

    def sample(self, num_samples, seed=None, temperature=1.0, add_noise=False, prior=None):
        """Draws `z ~ p(z)` at temperature `T` and returns `g(z)`, or `g(z) + σ η` with `add_noise`.

        Args:
            num_samples: int. Number of images.
            seed: int. Makes the draw reproducible. Defaults to `None` (the
                model's own seed generator).
            temperature: float. `T`: scales the prior's covariances by `T²`.
                Defaults to `1.0`.
            add_noise: bool. Add the decoder's noise `σ η`, `η ~ N(0, I)`
                (`σ (I + V Vᵀ) η` for a decoder with a `residual_rank`), as in
                the lecture's last line. Defaults to `False`.
            prior: `None` or `"model"` (the model's prior: the fitted mixture
                after `fit_prior`), `"fitted"` (the same, an error without one)
                or `"standard"` (`N(0, I)`). Defaults to `None`.
        """
        num_samples = validation.check_positive_int("num_samples", num_samples)
        temperature = validation.check_temperature(temperature)
        add_noise = validation.check_bool("add_noise", add_noise)
        prior = self._prior(prior)  # checked before the seed generator advances
        seed = self._seed(seed)
        z = prior.sample(num_samples, seed=seed, temperature=temperature)
        mean, scale = self.decoder(z, training=False)
        if not add_noise:
            return mean
        noise = tf.random.stateless_normal((num_samples, *self.image_shape), fold_in(seed, -1))
        return ops.cast(mean, "float32") + ops.cast(scale, "float32") * self.decoder.correlate(noise)

    def sample_from_noise(self, z_noise, pixel_noise=None, temperature=1.0, z_uniform=None,
                          prior=None):
        """`g(z) + σ(z) η` with `z` from the prior given all randomness: what exports compute.

        `z = prior.sample_from_noise(z_noise, z_uniform, temperature)`: for the
        standard normal `T ζ`; for a mixture, the component picked by
        `z_uniform` through the cumulative weights, then `μ_k + T L_k ζ`.

        The inputs are checked before anything runs (a ValueError naming the
        argument; in a graph, an assertion with the same words): finite noise
        of the shapes below with one batch size `B`, temperatures in [0,
        1000], `z_uniform` in [0, 1).

        Args:
            z_noise: `ζ ~ N(0, I)`, `(B, Z)`.
            pixel_noise: `η ~ N(0, I)`, `(B, *image_shape)`; without it the
                decoder mean `g(z)` is returned. Defaults to `None`.
            temperature: A number or a `(B,)` tensor. Defaults to `1.0`.
            z_uniform: `u ~ U[0, 1)`, `(B,)`: the mixture component. Needed
                with a mixture prior. Defaults to `None`.
            prior: As in `sample`. Defaults to `None` (the model's).
        """
        prior = self._prior(prior)
        if z_uniform is None and not isinstance(prior, StandardNormalPrior):
            raise ValueError("Invalid value for argument `z_uniform`. Expected a (batch,) tensor "
                             "of uniform noise to pick the mixture components. Received: None")
        z_noise, pixel_noise, temperature, z_uniform = check_sample_noise(
            z_noise, pixel_noise, temperature, z_uniform, self.latent_dim, self.image_shape)
        z = prior.sample_from_noise(z_noise, z_uniform, temperature=temperature)
        mean, scale = self.decoder(z, training=False)
        if pixel_noise is None:
            return mean
        mean = ops.cast(mean, "float32")
        return mean + ops.cast(scale, "float32") * self.decoder.correlate(pixel_noise)

    def interpolate(self, images_a, images_b, num_steps=8, path="linear"):
        """Decoder means along a path between the posterior means of `images_a` and `images_b`.

        Args:
            images_a, images_b: `(B, *image_shape)` images: `B` pairs.
            num_steps: int. Points on each path, both ends included (at least
                2). Defaults to `8`.
            path: `"linear"` (a straight line between the codes) or
                `"spherical"` (along the great circle, the norm changing
                linearly: a path through the prior's mass). Defaults to
                `"linear"`.

        Returns:
            `(B, num_steps, *image_shape)`: the first and last images decode
            the two posterior means.
        """
        return interpolation.interpolate(self, images_a, images_b, num_steps, path)

    def fit_prior(self, data, num_components=10, samples_per_image=10, seed=0, reg_covar=1e-4,
                  verbose=0):
        """Replaces the model's prior by a Gaussian mixture fitted to its aggregate posterior.

        The lecture trains with `N(0, I)`, but the codes of the training images,
        `q(z) = E_x q(z|x)`, do not fill it: sampling `N(0, I)` decodes codes
        the encoder never produces. After training (and `recalibrate_batchnorm`),
        this draws `samples_per_image` codes `z ~ q(z|x)` per image of `data`
        and fits a `num_components` full-covariance mixture to them
        (`keras_cvae.models.fit_gaussian_mixture`), which becomes `vae.prior`:
        `sample` draws from it, `elbo` and `log_likelihood` use its `log p(z)`,
        and it is saved with the model. Calling it again refits. Training
        afterwards still uses `N(0, I)` (Algorithm 1) and leaves the mixture
        as it is, fitted to the old encoder: refit after training.

        Args:
            data: Training images, an array or a `tf.data.Dataset` of batches.
            num_components: int. `K`. Defaults to `10`.
            samples_per_image: int. Codes drawn per image. Defaults to `10`.
            seed: int. Seeds the draws and the fit. Defaults to `0`.
            reg_covar: float. Added to every covariance's diagonal. Defaults to
                `1e-4`.
            verbose: int. `1` shows a labelled progress bar. Defaults to `0`.

        Returns:
            The new prior, a `keras_cvae.models.GaussianMixturePrior`.

        Example:

        >>> vae = keras_cvae.VAE.from_preset("digits_basic")
        >>> from sklearn.datasets import load_digits
        >>> images = load_digits().images[:500, :, :, None].astype("float32") / 16
        >>> prior = vae.fit_prior(images, num_components=5, samples_per_image=2)
        >>> type(vae.prior).__name__, vae.sample(3, seed=0).shape
        ('GaussianMixturePrior', TensorShape([3, 8, 8, 1]))
        """
        num_components = validation.check_positive_int("num_components", num_components)
        samples_per_image = validation.check_positive_int("samples_per_image", samples_per_image)
        seed = validation.check_seed("seed", seed, seed_range=validation.NUMPY_SEED_RANGE)
        reg_covar = validation.check_non_negative("reg_covar", reg_covar)
        prior = fitted_mixture_prior(self, data, num_components, samples_per_image, seed, reg_covar,
                                     verbose)
        previously_locked = self._tracker.locked
        self._tracker.unlock()  # the model is built: replace the prior layer in place
        try:
            self._tracker.untrack(self.prior)
            self.prior = prior
        finally:
            if previously_locked:
                self._tracker.lock()
        return prior

    def elbo(self, images, seed=None, prior=None):
        """One-sample ELBO per example: `{"elbo", "reconstruction", "kl"}`, nats.

        The KL term is in closed form under `N(0, I)`, and a one-sample Monte
        Carlo estimate `log q(z|x) − log p(z)` under a fitted mixture.
        `prior` is as in `sample` (default: the model's). `images`,
        `(B, *image_shape)` in [0, 1], are checked as `fit`'s are.
        """
        images = check_images(images, self.image_shape)
        prior = self._prior(prior)  # checked before the seed generator advances
        noise = self._noise(ops.shape(images)[0], seed)
        terms = self._terms(images, noise, training=False, prior=prior)
        return {
            "elbo": -(terms["reconstruction"] + terms["kl"]),
            "reconstruction": terms["reconstruction"],
            "kl": terms["kl"],
        }

    def log_likelihood(self, images, num_samples=1000, seed=None, chunk_size=None, prior=None):
        """Importance-weighted estimate of `log p(x)` per example, nats.

        `log (1/K) Σ_k p(z_k) p(x|z_k) / q(z_k|x)` with `z_k ~ q(z|x)` (Burda et
        al. 2016): a lower bound that tightens as `K` grows and equals the
        ELBO in expectation for `K = 1`. The `K` samples are decoded
        `chunk_size` at a time, so memory does not grow with `K`.

        Args:
            images: `(B, *image_shape)` images in [0, 1], checked as `fit`'s are.
            num_samples: int. `K`. Defaults to `1000`.
            seed: int. Makes the estimate reproducible. Defaults to `None`.
            chunk_size: int. Samples decoded at once. Defaults to about
                4096 images per chunk.
            prior: As in `sample`: whose `log p(z)`. Defaults to `None` (the
                model's).
        """
        num_samples = validation.check_positive_int("num_samples", num_samples)
        chunk_size = validation.check_optional_int("chunk_size", chunk_size, minimum=1)
        images = check_images(images, self.image_shape)
        priors = [self._prior(prior)]  # checked before the seed generator advances
        return importance_weighted_log_likelihood(self, images, num_samples, self._seed(seed),
                                                  chunk_size, priors=priors)[0]

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None,
               **kwargs):
        """Exports the model for inference, every signature: Keras's `Model.export`.

        Unlike Keras's own export (only `serve`, the reconstruction), the
        artifact has the four signatures of `keras_cvae.export`: `encode`,
        `decode`, `reconstruct` and `sample` (see `export/README.md`).

        - `"tf_saved_model"`: a SavedModel at `filepath`; `serving_default` and
          Keras's `serve` are `reconstruct`.
        - `"litert"`: one `.tflite` file with the four signatures, TFLite builtin
          ops only. Options: `quantization`, `representative_data`,
          `num_calibration_samples`.
        - `"onnx"`: a folder, one `<signature>.onnx` per signature. Option:
          `opset_version`.

        Any other format or option raises a `ValueError`. An existing file or
        folder at `filepath` is refused (a `FileExistsError`) unless
        `overwrite=True`, and a model whose weights are not all finite is
        refused before anything is written. See
        `keras_cvae.export.export_for_keras`.

        Returns:
            The absolute path of the artifact.
        """
        from keras_cvae.export.keras_export import export_for_keras  # export sits above models

        return export_for_keras(self, filepath, format=format, verbose=verbose,
                                input_signature=input_signature, **kwargs)

    # === Training ===

    def compile(self, optimizer="adam", *args, **kwargs):
        """Keras's `compile`, with Adam (learning rate 1e-3) as the default optimizer.

        The loss is the model's own (the negative ELBO): pass none.
        """
        super().compile(optimizer, *args, **kwargs)

    def compile_from_config(self, config):
        """Keras's: this `compile` only changes a default, so a saved compile config applies."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def fit(self, x=None, y=None, *args, **kwargs):
        """Keras's `fit`, after checking its arguments; stops at a NaN or infinite loss, with a warning.

        Every batch is checked in the graph, at no host round trip: a batch
        whose loss is NaN or infinite (a NaN or infinite image, an overflow)
        changes no weight. Its optimizer step is skipped and BatchNorm's
        moving statistics, updated by its forward pass, are put back; `fit`
        then stops at that batch (`keras.callbacks.TerminateOnNaN`) with a
        `RuntimeWarning`, and the model keeps the weights of the last batch
        with a finite loss.

        The images `x` (and those of `validation_data`) are checked as
        `keras_cvae.datasets.validate_images` does (a dataset on its element
        spec and first batch), and the numbers (`batch_size`, `epochs`, ...)
        as integers or rates in range: a ValueError names the argument.

        Arrays are cut into the batches Keras would cut (`batch_size`,
        `shuffle`, `validation_split` from the last images) by
        `array_batches`, whose pipeline shuts down at once when training
        ends. `sample_weight` (one weight ≥ 0 per image) weighs each image's
        loss: `Σ w_i · loss_i / B` per batch, as Keras weighs losses.

        A decoder built with `data_init=True` (the default) that has not been
        initialised yet starts, before the first step, at the pixel means and
        standard deviations of the first 1024 images of `x`
        (`GaussianDecoder.initialize_from_data`; an array's first rows, a
        dataset's first batches). A generator or `PyDataset` gives no images
        to start from: the decoder then starts at zero offsets. Under a
        multi-worker strategy every worker must read the same first batches,
        as `keras_cvae.training`'s data does.
        """
        given = _check_keras_arguments(keras.Model.fit, self, x, y, *args, **kwargs)
        check_training_data(x, self.image_shape)
        validation_data = given.get("validation_data")
        if isinstance(validation_data, (tuple, list)) and validation_data:
            validation_data = validation_data[0]
        check_training_data(validation_data, self.image_shape, name="validation_data")
        self._initialize_decoder(x)
        if not given:  # arguments that do not fit `fit`'s signature: Keras says so
            return super().fit(x, y, *args, **kwargs)
        callbacks = [*(given.get("callbacks") or []), keras.callbacks.TerminateOnNaN()]
        if not any(isinstance(callback, keras.callbacks.ProgbarLogger) for callback in callbacks):
            callbacks.append(BatchProgbarLogger())  # counts batches, ends at its total
        arguments = keras_arguments_with_batches("fit", given)
        if isinstance(arguments["x"], tf.data.Dataset):
            # Keras 3.15 warns that its own default `shuffle=True` is ignored for a dataset.
            arguments.setdefault("shuffle", False)
        history = super().fit(**{**arguments, "callbacks": callbacks})
        _warn_if_diverged(history)
        return history

    def _initialize_decoder(self, x):
        """A `data_init` decoder, untrained, starts at the statistics of `x`'s first images."""
        decoder = self.decoder
        if not decoder.data_init or (decoder.built and float(decoder.data_initialized.numpy())):
            return
        images = first_images(x, DATA_INIT_IMAGES)
        if images is not None:  # a NaN image must not spoil the start: `train_step` skips it
            images = images[np.isfinite(images).reshape(len(images), -1).all(axis=1)]
        if images is not None and len(images) >= 2:
            if not decoder.built:
                decoder.build((None, self.latent_dim))
            decoder.initialize_from_data(images)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """Keras's `evaluate`, after checking the images `x` and the numbers as `fit` does."""
        if kwargs.get("_use_cached_eval_dataset"):  # `fit`'s validation: checked there
            return super().evaluate(x, y, *args, **kwargs)
        given = _check_keras_arguments(keras.Model.evaluate, self, x, y, *args, **kwargs)
        check_training_data(x, self.image_shape)
        if not given:
            return super().evaluate(x, y, *args, **kwargs)
        return super().evaluate(**keras_arguments_with_batches("evaluate", given))

    def predict(self, x, *args, **kwargs):
        """Keras's `predict` (the reconstructions `g(f(x))`), after checking `x` as `fit` does."""
        given = _check_keras_arguments(keras.Model.predict, self, x, *args, **kwargs)
        check_training_data(x, self.image_shape)
        if not given:
            return super().predict(x, *args, **kwargs)
        return super().predict(**keras_arguments_with_batches("predict", given))

    def train_step(self, data):
        images, sample_weight = _images_and_weights(data)
        # BatchNorm's moving statistics change in the forward pass: kept to undo it.
        statistics = _statistics(self)
        kept = [tf.identity(variable.value) for variable in statistics]
        with tf.GradientTape() as tape:
            terms = self._terms(images, self._noise(ops.shape(images)[0]), training=True)
            loss = self._objective(terms, training=True, sample_weight=sample_weight)
            if self.losses:
                loss = loss + ops.sum(self.losses)
            # `loss` is the global batch's, the same on every replica (`global_mean`),
            # and Keras sums the replicas' gradients: divide by the replica count.
            scaled_loss = self.optimizer.scale_loss(loss / num_replicas())
        gradients = tape.gradient(scaled_loss, self.trainable_weights)
        # A batch with a non-finite loss changes nothing (checked in the graph:
        # the loss is the global batch's, the same on every replica).
        replica_cond(
            ops.isfinite(loss),
            lambda gradients, kept: self.optimizer.apply(gradients, self.trainable_weights),
            lambda gradients, kept: _restore(statistics, kept),
            args=(gradients, kept),
        )
        return self._update_metrics(loss, terms, sample_weight)

    def test_step(self, data):
        images, sample_weight = _images_and_weights(data)
        terms = self._terms(images, self._noise(ops.shape(images)[0]), training=False)
        loss = self._objective(terms, training=False, sample_weight=sample_weight)
        return self._update_metrics(loss, terms, sample_weight)

    # === Internals ===

    def _terms(self, images, noise, training, prior=None):
        """Per-example reconstruction NLL and KL (nats) for given noise `ε`.

        The KL to `N(0, I)` in closed form (training, and `prior=None`), or
        against another prior by one Monte Carlo sample.
        """
        z, mean, scale = self._posterior_sample(images, noise, training)
        x_mean, x_scale = self.decoder(z, training=training)
        reconstruction = self.decoder.negative_log_likelihood(images, x_mean, x_scale)
        if prior is not None and not isinstance(prior, StandardNormalPrior):
            diagonal = self.encoder.posterior == "diagonal"
            log_q = elbo_terms.standard_normal_log_prob(noise) - elbo_terms.log_det(scale, diagonal)
            return {"reconstruction": reconstruction, "kl": log_q - prior.log_prob(z),
                    "kl_dims": None}
        if self.encoder.posterior == "diagonal":
            kl_dims = elbo_terms.kl_diagonal(mean, scale)
            kl = ops.sum(kl_dims, axis=1)
        else:
            kl_dims, kl = None, elbo_terms.kl_full(mean, scale)
        return {"reconstruction": reconstruction, "kl": kl, "kl_dims": kl_dims}

    def _posterior_sample(self, images, noise, training):
        """`(z, mean, Σ^½)` with `z = f(x) + Σ^½(x) ε` for given noise `ε` `(B, Z)`."""
        mean, scale = self.encoder(images, training=training)
        z = mean + elbo_terms.scale_noise(scale, noise, self.encoder.posterior == "diagonal")
        return z, mean, scale

    def _objective(self, terms, training, sample_weight=None):
        """Batch mean of `reconstruction + β · KL`, with warm-up and free bits in training.

        The means are over the global batch (`global_mean`), so under a
        strategy every replica gets the single-device value, free bits included.
        With `sample_weight` `(B,)`, each example's terms are weighted first:
        `Σ w_i · loss_i / B`, as Keras's losses reduce weighted examples.
        """
        free_bits = training and self.free_bits > 0
        per_dim = free_bits and terms["kl_dims"] is not None
        reconstruction, kl = terms["reconstruction"], terms["kl_dims"] if per_dim else terms["kl"]
        if sample_weight is not None:
            weights = _example_weights(sample_weight)
            reconstruction = reconstruction * weights
            kl = kl * (weights[:, None] if per_dim else weights)
        reconstruction, kl = global_mean([reconstruction, kl])
        if per_dim:
            kl_penalty = ops.sum(ops.maximum(kl, self.free_bits))
        elif free_bits:
            kl_penalty = ops.maximum(kl, self.free_bits * self.latent_dim)
        else:
            kl_penalty = kl
        beta = self.beta
        if training and self.kl_warmup_steps:
            progress = ops.cast(self.optimizer.iterations + 1, "float32") / self.kl_warmup_steps
            beta = beta * ops.minimum(progress, 1.0)
        return reconstruction + beta * kl_penalty

    def _update_metrics(self, loss, terms, sample_weight=None):
        batch = ops.cast(ops.shape(terms["kl"])[0], "float32")
        weights = None if sample_weight is None else _example_weights(sample_weight)
        self.loss_tracker.update_state(loss, sample_weight=batch)
        self.reconstruction_tracker.update_state(terms["reconstruction"], sample_weight=weights)
        self.kl_tracker.update_state(terms["kl"], sample_weight=weights)
        results = {m.name: m.result() for m in self.metrics}
        if reduces_outputs_on_axis_0():
            results = {name: ops.reshape(value, (1,)) for name, value in results.items()}
        return results

    def _prior(self, prior):
        """The prior that `prior` (`None`, `"model"`, `"fitted"`, `"standard"`) names."""
        validation.check_choice("prior", prior, PRIOR_CHOICES)
        if prior == "standard":
            return _standard_prior(self.latent_dim)
        if prior == "fitted" and isinstance(self.prior, StandardNormalPrior):
            raise ValueError(
                "Invalid value for argument `prior`. This model has no fitted prior (call "
                "`vae.fit_prior(train_images)` first). Received: prior='fitted'"
            )
        return self.prior

    def _seed(self, seed, per_replica=True):
        return seed_pair(seed, self.seed_generator, per_replica)

    def _noise(self, batch, seed=None):
        """`ε ~ N(0, I)` `(batch, Z)`, this replica's rows of one draw for the global batch."""
        return global_batch_noise(batch, self.latent_dim, self._seed(seed, per_replica=False))

    def save(self, filepath, *args, **kwargs):
        """Keras's `save`; a `ValueError` naming the first NaN or infinite weight, before writing.

        A model whose weights are not all finite (a run that diverged) is
        refused (`keras_cvae.utils.finite_weights`), and an existing file at
        `filepath` is left as it is.
        """
        check_finite_weights(self, f"Refusing to save the model to {filepath}")
        return super().save(filepath, *args, **kwargs)

    # === Presets (keras_cvae.zoo: below the models, it never imports them) ===

    @classmethod
    def from_preset(cls, preset, load_weights=True):
        """A VAE from a registered preset name or a preset folder.

        `keras_cvae.list_presets()` lists the zoo. The architecture is the
        preset's `config.json`; the weights are checked against the SHA-256 in
        its `metadata.json` before loading.

        Args:
            preset: str. A registered name or a folder written by `save_to_preset`.
            load_weights: bool. Load the pretrained weights; `False` gives the
                architecture, freshly initialised. Defaults to `True`.

        Example:

        >>> vae = keras_cvae.VAE.from_preset("digits_basic")
        >>> vae.sample(16, seed=0).shape
        TensorShape([16, 8, 8, 1])
        """
        return preset_io.load_preset(cls, preset, load_weights=load_weights)

    def save_to_preset(self, directory, metadata=None, overwrite=False, include_weights=True):
        """Writes `config.json`, `model.weights.h5` and `metadata.json` to `directory`, atomically.

        Args:
            directory: str. The preset folder to create.
            metadata: dict. Extra fields for `metadata.json` (dataset, metrics,
                training). Defaults to `None`.
            overwrite: bool. Replace an existing `directory`, if it holds only
                files `save_to_preset` wrote, unchanged (their SHA-256 is in its
                `metadata.json`); anything else is refused, naming it.
                Defaults to `False`.
            include_weights: bool. `False` writes an architecture-only preset.
                Defaults to `True`. Weights that are not all finite are
                refused, naming the first such variable, before anything is
                written.

        Returns:
            The `metadata.json` contents, as a dict.
        """
        return preset_io.save_to_preset(self, directory, metadata=metadata, overwrite=overwrite,
                                        include_weights=include_weights)

    # === Config ===

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "prior": keras.saving.serialize_keras_object(self.prior),
            "beta": self.beta,
            "kl_warmup_steps": self.kl_warmup_steps,
            "free_bits": self.free_bits,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _Presets:
    """`VAE.presets`: the zoo's listing, read on access."""

    def __get__(self, instance, owner):
        return preset_lookup.list_presets()


VAE.presets = _Presets()


def _as_prior(prior, latent_dim):
    if prior is None:
        return StandardNormalPrior(latent_dim, name="prior")
    prior = _as_layer(prior, LatentPrior, "prior")
    if prior.latent_dim != latent_dim:
        raise ValueError(
            f"The prior's latent_dim must be the encoder's ({latent_dim}). "
            f"Received: prior.latent_dim={prior.latent_dim}"
        )
    return prior


@functools.lru_cache(maxsize=None)
def _standard_prior(latent_dim):
    """`N(0, I)` for `prior="standard"` (weightless, shared, never part of a model)."""
    return StandardNormalPrior(latent_dim, name="standard_prior")


def _as_layer(value, cls, argument):
    if isinstance(value, dict):
        value = keras.saving.deserialize_keras_object(value)
    if not isinstance(value, cls):
        raise ValueError(
            f"Invalid value for argument `{argument}`. Expected a `keras_cvae.{cls.__name__}`. "
            f"Received: {argument}={value!r}"
        )
    return value


# Keras's numeric arguments of `fit` and `evaluate`: (check, arguments after the name).
_KERAS_NUMBERS = {
    "batch_size": (validation.check_optional_int, {"minimum": 1}),
    "epochs": (validation.check_int, {"minimum": 1}),
    "initial_epoch": (validation.check_int, {"minimum": 0}),
    "steps_per_epoch": (validation.check_optional_int, {"minimum": 1}),
    "validation_steps": (validation.check_optional_int, {"minimum": 1}),
    "validation_batch_size": (validation.check_optional_int, {"minimum": 1}),
    "validation_freq": (validation.check_int, {"minimum": 1}),
    "validation_split": (validation.check_number,
                         {"minimum": 0, "maximum": 1, "maximum_inclusive": False}),
    "steps": (validation.check_optional_int, {"minimum": 1}),
}


def _images_and_weights(data):
    """`(images, sample_weight or None)` of one element of Keras's data: images or a tuple."""
    if isinstance(data, (tuple, list)):
        images, _, sample_weight = keras.utils.unpack_x_y_sample_weight(tuple(data))
        return images, sample_weight
    return data, None


def _statistics(model):
    """The float variables that training changes outside the optimizer: BatchNorm's moving statistics."""
    return [v for v in model.non_trainable_variables if v.dtype.startswith("float")]


def _restore(variables, values):
    for variable, value in zip(variables, values):
        variable.assign(value)


def _example_weights(sample_weight):
    """A batch's sample weights, `(B,)` or `(B, 1)`, as float32 `(B,)`."""
    return ops.reshape(ops.cast(sample_weight, "float32"), (-1,))


def _check_keras_arguments(method, *args, **kwargs):
    """Checks the numbers among the arguments of Keras's `method` (`fit`, `evaluate`).

    Returns:
        dict. The arguments as given, by name, without `self` (empty if they
        do not fit the signature: Keras then reports that itself).
    """
    signature = inspect.signature(method)
    try:
        given = dict(signature.bind_partial(*args, **kwargs).arguments)
    except TypeError:
        return {}
    given.pop("self", None)
    for parameter in signature.parameters.values():  # `**kwargs` by name, as given
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            given.update(given.pop(parameter.name, {}))
    for name, value in given.items():
        if name in _KERAS_NUMBERS:
            check, bounds = _KERAS_NUMBERS[name]
            check(name, value, **bounds)
    verbose = given.get("verbose", "auto")
    validation.check_choice("verbose", verbose, ("auto", 0, 1, 2))
    return given


def _warn_if_diverged(history):
    """Says why `fit` stopped early when `TerminateOnNaN` ended it at a NaN or infinite loss."""
    losses = (history.history if history else {}).get("loss") or []
    stopped = getattr(history.model, "stop_training", False) if history else False
    if stopped and losses and not math.isfinite(losses[-1]):
        warnings.warn(
            f"Training stopped in epoch {len(losses)}: the loss is {losses[-1]}. The batch with "
            "the non-finite loss changed no weight: the model has the weights of the last batch "
            "with a finite loss. Check that the images are in [0, 1] and finite, and try a lower "
            "learning rate.",
            RuntimeWarning,
            stacklevel=3,
        )
