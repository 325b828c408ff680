"""Export a VAE as ONNX models, one `.onnx` file per signature."""

import contextlib
import logging
import os

import tensorflow as tf

from keras_cvae.utils.atomic_write import atomic_path
from keras_cvae.utils.finite_weights import check_finite_weights
from keras_cvae.export._signatures import SIGNATURES
from keras_cvae.export._signatures import check_model
from keras_cvae.export._signatures import signature_functions
from keras_cvae.export.manifest import check_replaceable
from keras_cvae.export.manifest import write_manifest
from keras_cvae.validation import check_int

DEFAULT_OPSET = 17
MIN_OPSET = 13


def export_onnx(model, path, opset=DEFAULT_OPSET, overwrite=False):
    """Exports `model` as a folder of ONNX models, `<path>/<signature>.onnx`.

    An ONNX graph has one set of inputs and outputs, so each signature of
    the SavedModel becomes its own file: `encode.onnx`, `decode.onnx`,
    `reconstruct.onnx` and `sample.onnx`, with the same input and output
    names, float32 and a dynamic batch dimension. Run one with
    `onnxruntime.InferenceSession(f"{path}/encode.onnx").run(None, {"images": x})`.
    Converted with `tf2onnx` (the `export` extra). The folder also holds
    `manifest.json`, the files' SHA-256 sums (see `keras_cvae.export.manifest`).

    Args:
        model: `keras_cvae.VAE`.
        path: str. The folder to write.
        opset: int. The ONNX opset. Defaults to `17`.
        overwrite: bool. Replace an existing folder, if it is an earlier
            export (it holds a keras_cvae `manifest.json`); any other existing
            path raises a `FileExistsError`. Defaults to `False`.

    Returns:
        `path`.

    Example:

    >>> import os, tempfile
    >>> conv_net = {"block": "basic", "depth": 1, "channels": 8}
    >>> vae = keras_cvae.VAE(
    ...     keras_cvae.GaussianEncoder(latent_dim=4, conv_net=conv_net),
    ...     keras_cvae.GaussianDecoder(image_shape=(8, 8, 1), conv_net=conv_net))
    >>> path = keras_cvae.export.export_onnx(vae, os.path.join(tempfile.mkdtemp(), "vae_onnx"))
    >>> sorted(os.listdir(path))
    ['decode.onnx', 'encode.onnx', 'manifest.json', 'reconstruct.onnx', 'sample.onnx']
    """
    check_model(model)
    opset = check_int("opset", opset, minimum=MIN_OPSET)
    path = os.path.abspath(os.fspath(path))
    check_replaceable(path, overwrite)
    check_finite_weights(model, f"Refusing to export to {path}")
    with atomic_path(path, overwrite=overwrite, is_dir=True) as temp:
        write_onnx(model, temp, opset)
        write_manifest(temp)
    return path


def write_onnx(model, directory, opset=DEFAULT_OPSET):
    """Writes `<directory>/<signature>.onnx` for every signature (no checks, no atomic rename).

    Args:
        model: `keras_cvae.VAE`.
        directory: str. A missing or empty folder.
        opset: int. The ONNX opset. Defaults to `DEFAULT_OPSET`.
    """
    try:
        import tf2onnx
    except ImportError as error:
        raise ImportError(
            "export_onnx needs `tf2onnx`: pip install 'keras-cvae[export]'"
        ) from error
    os.makedirs(directory, exist_ok=True)
    functions = signature_functions(model)
    with _quiet(tf2onnx):
        for name in SIGNATURES:
            fn, specs = functions[name]
            tf2onnx.convert.from_function(
                tf.function(fn, input_signature=specs, autograph=False),
                input_signature=specs,
                opset=opset,
                output_path=os.path.join(directory, f"{name}.onnx"),
            )
    return directory


@contextlib.contextmanager
def _quiet(tf2onnx):
    """tf2onnx logs every step at INFO: keep warnings and errors only."""
    logger = logging.getLogger(tf2onnx.__name__)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
