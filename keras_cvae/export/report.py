"""Sizes, differences from Keras and latencies of exported artifacts, as a table and JSON."""

import functools
import math
import os
import platform
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from keras_cvae.export._signatures import SIGNATURES
from keras_cvae.export._signatures import as_image_array
from keras_cvae.export._signatures import check_model
from keras_cvae.export._signatures import example_inputs
from keras_cvae.export._signatures import random_images
from keras_cvae.export._signatures import reference_outputs
from keras_cvae.utils import format_table
from keras_cvae.utils import write_json
from keras_cvae.validation import check_positive_int

# The signature timed in every runtime: images in, images out, encoder and decoder.
TIMED_SIGNATURE = "reconstruct"
# Signatures also timed on their own, at batch 1: what a device calls to generate.
BATCH_1_SIGNATURES = ("decode", "sample")
# What runs TFLite float ops: LiteRT's `Interpreter` with the default op resolver
# (`OpResolverType.AUTO`) applies the XNNPACK delegate (its execution plan gets
# `DELEGATE` nodes; `BUILTIN_WITHOUT_DEFAULT_DELEGATES` has none).
TFLITE_DELEGATE = "XNNPACK (LiteRT default)"
# The table's cell for a difference that is not a finite number (null in the JSON).
NOT_FINITE = "n/a"


def export_report(model, artifacts, images=None, batch_sizes=(1, 64), repeats=10, path=None,
                  verbose=True):
    """Measures exported artifacts against the Keras model; prints and saves the report.

    For each artifact: its size on disk, the largest absolute difference
    from the Keras model per signature and output (16 images and their
    noise; `sample` draws from the model's prior, the fitted mixture after
    `fit_prior`), the latency per image of `reconstruct` at each batch size
    (median of `repeats` calls after two warm-up calls), next to Keras's
    own (`model.predict_on_batch`), and the latency of one call of `decode`
    and of `sample` at batch 1 (the first of the compared codes and noise;
    median of `repeats` calls after two warm-up calls). Runtimes use their
    default threads (LiteRT: all cores) and accelerators: LiteRT runs with
    its default op resolver, which applies the XNNPACK delegate to the
    float ops it supports (the header's `tflite_delegate`; other ops run on
    LiteRT's builtin CPU kernels).

    Args:
        model: `keras_cvae.VAE`. The model the artifacts were exported from.
        artifacts: dict. `{label: path}`; the label's prefix picks the
            runtime: `"saved_model..."` (a version folder), `"tflite..."`
            (a `.tflite` file), `"onnx..."` (a folder of `.onnx` files).
        images: Images to compare on and time with (an array or dataset).
            Defaults to uniform noise in [0, 1].
        batch_sizes: tuple of ints. Batches to time. Defaults to `(1, 64)`.
        repeats: int. Timed calls per runtime and batch. Defaults to `10`.
        path: str. Where to write the report as JSON. Defaults to `None`.
        verbose: bool. Print the report as a table. Defaults to `True`.

    Returns:
        The report, a JSON-ready dict. Each measured artifact has
        `max_abs_diff` (`{signature: {output: float}}`),
        `latency_ms_per_image` (`{"<batch>": ms}`) and
        `signature_latency_ms` (`{"decode": ms, "sample": ms}`, one call at
        batch 1). The header's `tflite_delegate` is
        `"XNNPACK (LiteRT default)"` when a TFLite artifact was measured,
        else `None`. An artifact whose runtime is not
        installed (LiteRT, onnxruntime: the `export` extra) is listed with
        its size and a `not_measured` reason instead of differences and
        latencies. A difference that is not a finite number (an output
        with a NaN or an infinity) is `None` (`null` in the JSON).

    Example:

    >>> import os, tempfile
    >>> conv_net = {"block": "basic", "depth": 1, "channels": 8}
    >>> vae = keras_cvae.VAE(
    ...     keras_cvae.GaussianEncoder(latent_dim=4, conv_net=conv_net),
    ...     keras_cvae.GaussianDecoder(image_shape=(8, 8, 1), conv_net=conv_net))
    >>> path = os.path.join(tempfile.mkdtemp(), "vae.tflite")
    >>> tflite = keras_cvae.export.export_tflite(vae, path)
    >>> report = keras_cvae.export.export_report(
    ...     vae, {"tflite_float32": tflite}, repeats=3, verbose=False)
    >>> sorted(report["artifacts"]["tflite_float32"])
    ['latency_ms_per_image', 'max_abs_diff', 'path', 'signature_latency_ms', 'size_bytes']
    >>> sorted(report["artifacts"]["tflite_float32"]["signature_latency_ms"])
    ['decode', 'sample']
    >>> report["tflite_delegate"]
    'XNNPACK (LiteRT default)'
    >>> max(report["artifacts"]["tflite_float32"]["max_abs_diff"]["encode"].values()) < 1e-5
    True
    """
    check_model(model)
    repeats = check_positive_int("repeats", repeats)
    runtimes, missing = _load_runtimes(artifacts)
    images, inputs, references = _comparison(model, images)
    timed = {batch: np.resize(images, (batch, *model.image_shape)) for batch in batch_sizes}
    report = _report_header(model, batch_sizes)
    measured_tflite = any(label.startswith("tflite") for label in runtimes)
    report["tflite_delegate"] = TFLITE_DELEGATE if measured_tflite else None
    report["keras"] = {"latency_ms_per_image": _latencies(model.predict_on_batch, timed, repeats)}
    report["artifacts"] = {
        label: _measure(runtime, artifacts[label], inputs, references, timed, repeats)
        for label, runtime in runtimes.items()
    }
    for label, reason in missing.items():
        report["artifacts"][label] = {**_on_disk(artifacts[label]), "not_measured": reason}
    if path is not None:
        write_json(path, report)
    if verbose:
        print(format_report(report))
    return report


def format_report(report):
    """The report as a plain-text table: a title, one row per artifact, then notes."""
    batches = report["batch_sizes"]
    header = ["artifact", "size", *[f"max|Δ| {name}" for name in SIGNATURES]]
    header += [f"ms/img b={batch}" for batch in batches]
    header += [f"{name} ms b=1" for name in BATCH_1_SIGNATURES]
    rows = [[
        "keras", "-", *["-"] * len(SIGNATURES), *_latency_cells(report["keras"], batches),
        *_signature_cells(report["keras"]),
    ]]
    rows += [_row(label, entry, batches) for label, entry in report["artifacts"].items()]
    notes = [
        f"{label}: {entry['not_measured']}"
        for label, entry in report["artifacts"].items()
        if "not_measured" in entry
    ]
    return "\n".join([_title(report), format_table([header, *rows]), *notes])


def _row(label, entry, batches):
    row = [label, _human(entry["size_bytes"])]
    if "not_measured" in entry:
        return row + ["-"] * (len(SIGNATURES) + len(batches) + len(BATCH_1_SIGNATURES))
    row += [_largest(entry["max_abs_diff"][name].values()) for name in SIGNATURES]
    return row + _latency_cells(entry, batches) + _signature_cells(entry)


def _latency_cells(entry, batches):
    return [f"{entry['latency_ms_per_image'][str(batch)]:.3f}" for batch in batches]


def _signature_cells(entry):
    """The batch-1 latency of each of `BATCH_1_SIGNATURES`, or `-` where not measured."""
    latencies = entry.get("signature_latency_ms") or {}
    return [
        f"{latencies[name]:.3f}" if latencies.get(name) is not None else "-"
        for name in BATCH_1_SIGNATURES
    ]


def _title(report):
    model = report["model"]
    delegate = report.get("tflite_delegate")
    return (
        f"Export report: VAE image_shape={tuple(model['image_shape'])}, "
        f"latent_dim={model['latent_dim']}, "
        f"{model['posterior']} posterior, {_prior_words(model.get('prior'))}, "
        f"{model['parameters']} parameters; latency of "
        f"'{report['timed_signature']}' per image and of "
        f"{' and '.join(repr(name) for name in BATCH_1_SIGNATURES)} per call at batch 1, "
        f"on {report['machine']['cpu_count']} CPU cores"
        + (f"; TFLite delegate: {delegate}" if delegate else "")
    )


def _prior_description(prior):
    """The model's prior for the report: what `sample` draws from."""
    description = {"type": type(prior).__name__}
    if hasattr(prior, "num_components"):
        description["num_components"] = int(prior.num_components)
    return description


def _prior_words(prior):
    if not prior:
        return "unknown prior"
    if "num_components" in prior:
        return f"{prior['num_components']}-component mixture prior"
    return "N(0, I) prior" if prior["type"] == "StandardNormalPrior" else prior["type"]


def _largest(differences):
    """The largest difference as `1.2e-06`, or `n/a` if one was not finite (null in the JSON)."""
    differences = list(differences)
    if any(difference is None for difference in differences):
        return NOT_FINITE
    return f"{max(differences):.1e}"


# === Measuring ===


def _load_runtimes(artifacts):
    """`({label: run}, {label: reason not measured})`; an unknown label is a ValueError."""
    runtimes, missing = {}, {}
    for label, artifact in artifacts.items():
        loader = next((fn for prefix, fn in _LOADERS.items() if label.startswith(prefix)), None)
        if loader is None:
            raise ValueError(
                f"Invalid label in argument `artifacts`. Expected a name starting with one of "
                f"{sorted(_LOADERS)}. Received: {label!r}"
            )
        try:
            runtimes[label] = loader(os.fspath(artifact))
        except ModuleNotFoundError as error:  # the artifact is written; its runtime is not here
            missing[label] = (
                f"not measured: {error.name} is not installed (pip install 'keras-cvae[export]')"
            )
    return runtimes, missing


def _comparison(model, images):
    """The 16 images compared on, every signature's inputs, and the Keras model's outputs."""
    images = as_image_array(images, model, 16, argument="images")
    if images is None:
        images = random_images(model, 16)
    inputs = example_inputs(model, images)
    references = {name: reference_outputs(model, name, inputs[name]) for name in SIGNATURES}
    return images, inputs, references


def _report_header(model, batch_sizes):
    """What the report describes: the model, the machine, the versions, what is timed."""
    return {
        "model": {
            "image_shape": list(model.image_shape),
            "latent_dim": model.latent_dim,
            "posterior": model.encoder.posterior,
            "decoder_scale": model.decoder.decoder_scale,
            "prior": _prior_description(model.prior),
            "parameters": int(model.count_params()),
        },
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
        },
        "versions": _versions(),
        "timed_signature": TIMED_SIGNATURE,
        "batch_sizes": list(batch_sizes),
    }


def _measure(runtime, artifact, inputs, references, timed, repeats):
    """One artifact's report entry: path, size, differences from Keras, latencies.

    `signature_latency_ms` times each of `BATCH_1_SIGNATURES` on the first
    row of its compared inputs (one code; one noise draw for `sample`).
    """
    differences = {}
    for name in SIGNATURES:
        outputs = runtime(name, inputs[name])
        differences[name] = {
            key: _finite_or_none(np.max(np.abs(outputs[key] - reference)))
            for key, reference in references[name].items()
        }
    return {
        **_on_disk(artifact),
        "max_abs_diff": differences,
        "latency_ms_per_image": _latencies(
            lambda x: runtime(TIMED_SIGNATURE, {"images": x}), timed, repeats
        ),
        "signature_latency_ms": {
            name: _median_ms(
                functools.partial(runtime, name, _first_row(inputs[name])), repeats
            )
            for name in BATCH_1_SIGNATURES
        },
    }


def _first_row(inputs):
    """`{input: array}` cut to batch 1."""
    return {key: np.ascontiguousarray(value[:1]) for key, value in inputs.items()}


def _on_disk(artifact):
    """The start of every artifact's entry: its path and its size in bytes."""
    return {"path": os.fspath(artifact), "size_bytes": _size(artifact)}


def _finite_or_none(value):
    """`value` as a float, or `None` (null in the JSON) for a NaN or an infinity."""
    value = float(value)
    return value if math.isfinite(value) else None


def _latencies(fn, timed, repeats):
    """`{"<batch>": median ms per image}` of `fn` on each batch of `timed`."""
    return {str(batch): _latency(fn, images, repeats) for batch, images in timed.items()}


# === Runtimes: each loader returns `run(signature, inputs) -> {output: array}` ===


def _load_saved_model(path):
    loaded = tf.saved_model.load(path)
    signatures = loaded.signatures

    def run(name, inputs):
        outputs = signatures[name](**{key: tf.constant(value) for key, value in inputs.items()})
        return {key: value.numpy() for key, value in outputs.items()}

    run.keep_alive = loaded
    return run


def _load_tflite(path):
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_litert.interpreter import OpResolverType

    # AUTO, the default, applies the XNNPACK delegate: `TFLITE_DELEGATE` in the report.
    interpreter = Interpreter(
        model_path=path,
        num_threads=os.cpu_count(),
        experimental_op_resolver_type=OpResolverType.AUTO,
    )
    runners = {name: interpreter.get_signature_runner(name) for name in SIGNATURES}

    def run(name, inputs):
        return runners[name](**inputs)

    run.keep_alive = interpreter
    return run


def _load_onnx(path):
    import onnxruntime

    sessions = {
        name: onnxruntime.InferenceSession(
            os.path.join(path, f"{name}.onnx"), providers=["CPUExecutionProvider"]
        )
        for name in SIGNATURES
    }

    def run(name, inputs):
        session = sessions[name]
        names = [output.name for output in session.get_outputs()]
        return dict(zip(names, session.run(names, inputs)))

    return run


_LOADERS = {"saved_model": _load_saved_model, "tflite": _load_tflite, "onnx": _load_onnx}


def _latency(fn, images, repeats):
    """Median milliseconds per image of `fn(images)`."""
    return _median_ms(functools.partial(fn, images), repeats) / len(images)


def _median_ms(call, repeats):
    """Median milliseconds of `call()` over `repeats` calls, after two warm-up calls."""
    for _ in range(2):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _size(path):
    path = os.fspath(path)
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, names in os.walk(path)
        for name in names
    )


def _human(size):
    if size < 1024:
        return f"{size} B"
    if size < 1024**2:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024**2:.1f} MB"


def _versions():
    versions = {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__}
    for package in ("ai_edge_litert", "onnxruntime", "tf2onnx"):
        try:
            from importlib.metadata import version

            versions[package] = version(package.replace("_", "-"))
        except Exception:  # not installed: the report says so
            versions[package] = None
    return versions
