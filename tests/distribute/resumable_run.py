"""A training command that resumes: `python resumable_run.py RUN_DIR PAUSE_SECONDS`.

Trains with `keras_cvae.distribute.resumable_callbacks(RUN_DIR)` on shuffled,
dequantized batches whose order and noise depend on (seed, epoch) only
(`keras_cvae.training.epoch_data`), appends
"epoch batch" to RUN_DIR/progress.log after every batch (pausing, so that a
test can kill it mid-epoch), and saves the final variables and the history
of this process's epochs to RUN_DIR/result.npz. `training_run` is also the
uninterrupted reference.
"""

import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_cvae  # noqa: E402
import keras_cvae.distribute  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras_cvae.training.epoch_data import epoch_batches  # noqa: E402

EPOCHS = 4
STEPS_PER_EPOCH = 8


def build():
    keras.utils.set_random_seed(0)
    conv_net = {"block": "basic", "depth": 1, "channels": 8}
    vae = keras_cvae.VAE(
        keras_cvae.GaussianEncoder(latent_dim=4, conv_net=conv_net),
        keras_cvae.GaussianDecoder(image_shape=(8, 8, 1), conv_net=conv_net),
        seed=0,
    )
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))  # with state to restore
    return vae


class Progress(keras.callbacks.Callback):
    def __init__(self, path, pause):
        super().__init__()
        self.path, self.pause, self.epochs = path, pause, []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)

    def on_train_batch_end(self, batch, logs=None):
        with open(self.path, "a") as f:
            f.write(f"{self.epochs[-1]} {batch}\n")
        time.sleep(self.pause)


def training_run(run_dir=None, pause=0.0):
    vae = build()
    levels = np.random.default_rng(0).integers(0, 256, (8 * STEPS_PER_EPOCH, 8, 8, 1))
    images = tf.data.Dataset.from_tensor_slices((levels / 255).astype("float32"))
    callbacks, first_epoch = [], 0
    if run_dir:
        callbacks = keras_cvae.distribute.resumable_callbacks(run_dir)
        callbacks.append(Progress(os.path.join(run_dir, "progress.log"), pause))
        state = keras_cvae.distribute.read_backup_state(os.path.join(run_dir, "backup"))
        first_epoch = state["epoch"] if state else 0
    batches = epoch_batches(images, 8, 256, seed=0, epochs=EPOCHS, first_epoch=first_epoch)
    history = vae.fit(batches, epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH, callbacks=callbacks,
                      verbose=0)
    epochs = callbacks[-1].epochs if run_dir else list(range(EPOCHS))
    return [np.asarray(v) for v in vae.variables], history.history, epochs


def main(run_dir, pause):
    variables, history, epochs = training_run(run_dir, pause)
    np.savez(
        os.path.join(run_dir, "result.npz"),
        epochs=np.asarray(epochs),
        **{f"variable/{i}": v for i, v in enumerate(variables)},
        **{f"history/{k}": np.asarray(v) for k, v in history.items()},
    )


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
