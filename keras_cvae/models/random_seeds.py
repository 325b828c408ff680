"""Stateless random seeds and noise for the VAE, the same on one device and under a strategy."""

import tensorflow as tf
from keras import ops

from keras_cvae.models import latent_prior


def fold_in(seed, data):
    """A new seed pair derived from `seed` and an integer (a replica, a chunk)."""
    return tf.random.experimental.stateless_fold_in(seed, ops.cast(data, "int64"))


def seed_pair(seed, seed_generator, per_replica=True):
    """A stateless seed pair from `seed`, or from `seed_generator` when `seed` is None.

    Args:
        seed: None, an int, or a seed pair of integers (e.g. from `fold_in`).
        seed_generator: `keras.random.SeedGenerator`. Used when `seed` is None.
        per_replica: bool. Make the pair distinct per replica under a strategy.

    Example:

    >>> from keras_cvae.models.random_seeds import seed_pair
    >>> seed_pair(3, seed_generator=None).numpy().tolist()
    [3, 0]
    """
    if seed is None:
        seed = ops.cast(seed_generator.next(), "int64")
    else:  # an int or a pair, checked: a ValueError naming `seed` otherwise
        seed = latent_prior.seed_pair(seed)
    context = tf.distribute.get_replica_context()
    if per_replica and context is not None and context.num_replicas_in_sync > 1:
        seed = fold_in(seed, context.replica_id_in_sync_group)
    return seed


def global_batch_noise(batch, latent_dim, seed):
    """`ε ~ N(0, I)` of shape `(batch, latent_dim)`: this replica's rows of one global draw.

    Under a strategy, each replica takes its own rows of one draw for the
    global batch: replicas get independent noise, and every example gets the
    ε it would get on one device, however the batch is split.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tf.random.stateless_normal((batch, latent_dim), seed)
    replicas, replica = context.num_replicas_in_sync, context.replica_id_in_sync_group
    if isinstance(batch, int):  # static shapes (TPU, `drop_remainder`): equal splits
        total, offset = replicas * batch, replica * batch
    else:  # the replicas' batch sizes, e.g. a split last batch
        sizes = ops.one_hot(replica, replicas, dtype="float32") * ops.cast(batch, "float32")
        sizes = ops.cast(context.all_reduce(tf.distribute.ReduceOp.SUM, sizes), "int32")
        total, offset = ops.sum(sizes), ops.sum(sizes[:replica])
    noise = tf.random.stateless_normal((total, latent_dim), seed)
    return tf.slice(noise, [offset, 0], [batch, latent_dim])
