"""Accepting a `ConvNet` as a layer or as its config, and serializing it back."""

import keras

from keras_cvae.layers import ConvNet


def as_conv_net(conv_net, argument="conv_net"):
    """Returns a `ConvNet` from a `ConvNet`, its config dict or a serialized one."""
    if isinstance(conv_net, ConvNet):
        return conv_net
    if isinstance(conv_net, dict):
        if "class_name" in conv_net:
            return keras.saving.deserialize_keras_object(conv_net)
        return ConvNet(**conv_net)
    raise ValueError(
        f"Invalid value for argument `{argument}`. Expected a "
        "`keras_cvae.layers.ConvNet` or a dict of its arguments. "
        f"Received: {argument}={conv_net!r}"
    )
