import time

import numpy as np
import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.core.utils import gcs_utils

import keras_cvae.datasets


def _fake_prepared(name, data_dir, splits):
    """Writes the metadata of a prepared TFDS dataset (no records)."""
    builder = tfds.builder(name, data_dir=str(data_dir))
    template = tfds.core.ShardedFileTemplate(
        data_dir=builder.data_path,
        dataset_name=builder.name,
        filetype_suffix="tfrecord",
    )
    builder.info.set_splits(
        tfds.core.SplitDict(
            [
                tfds.core.SplitInfo(
                    name=split,
                    shard_lengths=[n],
                    num_bytes=0,
                    filename_template=template.replace(split=split),
                )
                for split, n in splits.items()
            ]
        )
    )
    builder.data_path.mkdir(parents=True)
    builder.info.write_to_directory(builder.data_path)


@pytest.fixture(scope="module")
def mock_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("mock_tfds")
    for name in ("mnist", "cifar10", "celeb_a"):
        _fake_prepared(name, data_dir, {"train": 5, "test": 3})
    return data_dir


@pytest.fixture
def mock_tfds(mock_dir):
    """mnist, cifar10 and celeb_a 'prepared' with 5 random train examples."""
    with tfds.testing.mock_data(
        num_examples=5, data_dir=str(mock_dir), policy=tfds.testing.MockPolicy.USE_FILES
    ):
        yield mock_dir


@pytest.mark.parametrize(
    "name, kwargs, image_shape",
    [
        ("mnist", {}, (28, 28, 1)),
        ("cifar10", {}, (32, 32, 3)),
        ("celeb_a", dict(image_size=64, resize=True), (64, 64, 3)),
        ("cifar10", dict(image_size=16, channels=1, resize=True), (16, 16, 1)),
        ("cifar10", dict(image_size=32), (32, 32, 3)),
        ("mnist", dict(channels=3), (28, 28, 3)),
    ],
)
def test_prepared_tfds_dataset(mock_tfds, name, kwargs, image_shape):
    ds, info = keras_cvae.datasets.load(name, "train", batch_size=4, with_info=True, **kwargs)
    assert info == keras_cvae.datasets.DatasetInfo(name, "train", image_shape, 256, 5)
    batches = [b.numpy() for b in ds]
    assert [b.shape for b in batches] == [(4, *image_shape), (1, *image_shape)]
    x = np.concatenate(batches)
    assert x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1 and x.std() > 0
    np.testing.assert_allclose(x * 255, np.round(x * 255), atol=1e-4)  # v / 255.


def test_prepared_tfds_dataset_of_another_size_is_refused(mock_tfds):
    with pytest.raises(ValueError, match=r"size 64x64 .* Received: dataset 'celeb_a' of size "
                                         r"218x178. Pass resize=True"):
        keras_cvae.datasets.load("celeb_a", "train", image_size=64)


def test_prepared_tfds_dataset_dequantizes_with_256_levels(mock_tfds):
    plain = next(iter(keras_cvae.datasets.load("mnist", "train", batch_size=5))).numpy()
    noisy = next(iter(keras_cvae.datasets.load("mnist", "train", batch_size=5, dequantize=True))).numpy()
    v = np.round(plain * 255)
    assert np.all(noisy >= v / 256 - 1e-7) and np.all(noisy < (v + 1) / 256)


def test_prepared_tfds_bad_split_lists_splits(mock_tfds):
    with pytest.raises(ValueError, match=r"Expected one of \['test', 'train'\].*split='valid'"):
        keras_cvae.datasets.load("cifar10", "valid")


@pytest.mark.parametrize("explicit_data_dir", [False, True])
def test_unprepared_dataset_fails_fast_without_network(tmp_path, monkeypatch, explicit_data_dir):
    # Behave like older TFDS releases, which query gs://tfds-data, and
    # record any GCS access: loading must not touch the network at all.
    monkeypatch.setattr(gcs_utils, "_is_gcs_disabled", False)
    gcs_calls = []
    monkeypatch.setattr(gcs_utils, "exists", lambda path: gcs_calls.append(path))
    data_dir = str(tmp_path) if explicit_data_dir else None
    start = time.monotonic()
    with pytest.raises(FileNotFoundError, match=r"'mnist' is not prepared.*tfds build mnist --data_dir DIR"):
        keras_cvae.datasets.load("mnist", "train", data_dir=data_dir)
    assert time.monotonic() - start < 10
    assert gcs_calls == []
    assert gcs_utils._is_gcs_disabled is False  # Restored afterwards.
    assert list(tmp_path.iterdir()) == []  # Nothing downloaded or created.


def test_unprepared_dataset_message_names_searched_dirs(data_dir):
    with pytest.raises(FileNotFoundError, match=str(data_dir / "cifar10")):
        keras_cvae.datasets.info("cifar10")
