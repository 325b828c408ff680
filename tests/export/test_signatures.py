"""What each runtime does with right and wrong inputs, and `sample`'s noise inputs."""

import os
import shutil
import subprocess
import sys

import numpy as np
import onnxruntime
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from keras_cvae.export._signatures import example_inputs
from keras_cvae.export._signatures import random_images
from keras_cvae.export._signatures import reference_outputs
from tests.export.export_checks import SCRIPTS
from tests.export.export_checks import non_builtin_operators
from tests.export.export_checks import run_script
from tests.export.export_checks import script_module
from tests.export.export_checks import script_env
from tests.export.export_checks import tflite_operators


def test_script_runs_from_another_folder(artifacts, tmp_path):
    """`python export/run_onnx.py ...` from any folder: Python finds `consumer.py` beside it."""
    _, paths = artifacts
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "run_onnx.py"), paths["onnx"], "--signature", "decode"],
        capture_output=True, text=True, env=script_env(), cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # The folder (every file its manifest lists there), then each file loaded.
    assert lines[0].startswith(f"verified: {paths['onnx']} (4 files, ")
    assert lines[1].startswith(f"verified: {paths['onnx']}{os.sep}decode.onnx (1 file, ")
    assert lines[5] == "decode: inputs {'z': (-1, 4)}"  # after the four files verified
    assert lines[6].startswith("  decode/x_mean: shape (2, 8, 8, 1), mean ")


def test_saved_model_signatures(artifacts):
    model, paths = artifacts
    signatures = tf.saved_model.load(paths["saved_model"]).signatures
    assert set(signatures) == {"encode", "decode", "reconstruct", "sample", "serving_default"}
    expected = {
        "encode": (
            {"images": [None, 8, 8, 1]},
            {"z_mean": [None, 4], "z_scale_tril": [None, 4, 4]},
        ),
        "decode": ({"z": [None, 4]}, {"x_mean": [None, 8, 8, 1], "x_scale": [None, 1, 1, 1]}),
        "reconstruct": ({"images": [None, 8, 8, 1]}, {"x_mean": [None, 8, 8, 1]}),
        "serving_default": ({"images": [None, 8, 8, 1]}, {"x_mean": [None, 8, 8, 1]}),
        "sample": (
            {
                "z_noise": [None, 4],
                "pixel_noise": [None, 8, 8, 1],
                "temperature": [None],
                "z_uniform": [None],
            },
            {"images": [None, 8, 8, 1]},
        ),
    }
    for name, (inputs, outputs) in expected.items():
        fn = signatures[name]
        assert {k: s.shape.as_list() for k, s in fn.structured_input_signature[1].items()} == inputs
        assert {k: s.shape.as_list() for k, s in fn.structured_outputs.items()} == outputs
        assert all(s.dtype == tf.float32 for s in fn.structured_input_signature[1].values())


def test_wrong_inputs_saved_model(artifacts):
    _, paths = artifacts
    encode = tf.saved_model.load(paths["saved_model"]).signatures["encode"]
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"Shape of tensor images \[2,9,9,1\] is not compatible with expected shape \[\?,8,8,1\]",
    ):
        encode(images=tf.zeros((2, 9, 9, 1)))
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="expected to be a float tensor but is a double tensor"
    ):
        encode(images=tf.zeros((2, 8, 8, 1), tf.float64))
    with pytest.raises(TypeError, match="missing a required argument: 'images'"):
        encode(image=tf.zeros((2, 8, 8, 1)))


def test_wrong_inputs_tflite(artifacts, tmp_path):
    _, paths = artifacts
    run_tflite, consumer = script_module("run_tflite"), script_module("consumer")
    _, runners = run_tflite.load(paths["tflite_float32"])
    details = {name: run_tflite.input_details(runner) for name, runner in runners.items()}
    with pytest.raises(
        ValueError,
        match=r"expects input 'images' of shape \('batch', 8, 8, 1\)\. Received: shape \(2, 9, 9, 1\)",
    ):
        consumer.check_inputs(
            "encode", {"images": np.zeros((2, 9, 9, 1), np.float32)}, details["encode"]
        )
    with pytest.raises(
        ValueError, match="expects input 'z' of dtype float32. Received: dtype float64"
    ):
        consumer.check_inputs("decode", {"z": np.zeros((2, 4))}, details["decode"])
    # LiteRT itself rejects the dtype, and fails (less clearly) on the shape.
    with pytest.raises(ValueError, match="Got value of type FLOAT64 but expected type FLOAT32"):
        runners["decode"](z=np.zeros((2, 4)))
    with pytest.raises(RuntimeError):
        runners["encode"](images=np.zeros((2, 9, 9, 1), np.float32))

    np.savez(tmp_path / "bad.npz", **{"encode/images": np.zeros((2, 8, 8), np.float32)})
    result = run_script(
        "run_tflite.py", paths["tflite_float32"], "--inputs", tmp_path / "bad.npz", check=False
    )
    assert result.returncode == 2
    assert (
        "error: Signature 'encode' expects input 'images' of shape ('batch', 8, 8, 1)"
        in result.stderr
    )


def test_wrong_inputs_onnx(artifacts):
    _, paths = artifacts
    session = onnxruntime.InferenceSession(
        f"{paths['onnx']}/encode.onnx", providers=["CPUExecutionProvider"]
    )
    with pytest.raises(
        Exception, match=r"(?s)Got invalid dimensions for input: images .*Got: 9 Expected: 8"
    ):
        session.run(None, {"images": np.zeros((2, 9, 9, 1), np.float32)})
    with pytest.raises(
        Exception,
        match=r"(?s)Unexpected input data type.*tensor\(double\).*expected: \(tensor\(float\)\)",
    ):
        session.run(None, {"images": np.zeros((2, 8, 8, 1))})


@pytest.mark.parametrize("fixture", ["artifacts", "mixture_artifacts"])
def test_sample_same_noise_same_images_everywhere(fixture, request):
    """`sample` fed the noise `vae.sample` draws gives `vae.sample`'s images, in every runtime.

    With the standard prior and with a fitted mixture (whose component is
    picked by `z_uniform`).
    """
    model, paths = request.getfixturevalue(fixture)
    seed, temperature, n = 7, 0.8, 5
    # VAE.sample(seed=int): the prior's noise N(0, I) from the pair [seed, 0] (a mixture's
    # uniform noise from the pair folded in with the int32 1); pixel noise from the pair
    # folded in with the int64 -1.
    pair = tf.constant([seed, 0], tf.int64)
    fold_in = tf.random.experimental.stateless_fold_in
    z_noise = tf.random.stateless_normal((n, model.latent_dim), pair).numpy()
    z_uniform = tf.random.stateless_uniform((n,), fold_in(pair, 1)).numpy()
    pixel_noise = tf.random.stateless_normal(
        (n, *model.image_shape), fold_in(pair, tf.constant(-1, tf.int64))
    ).numpy()
    expected = model.sample(n, seed=seed, temperature=temperature, add_noise=True).numpy()
    inputs = {
        "z_noise": z_noise,
        "pixel_noise": pixel_noise,
        "temperature": np.full((n,), temperature, np.float32),
        "z_uniform": z_uniform,
    }
    np.testing.assert_allclose(
        reference_outputs(model, "sample", inputs)["images"], expected, atol=1e-6
    )

    results = {}
    sample = tf.saved_model.load(paths["saved_model"]).signatures["sample"]
    results["saved_model"] = sample(**{k: tf.constant(v) for k, v in inputs.items()})[
        "images"
    ].numpy()
    runner = Interpreter(model_path=paths["tflite_float32"]).get_signature_runner("sample")
    results["tflite"] = runner(**inputs)["images"]
    session = onnxruntime.InferenceSession(
        f"{paths['onnx']}/sample.onnx", providers=["CPUExecutionProvider"]
    )
    results["onnx"] = session.run(["images"], inputs)[0]
    for runtime, images in results.items():
        np.testing.assert_allclose(images, expected, atol=1e-5, err_msg=runtime)
    # Zero pixel noise and unit temperature: the decoder mean g(z) at the prior's z.
    zero = {
        **inputs,
        "pixel_noise": np.zeros_like(pixel_noise),
        "temperature": np.ones((n,), np.float32),
    }
    z = model.prior.sample_from_noise(z_noise, z_uniform)
    np.testing.assert_allclose(runner(**zero)["images"], model.decode(z)[0], atol=1e-5)


def test_standard_prior_ignores_z_uniform(artifacts):
    model, paths = artifacts
    inputs = example_inputs(model, random_images(model, 4))["sample"]
    runner = Interpreter(model_path=paths["tflite_float32"]).get_signature_runner("sample")
    first = runner(**inputs)["images"]
    other = runner(**{**inputs, "z_uniform": 1 - inputs["z_uniform"]})["images"]
    np.testing.assert_array_equal(other, first)


def test_scripts_draw_z_uniform_from_the_seed(mixture_artifacts, tmp_path):
    """Random inputs include `z_uniform`; a file without it (written before it existed) runs."""
    model, paths = mixture_artifacts
    listed = run_script("run_onnx.py", paths["onnx"], "--signature", "sample").stdout
    assert listed.splitlines()[5] == (
        "sample: inputs {'z_noise': (-1, 4), 'pixel_noise': (-1, 8, 8, 1), "
        "'temperature': (-1,), 'z_uniform': (-1,)}"
    )
    inputs = example_inputs(model, random_images(model, 3))["sample"]
    given = {key: value for key, value in inputs.items() if key != "z_uniform"}
    np.savez(tmp_path / "in.npz", **{f"sample/{key}": value for key, value in given.items()})
    result = run_script(
        "run_tflite.py", paths["tflite_float32"], "--inputs", tmp_path / "in.npz",
        "--outputs", tmp_path / "out.npz", "--seed", 3,
    )
    message = f"sample: z_uniform not in {tmp_path / 'in.npz'}: drawn from --seed 3"
    assert message in result.stdout
    z_uniform = np.random.default_rng(3).uniform(size=3).astype(np.float32)
    expected = reference_outputs(model, "sample", {**given, "z_uniform": z_uniform})["images"]
    np.testing.assert_allclose(
        np.load(tmp_path / "out.npz")["sample/images"], expected, atol=1e-5
    )


def _component_means(model):
    """`g(μ_k)` per component, `(K, pixels)`: `sample` with zero noise at `T = 1`."""
    _, means, _ = model.prior.parameters()
    return np.asarray(model.decode(means)[0]).reshape(len(means), -1)


def test_mixture_sample_picks_the_keras_component(mixture_artifacts):
    """Every runtime picks the component Keras picks, also for `z_uniform` at a boundary.

    `z_noise = 0` and `pixel_noise = 0` make `sample` return `g(μ_k)`; `u` runs
    over the cumulative weights `c_k` (component `k + 1` from `u = c_k` on)
    and the float32 numbers next to them.
    """
    model, paths = mixture_artifacts
    weights, _, _ = model.prior.parameters()
    cumulative = np.cumsum(weights, dtype=np.float32)[:-1]
    boundaries = np.concatenate(
        [cumulative, np.nextafter(cumulative, 0), np.nextafter(cumulative, 1)]
    )
    u = np.concatenate(
        [boundaries, np.linspace(0, 1, 41, endpoint=False),
         [np.nextafter(np.float32(1), np.float32(0))]]
    ).astype(np.float32)
    n = len(u)
    inputs = {
        "z_noise": np.zeros((n, model.latent_dim), np.float32),
        "pixel_noise": np.zeros((n, *model.image_shape), np.float32),
        "temperature": np.ones((n,), np.float32),
        "z_uniform": u,
    }
    expected_component = np.searchsorted(cumulative, u, side="right")
    component_images = _component_means(model)
    assert len(set(expected_component)) == len(weights)  # every component is picked
    keras_images = reference_outputs(model, "sample", inputs)["images"]
    np.testing.assert_allclose(
        keras_images.reshape(n, -1), component_images[expected_component], atol=1e-6
    )

    runner = Interpreter(model_path=paths["tflite_float32"]).get_signature_runner("sample")
    session = onnxruntime.InferenceSession(
        f"{paths['onnx']}/sample.onnx", providers=["CPUExecutionProvider"]
    )
    sample = tf.saved_model.load(paths["saved_model"]).signatures["sample"]
    results = {
        "saved_model": sample(**{k: tf.constant(v) for k, v in inputs.items()})["images"].numpy(),
        "tflite": runner(**inputs)["images"],
        "onnx": session.run(["images"], inputs)[0],
    }
    for runtime, images in results.items():
        np.testing.assert_allclose(images, keras_images, atol=1e-5, err_msg=runtime)


def test_tflite_builtin_ops_only(artifacts, mixture_artifacts):
    """No Select-TF (Flex) or custom ops; the mixture's choice is a comparison and matmuls."""
    for _, paths in (artifacts, mixture_artifacts):
        assert non_builtin_operators(paths["tflite_float32"]) == {}
    standard = set(tflite_operators(artifacts[1]["tflite_float32"])["sample"])
    mixture = set(tflite_operators(mixture_artifacts[1]["tflite_float32"])["sample"])
    assert "GREATER_EQUAL" in mixture and "GREATER_EQUAL" not in standard
    assert not {"MULTINOMIAL", "RANDOM_UNIFORM", "RANDOM_STANDARD_NORMAL"} & (mixture | standard)


def test_saved_model_cli_show_and_run(artifacts, tmp_path):
    model, paths = artifacts
    # Installed with tensorflow, beside this Python.
    cli = shutil.which("saved_model_cli", path=os.path.dirname(sys.executable)) or shutil.which(
        "saved_model_cli"
    )
    assert cli, "saved_model_cli (installed with tensorflow) not found"
    env = script_env()
    shown = subprocess.run(
        [cli, "show", "--dir", paths["saved_model"], "--all"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert shown.returncode == 0, shown.stderr
    for name in ("encode", "decode", "reconstruct", "sample", "serving_default"):
        assert f"signature_def['{name}']" in shown.stdout
    assert "inputs['pixel_noise'] tensor_info:" in shown.stdout

    images = random_images(model, 3)
    np.save(tmp_path / "images.npy", images)
    ran = subprocess.run(
        [
            cli,
            "run",
            "--dir",
            paths["saved_model"],
            "--tag_set",
            "serve",
            "--signature_def",
            "encode",
            "--inputs",
            f"images={tmp_path / 'images.npy'}",
            "--outdir",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert ran.returncode == 0, ran.stderr
    expected = reference_outputs(model, "encode", example_inputs(model, images)["encode"])
    np.testing.assert_allclose(
        np.load(tmp_path / "out" / "z_mean.npy"), expected["z_mean"], atol=1e-5
    )
