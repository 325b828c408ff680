#!/usr/bin/env python3
"""Run every signature of an exported keras_cvae SavedModel with TensorFlow.

Needs only `tensorflow` and numpy (no Keras code, no keras_cvae), and `consumer.py`
beside it.

    python run_saved_model.py serving/vae          # the newest version, random inputs
    python run_saved_model.py serving/vae/1 --inputs in.npz --outputs out.npz

MODEL is a version folder (`.../vae/1`) or a TF Serving base path (`.../vae`,
whose highest numbered version is used). The version folder's files are first
checked against the export's `manifest.json` (in it or a parent folder): a damaged
or missing file is refused, and so is a SavedModel without a manifest unless
`--no-verify` is given. Errors are one line on stderr, exit status 2. An inputs
file holds arrays named
`<signature>/<input>` (e.g. `encode/images`); signatures with no inputs in it are
skipped. Random inputs, and a `sample/z_uniform` missing from a file, are drawn
from `--seed`. The outputs file gets `<signature>/<output>` (e.g. `encode/z_mean`).
Several `--inputs` files are run in turn, each written to the `--outputs` file at
the same position.
Inputs with NaN, infinite or out-of-range values are refused before anything
runs, and so is an existing `--outputs` file unless `--overwrite` is given.
"""

import os
import sys

import consumer  # beside this script

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
with consumer.quiet_stderr():  # TensorFlow's start-up lines (TF_CPP_MIN_LOG_LEVEL=0 shows them)
    import tensorflow as tf


def resolve(path):
    """The version folder: `path` itself, or its highest numbered subfolder."""
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    versions = [d for d in os.listdir(path) if d.isdigit()] if os.path.isdir(path) else []
    if not versions:
        raise ValueError(
            "Expected a SavedModel folder or a base path with numbered versions. "
            f"Received: {path!r}"
        )
    return os.path.join(path, max(versions, key=int))


def load(path):
    """`{signature: concrete function}` of the SavedModel at `path` (a version folder)."""
    with consumer.quiet_stderr():  # the CUDA probe's error line on a machine without GPUs
        loaded = tf.saved_model.load(path)
    return loaded, dict(loaded.signatures)


def input_details(fn):
    """`{input: (shape with -1 for the batch, numpy dtype)}`."""
    specs = fn.structured_input_signature[1]
    return {
        key: (
            tuple(-1 if d is None else d for d in spec.shape.as_list()),
            spec.dtype.as_numpy_dtype,
        )
        for key, spec in specs.items()
    }


def run(fn, inputs):
    """Calls one signature (`consumer.check_inputs` has checked the names, shapes and dtypes)."""
    outputs = fn(**{key: tf.constant(value) for key, value in inputs.items()})
    return {key: value.numpy() for key, value in outputs.items()}


def main(argv=None):
    parser = consumer.build_parser(
        __doc__, "a SavedModel version folder or TF Serving base path", os.path.basename(__file__)
    )
    return consumer.main(
        parser, argv, locate=lambda path: [resolve(path)],
        load=lambda args, paths: load(paths[0])[1], input_details=input_details,
        run=lambda fn, name, inputs: run(fn, inputs),
        errors=(TypeError, tf.errors.OpError),
    )


if __name__ == "__main__":
    sys.exit(main())
