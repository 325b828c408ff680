"""Time `VAE.fit` spends outside training per call, on a NumPy array.

    python bench/fit_overhead.py                       # 60,000 images of 28×28, 4 calls
    python bench/fit_overhead.py --num-images 20000 --calls 6

Builds a small 28×28 VAE and calls `fit` several times on in-memory arrays
(a new array each call; one call with `validation_split=0.1`, one with
`sample_weight`), timing each call's three parts with a callback: from the
call to the start of training (turning the array into batches), training
(`on_train_begin` to `on_train_end`), and from the end of training to the
return (shutting the input pipeline down). `--keras-pipeline` feeds Keras
its own array pipeline instead (`keras.Model.fit` on the array), for
comparison in the same process.
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=60000)
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--keras-pipeline", action="store_true",
                        help="Call keras.Model.fit (Keras's own array pipeline) instead of VAE.fit.")
    args = parser.parse_args()

    import keras
    import numpy as np

    import keras_cvae

    conv_net = {"depth": 1, "channels": 4}
    vae = keras_cvae.VAE(keras_cvae.GaussianEncoder(latent_dim=4, conv_net=conv_net),
                         keras_cvae.GaussianDecoder(image_shape=(28, 28, 1), conv_net=conv_net))
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    fit = (lambda *a, **k: keras.Model.fit(vae, *a, **k)) if args.keras_pipeline else vae.fit

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.begin = time.perf_counter()

        def on_train_end(self, logs=None):
            self.end = time.perf_counter()

    print(f"{'Keras pipeline' if args.keras_pipeline else 'VAE.fit'}: {args.num_images} images of 28×28, "
          f"batch {args.batch_size}, one epoch per call", flush=True)
    for call in range(args.calls):
        images = np.random.default_rng(call).uniform(size=(args.num_images, 28, 28, 1)).astype("float32")
        options = {1: {"validation_split": 0.1},
                   2: {"sample_weight": np.ones(args.num_images, "float32")}}.get(call % 4, {})
        clock, start = Clock(), time.perf_counter()
        fit(images, epochs=1, batch_size=args.batch_size, verbose=0, callbacks=[clock], **options)
        done = time.perf_counter()
        print(f"call {call + 1} {', '.join(options) or 'plain':17s} before training {clock.begin - start:5.2f} s, "
              f"training {clock.end - clock.begin:6.2f} s, after training {done - clock.end:5.2f} s", flush=True)


if __name__ == "__main__":
    main()
