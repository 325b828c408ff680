"""Training batches whose order, translations and noise are a function of (seed, epoch) alone.

A run resumed from the backup of epoch `k` then sees, from epoch `k + 1` on,
exactly the batches of the uninterrupted run: `tf.data`'s reshuffling and
`Dataset.random` would restart their sequences in the new process.
"""

import tensorflow as tf

from keras_cvae import validation
from keras_cvae.datasets.image_ops import to_unit_interval

# Folded into an epoch's key for the translations: not a block or batch index (those are >= 0).
_SHIFT_STREAM = -1


def epoch_batches(images, batch_size, intensity_levels, seed, epochs, first_epoch=0,
                  buffer_size=10_000, drop_remainder=False, shift=0):
    """The batches of epochs `first_epoch, ..., epochs - 1`, one epoch after the other.

    Each epoch shuffles `images` in blocks of `buffer_size` (the whole split
    if it is smaller) with a stateless seed of `(seed, epoch, block)`; with a
    `shift`, translates the image at position `j` of the epoch by a random
    `(dy, dx)` in `[-shift, shift]²` keyed by `(seed, epoch, j)`, the uncovered
    border at level 0; and dequantizes batch `i` with noise keyed by
    `(seed, epoch, i)`: epoch `e` is the same whichever epoch the pipeline
    started from, in any process.
    Give it to `fit` with `steps_per_epoch` (one iterator runs through every
    epoch, so an execution of several steps must divide the epoch).

    Args:
        images: unbatched `tf.data.Dataset` of images `v / (L - 1)`, in a
            fixed order (as `keras_cvae.datasets.load` yields them).
        batch_size: int. The global batch size.
        intensity_levels: int. `L`.
        seed: int. The run's seed.
        epochs: int. One past the last epoch.
        first_epoch: int. The first epoch (0-based). Defaults to `0`.
        buffer_size: int. Images shuffled together. Defaults to `10_000`.
        drop_remainder: bool. Drop each epoch's last incomplete batch (static
            shapes). Defaults to `False`.
        shift: int. The largest translation, in pixels, along each spatial
            axis (augmentation); `0` leaves the images as they are. Defaults
            to `0`.

    Example:

    >>> from keras_cvae.training.epoch_data import epoch_batches
    >>> images = tf.data.Dataset.from_tensor_slices(np.linspace(0, 1, 6).reshape(6, 1, 1, 1))
    >>> resumed = epoch_batches(images, 3, intensity_levels=6, seed=0, epochs=3, first_epoch=1)
    >>> whole = epoch_batches(images, 3, intensity_levels=6, seed=0, epochs=3)
    >>> [b.shape[0] for b in resumed]
    [3, 3, 3, 3]
    >>> all(np.array_equal(a, b) for a, b in zip(list(whole)[2:], resumed))
    True
    """
    shift = validation.check_int("shift", shift, minimum=0)
    dtype = tf.uint8 if intensity_levels <= 256 else tf.int32  # compact in the shuffle blocks
    levels = images.map(lambda x: tf.cast(tf.round(x * (intensity_levels - 1)), dtype),
                        num_parallel_calls=tf.data.AUTOTUNE)

    def one_epoch(epoch):
        key = tf.stack([tf.constant(seed, tf.int64), epoch])

        def shuffle(block_index, block):
            block_key = tf.random.experimental.stateless_fold_in(key, block_index)
            return tf.random.experimental.stateless_shuffle(block, seed=block_key)

        shuffled = levels.batch(buffer_size).enumerate().map(shuffle).unbatch()
        if shift:
            shuffled = _translated(shuffled, shift, key)
        return _dequantized(shuffled.batch(batch_size, drop_remainder=drop_remainder),
                            intensity_levels, key)

    epochs = tf.data.Dataset.range(first_epoch, epochs)
    return epochs.flat_map(one_epoch).prefetch(tf.data.AUTOTUNE)


def fixed_batches(images, batch_size, intensity_levels, seed, drop_remainder=False):
    """`images` batched in order and dequantized with the same noise on every pass (validation).

    Args:
        images: unbatched `tf.data.Dataset` of images `v / (L - 1)`.
        batch_size: int.
        intensity_levels: int. `L`.
        seed: int.
        drop_remainder: bool. Defaults to `False`.
    """
    levels = images.map(lambda x: tf.round(x * (intensity_levels - 1)),
                        num_parallel_calls=tf.data.AUTOTUNE)
    batches = levels.batch(batch_size, drop_remainder=drop_remainder)
    key = tf.constant([seed, -1], tf.int64)  # epochs are >= 0: other noise than training's
    return _dequantized(batches, intensity_levels, key).prefetch(tf.data.AUTOTUNE)


def _translated(levels, shift, key):
    """Each image of `levels` moved by a random `(dy, dx)` in `[-shift, shift]²`, zero-filled.

    The image at position `j` is padded with `shift` zeros on each side of its
    spatial axes and cropped back to its size at an offset keyed by `(key, j)`.
    """
    stream = tf.random.experimental.stateless_fold_in(key, tf.constant(_SHIFT_STREAM, tf.int64))

    def translate(index, image):
        size = image.shape if image.shape.is_fully_defined() else tf.shape(image)
        padding = [[shift, shift]] * (image.shape.rank - 1) + [[0, 0]]  # not the channels
        padded = tf.pad(image, padding)
        offset_seed = tf.random.experimental.stateless_fold_in(stream, index)
        return tf.image.stateless_random_crop(padded, size, seed=offset_seed)

    return levels.enumerate().map(translate, num_parallel_calls=tf.data.AUTOTUNE)


def _dequantized(batches, intensity_levels, key):
    """Batches of levels `v` as `(v + u) / L`, the noise `u` of batch `i` keyed by `(key, i)`."""

    def noisy(index, batch):
        noise_seed = tf.random.experimental.stateless_fold_in(key, index)
        return to_unit_interval(batch, intensity_levels, noise_seed)

    return batches.enumerate().map(noisy, num_parallel_calls=tf.data.AUTOTUNE)
