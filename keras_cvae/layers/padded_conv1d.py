import keras

from keras_cvae.layers.padded_conv import FixedRankPaddedConv


@keras.saving.register_keras_serializable(package="keras_cvae")
class PaddedConv1D(FixedRankPaddedConv):
    """1-d convolution that keeps the spatial size, padded as the lecture's `Pad`.

    Inputs are channels-last, shape `(batch, length, channels)`;
    outputs have the same spatial size and `filters` channels. `floor(k/2)`
    zeros are added before and `k - 1 - floor(k/2)` after each spatial axis
    (for even `k` this differs from `padding="same"`, which pads more after).
    See `keras_cvae.layers.PaddedConv` for the arguments (all but `rank`).

    Example:

    >>> layer = keras_cvae.layers.PaddedConv1D(filters=4, kernel_size=2)
    >>> layer(np.zeros((1, 5, 3))).shape
    TensorShape([1, 5, 4])
    """

    RANK = 1
