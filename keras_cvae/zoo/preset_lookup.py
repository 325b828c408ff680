"""Finding a preset folder and reading its JSON files, without importing Keras.

What the command line needs before TensorFlow loads: an unknown name fails at
once, listing the known ones, and `keras-cvae presets` starts in a blink.
"""

import json
import os
import re

from keras_cvae.utils.atomic_write import remove_leftovers
from keras_cvae.utils.json_file import read_json
from keras_cvae.validation import invalid
from keras_cvae.zoo import registry

# `GaussianDecoder`'s default `min_scale` (this module does not import Keras).
DEFAULT_MIN_SCALE = 1e-3

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean",
               type(None): "null"}
# The keys of `metadata.json` that the package reads: (check, what it accepts).
_METADATA_KEYS = {
    "weights": (lambda value: isinstance(value, dict) and isinstance(value.get("sha256"), str)
                and re.fullmatch(r"[0-9a-f]{64}", value["sha256"]) is not None,
                'an object whose "sha256" is 64 hexadecimal digits'),
    "dataset": (lambda value: isinstance(value, str) or isinstance(value, dict)
                and isinstance(value.get("name"), str),
                'a dataset name or an object whose "name" is one'),
}


def resolve_preset(preset):
    """The folder of `preset`: a registered name or an existing directory.

    A path written as one (`./digits_basic`, `/home/me/digits_basic`) is
    always the folder. A bare registered name is the registered preset; if a
    folder of that name is also in the current directory, the name is
    ambiguous: a ValueError says so, and how to name either. For a folder,
    what saves killed while writing it left is cleaned up first
    (`keras_cvae.utils.atomic_write.remove_leftovers`): a preset whose
    replacement was interrupted is found complete, old or new.
    """
    try:
        preset = os.fspath(preset)
    except TypeError:
        raise invalid("preset", "a registered preset name or a folder path (str)", preset) from None
    if preset in registry.PRESETS:
        _check_unambiguous(preset)
        return registry.preset_directory(preset)
    remove_leftovers(preset)
    if os.path.isdir(preset):
        if not os.path.exists(os.path.join(preset, CONFIG_FILE)):
            raise ValueError(f"{preset} is a folder but has no {CONFIG_FILE}: not a preset.")
        return preset
    registry.get_preset(preset)  # raises a ValueError listing the known names
    return preset


def _check_unambiguous(name):
    """Raises if the registered preset `name` is also a folder in the current directory."""
    directory = registry.preset_directory(name)
    if os.path.isdir(name) and not (os.path.isdir(directory) and os.path.samefile(name, directory)):
        raise ValueError(
            f"The preset name {name!r} is ambiguous: it is a registered preset and a folder in "
            f"the current directory, {os.path.abspath(name)}. Pass {os.path.join('.', name)!r} "
            "(or an absolute path) for the folder, or rename the folder to load the registered "
            f"preset. Received: preset={name!r}"
        )


def read_metadata(preset):
    """The `metadata.json` of a registered preset or a preset folder, as a dict (`{}` if absent).

    Example:

    >>> keras_cvae.zoo.read_metadata("digits_basic")["dataset"]["name"]
    'digits'
    """
    path = os.path.join(resolve_preset(preset), METADATA_FILE)
    if not os.path.lexists(path):
        return {}
    metadata = read_json_object(path)
    for key, (valid, expected) in _METADATA_KEYS.items():
        if metadata.get(key) is not None and not valid(metadata[key]):
            # JSON's spelling, which the command line does not read as its own flags.
            raise ValueError(
                f'The preset file {path} is damaged: its key "{key}" must be null or '
                f'{expected}. Received: "{key}": {json.dumps(metadata[key])[:200]}'
            )
    return metadata


def read_config(preset):
    """The `config.json` of a registered preset or a preset folder: the serialized VAE."""
    return read_json_object(os.path.join(resolve_preset(preset), CONFIG_FILE))


def read_json_object(path):
    """A preset's JSON file, which must hold an object; a ValueError naming the file otherwise."""
    contents = read_json(path, "preset file")
    if not isinstance(contents, dict):
        raise ValueError(
            f"The preset file {path} is damaged: expected a JSON object ({{...}}), found a JSON "
            f"{_JSON_TYPES.get(type(contents), type(contents).__name__)}."
        )
    return contents


def recorded_dataset(metadata):
    """The dataset name in a preset's metadata (`"dataset"`: a name or `{"name": ...}`), or None.

    Example:

    >>> from keras_cvae.zoo.preset_lookup import recorded_dataset
    >>> recorded_dataset({"dataset": {"name": "digits", "num_train": 1437}})
    'digits'
    """
    dataset = metadata.get("dataset")
    return dataset.get("name") if isinstance(dataset, dict) else dataset or None


def architecture_summary(config):
    """A one-line description of a serialized VAE's architecture, read from its `config.json`.

    Example:

    >>> from keras_cvae.zoo.preset_lookup import architecture_summary, read_config
    >>> architecture_summary(read_config("digits_bottleneck"))
    'bottleneck ×2, C=256, D=64, k=3, Z=16, diagonal q(z|x), linear_per_pixel σ, sigmoid mean'
    >>> architecture_summary(read_config("mnist5k_basic"))
    'basic ×2, C=32, k=3, Z=32, diagonal q(z|x), linear_per_pixel σ, sigmoid mean'
    >>> architecture_summary(read_config("photo_patches_bottleneck"))
    'bottleneck ×2, C=256, D=64, k=3, Z=32, diagonal q(z|x), linear_per_pixel σ ≥ 0.01, sigmoid mean'
    """
    encoder = config["config"]["encoder"]["config"]
    decoder = config["config"]["decoder"]["config"]
    net = encoder["conv_net"].get("config", encoder["conv_net"])
    parts = [f"{net.get('block', 'basic')} ×{net.get('depth', 2)}", f"C={net.get('channels', 64)}"]
    if net.get("block") == "bottleneck":
        parts.append(f"D={net.get('bottleneck_channels', 64)}")
    parts += [f"k={net.get('kernel_size', 3)}", f"Z={encoder['latent_dim']}",
              f"{encoder.get('posterior', 'diagonal')} q(z|x)",
              f"{decoder.get('decoder_scale', 'linear_per_pixel')} σ"]
    # A learned σ's lower bound, where it is not the decoder's default.
    min_scale = decoder.get("min_scale", DEFAULT_MIN_SCALE)
    if decoder.get("decoder_scale") != "constant" and min_scale != DEFAULT_MIN_SCALE:
        parts[-1] += f" ≥ {min_scale:g}"
    if decoder.get("residual_rank"):
        parts[-1] += f" with rank-{decoder['residual_rank']} correlated noise"
    if decoder.get("mean_activation", "linear") != "linear":
        parts.append(f"{decoder['mean_activation']} mean")
    return ", ".join(parts)


def list_presets():
    """The zoo: name → description, architecture, parameter count, input shape, dataset, weights.

    Example:

    >>> keras_cvae.list_presets()["digits_basic"]["pretrained"]
    True
    """
    listing = {}
    for name, entry in registry.PRESETS.items():
        metadata = read_metadata(name)
        listing[name] = {
            "description": entry["description"],
            "architecture": architecture_summary(read_config(name)),
            "parameter_count": metadata.get("parameter_count"),
            "input_shape": tuple(metadata.get("input_shape", ())),
            "dataset": entry["dataset"],
            "pretrained": entry["pretrained"],
            "weights": "ships with the package" if entry["pretrained"] else
            f"none: train with `keras-cvae train --preset {name} --dataset {entry['dataset']}`",
        }
    return listing
