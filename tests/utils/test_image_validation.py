import re

import numpy as np
import pytest
import tensorflow as tf

import keras_cvae.datasets
from keras_cvae.datasets import validate_dataset
from keras_cvae.datasets import validate_images
from keras_cvae.utils.image_validation import validate_batch

EXPECTED = ("Invalid value for argument `images`. Expected a non-empty batch of images of shape "
            "(batch, 8, 8, 1) with real values in [0, 1]. Received: images=")


def _ok(*shape):
    return np.random.default_rng(0).uniform(size=shape).astype("float32")


def test_valid_images_pass_unchanged():
    images = _ok(10, 8, 8, 1)
    assert validate_images(images, (8, 8, 1)) is images
    tensor = tf.constant(images)
    assert validate_images(tensor, (8, 8, None)) is tensor
    validate_images(np.ones((1, 8, 8, 1), "uint8"), (8, 8, 1))  # integers 0 and 1 are fine
    validate_images(tf.cast(tensor, tf.bfloat16), (8, 8, 1))


@pytest.mark.parametrize(
    "images, image_shape, message",
    [
        (_ok(10, 8, 8, 3), (8, 8, 1), EXPECTED + "<float32 array of shape (10, 8, 8, 3)>"),
        (
            _ok(8, 8, 1),
            None,
            "Expected a non-empty batch of images of shape (batch, height, width, channels) with "
            "real values in [0, 1]. Received: images=<float32 array of shape (8, 8, 1)>",
        ),
        (tf.constant(_ok(2, 4, 4, 1)), (8, 8, 1), "images=<float32 tensor of shape (2, 4, 4, 1)>"),
        (np.full((2, 8, 8, 1), 1.5, "float32"), (8, 8, 1),
         EXPECTED + "<float32 array of shape (2, 8, 8, 1) with values in [1.5, 1.5]>"),
        (np.full((2, 8, 8, 1), 255, "uint8"), None,
         "with values in [255, 255]> (scale them to [0, 1], e.g. divide 8-bit images by 255)"),
        (np.where(np.eye(8)[None, :, :, None] > 0, np.nan, 0.5).astype("float32"), (8, 8, 1),
         EXPECTED + "<float32 array of shape (1, 8, 8, 1) with 8 NaN values>"),
        (np.array([[[[np.inf]], [[np.nan]]]]), None, "with 1 NaN value and 1 infinite value>"),
        (np.zeros((0, 8, 8, 1), "float32"), (8, 8, 1),
         EXPECTED + "<float32 array of shape (0, 8, 8, 1)> (an empty batch)"),
        (np.array([["a"]]), None, "images=<str32 array of shape (1, 1)> (expected real numbers"),
        (np.zeros((1, 8, 8, 1), bool), (8, 8, 1), "images=<bool array of shape (1, 8, 8, 1)>"),
        ([[1, 2], [3]], None, "images=<list that is not a rectangular array>"),
    ],
)
def test_bad_images(images, image_shape, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        validate_images(images, image_shape)


def test_the_error_names_the_argument():
    with pytest.raises(ValueError, match=re.escape("argument `data`. Expected a non-empty batch")):
        validate_images(_ok(2, 8, 8, 1) * 2, (8, 8, 1), name="data")
    with pytest.raises(ValueError, match=re.escape("Received: z=<float64 array of shape (2, 3)>")):
        validate_batch(np.zeros((2, 3)), "z", item_shape=(4,))


def test_bad_image_shape_argument():
    with pytest.raises(ValueError, match=re.escape("Received: image_shape=(8, 8, 1, 1, 1)")):
        validate_images(_ok(1, 8, 8, 1), (8, 8, 1, 1, 1))
    with pytest.raises(ValueError, match=re.escape("Received: image_shape=(0, 8, 1)")):
        validate_images(_ok(1, 8, 8, 1), (0, 8, 1))


def test_one_and_three_dimensional_images():
    validate_images(_ok(2, 10, 3), (10, 3))
    validate_images(_ok(2, 4, 4, 4, 1), (4, 4, 4, 1))
    with pytest.raises(ValueError, match=re.escape("Received: images=<float32 array of shape (2, 4, 4, 1)>")):
        validate_images(_ok(2, 4, 4, 1), (4, 4, 4, 1))


def test_symbolic_tensor_checks_shape_only():
    @tf.function(input_signature=[tf.TensorSpec((None, 8, 8, 3))])
    def check(x):
        return validate_images(x, (8, 8, 1))

    with pytest.raises(ValueError, match=re.escape("images=<float32 symbolic tensor of shape (None, 8, 8, 3)>")):
        check.get_concrete_function()

    @tf.function(input_signature=[tf.TensorSpec((None, 8, 8, 1))])
    def passes(x):
        return validate_images(x * np.nan, (8, 8, 1))  # values are not known while tracing

    passes.get_concrete_function()


def test_validate_dataset_accepts_loaded_digits_without_consuming():
    ds = keras_cvae.datasets.load("digits", "test", batch_size=100)
    assert validate_dataset(ds, (8, 8, 1)) is ds
    assert sum(b.shape[0] for b in ds) == 360


@pytest.mark.parametrize(
    "dataset, message",
    [
        (
            tf.data.Dataset.from_tensor_slices(_ok(4, 8, 8, 1)),
            "Invalid value for argument `dataset`. Expected a dataset of non-empty batches of images "
            "of shape (batch, 8, 8, 1) with real values in [0, 1]. Received: dataset=<dataset of "
            "float32 elements of shape (8, 8, 1)> (unbatched: call dataset.batch())",
        ),
        (
            tf.data.Dataset.from_tensor_slices((_ok(4, 8, 8, 1), np.arange(4))).batch(2),
            "without labels",
        ),
        (
            tf.data.Dataset.from_tensor_slices(np.zeros((4, 8, 8, 1), "uint8")).batch(2),
            "Received: dataset=<dataset of uint8 elements of shape (None, 8, 8, 1)>",
        ),
        (
            tf.data.Dataset.from_tensor_slices(_ok(4, 8, 8, 3)).batch(2),
            "Received: dataset=<dataset of float32 elements of shape (None, 8, 8, 3)>",
        ),
        (
            tf.data.Dataset.from_tensor_slices(_ok(4, 8, 8, 1) * 2 + 1).batch(2),
            "Received: dataset=<dataset whose batch 0 is a float32 tensor of shape (2, 8, 8, 1) "
            "with values in [",
        ),
        (tf.data.Dataset.from_tensor_slices(_ok(0, 8, 8, 1)).batch(2), "Received: dataset=<empty dataset>"),
        (_ok(4, 8, 8, 1), "Received: dataset=<ndarray>"),
    ],
)
def test_bad_datasets(dataset, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        validate_dataset(dataset, (8, 8, 1))
