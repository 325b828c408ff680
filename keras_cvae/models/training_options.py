"""Compile settings that make `VAE.fit` fast on CPU, chosen from the model's shape."""

import math

from keras_cvae.validation import check_dims


def recommended_steps_per_execution(image_shape):
    """`steps_per_execution` for `VAE.compile`: `16` for small images, `1` for larger ones.

    Small images (at most 16×16 pixels per channel, any rank) make short
    training steps, in which Keras's per-step host work (a Python call into
    TensorFlow, callbacks, metrics read back) is a visible share; running 16
    steps per call removes most of it. Larger images keep Keras's `1`. With
    more than one step per execution, callbacks (and the stop on a NaN loss)
    see every `steps_per_execution`-th batch only. Measured on a 2-core CPU
    with `bench/train_speed.py`; the zoo's trainer (`keras-cvae train`)
    compiles with it.

    Args:
        image_shape: tuple. The model's `image_shape`, channels last.

    Example:

    >>> conv_net = {"depth": 1, "channels": 16}
    >>> vae = keras_cvae.VAE(
    ...     keras_cvae.GaussianEncoder(latent_dim=8, conv_net=conv_net),
    ...     keras_cvae.GaussianDecoder(image_shape=(8, 8, 1), conv_net=conv_net))
    >>> vae.compile(optimizer="adam", steps_per_execution=(
    ...     keras_cvae.models.recommended_steps_per_execution(vae.image_shape)))
    >>> vae.steps_per_execution
    16
    """
    image_shape = check_dims("image_shape", image_shape, (2, 3, 4),
                             "spatial sizes then channels, e.g. (8, 8, 1)")
    return 16 if math.prod(image_shape[:-1]) <= 16 * 16 else 1
