"""Training a preset end to end: `python -m keras_cvae.zoo.train_preset NAME`.

Trains on uniformly dequantized images (fresh noise every epoch), stores
full-dataset BatchNorm statistics, evaluates the test split (negative ELBO,
importance-weighted NLL with K = 1000, bits/dim), and writes the preset
folder with its metadata, model card and sample images.
"""

import argparse
import math
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from keras_cvae.models.batchnorm_recalibration import recalibrate_batchnorm
from keras_cvae.models.density_evaluation import dequantize
from keras_cvae.models.density_evaluation import evaluate_density
from keras_cvae.models.gaussian_decoder import GaussianDecoder
from keras_cvae.models.gaussian_encoder import GaussianEncoder
from keras_cvae.models.vae import VAE
from keras_cvae.zoo import registry
from keras_cvae.zoo.model_card import model_card_files
from keras_cvae.zoo.preset_io import save_to_preset

# A cheap, fixed-seed evaluation recorded for the tests (`tests/zoo`).
CHECK_NUM_SAMPLES = 16
CHECK_SEED = 0


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
    train_images=None,
    test_images=None,
    num_samples=1000,
    overwrite=False,
    command=None,
    verbose=1,
):
    """Trains a preset and writes it, with metrics, model card and images, to `output_dir`.

    Args:
        preset: str or `keras_cvae.zoo.Preset`. A registered name or a spec.
        output_dir: str. The preset folder to write.
        epochs, batch_size, learning_rate: Override the preset's defaults.
            The learning rate decays to 0 on a cosine schedule.
        seed: int. Seeds initialisation, shuffling, noise and evaluation.
        train_images, test_images: arrays `v / (L − 1)` on the preset's grid
            of `L` intensity levels. Default: the embedded digits splits
            (first 1437 / last 360 of scikit-learn's digits) for a digits preset.
        num_samples: int. `K` of the test NLL. Defaults to `1000`.
        overwrite: bool. Replace an existing `output_dir`.
        command: str. The command recorded in the metadata. Defaults to this
            process's command line.
        verbose: int. Keras verbosity.

    Returns:
        The written `metadata.json`, as a dict.
    """
    spec = registry.get_preset(preset) if isinstance(preset, str) else preset
    name = preset if isinstance(preset, str) else os.path.basename(os.fspath(output_dir))
    epochs = epochs or spec.epochs
    batch_size = batch_size or spec.batch_size
    learning_rate = learning_rate or spec.learning_rate
    if train_images is None or test_images is None:
        if spec.dataset != "digits":
            raise ValueError(
                f"Preset {name!r} is for {spec.dataset!r}: pass `train_images` and `test_images` "
                f"(e.g. `keras-cvae train --preset {name} --dataset {spec.dataset}`)."
            )
        train_images, test_images = _digits_splits()
    levels = spec.intensity_levels
    train_images = np.asarray(train_images, "float32")
    test_images = np.asarray(test_images, "float32")

    model = build_preset_model(spec, seed)
    steps = epochs * math.ceil(len(train_images) / batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule))
    start = time.time()
    model.fit(_training_data(train_images, levels, batch_size, seed), epochs=epochs, verbose=verbose)
    train_seconds = time.time() - start
    recalibrate_batchnorm(model, _dequantized(train_images, levels, seed), seed=seed)

    start = time.time()
    metrics = evaluate_density(model, test_images, intensity_levels=levels,
                               num_samples=num_samples, seed=seed, verbose=verbose)
    eval_seconds = time.time() - start
    check = evaluate_density(model, test_images, intensity_levels=levels,
                             num_samples=CHECK_NUM_SAMPLES, seed=CHECK_SEED, verbose=0)
    metadata = {
        "preset": name,
        "description": spec.description,
        "intensity_levels": levels,
        "architecture": spec.vae_arguments(),
        "dataset": {"name": spec.dataset, "train_split": "train", "test_split": "test",
                    "num_train": len(train_images), "num_test": len(test_images),
                    "dequantization": "uniform, (v + u) / L; fresh u every epoch"},
        "training": {
            "command": command or f"keras_cvae.zoo.train_preset({name!r}, ..., seed={seed})",
            "seed": seed, "epochs": epochs, "batch_size": batch_size,
            "learning_rate": learning_rate, "schedule": "cosine decay to 0", "optimizer": "adam",
            "batchnorm": "recalibrated on the full dequantized training split",
            "train_seconds": round(train_seconds, 1),
            "machine": f"{os.cpu_count()} CPU cores, TensorFlow {tf.__version__}",
        },
        "metrics": {
            "split": "test", "seed": seed, "num_samples": num_samples,
            "negative_elbo_nats": metrics["negative_elbo"], "nll_nats": metrics["nll"],
            "bits_per_dim": metrics["bits_per_dim"],
            "negative_elbo_bits_per_dim": metrics["negative_elbo_bits_per_dim"],
            "eval_seconds": round(eval_seconds, 1),
            "command": f"keras_cvae.evaluate_density(model, test_images, intensity_levels={levels}, "
                       f"num_samples={num_samples}, seed={seed})",
        },
        "check_metrics": {
            "split": "test", "seed": CHECK_SEED, "num_samples": CHECK_NUM_SAMPLES,
            "negative_elbo_nats": check["negative_elbo"], "nll_nats": check["nll"],
            "bits_per_dim": check["bits_per_dim"],
        },
    }
    metadata["parameter_count"] = int(model.count_params())
    metadata["input_shape"] = list(model.image_shape)
    files = model_card_files(model, metadata, test_images, seed=seed)
    return save_to_preset(model, output_dir, metadata=metadata, overwrite=overwrite, files=files)


def _digits_splits():
    """The embedded digits: first 1437 images train, last 360 test, as `v / 16`."""
    from sklearn.datasets import load_digits

    images = load_digits().images.astype("float32")[..., None] / 16.0
    return images[:1437], images[1437:]


def _dequantized(images, levels, seed):
    return np.asarray(dequantize(images, levels, tf.constant([seed, 1], "int64")))


def _training_data(images, levels, batch_size, seed):
    """Shuffled batches with fresh dequantization noise every epoch."""
    dataset = tf.data.Dataset.from_tensor_slices(images)
    dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    return dataset.map(
        lambda x: (tf.round(x * (levels - 1)) + tf.random.uniform(tf.shape(x), seed=None)) / levels
    ).prefetch(2)


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
