"""Export a VAE to every format at once, with the report: what the CLI calls."""

import os
import tempfile

import keras

from keras_cvae.export._signatures import as_image_array
from keras_cvae.export._signatures import check_model
from keras_cvae.export.manifest import check_replaceable
from keras_cvae.export.manifest import write_manifest
from keras_cvae.export.onnx import write_onnx
from keras_cvae.export.report import export_report
from keras_cvae.export.report import format_report
from keras_cvae.export.saved_model import write_saved_model
from keras_cvae.export.tflite import QUANTIZATIONS
from keras_cvae.export.tflite import convert_saved_model
from keras_cvae.export.tflite import int8_needs_images
from keras_cvae.utils import write_json
from keras_cvae.utils.atomic_write import atomic_path
from keras_cvae.utils.finite_weights import check_finite_weights
from keras_cvae.validation import check_positive_int
from keras_cvae.validation import invalid

FORMATS = ("saved_model", "tflite", "onnx")
REPORT_FILE = "export_report.json"


def export_all(model, out_dir, formats=FORMATS, quantizations=None, representative_data=None,
               name="vae", version=1, overwrite=False, report=True, report_repeats=10,
               verbose=True):
    """Exports `model` to several formats in one folder, and measures them.

    Writes, below `out_dir`:

    - `saved_model/<name>/<version>/`: the SavedModel, in TF Serving's layout
      (serve it with `--model_base_path=<out_dir>/saved_model/<name>`).
    - `tflite/<name>_<mode>.tflite` for each quantization mode (`float32`,
      `float16`, `dynamic`, `int8`).
    - `onnx/<signature>.onnx`.
    - `export_report.json`: sizes, differences from Keras, latencies (see
      `keras_cvae.export.export_report`), also printed.
    - `manifest.json`, written last: the SHA-256 sum and size of every other
      file (see `keras_cvae.export.manifest`), which the scripts in `export/`
      check before they run an artifact.

    Everything is written to a temporary folder beside `out_dir` and renamed
    at the end: a failed export leaves no partial `out_dir`.

    Args:
        model: `keras_cvae.VAE`.
        out_dir: str. The folder to create.
        formats: tuple of `"saved_model"`, `"tflite"`, `"onnx"`. Defaults to
            all three.
        quantizations: tuple of TFLite modes, `None` (float32), `"float16"`,
            `"dynamic"`, `"int8"`. Defaults to all four when
            `representative_data` is given, else all but `"int8"`.
        representative_data: Images from the training data in [0, 1] (an
            array, a `tf.data.Dataset` or an iterable of batches): int8
            calibration, and the images the report compares and times on.
        name: str. The model's name in the SavedModel layout and TFLite file
            names. Defaults to `"vae"`.
        version: int. The SavedModel version. Defaults to `1`.
        overwrite: bool. Replace an existing `out_dir`, if it is an earlier
            export (it holds a keras_cvae `manifest.json` or
            `export_report.json`): any other existing path raises a
            `FileExistsError`, and is left as it is. Defaults to `False`.
        report: bool. Measure the artifacts and write the report. Defaults
            to `True`.
        report_repeats: int. Timed calls per runtime and batch size.
            Defaults to `10`.
        verbose: bool. Show a progress bar (one step per artifact and the
            report) and print the report. Defaults to `True`.

    Returns:
        `{label: path}` of the artifacts written (labels `saved_model`,
        `tflite_<mode>`, `onnx`, `report`; not the manifest, always
        `<out_dir>/manifest.json`).

    Example:

    >>> import os, tempfile
    >>> conv_net = {"block": "basic", "depth": 1, "channels": 8}
    >>> vae = keras_cvae.VAE(
    ...     keras_cvae.GaussianEncoder(latent_dim=4, conv_net=conv_net),
    ...     keras_cvae.GaussianDecoder(image_shape=(8, 8, 1), conv_net=conv_net))
    >>> images = np.random.rand(100, 8, 8, 1).astype("float32")
    >>> out_dir = os.path.join(tempfile.mkdtemp(), "vae_export")
    >>> paths = keras_cvae.export.export_all(
    ...     vae, out_dir, formats=("saved_model", "tflite"), quantizations=(None, "int8"),
    ...     representative_data=images, report_repeats=1, verbose=False)
    >>> sorted(paths)
    ['report', 'saved_model', 'tflite_float32', 'tflite_int8']
    >>> sorted(os.listdir(out_dir))
    ['export_report.json', 'manifest.json', 'saved_model', 'tflite']
    >>> os.path.relpath(paths["tflite_int8"], out_dir)
    'tflite/vae_int8.tflite'
    """
    check_model(model)
    formats = _check_subset("formats", formats, FORMATS)
    version = check_positive_int("version", version)
    images = as_image_array(representative_data, model, 100)
    if "tflite" in formats:
        quantizations = _check_quantizations(quantizations, images)
    out_dir = os.path.abspath(os.fspath(out_dir))
    check_replaceable(out_dir, overwrite)
    check_finite_weights(model, f"Refusing to export to {out_dir}")
    steps = _count_steps(formats, quantizations, report)
    if verbose:
        print(f"Exporting ({', '.join(formats)}) to {out_dir}: {steps} steps, one per artifact"
              + (" and the report" if report else ""), flush=True)
    progress = keras.utils.Progbar(steps, unit_name="artifact", verbose=1 if verbose else 0)
    relative, measured = {}, None  # {label: path relative to out_dir}, the report
    with atomic_path(out_dir, overwrite=overwrite, is_dir=True) as temp:
        os.makedirs(temp, exist_ok=True)
        for label, path in _write_artifacts(model, temp, formats, quantizations, images, name,
                                            version):
            relative[label] = path
            progress.add(1)
        if report:
            measured = _write_report(model, temp, relative, images, report_repeats)
            relative["report"] = REPORT_FILE
            progress.add(1)
        write_manifest(temp)  # last: it lists every file, and marks the export complete
    if verbose and measured is not None:
        print(format_report(measured))  # below the finished bar
    return {label: os.path.join(out_dir, path) for label, path in relative.items()}


def _check_subset(argument, values, choices):
    """`values` as a tuple if it is a non-empty subset of `choices` (a str is one value)."""
    values = (values,) if isinstance(values, str) else tuple(values)
    if not values or any(value not in choices for value in values):
        raise invalid(argument, f"a non-empty subset of {choices}", values)
    return values


def _check_quantizations(quantizations, images):
    """The TFLite modes: all four with calibration images, else all but int8."""
    if quantizations is None:
        quantizations = QUANTIZATIONS if images is not None else QUANTIZATIONS[:-1]
    quantizations = _check_subset("quantizations", quantizations, QUANTIZATIONS)
    if "int8" in quantizations and images is None:
        raise int8_needs_images(alternative="leave 'int8' out of `quantizations`")
    return quantizations


def _count_steps(formats, quantizations, report):
    """The progress bar's length: one step per artifact and one for the report."""
    tflite = len(quantizations) if "tflite" in formats else 0
    return ("saved_model" in formats) + tflite + ("onnx" in formats) + bool(report)


def _write_artifacts(model, temp, formats, quantizations, images, name, version):
    """Writes each format below `temp`; yields `(label, relative path)` per artifact written."""
    saved_model = None
    if "saved_model" in formats:
        saved_model = os.path.join("saved_model", name, str(version))
        write_saved_model(model, os.path.join(temp, saved_model))
        yield "saved_model", saved_model
    if "tflite" in formats:
        yield from _write_tflite(model, temp, name, quantizations, images, saved_model)
    if "onnx" in formats:
        write_onnx(model, os.path.join(temp, "onnx"))
        yield "onnx", "onnx"


def _write_tflite(model, temp, name, quantizations, images, saved_model=None):
    """Writes `tflite/<name>_<mode>.tflite` per mode; yields `(label, relative path)` of each.

    Converts `saved_model` (a SavedModel's path below `temp`: the same graph)
    if given, else a SavedModel written to a temporary folder.
    """
    os.makedirs(os.path.join(temp, "tflite"))
    with tempfile.TemporaryDirectory(prefix="keras_cvae_tflite_") as directory:
        if saved_model is not None:
            directory = os.path.join(temp, saved_model)
        else:
            write_saved_model(model, directory)
        for quantization in quantizations:
            mode = quantization or "float32"
            path = os.path.join("tflite", f"{name}_{mode}.tflite")
            content = convert_saved_model(directory, model, quantization, images)
            with open(os.path.join(temp, path), "wb") as file:
                file.write(content)
            yield f"tflite_{mode}", path


def _write_report(model, temp, relative, images, repeats):
    """Measures the artifacts and writes the report below `temp`; returns the report."""
    artifacts = {label: os.path.join(temp, path) for label, path in relative.items()}
    measured = export_report(model, artifacts, images=images, repeats=repeats, verbose=False,
                             path=None)
    for label, path in relative.items():
        measured["artifacts"][label]["path"] = path  # relative to out_dir
    write_json(os.path.join(temp, REPORT_FILE), measured)
    return measured
