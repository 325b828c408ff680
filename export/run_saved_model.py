#!/usr/bin/env python3
"""Run every signature of an exported keras_cvae SavedModel with TensorFlow.

Needs only `tensorflow` and numpy (no Keras code, no keras_cvae), and `consumer.py`
beside it.

    python run_saved_model.py serving/vae          # the newest version, random inputs
    python run_saved_model.py serving/vae/1 --inputs in.npz --outputs out.npz

MODEL is a version folder (`.../vae/1`) or a TF Serving base path (`.../vae`,
whose highest numbered version is used). An inputs file holds arrays named
`<signature>/<input>` (e.g. `encode/images`); signatures with no inputs in it are
skipped. Random inputs, and a `sample/z_uniform` missing from a file, are drawn
from `--seed`. The outputs file gets `<signature>/<output>` (e.g. `encode/z_mean`).
Several `--inputs` files are run in turn, each written to the `--outputs` file at
the same position.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

import consumer  # noqa: E402  (beside this script)


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
    """`{signature: concrete function}` of the SavedModel at `path`."""
    loaded = tf.saved_model.load(resolve(path))
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
    """Calls one signature; TensorFlow checks the shapes and dtypes."""
    outputs = fn(**{key: tf.constant(value) for key, value in inputs.items()})
    return {key: value.numpy() for key, value in outputs.items()}


def main(argv=None):
    parser = consumer.build_parser(
        __doc__, "a SavedModel version folder or TF Serving base path"
    )
    return consumer.main(
        parser, argv, load=lambda args: load(args.model)[1], input_details=input_details,
        run=lambda fn, name, inputs: run(fn, inputs),
    )


if __name__ == "__main__":
    sys.exit(
        consumer.exit_status(main, (ValueError, TypeError, tf.errors.InvalidArgumentError))
    )
