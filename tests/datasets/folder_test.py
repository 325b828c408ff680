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
    _write(tmp_path / "b" / "1.png", images[1])
    _write(tmp_path / "a.PNG", images[0])
    _write(tmp_path / "b" / "2.png", images[2])
    (tmp_path / "notes.txt").write_text("not an image")
    ds, info = keras_cvae.datasets.load(str(tmp_path), "train", batch_size=3, with_info=True)
    assert info == keras_cvae.datasets.DatasetInfo(str(tmp_path), "train", (6, 5, 3), 256, 3)
    x = next(iter(ds)).numpy()
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, images / np.float32(255))


def test_folder_resizes_and_converts_channels(tmp_path):
    gray = _images(2, 10, 10, 1)
    _write(tmp_path / "big.png", gray[0])
    _write(tmp_path / "small.png", gray[1, :4, :4])
    ds = keras_cvae.datasets.load(str(tmp_path), "train", batch_size=2, image_size=8, channels=3)
    x = next(iter(ds)).numpy()
    assert x.shape == (2, 8, 8, 3)
    np.testing.assert_array_equal(x[..., 0], x[..., 1])
    np.testing.assert_allclose(x * 255, np.round(x * 255), atol=1e-4)
    # A constant image stays constant through the resize.
    _write(tmp_path / "flat" / "c.png", np.full((5, 7, 3), 200, np.uint8))
    flat = keras_cvae.datasets.load(str(tmp_path / "flat"), "train", image_size=(4, 4), channels=1)
    np.testing.assert_allclose(next(iter(flat)).numpy(), 200 / 255, atol=1e-6)


def test_folder_default_channels_follow_first_image(tmp_path):
    _write(tmp_path / "0.png", _images(1, 4, 4, 1)[0])
    _write(tmp_path / "1.png", _images(1, 4, 4, 3)[0])
    assert keras_cvae.datasets.info(str(tmp_path)).image_shape == (4, 4, 1)
    x = next(iter(keras_cvae.datasets.load(str(tmp_path), "train", batch_size=2)))
    assert x.shape == (2, 4, 4, 1)


def test_folder_of_different_sizes_needs_image_size(tmp_path):
    _write(tmp_path / "a.jpg", _images(1, 8, 8, 3)[0], fmt="jpeg")
    _write(tmp_path / "b.jpeg", _images(1, 8, 9, 3)[0], fmt="jpeg")
    with pytest.raises(ValueError, match=r"'a.jpg' of size 8x8 and 'b.jpeg' of size 8x9. Pass image_size"):
        keras_cvae.datasets.load(str(tmp_path), "train")
    ds = keras_cvae.datasets.load(str(tmp_path), "train", image_size=(4, 4), batch_size=2)
    assert next(iter(ds)).shape == (2, 4, 4, 3)


@pytest.mark.parametrize("fmt, shape", [("png", (7, 300, 1)), ("png", (3, 2, 4)), ("jpeg", (33, 17, 3)),
                                        ("jpeg", (5, 4, 1))])
def test_image_shape_matches_the_written_image(tmp_path, fmt, shape):
    path = tmp_path / f"x.{fmt}"
    _write(path, _images(1, *shape)[0], fmt=fmt)
    assert folder.image_shape(str(path)) == shape


def _truncated(encode, size):
    return lambda: encode(_images(1, 4, 4, 1)[0]).numpy()[:size]


@pytest.mark.parametrize(
    "name, contents, reason",
    [
        ("notes.png", lambda: b"not an image", "Unknown image file format"),
        ("cut.png", _truncated(tf.io.encode_png, 30), "Invalid PNG"),
        ("cut.jpg", _truncated(tf.io.encode_jpeg, 10), "Invalid JPEG data"),
    ],
)
def test_a_file_that_is_not_an_image_is_named(tmp_path, name, contents, reason):
    _write(tmp_path / "a.png", _images(1, 4, 4, 1)[0])
    (tmp_path / name).write_bytes(contents())
    message = rf"Expected a PNG or JPEG file. Received: '.*{name}', which TensorFlow cannot read as an image \({reason}"
    with pytest.raises(ValueError, match=message):
        keras_cvae.datasets.load(str(tmp_path), "train")


def test_train_test_subfolders_are_the_splits(tmp_path):
    _write(tmp_path / "train" / "a.png", _images(1, 4, 4, 1)[0])
    _write(tmp_path / "train" / "b.png", _images(1, 4, 4, 1)[0])
    _write(tmp_path / "test" / "c.png", _images(1, 4, 4, 1)[0])
    assert keras_cvae.datasets.info(str(tmp_path), "train").num_examples == 2
    assert keras_cvae.datasets.info(str(tmp_path), "test").num_examples == 1
    with pytest.raises(ValueError, match=r"Expected one of \['train', 'test'\].*split='validation'"):
        keras_cvae.datasets.load(str(tmp_path), "validation")


def test_flat_folder_has_only_train(tmp_path):
    _write(tmp_path / "a.png", _images(1, 4, 4, 1)[0])
    with pytest.raises(ValueError, match=r"Expected one of \['train'\].*split='test'"):
        keras_cvae.datasets.load(str(tmp_path), "test")


def test_folder_without_images(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match="Expected PNG or JPEG files"):
        keras_cvae.datasets.load(str(tmp_path), "train")


def test_bare_name_of_existing_directory(tmp_path, monkeypatch):
    _write(tmp_path / "my_images" / "a.png", _images(1, 4, 4, 3)[0])
    monkeypatch.chdir(tmp_path)
    assert keras_cvae.datasets.info("my_images").num_examples == 1
