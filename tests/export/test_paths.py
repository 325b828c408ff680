"""Bad arguments, existing targets, overwrite, and no half-written artifact on failure."""

import json
import os
import sys

import numpy as np
import pytest
import tensorflow as tf

import keras_cvae.export
from keras_cvae.export import export_all
from keras_cvae.export import export_onnx
from keras_cvae.export import export_saved_model
from keras_cvae.export import export_tflite
from tests.export.export_checks import script_module
from tests.export.export_checks import tiny_vae

saved_model_module = sys.modules["keras_cvae.export.saved_model"]
tflite_module = sys.modules["keras_cvae.export.tflite"]
export_all_module = sys.modules["keras_cvae.export.export_all"]


def test_bad_arguments(vae, tmp_path):
    with pytest.raises(
        ValueError,
        match=r"Expected one of None, 'float16', 'dynamic', 'int8'\. Received: quantization='int4'",
    ):
        export_tflite(vae, tmp_path / "m.tflite", quantization="int4")
    with pytest.raises(
        ValueError, match=r"pass `representative_data`.*Received: representative_data=None"
    ):
        export_tflite(vae, tmp_path / "m.tflite", quantization="int8")
    with pytest.raises(
        ValueError,
        match=r"Expected images of shape \(batch, 8, 8, 1\).*Received: image shapes \[\(4, 4, 1\)\]",
    ):
        export_tflite(
            vae,
            tmp_path / "m.tflite",
            quantization="int8",
            representative_data=np.zeros((3, 4, 4, 1)),
        )
    with pytest.raises(ValueError, match=r"Expected a `keras_cvae.VAE`. Received: model='vae'"):
        export_saved_model("vae", tmp_path / "sm")
    with pytest.raises(ValueError, match=r"Expected an integer >= 1\. Received: version=0"):
        export_saved_model(vae, tmp_path / "sm", version=0)
    with pytest.raises(ValueError, match=r"Expected an integer >= 13\. Received: opset=12"):
        export_onnx(vae, tmp_path / "onnx", opset=12)
    with pytest.raises(ValueError, match=r"Received: num_calibration_samples=0"):
        export_tflite(vae, tmp_path / "m.tflite", num_calibration_samples=0)
    with pytest.raises(ValueError, match=r"Received: repeats=True"):
        keras_cvae.export.export_report(vae, {}, repeats=True)
    with pytest.raises(ValueError, match=r"non-empty subset of .*Received: quantizations=\(\)"):
        export_all(vae, tmp_path / "all", quantizations=())
    with pytest.raises(ValueError, match=r"Received: formats=\('pb',\)"):
        export_all(vae, tmp_path / "all", formats=("pb",))
    with pytest.raises(ValueError, match=r"Received: overwrite='yes'"):
        export_onnx(vae, tmp_path / "onnx", overwrite="yes")
    with pytest.raises(ValueError, match=r"leave 'int8' out"):
        export_all(vae, tmp_path / "all", quantizations=("int8",))
    assert os.listdir(tmp_path) == []  # nothing written on a bad argument


def test_existing_targets_are_refused(vae, tmp_path):
    (tmp_path / "m.tflite").write_bytes(b"old")
    (tmp_path / "onnx").mkdir()
    (tmp_path / "all").mkdir()
    (tmp_path / "sm" / "1").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_tflite(vae, tmp_path / "m.tflite")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_onnx(vae, tmp_path / "onnx")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_all(vae, tmp_path / "all")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_saved_model(vae, tmp_path / "sm")
    assert (tmp_path / "m.tflite").read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["all", "m.tflite", "onnx", "sm"]


def test_versions_and_overwrite(tmp_path):
    first, second = tiny_vae(seed=0), tiny_vae(seed=1)
    for variable in second.weights:  # a model with other outputs
        variable.assign(variable * 1.5 if variable.path.endswith("kernel") else variable)
    base = tmp_path / "serving" / "vae"
    assert export_saved_model(first, base) == str(base / "1")
    assert export_saved_model(second, base, version=2) == str(base / "2")
    with pytest.raises(FileExistsError):
        export_saved_model(second, base, version=1)
    export_saved_model(second, base, version=1, overwrite=True)  # an export: replaced
    assert sorted(os.listdir(base)) == ["1", "2"]  # no temporary folder left
    manifest = script_module("consumer").verify(base / "1")  # each version has its manifest
    assert manifest == (str(base / "1" / "manifest.json"), 4)

    z = np.random.default_rng(0).standard_normal((2, 4)).astype("float32")
    decoded = tf.saved_model.load(str(base / "1")).signatures["decode"](z=tf.constant(z))
    np.testing.assert_allclose(decoded["x_mean"], second.decode(z)[0], atol=1e-5)


def test_failed_export_leaves_nothing(vae, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("conversion failed")

    # A failure after part of the artifact is written.
    def write_then_fail(model, directory):
        os.makedirs(os.path.join(directory, "variables"))
        open(os.path.join(directory, "saved_model.pb"), "wb").close()
        raise RuntimeError("disk full")

    monkeypatch.setattr(saved_model_module, "write_saved_model", write_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        export_saved_model(vae, tmp_path / "sm")
    assert os.listdir(tmp_path / "sm") == []

    monkeypatch.setattr(tflite_module, "write_saved_model", lambda *args, **kwargs: None)
    monkeypatch.setattr(tflite_module, "convert_saved_model", fail)
    (tmp_path / "old.tflite").write_bytes(b"old")
    with pytest.raises(RuntimeError, match="conversion failed"):
        export_tflite(vae, tmp_path / "old.tflite", overwrite=True)
    with pytest.raises(RuntimeError, match="conversion failed"):
        export_tflite(vae, tmp_path / "new.tflite")
    assert (tmp_path / "old.tflite").read_bytes() == b"old"  # the old artifact survives
    assert sorted(os.listdir(tmp_path)) == ["old.tflite", "sm"]

    # export_all: the SavedModel is written, then ONNX fails: no partial out_dir.
    monkeypatch.undo()
    monkeypatch.setattr(export_all_module, "write_onnx", fail)
    with pytest.raises(RuntimeError, match="conversion failed"):
        export_all(vae, tmp_path / "all", formats=("saved_model", "onnx"))
    assert sorted(os.listdir(tmp_path)) == ["old.tflite", "sm"]


def test_export_all_layout_and_report(vae, tmp_path, capsys):
    paths = export_all(
        vae,
        tmp_path / "out",
        formats=("saved_model", "tflite"),
        quantizations=(None,),
        report_repeats=2,
    )
    assert sorted(os.listdir(tmp_path / "out")) == [
        "export_report.json", "manifest.json", "saved_model", "tflite"
    ]
    assert paths["saved_model"] == str(tmp_path / "out" / "saved_model" / "vae" / "1")
    assert paths["tflite_float32"] == str(tmp_path / "out" / "tflite" / "vae_float32.tflite")
    report = json.loads((tmp_path / "out" / "export_report.json").read_text())
    assert set(report["artifacts"]) == {"saved_model", "tflite_float32"}
    assert report["model"]["prior"] == {"type": "StandardNormalPrior"}
    entry = report["artifacts"]["tflite_float32"]
    assert entry["path"] == os.path.join("tflite", "vae_float32.tflite")
    assert entry["size_bytes"] == os.path.getsize(paths["tflite_float32"])
    assert set(entry["max_abs_diff"]) == set(keras_cvae.export.SIGNATURES)
    assert max(max(d.values()) for d in entry["max_abs_diff"].values()) < 1e-5
    assert set(entry["latency_ms_per_image"]) == {"1", "64"}
    assert set(report["keras"]["latency_ms_per_image"]) == {"1", "64"}
    printed = capsys.readouterr().out
    assert "tflite_float32" in printed
    assert "3/3" in printed  # the progress bar: SavedModel, one TFLite mode, the report


def test_report_without_the_litert_runtime(vae, tmp_path, monkeypatch):
    """`pip install keras-cvae` without the `export` extra: the TFLite file is still written."""
    report_module = sys.modules["keras_cvae.export.report"]

    def no_litert(path):
        raise ModuleNotFoundError("No module named 'ai_edge_litert'", name="ai_edge_litert")

    monkeypatch.setitem(report_module._LOADERS, "tflite", no_litert)
    paths = export_all(vae, tmp_path / "out", formats=("tflite",), quantizations=(None,),
                       report_repeats=1)
    assert os.path.getsize(paths["tflite_float32"]) > 0
    entry = json.loads((tmp_path / "out" / "export_report.json").read_text())["artifacts"]["tflite_float32"]
    assert "ai_edge_litert is not installed" in entry["not_measured"]
    assert "max_abs_diff" not in entry and entry["size_bytes"] > 0


def test_report_writes_null_for_a_non_finite_difference(vae, tmp_path, capsys, monkeypatch):
    """An artifact whose output is NaN: strict JSON (null, not NaN) and `n/a` in the table."""
    report_module = sys.modules["keras_cvae.export.report"]
    load_tflite = report_module._LOADERS["tflite"]

    def nan_z_mean(path):
        run = load_tflite(path)

        def run_with_nan(name, inputs):
            outputs = dict(run(name, inputs))
            if name == "encode":
                outputs["z_mean"] = np.full_like(outputs["z_mean"], np.nan)
            return outputs

        return run_with_nan

    monkeypatch.setitem(report_module._LOADERS, "tflite", nan_z_mean)
    tflite = export_tflite(vae, tmp_path / "vae.tflite")
    keras_cvae.export.export_report(
        vae, {"tflite_float32": tflite}, repeats=1, path=tmp_path / "report.json"
    )

    def refuse(constant):
        raise AssertionError(f"{constant} in the report")

    text = (tmp_path / "report.json").read_text()
    report = json.loads(text, parse_constant=refuse)
    differences = report["artifacts"]["tflite_float32"]["max_abs_diff"]
    assert differences["encode"]["z_mean"] is None
    assert differences["encode"]["z_scale_tril"] < 1e-5
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("tflite"))
    assert row.split()[3] == "n/a"  # artifact, size (two words), then encode
