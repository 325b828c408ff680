import os
import re

import numpy as np
import pytest
import tensorflow as tf

from keras_cvae.utils import atomic_directory, image_grid, save_png


def test_image_grid_layout_and_png(tmp_path):
    images = np.zeros((5, 2, 3, 1), "float32")
    images[3] = 1.0
    grid = image_grid(images, columns=3, padding=1, scale=2)
    assert grid.shape == (2 * (4 + 1) + 1, 3 * (6 + 1) + 1, 1) and grid.dtype == np.uint8
    # Image 3 sits in row 1, column 0.
    assert np.all(grid[6:10, 1:7] == 255) and np.all(grid[1:5, 1:7] == 0)
    path = tmp_path / "g.png"
    save_png(path, grid)
    np.testing.assert_array_equal(tf.io.decode_png(path.read_bytes()).numpy(), grid)
    with pytest.raises(ValueError, match=r"Received: shape \(2, 8, 8\)"):
        image_grid(np.zeros((2, 8, 8)))


def test_atomic_directory(tmp_path):
    target = tmp_path / "artifact"
    with atomic_directory(target) as tmp:
        open(os.path.join(tmp, "a.txt"), "w").write("one")
    assert (target / "a.txt").read_text() == "one"
    with pytest.raises(FileExistsError, match="already exists"):
        with atomic_directory(target):
            pass
    with pytest.raises(RuntimeError):
        with atomic_directory(target, overwrite=True) as tmp:
            open(os.path.join(tmp, "b.txt"), "w").write("two")
            raise RuntimeError("failed half-way")
    assert sorted(os.listdir(tmp_path)) == ["artifact"] and (target / "a.txt").exists()
    with atomic_directory(target, overwrite=True) as tmp:
        open(os.path.join(tmp, "b.txt"), "w").write("two")
    assert sorted(os.listdir(target)) == ["b.txt"] and sorted(os.listdir(tmp_path)) == ["artifact"]


def test_image_logger_writes_pngs_and_tensorboard(tmp_path):
    from keras_cvae.utils import ImageLogger
    from tests.helpers import digits, tiny_vae

    vae = tiny_vae()
    vae.compile(optimizer="adam")
    logger = ImageLogger(str(tmp_path / "pics"), images=digits("test")[:5], log_dir=str(tmp_path / "tb"),
                         num_samples=9, scale=2)
    vae.fit(digits("train")[:64], batch_size=32, epochs=2, verbose=0, callbacks=[logger])
    names = sorted(os.listdir(tmp_path / "pics"))
    assert names == ["reconstructions_epoch_001.png", "reconstructions_epoch_002.png",
                     "samples_epoch_001.png", "samples_epoch_002.png"]
    grid = tf.io.decode_png((tmp_path / "pics" / "samples_epoch_002.png").read_bytes()).numpy()
    assert grid.shape == (3 * 17 + 1, 3 * 17 + 1, 1)
    recon = tf.io.decode_png((tmp_path / "pics" / "reconstructions_epoch_001.png").read_bytes()).numpy()
    assert recon.shape == (2 * 17 + 1, 5 * 17 + 1, 1)
    assert any(f.startswith("events") for f in os.listdir(tmp_path / "tb" / "images"))


def test_importing_utils_leaves_tensorflow_unloaded():
    import subprocess
    import sys

    script = (  # as the console script imports it, before `keras_cvae/__init__.py` runs
        "import sys, keras_cvae_cli\n"
        "keras_cvae_cli.defer_package()\n"
        "import keras_cvae.utils as utils\n"
        "print('tensorflow' in sys.modules, callable(utils.image_grid))\n"
        "import keras_cvae.utils.image_logger\n"  # the submodule does not shadow the function
        "print(callable(utils.image_grid), utils.ImageLogger.__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["False", "True", "True", "ImageLogger"], result.stderr[-2000:]


@pytest.mark.parametrize(
    "value, kwargs, expected",
    [
        (3, dict(lengths=2, broadcast=True), (3, 3)),
        ((x for x in (4, 5)), dict(lengths=2), (4, 5)),
        (np.array([8, 8, 1]), dict(lengths=(2, 3)), (8, 8, 1)),
        ([None, 8], dict(lengths=2, allow_none=True), (None, 8)),
    ],
)
def test_check_dims(value, kwargs, expected):
    from keras_cvae.validation import check_dims

    dims = check_dims("size", value, expected="sizes", **kwargs)
    assert dims == expected and all(type(d) in (int, type(None)) for d in dims)


@pytest.mark.parametrize(
    "value, kwargs",
    [(3, dict(lengths=2)), ("33", dict(lengths=2)), ((3, True), dict(lengths=2)), ((3, 0), dict(lengths=2)),
     ((3, None), dict(lengths=2)), ((3, 3, 3), dict(lengths=2)), (True, dict(lengths=2, broadcast=True)),
     (2.0, dict(lengths=2, broadcast=True))],
)
def test_check_dims_names_the_value_as_given(value, kwargs):
    from keras_cvae.validation import check_dims

    message = f"Invalid value for argument `size`. Expected sizes. Received: size={value!r}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check_dims("size", value, expected="sizes", **kwargs)
