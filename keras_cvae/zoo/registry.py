"""The preset zoo, registered in one place: `PRESETS`, name → metadata.

A preset's architecture lives only in its `config.json` (the serialized
`keras_cvae.VAE`, as `get_config()` gives it). The registry says what a preset
is for: a description, the dataset it is (or is meant to be) trained on,
whether weights ship, and the training defaults of `keras-cvae train`. Its
files (`config.json`, `metadata.json`, weights, model card, images) live in
the top-level `zoo/<name>/` folder, installed as the `keras_cvae_zoo`
package. Adding a preset is one entry here plus its folder. Nothing here
imports Keras.
"""

import importlib.resources
import os

# Tuned on the digits (1437 training images): with a per-pixel σ(z) and a KL
# warm-up the test ELBO is best near 40 epochs (30 for the larger bottleneck
# model), after which the decoder overfits. Training crosses an early plateau
# (test -ELBO about -45 to -50 nats) when σ(z) sharpens on the empty
# background, or stays near it; the learning rate decides how reliably. At
# 2e-3 digits_basic crossed with one seed of three (0, 1, 2), at 1e-3 with
# none, at 4e-3 with all eight (0 to 7; test -ELBO -78.4 to -80.7 nats;
# at BatchNorm momentum 0.99 `val_loss` spiked mid-training, the moving
# averages lagging behind the weights: bench/batchnorm_lag.py; the trainer
# monitors with 0.9). A 10-epoch warm-up did not help.
# The bottleneck model crosses at 2e-3. The full-covariance model crosses
# less often and overfits after: at 4e-3 for 60 epochs with seed 1 of seeds
# 0 to 3 (-71.3 nats, the others -59.6 to -61.5), for 80 epochs with seeds 0
# and 3 of 0, 2, 3 (-70.2, -69.7), with dropout 0.1 (60 epochs) with seeds 2
# and 3 of 0 to 3 (-78.7, -79.4).
_DIGITS_TRAINING = {"epochs": 40, "batch_size": 64, "learning_rate": 2e-3, "warmup_epochs": 20,
                    "seed": 0}

# mnist5k (4,000 training images) and the photo patches: a sigmoid mean and a
# per-pixel σ(z). The σ(z) of MNIST's empty background falls from 0.1 towards
# its optimum near 0.001 over about 30 epochs. Training mnist5k on images
# translated at random by up to 2 pixels every epoch keeps its training and
# test costs close (2.61 test bits/dim at 30 epochs, against 3.38 unshifted),
# after which longer training keeps paying (2.21 at 60 epochs, 1.91 at 160);
# 160 epochs take about half an hour on 2 idle cores. A 40-component prior
# follows the ten digit classes' codes more closely than 10 components:
# samples that the classifier scores higher, at the same distance from the
# training images.
# The bottleneck model on 11,246 patches takes about 2 minutes an epoch; its
# decoder's σ is at least 0.01 (`min_scale` in its config.json), about 2.5
# intensity levels, because a σ(z) that the training photographs' flat
# regions shrink to 0.001 misses unseen photographs' pixels by many σ.
_MNIST5K_TRAINING = {"epochs": 160, "batch_size": 64, "learning_rate": 2e-3, "warmup_epochs": 5,
                     "augment_shift": 2, "prior_components": 40, "seed": 0}
_PHOTO_PATCHES_TRAINING = {"epochs": 20, "batch_size": 64, "learning_rate": 2e-3, "warmup_epochs": 5,
                           "seed": 0}

PRESETS = {
    "digits_basic": {
        "description": "Lecture's basic residual blocks (C=64, k=3, L=2), Z=16, per-pixel σ(z), "
                       "8×8 digits.",
        "dataset": "digits",
        "pretrained": True,
        "training": {**_DIGITS_TRAINING, "learning_rate": 4e-3},
    },
    "digits_bottleneck": {
        "description": "Lecture's bottleneck blocks (C=256, D=64, k=3, L=2), Z=16, per-pixel σ(z), "
                       "8×8 digits.",
        "dataset": "digits",
        "pretrained": True,
        "training": {**_DIGITS_TRAINING, "epochs": 30},
    },
    "digits_basic_full": {
        "description": "digits_basic with a full-covariance posterior q(z|x) = N(f(x), L Lᵀ).",
        "dataset": "digits",
        "pretrained": True,
        "training": {**_DIGITS_TRAINING, "epochs": 60, "learning_rate": 4e-3, "seed": 1},
    },
    "mnist5k_basic": {
        "description": "Lecture's basic residual blocks (C=32, k=3, L=2), Z=32, per-pixel σ(z), "
                       "sigmoid mean, 28×28 MNIST digits (mnist5k).",
        "dataset": "mnist5k",
        "pretrained": True,
        "training": _MNIST5K_TRAINING,
    },
    "photo_patches_bottleneck": {
        "description": "Lecture's bottleneck blocks (C=256, D=64, k=3, L=2), Z=32, per-pixel "
                       "σ(z) ≥ 0.01, sigmoid mean, 16×16 RGB photo patches.",
        "dataset": "photo_patches",
        "pretrained": True,
        "training": _PHOTO_PATCHES_TRAINING,
    },
    "mnist_basic": {
        "description": "Architecture only (train it yourself): basic blocks C=64, L=4, Z=32, "
                       "28×28×1.",
        "dataset": "mnist",
        "pretrained": False,
        "training": {"epochs": 20, "batch_size": 128, "learning_rate": 1e-3},
    },
    "cifar10_bottleneck": {
        "description": "Architecture only (train it yourself): bottleneck blocks C=256, D=64, L=4, "
                       "Z=32, 32×32×3.",
        "dataset": "cifar10",
        "pretrained": False,
        "training": {"epochs": 50, "batch_size": 64, "learning_rate": 1e-3},
    },
    "celeba64_basic": {
        "description": "Architecture only (train it yourself): basic blocks C=32, L=4, Z=64, "
                       "64×64×3 (CelebA-shaped).",
        "dataset": "celeb_a",
        "pretrained": False,
        # CelebA's photographs are 218×178: center-cropped and resized to 64×64.
        "training": {"epochs": 20, "batch_size": 64, "learning_rate": 1e-3, "resize_images": True},
    },
}


def get_preset(name):
    """The registry entry of `name`; a ValueError listing the known names.

    Example:

    >>> from keras_cvae.zoo.registry import get_preset
    >>> get_preset("digits_basic_full")["training"]["seed"]
    1
    """
    if name not in PRESETS:
        raise ValueError(
            f"Unknown preset {name!r}. Known presets: {', '.join(sorted(PRESETS))} "
            "(or pass the path of a directory written by `save_to_preset`)."
        )
    return PRESETS[name]


def preset_directory(name):
    """The installed folder of a registered preset (`keras_cvae_zoo/<name>`)."""
    get_preset(name)
    return os.path.join(_zoo_root(), name)


def _zoo_root():
    """`keras_cvae_zoo` when installed; the repository's `zoo/` in a source checkout."""
    try:
        return str(importlib.resources.files("keras_cvae_zoo"))
    except ModuleNotFoundError:
        return os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "zoo")
