"""Save -> run in a fresh process without keras_cvae -> compare with Keras, for any VAE.

`check_export_matches_keras(model, out_dir, images)` is the one call a model
test (a fresh model, a preset) makes: it exports every format with
`keras_cvae.export.export_all`, checks that every TFLite model uses builtin
ops only, runs each artifact with the consumer scripts in `export/` in
subprocesses where `import keras_cvae` fails, and compares every signature's
outputs with the Keras model's at batch sizes 1, 3 and 17 (`sample` draws
from the model's prior: the fitted mixture of `mixture_vae`).
`check_artifacts_match_keras(model, paths, out_dir, images)` does the
comparison for artifacts written otherwise (e.g. by `VAE.export`).

Tolerances (max absolute difference, per output):

- float32 (SavedModel, TFLite, ONNX): 1e-5.
- TFLite float16 weights: 1e-3 of max(1, the output's largest magnitude)
  (float16 keeps 11 significant bits, relative rounding 2^-11 ~ 5e-4 per
  weight; noisy samples reach beyond [0, 1]).
- TFLite int8 and dynamic-range: relative bounds, see `QUANTIZED` below.

`sample` with a fitted mixture prior picks the component by comparing
`z_uniform` with the cumulative weights. float32 artifacts must pick Keras's
component; float16 stores the cumulative weights in float16 and int8
quantizes `z_uniform`, so for a `u` within `BOUNDARY_SLACK` of a boundary
they may pick the neighbouring one: such a sample is compared with Keras's
sample for either component (see `neighbour_references`).
"""

import functools
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import keras_cvae
import keras
from keras_cvae.export import export_all
from keras_cvae.export._signatures import SIGNATURES
from keras_cvae.export._signatures import example_inputs
from keras_cvae.export._signatures import random_images
from keras_cvae.export._signatures import reference_outputs

SCRIPTS = Path(__file__).resolve().parents[2] / "export"
BATCH_SIZES = (1, 3, 17)
FLOAT32_ATOL = 1e-5
FLOAT16_ATOL = 1e-3
# Quantized modes: bounds on the mean and the max |difference| per output,
# relative to its scale S = max |Keras output| over the batch of 17.
#
# int8: every activation tensor has 256 levels over the range seen in
# calibration, so one rounding costs <= 0.2% of that range, and each
# signature passes 10-20 quantized tensors. Values beyond the calibrated
# range (codes in the tails of N(0, I)) are clipped. Measured on the four
# test models: mean 0.1-3% of S, max 0.5-33% of S (decode at |z| > 2.5).
# Allowed: mean 5%, max 50%. A broken export (a wrong op, swapped outputs,
# a missing sigma*eta term in `sample`) is off by 10-100% of S on average,
# which the mean bound catches.
# dynamic (int8 weights, float activations): measured mean <= 0.5%, max
# <= 1.6% of S on the test models; on the trained digits_basic_full preset
# the posterior scale `z_scale_tril` (S ~ 0.09, a 512 -> 136 Dense head with
# per-tensor int8 weights) is off by mean 1.7%, max 8.7% of S.
# Allowed: mean 3%, max 15%.
QUANTIZED = {"tflite_int8": (0.05, 0.5), "tflite_dynamic": (0.03, 0.15)}
# How far from a cumulative weight `z_uniform` may pick the other component: float16
# rounds a weight in [0.5, 1) by up to 2^-12 (allowed: one ulp, 2^-11); int8 quantizes
# `u` in steps of 1/255 and the cumulative weights in their own steps (allowed: 2/255).
BOUNDARY_SLACK = {"float32": 0.0, "float16": 2.0**-11, "quantized": 2.0 / 255}

# With ("bottleneck", "diagonal", "linear"), the mixture-prior model of `mixture_vae`:
# every block, posterior and decoder scale at least once.
CONFIGS = {
    "basic-full-constant": ("basic", "full", "constant"),
    "bottleneck-full-learned": ("bottleneck", "full", "learned"),
}


def tiny_vae(block="basic", posterior="diagonal", decoder_scale="learned", seed=0,
             **decoder_options):
    """A freshly built (never called) VAE whose every layer affects the output.

    `zero_init_last=False` so the residual branches are not zero at start,
    and BatchNorm statistics set as after training, so exporting them
    (folded or not) is tested too. Every weight comes from `seed` (the
    kernels from their layers' initializers, seeded), so a test sees the same
    model in every run.
    """
    conv_net = {
        "block": block,
        "depth": 1,
        "channels": 8,
        "bottleneck_channels": 4,
        "zero_init_last": False,
    }
    vae = keras_cvae.VAE(
        keras_cvae.GaussianEncoder(latent_dim=4, conv_net=conv_net, posterior=posterior),
        keras_cvae.GaussianDecoder(
            image_shape=(8, 8, 1), conv_net=conv_net, decoder_scale=decoder_scale,
            **decoder_options),
    )
    rng = np.random.default_rng(seed)
    for variable in vae.weights:
        shape = tuple(variable.shape)
        if variable.path.endswith("moving_mean"):
            variable.assign(rng.normal(0.0, 0.1, shape).astype("float32"))
        elif variable.path.endswith("moving_variance"):
            variable.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
        elif variable.path.endswith("gamma"):
            variable.assign(rng.uniform(0.8, 1.2, shape).astype("float32"))
        elif variable.path.endswith(("mean_offset", "scale_offset")):  # as set from data
            variable.assign(rng.normal(-2.0, 0.5, shape).astype("float32"))
        elif variable.path.endswith("residual_factor"):  # as after training: pixels correlated
            variable.assign(rng.normal(0.0, 0.3, shape).astype("float32"))
    _reinitialize_kernels(vae, seed)
    return vae


def _reinitialize_kernels(model, seed):
    """Draws every kernel again with its layer's own initializer, seeded from `seed`."""
    layers = [
        layer for layer in model._flatten_layers() if getattr(layer, "kernel", None) is not None
    ]
    for index, layer in enumerate(layers):
        initializer = layer.kernel_initializer
        if isinstance(initializer, keras.initializers.Zeros):  # a data-initialised head
            initializer = keras.initializers.GlorotUniform()
        config = initializer.get_config()
        if "seed" in config:
            initializer = type(initializer).from_config({**config, "seed": 1000 * seed + index})
        layer.kernel.assign(initializer(tuple(layer.kernel.shape), dtype="float32"))


def mixture_vae(block="basic", posterior="full", decoder_scale="learned", seed=0,
                num_components=3):
    """`tiny_vae` with a Gaussian mixture prior fitted to the codes of uniform-noise images."""
    vae = tiny_vae(block, posterior, decoder_scale, seed=seed)
    images = random_images(vae, 64, seed=seed + 100)
    vae.fit_prior(images, num_components=num_components, samples_per_image=2, seed=seed)
    return vae


def tflite_operators(path):
    """`{signature: [operator, ...]}` of a `.tflite` file, read from its flatbuffer.

    A builtin operator is its name (`CONV_2D`); a custom one, such as a
    Select-TF (Flex) op, is `CUSTOM:<its code>` (`CUSTOM:FlexCumsum`).
    """
    from ai_edge_litert import schema_py_generated as schema

    names = {code: name for name, code in vars(schema.BuiltinOperator).items()
             if not name.startswith("_")}
    with open(path, "rb") as file:
        model = schema.ModelT.InitFromPackedBuf(file.read(), 0)
    codes = []
    for code in model.operatorCodes:
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        if builtin == schema.BuiltinOperator.CUSTOM:
            codes.append(f"CUSTOM:{(code.customCode or b'').decode()}")
        else:
            codes.append(names[builtin])
    return {
        signature.signatureKey.decode(): [
            codes[op.opcodeIndex] for op in model.subgraphs[signature.subgraphIndex].operators
        ]
        for signature in model.signatureDefs
    }


def non_builtin_operators(path):
    """The custom (e.g. Flex) operators of a `.tflite` file, `{signature: [...]}` where any."""
    found = {
        name: sorted({op for op in ops if op.startswith("CUSTOM")})
        for name, ops in tflite_operators(path).items()
    }
    return {name: ops for name, ops in found.items() if ops}


# Runs a script with `import keras_cvae` failing: proves the artifact stands alone. The
# script's folder goes first on sys.path, as `python export/run_tflite.py` puts it (for
# `import consumer`).
_BLOCKED = (
    "import os, runpy, sys; sys.modules['keras_cvae'] = None; sys.argv = sys.argv[1:]; "
    "sys.path.insert(0, os.path.dirname(sys.argv[0])); "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


def script_command(script, *args):
    """The command running `export/<script>` in a process where keras_cvae cannot be imported."""
    return [sys.executable, "-c", _BLOCKED, str(SCRIPTS / script), *map(str, args)]


@functools.lru_cache(maxsize=None)
def script_module(name):
    """Imports `export/<name>.py` (once) with its folder on sys.path, for `import consumer`."""
    spec = importlib.util.spec_from_file_location(f"export_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(SCRIPTS))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(SCRIPTS))
    return module


def script_env():
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def run_script(script, *args, check=True):
    result = subprocess.run(
        script_command(script, *args), capture_output=True, text=True, env=script_env()
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{script} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def tolerance_kind(label):
    if label in ("saved_model", "tflite_float32", "onnx"):
        return "float32"
    if label == "tflite_float16":
        return "float16"
    return "quantized"


def neighbour_references(model, inputs):
    """For a mixture prior: each `sample` input's distance to the nearest cumulative weight,
    and Keras's images with `z_uniform` moved just across it (the neighbouring component).

    `(None, None)` for a prior without components.
    """
    if getattr(model.prior, "num_components", 1) == 1:
        return None, None
    weights, _, _ = model.prior.parameters()
    cumulative = np.cumsum(weights, dtype=np.float32)[:-1]
    u = inputs["z_uniform"]
    gaps = u[:, None] - cumulative[None, :]
    nearest = cumulative[np.argmin(np.abs(gaps), axis=1)]
    across = np.where(u >= nearest, np.nextafter(nearest, np.float32(0)), nearest)
    images = reference_outputs(model, "sample", {**inputs, "z_uniform": across})["images"]
    return np.abs(u - nearest), images


def check_export_matches_keras(
    model,
    out_dir,
    images=None,
    formats=("saved_model", "tflite", "onnx"),
    quantizations=None,
    batch_sizes=BATCH_SIZES,
):
    """Exports `model` and asserts every artifact matches it in a fresh process.

    Args:
        model: `keras_cvae.VAE`, freshly built, loaded or a preset.
        out_dir: `pathlib.Path`. A folder that does not exist yet.
        images: Images to calibrate int8 on and compare with. Defaults to
            uniform noise (fine for a fresh model; pass real data for a
            trained one).
        formats, quantizations: As in `keras_cvae.export.export_all`.
        batch_sizes: Batches to compare at.

    Returns:
        `{label: {signature: {output: max abs difference}}}` over all batches.
    """
    out_dir = Path(out_dir)
    if images is None:
        images = random_images(model, 100, seed=1)
    images = np.asarray(images, dtype=np.float32)
    paths = export_all(
        model,
        out_dir / "artifacts",
        formats=formats,
        quantizations=quantizations,
        representative_data=images,
        report=False,
    )
    return check_artifacts_match_keras(model, paths, out_dir, images, batch_sizes)


def check_artifacts_match_keras(model, paths, out_dir, images, batch_sizes=BATCH_SIZES):
    """Asserts that written artifacts match `model` in fresh processes without keras_cvae.

    Args:
        model: `keras_cvae.VAE`, the model the artifacts were exported from.
        paths: `{label: path}` as `export_all` returns: the label picks the
            consumer script and the tolerance (`saved_model`, `onnx`,
            `tflite_<mode>`).
        out_dir: `pathlib.Path`. A folder for the inputs and outputs files.
        images: float32 images of the model's shape to compare on.
        batch_sizes: Batches to compare at.

    Returns:
        `{label: {signature: {output: max abs difference}}}` over all batches.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for label, path in paths.items():
        if label.startswith("tflite"):
            assert not non_builtin_operators(path), f"{label}: {non_builtin_operators(path)}"
            assert set(tflite_operators(path)) == set(SIGNATURES), label
    cases = []
    for batch in batch_sizes:
        inputs = example_inputs(
            model, np.resize(images[::-1], (batch, *model.image_shape)), seed=batch
        )
        references = {name: reference_outputs(model, name, inputs[name]) for name in SIGNATURES}
        path = out_dir / f"inputs_{batch}.npz"
        np.savez(
            path, **{f"{name}/{k}": v for name, values in inputs.items() for k, v in values.items()}
        )
        cases.append((batch, path, references, neighbour_references(model, inputs["sample"])))

    scripts = {"saved_model": "run_saved_model.py", "onnx": "run_onnx.py"}
    processes = {}
    for label, path in paths.items():
        script = scripts.get(label, "run_tflite.py")
        outputs = [out_dir / f"{label}_outputs_{batch}.npz" for batch, *_ in cases]
        command = script_command(
            script, path, "--inputs", *[p for _, p, *_ in cases], "--outputs", *outputs
        )
        # All runtimes at once: each is a separate process, so they overlap.
        processes[label] = (
            subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=script_env()
            ),
            outputs,
        )

    scale = {
        name: {k: float(np.max(np.abs(v))) for k, v in cases[-1][2][name].items()}
        for name in SIGNATURES
    }
    differences, failures = {}, []
    for label, (process, outputs) in processes.items():
        stdout, stderr = process.communicate()
        if process.returncode != 0:
            failures.append(f"{label}: the consumer script failed:\n{stdout}\n{stderr}")
            continue
        kind = tolerance_kind(label)
        differences[label] = {name: {} for name in SIGNATURES}
        for (batch, _, references, neighbours), output_path in zip(cases, outputs):
            with np.load(output_path) as data:
                got = {key: data[key] for key in data.files}
            for name in SIGNATURES:
                for key, reference in references[name].items():
                    value = got[f"{name}/{key}"]
                    where = f"{label} {name}/{key} batch {batch}"
                    if value.shape != reference.shape or value.dtype != np.float32:
                        failures.append(
                            f"{where}: shape {value.shape} {value.dtype}, expected {reference.shape}"
                        )
                        continue
                    error = np.abs(value - reference)
                    distance, other = neighbours
                    if name == "sample" and other is not None:
                        near = distance < BOUNDARY_SLACK[kind]
                        error[near] = np.minimum(error[near], np.abs(value - other)[near])
                    worst = float(error.max())
                    previous = differences[label][name].get(key, 0.0)
                    differences[label][name][key] = max(previous, worst)
                    if kind == "float32" and worst > FLOAT32_ATOL:
                        failures.append(f"{where}: max |diff| {worst:.2e} > {FLOAT32_ATOL}")
                    elif kind == "float16" and worst > FLOAT16_ATOL * max(
                            1.0, float(np.abs(reference).max())):
                        failures.append(f"{where}: max |diff| {worst:.2e} > {FLOAT16_ATOL} of "
                                        f"max(1, |output|)")
                    elif kind == "quantized":
                        s = max(scale[name][key], 1e-6)
                        mean_bound, max_bound = QUANTIZED[label]
                        if worst > max_bound * s or float(error.mean()) > mean_bound * s:
                            failures.append(
                                f"{where}: max |diff| {worst:.2e}, mean {float(error.mean()):.2e}; "
                                f"allowed {max_bound} and {mean_bound} of scale {s:.3g}"
                            )
    assert not failures, "\n".join(failures)
    return differences
