"""Training a preset end to end: `keras-cvae train` and `keras_cvae.training.train`.

Trains on uniformly dequantized images (fresh noise every epoch; with an
`augment_shift`, randomly translated), under any `tf.distribute` strategy,
stores full-dataset BatchNorm statistics, evaluates the test split (negative
ELBO, importance-weighted NLL, bits/dim), and writes the preset folder with
its metadata, model card and sample images. With a run folder the run also
logs to TensorBoard, writes a sample grid per epoch, backs up after every
epoch (training again resumes) and ends by writing `metrics.json`
(`keras_cvae.training.run_folder`).

A resumed run ends where the uninterrupted one would: each epoch's order,
translations and noise depend on (seed, epoch) only
(`keras_cvae.training.epoch_data`), and the backup holds the weights,
optimizer and noise generators. A run that fails publishes nothing and
leaves the run folder as it was: one whose loss becomes NaN or infinite,
whose test metrics are not finite, or whose model ends worse than untrained
raises a `TrainingDivergedError` (`keras_cvae.training.divergence`); a full
disk raises an `OSError`.
"""

import copy
import dataclasses
import functools
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from keras_cvae import datasets
from keras_cvae import distribute
from keras_cvae.models.batchnorm_recalibration import recalibrate_batchnorm
from keras_cvae.models.density_evaluation import bits_per_dim
from keras_cvae.models.density_evaluation import dequantize
from keras_cvae.models.density_evaluation import evaluate_density
from keras_cvae.models.density_evaluation import evaluation_batch_seed
from keras_cvae.models.training_options import recommended_steps_per_execution
from keras_cvae.models.vae import VAE
from keras_cvae.training import epoch_data
from keras_cvae.training import run_folder
from keras_cvae.training import sample_quality
from keras_cvae.training.divergence import DivergenceGuard
from keras_cvae.training.divergence import TrainingDivergedError
from keras_cvae.training.model_card import model_card_files
from keras_cvae.training.training_config import CONV_NET_OVERRIDES
from keras_cvae.training.training_config import ENCODER_OVERRIDES
from keras_cvae.training.training_config import VAE_OVERRIDES
from keras_cvae.training.training_config import preset_defaults
from keras_cvae.utils.image_logger import ImageLogger
from keras_cvae.zoo.preset_io import check_preset_directory
from keras_cvae.zoo.preset_io import save_to_preset
from keras_cvae.zoo.preset_lookup import architecture_summary
from keras_cvae.zoo.preset_lookup import read_config

# Codes drawn per training image to fit the mixture prior.
PRIOR_SAMPLES_PER_IMAGE = 10
# Samples scored for the model card (`keras_cvae.training.sample_quality`).
SAMPLE_QUALITY_SAMPLES = 1000
# A cheap, fixed-seed evaluation recorded for the tests (`tests/zoo`): the first
# CHECK_IMAGES test images (all of a smaller split), K = CHECK_NUM_SAMPLES.
CHECK_IMAGES = 500
CHECK_NUM_SAMPLES = 16
CHECK_SEED = 0
# Test images of the negative ELBO (bits/dim) compared before and after training.
PROGRESS_CHECK_IMAGES = 256
# Shuffle buffer of the training split (the whole split if smaller).
SHUFFLE_BUFFER_SIZE = 10_000
# BatchNorm momentum of the model being trained. Its moving averages only serve
# what runs in inference mode during training (`val_loss`, the per-epoch
# images): training uses batch statistics, and the published model gets
# full-dataset ones (its config keeps the preset's momentum). At Keras's 0.99
# they trail the weights by about 100 steps, and the validation loss of a run
# whose weights move fast spikes by tens of nats (bench/batchnorm_lag.py).
MONITORING_BATCHNORM_MOMENTUM = 0.9


@dataclasses.dataclass
class _Data:
    train_images: object  # unbatched, in order: `epoch_data.epoch_batches` batches them
    train_info: object
    test: object
    test_info: object
    validation: object
    test_images: object
    check_images: object
    steps_per_epoch: int
    image_shape: tuple
    drop_remainder: bool

    @functools.cached_property
    def test_array(self):
        """The test split as one array if it is small (else its pipeline), read once."""
        return datasets.as_array_if_small(self.test, self.test_info, self.image_shape)


def train(config, preset_dir, run_dir=None, overwrite=False, command=None, verbose=1):
    """Trains `config.preset` and writes it, with metrics, model card and images, to `preset_dir`.

    Args:
        config: `keras_cvae.training.TrainingConfig`.
        preset_dir: str. The preset folder to write. An existing one is
            replaced atomically at the end, only by a finished run.
        run_dir: str. The run folder (`keras_cvae.training.run_folder`):
            TensorBoard logs, a sample grid per epoch, a backup after every
            epoch and `metrics.json`. Called again with the same config, the
            run resumes from its backup (or, finished, returns its metadata).
            Defaults to `None` (no run folder).
        overwrite: bool. Replace an existing `preset_dir` without a run folder,
            or start the run in `run_dir` afresh. Defaults to `False`.
        command: str. The command recorded in the metadata. Defaults to a
            description of this call.
        verbose: int. Keras verbosity. Defaults to `1`.

    Returns:
        The written `metadata.json`, as a dict (`None` on a non-chief worker).

    Raises:
        TrainingDivergedError: a NaN or infinite loss, non-finite test
            metrics, or a test negative ELBO no better than the untrained
            model's (`metadata["training"]["progress_check"]` records both).
        OSError: a write failed (e.g. a full disk).
        ValueError: a damaged backup to resume, named.
        FileExistsError: `run_dir` is not a run folder, or holds a run with
            other arguments (without `overwrite`).

        After a failure nothing is published, and `run_dir` and `preset_dir`
        are as they were before the call.
    """
    config = config.resolved()
    if not config.dataset:
        raise ValueError(f"The preset folder {config.preset} records no dataset: pass --dataset.")
    # A preset folder that the run may not replace fails now, not after the last epoch.
    check_preset_directory(preset_dir, overwrite or run_dir is not None)
    snapshots = []  # the run folder as it was, once the run started (on the chief)
    on_start = None
    if run_dir is not None:
        arguments = {**config.to_json(), "preset_dir": os.path.abspath(preset_dir)}
        finished = run_folder.check_run(run_dir, arguments, overwrite, preset_dir)
        if finished is not None:
            if verbose:
                print(f"The run in {run_dir} has finished already: nothing to train "
                      "(--overwrite starts it afresh).")
            return finished

        def on_start(strategy):  # once the data loaded and the model built
            if strategy.extended.should_checkpoint:
                snapshots.append(run_folder.start_run(run_dir, arguments, overwrite))

    unchanged = "the previous preset and run folder are" if run_dir else "the previous preset is"
    advice = (f"Nothing was published; {unchanged} unchanged. Try a lower learning rate than "
              f"learning_rate={config.learning_rate}.")
    try:
        metadata = _train_and_publish(config, preset_dir, run_dir, overwrite, command, verbose,
                                      on_start, advice)
    except Exception:
        for snapshot in snapshots:
            snapshot.restore()
        raise
    for snapshot in snapshots:
        snapshot.discard()
    if metadata is not None and run_dir is not None:
        run_folder.finish_run(run_dir, metadata["metrics"])
    return metadata


def _train_and_publish(config, preset_dir, run_dir, overwrite, command, verbose, on_start, advice):
    """Trains, checks, evaluates and writes the preset; its metadata (None off-chief)."""
    base = architecture(config, verbose)
    config.check_image_shape(base.image_shape)
    fitted = _fit(config, base, run_dir, verbose, on_start, advice)
    if fitted is None:  # a non-chief worker: the chief writes the preset
        return None
    model, data, training_record = fitted
    trained, train_images = _recalibrated_copy(config, base, model, data)
    training_record["progress_check"] = _progress_check(config, base, trained, data, advice)
    prior = _fit_prior(config, trained, train_images, verbose)
    metadata = {
        **_describe(config, trained, data),
        "training": {"command": command or f"keras_cvae.training.train({config!r}, ...)",
                     **training_record},
        "prior": prior,
        **_evaluate(config, trained, data, verbose),
    }
    _check_finite_metrics(metadata["metrics"], advice)
    metadata["sample_quality"] = _sample_quality(config, trained, data, prior)
    test_array = data.test_array
    card_images = test_array if isinstance(test_array, np.ndarray) else data.test_images
    files = model_card_files(trained, metadata, card_images, seed=config.seed)
    return save_to_preset(trained, preset_dir, metadata=metadata,
                          overwrite=overwrite or run_dir is not None, files=files)


def architecture(config, verbose=0):
    """The untrained network `config` trains: the preset's, built for the dataset's images.

    The images' own height, width and channels (`keras_cvae.datasets.info`)
    replace the preset's input shape: the convnets take any size, and the
    linear maps between codes and features follow the size. With
    `config.resize_images` the preset's shape is kept (the images are
    resized to it). Prints what it built when the shape changed and
    `verbose`.

    Args:
        config: a resolved `keras_cvae.training.TrainingConfig`.
        verbose: int. Defaults to `0`.
    """
    base = VAE.from_preset(config.preset, load_weights=False)
    if config.resize_images:
        return base
    shape = datasets.info(config.dataset, "train", data_dir=config.data_dir).image_shape
    if tuple(shape) == tuple(base.image_shape):
        return base
    if verbose:
        print(f"Building {os.path.basename(os.path.normpath(os.fspath(config.preset)))}'s "
              f"network for the {_size(shape)} images of {os.fspath(config.dataset)} (the preset "
              f"takes {_size(base.image_shape)}; --resize resizes the images to that instead).")
    return keras.saving.deserialize_keras_object(
        model_config(base, {}, base.seed, image_shape=shape))


def _size(shape):
    return "×".join(str(d) for d in shape)


# === Training ===


def _fit(config, base, run_dir, verbose, on_start=None, advice=""):
    """Trains a fresh copy of `base`; returns `(model, data, training record)`, or None off-chief.

    `on_start(strategy)` (which starts the run folder) is called once the
    data loaded and the model compiled, just before training. A NaN or
    infinite loss raises a `TrainingDivergedError` ending with `advice`.
    """
    previous_policy = keras.mixed_precision.global_policy()
    strategy = distribute.configure(config.strategy or tf.distribute.get_strategy(),
                                    config.mixed_precision)
    try:
        keras.utils.set_random_seed(config.seed)  # also the training data's shuffling (epoch_data)
        tpu = isinstance(strategy, tf.distribute.TPUStrategy)
        data = _load_data(config, base.image_shape, drop_remainder=tpu)
        overrides = _training_overrides(config, data.steps_per_epoch)
        with strategy.scope():
            keras.utils.set_random_seed(config.seed)
            model = keras.saving.deserialize_keras_object(model_config(
                base, overrides, config.seed, batchnorm_momentum=MONITORING_BATCHNORM_MOMENTUM))
            schedule = keras.optimizers.schedules.CosineDecay(
                config.learning_rate, config.epochs * data.steps_per_epoch)
            steps_per_execution = _steps_per_execution(
                base.image_shape, data.steps_per_epoch, strategy.num_replicas_in_sync)
            model.compile(optimizer=keras.optimizers.Adam(schedule), jit_compile=config.jit_compile,
                          steps_per_execution=steps_per_execution)
        if on_start is not None:
            on_start(strategy)
        callbacks, initial_epoch = _callbacks(config, run_dir, strategy, data, verbose, advice)
        # A finished run trains no further, but `fit` builds on a batch: give it the last epoch's.
        train = epoch_data.epoch_batches(
            data.train_images, config.batch_size, data.train_info.intensity_levels or 256,
            config.seed, config.epochs, first_epoch=min(initial_epoch, config.epochs - 1),
            buffer_size=min(data.train_info.num_examples or SHUFFLE_BUFFER_SIZE, SHUFFLE_BUFFER_SIZE),
            drop_remainder=data.drop_remainder, shift=config.augment_shift)
        start = time.time()
        model.fit(train, epochs=config.epochs, steps_per_epoch=data.steps_per_epoch,
                  validation_data=data.validation, callbacks=callbacks, verbose=verbose)
        train_seconds = time.time() - start
    finally:
        keras.mixed_precision.set_dtype_policy(previous_policy)
    if not strategy.extended.should_checkpoint:
        return None
    record = _training_record(config, overrides, strategy, initial_epoch, train_seconds)
    return model, data, record


def _steps_per_execution(image_shape, steps_per_epoch, replicas=1):
    """`recommended_steps_per_execution`, moved to a divisor of `steps_per_epoch`.

    One iterator runs through every epoch (`epoch_data.epoch_batches`): an
    execution must not take batches of the next epoch. The smallest divisor
    from the recommended number to twice that, else the largest below it
    (digits: 23 steps of 64 images run as one execution, not 23 of one).
    Under several replicas, one: Keras 3.15's loop of several steps fails
    there ("You must feed a value for placeholder tensor").
    """
    if replicas > 1:
        return 1
    recommended = recommended_steps_per_execution(image_shape)
    divisors = [d for d in range(1, steps_per_epoch + 1) if steps_per_epoch % d == 0]
    above = [d for d in divisors if recommended <= d <= 2 * recommended]
    return above[0] if above else max(d for d in divisors if d <= recommended)


def _training_overrides(config, steps_per_epoch):
    overrides = dict(config.overrides)
    overrides["kl_warmup_steps"] = math.ceil(config.warmup_epochs * steps_per_epoch)
    return overrides


def _callbacks(config, run_dir, strategy, data, verbose, advice=""):
    """`(callbacks, initial_epoch)`: the divergence guard; logs, images and backups of a run folder."""
    guard = [DivergenceGuard(advice)]  # first: it ends `fit` before anything saves a NaN
    if run_dir is None:
        return guard, 0
    backup_dir = os.path.join(run_dir, run_folder.BACKUP_DIR)
    state = distribute.read_backup_state(backup_dir, epochs=config.epochs)
    initial_epoch = state["epoch"] if state else 0
    if initial_epoch and verbose:
        print(f"Resuming from the backup of epoch {initial_epoch}/{config.epochs} in {backup_dir}",
              flush=True)
    callbacks = guard
    if strategy.extended.should_checkpoint:
        log_dir = os.path.join(run_dir, run_folder.LOG_DIR)
        callbacks += [
            keras.callbacks.TensorBoard(log_dir),
            ImageLogger(os.path.join(run_dir, run_folder.SAMPLES_DIR),
                        images=data.test_images[:8], log_dir=log_dir, seed=config.seed),
        ]
    # Last: an epoch's backup is written after its logs and pictures.
    return callbacks + distribute.resumable_callbacks(run_dir), initial_epoch


def model_config(model, overrides, seed, batchnorm_momentum=None, image_shape=None):
    """The serialized `model` with hyper-parameters replaced, for `deserialize_keras_object`.

    Shapes (`build_config`) and dtype policies are dropped: they follow from
    the new hyper-parameters and the current dtype policy.

    Args:
        model: `keras_cvae.VAE`. The architecture.
        overrides: dict. Keys of `keras_cvae.training.OVERRIDES`, and
            `kl_warmup_steps`.
        seed: int. The VAE's noise seed.
        batchnorm_momentum: float or None. The BatchNorm layers' momentum;
            None keeps `model`'s.
        image_shape: tuple or None. The input shape, channels last; None
            keeps `model`'s.
    """
    config = _without_keys(copy.deepcopy(keras.saving.serialize_keras_object(model)),
                           ("build_config", "compile_config", "dtype"))
    vae = config["config"]
    vae["seed"] = seed
    vae.pop("prior", None)  # training starts from N(0, I); the prior is fitted afterwards
    vae.update({key: overrides[key] for key in (*VAE_OVERRIDES, "kl_warmup_steps")
                if key in overrides})
    if image_shape is not None:
        vae["decoder"]["config"]["image_shape"] = list(image_shape)
    encoder = vae["encoder"]["config"]
    encoder.update({key: overrides[key] for key in ENCODER_OVERRIDES if key in overrides})
    for part in (encoder, vae["decoder"]["config"]):
        conv_net = part["conv_net"].get("config", part["conv_net"])
        conv_net.update({key: overrides[key] for key in CONV_NET_OVERRIDES if key in overrides})
        conv_net["synchronized"] = "auto"  # global-batch statistics under several replicas
        if batchnorm_momentum is not None:
            conv_net["batchnorm_momentum"] = batchnorm_momentum
    return config


def _without_keys(value, keys):
    if isinstance(value, dict):
        return {k: _without_keys(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without_keys(v, keys) for v in value]
    return value


def _training_record(config, overrides, strategy, initial_epoch, train_seconds):
    return {
        "seed": config.seed, "epochs": config.epochs, "batch_size": config.batch_size,
        "learning_rate": config.learning_rate, "warmup_epochs": config.warmup_epochs,
        "augment_shift": config.augment_shift, "prior_components": config.prior_components,
        "schedule": "cosine decay to 0", "optimizer": "adam", "overrides": overrides,
        "strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync,
        "jit_compile": config.jit_compile, "mixed_precision": config.mixed_precision,
        "resize_images": config.resize_images,
        "resumed_from_epoch": initial_epoch,
        "batchnorm": "recalibrated on the full dequantized training split",
        "train_seconds": round(train_seconds, 1),
        "machine": f"{os.cpu_count()} CPU cores, TensorFlow {tf.__version__}",
    }


# === Data ===


def _load_data(config, image_shape, drop_remainder):
    """The splits at the preset's image size: other sizes refused unless `config.resize_images`."""
    load = {"data_dir": config.data_dir, "image_size": image_shape[:2], "channels": image_shape[-1],
            "resize": config.resize_images}
    train_images, train_info = datasets.load(config.dataset, "train", with_info=True, **load)
    test_images, test_info = datasets.load(config.dataset, "test", with_info=True, **load)
    test_data = test_images.batch(64)
    validation = epoch_data.fixed_batches(test_images, config.batch_size,
                                          train_info.intensity_levels or 256, config.seed,
                                          drop_remainder=drop_remainder)
    return _Data(
        train_images=train_images, train_info=train_info, test=test_data, test_info=test_info,
        validation=validation, test_images=_first_images(test_data, 32),
        check_images=_first_images(test_data, PROGRESS_CHECK_IMAGES),
        steps_per_epoch=_steps_per_epoch(train_images, train_info, config.batch_size, drop_remainder),
        image_shape=tuple(image_shape), drop_remainder=drop_remainder)


def _first_images(batches, count):
    return next(iter(batches.unbatch().batch(count))).numpy()


def _steps_per_epoch(images, info, batch_size, drop_remainder):
    count = info.num_examples if info.num_examples is not None else int(images.cardinality())
    if count < 0:
        raise ValueError(f"Cannot tell the size of dataset {info.name!r} (needed for the schedule).")
    steps = count // batch_size if drop_remainder else math.ceil(count / batch_size)
    if steps < 1:
        raise ValueError(
            f"The batch size must not exceed the {count} training images of "
            f"{info.name!r}. Received: batch_size={batch_size}"
        )
    return steps


# === After training: BatchNorm statistics, evaluation, metadata ===


def _recalibrated_copy(config, base, model, data):
    """A one-device float32 copy of `model` with full-training-split BatchNorm statistics."""
    trained = _fresh_model(config, base, data)
    trained.set_weights(model.get_weights())
    shape = trained.image_shape
    recalibration_data = datasets.load(
        config.dataset, "train", batch_size=256, dequantize=True, seed=config.seed,
        data_dir=config.data_dir, image_size=shape[:2], channels=shape[-1],
        resize=config.resize_images)
    # One dequantized copy, so that every BatchNorm sees the same images (the
    # pipeline draws fresh noise on each pass); a large dataset stays a pipeline.
    recalibration_data = datasets.as_array_if_small(recalibration_data, data.train_info, shape)
    recalibrate_batchnorm(trained, recalibration_data, seed=config.seed)
    return trained, recalibration_data


def _fresh_model(config, base, data):
    """The one-device model that training starts from (seeded by `config.seed`)."""
    keras.utils.set_random_seed(config.seed)
    overrides = _training_overrides(config, data.steps_per_epoch)
    return keras.saving.deserialize_keras_object(model_config(base, overrides, config.seed))


def _progress_check(config, base, trained, data, advice):
    """The test negative ELBO (bits/dim) untrained and trained; a `TrainingDivergedError` if worse.

    Measured on the first `PROGRESS_CHECK_IMAGES` test images, with one
    sample and the same seed for both models, before the prior is fitted.
    """
    levels = data.train_info.intensity_levels or 256
    # The same dequantized images for both models; one eager ELBO each (no graph to trace).
    images = dequantize(data.check_images, levels, evaluation_batch_seed(CHECK_SEED, 0))
    dims = int(np.prod(images.shape[1:]))

    def bits(model):
        elbo = np.asarray(model.elbo(images, seed=CHECK_SEED)["elbo"], np.float64)
        return bits_per_dim(float(np.mean(elbo)), dims, levels)

    before, after = bits(_fresh_model(config, base, data)), bits(trained)
    if not math.isfinite(after) or after >= before:
        raise TrainingDivergedError(
            f"Training diverged: the negative ELBO of the first {len(data.check_images)} test "
            f"images is {after:.6g} bits/dim after training, {before:.6g} untrained (expected "
            f"fewer). {advice}")
    return {"measure": "negative ELBO, bits/dim, 1 sample", "test_images": len(data.check_images),
            "seed": CHECK_SEED, "untrained": before, "trained": after}


def _check_finite_metrics(metrics, advice):
    for key in ("negative_elbo_nats", "nll_nats", "bits_per_dim"):
        value = metrics.get(key)
        if value is not None and not math.isfinite(value):
            raise TrainingDivergedError(f"Training diverged: the test {key} is {value}. {advice}")


def _fit_prior(config, trained, train_images, verbose):
    """Fits the mixture prior to the training codes (`VAE.fit_prior`); its metadata record."""
    if not config.prior_components:
        return {"type": "StandardNormalPrior"}
    trained.fit_prior(train_images, num_components=config.prior_components,
                      samples_per_image=PRIOR_SAMPLES_PER_IMAGE, seed=config.seed, verbose=verbose)
    return {"type": "GaussianMixturePrior", "num_components": config.prior_components,
            "samples_per_image": PRIOR_SAMPLES_PER_IMAGE, "seed": config.seed,
            "fitted_on": "the dequantized training split, after BatchNorm recalibration"}


def _evaluate(config, trained, data, verbose):
    """`{"metrics": ..., "check_metrics": ...}` of the test split."""
    levels = data.train_info.intensity_levels or 256
    test_array = data.test_array
    start = time.time()
    metrics = evaluate_density(trained, test_array, intensity_levels=levels,
                               num_samples=config.num_samples, seed=config.seed, verbose=verbose)
    eval_seconds = time.time() - start
    check_images = _first_images(data.test, CHECK_IMAGES)
    check = evaluate_density(trained, check_images, intensity_levels=levels,
                             num_samples=CHECK_NUM_SAMPLES, seed=CHECK_SEED, verbose=0)
    return {
        "metrics": {
            "split": "test", "seed": config.seed, "num_samples": config.num_samples,
            **_metric_record(metrics),
            "eval_seconds": round(eval_seconds, 1),
            "command": f"keras_cvae.evaluate_density(model, test_images, intensity_levels={levels}, "
                       f"num_samples={config.num_samples}, seed={config.seed})",
        },
        "check_metrics": {
            "split": "test", "num_images": len(check_images), "seed": CHECK_SEED,
            "num_samples": CHECK_NUM_SAMPLES, **_metric_record(check),
        },
    }


def _sample_quality(config, trained, data, prior):
    """The judge's score and the memorisation check of samples under each prior (small data only).

    `keras_cvae.training.sample_quality`: the score needs a classifier of the
    dataset (the embedded digits have one); the nearest-training-image
    distances need the splits as arrays.
    """
    shape = trained.image_shape
    load = {"data_dir": config.data_dir, "image_size": shape[:2], "channels": shape[-1],
            "resize": config.resize_images}
    train = datasets.as_array_if_small(
        datasets.load(config.dataset, "train", batch_size=256, **load), data.train_info, shape)
    test = data.test_array
    if isinstance(train, tf.data.Dataset) or isinstance(test, tf.data.Dataset):
        return None
    judge = sample_quality.judge_for(config.dataset, seed=config.seed)
    priors = ["standard"] + (["fitted"] if prior["type"] != "StandardNormalPrior" else [])
    record = {
        "judge": "an SVC on the training split (exp E[KL(p(y|x) || p(y))])" if judge else None,
        "num_samples": SAMPLE_QUALITY_SAMPLES, "seed": config.seed,
        "real_test_images": {"score": judge.score(test) if judge else None},
    }
    for name in priors:
        record[name] = sample_quality.sample_quality(
            trained, judge, train, test, num_samples=SAMPLE_QUALITY_SAMPLES, seed=config.seed,
            prior=name)
    return record


def _metric_record(results):
    """`evaluate_density`'s results as `metadata.json` records them (and under N(0, I))."""
    record = {"prior": results["prior"], "negative_elbo_nats": results["negative_elbo"],
              "nll_nats": results["nll"], "bits_per_dim": results.get("bits_per_dim"),
              "negative_elbo_bits_per_dim": results.get("negative_elbo_bits_per_dim")}
    if "standard_prior" in results:
        record["standard_prior"] = _metric_record(
            {**results["standard_prior"], "prior": "StandardNormalPrior"})
    return record


def _describe(config, trained, data):
    """The preset's name, description, dataset and shape fields of `metadata.json`."""
    defaults = preset_defaults(config.preset)
    description, rebuilt = defaults["description"], {}
    preset_shape = read_config(config.preset)["config"]["decoder"]["config"]["image_shape"]
    if list(preset_shape) != list(trained.image_shape):
        rebuilt = {"network_of": {"preset": defaults["name"], "input_shape": list(preset_shape)}}
        description = (
            f"{defaults['name']}'s network, built for the {_size(trained.image_shape)} images of "
            f"{os.fspath(config.dataset)} (the preset takes {_size(preset_shape)}): "
            f"{architecture_summary(keras.saving.serialize_keras_object(trained))}.")
    return {
        "preset": defaults["name"],
        "description": description,
        "intensity_levels": data.train_info.intensity_levels or 256,
        "dataset": {"name": os.fspath(config.dataset), "train_split": "train", "test_split": "test",
                    "num_train": data.train_info.num_examples,
                    "num_test": data.test_info.num_examples,
                    "dequantization": "uniform, (v + u) / L; fresh u every epoch"},
        "parameter_count": int(trained.count_params()),
        "input_shape": list(trained.image_shape),
        **rebuilt,
    }
