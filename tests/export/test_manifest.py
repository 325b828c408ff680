"""Every export's manifest; the consumer scripts check it; `overwrite` replaces only an export.

The consumer scripts' faults run in-process through their `main(argv)` (one
table), and a few in subprocesses where `import keras_cvae` fails.
"""

import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import keras_cvae
from keras_cvae.export import export_all
from keras_cvae.export import export_onnx
from keras_cvae.export import export_saved_model
from keras_cvae.export import export_tflite
from keras_cvae.export import manifest as manifest_module
from keras_cvae.export.manifest import check_replaceable
from keras_cvae.export.manifest import is_export_folder
from keras_cvae.export.manifest import write_manifest
from tests.export.export_checks import run_script
from tests.export.export_checks import script_module

export_all_module = sys.modules["keras_cvae.export.export_all"]
SCRIPTS = {"onnx": "run_onnx", "tflite": "run_tflite", "saved_model": "run_saved_model"}


def _out(paths):
    return Path(paths["onnx"]).parent


@pytest.fixture
def export(artifacts, tmp_path):
    """A copy of the module's export (SavedModel, float32 TFLite, ONNX) to damage."""
    shutil.copytree(_out(artifacts[1]), tmp_path / "export")
    return tmp_path / "export"


def test_export_all_manifest_lists_every_file(artifacts):
    _, paths = artifacts
    out = _out(paths)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "keras_cvae.export.manifest"
    assert manifest["format_version"] == 1
    assert manifest["keras_cvae_version"] == keras_cvae.__version__
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert sorted(manifest["files"]) == [name for name in written if name != "manifest.json"]
    assert "saved_model/vae/1/variables/variables.index" in manifest["files"]
    for name, entry in manifest["files"].items():
        data = (out / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    consumer = script_module("consumer")
    assert consumer.verify(paths["saved_model"]) == (str(out / "manifest.json"), 4)
    assert consumer.verify(paths["tflite_float32"]) == (str(out / "manifest.json"), 1)


def test_the_scripts_read_what_the_package_writes():
    consumer = script_module("consumer")
    for name in ("MANIFEST_FILE", "SIDECAR_SUFFIX", "MANIFEST_FORMAT", "MANIFEST_VERSION"):
        assert getattr(consumer, name) == getattr(manifest_module, name), name


def test_export_folder_is_recognized(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "manifest.json").write_text('{"name": "my web app"}')
    (tmp_path / "old").mkdir()  # export_all before manifests: its report
    (tmp_path / "old" / "export_report.json").write_text('{"model": {}, "artifacts": {}}')
    (tmp_path / "new").mkdir()
    write_manifest(tmp_path / "new")
    os.symlink(tmp_path / "new", tmp_path / "link")
    found = {name: is_export_folder(tmp_path / name)
             for name in ("empty", "web", "old", "new", "link", "missing")}
    assert found == {"empty": False, "web": False, "old": True, "new": True, "link": False,
                     "missing": False}
    for name in ("empty", "old", "new", "missing"):  # may be replaced: nothing else is lost
        check_replaceable(tmp_path / name, overwrite=True)
    for name in ("web", "link"):
        with pytest.raises(FileExistsError, match=f"{name} is a .* that keras_cvae did not"):
            check_replaceable(tmp_path / name, overwrite=True)


# Every way to overwrite a folder: (call, the folder it replaces below `tmp_path`).
OVERWRITES = {
    "export_all": (lambda vae, p: export_all(vae, p / "out", overwrite=True), "out"),
    "export_onnx": (lambda vae, p: export_onnx(vae, p / "out", overwrite=True), "out"),
    "export_saved_model": (
        lambda vae, p: export_saved_model(vae, p, version=1, overwrite=True), "1"
    ),
    "export_tflite": (lambda vae, p: export_tflite(vae, p / "out", overwrite=True), "out"),
    "VAE.export": (lambda vae, p: vae.export(p / "out", overwrite=True), "out"),
    "VAE.export onnx": (lambda vae, p: vae.export(p / "out", format="onnx", overwrite=True), "out"),
}


@pytest.mark.parametrize("function", list(OVERWRITES))
def test_overwrite_refuses_a_folder_it_did_not_export(vae, tmp_path, function):
    call, name = OVERWRITES[function]
    folder = tmp_path / name
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    (folder / "sub" / "manifest.json").write_text("{}")  # not at the top, not keras_cvae's
    with pytest.raises(FileExistsError) as raised:
        call(vae, tmp_path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{folder} is a folder that keras_cvae did not export")
    assert "replaces only an earlier export" in message
    assert (folder / "notes.txt").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == [name]  # nothing else written beside it


@pytest.mark.parametrize("kind", ["file", "link to an export"])
def test_overwrite_refuses_a_file_or_link(vae, tmp_path, kind):
    target = tmp_path / "out"
    if kind == "file":
        target.write_text("mine")
    else:
        write_manifest(tmp_path)
        os.symlink(tmp_path, target)
    with pytest.raises(FileExistsError, match=rf"^{re.escape(str(target))} is a file or link"):
        export_all(vae, target, overwrite=True)
    assert target.is_symlink() if kind != "file" else target.read_text() == "mine"


def test_overwrite_replaces_an_export_and_the_manifest_comes_last(vae, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.onnx").write_bytes(b"old")
    write_manifest(out)
    listed = []

    def recording(folder):
        listed.append(sorted(os.listdir(folder)))  # what is there when the manifest is written
        return write_manifest(folder)

    monkeypatch.setattr(export_all_module, "write_manifest", recording)
    export_all(vae, out, formats=("tflite",), quantizations=(None,), report_repeats=1,
               verbose=False, overwrite=True)
    assert listed == [["export_report.json", "tflite"]]
    assert sorted(os.listdir(out)) == ["export_report.json", "manifest.json", "tflite"]
    assert sorted(os.listdir(tmp_path)) == ["out"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["files"]) == ["export_report.json", "tflite/vae_float32.tflite"]


def test_cli_overwrite_refuses_a_user_folder(tmp_path, capsys):
    from keras_cvae import cli

    (tmp_path / "notes.txt").write_text("mine")
    status = cli.main(["export", "--preset", "digits_basic", "--format", "onnx",
                       "--out", str(tmp_path), "--overwrite"])
    line = capsys.readouterr().err
    assert status == 2
    assert line == (
        f"keras-cvae export: error: {tmp_path} is a folder that keras_cvae did not export (it "
        "holds no keras_cvae manifest.json): `--overwrite` replaces only an earlier export, never "
        f"other files. Choose another path, or move it away yourself. Received: --out {tmp_path}\n"
    )
    assert os.listdir(tmp_path) == ["notes.txt"]


# === The consumer scripts ===


def _flip_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _nan_patch(path):
    """Writes a float32 NaN over 4 bytes in the middle of the file (weights, mostly)."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2 // 4 * 4
    data[middle : middle + 4] = np.float32(np.nan).tobytes()
    path.write_bytes(bytes(data))


def _edit_manifest(export, change):
    path = export / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _images(batch=2, shape=(8, 8, 1), dtype=np.float32):
    return np.zeros((batch, *shape), dtype)


# id: (script, setup(export, tmp) -> argv, words of the one-line error). `export` is a copy of
# the module's export; argv paths are relative to it.
FAULTS = {
    "onnx byte flipped": (
        "onnx", lambda e, t: _flip_byte(e / "onnx/decode.onnx") or ["onnx/decode.onnx"],
        ["Checksum mismatch", "decode.onnx", "damaged", "--no-verify"]),
    "onnx folder, one file flipped": (
        "onnx", lambda e, t: _flip_byte(e / "onnx/sample.onnx") or ["onnx"],
        ["Checksum mismatch", "sample.onnx"]),
    "tflite NaN-patched": (
        "tflite", lambda e, t: _nan_patch(e / "tflite/vae_float32.tflite")
        or ["tflite/vae_float32.tflite"], ["Checksum mismatch", "vae_float32.tflite"]),
    "saved_model variables missing": (
        "saved_model", lambda e, t: os.remove(e / "saved_model/vae/1/variables/variables.index")
        or ["saved_model/vae"], ["Missing file", "variables.index", "incomplete"]),
    "onnx truncated, --no-verify": (
        "onnx", lambda e, t: (e / "onnx/decode.onnx").write_bytes(b"\x08\x07junk")
        and ["onnx/decode.onnx", "--no-verify"], ["INVALID_PROTOBUF", "decode.onnx"]),
    "no manifest": (
        "onnx", lambda e, t: os.remove(e / "manifest.json") or ["onnx"],
        ["manifest.json", "cannot be verified", "--no-verify"]),
    "manifest not JSON": (
        "tflite",
        lambda e, t: (e / "manifest.json").write_text("{") and ["tflite/vae_float32.tflite"],
        ["not valid JSON", "manifest.json"]),
    "manifest from the future": (
        "onnx", lambda e, t: _edit_manifest(e, lambda m: m.update(format_version=2)) or ["onnx"],
        ["format_version <= 1", "format_version=2"]),
    "file not in the manifest": (
        "tflite", lambda e, t: shutil.copy(e / "tflite/vae_float32.tflite", e / "tflite/x.tflite")
        and ["tflite/x.tflite"], ["to be listed", "'tflite/x.tflite'"]),
    "missing model": ("onnx", lambda e, t: ["nothing_here"], ["'nothing_here'", "does not exist"]),
    "tflite given a folder": ("tflite", lambda e, t: ["tflite"], ["Expected a .tflite file"]),
    "onnx folder without .onnx": ("onnx", lambda e, t: ["tflite"], ["Expected a .onnx file"]),
    "saved_model without versions": (
        "saved_model", lambda e, t: ["onnx"], ["Expected a SavedModel folder"]),
    "inputs missing": (
        "onnx", lambda e, t: ["onnx", "--inputs", str(t / "none.npz")],
        ["Expected an --inputs .npz file", "none.npz", "does not exist"]),
    "inputs a .npy": (
        "onnx",
        lambda e, t: np.save(t / "a.npy", _images()) or ["onnx", "--inputs", str(t / "a.npy")],
        ["a single array (.npy)"]),
    "inputs not numpy": (
        "tflite", lambda e, t: (t / "a.npz").write_text("text") and [
            "tflite/vae_float32.tflite", "--inputs", str(t / "a.npz")], ["numpy cannot read"]),
    "inputs empty": (
        "onnx", lambda e, t: ["onnx", "--inputs", str(_npz(t / "a.npz"))], ["arrays none"]),
    "inputs not <signature>/<input>": (
        "onnx", lambda e, t: ["onnx", "--inputs", str(_npz(t / "a.npz", images=_images()))],
        ["e.g. encode/images", "['images']"]),
    "inputs of an unknown signature": (
        "tflite", lambda e, t: ["tflite/vae_float32.tflite", "--inputs",
                                str(_npz(t / "a.npz", **{"encdoe/images": _images()}))],
        ["signature among ['decode', 'encode', 'reconstruct', 'sample']", "encdoe/images"]),
    "inputs misnamed": (
        "tflite", lambda e, t: ["tflite/vae_float32.tflite", "--inputs",
                                str(_npz(t / "a.npz", **{"encode/image": _images()}))],
        ["Signature 'encode' takes inputs ['images']", "Received: ['image']", "a.npz"]),
    "inputs of the wrong shape": (
        "saved_model",
        lambda e, t: ["saved_model/vae", "--inputs",
                      str(_npz(t / "a.npz", **{"encode/images": _images(2, (9, 9, 1))}))],
        ["input 'images' of shape ('batch', 8, 8, 1)", "Received: shape (2, 9, 9, 1)"]),
    "inputs of the wrong dtype": (
        "onnx", lambda e, t: ["onnx", "--inputs",
                              str(_npz(t / "a.npz", **{"decode/z": np.zeros((2, 4))}))],
        ["input 'z' of dtype float32", "Received: dtype float64"]),
    "inputs of two batch sizes": (
        "onnx", lambda e, t: ["onnx", "--inputs", str(_npz(t / "a.npz", **{
            "sample/z_noise": np.zeros((2, 4), np.float32),
            "sample/z_uniform": np.zeros(3, np.float32),
            "sample/pixel_noise": _images(2), "sample/temperature": np.ones(2, np.float32)}))],
        ["same batch size", "'z_uniform': 3"]),
    "inputs for none of --signature": (
        "onnx", lambda e, t: ["onnx", "--signature", "decode", "--inputs",
                              str(_npz(t / "a.npz", **{"encode/images": _images()}))],
        ["arrays for the signatures to run, ['decode']"]),
    "unknown --signature": ("onnx", lambda e, t: ["onnx", "--signature", "serve"],
                            ["--signature names among", "['serve']"]),
    "outputs per inputs": (
        "onnx", lambda e, t: ["onnx", "--inputs", "a.npz", "b.npz", "--outputs", "c.npz"],
        ["one --outputs file per --inputs file", "--help"]),
    "outputs folder missing": (
        "onnx", lambda e, t: ["onnx", "--signature", "decode", "--inputs",
                              str(_npz(t / "a.npz", **{"decode/z": np.zeros((2, 4), np.float32)})),
                              "--outputs", str(t / "no" / "out.npz")],
        ["No such file or directory", "out.npz"]),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_consumer_fault_is_one_line_and_status_2(export, tmp_path, monkeypatch, capsys, fault):
    script, setup, words = FAULTS[fault]
    argv = setup(export, tmp_path)
    monkeypatch.chdir(export)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(SystemExit) as exited:
        script_module(SCRIPTS[script]).main(argv)
    stderr = capsys.readouterr().err
    assert exited.value.code == 2
    assert stderr.endswith("\n") and stderr.count("\n") == 1, stderr
    assert stderr.startswith(f"{SCRIPTS[script]}.py: error: ")
    for word in words:
        assert word in stderr, (word, stderr)
    assert sorted(os.listdir(tmp_path)) == before  # no outputs file written


def test_no_verify_runs_an_artifact_without_manifest(export, capsys):
    os.remove(export / "manifest.json")
    run_onnx = script_module("run_onnx")
    assert run_onnx.main([str(export / "onnx" / "decode.onnx"), "--no-verify"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"not verified (--no-verify): {export / 'onnx' / 'decode.onnx'}"
    assert lines[2].startswith("  decode/x_mean: shape (2, 8, 8, 1)")


def test_another_programs_manifest_is_passed_over(export, capsys):
    """A `manifest.json` that is not keras_cvae's, nearer than the export's: skipped."""
    (export / "tflite" / "manifest.json").write_text('{"name": "my web app"}')
    path = export / "tflite" / "vae_float32.tflite"
    assert script_module("run_tflite").main([str(path), "--signature", "decode"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        f"verified: {path} (1 file, {export / 'manifest.json'})"
    )


def test_single_format_exports_carry_a_manifest(vae, tmp_path):
    """`VAE.export(format="litert")`: `<file>.manifest.json`; the scripts check it."""
    path = Path(vae.export(tmp_path / "vae.tflite", format="litert", verbose=False))
    assert sorted(os.listdir(tmp_path)) == ["vae.tflite", "vae.tflite.manifest.json"]
    consumer = script_module("consumer")
    assert consumer.verify(path) == (str(path) + ".manifest.json", 1)
    _flip_byte(path)
    with pytest.raises(ValueError, match=r"^Checksum mismatch for .*vae\.tflite: expected sha256"):
        consumer.verify(path)


# A few of the faults above, in a process where `import keras_cvae` fails.
@pytest.mark.parametrize("fault", [
    "onnx byte flipped", "tflite NaN-patched", "no manifest", "manifest not JSON",
    "inputs missing", "outputs per inputs",
])
def test_consumer_fault_in_a_fresh_process(export, tmp_path, fault):
    script, setup, words = FAULTS[fault]
    argv = [arg if os.path.isabs(arg) or not (export / arg).exists() else export / arg
            for arg in setup(export, tmp_path)]
    result = run_script(f"{SCRIPTS[script]}.py", *argv, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert all(word in result.stderr for word in words), result.stderr
