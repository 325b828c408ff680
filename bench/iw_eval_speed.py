"""Speed of importance-weighted evaluation (`keras_cvae.evaluate_density`) against the FLOP bound.

    python bench/iw_eval_speed.py                                  # digits_basic, K = 1000
    python bench/iw_eval_speed.py --presets digits_basic mnist5k_basic --num-samples 1000
    python bench/iw_eval_speed.py --num-images 120 --rounds 3

For each pretrained preset, evaluates the first --num-images test images of
its dataset with `evaluate_density(..., num_samples=K)` (the negative ELBO
and the K-sample importance-weighted NLL, under the fitted prior and under
N(0, I), as `keras-cvae evaluate` and the zoo trainer do) and prints images ×
samples per second. FLOPs are counted from the architecture: multiply-adds ×
2 of every convolution and dense layer, the decoder K times per image and
the encoder once for the importance weights, plus one encoder and decoder
pass per prior for the ELBO. The fraction of the bound is the achieved
GFLOP/s over the fp32 throughput of a large `tf.matmul` measured in the same
process between the rounds (median of the rounds, the spread in brackets;
the machine is shared and noisy). As a profile of what bounds it, the
decoder's forward pass alone is timed too, on one chunk of codes of the size
the evaluation decodes at once (`IMAGES_PER_CHUNK`), best of the rounds: an
evaluation as fast as its decoder spends nothing elsewhere.
"""

import argparse
import math
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# As `keras-cvae evaluate` runs: TensorFlow's oneDNN kernels on unless the environment says otherwise.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import numpy as np  # noqa: E402 (after the environment TensorFlow reads at import)
import tensorflow as tf  # noqa: E402

import keras_cvae  # noqa: E402
from keras_cvae import datasets  # noqa: E402
from keras_cvae.models.importance_weighting import IMAGES_PER_CHUNK  # noqa: E402
from keras_cvae.zoo import PRESETS  # noqa: E402
from train_speed import encoder_decoder_flops  # noqa: E402
from train_speed import matmul_gflops  # noqa: E402


def architecture(vae):
    """The VAE's architecture as a `train_speed.CASES`-style dict, for its FLOP count.

    The convnet hyper-parameters are the encoder's (every preset's decoder has the same).
    """
    net = vae.encoder.conv_net.get_config()
    return dict(image_shape=tuple(vae.image_shape), latent_dim=vae.latent_dim,
                posterior=vae.encoder.posterior, decoder_scale=vae.decoder.decoder_scale,
                **{key: net[key] for key in ("block", "depth", "channels", "bottleneck_channels",
                                             "kernel_size")})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", default=["digits_basic"])
    parser.add_argument("--num-samples", type=int, default=1000, help="K (default: 1000)")
    parser.add_argument("--num-images", type=int, default=360,
                        help="test images evaluated per round (default: 360)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    for name in args.presets:
        vae = keras_cvae.VAE.from_preset(name)
        test = np.concatenate([np.asarray(batch) for batch in
                               datasets.load(PRESETS[name]["dataset"], "test", batch_size=1024)])
        images = test[:args.num_images]
        levels = keras_cvae.zoo.read_metadata(name)["intensity_levels"]
        priors = 1 if isinstance(vae.prior, keras_cvae.StandardNormalPrior) else 2
        encoder_flops, decoder_flops = encoder_decoder_flops(architecture(vae))
        flops = args.num_samples * decoder_flops + encoder_flops + priors * (encoder_flops + decoder_flops)
        # Warm-up: traces the evaluation once.
        keras_cvae.evaluate_density(vae, images[:args.batch_size], levels, args.num_samples,
                                    batch_size=args.batch_size, verbose=0)
        rates, peaks = [], []
        for _ in range(args.rounds):
            start = time.perf_counter()
            keras_cvae.evaluate_density(vae, images, levels, args.num_samples,
                                        batch_size=args.batch_size, verbose=0)
            rates.append(len(images) * args.num_samples / (time.perf_counter() - start))
            peaks.append(matmul_gflops(seconds=0.5))
        rate, peak = statistics.median(rates), statistics.median(peaks)
        gflops = rate / args.num_samples * flops / 1e9
        decoder_gflops = decoder_rate(vae, args.rounds) * decoder_flops / 1e9
        print(f"{name}: {len(images)} images x K = {args.num_samples}, batch {args.batch_size}, "
              f"{flops / args.num_samples / 1e6:.2f} MFLOP per image x sample; "
              f"{rate:,.0f} images x samples/s ({min(rates):,.0f}-{max(rates):,.0f}); "
              f"{gflops:.1f} GFLOP/s = {gflops / peak:.0%} of fp32 matmul "
              f"{peak:.1f} GFLOP/s ({min(peaks):.0f}-{max(peaks):.0f}); "
              f"{len(images) * args.num_samples / rate:.1f} s per round; the decoder alone on "
              f"{IMAGES_PER_CHUNK} codes: {decoder_gflops:.1f} GFLOP/s = {decoder_gflops / peak:.0%}",
              flush=True)


def decoder_rate(vae, rounds):
    """Codes per second of the decoder's forward pass alone, at the evaluation's chunk size."""
    codes = tf.random.normal((IMAGES_PER_CHUNK, vae.latent_dim), seed=0)

    @tf.function
    def decode(z):
        mean, scale = vae.decoder(z, training=False)
        return tf.reduce_sum(mean) + tf.reduce_sum(scale)

    np.asarray(decode(codes))
    best = math.inf
    for _ in range(max(3, rounds)):
        start = time.perf_counter()
        np.asarray(decode(codes))
        best = min(best, time.perf_counter() - start)
    return IMAGES_PER_CHUNK / best


if __name__ == "__main__":
    main()
