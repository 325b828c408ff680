"""Decoder inference with BatchNorm folded into the convolutions against unfolded, in one process.

    python bench/batchnorm_folding.py --presets digits_bottleneck photo_patches_bottleneck

Outside training the residual blocks fold each BatchNorm into the
convolution before it (`ResidualBlock._conv_bn`); inside
`batchnorm_layers_called()` they call the BatchNorm layers instead. This
traces the preset's decoder both ways on the same codes, checks that the
two agree, and times them alternately (`--rounds`, each the best of
`--calls` calls): the median per-round ratio unfolded / folded.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def measure(name, batch, rounds, calls):
    import tensorflow as tf

    import keras_cvae
    from keras_cvae.layers.residual_block import batchnorm_layers_called

    vae = keras_cvae.VAE.from_preset(name)
    codes = tf.random.stateless_normal((batch, vae.latent_dim), seed=(0, 0))

    @tf.function
    def folded(z):
        return vae.decoder(z, training=False)[0]

    @tf.function
    def unfolded(z):
        return vae.decoder(z, training=False)[0]

    folded.get_concrete_function(codes)
    with batchnorm_layers_called():  # traced here: calls the BatchNorm layers
        unfolded.get_concrete_function(codes)
    difference = float(tf.reduce_max(tf.abs(folded(codes) - unfolded(codes))))

    def best_seconds(function):
        function(codes).numpy()
        best = float("inf")
        for _ in range(calls):
            start = time.perf_counter()
            function(codes).numpy()
            best = min(best, time.perf_counter() - start)
        return best

    times = {"folded": [], "unfolded": []}
    for index in range(rounds):
        order = ("folded", "unfolded") if index % 2 == 0 else ("unfolded", "folded")
        for label in order:
            times[label].append(best_seconds(folded if label == "folded" else unfolded))
    ratio = statistics.median(u / f for u, f in zip(times["unfolded"], times["folded"]))
    print(f"{name}: {batch} codes; max |folded - unfolded| {difference:.1e}; "
          f"unfolded {1e3 * statistics.median(times['unfolded']):.1f} ms, "
          f"folded {1e3 * statistics.median(times['folded']):.1f} ms; "
          f"unfolded / folded {ratio:.2f} (median of {rounds} rounds)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", default=["digits_bottleneck", "photo_patches_bottleneck"])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--calls", type=int, default=3)
    args = parser.parse_args()
    for name in args.presets:
        measure(name, args.batch, args.rounds, args.calls)


if __name__ == "__main__":
    main()
