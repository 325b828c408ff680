import numpy as np
import tensorflow as tf

from keras_cvae.datasets import images_only

IMAGES = np.random.default_rng(0).uniform(size=(6, 4, 4, 1)).astype("float32")
LABELS = np.arange(6)


def _collect(dataset):
    return np.concatenate(list(dataset.as_numpy_iterator()))


def test_a_dataset_of_images_is_returned_as_it_is():
    dataset = tf.data.Dataset.from_tensor_slices(IMAGES).batch(4)
    assert images_only(dataset) is dataset


def test_datasets_of_tuples_give_their_images():
    for items in [(IMAGES,), (IMAGES, LABELS), (IMAGES, LABELS, LABELS * 0.5)]:
        dataset = tf.data.Dataset.from_tensor_slices(items).batch(4)
        images = images_only(dataset)
        assert images.element_spec == tf.TensorSpec((None, 4, 4, 1), tf.float32)
        np.testing.assert_array_equal(_collect(images), IMAGES)


def test_one_element_gives_its_images():
    assert images_only((IMAGES, LABELS)) is IMAGES
    assert images_only([IMAGES, LABELS, None]) is IMAGES
    assert images_only(IMAGES) is IMAGES
    tensor = tf.constant(IMAGES)
    assert images_only(tensor) is tensor
