"""TFDS builder for scikit-learn's bundled 8x8 handwritten digits."""

import numpy as np
import tensorflow_datasets as tfds

from keras_cvae.datasets import embedded_builder

NUM_TRAIN = 1437
NUM_TEST = 360


class KerasCvaeDigits(embedded_builder.EmbeddedBuilder, tfds.core.GeneratorBasedBuilder):
    """The 1797 8x8 digits of `sklearn.datasets.load_digits` as a TFDS dataset.

    Dataset card:

    - Source: Optical Recognition of Handwritten Digits (E. Alpaydin, UCI
      Machine Learning Repository, https://archive.ics.uci.edu/dataset/80),
      the copy of its test set bundled with scikit-learn
      (`load_digits`). Nothing is downloaded.
    - Licence: scikit-learn states none; the UCI repository gives CC BY 4.0.
    - Splits: `train` is the first 1437 images in scikit-learn's order,
      `test` the last 360; the order is kept (`disable_shuffling=True`).
    - Features: `image`, uint8 `(8, 8, 1)`, integers 0..16 (17 intensity
      levels).

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

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=embedded_builder.dataset_card(type(self)),
            features=tfds.features.FeaturesDict(
                {"image": tfds.features.Image(shape=(8, 8, 1), dtype=np.uint8)}
            ),
            homepage="https://archive.ics.uci.edu/dataset/80",
            disable_shuffling=True,
        )

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

    See `embedded_builder.prepare`: nothing is printed, and concurrent
    processes wait on the lock `data_dir/keras_cvae_digits.lock`, then reuse
    the prepared data.

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
    return embedded_builder.prepare(KerasCvaeDigits, data_dir)
