"""The lecture's last BatchNorm step: after training, store full-dataset statistics."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_cvae.layers.residual_block import batchnorm_layers_called
from keras_cvae.models.vae import VAE
from keras_cvae.models.image_checks import image_batches
from keras_cvae.utils.dataset_images import images_only
from keras_cvae.utils.image_validation import validate_batch
from keras_cvae.validation import check_seed
from keras_cvae.validation import check_positive_int
from keras_cvae.validation import invalid


def recalibrate_batchnorm(model, data, batch_size=256, seed=0):
    """Stores the exact mean and variance of every BatchNorm's inputs over `data`.

    Training normalises with batch statistics and keeps only moving averages;
    the lecture instead computes the statistics of the full dataset after
    training. Layers are visited in the order the forward pass reaches them,
    each with the earlier ones already recalibrated, so at inference every
    BatchNorm normalises its inputs over `data` to mean 0 and variance 1
    (before its `gamma`, `beta`). Moments are combined across batches in
    float64. For a `VAE` the decoder sees `z ~ q(z|x)`, drawn with `seed`, as in
    training.

    Args:
        model: `keras_cvae.VAE` or any built Keras model or layer.
        data: array of images or a `tf.data.Dataset` of batches of images,
            as given to `fit`, and checked as `fit` checks them (a ValueError
            naming `data`; for another model than a `VAE`: finite numbers). It is read once per BatchNorm layer: for
            exact statistics it must give the same images on every pass (an
            array, or a dataset without per-epoch random noise).
        batch_size: int. Batch size when `data` is an array. Defaults to `256`.
        seed: int. Seed of the posterior samples fed to the decoder.
            Defaults to `0`.

    Returns:
        The list of recalibrated `keras.layers.BatchNormalization` layers.

    Example:

    >>> vae = keras_cvae.VAE.from_preset("digits_basic")
    >>> train_images = np.random.default_rng(0).random((64, 8, 8, 1), dtype="float32")
    >>> layers = keras_cvae.recalibrate_batchnorm(vae, train_images)
    >>> len(layers)  # two blocks of two BatchNorms in each of two convnets
    8
    """
    batch_size = check_positive_int("batch_size", batch_size)
    seed = check_seed("seed", seed)
    dataset = _as_dataset(model, data, batch_size)
    layers = _in_call_order(model, dataset, seed)
    moments = _moments_function(model, layers, seed)
    for position, layer in enumerate(layers):
        count, mean, m2 = 0, 0.0, 0.0
        for index, batch in enumerate(dataset):
            n, batch_mean, batch_var = (
                np.asarray(v, np.float64) for v in moments(batch, tf.constant(index))[position]
            )
            # Chan et al.: merge (count, mean, M2) of two sets.
            delta = batch_mean - mean
            total = count + n
            mean = mean + delta * n / total
            m2 = m2 + batch_var * n + delta**2 * count * n / total
            count = total
        layer.moving_mean.assign(mean.astype("float32"))
        layer.moving_variance.assign((m2 / count).astype("float32"))
    return layers


def _as_dataset(model, data, batch_size):
    """`data` as batches checked like `fit`'s images (for a `VAE`) or as finite numbers."""
    if isinstance(model, VAE):
        return image_batches(data, model.image_shape, batch_size)
    if isinstance(data, tf.data.Dataset):
        return images_only(data)
    array = np.asarray(validate_batch(data, "data"), "float32")
    return tf.data.Dataset.from_tensor_slices(array).batch(batch_size)


def _forward(model, images, seed):
    if isinstance(model, VAE):
        z, _, _ = model._posterior_sample(images, model._noise(ops.shape(images)[0], seed), False)
        model.decoder(z, training=False)
    else:
        model(images, training=False)


class _Capture:
    """Temporarily records the inputs of chosen layers during a forward pass."""

    def __init__(self, layers):
        self.layers = layers
        self.inputs = {}

    def __enter__(self):
        self._unfolded = batchnorm_layers_called()  # the residual blocks call them too
        self._unfolded.__enter__()
        for layer in self.layers:
            original = layer.call

            def call(inputs, *args, _layer=layer, _original=original, **kwargs):
                self.inputs.setdefault(id(_layer), inputs)
                return _original(inputs, *args, **kwargs)

            object.__setattr__(layer, "call", call)
        return self

    def __exit__(self, *exc):
        for layer in self.layers:
            object.__delattr__(layer, "call")
        self._unfolded.__exit__(*exc)


def _batchnorms(model):
    return [
        layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)
    ]


def _in_call_order(model, dataset, seed):
    candidates = _batchnorms(model)
    with _Capture(candidates) as capture:
        try:
            first = next(iter(dataset))
        except StopIteration:
            raise invalid("data", "at least one batch", received="empty dataset") from None
        _forward(model, first, _batch_seed(seed, 0))
    order = list(capture.inputs)  # dicts keep insertion (= call) order
    return sorted(
        (layer for layer in candidates if id(layer) in capture.inputs),
        key=lambda layer: order.index(id(layer)),
    )


def _batch_seed(seed, index):
    return tf.random.experimental.stateless_fold_in(
        tf.constant([seed, 0], "int64"), tf.cast(index, "int64")
    )


def _moments_function(model, layers, seed):
    """`moments(images, index)`: `(count, mean, variance)` of the inputs of each of `layers`.

    One function for all the layers, traced once (the moving statistics it
    normalises with are variables, read when it runs): a function per layer
    would retrace for each, and TensorFlow warns about repeated retracing.
    """

    @tf.function(reduce_retracing=True)
    def moments(images, index):
        with _Capture(layers) as capture:
            _forward(model, images, _batch_seed(seed, index))
        results = []
        for layer in layers:
            inputs = ops.cast(capture.inputs[id(layer)], "float32")
            axes = tuple(range(len(inputs.shape) - 1))
            count = ops.cast(ops.prod(ops.shape(inputs)[:-1]), "float32")
            results.append((count, ops.mean(inputs, axis=axes), ops.var(inputs, axis=axes)))
        return results

    return moments
