#!/usr/bin/env python3
"""Run every signature of an exported keras_cvae `.tflite` model with LiteRT.

Needs only `ai-edge-litert` and numpy (no TensorFlow, no keras_cvae), and `consumer.py`
beside it.

    python run_tflite.py vae_int8.tflite                       # random inputs, batch 2
    python run_tflite.py vae.tflite --inputs in.npz --outputs out.npz

An inputs file holds arrays named `<signature>/<input>` (e.g. `encode/images`);
signatures with no inputs in it are skipped. Random inputs, and a `sample/z_uniform`
missing from a file, are drawn from `--seed`. The outputs file gets
`<signature>/<output>` (e.g. `encode/z_mean`). Several `--inputs` files are run in
turn, each written to the `--outputs` file at the same position.
"""

import os
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter

import consumer  # beside this script


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


def main(argv=None):
    parser = consumer.build_parser(__doc__, "a .tflite file exported by keras_cvae")
    parser.add_argument(
        "--threads", type=int, default=None, help="LiteRT threads (default: all cores)"
    )
    return consumer.main(
        parser, argv, load=lambda args: load(args.model, args.threads)[1],
        input_details=input_details, run=run,
    )


if __name__ == "__main__":
    sys.exit(consumer.exit_status(main, (ValueError, RuntimeError)))
