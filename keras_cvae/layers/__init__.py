"""Convolutional building blocks: padded convolutions, residual blocks, the convnet stack."""

from keras_cvae.layers.basic_block import BasicBlock
from keras_cvae.layers.bottleneck_block import BottleneckBlock
from keras_cvae.layers.conv_net import ConvNet
from keras_cvae.layers.fused_batch_normalization import FusedBatchNormalization
from keras_cvae.layers.padded_conv import PaddedConv
from keras_cvae.layers.padded_conv1d import PaddedConv1D
from keras_cvae.layers.padded_conv2d import PaddedConv2D
from keras_cvae.layers.padded_conv3d import PaddedConv3D
from keras_cvae.layers.residual_block import ResidualBlock

__all__ = [
    "BasicBlock",
    "BottleneckBlock",
    "ConvNet",
    "FusedBatchNormalization",
    "PaddedConv",
    "PaddedConv1D",
    "PaddedConv2D",
    "PaddedConv3D",
    "ResidualBlock",
]
