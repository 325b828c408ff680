"""Export a VAE as one multi-signature TFLite (LiteRT) model, optionally quantized."""

import os
import tempfile
import warnings

import numpy as np
import tensorflow as tf

from keras_cvae.utils.atomic_write import atomic_path
from keras_cvae.utils.finite_weights import check_finite_weights
from keras_cvae.export._signatures import CALIBRATION_TEMPERATURES
from keras_cvae.export._signatures import SIGNATURES
from keras_cvae.export._signatures import as_image_array
from keras_cvae.export._signatures import check_model
from keras_cvae.export.manifest import check_replaceable
from keras_cvae.export.manifest import write_manifest
from keras_cvae.export.saved_model import write_saved_model
from keras_cvae.models.standard_normal_prior import StandardNormalPrior
from keras_cvae.validation import check_choice
from keras_cvae.validation import check_positive_int

QUANTIZATIONS = (None, "float16", "dynamic", "int8")


def export_tflite(model, path, quantization=None, representative_data=None,
                  num_calibration_samples=100, overwrite=False):
    """Exports `model` as one TFLite model with the signatures of the SavedModel.

    The `.tflite` file holds the signatures `encode`, `decode`,
    `reconstruct` and `sample` (with its noise as inputs, so the model has no
    random ops), a dynamic batch dimension and float32 inputs and outputs in
    every mode. Only TFLite builtin ops are used (no Select-TF / Flex ops):
    the plain LiteRT interpreter runs it,
    `ai_edge_litert.interpreter.Interpreter(path).get_signature_runner("encode")`.
    Its SHA-256 sum is written last, beside it, to `<path>.manifest.json`
    (see `keras_cvae.export.manifest`).

    Quantization modes:

    - `None`: float32.
    - `"float16"`: float16 weights, computed in float32 (half the size).
    - `"dynamic"`: int8 weights, activations quantized on the fly.
    - `"int8"`: int8 weights and activations, their ranges calibrated on
      `representative_data`; float32 only at the inputs and outputs (an op
      without an int8 kernel would stay float rather than fail).

    Calibration feeds each signature what it meets in use: the images to
    `encode` and `reconstruct`; a posterior sample of each image's code, a
    sample of `N(0, I)` and, after `fit_prior`, a sample of the fitted prior
    to `decode`; prior noise and pixel noise `N(0, I)`, temperatures 0.5 and 1
    and uniform component noise `U[0, 1)` to `sample`.

    Args:
        model: `keras_cvae.VAE`.
        path: str. The `.tflite` file to write.
        quantization: `None`, `"float16"`, `"dynamic"` or `"int8"`.
            Defaults to `None` (float32).
        representative_data: Images from the training data, in [0, 1]: an
            array `(N, *image_shape)`, a `tf.data.Dataset` of batches (or of
            `(images, labels)`), or an iterable of batches. Required for
            `"int8"`, unused otherwise.
        num_calibration_samples: int. Images taken from
            `representative_data`. Defaults to `100`.
        overwrite: bool. Replace an existing file (never a folder). Defaults
            to `False`.

    Returns:
        `path`.

    Example:

    >>> import os, tempfile
    >>> conv_net = {"block": "basic", "depth": 1, "channels": 8}
    >>> vae = keras_cvae.VAE(
    ...     keras_cvae.GaussianEncoder(latent_dim=4, conv_net=conv_net),
    ...     keras_cvae.GaussianDecoder(image_shape=(8, 8, 1), conv_net=conv_net))
    >>> images = np.random.rand(100, 8, 8, 1).astype("float32")
    >>> path = keras_cvae.export.export_tflite(
    ...     vae, os.path.join(tempfile.mkdtemp(), "vae_int8.tflite"), quantization="int8",
    ...     representative_data=images)
    >>> sorted(os.listdir(os.path.dirname(path)))
    ['vae_int8.tflite', 'vae_int8.tflite.manifest.json']
    """
    check_model(model)
    check_choice("quantization", quantization, QUANTIZATIONS)
    check_positive_int("num_calibration_samples", num_calibration_samples)
    images = _calibration_images(model, quantization, representative_data, num_calibration_samples)
    path = os.path.abspath(os.fspath(path))
    if os.path.isdir(path):
        check_replaceable(path, overwrite)  # a folder is replaced by a file only if exported
    check_finite_weights(model, f"Refusing to export to {path}")
    with atomic_path(path, overwrite=overwrite) as temp:
        with tempfile.TemporaryDirectory(prefix="keras_cvae_tflite_") as directory:
            write_saved_model(model, directory)
            content = convert_saved_model(directory, model, quantization, images)
        with open(temp, "wb") as file:
            file.write(content)
    write_manifest(path)
    return path


def _calibration_images(model, quantization, representative_data, limit):
    """Up to `limit` images to calibrate int8 on; `None` for the other modes."""
    if quantization != "int8":
        return None
    if representative_data is None:
        raise int8_needs_images()
    return as_image_array(representative_data, model, limit)


def int8_needs_images(alternative=None):
    """The error for `quantization="int8"` without `representative_data`."""
    alternative = f", or {alternative}" if alternative else ""
    return ValueError(
        "quantization='int8' calibrates activation ranges on images from the training data: "
        f"pass `representative_data` (an array or dataset of images){alternative}. "
        "Received: representative_data=None"
    )


def convert_saved_model(directory, model, quantization=None, images=None):
    """The TFLite flatbuffer (bytes) of a SavedModel written by `write_saved_model`.

    Args:
        directory: str. The SavedModel of `model`.
        model: `keras_cvae.VAE`. Encodes the calibration images for `"int8"`.
        quantization: One of `QUANTIZATIONS`.
        images: Calibration images, required for `"int8"`.
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(directory, signature_keys=list(SIGNATURES))
    # Builtins only: conversion fails rather than emitting a Select-TF (Flex) op.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        converter.representative_dataset = lambda: _calibration_inputs(model, images)
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
            tf.lite.OpsSet.TFLITE_BUILTINS,  # float fallback for ops without int8 kernels
        ]
    with warnings.catch_warnings():
        # The calibrator runs TF's own (deprecated) tf.lite.Interpreter.
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
        return converter.convert()


def _calibration_inputs(model, images, seed=0):
    """Yields `(signature, inputs)` one example at a time, as the converter expects."""
    rng = np.random.default_rng(seed)
    mean, scale_tril = (np.asarray(t) for t in model.encode(images))
    eps = rng.standard_normal(mean.shape).astype(np.float32)
    posterior = mean + np.einsum("bij,bj->bi", scale_tril, eps)
    standard = rng.standard_normal(mean.shape).astype(np.float32)
    codes = [posterior, standard]
    if not isinstance(model.prior, StandardNormalPrior):  # a fitted prior: its samples too
        uniform = rng.uniform(size=len(images)).astype(np.float32)
        noise = rng.standard_normal(mean.shape).astype(np.float32)
        codes.append(np.asarray(model.prior.sample_from_noise(noise, uniform), np.float32))
    temperatures = np.asarray(CALIBRATION_TEMPERATURES, dtype=np.float32)
    for i, image in enumerate(images):
        image = image[None]
        yield "encode", {"images": image}
        yield "reconstruct", {"images": image}
        for z in codes:
            yield "decode", {"z": z[i : i + 1]}
        yield (
            "sample",
            {
                "z_noise": rng.standard_normal((1, model.latent_dim)).astype(np.float32),
                "pixel_noise": rng.standard_normal(image.shape).astype(np.float32),
                "temperature": temperatures[i % len(temperatures)][None],
                "z_uniform": rng.uniform(size=1).astype(np.float32),
            },
        )
