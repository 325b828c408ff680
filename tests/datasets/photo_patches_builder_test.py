import importlib.util
import os
import re

import numpy as np
import pytest
import tensorflow_datasets as tfds

import keras_cvae.datasets
from keras_cvae.datasets import DatasetInfo
from keras_cvae.datasets import embedded_builder
from keras_cvae.datasets import photo_patches_builder
from keras_cvae.datasets.photo_patches_builder import photo_patches_arrays

Image = pytest.importorskip("PIL.Image")

TRAIN_PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
                "motorcycle_right.png", "hubble_deep_field.jpg", "ihc.png", "color.png"]
TEST_PHOTOS = ["china.jpg", "flower.jpg"]


def _decode(package, folder, name):
    """A photo decoded by Pillow, not by the builder: {name: (H, W, 3) uint8}."""
    (root,) = importlib.util.find_spec(package).submodule_search_locations
    return np.asarray(Image.open(os.path.join(root, folder, name)).convert("RGB"))


@pytest.fixture(scope="module")
def photos():
    return {
        "train": {name: _decode("skimage", "data", name) for name in TRAIN_PHOTOS},
        "test": {name: _decode("sklearn", "datasets/images", name) for name in TEST_PHOTOS},
    }


@pytest.fixture(scope="module")
def arrays():
    return {split: photo_patches_arrays(split) for split in ("train", "test")}


@pytest.fixture(scope="module")
def builder(data_dir):
    """Prepared once, in the session's data folder (which `load` uses too)."""
    return embedded_builder.prepare(photo_patches_builder.KerasCvaePhotoPatches, str(data_dir))


def _counts(split_photos):
    return {name: (p.shape[0] // 16) * (p.shape[1] // 16) for name, p in split_photos.items()}


@pytest.mark.parametrize("split, total", [("train", 11246), ("test", 2080)])
def test_one_patch_per_full_grid_cell(photos, arrays, split, total):
    assert sum(_counts(photos[split]).values()) == total == len(arrays[split])
    assert arrays[split].shape[1:] == (16, 16, 3) and arrays[split].dtype == np.uint8


@pytest.mark.parametrize("split", ["train", "test"])
def test_patches_are_slices_of_the_photos_row_by_row(photos, arrays, split):
    start = 0
    for name, photo in photos[split].items():
        cols = photo.shape[1] // 16
        count = (photo.shape[0] // 16) * cols
        patches = arrays[split][start:start + count]
        for index in [0, cols - 1, cols, count - 1]:  # Corners, and the start of row 1.
            row, col = divmod(index, cols)
            np.testing.assert_array_equal(
                patches[index], photo[16 * row:16 * row + 16, 16 * col:16 * col + 16], err_msg=name)
        assert np.array_equal(patches.reshape(-1, cols, 16, 16, 3).transpose(0, 2, 1, 3, 4)
                              .reshape(-1, cols * 16, 3), photo[:count // cols * 16, :cols * 16])
        start += count
    assert start == len(arrays[split])


def test_test_patches_never_appear_in_train(arrays):
    train = {patch.tobytes() for patch in arrays["train"]}
    assert not any(patch.tobytes() in train for patch in arrays["test"])


def test_the_tfds_splits_hold_the_patches(builder, arrays):
    for split in ("train", "test"):
        assert builder.info.splits[split].num_examples == len(arrays[split])
    images = np.stack([ex["image"] for ex in tfds.as_numpy(builder.as_dataset(split="test"))])
    np.testing.assert_array_equal(images, arrays["test"])
    first = next(iter(tfds.as_numpy(builder.as_dataset(split="train[-5:]"))))
    np.testing.assert_array_equal(first["image"], arrays["train"][-5])


def test_load_gives_rgb_floats(builder, arrays):
    ds, info = keras_cvae.datasets.load("photo_patches", "test", with_info=True)
    assert info == DatasetInfo("photo_patches", "test", (16, 16, 3), 256, 2080)
    x = next(iter(ds)).numpy()
    assert x.shape == (16, 16, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(x, (arrays["test"][0] / 255).astype(np.float32))
    assert keras_cvae.datasets.info("photo_patches", "train").num_examples == 11246
    noisy = next(iter(keras_cvae.datasets.load("photo_patches", "test", batch_size=64,
                                               dequantize=True))).numpy()
    v = arrays["test"][:64].astype(np.int64)
    assert np.all(noisy >= v / 256 - 1e-7) and np.all(noisy < (v + 1) / 256)


def test_the_card_gives_the_patch_counts(builder, photos):
    description = builder.info.description
    assert "Args:" not in description
    for split, total in [("train", "11,246"), ("test", "2,080")]:
        assert f"{total} patches" in description
        for name, count in _counts(photos[split]).items():
            photo = photos[split][name]
            assert re.search(rf"{re.escape(name)}.*?{photo.shape[0]}x{photo.shape[1]} \(.*?"
                             rf"{count:,}", description, re.S), name


def test_missing_scikit_image_says_what_to_install(tmp_path, hide_packages):
    hide_packages("skimage")
    with pytest.raises(ModuleNotFoundError) as raised:
        keras_cvae.datasets.load("photo_patches", "test", data_dir=str(tmp_path))
    assert str(raised.value) == (
        "Dataset 'photo_patches' reads scikit-image's sample photographs (astronaut.png), but "
        'skimage is not installed. Install it with: pip install "keras-cvae[data]" '
        "(or: pip install scikit-image)"
    )
    assert not (tmp_path / "keras_cvae_photo_patches" / "1.0.0").exists()
