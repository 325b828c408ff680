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


def encoder_decoder_flops(vae):
    """Forward FLOPs per image `(encoder, decoder)` of a `keras_cvae.VAE`, from its config."""
    encoder, decoder = vae.encoder, vae.decoder
    *spatial, channels_in = vae.image_shape
    pixels, z = math.prod(spatial), encoder.latent_dim

    def conv_net_flops(conv_net):
        config = conv_net.get_config()
        c, d, k = config["channels"], config["bottleneck_channels"], config["kernel_size"]
        if config["block"] == "basic":
            block = 2 * (2 * pixels * k ** len(spatial) * c * c)
        else:
            block = 2 * pixels * (c * d + k ** len(spatial) * d * d + d * c)
        return c, config["depth"] * block

    c, encoder_blocks = conv_net_flops(encoder.conv_net)
    scale_outputs = z * (z + 1) // 2 if encoder.posterior == "full" else z
    encoder_flops = 2 * pixels * channels_in * c + encoder_blocks + 2 * pixels * c * (z + scale_outputs)
    c, decoder_blocks = conv_net_flops(decoder.conv_net)
    # The mean's 1×1 convolution, and σ(z)'s when the decoder has one.
    heads = 2 if decoder.decoder_scale in ("linear", "linear_per_pixel") else 1
    decoder_flops = 2 * z * pixels * c + decoder_blocks + heads * 2 * pixels * c * channels_in
    return encoder_flops, decoder_flops


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", default=["digits_basic"])
    parser.add_argument("--num-samples", type=int, default=1000, help="K (default: 1000)")
    parser.add_argument("--num-images", type=int, default=360,
                        help="test images evaluated per round (default: 360)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import numpy as np

    import keras_cvae
    from keras_cvae import datasets
    from keras_cvae.zoo import PRESETS
    from train_speed import matmul_gflops

    from keras_cvae.models.importance_weighting import IMAGES_PER_CHUNK

    for name in args.presets:
        vae = keras_cvae.VAE.from_preset(name)
        test = np.concatenate([np.asarray(batch) for batch in
                               datasets.load(PRESETS[name]["dataset"], "test", batch_size=1024)])
        images = test[:args.num_images]
        levels = keras_cvae.zoo.read_metadata(name)["intensity_levels"]
        priors = 1 if isinstance(vae.prior, keras_cvae.StandardNormalPrior) else 2
        encoder_flops, decoder_flops = encoder_decoder_flops(vae)
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
    import numpy as np
    import tensorflow as tf

    from keras_cvae.models.importance_weighting import IMAGES_PER_CHUNK

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
