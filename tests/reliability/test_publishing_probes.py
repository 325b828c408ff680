"""Publishing and preset files, probed as a new user would: nothing non-finite published,
nothing of the user's overwritten, every preset-file problem one clear line.

Each family is parametrized; every refusal must leave the files under `tmp_path` as they were.
"""

import json
import os
import shutil
import signal
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_cvae
from keras_cvae import cli
from keras_cvae.export import export_all
from keras_cvae.export import export_onnx
from keras_cvae.export import export_saved_model
from keras_cvae.export import export_tflite
from keras_cvae.utils.finite_weights import NonFiniteWeightsError
from keras_cvae.zoo.preset_io import save_to_preset
from keras_cvae.zoo.preset_io import sha256
from tests.helpers import digits
from tests.helpers import snapshot
from tests.helpers import tiny_vae

# The variable made NaN: a kernel of the decoder (its path holds the layers' unique names).
BAD_VARIABLE_SUFFIX = "block1/conv1/kernel"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A good preset and a good export of a tiny VAE; a copy of it with one NaN kernel."""
    root = tmp_path_factory.mktemp("published")
    vae = tiny_vae()
    save_to_preset(vae, root / "preset")
    export_all(vae, root / "export", formats=("saved_model",), report=False, verbose=False)
    broken = tiny_vae()
    broken.set_weights(vae.get_weights())
    kernel = next(v for v in broken.weights
                  if "decoder" in v.path and v.path.endswith(BAD_VARIABLE_SUFFIX))
    kernel.assign(np.where(np.arange(np.prod(kernel.shape)).reshape(kernel.shape) == 5, np.nan,
                           kernel.numpy()))
    # A preset holding NaN weights, as an earlier version could write one.
    nan_preset = root / "nan_preset"
    shutil.copytree(root / "preset", nan_preset)
    keras.Model.save_weights(broken, str(nan_preset / "model.weights.h5"))
    metadata = json.loads((nan_preset / "metadata.json").read_text())
    metadata["weights"]["sha256"] = sha256(nan_preset / "model.weights.h5")
    metadata["file_sha256"]["model.weights.h5"] = metadata["weights"]["sha256"]
    (nan_preset / "metadata.json").write_text(json.dumps(metadata))
    return {"root": root, "vae": vae, "broken": broken, "bad_variable": kernel.path}


def _one_line(error):
    message = str(error)
    assert "\n" not in message.strip(), message
    return message


# === Nothing non-finite is published ===

# (writer, the path it targets below the root): new paths, and good artifacts it would replace.
WRITERS = {
    "save_to_preset new": lambda m, r: save_to_preset(m, r / "new_preset"),
    "save_to_preset over a good preset": lambda m, r: save_to_preset(m, r / "preset",
                                                                      overwrite=True),
    "VAE.save_to_preset": lambda m, r: m.save_to_preset(r / "preset", overwrite=True),
    "VAE.export litert": lambda m, r: m.export(r / "vae.tflite", format="litert"),
    "VAE.export tf_saved_model": lambda m, r: m.export(r / "saved", verbose=False),
    "VAE.export onnx": lambda m, r: m.export(r / "onnx", format="onnx", verbose=False),
    "export_all new": lambda m, r: export_all(m, r / "new_export", verbose=False),
    "export_all over a good export": lambda m, r: export_all(m, r / "export", overwrite=True,
                                                             verbose=False),
    "export_saved_model": lambda m, r: export_saved_model(m, r / "serving"),
    "export_tflite": lambda m, r: export_tflite(m, r / "vae.tflite"),
    "export_onnx": lambda m, r: export_onnx(m, r / "onnx"),
    "VAE.save": lambda m, r: m.save(r / "vae.keras"),
}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_every_writer_refuses_non_finite_weights(published, writer):
    root = published["root"]
    before = snapshot(root)
    with pytest.raises(NonFiniteWeightsError) as raised:
        WRITERS[writer](published["broken"], root)
    message = _one_line(raised.value)
    assert f"({published['bad_variable']} holds 1 NaN or infinite value of" in message, message
    assert "nothing was written" in message
    assert snapshot(root) == before


def test_a_nan_weight_preset_is_refused_at_load(published):
    path = published["root"] / "nan_preset"
    with pytest.raises(NonFiniteWeightsError) as raised:
        keras_cvae.VAE.from_preset(str(path))
    message = _one_line(raised.value)
    assert str(path / "model.weights.h5") in message, message
    assert f"{BAD_VARIABLE_SUFFIX} holds 1 NaN" in message, message
    assert keras_cvae.VAE.from_preset(str(path), load_weights=False).latent_dim == 4


@pytest.mark.parametrize("command", ["sample", "export"])
def test_the_command_line_refuses_a_nan_weight_preset(published, tmp_path, capsys, command):
    out = tmp_path / ("grid.png" if command == "sample" else "export")
    status = cli.main([command, "--preset", str(published["root"] / "nan_preset"),
                       "--out", str(out)])
    stderr = capsys.readouterr().err.strip()
    assert status == 2
    assert stderr.count("\n") == 0 and f"{BAD_VARIABLE_SUFFIX} holds 1 NaN" in stderr, stderr
    assert stderr.startswith(f"keras-cvae {command}: error: Refusing to load")
    assert os.listdir(tmp_path) == []


# Datasets of 16 images in batches of 8 whose second batch holds a NaN or an infinity.
BAD_PIXELS = {"nan": np.nan, "inf": np.inf}


def _fit(images, steps_per_execution=1):
    keras.utils.set_random_seed(0)
    vae = tiny_vae()
    vae.compile(optimizer="adam", steps_per_execution=steps_per_execution)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vae.fit(tf.data.Dataset.from_tensor_slices(images).batch(8), epochs=1, verbose=0)
    return vae, [str(w.message) for w in caught if w.category is RuntimeWarning]


@pytest.mark.slow
@pytest.mark.parametrize("pixel, steps_per_execution", [("nan", 1), ("inf", 2)])
def test_fit_keeps_the_weights_of_the_last_finite_batch(pixel, steps_per_execution):
    """The bad batch changes no weight, BatchNorm statistics included, and `fit` says so."""
    images = digits("test")[:16].copy()
    images[11, 2, 3, 0] = BAD_PIXELS[pixel]
    vae, caught = _fit(images, steps_per_execution)
    reference, _ = _fit(images[:8], steps_per_execution)  # the first batch alone
    for variable, expected in zip(vae.weights, reference.weights):
        np.testing.assert_array_equal(variable.numpy(), expected.numpy(), err_msg=variable.path)
    assert int(vae.optimizer.iterations.numpy()) == 1
    assert len(caught) == 1 and "changed no weight" in caught[0], caught


# === Nothing of the user's is overwritten ===


def test_a_preset_without_a_files_list_keeps_the_users_files(published, tmp_path):
    preset = tmp_path / "old_preset"
    shutil.copytree(published["root"] / "preset", preset)
    metadata = json.loads((preset / "metadata.json").read_text())
    del metadata["files"], metadata["file_sha256"]
    (preset / "metadata.json").write_text(json.dumps(metadata))
    (preset / "README.md").write_text("my notes on this model")
    (preset / "figure.png").write_bytes(b"my figure")
    before = snapshot(tmp_path)
    with pytest.raises(FileExistsError) as raised:
        save_to_preset(published["vae"], preset, overwrite=True)
    message = _one_line(raised.value)
    assert "README.md, config.json, figure.png, which `save_to_preset` did not write" in message
    assert snapshot(tmp_path) == before


# (format, the artifact's name): an existing file or folder of the user's at that path.
EXPORT_TARGETS = {"litert": "vae.tflite", "tf_saved_model": "saved", "onnx": "onnx"}


@pytest.mark.parametrize("format", list(EXPORT_TARGETS))
def test_vae_export_refuses_an_existing_artifact_without_overwrite(published, tmp_path, format):
    target = tmp_path / EXPORT_TARGETS[format]
    if format == "litert":
        target.write_bytes(b"the user's model")
    else:
        target.mkdir()
        (target / "notes.txt").write_text("the user's notes")
    before = snapshot(tmp_path)
    with pytest.raises(FileExistsError) as raised:
        published["vae"].export(target, format=format, verbose=False)
    message = _one_line(raised.value)
    assert "already exists. Pass `overwrite=True`" in message, message
    assert snapshot(tmp_path) == before


def test_vae_export_replaces_a_file_with_overwrite(published, tmp_path):
    target = tmp_path / "vae.tflite"
    target.write_bytes(b"an older model")
    published["vae"].export(target, format="litert", verbose=False, overwrite=True)
    assert target.read_bytes()[4:8] == b"TFL3"


# === Arguments: bools only; a folder and a registered name ===

BOOL_CASES = {
    "from_preset load_weights": (lambda m, r: keras_cvae.VAE.from_preset(str(r / "preset"),
                                                                        load_weights="no"),
                                 "load_weights='no'"),
    "save_to_preset include_weights": (lambda m, r: save_to_preset(m, r / "p",
                                                                   include_weights="no"),
                                       "include_weights='no'"),
    "save_to_preset overwrite": (lambda m, r: save_to_preset(m, r / "preset", overwrite="yes"),
                                 "overwrite='yes'"),
    "VAE.save_to_preset overwrite": (lambda m, r: m.save_to_preset(r / "preset", overwrite=1),
                                     "overwrite=1"),
    "VAE.export overwrite": (lambda m, r: m.export(r / "export", overwrite="yes", verbose=False),
                             "overwrite='yes'"),
}


@pytest.mark.parametrize("case", list(BOOL_CASES))
def test_boolean_arguments_accept_bools_only(published, case):
    call, received = BOOL_CASES[case]
    before = snapshot(published["root"])
    with pytest.raises(ValueError) as raised:
        call(published["vae"], published["root"])
    message = _one_line(raised.value)
    assert "Expected a bool" in message and f"Received: {received}" in message, message
    assert snapshot(published["root"]) == before


@pytest.fixture
def folder_named_digits_basic(published, tmp_path, monkeypatch):
    """The current directory holds a preset folder named like the registered `digits_basic`."""
    shutil.copytree(published["root"] / "preset", tmp_path / "digits_basic")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "digits_basic"


@pytest.mark.parametrize("spelling", ["./digits_basic", "absolute"])
def test_an_explicit_path_is_the_folder(folder_named_digits_basic, spelling):
    preset = str(folder_named_digits_basic) if spelling == "absolute" else spelling
    assert keras_cvae.VAE.from_preset(preset).latent_dim == 4  # the registered one has 16


def test_a_bare_name_that_is_also_a_folder_is_ambiguous(folder_named_digits_basic):
    with pytest.raises(ValueError) as raised:
        keras_cvae.VAE.from_preset("digits_basic")
    message = _one_line(raised.value)
    assert "'digits_basic' is ambiguous" in message and "'./digits_basic'" in message, message
    assert str(folder_named_digits_basic) in message


# === Preset files: one line naming the file and the key ===

# (the key path in config.json, the bad value, the key named in the message)
CONFIG_CASES = {
    "depth 0": (["config", "encoder", "config", "conv_net", "config", "depth"], 0,
                "config.encoder.config.conv_net.config.depth"),
    "latent_dim -3": (["config", "encoder", "config", "latent_dim"], -3,
                      "config.encoder.config.latent_dim"),
    "beta a string": (["config", "beta"], "x", "config.beta"),
    "image_shape of rank 1": (["config", "decoder", "config", "image_shape"], [8, 8],
                              "config.decoder.config.image_shape"),
    "an unknown key": (["config", "colour"], "blue", "config.colour"),
}


def _copy_preset(published, tmp_path):
    preset = tmp_path / "preset"
    shutil.copytree(published["root"] / "preset", preset)
    return preset


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_a_bad_config_value_names_the_file_and_the_key(published, tmp_path, case):
    keys, value, named = CONFIG_CASES[case]
    preset = _copy_preset(published, tmp_path)
    config = json.loads((preset / "config.json").read_text())
    node = config
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    (preset / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError) as raised:
        keras_cvae.VAE.from_preset(str(preset))
    message = _one_line(raised.value)
    assert message.startswith(f"{preset / 'config.json'} does not describe a valid"), message
    assert f"(key `{named}`)" in message and len(message) < 700, message


# (file, its new contents, words of the message)
DAMAGED_FILES = {
    "metadata.json a list": ("metadata.json", "[1, 2]", ["metadata.json", "JSON array"]),
    "metadata.json a string": ("metadata.json", '"weights"', ["metadata.json", "JSON string"]),
    "config.json a list": ("config.json", "[]", ["config.json", "JSON array"]),
    "weights not an object": ("metadata.json", {"weights": "abc"},
                              ['metadata.json', 'key "weights"', '"sha256"', 'Received: "weights"']),
    "dataset a number": ("metadata.json", {"dataset": 5},
                         ['metadata.json', 'key "dataset"', 'Received: "dataset": 5']),
}


@pytest.mark.parametrize("case", list(DAMAGED_FILES))
def test_a_malformed_preset_file_is_named(published, tmp_path, case, capsys):
    name, contents, words = DAMAGED_FILES[case]
    preset = _copy_preset(published, tmp_path)
    if isinstance(contents, dict):  # keys to change
        contents = json.dumps({**json.loads((preset / name).read_text()), **contents})
    (preset / name).write_text(contents)
    with pytest.raises(ValueError) as raised:
        keras_cvae.VAE.from_preset(str(preset))
    message = _one_line(raised.value)
    assert all(word in message for word in words), message
    # The command line reads the metadata first (the dataset): the same line, exit status 2.
    assert cli.main(["sample", "--preset", str(preset), "--out", str(tmp_path / "a.png")]) == 2
    stderr = capsys.readouterr().err
    assert all(word in stderr for word in words), stderr


def _timeout(seconds):
    def fail(*_):
        raise TimeoutError(f"still reading after {seconds} s")

    signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)


@pytest.mark.parametrize("kind", ["link to /dev/zero", "FIFO", "folder", "broken link"])
def test_a_weights_file_that_is_not_a_regular_file_is_not_read(published, tmp_path, kind):
    preset = _copy_preset(published, tmp_path)
    weights = preset / "model.weights.h5"
    weights.unlink()
    if kind == "FIFO":
        os.mkfifo(weights)
    elif kind == "folder":
        weights.mkdir()
    else:
        weights.symlink_to("/dev/zero" if kind == "link to /dev/zero" else tmp_path / "gone.h5")
    _timeout(30)  # reading would never end
    try:
        with pytest.raises(ValueError) as raised:
            keras_cvae.VAE.from_preset(str(preset))
    finally:
        signal.alarm(0)
    message = _one_line(raised.value)
    problem = "is a broken link" if kind == "broken link" else "is not a regular file"
    assert f"The weights file {weights} {problem}" in message, message
