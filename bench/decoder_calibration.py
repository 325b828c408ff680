"""Where a pretrained preset's bits go: flat versus other pixels, training versus test images.

For each split, every image is reconstructed at its posterior mean (`g(f(x))`, `σ(f(x))`) and
each pixel's negative log-density under the decoder is measured on the dequantized image (the
Gaussian, mixed with the uniform density at the decoder's `outlier_probability`). Pixels are
split into "flat" (level 0: MNIST's empty background; for RGB, all channels 0) and the rest.
The table shows, per split, the bits/dim of these reconstructions (no KL term: a lower bound on
the −ELBO's share), the mean negative log-density in nats of each kind of pixel, the median σ of
each kind, and the share of pixels the decoder misses by more than 6 σ with the share of the
negative log-likelihood (above the uniform density's) that they carry. A decoder whose σ is well
calibrated shows the same figures on both splits; an overconfident one shows a few test pixels
carrying much of the test cost.

    python bench/decoder_calibration.py [--presets mnist5k_basic photo_patches_bottleneck]
                                        [--num-images 1000] [--seed 0]
"""

import argparse
import math

import numpy as np

import keras_cvae
from keras_cvae.models.density_evaluation import bits_per_dim
from keras_cvae.utils import format_table

HEADER = ("preset", "split", "recon bits/dim", "flat px nats", "other px nats", "median σ flat",
          "median σ other", "px > 6σ", "their NLL share")


def split_figures(vae, images, levels, seed):
    """The row figures of one split: images `v / (L - 1)`, dequantized here with `seed`."""
    values = np.round(images * (levels - 1))
    noisy = ((values + np.random.default_rng(seed).random(values.shape)) / levels).astype("float32")
    mean, scale = [], []
    for start in range(0, len(noisy), 250):
        z_mean, _ = vae.encode(noisy[start:start + 250])
        batch_mean, batch_scale = vae.decode(z_mean)
        mean.append(np.asarray(batch_mean))
        scale.append(np.broadcast_to(np.asarray(batch_scale), np.shape(batch_mean)))
    mean, scale = np.concatenate(mean), np.concatenate(scale)
    nll = np.log(scale) + 0.5 * math.log(2 * math.pi) + 0.5 * ((noisy - mean) / scale) ** 2
    eps = vae.decoder.outlier_probability
    if eps:  # each pixel's density (1 − ε) N + ε U[0, 1]
        nll = -np.logaddexp(math.log1p(-eps) - nll, math.log(eps))
    flat = np.broadcast_to((values == 0).all(axis=-1, keepdims=True), values.shape)
    above_uniform = nll + math.log(levels)  # nats above the uniform density's, per pixel
    missed = np.abs(noisy - mean) > 6 * scale
    per_image = nll.reshape(len(nll), -1).sum(axis=1)
    dims = nll[0].size
    return [
        f"{bits_per_dim(-per_image.mean(), dims, levels):.3f}",
        f"{nll[flat].mean():.2f}" if flat.any() else "-",
        f"{nll[~flat].mean():.2f}",
        f"{np.median(scale[flat]):.4f}" if flat.any() else "-",
        f"{np.median(scale[~flat]):.4f}",
        f"{100 * missed.mean():.3f}%",
        f"{100 * above_uniform[missed].sum() / above_uniform.sum():.0f}%",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["mnist5k_basic", "photo_patches_bottleneck"])
    parser.add_argument("--num-images", type=int, default=1000,
                        help="images per split, spread evenly over it")
    parser.add_argument("--seed", type=int, default=0, help="dequantization noise")
    args = parser.parse_args()
    rows = [HEADER]
    for name in args.presets:
        vae = keras_cvae.VAE.from_preset(name)
        metadata = keras_cvae.zoo.read_metadata(name)
        levels = metadata["intensity_levels"]
        for split in ("train", "test"):
            images = keras_cvae.datasets.load(metadata["dataset"]["name"], f"{split}", batch_size=500)
            images = np.concatenate(list(images.as_numpy_iterator()))
            spread = np.linspace(0, len(images) - 1, min(args.num_images, len(images)))
            images = images[np.round(spread).astype(int)]  # spread over the split's photos
            rows.append((name, split, *split_figures(vae, images, levels, args.seed)))
    print(format_table(rows))


if __name__ == "__main__":
    main()
