"""`epoch_batches`: the documented order and noise, and random translations keyed like them."""

import numpy as np
import pytest
import tensorflow as tf

from keras_cvae.datasets.image_ops import to_unit_interval
from keras_cvae.training.epoch_data import epoch_batches

LEVELS = 16
SHAPE = (7, 9, 2)  # not square, two channels: a mixed-up axis shows
COUNT, BATCH, BUFFER, SEED = 10, 3, 4, 5


def _images():
    """Levels 1..L-1 everywhere (0 only where a translation uncovers), as `v / (L - 1)`."""
    levels = np.random.default_rng(0).integers(1, LEVELS, size=(COUNT, *SHAPE))
    return levels, tf.data.Dataset.from_tensor_slices((levels / (LEVELS - 1)).astype("float32"))


def _batches(epochs=2, **kwargs):
    return [np.asarray(batch) for batch in epoch_batches(
        _images()[1], BATCH, LEVELS, SEED, epochs, buffer_size=BUFFER, **kwargs)]


def _levels(batch):
    """The levels `v` of dequantized images `(v + u) / L`."""
    return np.floor(batch.astype(np.float64) * LEVELS).astype(int)


def _translated(image, dy, dx):
    """`image` moved down by `dy` and right by `dx`, the uncovered border 0."""
    height, width = image.shape[:2]
    moved = np.zeros_like(image)
    moved[max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = (
        image[max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)])
    return moved


def _fold_in(key, data):
    return tf.random.experimental.stateless_fold_in(key, tf.constant(data, tf.int64))


def _reference(epochs):
    """The batches as the docstring describes them without translations (written out here)."""
    levels = _images()[0].astype("uint8")
    batches = []
    for epoch in range(epochs):
        key = tf.constant([SEED, epoch], tf.int64)
        order = []
        for block, start in enumerate(range(0, COUNT, BUFFER)):
            block_key = _fold_in(key, block)
            order.append(tf.random.experimental.stateless_shuffle(
                levels[start:start + BUFFER], seed=block_key).numpy())
        shuffled = np.concatenate(order)
        for index, start in enumerate(range(0, COUNT, BATCH)):
            noise_seed = _fold_in(key, index)
            batches.append(np.asarray(to_unit_interval(shuffled[start:start + BATCH], LEVELS,
                                                       noise_seed)))
    return batches


def test_no_shift_gives_the_documented_batches():
    expected = _reference(epochs=2)
    for batches in (_batches(), _batches(shift=0)):
        assert len(batches) == len(expected) == 8
        for a, b in zip(batches, expected):
            np.testing.assert_array_equal(a, b)


def test_each_image_is_the_unshifted_one_translated_within_range_with_zero_fill():
    shift = 2
    offsets = []
    for shifted, plain in zip(_batches(shift=shift), _batches()):
        for image, original in zip(_levels(shifted), _levels(plain)):
            matches = [(dy, dx) for dy in range(-shift, shift + 1)
                       for dx in range(-shift, shift + 1)
                       if np.array_equal(image, _translated(original, dy, dx))]
            assert len(matches) == 1, "not a translation of the same image within range"
            offsets.append(matches[0])
    assert len(offsets) == 2 * COUNT
    assert len(set(offsets)) > 5 and {abs(dy) for dy, _ in offsets} >= {0, shift}


def test_an_epoch_is_the_same_whichever_epoch_the_pipeline_starts_from():
    whole = _batches(epochs=3, shift=1)
    resumed = _batches(epochs=3, shift=1, first_epoch=2)
    assert len(resumed) == 4
    for a, b in zip(whole[8:], resumed):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(whole[0], whole[4])  # another epoch: another order and shifts


def test_shapes_stay_static():
    images = _images()[1]
    spec = epoch_batches(images, BATCH, LEVELS, SEED, 1, shift=3, drop_remainder=True).element_spec
    assert spec.shape == (BATCH, *SHAPE) and spec.dtype == tf.float32


@pytest.mark.parametrize("shift", [-1, 1.5, True])
def test_a_bad_shift_is_named(shift):
    with pytest.raises(ValueError, match=r"`shift`. Expected an integer >= 0. Received: shift="):
        epoch_batches(_images()[1], BATCH, LEVELS, SEED, 1, shift=shift)
