#!/usr/bin/env python3
"""Run every signature of an exported keras_cvae ONNX folder with ONNX Runtime.

Needs only `onnxruntime` and numpy (no TensorFlow, no keras_cvae).

    python run_onnx.py vae_onnx/                       # random inputs, batch 2
    python run_onnx.py vae_onnx/ --inputs in.npz --outputs out.npz

MODEL is the folder of `<signature>.onnx` files (or one such file). An inputs
file holds arrays named `<signature>/<input>` (e.g. `encode/images`); signatures
with no inputs in it are skipped. The outputs file gets `<signature>/<output>`
(e.g. `encode/z_mean`). Several `--inputs` files are run in turn, each written to
the `--outputs` file at the same position.
"""

import argparse
import os
import sys

import numpy as np
import onnxruntime as ort

# ONNX Runtime's errors (wrong input name, shape or dtype) are not ValueErrors.
_ORT_ERRORS = (
    ort.capi.onnxruntime_pybind11_state.InvalidArgument,
    ort.capi.onnxruntime_pybind11_state.Fail,
)
_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64}


def load(path):
    """`{signature: InferenceSession}` for `<path>/<signature>.onnx` (or one file)."""
    files = (
        [path]
        if path.endswith(".onnx")
        else sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".onnx"))
    )
    if not files:
        raise ValueError(f"Expected a .onnx file or a folder of them. Received: {path!r}")
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
    """Runs one signature; ONNX Runtime checks the names, shapes and dtypes."""
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))


def random_inputs(session, batch, rng):
    inputs = {}
    for key, (shape, dtype) in sorted(input_details(session).items()):
        shape = tuple(batch if d == -1 else d for d in shape)
        if key == "temperature":
            inputs[key] = np.ones(shape, dtype)
        elif key == "images":
            inputs[key] = rng.uniform(size=shape).astype(dtype)
        else:
            inputs[key] = rng.standard_normal(shape).astype(dtype)
    return inputs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a folder of <signature>.onnx files, or one file")
    parser.add_argument(
        "--inputs", nargs="*", default=[], help="npz files of <signature>/<input> arrays"
    )
    parser.add_argument(
        "--outputs", nargs="*", default=[], help="npz files to write, one per --inputs"
    )
    parser.add_argument("--signature", nargs="*", help="run only these signatures")
    parser.add_argument("--batch", type=int, default=2, help="batch of the random inputs")
    args = parser.parse_args(argv)
    if args.inputs and len(args.outputs) not in (0, len(args.inputs)):
        parser.error("give one --outputs file per --inputs file")

    sessions = load(args.model)
    names = args.signature or sorted(sessions)
    unknown = sorted(set(names) - set(sessions))
    if unknown:
        parser.error(f"unknown signatures {unknown}; the model has {sorted(sessions)}")
    for name in names:
        shapes = {k: s for k, (s, _) in input_details(sessions[name]).items()}
        print(f"{name}: inputs {shapes}")

    rng = np.random.default_rng(0)
    cases = args.inputs or [None]
    for index, case in enumerate(cases):
        if case is None:
            feeds = {name: random_inputs(sessions[name], args.batch, rng) for name in names}
        else:
            with np.load(case) as data:
                arrays = {key: data[key] for key in data.files}
            feeds = {}
            for name in names:
                given = {
                    k.split("/", 1)[1]: v for k, v in arrays.items() if k.split("/", 1)[0] == name
                }
                if given:
                    feeds[name] = given
        results = {}
        for name, inputs in feeds.items():
            outputs = run(sessions[name], inputs)
            for key, value in outputs.items():
                results[f"{name}/{key}"] = value
                print(f"  {name}/{key}: shape {value.shape}, mean {float(np.mean(value)):.4f}")
        if index < len(args.outputs):
            np.savez(args.outputs[index], **results)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ValueError, RuntimeError, *_ORT_ERRORS) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
