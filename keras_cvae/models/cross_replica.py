"""Means and metric shapes over the global batch under `tf.distribute` strategies."""

import tensorflow as tf
from keras import ops


def num_replicas():
    """The current strategy's replicas in sync (`1` outside any strategy)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def global_mean(values):
    """Means over axis 0 of the global batch, the same on every replica.

    Under a strategy one all-reduce of the replicas' sums and sizes; its
    gradient is the all-reduce of the replicas' gradients.

    Example:

    >>> from keras_cvae.models.cross_replica import global_mean
    >>> [float(m) for m in global_mean([np.array([1.0, 3.0])])]
    [2.0]
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return [ops.mean(value, axis=0) for value in values]
    count = ops.cast(ops.shape(values[0])[0], "float32")
    sums = [ops.sum(value, axis=0) for value in values]
    *sums, count = context.all_reduce(tf.distribute.ReduceOp.SUM, [*sums, count])
    return [total / count for total in sums]


def reduces_outputs_on_axis_0():
    """Whether Keras reduces `train_step` outputs with `strategy.reduce(MEAN, axis=0)`.

    It does under a multi-worker `MultiWorkerMirroredStrategy`, which fails on
    scalars ("Invalid reduction dimension 0 for input with 0 dimensions",
    tensorflow/tensorflow#72388): metrics are then returned with shape `(1,)`,
    which the reduction turns back into scalars.
    """
    strategy = tf.distribute.get_strategy()
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and bool(
        strategy.extended._in_multi_worker_mode()
    )


def replica_cond(condition, true_fn, false_fn, args=()):
    """Runs `true_fn(*args)` if `condition` else `false_fn(*args)`, in a replica context.

    Like `ops.cond`, but a branch may synchronise the replicas (an optimizer's
    `apply` all-reduces the gradients), which TensorFlow refuses inside a
    `cond` in a replica context: under such a strategy, the `cond` runs in the
    cross-replica context and each branch once per replica, as Keras's
    `LossScaleOptimizer` does. `condition` must be the same on every replica
    (computed from values reduced over the global batch); `args` are this
    replica's tensors, the branches' per-replica inputs.

    Example:

    >>> from keras_cvae.models.cross_replica import replica_cond
    >>> total = tf.Variable(0.0)
    >>> replica_cond(tf.constant(False), total.assign_add, total.assign_sub, args=(2.0,))
    >>> float(total)
    -2.0
    """
    true_fn, false_fn = _without_outputs(true_fn), _without_outputs(false_fn)
    context = tf.distribute.get_replica_context()
    if (context is None or not tf.distribute.has_strategy()
            or tf.__internal__.distribute.strategy_supports_no_merge_call()):
        ops.cond(condition, lambda: true_fn(*args), lambda: false_fn(*args))
        return

    def cross_replica(distribution, condition, *args):
        # Every replica computed the same condition: take the first one's.
        condition = distribution.experimental_local_results(condition)[0]
        ops.cond(
            condition,
            lambda: distribution.extended.call_for_each_replica(true_fn, args=args),
            lambda: distribution.extended.call_for_each_replica(false_fn, args=args),
        )

    context.merge_call(cross_replica, args=(condition, *args))


def _without_outputs(function):
    """`function`, returning None: both branches of a `cond` must return the same structure."""

    def run(*args):
        function(*args)

    return run
