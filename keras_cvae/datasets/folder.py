"""Image sources backed by a folder of PNG/JPEG files.

Layouts, as people have them (`folder_source`):

- `train/` and `test/` subfolders: each split reads its own subfolder.
- Anything else — a flat folder of images, or class folders such as
  `cats/1.png`, `dogs/7.png` — is split by file name (`split_of`): a file
  belongs to `"test"` when the SHA-1 of its path relative to the folder
  (UTF-8, `/` separators), read as a big-endian integer, modulo 100 is below
  `TEST_PERCENT` (10); every other file belongs to `"train"`. About 10% of the
  images test. The split is deterministic and decided by each file alone:
  adding, removing or renaming other images never moves a file between splits.

Files are found recursively (`*.png`, `*.jpg`, `*.jpeg`, any case; class
folders may nest, also under `train/` and `test/`; their names, the labels,
are ignored) and read in sorted path order. Hidden files and folders (names
starting with `.`, such as macOS's `._x.png`) are skipped. Images decode to
8-bit (256 intensity levels); an alpha channel is dropped. Channels: grayscale
if every image of the split is grayscale, else colour (grayscale images are
converted to RGB, gray in all three channels) — a folder that mixes them
trains as colour.

Sizes: every file of the split is checked before any pipeline is built, so a
file TensorFlow cannot read is named at once. With an `image_size`, an image of
another size is refused with its file, its size and the expected one, unless
`resize=True` (then sizes may differ; `keras_cvae.datasets.load` center-crops
and resizes each image). Without an `image_size`, all images must share one size.
"""

import functools
import hashlib
import math
import os
import re

import tensorflow as tf

from keras_cvae.datasets.image_source import ImageSource

EXTENSIONS = (".png", ".jpg", ".jpeg")
SPLITS = ("train", "test")
# The share (in percent) of a flat folder's images in the "test" split.
TEST_PERCENT = 10


def folder_source(directory, split, channels=None, image_size=None, resize=False):
    """Returns the `ImageSource` of one split of an image folder.

    Args:
        directory: str. An existing folder (layouts in the module docstring).
        split: str. `"train"` or `"test"`: the subfolder of that name if the
            folder has `train/` or `test/`, else the files that `split_of`
            assigns to it (about 90% and 10%).
        channels: int or None. 1 or 3 to convert while decoding; `None`:
            3 if any image of the split is in colour (RGB or RGBA; the
            grayscale ones are converted to RGB), else 1.
        image_size: tuple or None. `(height, width)` every image must have
            (unless `resize`). `None`: the images must share one size.
        resize: bool. Accept images of any size (to be resized by the
            caller); the source's height and width are then `None` unless
            all images share one size.
    """
    root = os.path.abspath(os.path.expanduser(os.fspath(directory)))
    files = _split_files(root, split)
    shapes = [image_shape(path) for path in files]
    if channels is None:  # colour if any image is (grayscale converts to RGB losslessly)
        channels = 3 if any(shape[-1] >= 3 for shape in shapes) else 1
    height, width = _checked_size(files, shapes, root, image_size, resize)

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


def split_of(relative_path):
    """`"test"` or `"train"`: the split of a file of a folder without `train/`/`test/`.

    A file is in `"test"` when the SHA-1 of its path relative to the folder
    (UTF-8, `/` separators), read as a big-endian integer, modulo 100 is below
    `TEST_PERCENT` (10), so about 10% of the images test. Each file's split
    depends on its own path only.

    Example:

    >>> from keras_cvae.datasets.folder import split_of
    >>> split_of("cats/0001.png"), split_of("0012.png")
    ('train', 'test')
    """
    name = relative_path.replace(os.sep, "/").encode("utf-8")
    digest = int.from_bytes(hashlib.sha1(name).digest(), "big")
    return "test" if digest % 100 < TEST_PERCENT else "train"


def list_images(directory):
    """Returns the sorted paths of the PNG/JPEG files under `directory`, hidden ones skipped."""
    paths = []
    for parent, folders, names in os.walk(directory, followlinks=True):
        folders[:] = [f for f in folders if not f.startswith(".")]
        paths.extend(
            os.path.join(parent, n)
            for n in names
            if n.lower().endswith(EXTENSIONS) and not n.startswith(".")
        )
    return sorted(paths)


def image_shape(path):
    """`(height, width, channels)` of an image file, as TensorFlow decodes it.

    A JPEG's shape is read from its header (`tf.io.extract_jpeg_shape`), and
    the file is checked to end its last scan (a truncated download does not)
    and to fit TensorFlow's JPEG decoder (`MAX_JPEG_BYTES`); another image
    (PNG, and the GIF or BMP that `tf.io.decode_image` also reads) is decoded.
    A file that cannot be read, or that TensorFlow cannot read as an image,
    raises a ValueError naming it and saying why. Shapes are remembered while
    the file is unchanged.
    """
    try:
        stat = os.stat(path)
    except OSError as error:
        raise _unreadable(path, error.strerror or type(error).__name__) from None
    return _image_shape(path, stat.st_mtime_ns, stat.st_size)


# TensorFlow's JPEG decoder refuses images of this many bytes or more (jpeg_mem.cc).
MAX_JPEG_BYTES = 2**29


@functools.lru_cache(maxsize=2**16)
def _image_shape(path, mtime_ns, size):
    del mtime_ns, size  # the cache key: a changed file is read again
    try:
        contents = tf.io.read_file(path)
        if tf.io.is_jpeg(contents):
            shape = tuple(int(d) for d in tf.io.extract_jpeg_shape(contents))
            _check_jpeg(path, contents.numpy(), shape)
            return shape
        shape = tf.shape(tf.io.decode_image(contents, expand_animations=False))
    except tf.errors.OpError as error:
        # TensorFlow's own words, without the op's name and device around them.
        reason = re.sub(r"\{\{.*?\}\}\s*|\s*\[Op:.*", "", error.message or "").strip()
        raise _unreadable(path, reason or type(error).__name__) from None
    return tuple(int(d) for d in shape)


def _check_jpeg(path, contents, shape):
    """Refuses a JPEG that TensorFlow would fail to decode in the pipeline, naming it.

    Its segments must run from the start-of-image marker to an end-of-image
    one (`_jpeg_ends`), which a truncated file lacks, and its pixels must
    fit TensorFlow's decoder (a corrupt header may claim 60000x60000).
    """
    if not _jpeg_ends(contents):
        raise _unreadable(path, "Invalid JPEG data: the file ends before its end-of-image "
                                "marker; it may be truncated")
    if math.prod(shape) >= MAX_JPEG_BYTES:
        raise _unreadable(path, f"its header claims {_size(shape)} pixels x {shape[2]} channels, "
                                f"more than TensorFlow decodes ({MAX_JPEG_BYTES} bytes); it may be "
                                "corrupt")


def _jpeg_ends(data):
    """Whether the JPEG's markers lead from its start to an end-of-image marker (`FF D9`).

    Segments with a length (headers, `APPn` with thumbnails) are skipped by
    it; after a start-of-scan the entropy-coded data runs to the next marker
    (`FF` then a byte other than `00`, a restart `D0`-`D7` or fill `FF`).
    Bytes after the end-of-image marker are ignored, as decoders do.
    """
    pos, size = 2, len(data)  # after the start-of-image marker FF D8
    while pos + 2 <= size:
        if data[pos] != 0xFF:
            return False
        marker = data[pos + 1]
        if marker == 0xD9:
            return True
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker == 0x01:  # fill, no length
            pos += 1 if marker == 0xFF else 2
            continue
        if pos + 4 > size:
            return False
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker == 0xDA:  # the scan's data, up to the next marker
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= size:
                    return False
                following = data[pos + 1]
                if following != 0x00 and not 0xD0 <= following <= 0xD7 and following != 0xFF:
                    break
                pos += 1 if following == 0xFF else 2
    return False


def _unreadable(path, reason):
    return ValueError(
        f"Expected a PNG or JPEG file. Received: '{path}', which TensorFlow "
        f"cannot read as an image ({reason})."
    )


def _split_files(root, split):
    """The sorted image paths of `split` (see the module docstring), or a ValueError naming the folder."""
    if split not in SPLITS:
        raise ValueError(
            f"Unknown split for image folder '{root}'. Expected one of {list(SPLITS)} "
            "(train/ and test/ subfolders, or else a split by file name). "
            f"Received: split={split!r}"
        )
    subfolders = [s for s in SPLITS if os.path.isdir(os.path.join(root, s))]
    if subfolders:
        split_dir = os.path.join(root, split)
        if split not in subfolders:
            raise ValueError(
                f"Expected a '{split}' subfolder in '{root}', which has a "
                f"'{subfolders[0]}' one: train/ and test/ subfolders are the splits. "
                f"Received: no folder '{split_dir}'. Add it, or move the images up "
                f"to split them by file name ({TEST_PERCENT}% test)."
            )
        files = list_images(split_dir)
        if not files:
            raise _no_images(split_dir)
        return files
    files = list_images(root)
    if not files:
        raise _no_images(root)
    chosen = [path for path in files if split_of(os.path.relpath(path, root)) == split]
    if not chosen:
        raise ValueError(
            f"Expected images in the '{split}' split of '{root}'. Received: none of its "
            f"{len(files)} images falls in it (a folder without train/ and test/ "
            f"subfolders puts a file in 'test' when the SHA-1 of its path is 0-{TEST_PERCENT - 1} "
            "modulo 100). Add images, or put them in train/ and test/ subfolders."
        )
    return chosen


def _no_images(directory):
    return ValueError(
        f"Expected PNG or JPEG files ({', '.join(EXTENSIONS)}) under '{directory}'. "
        "Received: a folder without any."
    )


def _checked_size(files, shapes, root, image_size, resize):
    """`(height, width)` of all images (`None`s if they differ and `resize`); else a ValueError."""
    sizes = [shape[:2] for shape in shapes]
    if resize:
        return sizes[0] if len(set(sizes)) == 1 else (None, None)
    expected = tuple(image_size) if image_size is not None else sizes[0]
    wrong = [i for i, size in enumerate(sizes) if size != expected]
    if not wrong:
        return expected
    path, size = os.path.relpath(files[wrong[0]], root), sizes[wrong[0]]
    more = f" (and {len(wrong) - 1} more of another size)" if len(wrong) > 1 else ""
    if image_size is None:
        raise ValueError(
            f"Expected images of one size in '{root}', or an `image_size` and "
            f"resize=True to resize them (`keras-cvae train --resize`: to the preset's size). "
            f"Received: '{os.path.relpath(files[0], root)}' of size "
            f"{_size(expected)} and '{path}' of size {_size(size)}{more}."
        )
    raise ValueError(
        f"Expected images of size {_size(expected)} (height x width, the `image_size`) in "
        f"'{root}'. Received: '{path}' of size {_size(size)}{more}. Pass resize=True "
        f"(--resize) to center-crop and resize them to {_size(expected)}."
    )


def _size(size):
    return f"{size[0]}x{size[1]}"
