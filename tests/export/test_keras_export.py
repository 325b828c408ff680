"""`VAE.export(filepath, format=...)`, Keras's `Model.export`: the full artifacts, or a clear error.

Keras's own `Model.export` writes only `serve` (the reconstruction) and, for
LiteRT, enables Select-TF (Flex) ops that the pip LiteRT runtime cannot run.
`export_for_keras` (what `VAE.export` calls) writes every signature instead.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_cvae
from keras_cvae.export import SIGNATURES
from keras_cvae.export import export_for_keras
from keras_cvae.export._signatures import random_images

from tests.export.export_checks import check_artifacts_match_keras
from tests.export.export_checks import mixture_vae
from tests.export.export_checks import non_builtin_operators
from tests.export.export_checks import run_script
from tests.export.export_checks import script_module
from tests.export.export_checks import tflite_operators


@pytest.mark.parametrize(
    "filepath, arguments, message",
    [
        ("m", {"format": "openvino"},
         r"Expected one of 'tf_saved_model', 'litert', 'onnx'\. Received: format='openvino'"),
        ("m", {"format": "torch"}, r"Received: format='torch'"),
        ("m.tflite", {"format": "litert", "enable_select_tf_ops": True},
         r"'enable_select_tf_ops'.*Flex delegate.*Received: enable_select_tf_ops=True"),
        ("m.tflite", {"format": "litert", "allow_custom_ops": True},
         r"'allow_custom_ops'.*Received: allow_custom_ops=True"),
        ("m.tflite", {"format": "litert", "optimizations": ["DEFAULT"]},
         r"'optimizations'.*pass `quantization='dynamic'`"),
        ("m", {"format": "onnx", "quantization": "int8"},
         r"format='onnx'.*'quantization'\. It takes `opset_version`, `overwrite`"),
        ("m", {"format": "onnx", "opset": 17}, r"Keras's name for it is `opset_version`"),
        ("m", {"format": "onnx", "opset_version": 12},
         r"Expected an integer >= 13\. Received: opset_version=12"),
        ("m", {"is_static": True}, r"format='tf_saved_model'.*Received: is_static=True"),
        ("m", {"input_signature": [tf.TensorSpec((None, 8, 8, 1))]},
         r"Invalid value for argument `input_signature`\. Expected None"),
        ("m", {"verbose": "yes"}, r"Received: verbose='yes'"),
        ("m", {"format": "litert"}, r"ending in '\.tflite'.*Received: filepath='.*/m'"),
        ("m.onnx", {"format": "onnx"},
         r"Expected a folder for format='onnx'.*<filepath>/<signature>\.onnx"),
        ("m.tflite", {"format": "litert", "quantization": "int8"},
         r"pass `representative_data`"),
        ("m", {"overwrite": "no"}, r"Received: overwrite='no'"),
    ],
)
def test_bad_arguments_write_nothing(vae, tmp_path, filepath, arguments, message):
    with pytest.raises(ValueError, match=message):
        export_for_keras(vae, tmp_path / filepath, **arguments)
    assert os.listdir(tmp_path) == []


def test_model_must_be_a_vae(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"Expected a `keras_cvae.VAE`"):
        export_for_keras(model, tmp_path / "m")


def test_vae_export_writes_every_signature(vae, tmp_path, capsys):
    """`vae.export(...)` is `export_for_keras`, not Keras's `serve`-only export."""
    path = tmp_path / "vae"
    result = vae.export(path)  # format="tf_saved_model", verbose=None: prints, as Keras does
    assert result == str(path)
    assert "Saved artifact at" in capsys.readouterr().out
    loaded = tf.saved_model.load(str(path))
    assert set(loaded.signatures) == {*SIGNATURES, "serving_default", "serve"}
    assert script_module("consumer").verify(path) == (str(path / "manifest.json"), 4)


def test_saved_model_works_as_keras_export(vae, tmp_path, capsys):
    """`.serve(images)` and `keras.layers.TFSMLayer(path)`, as for Keras's own export; overwrite."""
    path = export_for_keras(vae, tmp_path / "vae", verbose=False)
    assert capsys.readouterr().out == ""
    images = random_images(vae, 3)
    expected = np.asarray(vae(images))
    loaded = tf.saved_model.load(path)
    np.testing.assert_allclose(loaded.serve(images).numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(np.asarray(keras.layers.TFSMLayer(path)(images)), expected,
                               atol=1e-6)
    outputs = loaded.signatures["serving_default"](images=tf.constant(images))
    np.testing.assert_allclose(outputs["x_mean"].numpy(), expected, atol=1e-6)

    with pytest.raises(FileExistsError, match=r"already exists. Pass `overwrite=True`"):
        export_for_keras(vae, path, verbose=False)  # unlike Keras's export: never by default
    export_for_keras(vae, path, verbose=False, overwrite=True)


def test_litert_is_builtin_only(tmp_path):
    """int8 with a fitted mixture: four signatures, no Flex or custom op; runs in LiteRT."""
    from ai_edge_litert.interpreter import Interpreter

    model = mixture_vae(seed=7)
    images = random_images(model, 100, seed=8)
    path = export_for_keras(
        model, tmp_path / "vae.tflite", format="litert", verbose=False, quantization="int8",
        representative_data=images, enable_select_tf_ops=False,
    )
    assert set(tflite_operators(path)) == set(SIGNATURES)
    assert non_builtin_operators(path) == {}
    sample = Interpreter(model_path=path).get_signature_runner("sample")
    outputs = sample(
        z_noise=np.zeros((2, model.latent_dim), np.float32),
        pixel_noise=np.zeros((2, *model.image_shape), np.float32),
        temperature=np.ones(2, np.float32),
        z_uniform=np.full(2, 0.5, np.float32),
    )
    assert outputs["images"].shape == (2, *model.image_shape)


@pytest.mark.slow
def test_every_format_matches_keras_in_a_fresh_process(tmp_path):
    """Each format written by `export_for_keras`, run by the consumer scripts without keras_cvae.

    A full-posterior model with a fitted 3-component mixture prior, so
    `sample` picks components by `z_uniform`; batches 1, 3 and 17.
    """
    model = mixture_vae(seed=9)
    images = random_images(model, 20, seed=10)
    paths = {
        "saved_model": export_for_keras(model, tmp_path / "saved_model", verbose=False),
        "tflite_float32": export_for_keras(
            model, tmp_path / "vae.tflite", format="litert", verbose=False
        ),
        "onnx": export_for_keras(model, tmp_path / "onnx", format="onnx", verbose=False),
    }
    assert sorted(os.listdir(paths["onnx"])) == sorted(
        [*(f"{name}.onnx" for name in SIGNATURES), "manifest.json"]
    )
    differences = check_artifacts_match_keras(model, paths, tmp_path / "checks", images)
    assert set(differences) == set(paths)
    assert all(set(signatures) == set(SIGNATURES) for signatures in differences.values())

    # Keras's endpoint `serve`, with TensorFlow only.
    inputs, outputs = tmp_path / "serve_inputs.npz", tmp_path / "serve_outputs.npz"
    np.savez(inputs, **{"serve/images": images})
    run_script("run_saved_model.py", paths["saved_model"], "--signature", "serve",
               "--inputs", inputs, "--outputs", outputs)
    with np.load(outputs) as data:
        np.testing.assert_allclose(data["serve/output_0"], np.asarray(model(images)), atol=1e-5)


def test_keras_cvae_export_names_it():
    assert keras_cvae.export.export_for_keras is export_for_keras
