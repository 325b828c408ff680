"""In-memory arrays in `fit`, `evaluate` and `predict`: Keras's batches, sample weights, no autotuning."""

import numpy as np
import pytest
import tensorflow as tf

from keras_cvae.models.array_batches import array_batches
from keras_cvae.models.array_batches import keras_arguments_with_batches
from tests.helpers import digits
from tests.helpers import tiny_vae

IMAGES = digits("test")[:40]


def _rows(dataset):
    """The first pixel of each image of each batch: which images, in which order."""
    return [batch[0][:, 0, 0, 0].numpy().round(6).tolist() for batch in dataset]


def _ordered(values):
    return np.arange(values, dtype="float32").reshape(values, 1, 1, 1)


def test_batches_in_order_with_a_final_partial_batch():
    dataset = array_batches((_ordered(10),), batch_size=4)
    assert _rows(dataset) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert int(dataset.cardinality()) == 3
    assert dataset.options().autotune.enabled is False


def test_shuffle_reorders_every_epoch_and_batch_shuffles_within_batches():
    tf.random.set_seed(0)
    shuffled = array_batches((_ordered(12),), batch_size=4, shuffle=True)
    epochs = [sum(_rows(shuffled), []) for _ in range(2)]
    assert all(sorted(epoch) == list(range(12)) for epoch in epochs)
    assert epochs[0] != list(range(12)) and epochs[0] != epochs[1]
    within = _rows(array_batches((_ordered(12),), batch_size=4, shuffle="batch"))
    assert [sorted(rows) for rows in within] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]


def test_batch_size_defaults_as_keras():
    assert int(array_batches((_ordered(70),)).cardinality()) == 3  # 32 per batch
    assert int(array_batches((_ordered(70),), steps=7).cardinality()) == 7  # ceil(70 / 7) = 10


def test_validation_split_holds_out_the_last_images_before_shuffling():
    weights = np.arange(10, dtype="float32")
    arguments = keras_arguments_with_batches(
        "fit", {"x": _ordered(10), "validation_split": 0.2, "sample_weight": weights, "batch_size": 4})
    assert _rows(arguments["validation_data"]) == [[8, 9]]
    assert [batch[2].numpy().tolist() for batch in arguments["validation_data"]] == [[8, 9]]
    assert sorted(sum(_rows(arguments["x"]), [])) == list(range(8))
    assert {"batch_size", "shuffle", "sample_weight", "validation_split"}.isdisjoint(arguments)


def test_validation_data_arrays_become_batches_with_their_weights():
    arguments = keras_arguments_with_batches(
        "fit", {"x": _ordered(4), "validation_data": [_ordered(3), None, np.full(3, 2.0)], "batch_size": 2})
    assert _rows(arguments["validation_data"]) == [[0, 1], [2]]
    assert [batch[2].numpy().tolist() for batch in arguments["validation_data"]] == [[2, 2], [2]]


@pytest.mark.parametrize("weights, message", [
    (np.ones(3), "shape (40,). Received: sample_weight of shape (3,)"),
    (-np.ones(40), "finite and non-negative"),
    (np.full(40, np.nan), "and NaN"),
])
def test_bad_sample_weights_are_named(weights, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        tiny_vae().fit(IMAGES, sample_weight=weights, verbose=0)


def _same_vae():
    """A compiled tiny VAE, the same weights and seed (the same ε) each call."""
    vae = tiny_vae(seed=3)
    vae(IMAGES[:1])
    vae.set_weights([np.full(w.shape, 0.01, w.dtype) if w.ndim > 1 else w for w in vae.get_weights()])
    vae.compile(optimizer="adam")
    return vae


def test_sample_weights_weigh_each_images_loss_as_keras_does():
    """Weights 2 double the loss (`Σ w·loss / B`); the per-term metrics are weighted means."""
    plain, doubled = (_same_vae().evaluate(IMAGES, sample_weight=weights, batch_size=8, verbose=0,
                                           return_dict=True) for weights in (None, np.full(40, 2.0)))
    np.testing.assert_allclose(doubled["loss"], 2 * plain["loss"], rtol=1e-5)
    np.testing.assert_allclose(doubled["reconstruction"], plain["reconstruction"], rtol=1e-5)
    zero_half = np.r_[np.ones(20), np.zeros(20)]
    history = _same_vae().fit(IMAGES, sample_weight=zero_half, batch_size=20, shuffle=False, verbose=0)
    first_half = _same_vae().fit(IMAGES[:20], batch_size=20, verbose=0)
    # Batch 2 (weights 0) adds a zero loss: the mean of the two batches is half batch 1's.
    np.testing.assert_allclose(history.history["loss"][0], first_half.history["loss"][0] / 2, rtol=1e-4)
