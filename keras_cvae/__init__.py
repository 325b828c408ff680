"""keras_cvae: convolutional variational autoencoders for Keras 3 (TensorFlow backend).

Images are channels-last tensors `(batch, height, width, channels)` with
intensities in [0, 1]. The public names below are imported on first use, so
`keras-cvae --help` starts without loading TensorFlow.
"""

import importlib
import os

from keras_cvae.version import __version__

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

_PUBLIC = {
    "VAE": "keras_cvae.models",
    "GaussianEncoder": "keras_cvae.models",
    "GaussianDecoder": "keras_cvae.models",
    "GaussianMixturePrior": "keras_cvae.models",
    "StandardNormalPrior": "keras_cvae.models",
    "evaluate_density": "keras_cvae.models",
    "recalibrate_batchnorm": "keras_cvae.models",
    "list_presets": "keras_cvae.zoo",
}
_SUBMODULES = ("layers", "models", "datasets", "zoo", "training", "export", "distribute", "utils",
               "validation")

__all__ = ["__version__", *_PUBLIC, *_SUBMODULES]


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"keras_cvae.{name}")
    raise AttributeError(f"module 'keras_cvae' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
