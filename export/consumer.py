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
    parser.add_argument(
        "--seed", type=int, default=0,
        help="seed of the random inputs, and of `sample/z_uniform` when an --inputs file "
        "has no such array (default: 0)",
    )
    return parser


def main(parser, argv, load, input_details, run):
    """Lists the signatures' inputs, then runs them on random inputs or on each `--inputs` file.

    Random inputs, and the inputs an `--inputs` file leaves out that are
    only noise (`z_uniform`: files written before `sample` took it), are
    drawn from `--seed`.

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

    rng = np.random.default_rng(args.seed)
    for index, case in enumerate(args.inputs or [None]):
        if case is None:
            feeds = {name: random_inputs(details[name], args.batch, rng) for name in names}
        else:
            feeds = read_inputs(case, names)
            for name, inputs in feeds.items():
                drawn = ", ".join(add_missing_noise(inputs, details[name], rng))
                if drawn:
                    print(f"{name}: {drawn} not in {case}: drawn from --seed {args.seed}")
        results = run_feeds(handles, feeds, run)
        if index < len(args.outputs):
            np.savez(args.outputs[index], **results)
    return 0


# Inputs that are uniform noise in [0, 1): `sample`'s choice of a mixture prior's component.
UNIFORM_NOISE = ("z_uniform",)


def random_inputs(details, batch, rng):
    """Inputs of batch `batch`: images and `z_uniform` in [0, 1), temperature 1, noise `N(0, 1)`."""
    inputs = {}
    for key, (shape, dtype) in sorted(details.items()):
        shape = tuple(batch if d == -1 else d for d in shape)
        if key == "temperature":
            inputs[key] = np.ones(shape, dtype)
        elif key == "images" or key in UNIFORM_NOISE:
            inputs[key] = rng.uniform(size=shape).astype(dtype)
        else:
            inputs[key] = rng.standard_normal(shape).astype(dtype)
    return inputs


def add_missing_noise(inputs, details, rng):
    """Draws each `UNIFORM_NOISE` input the signature takes but `inputs` lacks; their names.

    The batch is that of the given inputs. Other missing inputs are left
    for the runtime to report.
    """
    missing = [key for key in UNIFORM_NOISE if key in details and key not in inputs]
    if not missing or not inputs:
        return []
    batch = len(next(iter(inputs.values())))
    for key in missing:
        shape, dtype = details[key]
        shape = tuple(batch if d == -1 else d for d in shape)
        inputs[key] = rng.uniform(size=shape).astype(dtype)
    return missing


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
