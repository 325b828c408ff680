"""A hostile user's sweep: bad inputs and faults over the Python API, `keras-cvae` and export/.

Every case names the call, the error it must raise (an exception type, or exit
status 2 for a command) and words its one-line message must contain. After each
case, nothing is lost: the model's variables and the arrays passed in are
unchanged, and so is every file of the sandbox the cases work in (a preset, an
export with damaged copies, the user's own files), with nothing added.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import keras_cvae
from keras_cvae.export import export_all
from keras_cvae.utils.json_file import write_json
from tests.export.export_checks import script_module
from tests.helpers import digits
from tests.helpers import snapshot
from tests.helpers import tiny_vae

_SCRIPT = os.path.join(os.path.dirname(sys.executable), "keras-cvae")
COMMAND = [_SCRIPT] if os.path.exists(_SCRIPT) else [sys.executable, "-m", "keras_cvae_cli"]
CONV_NET = {"depth": 1, "channels": 8}


def _flip_byte(path, offset=None):
    data = bytearray(path.read_bytes())
    offset = len(data) // 2 if offset is None else offset
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _damaged_export(source, destination, damage):
    shutil.copytree(source, destination)
    damage(destination)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """The files the cases must leave alone; the model; the arrays they pass."""
    root = tmp_path_factory.mktemp("sweep")
    (root / "notes.txt").write_text("the user's notes")
    (root / "user").mkdir()
    (root / "user" / "notes.txt").write_text("the user's folder")
    vae = tiny_vae()
    vae.compile(optimizer="adam")
    vae.save_to_preset(root / "preset")
    export_all(vae, root / "export", quantizations=(None,), report=False)
    _damaged_export(root / "export", root / "flipped",
                    lambda p: _flip_byte(p / "onnx" / "decode.onnx"))
    _damaged_export(root / "export", root / "nan_tflite",  # a float32 NaN in the weights
                    lambda p: _patch(p / "tflite" / "vae_float32.tflite", b"\x00\x00\xc0\x7f"))
    _damaged_export(root / "export", root / "no_manifest", lambda p: (p / "manifest.json").unlink())
    _damaged_export(root / "export", root / "no_index",
                    lambda p: (p / "saved_model/vae/1/variables/variables.index").unlink())
    _damaged_export(root / "export", root / "bad_manifest",
                    lambda p: (p / "manifest.json").write_text("{"))
    shutil.copytree(root / "preset", root / "tampered")
    weights = [p for p in (root / "tampered").iterdir() if p.name.endswith(".weights.h5")]
    _flip_byte(weights[0], offset=weights[0].stat().st_size - 100)
    _write_backups(vae, root)
    images = root / "images" / "train"
    images.mkdir(parents=True)
    jpeg = tf.io.encode_jpeg(tf.cast(digits("test")[0] * 255, tf.uint8)).numpy()
    (images / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    x = digits("test")[:8]
    nan = x.copy()
    nan[0, 0, 0, 0] = np.nan
    np.savez(root / "images_key.npz", images=x)
    np.savez(root / "wrong_shape.npz", **{"encode/images": np.zeros((2, 9, 9, 1), "float32")})
    np.savez(root / "float64_z.npz", **{"decode/z": np.zeros((2, 4))})
    np.save(root / "array.npy", x)
    (root / "text.npz").write_text("not an archive")
    return {"root": root, "vae": vae, "x": x, "nan": nan}


def _write_backups(vae, root):
    """`backup/`: a complete backup of 1 epoch; `backup_*/`: damaged copies of it."""
    model = tiny_vae(seed=3)
    model.compile(optimizer="adam")
    model.fit(digits("test")[:16], epochs=1, batch_size=8, verbose=0,
              callbacks=keras_cvae.distribute.resumable_callbacks(root))
    backup = root / "backup"
    weights = next(backup.glob("*.weights.h5"))
    for name, damage in {
        "backup_flipped": lambda p: _flip_byte(p / weights.name),
        "backup_truncated": lambda p: (p / weights.name).write_bytes(weights.read_bytes()[:100]),
        "backup_epoch_7": lambda p: _set_json(p / "backup.json", epoch=7),
        "backup_invalid": lambda p: (p / "backup.json").write_text('{"epoch": 1,'),
    }.items():
        _damaged_export(backup, root / name, damage)


def _set_json(path, **values):
    import json

    path.write_text(json.dumps({**json.loads(path.read_text()), **values}))


def _patch(path, data):
    content = bytearray(path.read_bytes())
    offset = len(content) // 2
    content[offset:offset + len(data)] = data
    path.write_bytes(bytes(content))


def _one_line(text):
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


@pytest.fixture
def nothing_lost(sandbox):
    """Checks, after the case, that the sandbox, the model and the arrays are as they were."""
    vae = sandbox["vae"]
    files = snapshot(sandbox["root"])
    variables = [v.numpy().copy() for v in vae.variables]
    arrays = {name: sandbox[name].copy() for name in ("x", "nan")}
    prior = type(vae.prior).__name__
    yield
    assert snapshot(sandbox["root"]) == files
    assert all(np.array_equal(v.numpy(), before, equal_nan=True)
               for v, before in zip(vae.variables, variables))
    for name, before in arrays.items():
        np.testing.assert_array_equal(sandbox[name], before)
    assert type(vae.prior).__name__ == prior


# === The Python API: (call, exception, words of the message) ===
# `P` is the sandbox folder; `x` 8 test digits; `nan` the same with one NaN pixel.

API_CASES = [
    # Images, at every entry point.
    ("vae.encode(nan)", ValueError, ["`images`", "1 NaN value"]),
    ("vae.reconstruct(x * 255)", ValueError, ["`images`", "[0, 255]", "divide 8-bit images by 255"]),
    ("vae.elbo(x[:0])", ValueError, ["`images`", "an empty batch"]),
    ("vae.log_likelihood(np.zeros((2, 9, 9, 1), 'float32'), num_samples=2)", ValueError,
     ["`images`", "(batch, 8, 8, 1)", "(2, 9, 9, 1)"]),
    ("vae.encode(x[..., 0])", ValueError, ["`images`", "(8, 8, 8)"]),
    ("vae.encode(np.full((2, 8, 8, 1), 'a'))", ValueError, ["`images`", "real numbers"]),
    ("vae.decode(np.zeros((2, 3), 'float32'))", ValueError, ["`z`", "(batch, 4)"]),
    ("vae.decode(np.full((2, 4), np.nan, 'float32'))", ValueError, ["`z`", "8 NaN values"]),
    ("vae.interpolate(x, x[:2], num_steps=3)", ValueError, ["`images_b`"]),
    ("vae.interpolate(nan, x, num_steps=3)", ValueError, ["`images_a`", "NaN"]),
    ("vae.fit(nan, epochs=1, verbose=0)", ValueError, ["`x`", "1 NaN value"]),
    ("vae.fit(x, epochs=1, verbose=0, validation_data=nan)", ValueError,
     ["`validation_data`", "NaN"]),
    ("vae.fit(tf.data.Dataset.from_tensor_slices(x), verbose=0)", ValueError,
     ["`x`", "unbatched", "dataset.batch()"]),
    ("vae.evaluate(x * 255, verbose=0)", ValueError, ["`x`", "[0, 255]"]),
    ("vae.predict(-x, verbose=0)", ValueError, ["`x`", "[-1, 0]"]),
    ("keras_cvae.evaluate_density(vae, nan, num_samples=2, verbose=0)", ValueError,
     ["`data`", "1 NaN value"]),
    ("keras_cvae.evaluate_density(vae, x[:0], num_samples=2, verbose=0)", ValueError,
     ["`data`", "an empty batch"]),
    ("keras_cvae.recalibrate_batchnorm(vae, nan)", ValueError, ["`data`", "1 NaN value"]),
    ("keras_cvae.recalibrate_batchnorm(vae, tf.data.Dataset.from_tensor_slices("
     "np.stack([x[:4], nan[:4]])))", ValueError, ["`data`", "batch 1", "1 NaN value"]),
    ("vae.fit_prior(nan, num_components=1)", ValueError, ["`data`", "NaN"]),
    # Numbers.
    ("vae.sample(-1)", ValueError, ["`num_samples`", "integer >= 1", "num_samples=-1"]),
    ("vae.sample(2.5)", ValueError, ["`num_samples`", "num_samples=2.5"]),
    ("vae.sample(True)", ValueError, ["`num_samples`", "num_samples=True"]),
    ("vae.sample(4, temperature=float('nan'))", ValueError, ["`temperature`", "temperature=nan"]),
    ("vae.sample(4, temperature=-1)", ValueError, ["`temperature`", "temperature=-1"]),
    ("vae.sample(4, prior='gmm')", ValueError, ["`prior`", "prior='gmm'"]),
    ("vae.sample(4, seed=2.5)", ValueError, ["`seed`", "seed=2.5"]),
    ("vae.elbo(x, prior='gmm')", ValueError, ["`prior`", "prior='gmm'"]),
    ("vae.log_likelihood(x, num_samples=2, prior='fitted')", ValueError, ["fitted"]),
    ("vae.log_likelihood(x, num_samples=0)", ValueError, ["`num_samples`", "num_samples=0"]),
    ("vae.log_likelihood(x, num_samples=2, chunk_size=0)", ValueError, ["`chunk_size`"]),
    ("keras_cvae.evaluate_density(vae, x, num_samples=0)", ValueError, ["num_samples=0"]),
    ("keras_cvae.evaluate_density(vae, x, intensity_levels=1)", ValueError,
     ["`intensity_levels`", "intensity_levels=1"]),
    ("keras_cvae.evaluate_density('vae', x)", ValueError, ["`model`", "model='vae'"]),
    ("vae.fit(x, batch_size=0, verbose=0)", ValueError, ["`batch_size`", "batch_size=0"]),
    ("vae.fit(x, epochs=0, verbose=0)", ValueError, ["`epochs`", "epochs=0"]),
    ("vae.fit(x, validation_split=1.0, verbose=0)", ValueError, ["validation_split=1.0"]),
    ("vae.fit(x, verbose=3)", ValueError, ["`verbose`", "verbose=3"]),
    ("vae.evaluate(x, steps=0, verbose=0)", ValueError, ["`steps`", "steps=0"]),
    ("vae.interpolate(x, x, num_steps=1)", ValueError, ["`num_steps`", "num_steps=1"]),
    ("vae.interpolate(x, x, path='cubic')", ValueError, ["`path`", "path='cubic'"]),
    ("vae.fit_prior(x, num_components=0)", ValueError, ["num_components=0"]),
    ("vae.fit_prior(x, reg_covar=float('nan'))", ValueError, ["reg_covar=nan"]),
    ("keras_cvae.recalibrate_batchnorm(vae, x, batch_size=0)", ValueError, ["batch_size=0"]),
    ("tiny_vae(beta=float('nan'))", ValueError, ["`beta`", "beta=nan"]),
    ("tiny_vae(kl_warmup_steps=-1)", ValueError, ["kl_warmup_steps=-1"]),
    ("keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET, min_scale=-1)", ValueError,
     ["`min_scale`", "min_scale=-1"]),
    ("keras_cvae.GaussianEncoder(4, CONV_NET, min_scale=0)", ValueError, ["min_scale=0"]),
    ("keras_cvae.layers.ConvNet(batchnorm_momentum=2.0)", ValueError,
     ["batchnorm_momentum=2.0"]),
    ("keras_cvae.layers.ConvNet(depth=0)", ValueError, ["`depth`", "depth=0"]),
    ("keras_cvae.datasets.load('digits', 'test', batch_size=0)", ValueError, ["batch_size=0"]),
    ("keras_cvae.datasets.load('digits', 'test', image_size=16)", ValueError, ["resize=True"]),
    # Files: what is refused leaves every file as it was.
    ("keras_cvae.datasets.load(str(P / 'images'), 'train', image_size=8)", ValueError,
     ["cut.jpg", "cannot read"]),
    ("vae.save_to_preset(P / 'user', overwrite=True)", FileExistsError,
     ["Refusing to replace", "user"]),
    ("vae.save_to_preset(P / 'preset')", FileExistsError, ["already exists", "overwrite=True"]),
    ("vae.save_to_preset(P / 'notes.txt', overwrite=True)", NotADirectoryError, ["is a file"]),
    ("vae.export(P / 'user')", FileExistsError, ["already exists", "overwrite=True"]),
    ("vae.export(P / 'user', overwrite=True)", FileExistsError, ["did not export"]),
    ("export_all(vae, P / 'notes.txt', overwrite=True)", FileExistsError, ["file or link"]),
    ("export_all(vae, P / 'export')", FileExistsError, ["already exists"]),
    ("keras_cvae.VAE.from_preset(str(P / 'user'))", ValueError, ["no config.json"]),
    ("keras_cvae.VAE.from_preset('no_such_preset')", ValueError, ["Unknown preset"]),
    ("keras_cvae.VAE.from_preset(str(P / 'tampered'))", ValueError, ["SHA-256"]),
    ("read_backup_state(P / 'backup_flipped', epochs=3)", ValueError,
     ["is damaged", "SHA-256", "--overwrite"]),
    ("read_backup_state(P / 'backup_truncated', epochs=3)", ValueError, ["is damaged"]),
    ("read_backup_state(P / 'backup_epoch_7', epochs=3)", ValueError,
     ["backup.json", "epoch=7"]),
    ("read_backup_state(P / 'backup_invalid', epochs=3)", ValueError,
     ["backup.json", "is damaged"]),
    ("write_json(P / 'notes.txt', {'loss': float('nan')})", ValueError,
     ["strict JSON", "loss=nan"]),
]


@pytest.mark.parametrize("call, error, words", API_CASES, ids=[case[0] for case in API_CASES])
def test_python_api(sandbox, nothing_lost, call, error, words):
    namespace = {"vae": sandbox["vae"], "x": sandbox["x"], "nan": sandbox["nan"],
                 "P": sandbox["root"], "np": np, "tf": tf, "keras_cvae": keras_cvae,
                 "tiny_vae": tiny_vae, "export_all": export_all, "write_json": write_json,
                 "read_backup_state": keras_cvae.distribute.read_backup_state,
                 "CONV_NET": CONV_NET}
    with pytest.raises(error) as raised:
        eval(call, namespace)
    message = _one_line(str(raised.value))
    for word in words:
        assert word in message, (word, message)


# === keras-cvae: (arguments, words); every case exits with status 2 ===
# `{P}` is the sandbox folder, also the working folder.

CLI_CASES = [
    ("train --preset digits_basic --epochs 0", ["--epochs", "integer >= 1", "Received: 0"]),
    ("train --preset digits_basic --learning-rate inf", ["--learning-rate", "finite number > 0"]),
    ("train --preset digits_basic --batch-size 2.5", ["--batch-size", "2.5"]),
    ("train --preset digits_basic --beta nan", ["--beta", "Received: nan"]),
    ("train --preset digits_basic --dropout 1.5", ["--dropout", "< 1", "1.5"]),
    ("sample --preset no_such_preset --out a.png", ["Unknown preset 'no_such_preset'"]),
    ("sample --preset {P}/user --out a.png", ["no config.json", "not a preset"]),
    ("sample --preset digits_basic --num -1 --out a.png", ["--num", "integer >= 1"]),
    ("sample --preset digits_basic --temperature nan --out a.png", ["--temperature", "nan"]),
    ("sample --preset digits_basic --out notes.txt", ["already exists", "--overwrite", "--out"]),
    ("sample --preset digits_basic --out {P}/user --overwrite", ["is a folder", "--out"]),
    ("reconstruct --preset digits_basic --out notes.txt", ["already exists", "--overwrite"]),
    ("reconstruct --preset digits_basic --num 0 --out c.png", ["--num", "integer >= 1"]),
    ("interpolate --preset digits_basic --out notes.txt", ["already exists", "--overwrite"]),
    ("evaluate --preset digits_basic --iw-samples 0", ["--iw-samples", "integer >= 1"]),
    ("evaluate --preset digits_basic --json notes.txt", ["already exists", "--json"]),
    ("train --epochs 1 --out {P}/user --overwrite", ["not a keras_cvae run", "notes.txt"]),
    ("train --epochs 1 --out {P}/run --preset-dir {P}/user",
     ["Refusing to replace", "--preset-dir"]),
]


@pytest.mark.parametrize("arguments, words", CLI_CASES, ids=[case[0] for case in CLI_CASES])
def test_command_line(sandbox, nothing_lost, arguments, words):
    root = sandbox["root"]
    result = subprocess.run([*COMMAND, *arguments.format(P=root).split()], cwd=root,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    message = _one_line(result.stderr)
    assert message.startswith("keras-cvae"), message
    for word in words:
        assert word.format(P=root) in message, (word, message)


# === export/ scripts: (script, arguments, words); every case exits with status 2 ===

SCRIPT_CASES = [
    ("run_onnx", "{P}/flipped/onnx/decode.onnx", ["Checksum mismatch", "decode.onnx"]),
    ("run_onnx", "{P}/flipped/onnx", ["Checksum mismatch", "decode.onnx"]),
    ("run_tflite", "{P}/nan_tflite/tflite/vae_float32.tflite", ["Checksum mismatch"]),
    ("run_saved_model", "{P}/no_index/saved_model/vae", ["variables.index"]),
    ("run_onnx", "{P}/no_manifest/onnx", ["manifest.json", "--no-verify"]),
    ("run_tflite", "{P}/bad_manifest/tflite/vae_float32.tflite", ["not valid JSON"]),
    ("run_onnx", "{P}/nothing_here", ["does not exist"]),
    ("run_tflite", "{P}/export/tflite", ["Expected a .tflite file"]),
    ("run_onnx", "{P}/export/tflite", ["Expected a .onnx file"]),
    ("run_saved_model", "{P}/export/onnx", ["Expected a SavedModel folder"]),
    ("run_onnx", "{P}/export/onnx --inputs {P}/none.npz", ["none.npz", "does not exist"]),
    ("run_onnx", "{P}/export/onnx --inputs {P}/array.npy", ["(.npy)"]),
    ("run_tflite", "{P}/export/tflite/vae_float32.tflite --inputs {P}/text.npz",
     ["text.npz"]),
    ("run_onnx", "{P}/export/onnx --inputs {P}/images_key.npz", ["encode/images", "images"]),
    ("run_saved_model", "{P}/export/saved_model/vae --inputs {P}/wrong_shape.npz",
     ["(2, 9, 9, 1)"]),
    ("run_onnx", "{P}/export/onnx --inputs {P}/float64_z.npz", ["float32", "float64"]),
    ("run_onnx", "{P}/export/onnx --signature serve", ["--signature", "serve"]),
]


@pytest.mark.parametrize("script, arguments, words", SCRIPT_CASES,
                         ids=[f"{case[0]} {case[1]}" for case in SCRIPT_CASES])
def test_export_scripts(sandbox, nothing_lost, capsys, script, arguments, words):
    root = sandbox["root"]
    with pytest.raises(SystemExit) as raised:
        script_module(script).main(arguments.format(P=root).split())
    assert raised.value.code == 2
    message = _one_line(capsys.readouterr().err)
    for word in words:
        assert word in message, (word, message)


def test_the_sweep_is_at_least_sixty_cases():
    assert len(API_CASES) + len(CLI_CASES) + len(SCRIPT_CASES) >= 60
