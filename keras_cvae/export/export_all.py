"""Export a VAE to every format at once, with the report: what the CLI calls."""

import json
import os
import tempfile

import keras

from keras_cvae.export._signatures import as_image_array
from keras_cvae.export._signatures import check_model
from keras_cvae.export.onnx import export_onnx
from keras_cvae.export.report import export_report
from keras_cvae.export.saved_model import export_saved_model
from keras_cvae.export.saved_model import write_saved_model
from keras_cvae.export.tflite import QUANTIZATIONS
from keras_cvae.export.tflite import convert_saved_model
from keras_cvae.utils.atomic_write import atomic_path

FORMATS = ("saved_model", "tflite", "onnx")
REPORT_FILE = "export_report.json"


def export_all(
    model,
    out_dir,
    formats=FORMATS,
    quantizations=None,
    representative_data=None,
    name="vae",
    version=1,
    overwrite=False,
    report=True,
    report_repeats=10,
    verbose=True,
):
    """Exports `model` to several formats in one folder, and measures them.

    Writes, below `out_dir`:

    - `saved_model/<name>/<version>/`: the SavedModel, in TF Serving's layout
      (serve it with `--model_base_path=<out_dir>/saved_model/<name>`).
    - `tflite/<name>_<mode>.tflite` for each quantization mode (`float32`,
      `float16`, `dynamic`, `int8`).
    - `onnx/<signature>.onnx`.
    - `export_report.json`: sizes, differences from Keras, latencies (see
      `keras_cvae.export.export_report`), also printed.

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
        overwrite: bool. Replace an existing `out_dir`. Defaults to `False`.
        report: bool. Measure the artifacts and write the report. Defaults
            to `True`.
        report_repeats: int. Timed calls per runtime and batch size.
            Defaults to `10`.
        verbose: bool. Show a progress bar (one step per artifact and the
            report) and print the report. Defaults to `True`.

    Returns:
        `{label: path}` of the artifacts written (labels `saved_model`,
        `tflite_<mode>`, `onnx`, `report`).

    Example:

    >>> vae = keras_cvae.VAE(
    ...     keras_cvae.GaussianEncoder(latent_dim=4, conv_net={"depth": 1, "channels": 8}),
    ...     keras_cvae.GaussianDecoder(image_shape=(8, 8, 1), conv_net={"depth": 1, "channels": 8}))
    >>> images = np.random.rand(100, 8, 8, 1).astype("float32")
    >>> paths = keras_cvae.export.export_all(vae, "/tmp/vae_export", representative_data=images)
    >>> sorted(paths)
    ['onnx', 'report', 'saved_model', 'tflite_dynamic', 'tflite_float16', 'tflite_float32',
     'tflite_int8']
    """
    check_model(model)
    formats = (formats,) if isinstance(formats, str) else tuple(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if not formats or unknown:
        raise ValueError(
            f"Invalid value for argument `formats`. Expected a non-empty subset of {FORMATS}. "
            f"Received: formats={formats!r}"
        )
    images = as_image_array(representative_data, model, 100)
    if quantizations is None:
        quantizations = QUANTIZATIONS if images is not None else QUANTIZATIONS[:-1]
    quantizations = tuple(quantizations)
    unknown = [q for q in quantizations if q not in QUANTIZATIONS]
    if "tflite" in formats and (not quantizations or unknown):
        raise ValueError(
            f"Invalid value for argument `quantizations`. Expected a non-empty subset of "
            f"{QUANTIZATIONS}. Received: quantizations={quantizations!r}"
        )
    if "tflite" in formats and "int8" in quantizations and images is None:
        raise ValueError(
            "quantization='int8' calibrates activation ranges on images from the training data: "
            "pass `representative_data` (an array or dataset of images), or leave 'int8' out of "
            "`quantizations`. Received: representative_data=None"
        )

    out_dir = os.path.abspath(os.fspath(out_dir))
    relative = {}
    steps = (
        ("saved_model" in formats)
        + ("tflite" in formats) * len(quantizations)
        + ("onnx" in formats)
        + bool(report)
    )
    progress = keras.utils.Progbar(steps, unit_name="artifact", verbose=1 if verbose else 0)
    with atomic_path(out_dir, overwrite=overwrite, is_dir=True) as temp:
        os.makedirs(temp, exist_ok=True)
        if "saved_model" in formats:
            base = os.path.join("saved_model", name)
            export_saved_model(model, os.path.join(temp, base), version=version)
            relative["saved_model"] = os.path.join(base, str(version))
            progress.add(1)
        if "tflite" in formats:
            os.makedirs(os.path.join(temp, "tflite"))
            with tempfile.TemporaryDirectory(prefix="keras_cvae_tflite_") as directory:
                if "saved_model" in formats:
                    directory = os.path.join(temp, relative["saved_model"])  # the same graph
                else:
                    write_saved_model(model, directory)
                for quantization in quantizations:
                    mode = quantization or "float32"
                    label = f"tflite_{mode}"
                    relative[label] = os.path.join("tflite", f"{name}_{mode}.tflite")
                    content = convert_saved_model(directory, model, quantization, images)
                    with open(os.path.join(temp, relative[label]), "wb") as file:
                        file.write(content)
                    progress.add(1)
        if "onnx" in formats:
            export_onnx(model, os.path.join(temp, "onnx"))
            relative["onnx"] = "onnx"
            progress.add(1)
        if report:
            artifacts = {label: os.path.join(temp, path) for label, path in relative.items()}
            measured = export_report(
                model, artifacts, images=images, repeats=report_repeats, verbose=verbose, path=None
            )
            for label, path in relative.items():
                measured["artifacts"][label]["path"] = path  # relative to out_dir
            with open(os.path.join(temp, REPORT_FILE), "w") as file:
                json.dump(measured, file, indent=2)
            relative["report"] = REPORT_FILE
            progress.add(1)
    return {label: os.path.join(out_dir, path) for label, path in relative.items()}
