#!/usr/bin/env python3
"""Run every signature of an exported keras_cvae `.tflite` model with LiteRT.

Needs only `ai-edge-litert` and numpy (no TensorFlow, no keras_cvae).

    python run_tflite.py vae_int8.tflite                       # random inputs, batch 2
    python run_tflite.py vae.tflite --inputs in.npz --outputs out.npz

An inputs file holds arrays named `<signature>/<input>` (e.g. `encode/images`);
signatures with no inputs in it are skipped. The outputs file gets
`<signature>/<output>` (e.g. `encode/z_mean`). Several `--inputs` files are run in
turn, each written to the `--outputs` file at the same position.
"""

import argparse
import os
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter


def load(path, num_threads=None):
    """A LiteRT interpreter and `{signature: runner}` for every signature."""
    interpreter = Interpreter(model_path=path, num_threads=num_threads or os.cpu_count())
    runners = {
        name: interpreter.get_signature_runner(name) for name in interpreter.get_signature_list()
    }
    return interpreter, runners


def input_details(runner):
    """`{input: (shape with -1 for the batch, numpy dtype)}`."""
    return {
        name: (tuple(int(d) for d in detail["shape_signature"]), np.dtype(detail["dtype"]))
        for name, detail in runner.get_input_details().items()
    }


def run(runner, name, inputs):
    """Runs one signature after checking names, shapes and dtypes, with a clear error."""
    expected = input_details(runner)
    if set(inputs) != set(expected):
        raise ValueError(
            f"Signature '{name}' takes inputs {sorted(expected)}. Received: {sorted(inputs)}"
        )
    batch = None
    for key, (shape, dtype) in expected.items():
        value = np.asarray(inputs[key])
        fits = len(value.shape) == len(shape) and all(
            d in (-1, v) for d, v in zip(shape, value.shape)
        )
        if not fits:
            raise ValueError(
                f"Signature '{name}' expects input '{key}' of shape "
                f"{tuple('batch' if d == -1 else d for d in shape)}. Received: shape {value.shape}"
            )
        if value.dtype != dtype:
            raise ValueError(
                f"Signature '{name}' expects input '{key}' of dtype {dtype.name}. "
                f"Received: dtype {value.dtype.name}"
            )
        if batch not in (None, value.shape[0]):
            raise ValueError(
                f"Signature '{name}' expects all inputs to have the same batch size. "
                f"Received: { ({k: np.shape(v)[0] for k, v in inputs.items()}) }"
            )
        batch = value.shape[0]
    return runner(**{key: np.ascontiguousarray(value) for key, value in inputs.items()})


def random_inputs(runner, batch, rng):
    inputs = {}
    for key, (shape, dtype) in sorted(input_details(runner).items()):
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
    parser.add_argument("model", help="a .tflite file exported by keras_cvae")
    parser.add_argument(
        "--inputs", nargs="*", default=[], help="npz files of <signature>/<input> arrays"
    )
    parser.add_argument(
        "--outputs", nargs="*", default=[], help="npz files to write, one per --inputs"
    )
    parser.add_argument("--signature", nargs="*", help="run only these signatures")
    parser.add_argument("--batch", type=int, default=2, help="batch of the random inputs")
    parser.add_argument(
        "--threads", type=int, default=None, help="LiteRT threads (default: all cores)"
    )
    args = parser.parse_args(argv)
    if args.inputs and len(args.outputs) not in (0, len(args.inputs)):
        parser.error("give one --outputs file per --inputs file")

    _, runners = load(args.model, args.threads)
    names = args.signature or sorted(runners)
    unknown = sorted(set(names) - set(runners))
    if unknown:
        parser.error(f"unknown signatures {unknown}; the model has {sorted(runners)}")
    for name in names:
        shapes = {k: s for k, (s, _) in input_details(runners[name]).items()}
        print(f"{name}: inputs {shapes}")

    rng = np.random.default_rng(0)
    cases = args.inputs or [None]
    for index, case in enumerate(cases):
        if case is None:
            feeds = {name: random_inputs(runners[name], args.batch, rng) for name in names}
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
            outputs = run(runners[name], name, inputs)
            for key, value in outputs.items():
                results[f"{name}/{key}"] = value
                print(f"  {name}/{key}: shape {value.shape}, mean {float(np.mean(value)):.4f}")
        if index < len(args.outputs):
            np.savez(args.outputs[index], **results)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
