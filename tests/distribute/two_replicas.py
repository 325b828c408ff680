"""Runs the two-replica checks in a fresh process: `python two_replicas.py OUT.npz`.

Two logical CPUs must be configured before TensorFlow initialises its
devices, so this runs apart from the pytest process; it saves raw arrays to
OUT.npz and the tests make the assertions.
"""

import os
import re
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_cvae  # noqa: E402
import keras_cvae.distribute  # noqa: E402

# The plain ELBO, and free bits (non-linear in the batch mean) with warm-up:
# at 0.5 nats, some latent dimensions' mean KL is below the floor over the
# global batch and above it over one replica's half, or the reverse.
CONFIGS = {
    "elbo": dict(posterior="diagonal", vae=dict()),
    "free_bits": dict(posterior="diagonal", vae=dict(free_bits=0.5, kl_warmup_steps=3)),
}


def build(posterior="diagonal", synchronized=True, **vae_kwargs):
    keras.utils.set_random_seed(0)
    # zero_init_last=False: every weight gets a gradient in the first step.
    conv_net = {"block": "basic", "depth": 1, "channels": 8, "synchronized": synchronized, "zero_init_last": False}
    return keras_cvae.VAE(
        keras_cvae.GaussianEncoder(latent_dim=4, conv_net=conv_net, posterior=posterior),
        # The lecture's decoder: data-initialised heads start at zero and move no convnet weight.
        keras_cvae.GaussianDecoder(image_shape=(8, 8, 1), conv_net=conv_net, data_init=False,
                                   mean_activation="linear"),
        seed=0,
        **vae_kwargs,
    )


def train(strategy, images, config, synchronized=True):
    """One plain-SGD step on the global batch `images`: variables before and after, logs, model."""
    with strategy.scope():
        vae = build(config["posterior"], synchronized, **config["vae"])
        vae.compile(optimizer=keras.optimizers.SGD(1e-3))
    before = variables_of(vae)
    history = vae.fit(images, batch_size=len(images), epochs=1, shuffle=False, verbose=0)
    return before, variables_of(vae), {k: v[-1] for k, v in history.history.items()}, vae


def build_by_hand():
    """A VAE whose convnets say nothing about synchronization: the default, "auto"."""
    keras.utils.set_random_seed(0)
    conv_net = {"block": "basic", "depth": 1, "channels": 8, "zero_init_last": False}
    return keras_cvae.VAE(
        keras_cvae.GaussianEncoder(latent_dim=4, conv_net=conv_net),
        keras_cvae.GaussianDecoder(image_shape=(8, 8, 1), conv_net=conv_net, data_init=False),
        seed=0,
    )


def build_from_preset():
    """The pretrained digits preset: its config.json (written before "auto") says `synchronized: false`."""
    keras.utils.set_random_seed(0)
    return keras_cvae.VAE.from_preset("digits_basic")


AUTO_BUILDS = {"by_hand": build_by_hand, "preset": build_from_preset}
AUTO_STEPS = 5


def train_steps(strategy, build_model, images):
    """`AUTO_STEPS` plain-SGD steps on batches of `len(images) / AUTO_STEPS`, as a user would write it.

    A fine-tuning learning rate: at 1e-4 the ELBO's gradients (thousands of
    nats) throw the pretrained preset far off within 5 steps, and that
    trajectory amplifies rounding to ~1e-4 of the weights.
    """
    with strategy.scope():
        vae = build_model()
        vae.compile(optimizer=keras.optimizers.SGD(1e-5))
    before = variables_of(vae)
    vae.fit(images, batch_size=len(images) // AUTO_STEPS, epochs=1, shuffle=False, verbose=0)
    return before, variables_of(vae), vae


def record_auto(results, one, two, images):
    """Default ("auto") BatchNorms: 5 steps on one device and on two replicas."""
    for source, build_model in AUTO_BUILDS.items():
        for label, strategy in (("one", one), ("two", two)):
            before, after, vae = train_steps(strategy, build_model, images)
            results.update({f"auto/{source}/{label}/before/{k}": v for k, v in before.items()})
            results.update({f"auto/{source}/{label}/after/{k}": v for k, v in after.items()})
        for i, variable in enumerate(vae.variables):
            if "moving_" in variable.path:
                results[f"auto/{source}/two/per_replica/{i}:{variable.path}"] = np.stack(replica_values(variable))


def record_nan_batch(results, two, images):
    """Two replicas, two batches of 8, a NaN in the second batch's second half (replica 1's).

    The step on the second batch must change nothing, on either replica: the
    weights and the per-replica BatchNorm statistics end as after the first
    batch alone (`nan_batch/first_only`).
    """
    images = images.copy()
    images[13, 2, 2, 0] = np.nan
    for label, data in (("with_nan", images), ("first_only", images[:8])):
        with two.scope():
            vae = build("diagonal", True)
            vae.compile(optimizer=keras.optimizers.SGD(1e-3))
        vae.fit(tf.data.Dataset.from_tensor_slices(data).batch(8), epochs=1, verbose=0)
        results.update({f"nan_batch/{label}/{k}": v for k, v in variables_of(vae).items()})
        for i, variable in enumerate(vae.variables):
            if "moving_" in variable.path:
                results[f"nan_batch/{label}/per_replica/{i}"] = np.stack(replica_values(variable))


def variables_of(vae):
    """Keyed by position and the unnumbered layer path, the same in every model."""
    return {
        f"{i}:{re.sub(r'_[0-9]+/', '/', v.path)}": np.asarray(v)
        for i, v in enumerate(vae.variables)
        if "seed_generator" not in v.path
    }


def replica_values(variable):
    """The per-replica copies of a mirrored variable."""
    return [np.asarray(v) for v in variable.value.values]


def main(out):
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    two = keras_cvae.distribute.get_strategy("mirrored")
    assert two.num_replicas_in_sync == 2, two.num_replicas_in_sync
    images = np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32")
    results = {}

    def record(prefix, values):
        results.update({f"{prefix}/{key}": value for key, value in values.items()})

    # Replica equivalence: one step from the same weights on one device and on
    # two replicas.
    for name, config in CONFIGS.items():
        for label, strategy in (("one", one), ("two", two)):
            before, after, logs, vae = train(strategy, images, config)
            record(f"{name}/{label}/before", before)
            record(f"{name}/{label}/after", after)
            record(f"{name}/{label}/fit", logs)
            if name == "elbo":  # 13 images in batches of 6: the last one split 1 / 0
                logs = vae.evaluate(images[:13], batch_size=6, verbose=0, return_dict=True)
                record(f"{name}/{label}/evaluate", logs)
        moving = [v for v in vae.variables if "moving_variance" in v.path][0]
        results[f"{name}/two/moving_variance_per_replica"] = np.stack(replica_values(moving))

    # The trap, as a control: plain BatchNorm under two replicas.
    _, after, _, vae = train(two, images, CONFIGS["elbo"], synchronized=False)
    record("unsynchronized/two/after", after)
    moving = [v for v in vae.variables if "moving_variance" in v.path][0]
    results["unsynchronized/two/moving_variance_per_replica"] = np.stack(replica_values(moving))

    record_nan_batch(results, two, images)

    # Nobody asks for synchronized BatchNorm: five steps, by hand and from a preset.
    record_auto(results, one, two, np.random.default_rng(1).random((80, 8, 8, 1), dtype="float32"))

    # Noise: the per-example ELBO with a fixed seed, each replica given the
    # same 4 images, then the halves of 8 images.
    with two.scope():
        vae = build()

    @tf.function
    def elbo_per_replica(batch, seed):
        return two.run(lambda x: vae.elbo(x, seed=seed)["elbo"], args=(batch,))

    same = tf.constant(images[:4])
    results["noise/same_images"] = np.stack(two.experimental_local_results(elbo_per_replica(same, 3)))
    results["noise/same_images_again"] = np.stack(two.experimental_local_results(elbo_per_replica(same, 3)))
    halves = two.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(images[:8]).batch(8))
    results["noise/halves"] = np.concatenate(two.experimental_local_results(elbo_per_replica(next(iter(halves)), 3)))
    results["noise/one_device"] = np.asarray(vae.elbo(images[:8], seed=3)["elbo"])
    np.savez(out, **results)


if __name__ == "__main__":
    main(sys.argv[1])
