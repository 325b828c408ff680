"""Image sources backed by a directory of PNG/JPEG files.

Splits: if the directory has a `train/` and/or `test/` subdirectory, those
are the splits and each reads its subdirectory. Otherwise the only split is
`"train"`, holding every image under the directory. Files are found
recursively (`*.png`, `*.jpg`, `*.jpeg`, any case) and read in sorted path
order. Images decode to 8-bit (256 intensity levels); an alpha channel is
dropped.
"""

import os
import re

import tensorflow as tf

from keras_cvae.datasets.image_source import ImageSource

EXTENSIONS = (".png", ".jpg", ".jpeg")
SPLITS = ("train", "test")


def folder_source(directory, split, channels=None, check_sizes=True):
    """Returns the `ImageSource` of one split of an image directory.

    Args:
        directory: str. An existing directory.
        split: str. `"train"` or `"test"` (see the module docstring).
        channels: int or None. 1 or 3 to convert while decoding; `None`
            keeps the first image's (grayscale -> 1, color -> 3).
        check_sizes: bool. Whether to read the size of every file (a JPEG's
            from its header, another image by decoding it) and raise if the
            images differ in size. Pass `False` when resizing anyway.
    """
    root = os.path.abspath(os.path.expanduser(os.fspath(directory)))
    subsplits = [s for s in SPLITS if os.path.isdir(os.path.join(root, s))]
    available = subsplits or ["train"]
    if split not in available:
        raise ValueError(
            f"Unknown split for image directory '{root}'. Expected one of "
            f"{available} (subdirectories named 'train'/'test' define the "
            f"splits, otherwise all images form 'train'). Received: split={split!r}"
        )
    split_dir = os.path.join(root, split) if subsplits else root
    files = list_images(split_dir)
    if not files:
        raise ValueError(
            f"Expected PNG or JPEG files ({', '.join(EXTENSIONS)}) under "
            f"'{split_dir}'. Received: a directory without any."
        )
    if channels is None:
        channels = 1 if image_shape(files[0])[-1] <= 2 else 3
    height = width = None
    if check_sizes:
        height, width = _uniform_size(files, split_dir)

    def make_dataset():
        def decode(path):
            image = tf.io.decode_image(
                tf.io.read_file(path),
                channels=channels,
                dtype=tf.uint8,
                expand_animations=False,
            )
            image.set_shape((height, width, channels))
            return image

        dataset = tf.data.Dataset.from_tensor_slices(files)
        return dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE)

    return ImageSource(root, split, (height, width, channels), 256, len(files), make_dataset)


def list_images(directory):
    """Returns the sorted paths of the PNG/JPEG files under `directory`."""
    paths = []
    for parent, _, names in os.walk(directory, followlinks=True):
        paths.extend(
            os.path.join(parent, n) for n in names if n.lower().endswith(EXTENSIONS)
        )
    return sorted(paths)


def image_shape(path):
    """`(height, width, channels)` of an image file, as TensorFlow decodes it.

    A JPEG's shape is read from its header (`tf.io.extract_jpeg_shape`);
    another image (PNG, and the GIF or BMP that `tf.io.decode_image` also
    reads) is decoded. A file TensorFlow cannot read as an image raises a
    ValueError naming it.
    """
    contents = tf.io.read_file(path)
    try:
        if tf.io.is_jpeg(contents):
            shape = tf.io.extract_jpeg_shape(contents)
        else:
            shape = tf.shape(tf.io.decode_image(contents, expand_animations=False))
    except tf.errors.InvalidArgumentError as error:
        # TensorFlow's own words, without the op's name and device around them.
        reason = re.sub(r"\{\{.*?\}\}\s*|\s*\[Op:.*", "", error.message or "").strip()
        raise ValueError(
            f"Expected a PNG or JPEG file. Received: '{path}', which TensorFlow "
            f"cannot read as an image ({reason or type(error).__name__})."
        ) from None
    return tuple(int(d) for d in shape)


def _uniform_size(files, split_dir):
    first_size = image_shape(files[0])[:2]
    for path in files[1:]:
        size = image_shape(path)[:2]
        if size != first_size:
            raise ValueError(
                f"Expected images of one size in '{split_dir}', or an "
                "`image_size` to resize them to. Received: "
                f"'{os.path.relpath(files[0], split_dir)}' of size "
                f"{first_size[0]}x{first_size[1]} and "
                f"'{os.path.relpath(path, split_dir)}' of size "
                f"{size[0]}x{size[1]}. Pass image_size=(height, width)."
            )
    return first_size
