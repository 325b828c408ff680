"""Shared test helpers: the checks every layer and model must pass, in one place."""

import hashlib
import inspect
import os

import keras
import numpy as np


def assert_config_mirrors_init(layer):
    """`get_config` holds every argument `type(layer)` accepts, and nothing else.

    The accepted arguments are those of the `__init__` of every keras_cvae
    class in its MRO, but for one that a class passes itself (as
    `PaddedConv2D` passes `rank=2`): `from_config` refuses it again with a
    "multiple values" TypeError, which is how the check tells it apart.
    """
    config = layer.get_config()
    base = set(keras.layers.Layer(name="x").get_config()) | {"activity_regularizer"}
    init_args = {
        name
        for cls in type(layer).__mro__
        if cls.__module__.startswith(("keras_cvae", "tests"))
        for name in inspect.signature(cls.__init__).parameters
        if name not in ("self", "kwargs")
    }
    missing = {name for name in init_args - set(config) if _accepts(layer, config, name)}
    assert not missing, f"missing from get_config: {missing}"
    assert set(config) <= init_args | base, f"not __init__ args: {set(config) - init_args - base}"


def _accepts(layer, config, name):
    """Whether `type(layer).from_config` takes `name` (given the layer's own value) besides `config`."""
    try:
        type(layer).from_config({**config, name: getattr(layer, name, None)})
    except TypeError as error:
        return "multiple values" not in str(error)
    except ValueError:  # taken; only the stand-in value was refused
        pass
    return True


def run_layer_test(layer, input_shape, tmp_path, seed=0):
    """Config round trip and `.keras` save/load with bit-identical outputs."""
    x = np.random.default_rng(seed).normal(size=input_shape).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x, training=False))
    assert y.shape == layer.compute_output_shape(input_shape)

    assert_config_mirrors_init(layer)
    clone = type(layer).from_config(layer.get_config())
    clone.build(input_shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(clone(x, training=False)), y)

    inputs = keras.Input(input_shape[1:])
    model = keras.Model(inputs, layer(inputs))
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x, training=False)), y)
    return y


def tiny_vae(block="basic", posterior="diagonal", decoder_scale="learned", image_shape=(8, 8, 1),
             latent_dim=4, channels=8, depth=1, seed=0, mean_activation="linear", data_init=False,
             outlier_probability=0.0, **vae_kwargs):
    """A few-thousand-parameter VAE for tests: the lecture's decoder unless told otherwise."""
    import keras_cvae

    conv_net = {"block": block, "depth": depth, "channels": channels, "bottleneck_channels": 4}
    return keras_cvae.VAE(
        keras_cvae.GaussianEncoder(latent_dim, conv_net, posterior=posterior),
        keras_cvae.GaussianDecoder(image_shape, conv_net, decoder_scale=decoder_scale,
                                   mean_activation=mean_activation, data_init=data_init,
                                   outlier_probability=outlier_probability),
        seed=seed,
        **vae_kwargs,
    )


def digits(split="train"):
    """The embedded 8×8 digits as float32 (N, 8, 8, 1) in [0, 1]."""
    from sklearn.datasets import load_digits

    images = load_digits().images.astype("float32")[..., None] / 16.0
    return images[:1437] if split == "train" else images[1437:]


def snapshot(root):
    """Every file and folder under `root`: relative path → SHA-256 (None for a folder).

    Two equal snapshots: nothing under `root` was added, removed or changed.
    """
    found = {}
    for folder, folders, files in os.walk(root):
        for name in folders:
            found[os.path.relpath(os.path.join(folder, name), root)] = None
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return found
