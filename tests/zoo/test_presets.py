"""The zoo: every registered preset builds, trains a step, round-trips; pretrained ones reproduce."""

import inspect
import json
import math
import os
import shutil

import keras
import numpy as np
import pytest

import keras_cvae
from keras_cvae.training.model_card import BASELINES
from keras_cvae.zoo import PRESETS
from keras_cvae.zoo import preset_lookup
from keras_cvae.zoo import registry
from keras_cvae.zoo.preset_io import save_to_preset
from keras_cvae.zoo.preset_io import sha256

PRETRAINED = [name for name, entry in PRESETS.items() if entry["pretrained"]]
# A recorded quick check (K = 16, seed 0) must be reproduced within these on
# any CPU: differences come only from float32 summation order.
ELBO_ATOL_NATS = 0.05
BITS_ATOL = 2e-3


def _metadata(name):
    return json.load(open(os.path.join(registry.preset_directory(name), "metadata.json")))


def _images(image_shape, levels, n, seed=0):
    v = np.random.default_rng(seed).integers(0, levels, size=(n, *image_shape))
    return (v / (levels - 1)).astype("float32")


def _outputs(model, images):
    return np.asarray(model(images)), np.asarray(model.sample(3, seed=1)), np.asarray(
        model.elbo(images, seed=2)["elbo"])


def _test_split(metadata):
    """The preset's test split as one array `v / (L - 1)`, as the trainer evaluated it."""
    batches = keras_cvae.datasets.load(metadata["dataset"]["name"], "test", batch_size=512)
    return np.concatenate(list(batches.as_numpy_iterator()))


def test_listing():
    listing = keras_cvae.list_presets()
    assert listing == keras_cvae.VAE.presets and set(listing) == set(PRESETS)
    for name, entry in listing.items():
        metadata = json.load(open(os.path.join(registry.preset_directory(name), "metadata.json")))
        assert entry["parameter_count"] == metadata["parameter_count"] > 0
        assert entry["input_shape"] == tuple(metadata["input_shape"])
        assert entry["description"] and entry["dataset"]
        has_weights = os.path.exists(os.path.join(registry.preset_directory(name), "model.weights.h5"))
        assert entry["pretrained"] == has_weights == (metadata["weights"] is not None)
        if not entry["pretrained"]:
            assert "keras-cvae train --preset" in entry["weights"]


def test_registry_holds_metadata_and_the_architecture_lives_in_config_json():
    for name, entry in PRESETS.items():
        assert set(entry) == {"description", "dataset", "pretrained", "training"}, name
        metadata = _metadata(name)
        assert "architecture" not in metadata  # config.json is the only description
        config = keras_cvae.zoo.read_config(name)
        image_shape = config["config"]["decoder"]["config"]["image_shape"]
        assert image_shape == metadata["input_shape"]


def test_the_architecture_summary_knows_the_decoders_default_min_scale():
    default = inspect.signature(keras_cvae.GaussianDecoder).parameters["min_scale"].default
    assert default == preset_lookup.DEFAULT_MIN_SCALE
    config = keras_cvae.zoo.read_config("mnist5k_basic")
    assert "≥" not in preset_lookup.architecture_summary(config)
    decoder = config["config"]["decoder"]["config"]
    decoder.update(min_scale=0.01, residual_rank=32)
    assert ("linear_per_pixel σ ≥ 0.01 with rank-32 correlated noise"
            in preset_lookup.architecture_summary(config))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_builds_trains_and_round_trips(name, tmp_path):
    entry = PRESETS[name]
    model = keras_cvae.VAE.from_preset(name, load_weights=entry["pretrained"])
    metadata = _metadata(name)
    assert model.image_shape == tuple(metadata["input_shape"])
    assert model.count_params() == metadata["parameter_count"]
    if entry["pretrained"]:
        # The KL warm-up is set in steps by training: warm-up epochs times batches per epoch.
        training = entry["training"]
        batches = math.ceil(metadata["dataset"]["num_train"] / training["batch_size"])
        assert model.kl_warmup_steps == math.ceil(training["warmup_epochs"] * batches)
        assert model.seed == metadata["training"]["seed"] == training["seed"]

    images = _images(model.image_shape, metadata["intensity_levels"],
                     2 if np.prod(model.image_shape) > 100 else 8)
    assert model(images).shape == images.shape
    model.save_to_preset(tmp_path / "saved")
    clone = keras_cvae.VAE.from_preset(str(tmp_path / "saved"))
    for a, b in zip(_outputs(model, images), _outputs(clone, images)):
        np.testing.assert_array_equal(a, b)

    model.compile(optimizer=keras.optimizers.Adam(1e-4), jit_compile=False)  # XLA: slow to compile
    logs = model.train_on_batch(images, return_dict=True)
    assert np.isfinite(logs["loss"])


@pytest.mark.parametrize("name", PRETRAINED)
def test_pretrained_preset_reproduces_its_metrics(name):
    model = keras_cvae.VAE.from_preset(name)
    metadata = _metadata(name)
    check = metadata["check_metrics"]
    num_test = metadata["dataset"]["num_test"]
    num_images = check.get("num_images", num_test)  # the first ones (presets before: all)
    results = keras_cvae.evaluate_density(
        model, _test_split(metadata)[:num_images], intensity_levels=metadata["intensity_levels"],
        num_samples=check["num_samples"], seed=check["seed"], verbose=0)
    assert results["negative_elbo"] == pytest.approx(check["negative_elbo_nats"], abs=ELBO_ATOL_NATS)
    assert results["bits_per_dim"] == pytest.approx(check["bits_per_dim"], abs=BITS_ATOL)
    full = metadata["metrics"]
    assert full["num_samples"] >= 100 and full["split"] == "test"
    if num_images == num_test:  # K = 16 is a looser bound than the recorded K = 1000 (or 100)
        assert full["bits_per_dim"] <= results["bits_per_dim"] <= full["bits_per_dim"] + 0.5


@pytest.mark.parametrize("name", PRETRAINED)
def test_pretrained_preset_ships_a_fitted_prior_that_beats_the_standard_one(name):
    model = keras_cvae.VAE.from_preset(name)
    metadata = _metadata(name)
    assert type(model.prior).__name__ == metadata["prior"]["type"] == "GaussianMixturePrior"
    assert model.prior.num_components == metadata["prior"]["num_components"]
    metrics = metadata["metrics"]
    assert metrics["bits_per_dim"] < metrics["standard_prior"]["bits_per_dim"]


def test_the_mnist_and_photo_presets_beat_their_pixel_baselines():
    mnist = _metadata("mnist5k_basic")["metrics"]
    assert mnist["num_samples"] == 1000 and mnist["bits_per_dim"] <= 2.0
    assert mnist["bits_per_dim"] < min(bits for _, _, bits in BASELINES["mnist5k"]) - 2
    photo = _metadata("photo_patches_bottleneck")["metrics"]
    full_covariance = dict((name.split(" (")[0], bits) for name, _, bits in BASELINES["photo_patches"])
    assert photo["bits_per_dim"] < full_covariance["full-covariance Gaussian"]


def test_best_digits_preset_samples_look_like_the_data_and_are_not_copies():
    """Issue's bar: the default samples' score at least the real test images', not copies."""
    from keras_cvae.training.sample_quality import digits_judge
    from keras_cvae.training.sample_quality import digits_splits
    from keras_cvae.training.sample_quality import sample_quality

    digits = [name for name in PRETRAINED if PRESETS[name]["dataset"] == "digits"]
    best = min(digits, key=lambda name: _metadata(name)["metrics"]["bits_per_dim"])
    recorded = _metadata(best)["sample_quality"]
    train, test = digits_splits()
    quality = sample_quality(keras_cvae.VAE.from_preset(best), digits_judge(recorded["seed"]),
                             train, test, num_samples=recorded["num_samples"],
                             seed=recorded["seed"])
    assert quality["score"] == pytest.approx(recorded["fitted"]["score"], rel=0.02)
    assert quality["score"] >= recorded["real_test_images"]["score"]
    assert quality["nearest_distance_ratio"] >= 0.9


def test_unknown_name_lists_known_presets():
    with pytest.raises(ValueError, match="Unknown preset 'resnet50'.*digits_basic.*mnist_basic"):
        keras_cvae.VAE.from_preset("resnet50")


@pytest.mark.parametrize("name", [n for n, entry in PRESETS.items() if not entry["pretrained"]])
def test_architecture_only_preset_says_how_to_train(name):
    with pytest.raises(ValueError, match=f"ships no weights.*keras-cvae train --preset {name} --dataset"):
        keras_cvae.VAE.from_preset(name)


@pytest.fixture
def small_preset(tmp_path):
    conv_net = {"block": "basic", "depth": 1, "channels": 4}
    model = keras_cvae.VAE(keras_cvae.GaussianEncoder(3, conv_net),
                           keras_cvae.GaussianDecoder((8, 8, 1), conv_net), seed=0)
    model.save_to_preset(tmp_path / "small")
    return model, tmp_path / "small"


def test_save_is_atomic_and_refuses_to_overwrite(small_preset, tmp_path):
    model, directory = small_preset
    assert sorted(os.listdir(directory)) == ["config.json", "metadata.json", "model.weights.h5"]
    metadata = json.load(open(directory / "metadata.json"))
    for key in ("keras_version", "tensorflow_version", "keras_cvae_version", "parameter_count",
                "input_shape", "weights"):
        assert key in metadata
    assert len(metadata["weights"]["sha256"]) == 64
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save_to_preset(directory)
    model.save_to_preset(directory, overwrite=True)
    assert os.listdir(tmp_path) == ["small"]  # no staging folders left behind
    # A save that fails half-way (after the weights) leaves the previous preset as it was.
    before = {name: (directory / name).read_bytes() for name in os.listdir(directory)}
    with pytest.raises(ValueError, match="Invalid extra preset file name"):
        save_to_preset(model, directory, overwrite=True, files={"../escape.txt": "x"})
    assert {name: (directory / name).read_bytes() for name in os.listdir(directory)} == before
    assert os.listdir(tmp_path) == ["small"]


def test_corrupt_weights_are_refused(small_preset):
    _, directory = small_preset
    weights = directory / "model.weights.h5"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        keras_cvae.VAE.from_preset(str(directory))


def test_truncated_weights_are_refused(small_preset):
    _, directory = small_preset
    weights = directory / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ValueError, match="SHA-256.*truncated"):
        keras_cvae.VAE.from_preset(str(directory))
    # Even with a matching hash (metadata rewritten), a truncated file never loads.
    metadata = json.load(open(directory / "metadata.json"))
    metadata["weights"]["sha256"] = sha256(weights)
    json.dump(metadata, open(directory / "metadata.json", "w"))
    with pytest.raises(ValueError, match="Cannot read the weights file"):
        keras_cvae.VAE.from_preset(str(directory))


def test_config_of_another_architecture_is_refused(small_preset, tmp_path):
    _, directory = small_preset
    conv_net = {"block": "basic", "depth": 2, "channels": 4}
    other = keras_cvae.VAE(keras_cvae.GaussianEncoder(3, conv_net),
                           keras_cvae.GaussianDecoder((8, 8, 1), conv_net))
    other.save_to_preset(tmp_path / "other")
    shutil.copy(tmp_path / "other" / "config.json", directory / "config.json")
    with pytest.raises(ValueError, match="different architecture"):
        keras_cvae.VAE.from_preset(str(directory))


def test_config_is_loaded_in_safe_mode(small_preset):
    _, directory = small_preset
    config = {"module": "keras.layers", "class_name": "Lambda", "registered_name": "Lambda",
              "config": {"function": {"class_name": "__lambda__", "config": {"code": "print"}}}}
    json.dump(config, open(directory / "config.json", "w"))
    with pytest.raises(ValueError, match="not a serialized `keras_cvae.VAE`"):
        keras_cvae.VAE.from_preset(str(directory))


def test_lambda_inside_a_vae_config_is_not_executed(small_preset):
    model, directory = small_preset
    config = keras.saving.serialize_keras_object(model)
    config["config"]["encoder"]["config"]["conv_net"] = keras.saving.serialize_keras_object(
        keras.layers.Lambda(lambda x: x + 1))
    json.dump(config, open(directory / "config.json", "w"))
    with pytest.raises(Exception, match="safe_mode|arbitrary code execution"):
        keras_cvae.VAE.from_preset(str(directory))


@pytest.mark.parametrize(
    "metadata, expected",
    [({"dataset": {"name": "mnist", "split": "train"}}, "mnist"), ({"dataset": "folder"}, "folder"),
     ({"dataset": ""}, None), ({"dataset": {}}, None), ({}, None)],
)
def test_recorded_dataset_reads_a_name_or_a_record(metadata, expected):
    from keras_cvae.zoo.preset_lookup import recorded_dataset

    assert recorded_dataset(metadata) == expected
    assert recorded_dataset(keras_cvae.zoo.read_metadata("digits_basic")) == "digits"


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_shipped_files_match_their_recorded_sha256(name):
    """A shipped preset's `file_sha256` proves its files are the project's (what overwrite trusts)."""
    folder = registry.preset_directory(name)
    recorded = preset_lookup.read_metadata(name).get("file_sha256", {})
    for file_name, digest in recorded.items():
        assert sha256(os.path.join(folder, file_name)) == digest, (name, file_name)
