"""What a training run needs besides the architecture: data, schedule, seed, devices."""

import dataclasses
import os

from keras_cvae import validation
from keras_cvae.zoo import registry
from keras_cvae.zoo.preset_lookup import read_metadata
from keras_cvae.zoo.preset_lookup import recorded_dataset
from keras_cvae.zoo.preset_lookup import resolve_preset

# Hyper-parameters that `overrides` may set: the lecture's C, D, k, L, dropout
# and l2 (every block of both convnets), Z, and the VAE's β.
CONV_NET_OVERRIDES = ("channels", "bottleneck_channels", "kernel_size", "depth", "dropout_rate", "l2")
ENCODER_OVERRIDES = ("latent_dim",)
VAE_OVERRIDES = ("beta",)
OVERRIDES = CONV_NET_OVERRIDES + ENCODER_OVERRIDES + VAE_OVERRIDES

# What trains when no preset is named (`default_preset`): without a dataset,
# and for other data by its channels (at the data's own image size).
DEFAULT_PRESET = "digits_basic"
DEFAULT_PRESET_OF_CHANNELS = {1: "mnist5k_basic", 3: "photo_patches_bottleneck"}

# Defaults for a preset folder that records no training settings.
_FALLBACK = {"epochs": 20, "batch_size": 64, "learning_rate": 1e-3, "warmup_epochs": 0.0,
             "augment_shift": 0, "seed": 0, "resize_images": False, "prior_components": 10}


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """A training run of `keras_cvae.training.train`: the preset to train and how.

    Every field left `None` takes the preset's value: the registry's training
    defaults for a registered name, the recorded `metadata.json` training for
    a preset folder (`resolved()` fills them in).

    The architecture is the preset's network built for the dataset's own
    images: its height, width and channels (the convnets take any size; the
    linear maps between codes and features follow it). With
    `resize_images=True` the images are resized to the preset's input
    instead.

    Args:
        preset: str. A registered name or a preset folder: its `config.json`
            is the architecture, trained from scratch. Defaults to the
            dataset's (`default_preset`): for a registered dataset its
            pretrained preset, for a folder of grayscale images
            `mnist5k_basic`'s network, of colour ones
            `photo_patches_bottleneck`'s; without a dataset `digits_basic`.
        dataset: str. A `keras_cvae.datasets.load` name or image folder. The
            `"train"` split trains, `"test"` evaluates. Defaults to the preset's.
        data_dir: str. TFDS data directory. Defaults to `None`.
        epochs: int. Defaults to the preset's.
        batch_size: int. `B`, the global batch over all replicas. Defaults to
            the preset's.
        learning_rate: float. Adam's, decayed to 0 on a cosine schedule.
            Defaults to the preset's.
        warmup_epochs: float. Linear KL warm-up (β from 0) over this many
            epochs. Defaults to the preset's (`0`: none).
        augment_shift: int. Translate every training image by a random
            `(dy, dx)` in `[-augment_shift, augment_shift]²`, fresh every
            epoch, the uncovered border at level 0; less than half the
            image's height and width (`check_image_shape`). The test split
            is evaluated unshifted. Defaults to the preset's (`0`: none).
        seed: int. Seeds initialisation, shuffling, noise and evaluation.
            Defaults to the preset's (`0`).
        num_samples: int. `K` of the test split's importance-weighted NLL.
            Defaults to `1000`.
        prior_components: int. After training, fit a Gaussian mixture with
            this many components to the training images' codes
            (`VAE.fit_prior`); `0` keeps `N(0, I)`. Defaults to the preset's
            (`10` for most).
        overrides: dict. Hyper-parameters replacing the preset's: the
            ConvNet's `channels`, `bottleneck_channels`, `kernel_size`, `depth`,
            `dropout_rate`, `l2`; the encoder's `latent_dim`; the VAE's `beta`.
            Defaults to none.
        strategy: str or `tf.distribute.Strategy`. See
            `keras_cvae.distribute.get_strategy`; with several replicas the
            BatchNorms are synchronized. Defaults to `None` (the current
            strategy).
        jit_compile: bool. Compile the train step with XLA. Defaults to `False`.
        mixed_precision: str. A `keras_cvae.distribute.PRECISIONS` policy for
            training; the preset is saved in float32. Defaults to `"float32"`.
        resize_images: bool. Center-crop and resize the images to the
            preset's input size and channels (`keras_cvae.datasets.load`'s
            `resize`) instead of building the network at theirs. Defaults to
            the preset's (`False`, unless its training recipe resizes).

    Example:

    >>> from keras_cvae.training import TrainingConfig
    >>> config = TrainingConfig("digits_basic_full", epochs=5).resolved()
    >>> config.epochs, config.learning_rate, config.dataset
    (5, 0.001, 'digits')
    """

    preset: str = None
    dataset: str = None
    data_dir: str = None
    epochs: int = None
    batch_size: int = None
    learning_rate: float = None
    warmup_epochs: float = None
    augment_shift: int = None
    seed: int = None
    num_samples: int = 1000
    prior_components: int = None
    overrides: dict = dataclasses.field(default_factory=dict)
    strategy: object = None
    jit_compile: bool = False
    mixed_precision: str = "float32"
    resize_images: bool = None

    def __post_init__(self):
        for name in ("epochs", "batch_size", "num_samples"):
            if getattr(self, name) is not None:
                validation.check_positive_int(name, getattr(self, name))
        if self.prior_components is not None:
            validation.check_int("prior_components", self.prior_components, minimum=0)
        if self.learning_rate is not None:
            validation.check_number("learning_rate", self.learning_rate, minimum=0,
                                    minimum_inclusive=False)
        if self.warmup_epochs is not None:
            validation.check_non_negative("warmup_epochs", self.warmup_epochs)
        if self.augment_shift is not None:
            validation.check_int("augment_shift", self.augment_shift, minimum=0)
        if self.seed is not None:
            validation.check_seed("seed", self.seed, seed_range=validation.NUMPY_SEED_RANGE)
        if self.resize_images is not None and not isinstance(self.resize_images, bool):
            raise validation.invalid("resize_images", "a bool or None", self.resize_images)
        unknown = set(self.overrides or {}) - set(OVERRIDES)
        if unknown:
            raise validation.invalid("overrides", f"keys among {OVERRIDES}", self.overrides)

    def resolved(self):
        """A copy with every `None` replaced by the preset's default (the preset by the data's)."""
        preset = self.preset
        if preset is None:
            preset = default_preset(self.dataset, self.data_dir)
        defaults = preset_defaults(preset)
        changes = {key: defaults[key] for key in (*_FALLBACK, "dataset")
                   if getattr(self, key) is None}
        return dataclasses.replace(self, preset=preset, **changes)

    def check_image_shape(self, image_shape):
        """Checks the fields that depend on the image size: `augment_shift` below half of it.

        Args:
            image_shape: tuple of ints. The preset's input shape, channels last.

        Example:

        >>> from keras_cvae.training import TrainingConfig
        >>> TrainingConfig("mnist5k_basic", augment_shift=14).check_image_shape((28, 28, 1))
        Traceback (most recent call last):
            ...
        ValueError: Invalid value for argument `augment_shift`. Expected an integer >= 0 and <= 13, less than half the height and width of the 28×28 images. Received: augment_shift=14
        """
        spatial = tuple(image_shape)[:-1]
        largest = (min(spatial) - 1) // 2
        if self.augment_shift is not None and self.augment_shift > largest:
            sizes = "×".join(map(str, spatial))
            raise validation.invalid(
                "augment_shift", f"{validation.describe_int(0, largest)}, less than half the "
                f"height and width of the {sizes} images", self.augment_shift)

    def to_json(self):
        """The fields as JSON values (a strategy object by its class name)."""
        fields = dataclasses.asdict(self)
        if not isinstance(self.strategy, (str, type(None))):
            fields["strategy"] = type(self.strategy).__name__
        fields["preset"] = None if self.preset is None else os.fspath(self.preset)
        return fields


def default_preset(dataset, data_dir=None):
    """The preset whose architecture trains `dataset` when none is named.

    No dataset: `digits_basic` (on the embedded digits). A dataset that a
    pretrained preset is trained on: that preset. Any other (an image folder,
    a TFDS dataset): by its channels, `mnist5k_basic` for grayscale images
    and `photo_patches_bottleneck` for colour ones, built at the images' size.

    Example:

    >>> from keras_cvae.training.training_config import default_preset
    >>> default_preset("mnist5k"), default_preset(None)
    ('mnist5k_basic', 'digits_basic')
    """
    if dataset is None:
        return DEFAULT_PRESET
    for name, entry in registry.PRESETS.items():
        if entry["pretrained"] and entry["dataset"] == os.fspath(dataset):
            return name
    from keras_cvae import datasets

    channels = datasets.info(dataset, "train", data_dir=data_dir).image_shape[-1]
    return DEFAULT_PRESET_OF_CHANNELS[channels]


def preset_defaults(preset):
    """The preset's `name`, `description`, `dataset` and training defaults, as a dict.

    The training defaults are `epochs`, `batch_size`, `learning_rate`,
    `warmup_epochs`, `augment_shift`, `seed`, `resize_images` and
    `prior_components`: from the
    registry for a registered name, from `metadata.json` for a folder.
    """
    preset = os.fspath(preset)
    if preset in registry.PRESETS:
        entry = registry.PRESETS[preset]
        return {**_FALLBACK, **entry["training"], "name": preset,
                "description": entry["description"], "dataset": entry["dataset"]}
    resolve_preset(preset)  # a folder; otherwise a ValueError listing the names
    metadata = read_metadata(preset)
    training = {k: v for k, v in (metadata.get("training") or {}).items() if k in _FALLBACK}
    return {**_FALLBACK, **training,
            "name": metadata.get("preset", os.path.basename(os.path.normpath(preset))),
            "description": metadata.get("description", f"Trained from {preset}."),
            "dataset": recorded_dataset(metadata)}
