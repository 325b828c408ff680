"""Image sources backed by a directory of PNG/JPEG files.

Splits: if the directory has a `train/` and/or `test/` subdirectory, those
are the splits and each reads its subdirectory. Otherwise the only split is
`"train"`, holding every image under the directory. Files are found
recursively (`*.png`, `*.jpg`, `*.jpeg`, any case) and read in sorted path
order. Images decode to 8-bit (256 intensity levels); an alpha channel is
dropped.
"""

import os
import struct

import tensorflow as tf

from keras_cvae.datasets.image_source import ImageSource

EXTENSIONS = (".png", ".jpg", ".jpeg")
SPLITS = ("train", "test")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (SOF0..SOF15 without DHT, JPG and DAC).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def folder_source(directory, split, channels=None, check_sizes=True):
    """Returns the `ImageSource` of one split of an image directory.

    Args:
        directory: str. An existing directory.
        split: str. `"train"` or `"test"` (see the module docstring).
        channels: int or None. 1 or 3 to convert while decoding; `None`
            keeps the first image's (grayscale -> 1, color -> 3).
        check_sizes: bool. Whether to read every file header and raise if
            the images differ in size. Pass `False` when resizing anyway.
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
        first = tf.io.decode_image(tf.io.read_file(files[0]), expand_animations=False)
        channels = 1 if first.shape[-1] <= 2 else 3
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


def _uniform_size(files, split_dir):
    first_size = _image_size(files[0])
    for path in files[1:]:
        size = _image_size(path)
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


def _image_size(path):
    """Reads `(height, width)` from a PNG or JPEG header without decoding."""
    with open(path, "rb") as f:
        head = f.read(26)
        if head.startswith(_PNG_SIGNATURE):
            width, height = struct.unpack(">II", head[16:24])
            return height, width
        if head.startswith(b"\xff\xd8"):
            f.seek(2)
            size = _jpeg_size(f)
            if size is not None:
                return size
    raise ValueError(
        f"Expected a PNG or JPEG file. Received: '{path}', whose header is "
        "neither (or is truncated)."
    )


def _jpeg_size(f):
    while True:
        if f.read(1) != b"\xff":
            return None  # Not at a marker: corrupt or truncated.
        byte = f.read(1)
        while byte == b"\xff":  # Skip fill bytes before the marker code.
            byte = f.read(1)
        if not byte:
            return None
        marker = byte[0]
        if marker == 0x01 or 0xD0 <= marker <= 0xD9:
            continue  # Markers without a payload.
        length_bytes = f.read(2)
        if len(length_bytes) < 2:
            return None
        (length,) = struct.unpack(">H", length_bytes)
        if marker in _JPEG_SOF:
            frame = f.read(5)
            if len(frame) < 5:
                return None
            height, width = struct.unpack(">HH", frame[1:5])
            return height, width
        f.seek(length - 2, os.SEEK_CUR)
