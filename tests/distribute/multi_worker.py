"""One worker of a two-worker `fit`: `python multi_worker.py OUT.npz RUN_DIR` with TF_CONFIG set.

`training_run` is also the single-device reference the tests compare with.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_cvae  # noqa: E402
import keras_cvae.distribute  # noqa: E402

EPOCHS = 2
GLOBAL_BATCH = 8


def training_run(strategy, run_dir=None):
    """Two epochs of SGD on 32 images, then `evaluate`: variables, history, evaluation."""
    with strategy.scope():
        keras.utils.set_random_seed(0)
        conv_net = {"block": "basic", "depth": 1, "channels": 8, "synchronized": True}
        vae = keras_cvae.VAE(
            keras_cvae.GaussianEncoder(latent_dim=4, conv_net=conv_net),
            keras_cvae.GaussianDecoder(image_shape=(8, 8, 1), conv_net=conv_net),
            seed=0,
        )
        vae.compile(optimizer=keras.optimizers.SGD(1e-3))
    images = np.random.default_rng(0).random((32, 8, 8, 1)).astype("float32")
    dataset = keras_cvae.distribute.prepare_dataset(images, GLOBAL_BATCH, strategy)
    callbacks = keras_cvae.distribute.resumable_callbacks(run_dir) if run_dir else []
    history = vae.fit(dataset, epochs=EPOCHS, callbacks=callbacks, shuffle=False, verbose=0)
    variables = [np.asarray(v) for v in vae.variables]
    evaluation = vae.evaluate(dataset, verbose=0, return_dict=True)
    return variables, history.history, evaluation


def main(out, run_dir):
    strategy = keras_cvae.distribute.get_strategy("multi_worker")  # before any other TF op
    assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
    variables, history, evaluation = training_run(strategy, run_dir)
    np.savez(
        out,
        **{f"variable/{i}": v for i, v in enumerate(variables)},
        **{f"history/{k}": np.asarray(v) for k, v in history.items()},
        **{f"evaluate/{k}": np.asarray(v) for k, v in evaluation.items()},
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
