"""`VAE.export`: Keras's `Model.export(filepath, format=...)`, writing the full artifacts.

Keras's own `Model.export` writes only the model's `call` (`serve`, the
reconstruction), and its LiteRT path enables Select-TF (Flex) ops, which the
pip LiteRT runtime cannot run. `export_for_keras` takes the same arguments and
writes this package's artifacts instead: every signature (`encode`, `decode`,
`reconstruct`, `sample`), TFLite builtin ops only.
"""

import os

from keras_cvae.export._signatures import SERVING_DEFAULT
from keras_cvae.export._signatures import SIGNATURES
from keras_cvae.export._signatures import check_model
from keras_cvae.export.manifest import check_replaceable
from keras_cvae.export.manifest import write_manifest
from keras_cvae.export.onnx import DEFAULT_OPSET
from keras_cvae.export.onnx import MIN_OPSET
from keras_cvae.export.onnx import export_onnx
from keras_cvae.export.saved_model import KERAS_ENDPOINT
from keras_cvae.export.saved_model import write_saved_model
from keras_cvae.export.tflite import export_tflite
from keras_cvae.utils.atomic_write import atomic_path
from keras_cvae.utils.finite_weights import check_finite_weights
from keras_cvae.validation import check_choice
from keras_cvae.validation import check_int
from keras_cvae.validation import invalid

KERAS_FORMATS = ("tf_saved_model", "litert", "onnx")
# The keyword arguments each format takes besides `verbose`, `input_signature`, `overwrite`.
FORMAT_OPTIONS = {
    "tf_saved_model": (),
    "litert": ("quantization", "representative_data", "num_calibration_samples"),
    "onnx": ("opset_version",),
}
# Keras's LiteRT options that are accepted when `False`: what the artifact does anyway.
_BUILTINS_ONLY = ("enable_select_tf_ops", "allow_custom_ops")
# Why a keyword argument of Keras's own `Model.export` is refused, and what to pass instead.
_HINTS = {
    "enable_select_tf_ops": "Select-TF (Flex) ops need the Flex delegate, which the pip LiteRT "
    "runtime does not ship: the model would fail at inference. The .tflite uses TFLite "
    "builtin ops only",
    "allow_custom_ops": "a custom op fails at inference in a plain LiteRT interpreter. The "
    ".tflite uses TFLite builtin ops only",
    "optimizations": "pass `quantization='dynamic'`, `'float16'` or `'int8'` instead",
    "representative_dataset": "pass images as `representative_data` (with "
    "`quantization='int8'`) instead",
    "opset": "Keras's name for it is `opset_version`",
}


def export_for_keras(model, filepath, format="tf_saved_model", verbose=None,
                     input_signature=None, overwrite=False, **kwargs):
    """Implements `VAE.export`: Keras's `Model.export`, writing every signature.

    Whatever the format, the artifact has the four signatures of
    `keras_cvae.export` (`encode`, `decode`, `reconstruct`, `sample`, see
    `export/README.md`), float32, with a dynamic batch dimension:

    - `"tf_saved_model"`: the SavedModel at `filepath` (not TF Serving's
      versioned layout: `keras_cvae.export.export_saved_model` writes that),
      with `serving_default` = `reconstruct`, and also Keras's endpoint
      `serve` (the model's `call`, one tensor out), so
      `tf.saved_model.load(filepath).serve(images)` and
      `keras.layers.TFSMLayer(filepath)` work as for any Keras model.
    - `"litert"`: one `.tflite` file holding the four signatures, TFLite
      builtin ops only (no Select-TF / Flex ops): the plain LiteRT
      interpreter runs it. Options: `quantization`, `representative_data`,
      `num_calibration_samples`, as in `keras_cvae.export.export_tflite`
      (Keras's `enable_select_tf_ops` and `allow_custom_ops` are refused,
      but for `False`).
    - `"onnx"`: an ONNX graph has one set of inputs, so `filepath` is a
      folder of four files, `<filepath>/<signature>.onnx`. Option:
      `opset_version` (Keras's name; default 17, at least 13).

    The artifact is written beside its target and renamed into place: a
    failed export leaves nothing behind. Its manifest, the SHA-256 sum of
    every file, is written last (`<filepath>/manifest.json` for a folder,
    `<filepath>.manifest.json` for a `.tflite` file; see
    `keras_cvae.export.manifest`): the scripts in `export/` check it.

    Args:
        model: `keras_cvae.VAE`.
        filepath: str or `pathlib.Path`. A folder (`"tf_saved_model"`,
            `"onnx"`) or a file ending in `.tflite` (`"litert"`).
        format: `"tf_saved_model"`, `"litert"` or `"onnx"`. Defaults to
            `"tf_saved_model"`.
        verbose: bool. Print where the artifact is and its signatures.
            Defaults to `None` (`True`, as in Keras).
        input_signature: Must be `None`: the inputs of every signature follow
            from the model (its image shape and latent size).
        overwrite: bool. Replace an existing artifact: a file, or a folder
            that is an earlier export (it holds a keras_cvae
            `manifest.json`); any other folder raises a `FileExistsError` and
            is left as it is. Defaults to `False`: unlike Keras's
            `Model.export`, an existing file or folder at `filepath` is
            refused (a `FileExistsError`) and left as it is.
        **kwargs: The format's options above; any other raises a `ValueError`.

    Returns:
        The absolute path of the artifact.

    Example:

    >>> import os, tempfile
    >>> conv_net = {"block": "basic", "depth": 1, "channels": 8}
    >>> vae = keras_cvae.VAE(
    ...     keras_cvae.GaussianEncoder(latent_dim=4, conv_net=conv_net),
    ...     keras_cvae.GaussianDecoder(image_shape=(8, 8, 1), conv_net=conv_net))
    >>> path = keras_cvae.export.export_for_keras(
    ...     vae, os.path.join(tempfile.mkdtemp(), "vae_onnx"), format="onnx", verbose=False)
    >>> sorted(os.listdir(path))
    ['decode.onnx', 'encode.onnx', 'manifest.json', 'reconstruct.onnx', 'sample.onnx']
    """
    check_model(model)
    check_choice("format", format, KERAS_FORMATS)
    _check_options(format, input_signature, kwargs)
    if verbose not in (None, True, False):
        raise invalid("verbose", "a bool or None", verbose)
    path = _check_filepath(format, filepath)
    check_finite_weights(model, f"Refusing to export to {path}")
    if format == "tf_saved_model":
        check_replaceable(path, overwrite)
        with atomic_path(path, overwrite=overwrite, is_dir=True) as temp:
            write_saved_model(model, temp, keras_serve=True)
            write_manifest(temp)
    elif format == "litert":
        options = {name: kwargs[name] for name in FORMAT_OPTIONS[format] if name in kwargs}
        export_tflite(model, path, overwrite=overwrite, **options)
    else:
        opset = kwargs.get("opset_version")
        opset = DEFAULT_OPSET if opset is None else check_int("opset_version", opset, MIN_OPSET)
        export_onnx(model, path, opset=opset, overwrite=overwrite)
    if verbose is not False:
        print(_saved_message(format, path))
    return path


def _check_options(format, input_signature, kwargs):
    """A ValueError for `input_signature` or for a keyword argument `format` does not take."""
    if input_signature is not None:
        raise invalid(
            "input_signature",
            "None: every signature's inputs follow from the model (its image shape and latent "
            "size), with a dynamic batch",
            input_signature,
        )
    unknown = sorted(
        name for name in kwargs
        if name not in FORMAT_OPTIONS[format]
        and not (format == "litert" and name in _BUILTINS_ONLY and kwargs[name] is False)
    )
    if not unknown:
        return
    supported = ", ".join(f"`{name}`" for name in (*FORMAT_OPTIONS[format], "overwrite"))
    hints = "".join(f" `{name}`: {_HINTS[name]}." for name in unknown if name in _HINTS)
    raise ValueError(
        f"Unrecognized keyword argument(s) for `export(format={format!r})` of a "
        f"keras_cvae.VAE: {', '.join(map(repr, unknown))}. It takes {supported}.{hints} "
        f"Received: {', '.join(f'{name}={kwargs[name]!r}' for name in unknown)}"
    )


def _check_filepath(format, filepath):
    """The absolute path, if its suffix suits the format's layout (a file or a folder)."""
    try:
        filepath = os.fspath(filepath)
    except TypeError:
        raise invalid("filepath", "a str or `pathlib.Path`", filepath) from None
    path = os.path.abspath(filepath)
    if format == "litert" and not path.endswith(".tflite"):
        raise invalid("filepath", "a file name ending in '.tflite' for format='litert'", filepath)
    if format == "onnx" and path.endswith(".onnx"):
        raise invalid(
            "filepath",
            "a folder for format='onnx': an ONNX graph has one set of inputs and outputs, so each "
            f"signature is its own file, <filepath>/<signature>.onnx ({', '.join(SIGNATURES)}). "
            "Pass a path without the '.onnx' suffix",
            filepath,
        )
    return path


def _saved_message(format, path):
    """What `verbose` prints: where the artifact is and which signatures it has."""
    signatures = ", ".join(SIGNATURES)
    if format == "tf_saved_model":
        return (f"Saved artifact at '{path}'. Signatures: {signatures}; serving_default and "
                f"{KERAS_ENDPOINT} = {SERVING_DEFAULT}.")
    if format == "litert":
        return f"Saved artifact at '{path}'. Signatures: {signatures} (TFLite builtin ops only)."
    files = ", ".join(f"{name}.onnx" for name in SIGNATURES)
    return f"Saved artifact at '{path}': one ONNX model per signature, {files}."
