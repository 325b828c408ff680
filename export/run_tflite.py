#!/usr/bin/env python3
"""Run every signature of an exported keras_cvae `.tflite` model with LiteRT.

Needs only `ai-edge-litert` and numpy (no TensorFlow, no keras_cvae), and `consumer.py`
beside it.

    python run_tflite.py vae_int8.tflite                       # random inputs, batch 2
    python run_tflite.py vae.tflite --inputs in.npz --outputs out.npz

The file is first checked against the export's manifest (`<file>.manifest.json`
beside it, or `manifest.json` in a parent folder): a damaged file is refused, and
so is one without a manifest unless `--no-verify` is given. Errors are one line
on stderr, exit status 2. An inputs file holds arrays named `<signature>/<input>`
(e.g. `encode/images`); signatures with no inputs in it are skipped. Random
inputs, and a `sample/z_uniform` missing from a file, are drawn from `--seed`.
The outputs file gets `<signature>/<output>` (e.g. `encode/z_mean`). Several
`--inputs` files are run in turn, each written to the `--outputs` file at the
same position.
Inputs with NaN, infinite or out-of-range values are refused before anything
runs, and so is an existing `--outputs` file unless `--overwrite` is given.
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


def run(runner, inputs):
    """Runs one signature on inputs `consumer.check_inputs` has checked.

    LiteRT checks dtypes itself, but resizes an input to any shape and then
    fails inside a kernel (`RESHAPE failed to invoke`): hence the check first.
    """
    return runner(**{key: np.ascontiguousarray(value) for key, value in inputs.items()})


def locate(path):
    """The file to load: `path`, a `.tflite` file."""
    if os.path.isdir(path) or not path.endswith(".tflite"):
        raise ValueError(f"Expected a .tflite file exported by keras_cvae. Received: {path!r}")
    return [path]


def main(argv=None):
    parser = consumer.build_parser(
        __doc__, "a .tflite file exported by keras_cvae", os.path.basename(__file__)
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="LiteRT threads (default: all cores)"
    )
    return consumer.main(
        parser, argv, locate=locate, load=lambda args, paths: load(paths[0], args.threads)[1],
        input_details=input_details, run=lambda runner, name, inputs: run(runner, inputs),
        errors=(RuntimeError,),
    )


if __name__ == "__main__":
    sys.exit(main())
