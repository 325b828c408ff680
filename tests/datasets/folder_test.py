import hashlib
import os
import re

import numpy as np
import pytest
import tensorflow as tf

import keras_cvae.datasets
from keras_cvae.datasets import folder


def _write(path, image, fmt="png"):
    path.parent.mkdir(parents=True, exist_ok=True)
    encode = tf.io.encode_png if fmt == "png" else tf.io.encode_jpeg
    tf.io.write_file(str(path), encode(tf.constant(image, tf.uint8)))


def _images(n, height, width, channels, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, channels), np.uint8)


def test_folder_reads_pngs_recursively_in_sorted_order(tmp_path):
    images = _images(3, 6, 5, 3)
    _write(tmp_path / "train" / "b" / "1.png", images[1])
    _write(tmp_path / "train" / "a.PNG", images[0])
    _write(tmp_path / "train" / "b" / "2.png", images[2])
    _write(tmp_path / "test" / "c.png", images[0])
    (tmp_path / "train" / "notes.txt").write_text("not an image")
    ds, info = keras_cvae.datasets.load(str(tmp_path), "train", batch_size=3, with_info=True)
    assert info == keras_cvae.datasets.DatasetInfo(str(tmp_path), "train", (6, 5, 3), 256, 3)
    x = next(iter(ds)).numpy()
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, images / np.float32(255))


def test_folder_resizes_on_request_and_converts_channels(tmp_path):
    gray = _images(2, 10, 10, 1)
    _write(tmp_path / "train" / "big.png", gray[0])
    _write(tmp_path / "train" / "small.png", gray[1, :4, :4])
    ds = keras_cvae.datasets.load(str(tmp_path), "train", batch_size=2, image_size=8, channels=3,
                                  resize=True)
    x = next(iter(ds)).numpy()
    assert x.shape == (2, 8, 8, 3)
    np.testing.assert_array_equal(x[..., 0], x[..., 1])
    np.testing.assert_allclose(x * 255, np.round(x * 255), atol=1e-4)
    # A constant image stays constant through the resize.
    _write(tmp_path / "flat" / "train" / "c.png", np.full((5, 7, 3), 200, np.uint8))
    flat = keras_cvae.datasets.load(str(tmp_path / "flat"), "train", image_size=(4, 4), channels=1,
                                    resize=True)
    np.testing.assert_allclose(next(iter(flat)).numpy(), 200 / 255, atol=1e-6)


def test_a_folder_mixing_grayscale_and_colour_is_colour_the_gray_one_gray_in_every_channel(
        tmp_path):
    gray, colour = _images(1, 4, 4, 1)[0], _images(1, 4, 4, 3)[0]
    _write(tmp_path / "train" / "0.png", gray)
    _write(tmp_path / "train" / "1.png", colour)
    assert keras_cvae.datasets.info(str(tmp_path)).image_shape == (4, 4, 3)
    x = next(iter(keras_cvae.datasets.load(str(tmp_path), "train", batch_size=2))).numpy()
    np.testing.assert_array_equal(x[0], np.repeat(gray, 3, axis=-1) / np.float32(255))
    np.testing.assert_array_equal(x[1], colour / np.float32(255))
    _write(tmp_path / "gray" / "train" / "0.png", gray)
    assert keras_cvae.datasets.info(str(tmp_path / "gray")).image_shape == (4, 4, 1)


def test_folder_of_different_sizes_needs_resize(tmp_path):
    _write(tmp_path / "train" / "a.jpg", _images(1, 8, 8, 3)[0], fmt="jpeg")
    _write(tmp_path / "train" / "b.jpeg", _images(1, 8, 9, 3)[0], fmt="jpeg")
    with pytest.raises(ValueError, match=r"one size .* resize=True .*'train/a.jpg' of size 8x8 and "
                                         r"'train/b.jpeg' of size 8x9"):
        keras_cvae.datasets.load(str(tmp_path), "train")
    ds = keras_cvae.datasets.load(str(tmp_path), "train", image_size=(4, 4), resize=True,
                                  batch_size=2)
    assert next(iter(ds)).shape == (2, 4, 4, 3)


def test_images_of_another_size_are_refused_naming_the_sizes(tmp_path):
    for i in range(3):
        _write(tmp_path / "train" / f"{i}.png", _images(1, 16, 16, 1, seed=i)[0])
    _write(tmp_path / "train" / "3.png", _images(1, 8, 8, 1)[0])
    message = (r"Expected images of size 8x8 \(height x width, the `image_size`\) in '.*'. "
               r"Received: 'train/0.png' of size 16x16 \(and 2 more of another size\). "
               r"Pass resize=True \(--resize\) to center-crop and resize them to 8x8.")
    with pytest.raises(ValueError, match=message):
        keras_cvae.datasets.load(str(tmp_path), "train", image_size=8)
    with pytest.raises(ValueError, match=message):
        keras_cvae.datasets.info(str(tmp_path), "train", image_size=(8, 8))
    ds, info = keras_cvae.datasets.load(str(tmp_path), "train", image_size=8, resize=True,
                                        batch_size=4, with_info=True)
    assert info.image_shape == (8, 8, 1) and next(iter(ds)).shape == (4, 8, 8, 1)
    # Images of the expected size load without `resize`, unchanged.
    (tmp_path / "train" / "3.png").unlink()
    same = keras_cvae.datasets.load(str(tmp_path), "train", image_size=16, batch_size=3)
    np.testing.assert_array_equal(
        next(iter(same)).numpy() * 255,
        np.concatenate([_images(1, 16, 16, 1, seed=i) for i in range(3)]).astype(np.float32))


def test_resize_needs_an_image_size(tmp_path):
    _write(tmp_path / "train" / "a.png", _images(1, 4, 4, 1)[0])
    with pytest.raises(ValueError, match=r"Expected an `image_size` to resize to. Received: "
                                         r"resize=True and image_size=None"):
        keras_cvae.datasets.load(str(tmp_path), "train", resize=True)
    with pytest.raises(ValueError, match="Received: resize=1"):
        keras_cvae.datasets.load(str(tmp_path), "train", image_size=4, resize=1)


@pytest.mark.parametrize("fmt, shape", [("png", (7, 300, 1)), ("png", (3, 2, 4)), ("jpeg", (33, 17, 3)),
                                        ("jpeg", (5, 4, 1))])
def test_image_shape_matches_the_written_image(tmp_path, fmt, shape):
    path = tmp_path / f"x.{fmt}"
    _write(path, _images(1, *shape)[0], fmt=fmt)
    assert folder.image_shape(str(path)) == shape


def _truncated(encode, size):
    return lambda: encode(_images(1, 4, 4, 1)[0]).numpy()[:size]


def _jpeg_without_its_end():
    """A JPEG cut in its image data: the header (and so the shape) is intact."""
    contents = tf.io.encode_jpeg(_images(1, 64, 64, 3)[0]).numpy()
    return contents[: len(contents) * 4 // 5]


def _jpeg_claiming(height, width):
    """A JPEG whose header (start-of-frame) claims another size than its data holds."""
    contents = bytearray(tf.io.encode_jpeg(_images(1, 8, 8, 1)[0]).numpy())
    frame = contents.find(b"\xff\xc0")
    contents[frame + 5:frame + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(contents)


@pytest.mark.parametrize(
    "name, contents, reason",
    [
        ("notes.png", lambda: b"not an image", "Unknown image file format"),
        ("cut.png", _truncated(tf.io.encode_png, 30), "Invalid PNG"),
        ("cut.jpg", _truncated(tf.io.encode_jpeg, 10), "Invalid JPEG data"),
        ("empty.png", lambda: b"", "Input is empty"),
        ("cut_data.jpg", _jpeg_without_its_end, "Invalid JPEG data: the file ends before its "
                                                "end-of-image marker; it may be truncated"),
        ("huge.jpg", lambda: _jpeg_claiming(60000, 60000),
         "its header claims 60000x60000 pixels x 1 channels, more than TensorFlow decodes"),
    ],
)
@pytest.mark.parametrize("resize", [False, True])
def test_a_file_that_is_not_an_image_is_named(tmp_path, name, contents, reason, resize):
    _write(tmp_path / "train" / "a.png", _images(1, 4, 4, 1)[0])
    (tmp_path / "train" / name).write_bytes(contents())
    message = rf"Expected a PNG or JPEG file. Received: '.*{name}', which TensorFlow cannot read as an image \({re.escape(reason)}"
    with pytest.raises(ValueError, match=message):
        keras_cvae.datasets.load(str(tmp_path), "train", image_size=4, resize=resize)


def test_a_broken_link_is_named(tmp_path):
    _write(tmp_path / "train" / "a.png", _images(1, 4, 4, 1)[0])
    os.symlink(tmp_path / "gone.png", tmp_path / "train" / "b.png")
    with pytest.raises(ValueError, match=r"Received: '.*train/b.png', which TensorFlow cannot read "
                                         r"as an image \(No such file or directory\)"):
        keras_cvae.datasets.load(str(tmp_path), "train", image_size=4)


def test_valid_jpegs_pass_the_end_check(tmp_path):
    contents = tf.io.encode_jpeg(_images(1, 16, 16, 3)[0]).numpy()
    path = tmp_path / "x.jpg"
    path.write_bytes(contents + b"trailing bytes, ignored by decoders \xff\xda")
    assert folder.image_shape(str(path)) == (16, 16, 3)


def test_train_test_subfolders_are_the_splits(tmp_path):
    _write(tmp_path / "train" / "a.png", _images(1, 4, 4, 1)[0])
    _write(tmp_path / "train" / "b.png", _images(1, 4, 4, 1)[0])
    _write(tmp_path / "test" / "c.png", _images(1, 4, 4, 1)[0])
    _write(tmp_path / "stray.png", _images(1, 4, 4, 1)[0])  # outside both: not read
    assert keras_cvae.datasets.info(str(tmp_path), "train").num_examples == 2
    assert keras_cvae.datasets.info(str(tmp_path), "test").num_examples == 1
    with pytest.raises(ValueError, match=r"Expected one of \['train', 'test'\].*split='validation'"):
        keras_cvae.datasets.load(str(tmp_path), "validation")


def _flat_folder(path, names):
    """PNGs of 4x4 gray whose first pixels spell their number, for telling them apart."""
    for i, name in enumerate(names):
        image = np.zeros((4, 4, 1), np.uint8)
        image[0, 0, 0], image[0, 1, 0] = i % 256, i // 256
        _write(path / name, image)


def _numbers(dataset):
    x = np.round(np.concatenate(list(dataset.as_numpy_iterator())) * 255).astype(int)
    return sorted(x[:, 0, 0, 0] + 256 * x[:, 0, 1, 0])


def _documented_test_share(name):
    """The rule of the loader's docstring, written out again: SHA-1 of the relative path, mod 100 < 10."""
    return int(hashlib.sha1(name.encode("utf-8")).hexdigest(), 16) % 100 < 10


def test_flat_folder_is_split_by_a_hash_of_the_file_name(tmp_path):
    names = [f"{i:04d}.png" for i in range(200)]
    _flat_folder(tmp_path, names)
    train = keras_cvae.datasets.load(str(tmp_path), "train", batch_size=64)
    test, info = keras_cvae.datasets.load(str(tmp_path), "test", batch_size=64, with_info=True)
    expected_test = [i for i, name in enumerate(names) if _documented_test_share(name)]
    assert _numbers(test) == expected_test and info.num_examples == len(expected_test)
    assert _numbers(train) == sorted(set(range(200)) - set(expected_test))
    assert 0.05 < len(expected_test) / 200 < 0.15  # about folder.TEST_PERCENT = 10%
    assert folder.TEST_PERCENT == 10
    # Deterministic, and stable when images are added: no file changes split.
    _flat_folder(tmp_path / "more", [f"x{i}.png" for i in range(20)])
    again = keras_cvae.datasets.load(str(tmp_path), "test", batch_size=64)
    assert set(expected_test) <= set(_numbers(again))
    assert [folder.split_of(n) for n in names] == [
        "test" if _documented_test_share(n) else "train" for n in names]


def test_class_folders_are_read_recursively_and_labels_ignored(tmp_path):
    names = [f"{label}/{i:03d}.png" for label in ("cats", "dogs/small") for i in range(30)]
    _flat_folder(tmp_path / "flat", names)
    train_info = keras_cvae.datasets.info(str(tmp_path / "flat"), "train")
    test_info = keras_cvae.datasets.info(str(tmp_path / "flat"), "test")
    expected_test = sum(_documented_test_share(name) for name in names)
    assert (train_info.num_examples, test_info.num_examples) == (60 - expected_test, expected_test)
    # Class folders inside train/ and test/.
    _flat_folder(tmp_path / "split" / "train", ["cats/1.png", "dogs/2.png", "dogs/3.png"])
    _flat_folder(tmp_path / "split" / "test", ["cats/4.png"])
    assert keras_cvae.datasets.info(str(tmp_path / "split"), "train").num_examples == 3
    assert keras_cvae.datasets.info(str(tmp_path / "split"), "test").num_examples == 1


def test_hidden_files_and_folders_are_skipped(tmp_path):
    _write(tmp_path / "train" / "a.png", _images(1, 4, 4, 1)[0])
    (tmp_path / "train" / "._a.png").write_bytes(b"macOS resource fork")
    _write(tmp_path / "train" / ".thumbnails" / "a.png", _images(1, 2, 2, 1)[0])
    assert keras_cvae.datasets.info(str(tmp_path), "train").num_examples == 1


def test_a_split_without_images_names_the_folder(tmp_path):
    _flat_folder(tmp_path / "one", ["one.png"])  # SHA-1 puts one.png in train
    with pytest.raises(ValueError, match=r"Expected images in the 'test' split of '.*one'. "
                                         r"Received: none of its 1 images falls in it"):
        keras_cvae.datasets.load(str(tmp_path / "one"), "test")
    _flat_folder(tmp_path / "only_train" / "train", ["a.png"])
    with pytest.raises(ValueError, match=r"Expected a 'test' subfolder in '.*only_train'"):
        keras_cvae.datasets.load(str(tmp_path / "only_train"), "test")
    (tmp_path / "empty" / "test").mkdir(parents=True)
    _flat_folder(tmp_path / "empty" / "train", ["a.png"])
    with pytest.raises(ValueError, match=r"Expected PNG or JPEG files .* under '.*empty/test'"):
        keras_cvae.datasets.load(str(tmp_path / "empty"), "test")


def test_folder_without_images(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match=rf"Expected PNG or JPEG files .* under '{tmp_path}'"):
        keras_cvae.datasets.load(str(tmp_path), "train")


def test_bare_name_of_existing_directory(tmp_path, monkeypatch):
    _write(tmp_path / "my_images" / "img.png", _images(1, 4, 4, 3)[0])  # in train
    monkeypatch.chdir(tmp_path)
    assert keras_cvae.datasets.info("my_images").num_examples == 1
