import numpy as np
import pytest
import tensorflow as tf

import keras_cvae.datasets
from keras_cvae.datasets import DatasetInfo


def _collect(dataset):
    return np.concatenate([np.asarray(b)[None] if b.ndim == 3 else b for b in dataset.as_numpy_iterator()])


def test_digits_splits_equal_scikit_learn_levels_over_16(digits_levels):
    train, train_info = keras_cvae.datasets.load("digits", "train", with_info=True)
    test = keras_cvae.datasets.load("digits", "test")
    assert train.element_spec == tf.TensorSpec((8, 8, 1), tf.float32)
    assert train_info == DatasetInfo("digits", "train", (8, 8, 1), 17, 1437)
    x_train, x_test = _collect(train), _collect(test)
    assert x_train.shape == (1437, 8, 8, 1) and x_test.shape == (360, 8, 8, 1)
    # Exactly v / 16, in scikit-learn's order.
    np.testing.assert_array_equal(x_train, (digits_levels[:1437] / 16).astype(np.float32))
    np.testing.assert_array_equal(x_test, (digits_levels[1437:] / 16).astype(np.float32))


def test_info_matches_load_without_pipeline():
    info = keras_cvae.datasets.info("digits", split="test", image_size=16, channels=3, resize=True)
    assert info == DatasetInfo("digits", "test", (16, 16, 3), 17, 360)
    assert keras_cvae.datasets.info("digits", image_size=8).image_shape == (8, 8, 1)
    with pytest.raises(AttributeError):
        info.num_examples = 3  # Frozen.


def test_dequantized_values_stay_in_their_bin(digits_levels):
    x = _collect(keras_cvae.datasets.load("digits", "train", batch_size=100, dequantize=True, seed=0))
    v = digits_levels[:1437]
    assert x.dtype == np.float32
    assert np.all(x >= v / 17 - 1e-7)
    assert np.all(x < (v + 1) / 17)
    # Noise actually fills the bin, it is not a constant offset.
    u = x.astype(np.float64) * 17 - v
    assert 0.4 < u.mean() < 0.6 and u.min() < 0.01 and u.max() > 0.99


def test_dequantization_is_fresh_each_epoch_and_reproducible_with_seed():
    def epochs(seed):
        ds = keras_cvae.datasets.load("digits", "test", batch_size=64, dequantize=True, seed=seed)
        return _collect(ds), _collect(ds)

    first, second = epochs(seed=7)
    assert not np.allclose(first, second)
    np.testing.assert_allclose(np.floor(first * 17), np.floor(second * 17))
    again_first, again_second = epochs(seed=7)
    np.testing.assert_array_equal(first, again_first)
    np.testing.assert_array_equal(second, again_second)
    assert not np.allclose(first, epochs(seed=8)[0])


def test_shuffle_permutes_each_epoch_reproducibly(digits_levels):
    ds = keras_cvae.datasets.load("digits", "test", batch_size=360, shuffle=True, seed=3)
    first, second = _collect(ds), _collect(ds)
    rows = lambda x: (lambda r: r[np.lexsort(r.T)])(x.reshape(len(x), -1))
    np.testing.assert_array_equal(rows(first), rows((digits_levels[1437:] / 16).astype(np.float32)))
    assert not np.array_equal(first, second)
    again = keras_cvae.datasets.load("digits", "test", batch_size=360, shuffle=True, seed=3)
    np.testing.assert_array_equal(_collect(again), first)


@pytest.mark.parametrize(
    "drop_remainder, shapes",
    [(False, [100, 100, 100, 60]), (True, [100, 100, 100])],
)
def test_batching(drop_remainder, shapes):
    ds = keras_cvae.datasets.load("digits", "test", batch_size=100, drop_remainder=drop_remainder)
    assert [b.shape[0] for b in ds] == shapes
    expected_batch = 100 if drop_remainder else None
    assert ds.element_spec.shape.as_list() == [expected_batch, 8, 8, 1]


def test_resize_and_channels_keep_levels(digits_levels):
    ds = keras_cvae.datasets.load("digits", "test", batch_size=360, image_size=(16, 12), channels=3,
                                  resize=True)
    x = next(iter(ds)).numpy()
    assert x.shape == (360, 16, 12, 3)
    np.testing.assert_array_equal(x[..., 0], x[..., 2])  # Gray -> RGB.
    np.testing.assert_allclose(x * 16, np.round(x * 16), atol=1e-5)  # Still levels.
    assert x.min() >= 0 and x.max() <= 1
    # Upsampling 8 -> 16 of the central 8x6 crop keeps the mean roughly.
    np.testing.assert_allclose(x.mean(), (digits_levels[1437:, :, 1:7] / 16).mean(), atol=0.02)


@pytest.mark.parametrize("load", [keras_cvae.datasets.load, keras_cvae.datasets.info])
def test_another_size_is_refused_unless_resize(load):
    message = (r"Expected images of size 16x12 \(height x width, the `image_size`\). Received: "
               r"dataset 'digits' of size 8x8. Pass resize=True \(--resize\) to center-crop and "
               r"resize them to 16x12.")
    with pytest.raises(ValueError, match=message):
        load("digits", "test", image_size=(16, 12))


def test_check_size_fails_the_pipeline_of_images_of_varying_size():
    from keras_cvae.datasets import image_ops

    images = tf.data.Dataset.from_generator(
        lambda: iter([np.zeros((8, 8, 1), np.uint8), np.zeros((9, 8, 1), np.uint8)]),
        output_signature=tf.TensorSpec((None, None, 1), tf.uint8))
    checked = images.map(lambda x: image_ops.check_size(x, (8, 8), "varied"))
    assert checked.element_spec.shape == (8, 8, 1)
    iterator = iter(checked)
    assert next(iterator).shape == (8, 8, 1)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Expected images of size 8x8 .* in dataset varied.*resize=True.*Received: an image of \(height, width\)\] \[9 8\]"):
        next(iterator)


@pytest.mark.parametrize("bad, shown", [(np.nan, r"\[nan\] \[nan\]"), (255.0, r"\[0\] \[255\]")])
def test_check_unit_interval_fails_the_pipeline_of_float_images_out_of_range(bad, shown):
    from keras_cvae.datasets import image_ops

    images = np.zeros((2, 2, 2, 1), np.float32)
    images[1, 0, 0, 0] = bad
    checked = tf.data.Dataset.from_tensor_slices(images).map(
        lambda x: image_ops.check_unit_interval(x, "floats"))
    iterator = iter(checked)
    assert next(iterator).shape == (2, 2, 1)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Expected images with finite values in \[0, 1\] in dataset floats.*"
                             rf"Received: an image with values in \[min, max\].*{shown}"):
        next(iterator)


def test_cache_to_file(tmp_path, digits_levels):
    path = str(tmp_path / "digits.cache")
    ds = keras_cvae.datasets.load("digits", "test", batch_size=100, cache=path)
    np.testing.assert_array_equal(_collect(ds) * 16, digits_levels[1437:])
    assert list(tmp_path.glob("digits.cache*.index"))  # Written once complete.
    np.testing.assert_array_equal(_collect(ds) * 16, digits_levels[1437:])


def test_abandoned_iterator_does_not_truncate_the_cache():
    # Reading one batch cancels the TFDS reader, which could end the split
    # early and have the in-memory cache keep only part of it.
    for _ in range(8):
        ds = keras_cvae.datasets.load("digits", "test", batch_size=100)
        assert ds.cardinality() == 4
        next(iter(ds))
        assert sum(b.shape[0] for b in ds) == 360


def test_bad_split_lists_available_splits():
    with pytest.raises(ValueError, match=r"Expected one of \['test', 'train'\].*split='validation'"):
        keras_cvae.datasets.load("digits", "validation")


@pytest.mark.parametrize("name", ["no_such_dataset", "celeb_a/no_such_config"])
def test_unknown_name_lists_what_is_accepted(name):
    with pytest.raises(ValueError, match=r"Unknown dataset .*'digits'.*directory.*mnist"):
        keras_cvae.datasets.load(name, "train")


def test_missing_directory_is_reported(tmp_path):
    with pytest.raises(ValueError, match="no directory .* exists"):
        keras_cvae.datasets.load(str(tmp_path / "missing"), "train")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(batch_size=0), "`batch_size`. Expected an integer >= 1 or None. Received: batch_size=0"),
        (dict(image_size=(8,)), r"Received: image_size=\(8,\)"),
        (dict(image_size=-1), "`image_size`. Expected an integer >= 1 or a .*Received: image_size=-1"),
        (dict(image_size=(8, True)), r"Received: image_size=\(8, True\)"),
        (dict(channels=2), "`channels`. Expected one of None, 1, 3. Received: channels=2"),
        (dict(channels=True), "`channels`. Expected one of None, 1, 3. Received: channels=True"),
        (dict(seed=1.5), "`seed`. Expected an integer >= -9223372036854775808 and "
                         r"<= 9223372036854775807 or None. Received: seed=1.5 \(seeds are 64-bit"),
        (dict(seed=2**64), "Received: seed=18446744073709551616"),
        (dict(cache=1), "Received: cache=1"),
        (dict(split=0), "Received: split=0"),
        (dict(name=3), "Received: name=3"),
    ],
)
def test_bad_arguments(kwargs, message):
    kwargs = {"name": "digits", "split": "train", **kwargs}
    with pytest.raises(ValueError, match=message):
        keras_cvae.datasets.load(**kwargs)


def test_as_array_if_small_gathers_the_batches_or_keeps_the_dataset(digits_levels):
    test, info = keras_cvae.datasets.load("digits", "test", batch_size=64, with_info=True)
    array = keras_cvae.datasets.as_array_if_small(test, info, (8, 8, 1))
    assert isinstance(array, np.ndarray) and array.shape == (360, 8, 8, 1)
    np.testing.assert_array_equal(array, (digits_levels[1437:] / 16).astype(np.float32))
    # Over the size limit, or of unknown size: the dataset itself.
    assert keras_cvae.datasets.as_array_if_small(test, info, (8, 8, 1), max_values=360 * 64 - 1) is test
    unknown = DatasetInfo("digits", "test", (8, 8, 1), 17, None)
    assert keras_cvae.datasets.as_array_if_small(test, unknown, (8, 8, 1)) is test
    # With labels: the images alone.
    labelled = tf.data.Dataset.zip(test, tf.data.Dataset.range(6))
    np.testing.assert_array_equal(keras_cvae.datasets.as_array_if_small(labelled, info, (8, 8, 1)), array)
