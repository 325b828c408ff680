"""Every format, every signature, batch 1/3/17, run in a process without keras_cvae."""

import keras
import numpy as np
import pytest

import keras_cvae
from ai_edge_litert.interpreter import Interpreter

from keras_cvae.export import export_tflite
from keras_cvae.export._signatures import random_images

from tests.export.export_checks import CONFIGS
from tests.helpers import digits
from tests.export.export_checks import mixture_vae
from tests.export.export_checks import tiny_vae
from tests.export.export_checks import check_export_matches_keras


# The full posterior in every TFLite variant; the other configurations in float32 (the
# quantized variants of diagonal posteriors: the pretrained and mixture tests below).
QUANTIZED_CONFIG = "basic-full-constant"


@pytest.mark.slow
@pytest.mark.parametrize("config", list(CONFIGS))
def test_fresh_model_every_format(config, tmp_path, images):
    quantizations = None if config == QUANTIZED_CONFIG else (None,)
    differences = check_export_matches_keras(tiny_vae(*CONFIGS[config]), tmp_path, images,
                                             quantizations=quantizations)
    quantized = {"tflite_float16", "tflite_dynamic", "tflite_int8"}
    assert set(differences) == {"saved_model", "tflite_float32", "onnx"} | (
        quantized if config == QUANTIZED_CONFIG else set())


@pytest.mark.slow
def test_mixture_prior_every_format(tmp_path, images):
    """`sample` draws from a fitted mixture: the component from `z_uniform`, in every format."""
    model = mixture_vae("bottleneck", "diagonal", "linear", seed=6)
    assert model.prior.num_components == 3
    differences = check_export_matches_keras(model, tmp_path, images)
    assert set(differences) == {
        "saved_model", "tflite_float32", "tflite_float16", "tflite_dynamic", "tflite_int8", "onnx",
    }


@pytest.mark.slow
def test_pretrained_preset_every_format(tmp_path):
    """The full-covariance digits preset, as shipped: loaded, never called, exported."""
    model = keras_cvae.VAE.from_preset("digits_basic_full")
    differences = check_export_matches_keras(model, tmp_path, digits("train")[:200])
    assert set(differences) >= {"saved_model", "tflite_float32", "tflite_int8", "onnx"}


def test_model_loaded_from_keras_file(tmp_path):
    model = tiny_vae("bottleneck", "full", "linear", seed=3)
    model.save(tmp_path / "vae.keras")
    loaded = keras.models.load_model(tmp_path / "vae.keras")
    path = export_tflite(loaded, tmp_path / "vae.tflite")

    runner = Interpreter(model_path=str(path)).get_signature_runner("encode")
    images = random_images(model, 5)
    z_mean, z_scale_tril = model.encode(images)  # the original model, not the loaded one
    outputs = runner(images=images)
    np.testing.assert_allclose(outputs["z_mean"], z_mean, atol=1e-5)
    np.testing.assert_allclose(outputs["z_scale_tril"], z_scale_tril, atol=1e-5)
