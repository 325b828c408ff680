"""keras_cvae: convolutional variational autoencoders for Keras 3 (TensorFlow backend).

Images are channels-last tensors `(batch, height, width, channels)` with
intensities in [0, 1].
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_cvae import layers  # noqa: E402
from keras_cvae.version import __version__  # noqa: E402
from keras_cvae.models import GaussianDecoder  # noqa: E402
from keras_cvae.models import GaussianEncoder  # noqa: E402
from keras_cvae.models import VAE  # noqa: E402
from keras_cvae.models import evaluate_density  # noqa: E402
from keras_cvae.models import recalibrate_batchnorm  # noqa: E402
