"""Finding a preset folder and reading its `metadata.json`, without importing Keras.

What the CLI needs before TensorFlow loads: an unknown name fails at once,
listing the known ones, and `keras-cvae presets` starts in a blink.
"""

import json
import os

from keras_cvae.zoo import registry

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"


def resolve_preset(preset):
    """The folder of `preset`: a registered name or an existing directory."""
    preset = os.fspath(preset)
    if preset in registry.PRESETS:
        return registry.preset_directory(preset)
    if os.path.isdir(preset):
        if not os.path.exists(os.path.join(preset, CONFIG_FILE)):
            raise ValueError(f"{preset} is a folder but has no {CONFIG_FILE}: not a preset.")
        return preset
    registry.get_preset(preset)  # raises a ValueError listing the known names
    return preset


def read_metadata(preset):
    """The `metadata.json` of a registered preset or a preset folder, as a dict (`{}` if absent).

    Example:

    >>> keras_cvae.zoo.read_metadata("digits_basic")["dataset"]["name"]
    'digits'
    """
    path = os.path.join(resolve_preset(preset), METADATA_FILE)
    return read_json(path) if os.path.exists(path) else {}


def recorded_dataset(metadata):
    """The dataset name in a preset's metadata (`"dataset"`: a name or `{"name": ...}`), or None."""
    dataset = metadata.get("dataset")
    return dataset.get("name") if isinstance(dataset, dict) else dataset or None


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError as error:
        raise ValueError(f"Missing preset file {path}.") from error
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error
