"""BatchNorm whose training pass is one fused kernel on TensorFlow (`FusedBatchNormV3`)."""

import keras
import numpy as np
from keras import ops

from keras_cvae.validation import check_number
from keras_cvae.validation import invalid


def check_synchronized(value):
    """A `synchronized` argument as `True`, `False` or `"auto"` (`"per_replica"` is `False`).

    Raises a Keras-style ValueError for anything else.

    Example:

    >>> check_synchronized("per_replica"), check_synchronized("auto"), check_synchronized(True)
    (False, 'auto', True)
    """
    if isinstance(value, str) and value in ("auto", "per_replica"):
        return "auto" if value == "auto" else False
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise invalid("synchronized", '"auto", True, False or "per_replica"', value)


def replicas_in_sync():
    """The replicas of the current `tf.distribute` replica context; 1 outside one.

    1 in the default strategy, in a strategy's cross-replica context (where
    Keras's synchronized moments are those of the local batch anyway) and on
    backends other than TensorFlow.
    """
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    return 1 if context is None else context.num_replicas_in_sync


@keras.saving.register_keras_serializable(package="keras_cvae")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` computed by TensorFlow's fused kernel in training.

    Same arguments, weights, results and moving-statistics update as the Keras
    layer (the moving variance uses the biased batch variance, as Keras does,
    not the fused kernel's Bessel-corrected one). Only the training pass of
    4-d channels-last inputs on the TensorFlow backend changes: one
    `FusedBatchNormV3` (and one gradient kernel) instead of Keras's moments,
    normalisation and their gradients, op by op — about 10% of a small
    convnet's training step on CPU. Every other case (inference, other ranks
    or backends, synchronized statistics, renorm, masks) is the Keras layer's.

    One addition: `synchronized="auto"` decides when the layer is called —
    Keras's synchronized statistics (over the global batch) in a replica
    context of a `tf.distribute` strategy with more than one replica in sync,
    the unsynchronized (fused) layer otherwise, e.g. on one device.
    `synchronized` is `False` by default, as in Keras (`"per_replica"` is
    read as `False`).

    Example:

    >>> layer = keras_cvae.layers.FusedBatchNormalization()
    >>> layer(np.random.rand(4, 8, 8, 16), training=True).shape
    TensorShape([4, 8, 8, 16])
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
        synchronized=False,
        **kwargs,
    ):
        synchronized = check_synchronized(synchronized)
        momentum = check_number("momentum", momentum, minimum=0, maximum=1)
        epsilon = check_number("epsilon", epsilon, minimum=0, minimum_inclusive=False)
        # Keras refuses any true `synchronized` off TensorFlow; "auto" is fine there.
        super().__init__(
            axis=axis, momentum=momentum, epsilon=epsilon, center=center, scale=scale,
            beta_initializer=beta_initializer, gamma_initializer=gamma_initializer,
            moving_mean_initializer=moving_mean_initializer,
            moving_variance_initializer=moving_variance_initializer,
            beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
            beta_constraint=beta_constraint, gamma_constraint=gamma_constraint, renorm=renorm,
            renorm_clipping=renorm_clipping, renorm_momentum=renorm_momentum,
            synchronized=synchronized is True, **kwargs,
        )
        self.synchronized = synchronized

    def synchronizes(self):
        """Whether a training call here computes statistics over all replicas."""
        if self.synchronized == "auto":
            return replicas_in_sync() > 1
        return self.synchronized

    def _moments(self, inputs, mask):
        # Keras's BatchNormalization takes its batch moments from here, with
        # `synchronized=self.synchronized`: "auto" is decided now, at trace time.
        if mask is None and self.synchronized == "auto":
            return ops.moments(inputs, axes=self._reduction_axes, synchronized=self.synchronizes())
        return super()._moments(inputs, mask)

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable and mask is None and self._fusable(inputs)):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        x = ops.cast(inputs, "float32")
        channels = ops.shape(x)[-1]
        gamma = ops.cast(self.gamma, "float32") if self.scale else ops.ones((channels,), "float32")
        beta = ops.cast(self.beta, "float32") if self.center else ops.zeros((channels,), "float32")
        outputs, mean, unbiased_variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x,
            scale=gamma,
            offset=beta,
            mean=tf.constant([], "float32"),
            variance=tf.constant([], "float32"),
            epsilon=self.epsilon,
            data_format="NHWC",
            is_training=True,
        )
        count = ops.cast(ops.size(x) // channels, "float32")
        variance = unbiased_variance * ((count - 1.0) / ops.maximum(count, 1.0))
        momentum = self.momentum
        self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(self.moving_variance * momentum + variance * (1.0 - momentum))
        return ops.cast(outputs, self.compute_dtype)

    def _fusable(self, inputs):
        return (
            keras.backend.backend() == "tensorflow"
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and not self.synchronizes()
            and not self.renorm
            and self.epsilon >= 1.001e-5  # the fused kernel's lower bound
        )
