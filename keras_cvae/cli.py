"""`keras-cvae`: train, evaluate, sample, reconstruct and export from the command line.

Every sub-command is a thin shell over a library function; errors are one line
(add `--verbose` for the traceback) and exit with status 2.
"""

import argparse
import json
import os
import sys


def _quiet_tensorflow(verbose):
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
        import warnings

        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, received {text!r}")
    return value


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, received {text!r}")
    return value


def _load(preset, load_weights=True):
    import keras_cvae

    return keras_cvae.VAE.from_preset(preset, load_weights=load_weights)


def _print_json(results, path=None):
    text = json.dumps(results, indent=2, sort_keys=True)
    print(text)
    if path:
        from keras_cvae.utils import atomic_write_bytes

        atomic_write_bytes(path, (text + "\n").encode())


# === Sub-commands ===


def presets(args):
    import keras_cvae

    rows = [("name", "blocks", "input", "params", "dataset", "weights", "test bits/dim")]
    for name, entry in keras_cvae.list_presets().items():
        bits = entry.get("bits_per_dim")
        rows.append(
            (
                name,
                entry.get("blocks", ""),
                "×".join(map(str, entry["input_shape"])),
                f"{entry['params']:,}",
                entry.get("dataset", ""),
                "yes" if entry.get("weights") else "no",
                f"{bits:.3f}" if bits is not None else "—",
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


def evaluate(args):
    import keras_cvae
    from keras_cvae import datasets

    model = _load(args.preset)
    dataset_name = args.dataset or model.preset_metadata.get("dataset", "digits")
    data, info = datasets.load(dataset_name, args.split, batch_size=args.batch_size, with_info=True,
                               image_size=model.image_shape[:2], channels=model.image_shape[-1],
                               data_dir=args.data_dir)
    results = keras_cvae.evaluate_density(
        model, data, intensity_levels=info.intensity_levels, num_samples=args.iw_samples,
        seed=args.seed, verbose=1,
    )
    results.update({"preset": args.preset, "dataset": dataset_name, "split": args.split})
    _print_json(results, args.json)


def sample(args):
    from keras_cvae.utils import image_grid, save_png

    model = _load(args.preset)
    images = model.sample(args.num, seed=args.seed, temperature=args.temperature,
                          add_noise=args.add_noise)
    save_png(args.out, image_grid(images, columns=args.columns, scale=args.scale))
    print(f"Wrote {args.num} samples to {args.out}")


def reconstruct(args):
    import numpy as np

    from keras_cvae import datasets
    from keras_cvae.utils import image_grid, save_png

    model = _load(args.preset)
    dataset_name = args.dataset or model.preset_metadata.get("dataset", "digits")
    data = datasets.load(dataset_name, args.split, batch_size=args.num, data_dir=args.data_dir,
                         image_size=model.image_shape[:2], channels=model.image_shape[-1])
    images = next(iter(data)).numpy()
    recon = np.asarray(model.reconstruct(images))
    grid = image_grid(np.concatenate([images, recon]), columns=len(images), scale=args.scale)
    save_png(args.out, grid)
    print(f"Wrote {len(images)} inputs (top) and reconstructions (bottom) to {args.out}")


def export(args):
    from keras_cvae import datasets
    from keras_cvae.export import export_all

    model = _load(args.preset)
    representative = None
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    if any(f.startswith("tflite") for f in formats):
        dataset_name = args.dataset or model.preset_metadata.get("dataset", "digits")
        data = datasets.load(dataset_name, "train", batch_size=100, data_dir=args.data_dir,
                             image_size=model.image_shape[:2], channels=model.image_shape[-1])
        representative = next(iter(data)).numpy()
    export_all(model, args.out, formats=formats, representative_data=representative,
               overwrite=args.overwrite)
    print(f"Exported {', '.join(formats)} to {args.out}")


def train(args):
    from keras_cvae.zoo.train_preset import train_preset

    metadata = train_preset(args.preset, args.out, epochs=args.epochs, batch_size=args.batch_size,
                            learning_rate=args.learning_rate, seed=args.seed,
                            num_samples=args.iw_samples, overwrite=args.overwrite,
                            command="keras-cvae " + " ".join(sys.argv[1:]))
    print(json.dumps(metadata["metrics"], indent=2))
    print(f"Preset, metrics and sample images written to {args.out}")


# === Parser ===


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-cvae", description="Convolutional VAEs for Keras: train, evaluate, sample, export."
    )
    parser.add_argument("--verbose", action="store_true", help="show tracebacks and TensorFlow logs")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, function, help):
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(function=function)
        sub.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="show tracebacks and TensorFlow logs")
        return sub

    command("presets", presets, "list the model zoo")

    sub = command("train", train, "train a preset (default: the digits preset on the embedded data)")
    sub.add_argument("--preset", default="digits_basic", help="preset name or directory (architecture)")
    sub.add_argument("--epochs", type=_positive_int, default=None)
    sub.add_argument("--batch-size", type=_positive_int, default=None, help="batch size B")
    sub.add_argument("--learning-rate", type=_positive_float, default=None)
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--out", default="runs/digits_basic", help="preset directory to write")
    sub.add_argument("--overwrite", action="store_true")
    sub.add_argument("--iw-samples", type=_positive_int, default=100,
                     help="K for the final importance-weighted NLL")

    def data_options(sub):
        sub.add_argument("--preset", required=True, help="preset name or directory")
        sub.add_argument("--dataset", default=None, help="defaults to the preset's dataset")
        sub.add_argument("--data-dir", default=None)
        sub.add_argument("--split", default="test")

    sub = command("evaluate", evaluate, "negative ELBO, importance-weighted NLL and bits/dim")
    data_options(sub)
    sub.add_argument("--iw-samples", type=_positive_int, default=1000, help="K")
    sub.add_argument("--batch-size", type=_positive_int, default=64)
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--json", default=None, help="also write the results here")

    sub = command("sample", sample, "draw samples into a PNG grid")
    sub.add_argument("--preset", required=True)
    sub.add_argument("--num", type=_positive_int, default=64)
    sub.add_argument("--temperature", type=_non_negative_float, default=1.0)
    sub.add_argument("--seed", type=int, default=None)
    sub.add_argument("--add-noise", action="store_true", help="add the decoder noise σ·η")
    sub.add_argument("--columns", type=_positive_int, default=None)
    sub.add_argument("--scale", type=_positive_int, default=4, help="pixel enlargement")
    sub.add_argument("--out", required=True, help="PNG path")

    sub = command("reconstruct", reconstruct, "inputs (top row) and reconstructions (bottom row)")
    data_options(sub)
    sub.add_argument("--num", type=_positive_int, default=16)
    sub.add_argument("--scale", type=_positive_int, default=4)
    sub.add_argument("--out", required=True, help="PNG path")

    sub = command("export", export, "SavedModel, TFLite and ONNX artifacts with a report")
    sub.add_argument("--preset", required=True)
    sub.add_argument("--format", default="saved_model,tflite",
                     help="comma-separated: saved_model, tflite, tflite_float16, tflite_dynamic, "
                          "tflite_int8, onnx")
    sub.add_argument("--out", required=True)
    sub.add_argument("--overwrite", action="store_true")
    sub.add_argument("--dataset", default=None, help="representative data for int8")
    sub.add_argument("--data-dir", default=None)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    _quiet_tensorflow(args.verbose)
    try:
        args.function(args)
    except KeyboardInterrupt:
        print("keras-cvae: interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, FileExistsError, KeyError, OSError) as error:
        if args.verbose:
            raise
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"keras-cvae {args.command}: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
