"""The export report's batch-1 latencies of `decode` and `sample`, and its TFLite delegate."""

import json
import math

import pytest

import keras_cvae
from keras_cvae.export import export_tflite
from keras_cvae.export.report import BATCH_1_SIGNATURES
from keras_cvae.export.report import TFLITE_DELEGATE
from keras_cvae.export.report import format_report

pytest.importorskip("ai_edge_litert")


@pytest.fixture(scope="module")
def tflite(tmp_path_factory):
    """An 8x8 model (depth 1, 8 channels; `tiny_vae`) and its float32 TFLite file."""
    from tests.export.export_checks import tiny_vae

    model = tiny_vae()
    return model, export_tflite(model, tmp_path_factory.mktemp("report") / "vae.tflite")


def test_report_times_decode_and_sample_at_batch_1(tflite, tmp_path):
    model, path = tflite
    report = keras_cvae.export.export_report(
        model, {"tflite_float32": path}, batch_sizes=(1,), repeats=3, verbose=False,
        path=tmp_path / "report.json",
    )
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved == report
    latencies = saved["artifacts"]["tflite_float32"]["signature_latency_ms"]
    assert sorted(latencies) == sorted(BATCH_1_SIGNATURES) == ["decode", "sample"]
    assert all(math.isfinite(ms) and ms > 0 for ms in latencies.values())
    assert saved["tflite_delegate"] == TFLITE_DELEGATE

    lines = format_report(saved).splitlines()
    assert "TFLite delegate: XNNPACK (LiteRT default)" in lines[0]
    header = next(line for line in lines if line.startswith("artifact"))
    assert "decode ms b=1" in header and "sample ms b=1" in header
    keras_row = next(line for line in lines if line.startswith("keras"))
    assert keras_row.split()[-2:] == ["-", "-"]  # Keras has no per-signature latencies
    tflite_row = next(line for line in lines if line.startswith("tflite_float32"))
    assert tflite_row.split()[-2:] == [f"{latencies[name]:.3f}" for name in BATCH_1_SIGNATURES]


def test_litert_applies_the_xnnpack_delegate(tflite):
    """The report's `tflite_delegate`: the default op resolver adds XNNPACK `DELEGATE` nodes."""
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_litert.interpreter import OpResolverType

    _, path = tflite

    def op_names(resolver):
        interpreter = Interpreter(model_path=path, experimental_op_resolver_type=resolver)
        interpreter.allocate_tensors()
        return [op["op_name"] for op in interpreter._get_ops_details()]

    assert "DELEGATE" in op_names(OpResolverType.AUTO)
    assert "DELEGATE" not in op_names(OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


@pytest.mark.parametrize("repeats", [0, -1, 1.5, True])
def test_report_rejects_a_bad_repeats(tflite, repeats):
    model, path = tflite
    with pytest.raises(ValueError, match=rf"Received: repeats={repeats}"):
        keras_cvae.export.export_report(model, {"tflite_float32": path}, repeats=repeats)
