import math
import warnings

import keras
import tensorflow as tf
from keras import ops

from keras_cvae.models import elbo as elbo_terms
from keras_cvae.models.gaussian_decoder import GaussianDecoder
from keras_cvae.models.gaussian_encoder import GaussianEncoder
from keras_cvae.models.image_checks import check_training_data

# Decoded images per chunk of the importance-weighted estimate (bounds memory).
_IMAGES_PER_CHUNK = 4096


@keras.saving.register_keras_serializable(package="keras_cvae")
class VAE(keras.Model):
    """The lecture's Gaussian VAE, trained on the ELBO with `model.fit`.

    Prior `r(z) = N(0, I)`, posterior `q(z|x) = N(f(x), Σ(x))` from a
    `GaussianEncoder`, likelihood `p(x|z) = N(g(z), σ² I)` from a
    `GaussianDecoder`. `train_step` is Algorithm 1: draw `ε ~ N(0, I)`, set
    `z = f(x) + Σ^½(x) ε`, and take a gradient step on the batch mean of
    `−log N(x; g(z), σ² I) + β · KL(q(z|x) ‖ N(0, I))` (KL in closed form; with
    a constant σ the first term is `‖x − g(z)‖² / (2σ²)` plus a constant).
    Metrics `loss`, `reconstruction` and `kl` are in nats per example. Images
    are channels-last, `(batch, height, width, channels)`, in [0, 1].

    Args:
        encoder: `keras_cvae.GaussianEncoder`.
        decoder: `keras_cvae.GaussianDecoder`. Its `image_shape` is the
            model's input shape.
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
        for name, value in (("beta", beta), ("free_bits", free_bits)):
            if not isinstance(value, (int, float)) or value < 0:
                raise ValueError(
                    f"Invalid value for argument `{name}`. Expected a non-negative number. "
                    f"Received: {name}={value!r}"
                )
        if not isinstance(kl_warmup_steps, int) or kl_warmup_steps < 0:
            raise ValueError(
                "Invalid value for argument `kl_warmup_steps`. Expected a non-negative "
                f"integer. Received: kl_warmup_steps={kl_warmup_steps!r}"
            )
        self.beta = float(beta)
        self.kl_warmup_steps = kl_warmup_steps
        self.free_bits = float(free_bits)
        self.seed = seed
        self.image_shape = self.decoder.image_shape
        self.latent_dim = self.encoder.latent_dim
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

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    # === Public API ===

    def call(self, images, training=False):
        """Reconstructs `images` from their posterior means: `g(f(x))`."""
        mean, _ = self.encoder(images, training=training)
        return self.decoder(mean, training=training)[0]

    def encode(self, images):
        """Returns `(z_mean, z_scale_tril)`, shapes `(B, Z)` and `(B, Z, Z)`.

        `z_scale_tril` is `Σ^½`, lower-triangular (diagonal for the diagonal
        posterior).
        """
        mean, scale = self.encoder(images, training=False)
        if self.encoder.posterior == "diagonal":
            scale = scale[:, :, None] * ops.eye(self.latent_dim, dtype=scale.dtype)
        return mean, scale

    def decode(self, z):
        """Returns `(x_mean, x_scale)`: `g(z)` and `σ(z)` broadcastable to it."""
        return self.decoder(z, training=False)

    def reconstruct(self, images):
        """`g(f(x))`: the decoder mean at the posterior mean."""
        return self(images, training=False)

    def sample(self, num_samples, seed=None, temperature=1.0, add_noise=False):
        """Draws `z ~ N(0, T² I)` and returns `g(z)`, or `g(z) + σ η` with `add_noise`.

        Args:
            num_samples: int. Number of images.
            seed: int. Makes the draw reproducible. Defaults to `None` (the
                model's own seed generator).
            temperature: float. `T`, the prior's scale. Defaults to `1.0`.
            add_noise: bool. Add the decoder's noise `σ η`, `η ~ N(0, I)`, as in
                the lecture's last line. Defaults to `False`.
        """
        seed = self._seed(seed)
        z = temperature * tf.random.stateless_normal((num_samples, self.latent_dim), seed)
        mean, scale = self.decode(z)
        if not add_noise:
            return mean
        noise = tf.random.stateless_normal(ops.shape(mean), _fold_in(seed, -1))
        return mean + ops.cast(scale, mean.dtype) * ops.cast(noise, mean.dtype)

    def elbo(self, images, seed=None):
        """One-sample ELBO per example: `{"elbo", "reconstruction", "kl"}`, nats."""
        images = ops.convert_to_tensor(images)
        noise = self._noise(ops.shape(images)[0], seed)
        terms = self._terms(images, noise, training=False)
        return {
            "elbo": -(terms["reconstruction"] + terms["kl"]),
            "reconstruction": terms["reconstruction"],
            "kl": terms["kl"],
        }

    def log_likelihood(self, images, num_samples=1000, seed=None, chunk_size=None):
        """Importance-weighted estimate of `log p(x)` per example, nats.

        `log (1/K) Σ_k p(x, z_k) / q(z_k|x)` with `z_k ~ q(z|x)` (Burda et al.
        2016): a lower bound that tightens as `K` grows and equals the ELBO
        in expectation for `K = 1`. The `K` samples are decoded `chunk_size`
        at a time, so memory does not grow with `K`.

        Args:
            images: `(B, *image_shape)` tensor.
            num_samples: int. `K`. Defaults to `1000`.
            seed: int. Makes the estimate reproducible. Defaults to `None`.
            chunk_size: int. Samples decoded at once. Defaults to about
                4096 images per chunk.
        """
        images = ops.convert_to_tensor(images)
        batch = images.shape[0] or 64
        chunk = chunk_size or max(1, min(num_samples, _IMAGES_PER_CHUNK // batch))
        num_chunks = -(-num_samples // chunk)
        mean, scale = self.encoder(images, training=False)
        seed = self._seed(seed)
        repeat = [chunk] + [1] * len(self.image_shape)
        tiled = ops.tile(images, repeat)

        def chunk_log_weights(index):
            shape = (chunk, ops.shape(images)[0], self.latent_dim)
            eps = tf.random.stateless_normal(shape, _fold_in(seed, index))
            z = mean[None] + self._scale_noise(scale[None], eps)
            z_flat = ops.reshape(z, (-1, self.latent_dim))
            x_mean, x_scale = self.decoder(z_flat, training=False)
            log_px_z = -elbo_terms.gaussian_nll(tiled, x_mean, x_scale)
            log_pz = elbo_terms.standard_normal_log_prob(z_flat)
            log_qz = elbo_terms.standard_normal_log_prob(ops.reshape(eps, (-1, self.latent_dim)))
            log_qz = log_qz - ops.tile(self._log_det(scale), [chunk])
            return ops.reshape(log_px_z + log_pz - log_qz, (chunk, -1))

        log_weights = tf.map_fn(
            chunk_log_weights,
            tf.range(num_chunks),
            fn_output_signature=tf.float32,
            parallel_iterations=1,
        )
        log_weights = ops.reshape(log_weights, (num_chunks * chunk, -1))[:num_samples]
        return ops.logsumexp(log_weights, axis=0) - math.log(num_samples)

    # === Training ===

    def fit(self, x=None, y=None, *args, **kwargs):
        check_training_data(x, self.image_shape)
        callbacks = list(kwargs.pop("callbacks", None) or [])
        callbacks.append(_StopOnNonFiniteLoss())
        return super().fit(x, y, *args, callbacks=callbacks, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        check_training_data(x, self.image_shape)
        return super().evaluate(x, y, *args, **kwargs)

    def train_step(self, data):
        images = _images(data)
        with tf.GradientTape() as tape:
            terms = self._terms(images, self._noise(ops.shape(images)[0]), training=True)
            loss = self._objective(terms, training=True)
            if self.losses:
                loss = loss + ops.sum(self.losses)
            # `loss` is the global batch's, the same on every replica (`_global_mean`),
            # and Keras sums the replicas' gradients: divide by the replica count.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled_loss = self.optimizer.scale_loss(loss / replicas)
        gradients = tape.gradient(scaled_loss, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self._update_metrics(loss, terms)

    def test_step(self, data):
        images = _images(data)
        terms = self._terms(images, self._noise(ops.shape(images)[0]), training=False)
        return self._update_metrics(self._objective(terms, training=False), terms)

    # === Internals ===

    def _terms(self, images, noise, training):
        """Per-example reconstruction NLL and KL (nats) for given noise `ε`."""
        mean, scale = self.encoder(images, training=training)
        z = mean + self._scale_noise(scale, noise)
        x_mean, x_scale = self.decoder(z, training=training)
        reconstruction = elbo_terms.gaussian_nll(images, x_mean, x_scale)
        if self.encoder.posterior == "diagonal":
            kl_dims = elbo_terms.kl_diagonal(mean, scale)
            kl = ops.sum(kl_dims, axis=1)
        else:
            kl_dims, kl = None, elbo_terms.kl_full(mean, scale)
        return {"reconstruction": reconstruction, "kl": kl, "kl_dims": kl_dims}

    def _objective(self, terms, training):
        """Batch mean of `reconstruction + β · KL`, with warm-up and free bits in training.

        The means are over the global batch (`_global_mean`), so under a
        strategy every replica gets the single-device value, free bits included.
        """
        free_bits = training and self.free_bits > 0
        per_dim = free_bits and terms["kl_dims"] is not None
        reconstruction, kl = _global_mean(
            [terms["reconstruction"], terms["kl_dims"] if per_dim else terms["kl"]]
        )
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

    def _update_metrics(self, loss, terms):
        batch = ops.cast(ops.shape(terms["kl"])[0], "float32")
        self.loss_tracker.update_state(loss, sample_weight=batch)
        self.reconstruction_tracker.update_state(terms["reconstruction"])
        self.kl_tracker.update_state(terms["kl"])
        results = {m.name: m.result() for m in self.metrics}
        if _reduces_outputs_on_axis_0():
            results = {name: ops.reshape(value, (1,)) for name, value in results.items()}
        return results

    def _scale_noise(self, scale, noise):
        """`Σ^½ ε`: elementwise for a diagonal scale, a matrix product for `L`."""
        if self.encoder.posterior == "diagonal":
            return scale * noise
        return ops.einsum("...ij,...j->...i", scale, noise)

    def _log_det(self, scale):
        """`log |Σ^½|` per example."""
        if self.encoder.posterior == "diagonal":
            return ops.sum(ops.log(scale), axis=-1)
        return ops.sum(ops.log(ops.diagonal(scale, axis1=-2, axis2=-1)), axis=-1)

    def _seed(self, seed, per_replica=True):
        """A stateless seed pair, distinct per replica under a strategy if `per_replica`."""
        if seed is None:
            seed = self.seed_generator.next()
        elif isinstance(seed, int):
            seed = ops.convert_to_tensor([seed, 0], dtype="int64")
        else:  # a seed pair, e.g. from `tf.random.experimental.stateless_fold_in`
            seed = ops.convert_to_tensor(seed)
        seed = ops.cast(seed, "int64")
        context = tf.distribute.get_replica_context()
        if per_replica and context is not None and context.num_replicas_in_sync > 1:
            seed = _fold_in(seed, context.replica_id_in_sync_group)
        return seed

    def _noise(self, batch, seed=None):
        """`ε ~ N(0, I)` of shape `(batch, Z)`.

        Under a strategy, each replica takes its own rows of one draw for the
        global batch: replicas get independent noise, and every example gets
        the ε it would get on one device, however the batch is split.
        """
        seed = self._seed(seed, per_replica=False)
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return tf.random.stateless_normal((batch, self.latent_dim), seed)
        replicas, replica = context.num_replicas_in_sync, context.replica_id_in_sync_group
        if isinstance(batch, int):  # static shapes (TPU, `drop_remainder`): equal splits
            total, offset = replicas * batch, replica * batch
        else:  # the replicas' batch sizes, e.g. a split last batch
            sizes = ops.one_hot(replica, replicas, dtype="float32") * ops.cast(batch, "float32")
            sizes = ops.cast(context.all_reduce(tf.distribute.ReduceOp.SUM, sizes), "int32")
            total, offset = ops.sum(sizes), ops.sum(sizes[:replica])
        noise = tf.random.stateless_normal((total, self.latent_dim), seed)
        return tf.slice(noise, [offset, 0], [batch, self.latent_dim])

    # === Presets (keras_cvae.zoo, imported lazily: the models never import the zoo) ===

    @classmethod
    def from_preset(cls, preset, load_weights=True):
        """A VAE from a registered preset name or a preset folder.

        See `keras_cvae.zoo.from_preset`; `keras_cvae.list_presets()` lists the zoo.
        """
        from keras_cvae.zoo import from_preset

        return from_preset(preset, load_weights=load_weights)

    def save_to_preset(self, directory, metadata=None, overwrite=False):
        """Writes `config.json`, `model.weights.h5` and `metadata.json` to `directory`.

        See `keras_cvae.zoo.save_to_preset`.
        """
        from keras_cvae.zoo import save_to_preset

        return save_to_preset(self, directory, metadata=metadata, overwrite=overwrite)

    # === Config ===

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "beta": self.beta,
            "kl_warmup_steps": self.kl_warmup_steps,
            "free_bits": self.free_bits,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _Presets:
    """`VAE.presets`: the zoo's listing, read from `keras_cvae.zoo` on access."""

    def __get__(self, instance, owner):
        from keras_cvae.zoo import list_presets

        return list_presets()


VAE.presets = _Presets()


def _as_layer(value, cls, argument):
    if isinstance(value, dict):
        value = keras.saving.deserialize_keras_object(value)
    if not isinstance(value, cls):
        raise ValueError(
            f"Invalid value for argument `{argument}`. Expected a `keras_cvae.{cls.__name__}`. "
            f"Received: {argument}={value!r}"
        )
    return value


def _fold_in(seed, data):
    """A new seed pair derived from `seed` and an integer (a replica, a chunk)."""
    return tf.random.experimental.stateless_fold_in(seed, ops.cast(data, "int64"))


def _global_mean(values):
    """Means over axis 0 of the global batch, the same on every replica.

    Under a strategy one all-reduce of the replicas' sums and sizes; its
    gradient is the all-reduce of the replicas' gradients.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return [ops.mean(value, axis=0) for value in values]
    count = ops.cast(ops.shape(values[0])[0], "float32")
    sums = [ops.sum(value, axis=0) for value in values]
    *sums, count = context.all_reduce(tf.distribute.ReduceOp.SUM, [*sums, count])
    return [total / count for total in sums]


def _reduces_outputs_on_axis_0():
    """Whether Keras reduces `train_step` outputs with `strategy.reduce(MEAN, axis=0)`.

    It does under a multi-worker `MultiWorkerMirroredStrategy`, which fails on
    scalars ("Invalid reduction dimension 0 for input with 0 dimensions",
    tensorflow/tensorflow#72388): metrics are then returned with shape `(1,)`,
    which the reduction turns back into scalars.
    """
    strategy = tf.distribute.get_strategy()
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and bool(
        strategy.extended._in_multi_worker_mode()
    )


def _images(data):
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    return x


class _StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops `fit` at the first batch whose loss is NaN or infinite, saying why."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.model.stop_training = True
            warnings.warn(
                f"Training stopped at batch {batch}: the loss is {float(loss)} "
                f"(reconstruction={float(logs.get('reconstruction', math.nan))}, "
                f"kl={float(logs.get('kl', math.nan))}). Check that the images are in "
                "[0, 1] and finite, and try a lower learning rate.",
                RuntimeWarning,
                stacklevel=2,
            )
