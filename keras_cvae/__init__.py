"""keras_cvae: convolutional variational autoencoders for Keras 3 (TensorFlow backend).

Images are channels-last tensors `(batch, height, width, channels)` with
intensities in [0, 1].

`import keras_cvae` imports the layers and models, which registers every
class the package saves with Keras: after it, `keras.models.load_model(path)`
loads any `.keras` file the package wrote. `keras_cvae.datasets`, `training`,
`export` and `distribute` are imported on first use.

The import loads TensorFlow with its oneDNN CPU kernels on: unless
`TF_ENABLE_ONEDNN_OPTS` is set, it sets `TF_ENABLE_ONEDNN_OPTS=1` (TensorFlow
sets it itself only on CPUs with AVX512_VNNI, BF16 or AMX; `MirroredStrategy`
over logical CPU devices needs `0`). And quietly: unless `TF_CPP_MIN_LOG_LEVEL` is set,
it sets `TF_CPP_MIN_LOG_LEVEL=2` in `os.environ` before TensorFlow loads
(TensorFlow's C++ INFO and WARNING lines hidden, errors kept; a level you set
is left as it is), and it hides the start-up lines that ignore the level
(CUDA probing, `cuInit`, CPU features, oneDNN notices). To see them all, set
`TF_CPP_MIN_LOG_LEVEL=0` before the import. Nothing changes if TensorFlow
was imported first (by `import keras`, say): import keras_cvae first.
Python's logging and warnings are left as they are. The `keras-cvae` command
parses its arguments before it imports the package (see `keras_cvae_cli`),
so `keras-cvae --help` starts without TensorFlow.
"""

import importlib
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_cvae import _quiet_start

_quiet_start.import_tensorflow()  # before the models import Keras (module docstring)

from keras_cvae import layers
from keras_cvae import models
from keras_cvae import utils
from keras_cvae import validation
from keras_cvae import zoo
from keras_cvae.models import VAE
from keras_cvae.models import GaussianDecoder
from keras_cvae.models import GaussianEncoder
from keras_cvae.models import GaussianMixturePrior
from keras_cvae.models import StandardNormalPrior
from keras_cvae.models import evaluate_density
from keras_cvae.models import recalibrate_batchnorm
from keras_cvae.version import __version__
from keras_cvae.zoo import list_presets

# Imported on first use: datasets loads TensorFlow Datasets, export its converters.
_LAZY_SUBMODULES = ("datasets", "training", "export", "distribute")

__all__ = ["GaussianDecoder", "GaussianEncoder", "GaussianMixturePrior", "StandardNormalPrior",
           "VAE", "__version__", "evaluate_density", "layers", "list_presets", "models",
           "recalibrate_batchnorm", "utils", "validation", "zoo", *_LAZY_SUBMODULES]


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"keras_cvae.{name}")
    raise AttributeError(f"module 'keras_cvae' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
