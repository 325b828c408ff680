"""TFDS builder for 16x16 RGB patches of the photographs bundled with scikit-image and scikit-learn."""

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_cvae.datasets import embedded_builder
from keras_cvae.validation import check_choice

PATCH_SIZE = 16
# (package, path inside the installed package) of each split's photographs, in order.
PHOTOS = {
    "train": tuple(
        ("skimage", f"data/{name}")
        for name in (
            "astronaut.png",
            "chelsea.png",
            "coffee.png",
            "rocket.jpg",
            "motorcycle_left.png",
            "motorcycle_right.png",
            "hubble_deep_field.jpg",
            "ihc.png",
            "color.png",
        )
    ),
    "test": (("sklearn", "datasets/images/china.jpg"), ("sklearn", "datasets/images/flower.jpg")),
}
NUM_TRAIN = 11246
NUM_TEST = 2080
INSTALL = {
    "skimage": 'pip install "keras-cvae[data]" (or: pip install scikit-image)',
    "sklearn": "pip install scikit-learn",
}
DESCRIBED_AS = {
    "skimage": "scikit-image's sample photographs",
    "sklearn": "scikit-learn's sample photographs",
}


class KerasCvaePhotoPatches(embedded_builder.EmbeddedBuilder, tfds.core.GeneratorBasedBuilder):
    """16x16 RGB patches (256 levels) of scikit-image's photos (train) and scikit-learn's (test).

    Dataset card:

    - Source: the colour images in the `skimage/data/` folder of the
      installed scikit-image (train) and the two photographs in
      `sklearn/datasets/images/` of the installed scikit-learn (test), read
      without importing either package. Nothing is downloaded.
    - Patches: each image is cut into non-overlapping 16x16 patches on a
      regular grid (stride 16, from the top-left corner, row by row; partial
      patches at the right and bottom edges are dropped), so an `H x W`
      image gives `floor(H / 16) * floor(W / 16)` patches. No patch is
      dropped otherwise (120 train patches are one flat colour: astronaut 47,
      ihc 3, color 70). Order (kept, `disable_shuffling=True`): image by image
      as listed, each image's patches row by row.
    - Train, 11,246 patches: astronaut.png 512x512 (1,024), chelsea.png
      300x451 (504), coffee.png 400x600 (925), rocket.jpg 427x640 (1,040),
      motorcycle_left.png and motorcycle_right.png 500x741 (1,426 each),
      hubble_deep_field.jpg 872x1000 (3,348), ihc.png 512x512 (1,024),
      color.png 370x371 (529).
    - Test, 2,080 patches: china.jpg and flower.jpg, 427x640 (1,040 each);
      never seen in training.
    - Left out: scikit-image's grayscale images and synthetic ones (logo,
      horse, chessboard_RGB, phantom); retina.jpg, whose 7,744 patches would be 41% of the train
      split and mostly a near-black background (JPEG noise keeps most of
      them from being one exact colour, so a flat-patch rule would not
      remove them).
    - Licences, as the packages state them: astronaut (NASA, public domain,
      "no known copyright restrictions"), chelsea (CC0, Stefan van der Walt),
      coffee (CC0, Rachel Michetti, courtesy of Pikolo Espresso Bar), rocket
      (SpaceX, released into the public domain), hubble_deep_field (NASA,
      may be freely used in the public domain) and ihc ("no known copyright
      restrictions", CMMI) per the docstrings of `skimage.data`
      (`skimage/data/README.txt` states none); motorcycle_left/right are
      down-sampled Middlebury 2014 stereo images (Scharstein et al., GCPR
      2014) and color.png a colour wheel, with no licence stated beyond
      scikit-image's BSD-3-Clause. china.jpg and flower.jpg: CC BY 2.0,
      Flickr users danielbuechele and vultilion, retrieved by Robert Layton
      (`sklearn/datasets/images/README.txt`).
    - Features: `image`, uint8 `(16, 16, 3)`, 256 intensity levels. PNGs
      are decoded losslessly, JPEGs with `tf.io.decode_jpeg(...,
      dct_method="INTEGER_ACCURATE")` (the same pixels as Pillow's decoder);
      `photo_patches_arrays(split)` returns the patches as a NumPy array.

    Args:
        data_dir: str. The TFDS data directory to prepare into and read from.

    Example:

    >>> import tempfile
    >>> builder = keras_cvae.datasets.photo_patches_builder.KerasCvaePhotoPatches(
    ...     data_dir=tempfile.mkdtemp())
    >>> builder.info.features["image"].shape
    (16, 16, 3)
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    INTENSITY_LEVELS = 256

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=embedded_builder.dataset_card(type(self)),
            features=tfds.features.FeaturesDict(
                {"image": tfds.features.Image(shape=(PATCH_SIZE, PATCH_SIZE, 3), dtype=np.uint8)}
            ),
            homepage="https://scikit-image.org/docs/stable/api/skimage.data.html",
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Nothing to download.
        return {split: self._generate_examples(photo_patches_arrays(split)) for split in PHOTOS}

    def _generate_examples(self, patches):
        for index, patch in enumerate(patches):
            yield index, {"image": patch}


def photo_patches_arrays(split):
    """The patches of a `"photo_patches"` split as a NumPy array, without TFDS.

    The same patches, in the same order, as
    `keras_cvae.datasets.load("photo_patches", split)` (there as floats
    `v / 255`).

    Args:
        split: str. `"train"` (11,246 patches) or `"test"` (2,080).

    Returns:
        uint8 array `(N, 16, 16, 3)`.

    Example:

    >>> from keras_cvae.datasets.photo_patches_builder import photo_patches_arrays
    >>> photo_patches_arrays("test").shape
    (2080, 16, 16, 3)
    """
    check_choice("split", split, tuple(PHOTOS))
    return np.concatenate([grid_patches(read_photo(*photo)) for photo in PHOTOS[split]])


def read_photo(package, relative_path):
    """An RGB photograph of an installed package as uint8 `(H, W, 3)`; alpha is dropped.

    Args:
        package: str. `"skimage"` or `"sklearn"`.
        relative_path: str. The file inside the package folder.

    Example:

    >>> read_photo("sklearn", "datasets/images/flower.jpg").shape
    (427, 640, 3)
    """
    name = relative_path.rsplit("/", 1)[-1]
    path = embedded_builder.package_file(
        package,
        relative_path,
        f"Dataset 'photo_patches' reads {DESCRIBED_AS[package]} ({name})",
        INSTALL[package],
    )
    contents = tf.io.read_file(path)
    if name.lower().endswith((".jpg", ".jpeg")):
        image = tf.io.decode_jpeg(contents, dct_method="INTEGER_ACCURATE")
    else:
        image = tf.io.decode_png(contents)
    image = image.numpy()
    if image.dtype != np.uint8 or image.shape[-1] not in (3, 4):
        raise ValueError(
            f"Expected an 8-bit RGB or RGBA image in {path}. Received: dtype={image.dtype} "
            f"and {image.shape[-1]} channel(s)."
        )
    return image[..., :3]


def grid_patches(image, size=PATCH_SIZE):
    """The non-overlapping `size x size` patches of `image` `(H, W, C)`, row by row.

    Stride `size` from the top-left corner; partial patches at the right and
    bottom edges are dropped: `floor(H / size) * floor(W / size)` patches.

    Example:

    >>> image = np.arange(5 * 7).reshape(5, 7, 1)
    >>> patches = grid_patches(image, size=2)
    >>> patches.shape
    (6, 2, 2, 1)
    >>> patches[4, :, :, 0].tolist()  # Second row of patches, second column.
    [[16, 17], [23, 24]]
    """
    rows, cols = image.shape[0] // size, image.shape[1] // size
    grid = image[: rows * size, : cols * size].reshape(rows, size, cols, size, image.shape[-1])
    return grid.transpose(0, 2, 1, 3, 4).reshape(rows * cols, size, size, image.shape[-1])
