"""Writing and reading preset folders: `config.json`, `model.weights.h5`, `metadata.json`.

`config.json` is `keras.saving.serialize_keras_object(model)` (its `config`
is `model.get_config()`): the only description of a preset's architecture.
It is read back with `safe_mode=True`, only as a `keras_cvae>VAE`, so loading
never executes code from the preset. The weights are HDF5 (no pickles),
checked against the SHA-256 in `metadata.json` and against the layout of the
architecture in `config.json` before loading.

This module sits below the models: it never imports `keras_cvae.models`.
`keras_cvae.VAE.from_preset` and `VAE.save_to_preset` call it with the class.
"""

import datetime
import hashlib
import os
import re
import tempfile

import keras
import tensorflow as tf

from keras_cvae.utils.atomic_write import atomic_path
from keras_cvae.utils.atomic_write import check_destination
from keras_cvae.utils.atomic_write import check_free_space
from keras_cvae.utils.finite_weights import check_finite_weights
from keras_cvae.utils.json_file import check_regular_file
from keras_cvae.utils.json_file import read_json
from keras_cvae.utils.json_file import write_json
from keras_cvae.validation import check_bool
from keras_cvae.version import __version__
from keras_cvae.zoo import registry
from keras_cvae.zoo.preset_lookup import CONFIG_FILE
from keras_cvae.zoo.preset_lookup import METADATA_FILE
from keras_cvae.zoo.preset_lookup import WEIGHTS_FILE
from keras_cvae.zoo.preset_lookup import read_config
from keras_cvae.zoo.preset_lookup import read_metadata
from keras_cvae.zoo.preset_lookup import resolve_preset

FORMAT_VERSION = 1
_EXPECTED_CLASS = "keras_cvae>VAE"
_CORE_FILES = (CONFIG_FILE, METADATA_FILE, WEIGHTS_FILE)


def save_to_preset(model, directory, metadata=None, overwrite=False, include_weights=True,
                   files=None):
    """Writes `model` as a preset folder, atomically.

    The files are written to a temporary folder beside `directory`, which is
    then swapped into place (`keras_cvae.utils.atomic_path`): a reader never
    sees a half-written preset, and a process killed at any instant leaves
    the previous preset or the new one. `metadata.json` lists the files
    written (`files`) and their SHA-256 sums (`file_sha256`). A model whose
    weights are not all finite is refused before anything is written (a
    `ValueError` naming the first such variable). A full disk raises an
    `OSError` ("No space left on
    device") and leaves the previous preset as it was.

    Args:
        model: `keras_cvae.VAE`.
        directory: str. The preset folder to create.
        metadata: dict. Extra fields for `metadata.json`, e.g. `dataset`,
            `metrics`, `training` (command, seed, time). Defaults to `None`.
        overwrite: bool. Replace an existing `directory`, if it is empty or
            holds only files `save_to_preset` wrote, unchanged
            (`not_written_by_save_to_preset`); any other folder is refused
            with a `FileExistsError` naming what it holds. Defaults to `False`.
        include_weights: bool. Write `model.weights.h5`; `False` writes an
            architecture-only preset. Defaults to `True`.
        files: dict. Extra files, name → `bytes` or `str` (a model card,
            images), written into the same atomic folder. Defaults to `None`.

    Returns:
        The `metadata.json` contents, as a dict.

    Example:

    >>> import os, tempfile
    >>> from keras_cvae.zoo.preset_io import save_to_preset
    >>> vae = keras_cvae.VAE.from_preset("digits_basic")
    >>> directory = os.path.join(tempfile.mkdtemp(), "my_vae")
    >>> metadata = save_to_preset(vae, directory, metadata={"description": "a copy"})
    >>> sorted(os.listdir(directory))
    ['config.json', 'metadata.json', 'model.weights.h5']
    >>> keras_cvae.VAE.from_preset(directory).latent_dim
    16
    """
    if keras.saving.get_registered_name(type(model)) != _EXPECTED_CLASS:
        raise ValueError(f"Expected a `keras_cvae.VAE`. Received: model={model!r}")
    check_bool("overwrite", overwrite)
    check_bool("include_weights", include_weights)
    files = files or {}
    for file_name in files:
        if os.path.basename(file_name) != file_name or file_name in _CORE_FILES:
            raise ValueError(f"Invalid extra preset file name. Received: {file_name!r}")
    check_preset_directory(directory, overwrite)  # before the weights are written
    if include_weights:
        check_finite_weights(model, f"Refusing to write the preset folder {directory}")
    with atomic_path(directory, overwrite=overwrite, is_dir=True,
                     owned=not_written_by_save_to_preset) as staging:
        write_json(os.path.join(staging, CONFIG_FILE), _architecture(model))
        contents = {
            "format_version": FORMAT_VERSION,
            "keras_version": keras.__version__,
            "tensorflow_version": tf.__version__,
            "keras_cvae_version": __version__,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "parameter_count": int(model.count_params()),
            "input_shape": list(model.image_shape),
            **(metadata or {}),
            "files": sorted({CONFIG_FILE, METADATA_FILE, *files}
                            | ({WEIGHTS_FILE} if include_weights else set())),
        }
        if include_weights:
            weights_path = os.path.join(staging, WEIGHTS_FILE)
            check_free_space(staging, model.weights)  # HDF5 crashes on a full disk
            _weights_only(model).save_weights(weights_path)
            contents["weights"] = {
                "file": WEIGHTS_FILE,
                "sha256": sha256(weights_path),
                "size_bytes": os.path.getsize(weights_path),
            }
        else:
            contents["weights"] = None
        for file_name, data in files.items():
            with open(os.path.join(staging, file_name), "wb") as f:
                f.write(data.encode() if isinstance(data, str) else data)
        # What `overwrite=True` may replace later: these files, unchanged.
        contents["file_sha256"] = {name: sha256(os.path.join(staging, name))
                                   for name in contents["files"] if name != METADATA_FILE}
        write_json(os.path.join(staging, METADATA_FILE), contents)
    return contents


def check_preset_directory(directory, overwrite=False):
    """Raises unless `save_to_preset(model, directory, overwrite=overwrite)` may write `directory`.

    Call it before training, so that a refused preset folder fails at once
    rather than after the last epoch: a `FileExistsError` for an existing
    folder without `overwrite` or a folder `save_to_preset` did not write
    (`not_written_by_save_to_preset`), a `NotADirectoryError` for a file.

    Example:

    >>> from keras_cvae.zoo.preset_io import check_preset_directory
    >>> check_preset_directory(keras_cvae.zoo.registry.preset_directory("digits_basic"), True)
    """
    check_destination(directory, overwrite, is_dir=True, owned=not_written_by_save_to_preset,
                      name="directory")


def not_written_by_save_to_preset(directory):
    """`None` if `save_to_preset` wrote every file in the folder `directory`, unchanged; else why not.

    `save_to_preset(..., overwrite=True)` replaces only such a folder (or an
    empty one): its `metadata.json` is the project's (it has
    `keras_cvae_version`), and every other entry is a regular file whose
    SHA-256 it records (`file_sha256`, or `weights` for `model.weights.h5`),
    or, in presets written before those sums were recorded, that its `files`
    list names. In a folder whose `metadata.json` has neither, only weights
    matching their recorded SHA-256 are the project's: the rest is the user's.

    Example:

    >>> import os, tempfile
    >>> from keras_cvae.zoo.preset_io import not_written_by_save_to_preset
    >>> not_written_by_save_to_preset(keras_cvae.zoo.registry.preset_directory("digits_basic"))
    >>> folder = tempfile.mkdtemp()
    >>> open(os.path.join(folder, "notes.txt"), "w").close()
    >>> not_written_by_save_to_preset(folder)
    'it is not a keras_cvae preset folder (no metadata.json written by `save_to_preset`)'
    """
    try:
        metadata = read_json(os.path.join(directory, METADATA_FILE))
    except ValueError:
        metadata = None
    if not isinstance(metadata, dict) or "keras_cvae_version" not in metadata:
        return (f"it is not a keras_cvae preset folder (no {METADATA_FILE} written by "
                "`save_to_preset`)")
    recorded = _recorded_sha256(metadata)
    listed = metadata.get("files") if isinstance(metadata.get("files"), list) else []
    foreign = sorted(name for name in os.listdir(directory)
                     if not _written(os.path.join(directory, name), recorded, listed))
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        return (f"it holds {', '.join(foreign[:3])}{more}, which `save_to_preset` did not "
                f"write, or which changed since ({METADATA_FILE} records no such file with "
                "this SHA-256)")
    return None


def _recorded_sha256(metadata):
    """`{file name: SHA-256}` that a preset's `metadata.json` records."""
    recorded = metadata.get("file_sha256")
    recorded = dict(recorded) if isinstance(recorded, dict) else {}
    weights = metadata.get("weights")
    if isinstance(weights, dict) and isinstance(weights.get("sha256"), str):
        recorded.setdefault(WEIGHTS_FILE, weights["sha256"])
    return recorded


def _written(path, recorded, listed):
    """Whether `save_to_preset` wrote the preset entry `path` as it is now."""
    name = os.path.basename(path)
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    if name == METADATA_FILE:
        return True
    if name in recorded:
        return sha256(path) == recorded[name]
    return name in listed


def load_preset(cls, preset, load_weights=True):
    """An instance of `cls` (a `keras_cvae.VAE`) from a registered preset name or a preset folder.

    `keras_cvae.VAE.from_preset(preset)` calls this with `cls=VAE`.

    Args:
        cls: The expected class; the config must deserialize to an instance of it.
        preset: str. A name from `keras_cvae.list_presets()` or the path of a
            folder written by `save_to_preset`.
        load_weights: bool. Load the pretrained weights; `False` gives the
            architecture, freshly initialised. Defaults to `True`.

    Every problem of the folder is a one-line `ValueError` naming the file
    (and the key, where there is one): a `config.json` that is not a valid
    VAE, a `metadata.json` whose `weights` entry is malformed, weights that
    do not match their SHA-256 or the architecture, are not a regular file,
    or are not all finite.
    """
    load_weights = check_bool("load_weights", load_weights)
    directory = resolve_preset(preset)
    config = read_config(directory)
    metadata = read_metadata(directory)
    config_path = os.path.join(directory, CONFIG_FILE)
    if config.get("registered_name", config.get("class_name")) not in (
        _EXPECTED_CLASS, "VAE"
    ) or not isinstance(config.get("config"), dict):
        raise ValueError(
            f"{config_path} is not a serialized `keras_cvae.VAE` (expected registered_name "
            f"{_EXPECTED_CLASS!r} and a `config` object). Received: {str(config)[:200]}"
        )
    try:
        model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    except Exception as error:  # Keras nests the cause in a message of thousands of characters
        raise ValueError(_config_error(config_path, config, error)) from error
    if not isinstance(model, cls):
        raise ValueError(
            f"{directory}: config.json describes a {type(model).__name__}, not a {cls.__name__}."
        )
    if load_weights:
        _load_checked_weights(model, directory, metadata, preset)
    return model


def _config_error(path, config, error):
    """One line for a `config.json` Keras cannot deserialize: the file, the key, the cause."""
    message = str(error)
    while "Exception encountered: " in message:  # Keras's wrapping, innermost last
        message = message.rsplit("Exception encountered: ", 1)[1]
    message = " ".join(message.split())
    name = re.search(r"argument `(\w+)`|arguments passed to \w+: \{'(\w+)'|argument: '(\w+)'",
                     message)
    key = None
    if name:
        name = next(group for group in name.groups() if group)
        received = re.search(rf"Received: {name}=(.*)$", message)
        paths = _key_paths(config, name)
        matching = [p for p, value in paths if received and repr(value) == received[1]]
        key = (matching or [p for p, _ in paths] or [None])[0]
    where = f" (key `{key}`)" if key else ""
    return f"{path} does not describe a valid `keras_cvae.VAE`{where}: {message[:500]}"


def _key_paths(config, name, prefix=""):
    """`[(dotted path, value)]` of every key `name` in the nested dicts of `config`."""
    found = []
    if isinstance(config, dict):
        for key, value in config.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == name:
                found.append((path, value))
            found += _key_paths(value, name, path)
    return found


def _load_checked_weights(model, directory, metadata, preset):
    """Loads the weights after checking them: `metadata` is `read_metadata`'s (checked) dict."""
    weights_path = os.path.join(directory, WEIGHTS_FILE)
    expected = (metadata.get("weights") or {}).get("sha256")
    if expected is None or not os.path.lexists(weights_path):
        hint = ""
        if preset in registry.PRESETS:
            hint = (
                f" Train it with `keras-cvae train --preset {preset} --dataset "
                f"{registry.PRESETS[preset]['dataset']}`, or load the architecture alone with "
                "`load_weights=False`."
            )
        raise ValueError(f"Preset {preset!r} ships no weights ({WEIGHTS_FILE} in {directory}).{hint}")
    check_regular_file(weights_path, "weights file")  # /dev/zero or a FIFO: never read
    actual = sha256(weights_path)
    if expected != actual:
        raise ValueError(
            f"The weights file {weights_path} does not match metadata.json: SHA-256 {actual}, "
            f"expected {expected}. The file is corrupt, truncated or from another model; "
            "refusing to load it."
        )
    expected_layout = _layout_of(model)
    try:
        layout = _layout(weights_path)
    except OSError as error:
        raise ValueError(f"Cannot read the weights file {weights_path}: {error}") from error
    if layout != expected_layout:
        missing = sorted(set(expected_layout.items()) - set(layout.items()))[:3]
        extra = sorted(set(layout.items()) - set(expected_layout.items()))[:3]
        raise ValueError(
            f"The weights in {weights_path} are for a different architecture than "
            f"{CONFIG_FILE}: expected variables such as {missing}, found {extra}."
        )
    model.load_weights(weights_path)
    check_finite_weights(model, f"Refusing to load the preset {preset!r} ({weights_path})",
                         "the run that wrote it diverged: retrain it, or use another preset")


def _architecture(model):
    """The serialized model without its compile (optimizer) state."""
    config = keras.saving.serialize_keras_object(model)
    config.pop("compile_config", None)
    return config


def _weights_only(model):
    """`model`, or an uncompiled copy of it: `save_weights` also writes the optimizer's state."""
    if getattr(model, "optimizer", None) is None:
        return model
    copy = keras.saving.deserialize_keras_object(_architecture(model))
    copy.set_weights(model.get_weights())
    return copy


def _layout(path):
    """`{variable path: shape}` of a Keras `.weights.h5` file."""
    import h5py

    layout = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, item: layout.__setitem__(name, tuple(item.shape))
            if isinstance(item, h5py.Dataset) else None
        )
    return layout


def _layout_of(model):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, WEIGHTS_FILE)
        model.save_weights(path)
        return _layout(path)


def sha256(path):
    """The SHA-256 hex digest of a file."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
