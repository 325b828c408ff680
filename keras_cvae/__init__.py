"""keras_cvae: convolutional variational autoencoders for Keras 3 (TensorFlow backend).

Images are channels-last tensors `(batch, height, width, channels)` with
intensities in [0, 1]. The public names below are imported on first use, so
`keras-cvae --help` starts without loading TensorFlow.
"""

import importlib
import os

from keras_cvae.version import __version__

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TensorFlow's oneDNN CPU kernels, which it leaves off by default on CPUs
# without AVX-512: on a 2-core AVX2 CPU they train the zoo's VAEs 1.2-1.4×
# faster per CPU-second (`bench/train_speed.py`). Read once, when TensorFlow
# is imported: it has no effect if TensorFlow was imported first, and
# `TF_ENABLE_ONEDNN_OPTS=0` keeps them off.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

_PUBLIC = {
    "VAE": "keras_cvae.models",
    "GaussianEncoder": "keras_cvae.models",
    "GaussianDecoder": "keras_cvae.models",
    "evaluate_density": "keras_cvae.models",
    "recalibrate_batchnorm": "keras_cvae.models",
    "list_presets": "keras_cvae.zoo",
}
_SUBMODULES = ("layers", "models", "datasets", "zoo", "export", "distribute", "utils")

__all__ = ["__version__", *_PUBLIC, *_SUBMODULES]


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"keras_cvae.{name}")
    raise AttributeError(f"module 'keras_cvae' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
