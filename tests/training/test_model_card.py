"""The model card's training section: the augmentation is written when there was one."""

import copy

from keras_cvae.training.model_card import model_card
from keras_cvae.zoo import read_metadata


def _card(**training):
    metadata = copy.deepcopy(read_metadata("mnist5k_basic"))
    metadata["training"].pop("augment_shift", None)  # as presets trained before the option
    metadata["training"].update(training)
    return model_card(metadata, "basic ×2")


def test_a_shifted_training_is_described_in_the_training_section():
    card = _card(augment_shift=2)
    training = card.split("## Training", 1)[1].split("## ", 1)[0]
    assert ("- Augmentation: each training image translated by a random (dy, dx) in [−2, 2]², "
            "fresh every epoch, the border filled with 0; the test images are evaluated "
            "unshifted.") in training


def test_no_augmentation_line_without_a_shift():
    assert "Augmentation" not in _card(augment_shift=0)
    assert "Augmentation" not in _card()  # presets trained before the option record none
