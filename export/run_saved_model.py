#!/usr/bin/env python3
"""Run every signature of an exported keras_cvae SavedModel with TensorFlow.

Needs only `tensorflow` and numpy (no Keras code, no keras_cvae).

    python run_saved_model.py serving/vae          # the newest version, random inputs
    python run_saved_model.py serving/vae/1 --inputs in.npz --outputs out.npz

MODEL is a version folder (`.../vae/1`) or a TF Serving base path (`.../vae`,
whose highest numbered version is used). An inputs file holds arrays named
`<signature>/<input>` (e.g. `encode/images`); signatures with no inputs in it are
skipped. The outputs file gets `<signature>/<output>` (e.g. `encode/z_mean`).
Several `--inputs` files are run in turn, each written to the `--outputs` file at
the same position.
"""

import argparse
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402


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


def random_inputs(fn, batch, rng):
    inputs = {}
    for key, (shape, dtype) in sorted(input_details(fn).items()):
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
    parser.add_argument("model", help="a SavedModel version folder or TF Serving base path")
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

    _, signatures = load(args.model)
    names = args.signature or sorted(signatures)
    unknown = sorted(set(names) - set(signatures))
    if unknown:
        parser.error(f"unknown signatures {unknown}; the model has {sorted(signatures)}")
    for name in names:
        shapes = {k: s for k, (s, _) in input_details(signatures[name]).items()}
        print(f"{name}: inputs {shapes}")

    rng = np.random.default_rng(0)
    cases = args.inputs or [None]
    for index, case in enumerate(cases):
        if case is None:
            feeds = {name: random_inputs(signatures[name], args.batch, rng) for name in names}
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
            outputs = run(signatures[name], inputs)
            for key, value in outputs.items():
                results[f"{name}/{key}"] = value
                print(f"  {name}/{key}: shape {value.shape}, mean {float(np.mean(value)):.4f}")
        if index < len(args.outputs):
            np.savez(args.outputs[index], **results)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ValueError, TypeError, tf.errors.InvalidArgumentError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
