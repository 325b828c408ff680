"""TFDS builder for scikit-learn's bundled 8x8 handwritten digits."""

import contextlib
import os

import numpy as np
import tensorflow_datasets as tfds

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, rely on the re-check.
    fcntl = None

NUM_TRAIN = 1437
NUM_TEST = 360


class KerasCvaeDigits(tfds.core.GeneratorBasedBuilder):
    """The 1797 8x8 digits of `sklearn.datasets.load_digits` as a TFDS dataset.

    Pixels are integers in 0..16 (17 intensity levels), stored as
    `uint8` images of shape `(8, 8, 1)`. The `"train"` split holds the first
    1437 images in scikit-learn's order and `"test"` the last 360; the order
    is kept (`disable_shuffling=True`). Nothing is downloaded: the data ships
    with scikit-learn.

    Args:
        data_dir: str. The TFDS data directory to prepare into and read from.

    Example:

    >>> import tempfile
    >>> builder = keras_cvae.datasets.digits_builder.KerasCvaeDigits(
    ...     data_dir=tempfile.mkdtemp())
    >>> builder.info.features["image"].shape
    (8, 8, 1)
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    INTENSITY_LEVELS = 17
    # Nothing to checksum. Also avoids TFDS resolving the source path of a
    # builder defined in a package, which needs the undeclared
    # `importlib_resources` on Python >= 3.9 (tensorflow/datasets#11212).
    code_path = None

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                "Optical recognition of handwritten digits (UCI), 8x8 images "
                "with 17 intensity levels, as bundled with scikit-learn."
            ),
            features=tfds.features.FeaturesDict(
                {"image": tfds.features.Image(shape=(8, 8, 1), dtype=np.uint8)}
            ),
            homepage="https://archive.ics.uci.edu/dataset/80",
            disable_shuffling=True,
        )

    # TFDS prints "Downloading and preparing dataset ..." and "Dataset ...
    # downloaded and prepared ...": nothing is downloaded, and preparing the
    # 1797 embedded images takes a moment, so this builder says nothing.
    def _log_download_bytes(self):
        pass

    def _log_download_done(self):
        pass

    def _split_generators(self, dl_manager):
        del dl_manager  # Nothing to download.
        from sklearn.datasets import load_digits

        images = load_digits().images.astype(np.uint8)[..., np.newaxis]
        return {
            "train": self._generate_examples(images[:NUM_TRAIN], offset=0),
            "test": self._generate_examples(images[NUM_TRAIN:], offset=NUM_TRAIN),
        }

    def _generate_examples(self, images, offset):
        for index, image in enumerate(images):
            yield offset + index, {"image": image}


def prepare(data_dir):
    """Returns a `KerasCvaeDigits` builder, preparing it in `data_dir` once, silently.

    Preparing prints nothing (no TFDS messages or progress bars). Safe with
    concurrent processes: TFDS writes into a uniquely named
    `incomplete.*` directory and renames it into place, and an exclusive
    lock on `data_dir/keras_cvae_digits.lock` makes other processes wait and
    then reuse the prepared data instead of failing on the rename.

    Args:
        data_dir: str. The TFDS data directory.

    Example:

    >>> import tempfile
    >>> data_dir = tempfile.mkdtemp()
    >>> builder = keras_cvae.datasets.digits_builder.prepare(data_dir)
    >>> builder.info.splits["test"].num_examples
    360
    >>> # Once prepared, it is reused.
    >>> keras_cvae.datasets.digits_builder.prepare(data_dir).info.splits["train"].num_examples
    1437
    """
    builder = KerasCvaeDigits(data_dir=data_dir)
    if builder.data_path.exists() and builder.is_prepared():
        return builder
    os.makedirs(data_dir, exist_ok=True)
    with _exclusive_lock(os.path.join(data_dir, "keras_cvae_digits.lock")):
        # Re-create: another process may have prepared it while we waited.
        builder = KerasCvaeDigits(data_dir=data_dir)
        if builder.data_path.exists() and builder.is_prepared():
            return builder
        config = tfds.download.DownloadConfig(try_download_gcs=False)
        try:
            with _without_progress_bars():
                builder.download_and_prepare(download_config=config)
        except OSError:
            # Without a working lock a concurrent writer can win the rename.
            builder = KerasCvaeDigits(data_dir=data_dir)
            if not builder.is_prepared():
                raise
    return builder


@contextlib.contextmanager
def _without_progress_bars():
    """Turns TFDS's progress bars (a global switch) off in the block, then back as they were."""
    from tensorflow_datasets.core.utils import tqdm_utils

    enabled = getattr(tqdm_utils, "_active", True)
    tfds.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            tfds.enable_progress_bar()


@contextlib.contextmanager
def _exclusive_lock(path):
    with open(path, "a") as lock_file:
        if fcntl is not None:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)
