"""The 28×28 grayscale and 16×16 RGB paths end to end: train, evaluate, card, load, export.

Each runs the zoo trainer on a whole embedded dataset (`mnist5k`, `photo_patches`)
with the registered preset's architecture made tiny, for one epoch, then
exports the written preset and compares every signature with Keras.
"""

import json
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_cvae
from keras_cvae.export import export_all
from keras_cvae.training import TrainingConfig
from keras_cvae.training import train
from keras_cvae.training import trainer

TINY = {"channels": 4, "bottleneck_channels": 4, "depth": 1, "latent_dim": 2}
CASES = {
    # preset: (dataset, image shape, train / test sizes)
    "mnist5k_basic": ("mnist5k", (28, 28, 1), (4000, 1000)),
    "photo_patches_bottleneck": ("photo_patches", (16, 16, 3), (11246, 2080)),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def trained(request, tmp_path_factory):
    name = request.param
    preset_dir = str(tmp_path_factory.mktemp(name) / "preset")
    config = TrainingConfig(name, epochs=1, batch_size=64, learning_rate=3e-3, warmup_epochs=0,
                            num_samples=2, prior_components=2, overrides=TINY)
    fitted = []  # (the model that trained, data, record)
    fit = trainer._fit
    with pytest.MonkeyPatch.context() as patch:  # the recorded checks, smaller
        patch.setattr(trainer, "SAMPLE_QUALITY_SAMPLES", 100)
        patch.setattr(trainer, "CHECK_NUM_SAMPLES", 2)
        patch.setattr(trainer, "PRIOR_SAMPLES_PER_IMAGE", 1)
        patch.setattr(trainer, "_fit", lambda *args, **kwargs: fitted.append(fit(*args, **kwargs))
                      or fitted[-1])
        metadata = train(config, preset_dir, verbose=0)
    return name, preset_dir, metadata, fitted[0][0]


def test_training_records_the_dataset_and_metrics_better_than_untrained(trained):
    name, preset_dir, metadata, _ = trained
    dataset, shape, (num_train, num_test) = CASES[name]
    assert metadata["input_shape"] == list(shape) and metadata["intensity_levels"] == 256
    assert metadata["dataset"]["name"] == dataset
    assert (metadata["dataset"]["num_train"], metadata["dataset"]["num_test"]) == (num_train, num_test)
    bits = metadata["metrics"]["bits_per_dim"]
    untrained = keras_cvae.VAE.from_preset(preset_dir, load_weights=False)
    test = np.concatenate(list(keras_cvae.datasets.load(dataset, "test", batch_size=512)))
    before = keras_cvae.evaluate_density(untrained, test, intensity_levels=256, num_samples=2,
                                         verbose=0)["bits_per_dim"]
    assert math.isfinite(bits) and 0 < bits < before
    assert json.load(open(os.path.join(preset_dir, "metadata.json")))["metrics"] == metadata["metrics"]
    for image in ("samples.png", "reconstructions.png"):
        png = tf.io.decode_png(tf.io.read_file(os.path.join(preset_dir, image))).numpy()
        assert png.shape[-1] == shape[-1] and png.std() > 0


def test_the_preset_loads_and_exports_matching_keras(trained, tmp_path):
    name, preset_dir, _, _ = trained
    vae = keras_cvae.VAE.from_preset(preset_dir)
    assert vae.image_shape == CASES[name][1]
    assert vae.decoder.mean_activation == "sigmoid"
    images = keras_cvae.datasets.load(CASES[name][0], "test", batch_size=32)
    paths = export_all(vae, tmp_path / "export", formats=("saved_model", "tflite"),
                       quantizations=(None,), representative_data=images, report_repeats=1,
                       verbose=False)
    report = json.load(open(paths["report"]))
    for label in ("saved_model", "tflite_float32"):
        differences = report["artifacts"][label]["max_abs_diff"]
        for signature, outputs in differences.items():
            assert max(outputs.values()) < 1e-4, (label, signature, outputs)
    sample = vae.sample(4, seed=0)
    assert np.asarray(sample).shape == (4, *CASES[name][1])


def _batchnorm_momenta(model):
    return {layer.momentum for layer in model._flatten_layers()
            if isinstance(layer, keras.layers.BatchNormalization)}


def test_training_monitors_with_fast_moving_averages_and_the_preset_keeps_its_momentum(trained):
    """`val_loss` and the per-epoch images follow the weights; the published config is the preset's."""
    name, preset_dir, _, training_model = trained
    assert _batchnorm_momenta(training_model) == {trainer.MONITORING_BATCHNORM_MOMENTUM}
    registered = _batchnorm_momenta(keras_cvae.VAE.from_preset(name, load_weights=False))
    assert registered == {0.99} and _batchnorm_momenta(keras_cvae.VAE.from_preset(preset_dir)) == registered
