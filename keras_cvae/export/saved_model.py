"""Export a VAE as a TensorFlow SavedModel in TF Serving's versioned layout."""

import os

import keras

from keras_cvae.utils.atomic_write import atomic_path
from keras_cvae.utils.finite_weights import check_finite_weights
from keras_cvae.export._signatures import SERVING_DEFAULT
from keras_cvae.export._signatures import SIGNATURES
from keras_cvae.export._signatures import check_model
from keras_cvae.export._signatures import signature_functions
from keras_cvae.export.manifest import check_replaceable
from keras_cvae.export.manifest import write_manifest
from keras_cvae.validation import check_positive_int

# The endpoint `keras.Model.export` writes: the model's `call`.
KERAS_ENDPOINT = "serve"


def export_saved_model(model, path, version=1, overwrite=False):
    """Exports `model` as a SavedModel at `<path>/<version>/`, TF Serving's layout.

    `path` is the model's base path (`<dir>/<name>`, TF Serving's
    `--model_base_path`); each export adds one numbered version below it.
    The SavedModel has the signatures `encode`, `decode`, `reconstruct`,
    `sample` and `serving_default` (= `reconstruct`, the Keras model's
    `call`), all with named float32 inputs and outputs and a dynamic batch
    dimension (see `export/README.md`). It needs neither Keras nor
    keras_cvae to load: `tf.saved_model.load(...).signatures["encode"]`.

    The version is written to a temporary folder beside it and renamed into
    place, so a failed export leaves nothing behind and TF Serving never
    sees a half-written version. The version folder also holds
    `manifest.json`, its files' SHA-256 sums (see `keras_cvae.export.manifest`).

    Args:
        model: `keras_cvae.VAE`. Built at construction: it need not have
            been called, and may come from `keras.models.load_model`.
        path: str. The model's base path, created if needed.
        version: int. The version folder, a positive integer. Defaults to `1`.
        overwrite: bool. Replace an existing `<path>/<version>`, if it is an
            earlier export (it holds a keras_cvae `manifest.json`). Defaults
            to `False`: an existing version raises a `FileExistsError`, as
            does any other existing folder with `True`.

    Returns:
        The path of the version folder, `<path>/<version>`.

    Example:

    >>> import os, tempfile
    >>> conv_net = {"block": "basic", "depth": 1, "channels": 8}
    >>> vae = keras_cvae.VAE(
    ...     keras_cvae.GaussianEncoder(latent_dim=4, conv_net=conv_net),
    ...     keras_cvae.GaussianDecoder(image_shape=(8, 8, 1), conv_net=conv_net))
    >>> serving = tempfile.mkdtemp()
    >>> version_dir = keras_cvae.export.export_saved_model(vae, os.path.join(serving, "vae"))
    >>> os.path.relpath(version_dir, serving)
    'vae/1'
    """
    check_model(model)
    version = check_positive_int("version", version)
    target = os.path.join(os.path.abspath(os.fspath(path)), str(version))
    check_replaceable(target, overwrite)
    check_finite_weights(model, f"Refusing to export to {target}")
    with atomic_path(target, overwrite=overwrite, is_dir=True) as temp:
        write_saved_model(model, temp)
        write_manifest(temp)
    return target


def write_saved_model(model, directory, keras_serve=False):
    """Writes the SavedModel into `directory` (no checks, no atomic rename).

    Args:
        model: `keras_cvae.VAE`.
        directory: str. An empty or missing folder.
        keras_serve: bool. Also write Keras's endpoint `serve` (what
            `keras.Model.export` writes, and `keras.layers.TFSMLayer` calls):
            the model's `call`, `serve(images) -> x_mean` as one tensor, a
            signature with output `output_0`. Defaults to `False`.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    functions = signature_functions(model)
    # The first endpoint is also written as "serving_default" (one function, two keys).
    for name in sorted(SIGNATURES, key=lambda name: name != SERVING_DEFAULT):
        fn, specs = functions[name]
        archive.add_endpoint(name, fn, input_signature=specs)
    if keras_serve:
        reconstruct, specs = functions[SERVING_DEFAULT]
        archive.add_endpoint(
            KERAS_ENDPOINT, lambda images: reconstruct(images)["x_mean"], input_signature=specs
        )
    archive.write_out(directory, verbose=False)
    return directory
