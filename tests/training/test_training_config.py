"""`TrainingConfig`: the preset's defaults fill what is left out; bad values are named."""

import pytest

from keras_cvae.training import TrainingConfig


def test_left_out_fields_take_the_presets_defaults():
    config = TrainingConfig("digits_bottleneck", batch_size=32).resolved()
    assert (config.epochs, config.batch_size, config.learning_rate) == (30, 32, 2e-3)
    assert (config.warmup_epochs, config.seed, config.dataset) == (20, 0, "digits")
    assert TrainingConfig("digits_basic_full").resolved().seed == 1


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"epochs": 0}, r"`epochs`.*integer >= 1.*Received: epochs=0"),
        ({"batch_size": 2.5}, r"`batch_size`.*Received: batch_size=2.5"),
        ({"learning_rate": 0.0}, r"`learning_rate`.*> 0.*Received: learning_rate=0.0"),
        ({"learning_rate": float("inf")}, r"`learning_rate`.*finite"),
        ({"warmup_epochs": -1}, r"`warmup_epochs`.*>= 0"),
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
