"""`TrainingConfig`: the preset's defaults fill what is left out; bad values are named."""

import json
import shutil

import pytest

from keras_cvae.training import TrainingConfig
from keras_cvae.training import train
from keras_cvae.zoo import registry


def test_left_out_fields_take_the_presets_defaults():
    config = TrainingConfig("digits_bottleneck", batch_size=32).resolved()
    assert (config.epochs, config.batch_size, config.learning_rate) == (30, 32, 1e-3)
    assert (config.warmup_epochs, config.seed, config.dataset) == (0, 0, "digits")
    assert TrainingConfig("digits_basic_full").resolved().epochs == 60


def test_the_augment_shift_defaults_to_the_presets():
    mnist = TrainingConfig("mnist5k_basic").resolved()
    assert (mnist.augment_shift, mnist.epochs, mnist.warmup_epochs) == (0, 20, 0)
    assert TrainingConfig("mnist5k_basic", augment_shift=2).resolved().augment_shift == 2
    assert TrainingConfig("digits_basic").resolved().augment_shift == 0
    assert TrainingConfig("digits_basic", augment_shift=1).to_json()["augment_shift"] == 1


def test_a_preset_folder_without_a_recorded_augment_shift_trains_unshifted(tmp_path):
    folder = tmp_path / "preset"
    folder.mkdir()
    shutil.copy(registry.preset_directory("mnist5k_basic") + "/config.json", folder)
    (folder / "metadata.json").write_text(json.dumps({"dataset": "mnist5k",
                                                      "training": {"epochs": 3}}))
    config = TrainingConfig(str(folder)).resolved()
    assert (config.augment_shift, config.epochs) == (0, 3)
    (folder / "metadata.json").write_text(json.dumps({"training": {"augment_shift": 2}}))
    assert TrainingConfig(str(folder)).resolved().augment_shift == 2


def test_the_prior_components_default_to_the_presets():
    assert TrainingConfig("mnist5k_basic").resolved().prior_components == 40
    assert TrainingConfig("digits_basic").resolved().prior_components == 10
    assert TrainingConfig("mnist5k_basic", prior_components=0).resolved().prior_components == 0


def test_a_preset_folder_retrains_with_its_recorded_prior_components(tmp_path):
    folder = tmp_path / "preset"
    folder.mkdir()
    shutil.copy(registry.preset_directory("mnist5k_basic") + "/config.json", folder)
    (folder / "metadata.json").write_text(json.dumps({"dataset": "mnist5k", "training": {}}))
    assert TrainingConfig(str(folder)).resolved().prior_components == 10
    (folder / "metadata.json").write_text(json.dumps({"training": {"prior_components": 3}}))
    assert TrainingConfig(str(folder)).resolved().prior_components == 3


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epochs": 0}, r"`epochs`.*integer >= 1.*Received: epochs=0"),
        ({"batch_size": 2.5}, r"`batch_size`.*Received: batch_size=2.5"),
        ({"learning_rate": 0.0}, r"`learning_rate`.*> 0.*Received: learning_rate=0.0"),
        ({"learning_rate": float("inf")}, r"`learning_rate`.*finite"),
        ({"warmup_epochs": -1}, r"`warmup_epochs`.*>= 0"),
        ({"augment_shift": -1},
         r"^Invalid value for argument `augment_shift`. Expected an integer >= 0. "
         r"Received: augment_shift=-1$"),
        ({"augment_shift": 1.0}, r"`augment_shift`.*integer >= 0.*Received: augment_shift=1.0"),
        ({"prior_components": -1}, r"`prior_components`.*>= 0"),
        ({"seed": "0"}, r"`seed`.*integer"),
        ({"overrides": {"width": 3}}, r"`overrides`.*channels.*Received: overrides=\{'width': 3\}"),
        ({"resize_images": "yes"}, r"`resize_images`"),
    ],
)
def test_bad_values_name_the_field_and_what_was_received(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainingConfig("digits_basic", **changes)


def test_an_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match="Unknown preset 'resnet'.*digits_basic"):
        TrainingConfig("resnet").resolved()


def test_an_augment_shift_of_half_the_image_size_is_refused():
    TrainingConfig("mnist5k_basic", augment_shift=13).check_image_shape((28, 28, 1))
    TrainingConfig("mnist5k_basic").check_image_shape((1, 1, 1))  # None: resolved first
    with pytest.raises(ValueError) as raised:
        TrainingConfig("mnist5k_basic", augment_shift=14).check_image_shape((28, 28, 1))
    assert str(raised.value) == (
        "Invalid value for argument `augment_shift`. Expected an integer >= 0 and <= 13, less than "
        "half the height and width of the 28×28 images. Received: augment_shift=14")
    with pytest.raises(ValueError, match=r"<= 3, .* the 7×9 images. Received: augment_shift=4"):
        TrainingConfig("digits_basic", augment_shift=4).check_image_shape((7, 9, 3))


def test_training_refuses_a_too_large_shift_before_it_writes_anything(tmp_path):
    config = TrainingConfig("digits_basic", augment_shift=4, epochs=1)
    with pytest.raises(ValueError, match=r"`augment_shift`.*<= 3, .*8×8 images.*=4"):
        train(config, str(tmp_path / "preset"), run_dir=str(tmp_path / "run"), verbose=0)
    assert list(tmp_path.iterdir()) == []


def test_without_a_preset_the_data_picks_the_network(tmp_path):
    import numpy as np
    import tensorflow as tf

    for name, channels in (("gray", 1), ("colour", 3)):
        image = np.zeros((6, 10, channels), np.uint8)
        tf.io.write_file(str(tmp_path / name / "0.png"), tf.io.encode_png(image))
    resolved = {name: TrainingConfig(dataset=str(tmp_path / name)).resolved().preset
                for name in ("gray", "colour")}
    assert resolved == {"gray": "mnist5k_basic", "colour": "photo_patches_bottleneck"}
    assert TrainingConfig(dataset="photo_patches").resolved().preset == "photo_patches_bottleneck"
    assert TrainingConfig().resolved().preset == "digits_basic"
