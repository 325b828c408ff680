#!/usr/bin/env python3
"""Run every signature of an exported keras_cvae ONNX folder with ONNX Runtime.

Needs only `onnxruntime` and numpy (no TensorFlow, no keras_cvae), and `consumer.py`
beside it.

    python run_onnx.py vae_onnx/                       # random inputs, batch 2
    python run_onnx.py vae_onnx/ --inputs in.npz --outputs out.npz

MODEL is the folder of `<signature>.onnx` files (or one such file). Each file is
first checked against the export's `manifest.json` (in the folder or a parent
folder): a damaged file is refused, and so is an artifact without a manifest
unless `--no-verify` is given. Errors are one line on stderr, exit status 2. An inputs
file holds arrays named `<signature>/<input>` (e.g. `encode/images`); signatures
with no inputs in it are skipped. Random inputs, and a `sample/z_uniform` missing
from a file, are drawn from `--seed`. The outputs file gets `<signature>/<output>`
(e.g. `encode/z_mean`). Several `--inputs` files are run in turn, each written to
the `--outputs` file at the same position.
Inputs with NaN, infinite or out-of-range values are refused before anything
runs, and so is an existing `--outputs` file unless `--overwrite` is given.
"""

import os
import sys

import numpy as np
import onnxruntime as ort

import consumer  # beside this script

# ONNX Runtime's errors (a file it cannot load, inputs it cannot run) are not ValueErrors.
_ORT_ERRORS = tuple(
    getattr(ort.capi.onnxruntime_pybind11_state, name)
    for name in ("Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NoSuchFile",
                 "NotImplemented", "RuntimeException")
)
_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16,
           "tensor(double)": np.float64, "tensor(int64)": np.int64}


def locate(path):
    """The `.onnx` files to load: `path` itself, or those in the folder `path`."""
    if os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".onnx"))
    else:
        files = [path] if path.endswith(".onnx") else []
    if not files:
        raise ValueError(f"Expected a .onnx file or a folder of them. Received: {path!r}")
    return files


def load(files):
    """`{signature: InferenceSession}` for each `<signature>.onnx` file."""
    return {
        os.path.basename(f)[: -len(".onnx")]: ort.InferenceSession(
            f, providers=["CPUExecutionProvider"]
        )
        for f in files
    }


def input_details(session):
    """`{input: (shape with -1 for the batch, numpy dtype)}`."""
    return {
        i.name: (
            tuple(d if isinstance(d, int) else -1 for d in i.shape),
            _DTYPES.get(i.type, i.type),
        )
        for i in session.get_inputs()
    }


def run(session, inputs):
    """Runs one signature (`consumer.check_inputs` has checked the names, shapes and dtypes)."""
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))


def main(argv=None):
    parser = consumer.build_parser(
        __doc__, "a folder of <signature>.onnx files, or one file", os.path.basename(__file__)
    )
    return consumer.main(
        parser, argv, locate=locate, load=lambda args, files: load(files),
        input_details=input_details, run=lambda session, name, inputs: run(session, inputs),
        errors=(RuntimeError, *_ORT_ERRORS),
    )


if __name__ == "__main__":
    sys.exit(main())
