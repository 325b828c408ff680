"""Batching a dataset for a strategy: the global batch, static shapes where needed."""

import tensorflow as tf

from keras_cvae.validation import check_positive_int
from keras_cvae.validation import invalid


def prepare_dataset(images, global_batch_size, strategy=None, drop_remainder=None, shuffle=None, seed=None):
    """Batches images for `model.fit` under `strategy`: the global batch, split across replicas.

    Under a `TPUStrategy` (or with `drop_remainder=True`) incomplete batches
    are dropped, so every batch has the static shape XLA compiles once for,
    and `global_batch_size` must be a multiple of the replica count so that
    each replica gets the same number of images.

    Args:
        images: unbatched `tf.data.Dataset` of images, or an array
            `(N, *image_shape)`.
        global_batch_size: int. Images per step, over all replicas.
        strategy: `tf.distribute.Strategy`. Defaults to the current one.
        drop_remainder: bool. Defaults to `True` under a `TPUStrategy`,
            `False` otherwise.
        shuffle: int. Shuffle buffer size, reshuffled each epoch. Defaults to
            `None` (no shuffling).
        seed: int. Seed of the shuffling. Defaults to `None`.

    Example:

    >>> strategy = keras_cvae.distribute.get_strategy("one_device")
    >>> dataset = keras_cvae.distribute.prepare_dataset(
    ...     np.zeros((10, 8, 8, 1), "float32"), 4, strategy, drop_remainder=True)
    >>> dataset.element_spec.shape
    TensorShape([4, 8, 8, 1])
    """
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    if drop_remainder is None:
        drop_remainder = isinstance(strategy, tf.distribute.TPUStrategy)
    global_batch_size = check_positive_int("global_batch_size", global_batch_size)
    if drop_remainder and global_batch_size % replicas:
        expected = f"a multiple of the {replicas} replicas, with static shapes (drop_remainder)"
        raise invalid("global_batch_size", expected, global_batch_size)
    dataset = images if isinstance(images, tf.data.Dataset) else tf.data.Dataset.from_tensor_slices(images)
    if shuffle:
        dataset = dataset.shuffle(shuffle, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(global_batch_size, drop_remainder=drop_remainder)
    return dataset.prefetch(tf.data.AUTOTUNE)
