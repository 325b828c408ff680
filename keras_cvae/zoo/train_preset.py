"""Training a preset end to end: `python -m keras_cvae.zoo.train_preset NAME` and `keras-cvae train`.

Trains on uniformly dequantized images (fresh noise every epoch), under any
`tf.distribute` strategy, stores full-dataset BatchNorm statistics, evaluates
the test split (negative ELBO, importance-weighted NLL, bits/dim), and writes
the preset folder with its metadata, model card and sample images. Given a
`run_dir`, the run also logs to TensorBoard, writes a sample grid per epoch,
backs up after every epoch (running the same call again resumes) and ends by
writing `metrics.json`.
"""

import argparse
import copy
import json
import math
import os
import shutil
import sys
import time

import keras
import tensorflow as tf

from keras_cvae import datasets
from keras_cvae import distribute
from keras_cvae.models.batchnorm_recalibration import recalibrate_batchnorm
from keras_cvae.models.density_evaluation import evaluate_density
from keras_cvae.models.gaussian_decoder import GaussianDecoder
from keras_cvae.models.gaussian_encoder import GaussianEncoder
from keras_cvae.models.training_options import recommended_steps_per_execution
from keras_cvae.models.vae import VAE
from keras_cvae.utils import ImageLogger
from keras_cvae.utils import atomic_write_bytes
from keras_cvae.zoo import registry
from keras_cvae.zoo.model_card import model_card_files
from keras_cvae.zoo.preset_io import from_preset
from keras_cvae.zoo.preset_io import save_to_preset
from keras_cvae.zoo.preset_lookup import read_metadata
from keras_cvae.zoo.preset_lookup import recorded_dataset

# A cheap, fixed-seed evaluation recorded for the tests (`tests/zoo`).
CHECK_NUM_SAMPLES = 16
CHECK_SEED = 0

# Hyper-parameters that `overrides` may set: the lecture's C, D, k, L, dropout
# and l2 (every block of both convnets), Z, and the VAE's β and warm-up.
CONV_NET_OVERRIDES = ("channels", "bottleneck_channels", "kernel_size", "depth", "dropout_rate", "l2")
ENCODER_OVERRIDES = ("latent_dim",)
VAE_OVERRIDES = ("beta", "kl_warmup_steps")

# What a run folder holds besides the preset (`run_dir/preset` from the CLI).
RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
BACKUP_DIR = "backup"
LOG_DIR = "logs"
SAMPLES_DIR = "samples"


def build_preset_model(preset, seed=0):
    """A freshly initialised `keras_cvae.VAE` for a registered `Preset` (or its name)."""
    spec = registry.get_preset(preset) if isinstance(preset, str) else preset
    keras.utils.set_random_seed(seed)
    arguments = spec.vae_arguments()
    return VAE(
        encoder=GaussianEncoder(**arguments["encoder"]),
        decoder=GaussianDecoder(**arguments["decoder"]),
        seed=seed,
        name="vae",
    )


def train_preset(
    preset,
    output_dir,
    epochs=None,
    batch_size=None,
    learning_rate=None,
    seed=0,
    num_samples=1000,
    overwrite=False,
    command=None,
    verbose=1,
    dataset=None,
    data_dir=None,
    overrides=None,
    warmup_epochs=None,
    strategy=None,
    jit_compile=False,
    mixed_precision="float32",
    run_dir=None,
    check_metrics=True,
):
    """Trains a preset and writes it, with metrics, model card and images, to `output_dir`.

    Args:
        preset: str or `keras_cvae.zoo.Preset`. A registered name, a spec, or
            a preset folder (its architecture is trained from scratch).
        output_dir: str. The preset folder to write.
        epochs, batch_size, learning_rate: Override the preset's defaults.
            `batch_size` is the global batch, over all replicas. The learning
            rate decays to 0 on a cosine schedule.
        seed: int. Seeds initialisation, shuffling, noise and evaluation.
        num_samples: int. `K` of the test NLL. Defaults to `1000`.
        overwrite: bool. Replace an existing `output_dir` (and start the run
            in `run_dir` afresh). Defaults to `False`.
        command: str. The command recorded in the metadata. Defaults to a
            description of this call.
        verbose: int. Keras verbosity. Defaults to `1`.
        dataset: str. A `keras_cvae.datasets.load` name or image folder,
            resized to the preset's input shape. Defaults to the preset's
            dataset. The `"train"` split trains, `"test"` evaluates.
        data_dir: str. TFDS data directory. Defaults to `None`.
        overrides: dict. Hyper-parameters replacing the preset's: the ConvNet's
            `channels`, `bottleneck_channels`, `kernel_size`, `depth`,
            `dropout_rate`, `l2`; the encoder's `latent_dim`; the VAE's `beta`
            and `kl_warmup_steps`. Defaults to `None`.
        warmup_epochs: float. Linear KL warm-up over this many epochs (sets
            `kl_warmup_steps`). Defaults to the preset's (`None` for a folder).
        strategy: str or `tf.distribute.Strategy`. See
            `keras_cvae.distribute.get_strategy`. With several replicas the
            BatchNorms are synchronized. Defaults to the current strategy.
        jit_compile: bool. Compile the train step with XLA. Defaults to `False`.
        mixed_precision: str. A `keras_cvae.distribute.PRECISIONS` policy for
            training; the preset is saved in float32. Defaults to `"float32"`.
        run_dir: str. With it, TensorBoard logs go to `run_dir/logs`, a sample
            grid (and reconstructions) per epoch to `run_dir/samples`, a backup
            after every epoch to `run_dir/backup`, and the test metrics to
            `run_dir/metrics.json` at the end. Called again with the same
            arguments, the run resumes from its backup (or, finished, only
            returns its metadata). Defaults to `None`.
        check_metrics: bool. Also record a quick fixed-seed evaluation
            (`CHECK_NUM_SAMPLES`) that the zoo's tests reproduce. Defaults to
            `True`.

    Returns:
        The written `metadata.json`, as a dict (`None` on a non-chief worker).
    """
    name, base_model, defaults = _preset_source(preset, output_dir)
    epochs = epochs or defaults["epochs"]
    batch_size = batch_size or defaults["batch_size"]
    learning_rate = learning_rate or defaults["learning_rate"]
    if warmup_epochs is None:
        warmup_epochs = defaults.get("warmup_epochs")
    dataset = dataset or defaults["dataset"]
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(CONV_NET_OVERRIDES + ENCODER_OVERRIDES + VAE_OVERRIDES)
    if unknown:
        raise ValueError(
            f"Unknown hyper-parameters in `overrides`: {sorted(unknown)}. Expected some of "
            f"{CONV_NET_OVERRIDES + ENCODER_OVERRIDES + VAE_OVERRIDES}. Received: overrides={overrides}"
        )
    if run_dir is not None:
        arguments = {
            "preset": preset if isinstance(preset, str) else name, "dataset": dataset, "epochs": epochs,
            "batch_size": batch_size, "learning_rate": learning_rate, "seed": seed,
            "overrides": overrides, "warmup_epochs": warmup_epochs, "jit_compile": jit_compile,
            "strategy": strategy if isinstance(strategy, (str, type(None))) else type(strategy).__name__,
            "mixed_precision": mixed_precision, "output_dir": os.path.abspath(output_dir),
        }
        finished = _start_run(run_dir, arguments, overwrite, output_dir)
        if finished is not None:
            if verbose:
                print(f"The run in {run_dir} has finished already: nothing to train "
                      "(overwrite=True, --overwrite, starts it afresh).")
            return finished

    previous_policy = keras.mixed_precision.global_policy()
    strategy = distribute.configure(strategy or tf.distribute.get_strategy(), mixed_precision)
    try:
        shape = base_model.image_shape
        load = {"data_dir": data_dir, "image_size": shape[:2], "channels": shape[-1]}
        tpu = isinstance(strategy, tf.distribute.TPUStrategy)
        train_data, train_info = datasets.load(
            dataset, "train", batch_size=batch_size, dequantize=True, shuffle=True, seed=seed,
            drop_remainder=tpu, with_info=True, **load)
        levels = train_info.intensity_levels or defaults["intensity_levels"]
        steps_per_epoch = _steps_per_epoch(train_data, train_info, batch_size, tpu)
        if warmup_epochs:
            overrides["kl_warmup_steps"] = math.ceil(warmup_epochs * steps_per_epoch)
        replicas = strategy.num_replicas_in_sync
        config = _with_overrides(base_model, overrides, seed, synchronized=replicas > 1)
        with strategy.scope():
            keras.utils.set_random_seed(seed)
            model = keras.saving.deserialize_keras_object(config)
            schedule = keras.optimizers.schedules.CosineDecay(learning_rate, epochs * steps_per_epoch)
            model.compile(optimizer=keras.optimizers.Adam(schedule), jit_compile=jit_compile,
                          steps_per_execution=recommended_steps_per_execution(shape))
        test_data, test_info = datasets.load(dataset, "test", batch_size=64, with_info=True, **load)
        test_images = next(iter(test_data.unbatch().batch(32))).numpy()
        validation = datasets.load(dataset, "test", batch_size=batch_size, dequantize=True,
                                   seed=seed, drop_remainder=tpu, **load)

        callbacks, initial_epoch = [], 0
        chief = strategy.extended.should_checkpoint
        if run_dir is not None:
            state = distribute.read_backup_state(os.path.join(run_dir, BACKUP_DIR))
            initial_epoch = state["epoch"] if state else 0
            if initial_epoch and verbose:
                print(f"Resuming from the backup of epoch {initial_epoch}/{epochs} in "
                      f"{os.path.join(run_dir, BACKUP_DIR)}", flush=True)
            if chief:
                log_dir = os.path.join(run_dir, LOG_DIR)
                callbacks += [
                    keras.callbacks.TensorBoard(log_dir),
                    ImageLogger(os.path.join(run_dir, SAMPLES_DIR), images=test_images[:8],
                                log_dir=log_dir, seed=seed),
                ]
            # Last: an epoch's backup is written after its logs and pictures.
            callbacks += distribute.resumable_callbacks(run_dir)
        start = time.time()
        model.fit(train_data, epochs=epochs, validation_data=validation, callbacks=callbacks,
                  verbose=verbose)
        train_seconds = time.time() - start
    finally:
        keras.mixed_precision.set_dtype_policy(previous_policy)
    if not chief:
        return None

    # Recalibrate, evaluate and save a one-device float32 copy.
    trained = keras.saving.deserialize_keras_object(
        _with_overrides(base_model, overrides, seed, synchronized=False))
    trained.set_weights(model.get_weights())
    recalibration_data = datasets.load(dataset, "train", batch_size=256, dequantize=True,
                                       seed=seed, **load)
    # One dequantized copy, so that every BatchNorm sees the same images (the
    # pipeline draws fresh noise on each pass); a large dataset stays a pipeline.
    recalibration_data = datasets.as_array_if_small(recalibration_data, train_info, shape)
    recalibrate_batchnorm(trained, recalibration_data, seed=seed)

    start = time.time()
    test_array = datasets.as_array_if_small(test_data, test_info, shape)  # a progress bar with a total
    metrics = evaluate_density(trained, test_array, intensity_levels=levels,
                               num_samples=num_samples, seed=seed, verbose=verbose)
    eval_seconds = time.time() - start
    metadata = {
        "preset": name,
        "description": defaults["description"],
        "intensity_levels": levels,
        "architecture": _architecture_summary(trained),
        "dataset": {"name": dataset if isinstance(dataset, str) else os.fspath(dataset),
                    "train_split": "train", "test_split": "test",
                    "num_train": train_info.num_examples, "num_test": test_info.num_examples,
                    "dequantization": "uniform, (v + u) / L; fresh u every epoch"},
        "training": {
            "command": command or f"keras_cvae.zoo.train_preset({name!r}, ..., seed={seed})",
            "seed": seed, "epochs": epochs, "batch_size": batch_size,
            "learning_rate": learning_rate, "schedule": "cosine decay to 0", "optimizer": "adam",
            "overrides": overrides,
            "strategy": type(strategy).__name__, "replicas": replicas,
            "jit_compile": jit_compile, "mixed_precision": mixed_precision,
            "resumed_from_epoch": initial_epoch,
            "batchnorm": "recalibrated on the full dequantized training split",
            "train_seconds": round(train_seconds, 1),
            "machine": f"{os.cpu_count()} CPU cores, TensorFlow {tf.__version__}",
        },
        "metrics": {
            "split": "test", "seed": seed, "num_samples": num_samples,
            "negative_elbo_nats": metrics["negative_elbo"], "nll_nats": metrics["nll"],
            "bits_per_dim": metrics.get("bits_per_dim"),
            "negative_elbo_bits_per_dim": metrics.get("negative_elbo_bits_per_dim"),
            "eval_seconds": round(eval_seconds, 1),
            "command": f"keras_cvae.evaluate_density(model, test_images, intensity_levels={levels}, "
                       f"num_samples={num_samples}, seed={seed})",
        },
    }
    if check_metrics:
        check = evaluate_density(trained, test_array, intensity_levels=levels,
                                 num_samples=CHECK_NUM_SAMPLES, seed=CHECK_SEED, verbose=0)
        metadata["check_metrics"] = {
            "split": "test", "seed": CHECK_SEED, "num_samples": CHECK_NUM_SAMPLES,
            "negative_elbo_nats": check["negative_elbo"], "nll_nats": check["nll"],
            "bits_per_dim": check.get("bits_per_dim"),
        }
    metadata["parameter_count"] = int(trained.count_params())
    metadata["input_shape"] = list(trained.image_shape)
    files = model_card_files(trained, metadata, test_images, seed=seed)
    metadata = save_to_preset(trained, output_dir, metadata=metadata,
                              overwrite=overwrite or run_dir is not None, files=files)
    if run_dir is not None:  # last: a run with metrics.json is finished
        _write_json(os.path.join(run_dir, METRICS_FILE), metadata["metrics"])
    return metadata


# === Presets and overrides ===


def _preset_source(preset, output_dir):
    """`(name, model, defaults)` of a registered name, a `Preset` or a preset folder."""
    if isinstance(preset, registry.Preset) or preset in registry.PRESETS:
        spec = registry.get_preset(preset) if isinstance(preset, str) else preset
        name = preset if isinstance(preset, str) else os.path.basename(os.fspath(output_dir))
        defaults = {"description": spec.description, "dataset": spec.dataset,
                    "intensity_levels": spec.intensity_levels, "epochs": spec.epochs,
                    "batch_size": spec.batch_size, "learning_rate": spec.learning_rate,
                    "warmup_epochs": spec.warmup_epochs}
        return name, build_preset_model(spec), defaults
    model = from_preset(preset, load_weights=False)  # a folder; otherwise lists the names
    metadata = read_metadata(preset)
    training = metadata.get("training") or {}
    defaults = {
        "description": metadata.get("description", f"Trained from {preset}."),
        "dataset": recorded_dataset(metadata),
        "intensity_levels": metadata.get("intensity_levels"),
        "epochs": training.get("epochs", 20), "batch_size": training.get("batch_size", 64),
        "learning_rate": training.get("learning_rate", 1e-3),
    }
    if not defaults["dataset"]:
        raise ValueError(f"The preset folder {preset} records no dataset: pass `dataset`.")
    return metadata.get("preset", os.path.basename(os.path.normpath(preset))), model, defaults


def _with_overrides(model, overrides, seed, synchronized):
    """The serialized `model` with hyper-parameters replaced, for `deserialize_keras_object`.

    Shapes (`build_config`) and dtype policies are dropped: they follow from
    the new hyper-parameters and the current dtype policy.
    """
    config = _without_keys(copy.deepcopy(keras.saving.serialize_keras_object(model)),
                           ("build_config", "compile_config", "dtype"))
    vae = config["config"]
    vae["seed"] = seed
    vae.update({key: overrides[key] for key in VAE_OVERRIDES if key in overrides})
    encoder = vae["encoder"]["config"]
    encoder.update({key: overrides[key] for key in ENCODER_OVERRIDES if key in overrides})
    for part in (encoder, vae["decoder"]["config"]):
        conv_net = part["conv_net"].get("config", part["conv_net"])
        conv_net.update({key: overrides[key] for key in CONV_NET_OVERRIDES if key in overrides})
        conv_net["synchronized"] = synchronized
    return config


def _without_keys(value, keys):
    if isinstance(value, dict):
        return {k: _without_keys(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without_keys(v, keys) for v in value]
    return value


def _architecture_summary(model):
    """The encoder and decoder hyper-parameters, as `Preset.vae_arguments()` gives them."""
    conv_net = model.encoder.conv_net
    net = {"block": conv_net.block, "depth": conv_net.depth, "channels": conv_net.channels,
           "kernel_size": conv_net.kernel_size}
    if conv_net.block == "bottleneck":
        net["bottleneck_channels"] = conv_net.bottleneck_channels
    if conv_net.dropout_rate:
        net["dropout_rate"] = conv_net.dropout_rate
    if conv_net.l2:
        net["l2"] = conv_net.l2
    summary = {
        "encoder": {"latent_dim": model.latent_dim, "conv_net": net,
                    "posterior": model.encoder.posterior},
        "decoder": {"image_shape": list(model.image_shape), "conv_net": net,
                    "decoder_scale": model.decoder.decoder_scale},
    }
    if model.beta != 1.0 or model.kl_warmup_steps:
        summary["beta"], summary["kl_warmup_steps"] = model.beta, model.kl_warmup_steps
    return summary


# === Data ===


def _steps_per_epoch(dataset, info, batch_size, drop_remainder):
    if info.num_examples is None:
        steps = int(dataset.cardinality())
        if steps < 0:
            raise ValueError(f"Cannot tell the size of dataset {info.name!r} (needed for the schedule).")
        return steps
    steps = info.num_examples // batch_size if drop_remainder else math.ceil(info.num_examples / batch_size)
    if steps < 1:
        raise ValueError(
            f"The batch size must not exceed the {info.num_examples} training images of "
            f"{info.name!r}. Received: batch_size={batch_size}"
        )
    return steps


# === Run folder ===


def _start_run(run_dir, arguments, overwrite, output_dir):
    """Checks or starts `run_dir`; returns the metadata of an identical finished run, else None."""
    run_file = os.path.join(run_dir, RUN_FILE)
    arguments = json.loads(json.dumps(arguments))  # as run.json records them
    if overwrite:
        # The previous preset stays until the new one replaces it (`save_to_preset` is
        # atomic): a run that fails keeps it.
        for child in (BACKUP_DIR, LOG_DIR, SAMPLES_DIR, METRICS_FILE, RUN_FILE):
            path = os.path.join(run_dir, child)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)
    elif os.path.exists(run_file):
        with open(run_file) as f:
            recorded = json.load(f)
        if recorded != arguments:
            changed = sorted(k for k in set(recorded) | set(arguments)
                             if recorded.get(k) != arguments.get(k))
            raise FileExistsError(
                f"The run folder {run_dir} holds a run with other arguments ({', '.join(changed)} "
                "differ): rerun the same command to resume it, pass overwrite=True "
                "(--overwrite) to start afresh, or choose another folder."
            )
        if os.path.exists(os.path.join(run_dir, METRICS_FILE)) and os.path.exists(output_dir):
            return read_metadata(output_dir)
    elif os.path.isdir(run_dir) and os.listdir(run_dir):
        raise FileExistsError(
            f"The run folder {run_dir} exists and is not a keras_cvae run (no {RUN_FILE}): "
            "pass overwrite=True (--overwrite) or choose another folder."
        )
    _write_json(run_file, arguments)
    return None


def _write_json(path, value):
    atomic_write_bytes(path, (json.dumps(value, indent=2) + "\n").encode())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", choices=sorted(registry.PRESETS))
    parser.add_argument("--output-dir", help="Defaults to the repository's zoo/<preset>.")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    output_dir = args.output_dir or os.path.join(
        os.path.dirname(__file__), os.pardir, os.pardir, "zoo", args.preset)
    command = "python -m keras_cvae.zoo.train_preset " + " ".join(argv if argv is not None else sys.argv[1:])
    metadata = train_preset(args.preset, output_dir, epochs=args.epochs, batch_size=args.batch_size,
                            learning_rate=args.learning_rate, seed=args.seed,
                            num_samples=args.num_samples, overwrite=args.overwrite, command=command)
    print({k: metadata["metrics"][k] for k in ("negative_elbo_nats", "nll_nats", "bits_per_dim")})


if __name__ == "__main__":
    main()
