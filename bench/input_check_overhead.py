"""What the entry points' checks cost: the decoder's code clip in `fit`, the call's check in `predict`.

    python bench/input_check_overhead.py                 # 8 rounds
    python bench/input_check_overhead.py --rounds 4

Builds the `digits_basic` architecture twice in one process: as it is, and
traced with the decoder's clip of the codes (`CODE_LIMIT`) and the call's
image check (`check_images` in `VAE.call`) taken out. Each round times, for
both models in turn (the order alternating), `fit` for 2 epochs on 1280
digits and 10 `predict` calls on them, in CPU time of this process (less
sensitive to other jobs on a shared machine than wall time). Prints the
median ratio with/without per measure, and each round's.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def build(images):
    import keras_cvae

    model = keras_cvae.VAE.from_preset("digits_basic", load_weights=False)
    model.compile(optimizer="adam")
    model.fit(images, epochs=1, batch_size=64, verbose=0)  # traces train_step
    model.predict(images, batch_size=256, verbose=0)  # traces predict_step
    return model


def build_without_checks(images):
    """The model traced with the clip and the call's check replaced by the identity."""
    import keras

    import keras_cvae.models.gaussian_decoder as decoder_module
    import keras_cvae.models.vae as vae_module

    class NoClip:
        def __getattr__(self, name):
            return getattr(keras.ops, name)

        def clip(self, x, low, high):
            return x

    saved = decoder_module.ops, vae_module.check_images
    decoder_module.ops, vae_module.check_images = NoClip(), lambda images, *args, **kwargs: images
    try:
        return build(images)
    finally:
        decoder_module.ops, vae_module.check_images = saved


def seconds(call):
    start = time.process_time()
    call()
    return time.process_time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    from sklearn.datasets import load_digits

    images = (load_digits().images.astype("float32")[..., None] / 16.0)[:1280]
    models = {"with": build(images), "without": build_without_checks(images)}
    measures = {
        "fit (2 epochs)": lambda m: m.fit(images, epochs=2, batch_size=64, verbose=0),
        "predict (10 calls)": lambda m: [m.predict(images, batch_size=256, verbose=0)
                                         for _ in range(10)],
    }
    ratios = {name: [] for name in measures}
    for index in range(args.rounds):
        order = ["with", "without"] if index % 2 == 0 else ["without", "with"]
        for name, measure in measures.items():
            times = {label: seconds(lambda: measure(models[label])) for label in order}
            ratios[name].append(times["with"] / times["without"])
    for name, values in ratios.items():
        shown = ", ".join(f"{value:.3f}" for value in values)
        print(f"{name}: CPU time with/without the checks, median {statistics.median(values):.3f} "
              f"({shown})")


if __name__ == "__main__":
    main()
