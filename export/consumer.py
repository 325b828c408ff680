"""What the three consumer scripts share: the command line, the inputs, running and printing.

Needs only numpy. Each script (`run_saved_model.py`, `run_tflite.py`,
`run_onnx.py`) brings its runtime (how to load a model's signatures, read a
signature's inputs and run it) and hands it to `main`. Keep this file beside
the scripts: `python export/run_tflite.py ...` finds it in the script's folder.
"""

import argparse
import sys

import numpy as np


def build_parser(doc, model_help):
    """The options every script takes; a script adds its own after them."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("model", help=model_help)
    parser.add_argument(
        "--inputs", nargs="*", default=[], help="npz files of <signature>/<input> arrays"
    )
    parser.add_argument(
        "--outputs", nargs="*", default=[], help="npz files to write, one per --inputs"
    )
    parser.add_argument("--signature", nargs="*", help="run only these signatures")
    parser.add_argument("--batch", type=int, default=2, help="batch of the random inputs")
    return parser


def main(parser, argv, load, input_details, run):
    """Lists the signatures' inputs, then runs them on random inputs or on each `--inputs` file.

    Args:
        parser: From `build_parser`, with the script's own options.
        argv: The command line (`None`: `sys.argv[1:]`).
        load: `load(args) -> {signature: handle}`.
        input_details: `input_details(handle) -> {input: (shape, dtype)}`, `-1`
            for the batch.
        run: `run(handle, signature, inputs) -> {output: array}`.

    Returns:
        The exit status, `0`.
    """
    args = parser.parse_args(argv)
    if args.inputs and len(args.outputs) not in (0, len(args.inputs)):
        parser.error("give one --outputs file per --inputs file")
    handles = load(args)
    names = args.signature or sorted(handles)
    unknown = sorted(set(names) - set(handles))
    if unknown:
        parser.error(f"unknown signatures {unknown}; the model has {sorted(handles)}")
    details = {name: input_details(handles[name]) for name in names}
    for name in names:
        shapes = {key: shape for key, (shape, _) in details[name].items()}
        print(f"{name}: inputs {shapes}")

    rng = np.random.default_rng(0)
    for index, case in enumerate(args.inputs or [None]):
        if case is None:
            feeds = {name: random_inputs(details[name], args.batch, rng) for name in names}
        else:
            feeds = read_inputs(case, names)
        results = run_feeds(handles, feeds, run)
        if index < len(args.outputs):
            np.savez(args.outputs[index], **results)
    return 0


def random_inputs(details, batch, rng):
    """Inputs of batch `batch`: images in [0, 1), temperature 1, noise `N(0, 1)`."""
    inputs = {}
    for key, (shape, dtype) in sorted(details.items()):
        shape = tuple(batch if d == -1 else d for d in shape)
        if key == "temperature":
            inputs[key] = np.ones(shape, dtype)
        elif key == "images":
            inputs[key] = rng.uniform(size=shape).astype(dtype)
        else:
            inputs[key] = rng.standard_normal(shape).astype(dtype)
    return inputs


def read_inputs(path, names):
    """`{signature: {input: array}}` from the `<signature>/<input>` arrays of an `.npz` file.

    Signatures of `names` with no arrays in the file are left out.
    """
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    feeds = {}
    for name in names:
        given = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.split("/", 1)[0] == name}
        if given:
            feeds[name] = given
    return feeds


def run_feeds(handles, feeds, run):
    """Runs each signature on its inputs, prints every output; `{"<signature>/<output>": array}`."""
    results = {}
    for name, inputs in feeds.items():
        for key, value in run(handles[name], name, inputs).items():
            results[f"{name}/{key}"] = value
            print(f"  {name}/{key}: shape {value.shape}, mean {float(np.mean(value)):.4f}")
    return results


def exit_status(main, errors):
    """`main()`, or `1` after printing `error: ...` to stderr if it raises one of `errors`."""
    try:
        return main()
    except errors as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
