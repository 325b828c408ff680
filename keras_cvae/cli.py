"""`keras-cvae`: train, evaluate, sample, reconstruct and export from the command line.

Every sub-command is a thin shell over a library function; errors are one line
that names the flags (add `--verbose` for the traceback) and exit with status
2. The console script is `keras_cvae_cli.main`, which parses before the
package (and TensorFlow) loads; the top of this module is pure Python.
"""

import argparse
import os
import re
import shlex
import sys

from keras_cvae import validation
from keras_cvae._quiet_start import ONEDNN_VARIABLE
from keras_cvae._quiet_start import silenced_stderr


def _start_tensorflow(verbose, initialize_package=None):
    """Loads the package and TensorFlow, without TensorFlow's logs unless `--verbose`.

    Hides TensorFlow's start-up lines (CUDA probing, CPU features) and its
    C++ and Python logs below ERROR; `--verbose` shows them all, and a
    `TF_CPP_MIN_LOG_LEVEL` in the environment wins.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "3")
    if not verbose:
        os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
        import warnings

        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
    # Some lines are written before absl's logging starts, whatever the level.
    with silenced_stderr(not verbose):
        if initialize_package is not None:
            initialize_package()
        import tensorflow as tf
    if not verbose:
        tf.get_logger().setLevel("ERROR")
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)


def _keep_onednn_off_if_mirrored(strategy):
    """Keeps TensorFlow's oneDNN CPU kernels off for `--strategy mirrored`, unless told otherwise.

    `import keras_cvae` turns them on (`TF_ENABLE_ONEDNN_OPTS=1`) unless the
    environment says otherwise. `mirrored` on a CPU-only machine splits the
    CPU into logical devices, and there TensorFlow 2.21's oneDNN graph rewrite
    feeds a replica's convolution the wrong tensor ("input depth must be
    evenly divisible by filter depth"): this sets `TF_ENABLE_ONEDNN_OPTS=0`
    first. Must run before TensorFlow is imported; `TF_ENABLE_ONEDNN_OPTS` in
    the environment wins.
    """
    if strategy == "mirrored":
        os.environ.setdefault(ONEDNN_VARIABLE, "0")


def _number(kind, **bounds):
    """An argparse type: `kind` (int or float) within `bounds` (`keras_cvae.validation`'s)."""
    check = validation.check_int if kind is int else validation.check_number
    expected = (validation.describe_int if kind is int else validation.describe_number)(**bounds)

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}. Received: {text!r}") from None
        try:
            return check("value", value, **bounds)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}. Received: {text}") from None

    parse.__name__ = kind.__name__
    return parse


_positive_int = _number(int, minimum=1)
_non_negative_int = _number(int, minimum=0)
_positive_float = _number(float, minimum=0, minimum_inclusive=False)
_non_negative_float = _number(float, minimum=0)
_rate = _number(float, minimum=0, maximum=1, maximum_inclusive=False)
_temperature = _number(float, minimum=0, maximum=validation.MAX_TEMPERATURE)
_seed = _number(int, minimum=validation.SEED_RANGE[0], maximum=validation.SEED_RANGE[1])
# Training seeds NumPy and scikit-learn too (`keras.utils.set_random_seed`, the mixture prior).
_training_seed = _number(int, minimum=validation.NUMPY_SEED_RANGE[0],
                         maximum=validation.NUMPY_SEED_RANGE[1])


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line: `keras-cvae train: error: argument --epochs: ...`."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _load(preset, load_weights=True):
    import keras_cvae

    return keras_cvae.VAE.from_preset(preset, load_weights=load_weights)


def _preset_dataset(preset, dataset):
    """`dataset`, or the dataset recorded in the preset's metadata."""
    if dataset:
        return dataset
    from keras_cvae.zoo.preset_lookup import read_metadata
    from keras_cvae.zoo.preset_lookup import recorded_dataset

    return recorded_dataset(read_metadata(preset)) or "digits"


def _print_json(results, path=None, overwrite=False):
    from keras_cvae.utils.json_file import to_json
    from keras_cvae.utils.json_file import write_json

    print(to_json(results), end="")
    if path:
        write_json(path, results, overwrite=overwrite)


def _check_output_file(args):
    """Refuses, before anything loads, an existing output file (`--out`, `--json`) without `--overwrite`."""
    flag = getattr(args, "output_flag", None)
    if flag and getattr(args, flag):
        from keras_cvae.utils.atomic_write import check_destination

        check_destination(getattr(args, flag), args.overwrite, name=flag)


# === Sub-commands ===


def presets(args):
    from keras_cvae.utils.text_table import format_table
    from keras_cvae.zoo import list_presets
    from keras_cvae.zoo import read_metadata

    rows = [("name", "architecture", "input", "params", "dataset", "weights", "test bits/dim")]
    for name, entry in list_presets().items():
        bits = (read_metadata(name).get("metrics") or {}).get("bits_per_dim")
        params = entry.get("parameter_count")
        rows.append((
            name,
            entry["architecture"],
            "×".join(map(str, entry["input_shape"])),
            f"{params:,}" if params else "—",
            entry["dataset"],
            "yes" if entry["pretrained"] else "no (train it)",
            f"{bits:.3f}" if bits is not None else "—",
        ))
    print(format_table(rows))


def _resize(args):
    """`--resize` / `--no-resize`, else as the preset was trained (its recipe or metadata.json)."""
    if args.resize is not None:
        return args.resize
    from keras_cvae.training.training_config import preset_defaults

    return bool(preset_defaults(args.preset)["resize_images"])


def _load_split(args, model, split, batch_size, **kwargs):
    """A split of `--dataset` (default: the preset's), at the model's image size."""
    from keras_cvae import datasets

    return datasets.load(_preset_dataset(args.preset, args.dataset), split, batch_size=batch_size,
                         data_dir=args.data_dir, image_size=model.image_shape[:2],
                         channels=model.image_shape[-1], resize=_resize(args), **kwargs)


def evaluate(args):
    import keras_cvae
    from keras_cvae import datasets

    model = _load(args.preset)
    dataset_name = _preset_dataset(args.preset, args.dataset)
    data, info = _load_split(args, model, args.split, args.batch_size, with_info=True)
    data = datasets.as_array_if_small(data, info, model.image_shape)  # the progress bar knows the total
    results = keras_cvae.evaluate_density(
        model, data, intensity_levels=info.intensity_levels, num_samples=args.iw_samples,
        seed=args.seed, batch_size=args.batch_size, verbose=1,
    )
    results.update({"preset": args.preset, "dataset": dataset_name, "split": args.split})
    _print_json(results, args.json, overwrite=args.overwrite)


def sample(args):
    from keras_cvae.utils import image_grid
    from keras_cvae.utils import save_png

    model = _load(args.preset)
    images = model.sample(args.num, seed=args.seed, temperature=args.temperature,
                          add_noise=args.add_noise, prior=args.prior)
    save_png(args.out, image_grid(images, columns=args.columns, scale=args.scale),
             overwrite=args.overwrite)
    print(f"Wrote {args.num} samples to {args.out}")


def reconstruct(args):
    import numpy as np

    from keras_cvae.utils import image_grid
    from keras_cvae.utils import save_png

    model = _load(args.preset)
    images = next(iter(_load_split(args, model, args.split, args.num))).numpy()
    recon = np.asarray(model.reconstruct(images))
    grid = image_grid(np.concatenate([images, recon]), columns=len(images), scale=args.scale)
    save_png(args.out, grid, overwrite=args.overwrite)
    print(f"Wrote {len(images)} inputs (top) and reconstructions (bottom) to {args.out}")


def interpolate(args):
    import numpy as np

    from keras_cvae.utils import image_grid
    from keras_cvae.utils import save_png

    model = _load(args.preset)
    images = next(iter(_load_split(args, model, args.split, 2 * args.num_pairs))).numpy()
    if len(images) < 2:
        raise ValueError(f"The {args.split} split has fewer than 2 images to interpolate between.")
    pairs = len(images) // 2
    path = np.asarray(model.interpolate(images[:pairs], images[pairs:2 * pairs],
                                        num_steps=args.num_steps, path=args.path))
    save_png(args.out, image_grid(path.reshape(-1, *model.image_shape), columns=args.num_steps,
                                  scale=args.scale), overwrite=args.overwrite)
    print(f"Wrote {pairs} {args.path} interpolations of {args.num_steps} steps (one per row) "
          f"to {args.out}")


def export(args):
    from keras_cvae.export import export_all
    from keras_cvae.export.manifest import check_replaceable
    from keras_cvae.utils.atomic_write import check_destination

    # A refused --out fails at once, not after the preset and data load.
    check_destination(args.out, args.overwrite, is_dir=True, name="out")
    check_replaceable(args.out, args.overwrite)
    model = _load(args.preset)
    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    quantizations = [None if q.strip() == "float32" else q.strip()
                     for q in args.quantize.split(",") if q.strip()]
    # Training images: int8 calibration, and what the report compares and times on.
    data = _load_split(args, model, "train", 100)
    with silenced_stderr(not args.verbose):  # the TFLite converter's and interpreter's logs
        paths = export_all(model, args.out, formats=formats, quantizations=quantizations,
                           representative_data=next(iter(data)).numpy(), overwrite=args.overwrite)
    print(f"Exported {', '.join(sorted(paths))} to {args.out}")


# `train` flags that say where the run goes and how it is shown, not what it trains,
# with the number of values each takes: left out of the command a preset records.
_PLACEMENT_FLAGS = {"--out": 1, "--overwrite": 0, "--verbose": 0}


def _training_command(argv):
    """The `keras-cvae train ...` command a trained preset records: `argv` without placement flags.

    Its model card says "Reproduce: <command>", so the run folder, `--overwrite`
    and `--verbose` of the run that wrote it are left out.
    """
    kept, values_to_skip = [], 0
    for arg in argv:
        if values_to_skip:
            values_to_skip -= 1
            continue
        flag = arg.split("=", 1)[0]
        if flag in _PLACEMENT_FLAGS:
            values_to_skip = 0 if "=" in arg else _PLACEMENT_FLAGS[flag]
            continue
        kept.append(arg)
    return "keras-cvae " + shlex.join(kept)


def train(args):
    from keras_cvae import training
    from keras_cvae.training import run_folder
    from keras_cvae.training.training_config import DEFAULT_PRESET

    named = args.preset or args.dataset or DEFAULT_PRESET
    run_dir = args.out or os.path.join("runs", os.path.basename(os.path.normpath(named)))
    preset_dir = args.preset_dir or os.path.join(run_dir, "preset")
    # The lecture's hyper-parameters; the KL warm-up comes in epochs (--warmup), not steps.
    overrides = {key: getattr(args, key) for key in training.OVERRIDES
                 if getattr(args, key) is not None}
    config = training.TrainingConfig(
        args.preset, dataset=args.dataset, data_dir=args.data_dir, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, warmup_epochs=args.warmup,
        augment_shift=args.augment_shift, seed=args.seed, num_samples=args.iw_samples,
        prior_components=args.prior_components,
        overrides=overrides, strategy=args.strategy, resize_images=args.resize,
        jit_compile=args.jit_compile, mixed_precision=_mixed_precision(args.mixed_precision))
    metadata = training.train(config, preset_dir, run_dir=run_dir, overwrite=args.overwrite,
                              command=_training_command(getattr(args, "argv", sys.argv[1:])))
    if metadata is None:  # a non-chief worker: the chief writes the run
        return
    metrics = metadata["metrics"]
    samples = os.path.join(run_dir, run_folder.SAMPLES_DIR)
    last_grid = os.path.join(samples, f"samples_epoch_{metadata['training']['epochs']:03d}.png")
    print(
        "\nTest split" + _metrics_line(metrics, metrics["num_samples"])
        + ("\n  under N(0, I)" + _metrics_line(metrics["standard_prior"], metrics["num_samples"])
           if "standard_prior" in metrics else "")
        + f"\n  samples:     {last_grid} (one per epoch in {samples}/), "
        f"{os.path.join(preset_dir, 'samples.png')}"
        f"\n  preset:      {preset_dir}   (keras-cvae sample --preset {preset_dir} --out grid.png)"
        f"\n  metrics:     {os.path.join(run_dir, run_folder.METRICS_FILE)}"
        f"\n  tensorboard: tensorboard --logdir {os.path.join(run_dir, run_folder.LOG_DIR)}"
    )


def _metrics_line(metrics, num_samples):
    prior = " (fitted prior)" if "standard_prior" in metrics else ""
    bits = metrics.get("bits_per_dim")
    return (f"{prior}: negative ELBO {metrics['negative_elbo_nats']:.2f} nats, "
            f"NLL (K={num_samples}) {metrics['nll_nats']:.2f} nats"
            + (f", {bits:.3f} bits/dim" if bits is not None else ""))


def _mixed_precision(policy):
    """`--mixed-precision` alone: float16 on a GPU, bfloat16 otherwise."""
    if policy != "auto":
        return policy
    import tensorflow as tf

    return "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"


# === Parser ===

_PRESET_HELP = "a registered preset name (see `keras-cvae presets`) or a preset folder"
_DATA_DIR_HELP = ("the TFDS data folder: prepared datasets, and the embedded ones once "
                  "prepared (default: $KERAS_CVAE_DATA_DIR, else "
                  "~/.cache/keras_cvae/tensorflow_datasets; TFDS datasets also in TFDS's own)")


def build_parser():
    """The `keras-cvae` argument parser: one sub-command per task."""
    parser = _Parser(
        prog="keras-cvae", description="Convolutional VAEs for Keras: train, evaluate, sample, export."
    )
    parser.add_argument("--verbose", action="store_true",
                        help="show tracebacks and TensorFlow's logs (default: one-line errors, "
                             "TensorFlow quiet)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name, function, help):
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(function=function, command_parser=sub)
        sub.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="show tracebacks and TensorFlow's logs (default: one-line errors, "
                              "TensorFlow quiet)")
        return sub

    command("presets", presets, "list the model zoo")
    _add_train_arguments(command("train", train, "train a preset (default: digits_basic on the "
                                                 "embedded digits)"))
    _add_evaluate_arguments(command("evaluate", evaluate,
                                    "negative ELBO, importance-weighted NLL and bits/dim"))
    _add_sample_arguments(command("sample", sample, "draw samples into a PNG grid"))
    _add_reconstruct_arguments(command("reconstruct", reconstruct,
                                       "inputs (top row) and reconstructions (bottom row)"))
    _add_interpolate_arguments(command(
        "interpolate", interpolate, "decode paths between the codes of pairs of images"))
    _add_export_arguments(command("export", export,
                                  "SavedModel, TFLite and ONNX artifacts with a report"))
    return parser


_TRAIN_PRESET_HELP = (
    "registered name or preset folder: the architecture, trained from scratch and built for the "
    "dataset's image size and channels (default: the dataset's preset; for a folder, "
    "mnist5k_basic's network for grayscale images, photo_patches_bottleneck's for colour; without "
    "--dataset, digits_basic)")


def _add_train_arguments(sub):
    sub.add_argument("--preset", default=None, help=_TRAIN_PRESET_HELP)
    sub.add_argument("--dataset", default=None,
                     help="an embedded dataset (digits, mnist5k, photo_patches), a prepared TFDS "
                          "name, or a folder of images, trained at its own size (default: the "
                          "preset's)")
    _add_image_source_arguments(sub)
    sub.add_argument("--epochs", type=_positive_int, default=None,
                     help="passes over the training split (default: the preset's; 40 for "
                          "digits_basic, about 5 minutes on 2 cores)")
    sub.add_argument("--batch-size", type=_positive_int, default=None,
                     help="B, the global batch (default: the preset's)")
    sub.add_argument("--learning-rate", type=_positive_float, default=None,
                     help="Adam's, cosine-decayed to 0 (default: the preset's)")
    sub.add_argument("--augment-shift", type=_non_negative_int, default=None, metavar="PIXELS",
                     help="translate each training image by a random (dy, dx) in [-PIXELS, "
                          "PIXELS]², fresh every epoch, zero-filled (default: the preset's, 0 for "
                          "most)")
    sub.add_argument("--strategy", default="auto",
                     choices=("auto", "one_device", "mirrored", "multi_worker", "tpu"),
                     help="tf.distribute strategy (default: auto)")
    sub.add_argument("--jit-compile", action="store_true",
                     help="compile the train step with XLA (default: off)")
    sub.add_argument("--mixed-precision", nargs="?", const="auto", default="float32",
                     choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"),
                     help="16-bit compute (alone: float16 on GPU, bfloat16 otherwise; "
                          "default: float32)")
    sub.add_argument("--out", default=None, metavar="RUN_DIR",
                     help="run folder (default: runs/<preset>); rerun to resume")
    sub.add_argument("--preset-dir", default=None, metavar="DIR",
                     help="where the trained preset is written (default: RUN_DIR/preset)")
    sub.add_argument("--overwrite", action="store_true",
                     help="discard RUN_DIR and start afresh (default: resume a run with the same "
                          "arguments, refuse another)")
    sub.add_argument("--seed", type=_training_seed, default=None,
                     help="seeds initialisation, shuffling, noise and evaluation, an integer in "
                          "[0, 2**32 - 1] "
                          "(default: the preset's, 0 for most)")
    sub.add_argument("--iw-samples", type=_positive_int, default=100,
                     help="K of the final importance-weighted NLL (default: 100)")
    sub.add_argument("--prior-components", type=_non_negative_int, default=None, metavar="K",
                     help="after training, fit a K-component Gaussian mixture prior to the "
                          "training codes; 0 keeps N(0, I) (default: the preset's, 10 for most)")
    hyper = sub.add_argument_group("hyper-parameters (default: the preset's)")
    hyper.add_argument("--channels", type=_positive_int, metavar="C", help="block width C")
    hyper.add_argument("--bottleneck-channels", type=_positive_int, metavar="D",
                       help="bottleneck width D")
    hyper.add_argument("--kernel-size", type=_positive_int, metavar="k", help="kernel size k")
    hyper.add_argument("--depth", type=_positive_int, metavar="L", help="residual blocks L")
    hyper.add_argument("--dropout", dest="dropout_rate", type=_rate, metavar="RATE",
                       help="dropout rate in [0, 1)")
    hyper.add_argument("--l2", type=_non_negative_float, help="L2 weight penalty")
    hyper.add_argument("--latent-dim", type=_positive_int, metavar="Z", help="latent dimension Z")
    hyper.add_argument("--beta", type=_non_negative_float, help="weight of the KL term")
    hyper.add_argument("--warmup", type=_non_negative_float, metavar="EPOCHS",
                       help="linear KL warm-up from 0 over this many epochs")


def _add_image_source_arguments(sub):
    """`--data-dir` and `--resize`: where datasets are prepared, and what to do with other sizes."""
    sub.add_argument("--data-dir", default=None, metavar="DIR", help=_DATA_DIR_HELP)
    sub.add_argument("--resize", action=argparse.BooleanOptionalAction, default=None,
                     help="center-crop and resize the images to the preset's input size and "
                          "channels; without it `train` builds the preset's network for the "
                          "images' own size and the other commands refuse another size, naming "
                          "both (default: as the preset was trained: no, except for "
                          "celeba64_basic)")


def _add_data_arguments(sub):
    sub.add_argument("--preset", required=True, help=_PRESET_HELP)
    sub.add_argument("--dataset", default=None,
                     help="digits, a prepared TFDS name, or a folder of images "
                          "(default: the preset's dataset)")
    _add_image_source_arguments(sub)
    sub.add_argument("--split", default="test",
                     help="the split to read: train, test, or TFDS slicing such as 'test[:10%%]' "
                          "(default: test)")


def _add_evaluate_arguments(sub):
    _add_data_arguments(sub)
    sub.add_argument("--iw-samples", type=_positive_int, default=1000, metavar="K",
                     help="importance samples per image of the NLL (default: 1000)")
    sub.add_argument("--batch-size", type=_positive_int, default=64,
                     help="images per batch (default: 64)")
    sub.add_argument("--seed", type=_seed, default=0,
                     help="seeds the posterior and importance samples, a 64-bit integer "
                          "(default: 0)")
    sub.add_argument("--json", default=None, metavar="PATH",
                     help="also write the results to this JSON file (default: print only)")
    _add_overwrite_file_argument(sub, "json")


def _add_sample_arguments(sub):
    sub.add_argument("--preset", required=True, help=_PRESET_HELP)
    sub.add_argument("--num", type=_positive_int, default=64,
                     help="number of samples (default: 64)")
    sub.add_argument("--temperature", type=_temperature, default=1.0,
                     help="scale of the prior's noise, in [0, 1000] (default: 1.0)")
    sub.add_argument("--seed", type=_seed, default=None,
                     help="seeds the draw, a 64-bit integer, for the same grid every time "
                          "(default: a fresh draw)")
    sub.add_argument("--add-noise", action="store_true",
                     help="add the decoder noise σ·η (default: the decoder mean g(z))")
    sub.add_argument("--prior", default="model", choices=("model", "fitted", "standard"),
                     help="the model's prior (the fitted mixture, if any), the fitted one "
                          "(an error without one) or N(0, I) (default: model)")
    sub.add_argument("--columns", type=_positive_int, default=None,
                     help="images per row of the grid (default: a square grid)")
    _add_png_arguments(sub)


def _add_png_arguments(sub):
    sub.add_argument("--scale", type=_positive_int, default=4, help="pixel enlargement (default: 4)")
    sub.add_argument("--out", required=True, help="the PNG file to write")
    _add_overwrite_file_argument(sub, "out")


def _add_overwrite_file_argument(sub, flag):
    """`--overwrite` for the file of `--FLAG`, checked before anything loads (`_check_output_file`)."""
    sub.set_defaults(output_flag=flag)
    sub.add_argument("--overwrite", action="store_true",
                     help=f"replace an existing --{flag} file (default: refuse)")


def _add_reconstruct_arguments(sub):
    _add_data_arguments(sub)
    sub.add_argument("--num", type=_positive_int, default=16,
                     help="images to reconstruct, the first of the split (default: 16)")
    _add_png_arguments(sub)


def _add_interpolate_arguments(sub):
    _add_data_arguments(sub)
    sub.add_argument("--num-pairs", type=_positive_int, default=8,
                     help="pairs of images, one row each (default: 8)")
    sub.add_argument("--num-steps", type=_number(int, minimum=2), default=10,
                     help="images per row, both ends included (default: 10)")
    sub.add_argument("--path", default="linear", choices=("linear", "spherical"),
                     help="straight line, or along the great circle (default: linear)")
    _add_png_arguments(sub)


def _add_export_arguments(sub):
    sub.add_argument("--preset", required=True, help=_PRESET_HELP)
    sub.add_argument("--format", default="saved_model,tflite",
                     help="comma-separated: saved_model, tflite, onnx (default: saved_model,tflite)")
    sub.add_argument("--quantize", default="float32,float16,dynamic,int8",
                     help="comma-separated TFLite variants (default: all four, "
                          "float32,float16,dynamic,int8)")
    sub.add_argument("--out", required=True, help="the export folder")
    sub.add_argument("--overwrite", action="store_true",
                     help="replace an earlier export folder, never a folder of other files "
                          "(default: refuse any existing --out)")
    sub.add_argument("--dataset", default=None,
                     help="training images for int8 calibration and the report "
                          "(default: the preset's)")
    _add_image_source_arguments(sub)


def main(argv=None, initialize_package=None):
    """Runs `keras-cvae` with `argv` (default: `sys.argv[1:]`); returns the exit status.

    Args:
        argv: list of str. The arguments after `keras-cvae`.
        initialize_package: callable. Runs `keras_cvae/__init__.py`, which the
            console script (`keras_cvae_cli`) defers until the arguments are
            parsed; called before a command that needs TensorFlow. Defaults
            to `None`: the package is imported already.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # what `train` records as its command
    try:
        if getattr(args, "preset", None):
            from keras_cvae.zoo import resolve_preset

            resolve_preset(args.preset)  # an unknown name fails before TensorFlow loads
        _check_output_file(args)
        if args.function is train:
            _keep_onednn_off_if_mirrored(args.strategy)
        if args.function is not presets:
            _start_tensorflow(args.verbose, initialize_package)
        args.function(args)
    except KeyboardInterrupt:
        print("keras-cvae: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if args.verbose:
            raise
        print(f"keras-cvae {args.command}: error: {_error_line(error, args)}", file=sys.stderr)
        return 2
    return 0


# === Errors ===

# Library argument names whose flag is named otherwise, for every command ("*") or one.
_LIBRARY_NAMES = {
    "*": {"name": "dataset", "num_samples": "iw_samples", "warmup_epochs": "warmup",
          "run_dir": "out"},
    "sample": {"num_samples": "num"},
    "train": {"directory": "preset_dir"},
    "export": {"out_dir": "out", "path": "out", "formats": "format", "quantizations": "quantize"},
}
_VALUE = r"\([^()]*\)|\[[^\[\]]*\]|'[^']*'|\"[^\"]*\"|[^\s,;()`]*[^\s,;()`.]"
_ASSIGNMENT = re.compile(rf"(?<![\w.$-])([a-z][a-z0-9_]*)=({_VALUE})")
_CODE = re.compile(r"(`[^`]*`)")
# "--flag (--flag)" or "`--flag` (`--flag` on the command line)", left by the translation.
_REPEATED = re.compile(r"(`?)(--[a-z0-9-]+)\1 \(\1?\2\1?(?: on the command line)?\)")


def _error_line(error, args):
    """The one line printed for `error`: its message with flag names, and its type if unexpected."""
    message = _flag_names(" ".join(str(error).split()), _command_flags(args))
    message = message or type(error).__name__
    if isinstance(error, ImportError) or not isinstance(error, (ValueError, OSError, KeyError)):
        message = f"{type(error).__name__}: {message} (rerun with --verbose for the traceback)"
    return message


def _command_flags(args):
    """`{library argument name: (flag, is_switch)}` of the command that ran."""
    flags = {}
    for action in args.command_parser._actions:
        options = [option for option in action.option_strings if option.startswith("--")]
        if options and action.dest != "help":
            flags[action.dest] = (options[0], action.nargs == 0)
    aliases = {**_LIBRARY_NAMES["*"], **_LIBRARY_NAMES.get(args.command, {})}
    flags.update({name: flags[dest] for name, dest in aliases.items() if dest in flags})
    return flags


def _flag_names(message, flags):
    """`message` with the library's argument names written as the command's flags.

    `overwrite=True` becomes `--overwrite`, `data_dir=DIR` `--data-dir DIR`,
    `` `image_size` `` `` `--image-size` ``. A code span holding more than one
    name or assignment (a Python call) is left as it is.
    """
    parts = _CODE.split(message)
    for index, part in enumerate(parts):
        if _CODE.fullmatch(part):
            inner = part[1:-1]
            match = _ASSIGNMENT.fullmatch(inner)
            if match:
                inner = _as_flag(*match.groups(), flags) or inner
            elif inner in flags:
                inner = flags[inner][0]
            parts[index] = f"`{inner}`"
        else:
            parts[index] = _ASSIGNMENT.sub(
                lambda match: _as_flag(*match.groups(), flags) or match.group(0), part)
    return _REPEATED.sub(r"\1\2\1", "".join(parts))


def _as_flag(name, value, flags):
    """`name=value` as a flag (`--name value`, `--name`, `no --name`); None if no flag is `name`."""
    if name not in flags:
        return None
    flag, is_switch = flags[name]
    if is_switch:
        return flag if value == "True" else f"no {flag}"
    if value == "None":
        return f"no {flag}"
    if re.fullmatch(r"'[^'\s]*'|\"[^\"\s]*\"", value):
        value = value[1:-1]
    return f"{flag} {value}"


if __name__ == "__main__":
    sys.exit(main())
