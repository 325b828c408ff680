"""The exported signatures, their inputs, and the Keras outputs they must match.

Every format exports the same four functions of a `keras_cvae.VAE`, with
float32 inputs and outputs and a dynamic batch dimension `B`:

- `encode(images)` -> `z_mean (B, Z)`, `z_scale_tril (B, Z, Z)`
- `decode(z)` -> `x_mean (B, *image_shape)`, `x_scale (B, 1, ..., 1)` (`(B, *image_shape)`
  for the per-pixel decoder scales)
- `reconstruct(images)` -> `x_mean (B, *image_shape)`
- `sample(z_noise, pixel_noise, temperature, z_uniform)` -> `images (B, *image_shape)`,
  `images = g(z) + x_scale * pixel_noise` (the pixel noise correlated first,
  `(I + V Vᵀ) pixel_noise`, for a decoder with a `residual_rank`) with `z` drawn from the model's prior
  (`VAE.sample_from_noise`): `z = temperature * z_noise` for the standard
  normal; for a fitted Gaussian mixture, `z = μ_k + temperature * L_k z_noise`
  with the component `k` picked by `z_uniform` (uniform in [0, 1)) through the
  cumulative mixture weights. The standard normal ignores `z_uniform`, so the
  signature is the same whatever the prior.

All randomness is an input: the artifacts have no random ops.

The values are checked by the model's own methods (`VAE.encode`, `decode`,
`reconstruct`, `sample_from_noise`), which, traced, assert in the graph that
images are finite and in [0, 1], codes and noise finite, temperatures in
[0, 1000] and `z_uniform` in [0, 1): the SavedModel refuses other values with
an `InvalidArgumentError` naming the input. TFLite and ONNX have no builtin
operation that raises, and their converters drop the assertions (the TFLite
model stays builtin-only): the consumer scripts in `export/` check the values
before running those.
"""

import numpy as np
import tensorflow as tf

from keras_cvae.models import VAE
from keras_cvae.validation import invalid

SIGNATURES = ("encode", "decode", "reconstruct", "sample")
# What TF Serving calls without a signature name: the Keras model's `call`,
# as in `model.export()` and `model.predict()`.
SERVING_DEFAULT = "reconstruct"
# Temperatures the int8 model is calibrated for (and the report samples at).
CALIBRATION_TEMPERATURES = (0.5, 1.0)


def check_model(model):
    """`model` if it is a `keras_cvae.VAE`, else a Keras-style ValueError."""
    if not isinstance(model, VAE):
        raise invalid("model", "a `keras_cvae.VAE`", model)
    return model


def input_specs(model):
    """`{signature: {input_name: tf.TensorSpec}}`, batch dimension `None`."""
    images = (None, *model.image_shape)
    z = (None, model.latent_dim)
    shapes = {
        "encode": {"images": images},
        "decode": {"z": z},
        "reconstruct": {"images": images},
        "sample": {
            "z_noise": z, "pixel_noise": images, "temperature": (None,), "z_uniform": (None,),
        },
    }
    return {
        name: {key: tf.TensorSpec(shape, tf.float32, name=key) for key, shape in inputs.items()}
        for name, inputs in shapes.items()
    }


def output_names(name):
    return {
        "encode": ("z_mean", "z_scale_tril"),
        "decode": ("x_mean", "x_scale"),
        "reconstruct": ("x_mean",),
        "sample": ("images",),
    }[name]


def signature_functions(model):
    """`{signature: (fn, [tf.TensorSpec, ...])}` for `tf.function(fn, input_signature)`.

    Each `fn` takes its inputs as positional tensors named by the specs and
    returns a dict of float32 tensors. Inputs are checked against their
    specs with `tf.ensure_shape`, so a wrong shape fails with the input's
    name and expected shape.

    Args:
        model: `keras_cvae.VAE`.
    """
    specs = input_specs(model)

    def checked(tensor, spec):
        return tf.ensure_shape(tensor, spec.shape, name=f"check_{spec.name}")

    def float32(outputs):
        return {key: tf.cast(value, tf.float32) for key, value in outputs.items()}

    def encode(images):
        images = checked(images, specs["encode"]["images"])
        mean, scale_tril = model.encode(images)
        return float32({"z_mean": mean, "z_scale_tril": scale_tril})

    def decode(z):
        z = checked(z, specs["decode"]["z"])
        mean, scale = model.decode(z)
        return float32({"x_mean": mean, "x_scale": scale})

    def reconstruct(images):
        images = checked(images, specs["reconstruct"]["images"])
        return float32({"x_mean": model.reconstruct(images)})

    def sample(z_noise, pixel_noise, temperature, z_uniform):
        z_noise = checked(z_noise, specs["sample"]["z_noise"])
        pixel_noise = checked(pixel_noise, specs["sample"]["pixel_noise"])
        temperature = checked(temperature, specs["sample"]["temperature"])
        z_uniform = checked(z_uniform, specs["sample"]["z_uniform"])
        images = model.sample_from_noise(z_noise, pixel_noise, temperature, z_uniform=z_uniform)
        return {"images": images}

    functions = {"encode": encode, "decode": decode, "reconstruct": reconstruct, "sample": sample}
    return {name: (functions[name], list(specs[name].values())) for name in SIGNATURES}


def reference_outputs(model, name, inputs):
    """The Keras model's outputs for one signature, as numpy float32 arrays."""
    tensors = {key: tf.constant(value, tf.float32) for key, value in inputs.items()}
    if name in ("encode", "decode"):
        method = model.encode if name == "encode" else model.decode
        values = method(tensors["images" if name == "encode" else "z"])
        outputs = dict(zip(output_names(name), values))
    elif name == "reconstruct":
        outputs = {"x_mean": model.reconstruct(tensors["images"])}
    else:
        outputs = {"images": model.sample_from_noise(
            tensors["z_noise"], tensors["pixel_noise"], tensors["temperature"],
            z_uniform=tensors["z_uniform"])}
    return {key: np.asarray(value, dtype=np.float32) for key, value in outputs.items()}


def example_inputs(model, images, seed=0):
    """`{signature: {input: array}}` for a batch of `images`, noise from `seed`.

    `sample` gets `z_noise` and `pixel_noise` from `N(0, 1)`, temperatures
    alternating over `CALIBRATION_TEMPERATURES` and `z_uniform` from `U[0, 1)`.
    """
    images = np.asarray(images, dtype=np.float32)
    batch = images.shape[0]
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((batch, model.latent_dim)).astype(np.float32)
    temperatures = np.asarray(CALIBRATION_TEMPERATURES, dtype=np.float32)
    return {
        "encode": {"images": images},
        "decode": {"z": z},
        "reconstruct": {"images": images},
        "sample": {
            "z_noise": rng.standard_normal((batch, model.latent_dim)).astype(np.float32),
            "pixel_noise": rng.standard_normal(images.shape).astype(np.float32),
            "temperature": temperatures[np.arange(batch) % len(temperatures)],
            "z_uniform": rng.uniform(size=batch).astype(np.float32),
        },
    }


def random_images(model, batch, seed=0):
    """Uniform images in [0, 1] of the model's shape (for when no data is given)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(batch, *model.image_shape)).astype(np.float32)


def as_image_array(data, model, limit, argument="representative_data"):
    """Up to `limit` images from an array, a `tf.data.Dataset` or an iterable of batches."""
    if data is None:
        return None
    if isinstance(data, tf.data.Dataset):
        data = data.as_numpy_iterator()
    if isinstance(data, (np.ndarray, tf.Tensor)) or hasattr(data, "__array__"):
        batches = [np.asarray(data)]
    else:
        batches, count = [], 0
        for batch in data:
            if isinstance(batch, (tuple, list)):  # (images, labels)
                batch = batch[0]
            if isinstance(batch, dict):
                batch = batch.get("images", next(iter(batch.values())))
            batch = np.asarray(batch)
            if batch.ndim == len(model.image_shape):
                batch = batch[None]
            batches.append(batch)
            count += batch.shape[0]
            if count >= limit:
                break
    shapes = {tuple(batch.shape[1:]) for batch in batches}
    if not batches or shapes != {tuple(model.image_shape)}:
        raise ValueError(
            f"Invalid value for argument `{argument}`. Expected images of shape "
            f"(batch, {', '.join(map(str, model.image_shape))}) in [0, 1], as an array, a "
            "`tf.data.Dataset` or an iterable of batches (or of (images, labels)). "
            f"Received: image shapes {sorted(shapes) or 'none (empty)'}"
        )
    images = np.concatenate(batches)[:limit].astype(np.float32)
    if images.size == 0:
        raise ValueError(
            f"Invalid value for argument `{argument}`. Expected at least one image. "
            "Received: an empty array"
        )
    return images
