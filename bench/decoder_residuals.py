"""How much correlation a decoder leaves in its residuals, at the codes it infers.

Each image of a preset's splits is reconstructed at its posterior mean, `g(f(x))` and `σ(f(x))`,
and its whitened residual `w = B⁻¹ (x − g) / σ` (dequantized `x`, flattened to D values; `B = I +
V Vᵀ` for a decoder with a `residual_rank`, else `I`) is scored three ways, every covariance
fitted to the training images' residuals:

- the decoder's: `w ~ N(0, I)`, the decoder's own density (without an outlier mixture);
- full: `u ~ N(0, C + ridge I)`, C the training residuals' covariance;
- PPCA q: `u ~ N(0, W Wᵀ + s² I)`, probabilistic PCA with q components;

plus `Σ log σ + log det B`, so every row is a density of `x` given the code. The table shows bits/dim of
these reconstruction densities (no KL term) on the training images and the test split: how much
a decoder noise model with correlated pixels (full or low-rank plus diagonal) could gain over
the diagonal one at the same codes.

    python bench/decoder_residuals.py [--presets photo_patches_bottleneck] [--num-train 4000]
"""

import argparse
import math

import numpy as np

import keras_cvae
from keras_cvae.models.density_evaluation import bits_per_dim
from keras_cvae.utils import format_table


def dequantized(name, split, levels, limit, seed):
    images = keras_cvae.datasets.load(name, split, batch_size=500)
    images = np.concatenate(list(images.as_numpy_iterator()))
    rng = np.random.default_rng(seed)
    if limit and len(images) > limit:
        images = images[rng.permutation(len(images))[:limit]]
    values = np.round(images * (levels - 1))
    return ((values + rng.random(values.shape)) / levels).astype("float32")


def residuals(vae, images):
    """`(w, log σ)`, both `(N, D)`: whitened residuals at the posterior means.

    `log σ` carries `log det B / D` in every entry, so that its sum is the log-determinant.
    """
    means, scales = [], []
    for start in range(0, len(images), 250):
        mean, scale = vae.decode(vae.encode(images[start:start + 250])[0])
        means.append(np.asarray(mean, "float64"))
        scales.append(np.broadcast_to(np.asarray(scale, "float64"), means[-1].shape))
    mean, scale = np.concatenate(means), np.concatenate(scales)
    flat = (len(images), -1)
    u, log_sigma = ((images - mean) / scale).reshape(flat), np.log(scale).reshape(flat)
    if vae.decoder.residual_rank:
        v = vae.decoder.residual_factor.numpy().astype("float64")
        m = np.eye(v.shape[1]) + v.T @ v
        u = u - (u @ v) @ np.linalg.solve(m, v.T)  # B⁻¹u, Woodbury
        log_sigma = log_sigma + np.linalg.slogdet(m)[1] / u.shape[1]
    return u, log_sigma


def gaussian_nll(u, log_sigma, covariance):
    """Mean `−log N(u; 0, covariance) + Σ log σ` over images, nats."""
    cholesky = np.linalg.cholesky(covariance)
    whitened = np.linalg.solve(cholesky, u.T)
    log_det = 2 * np.log(np.diag(cholesky)).sum()
    dims = u.shape[1]
    return float(np.mean(0.5 * (whitened**2).sum(0) + 0.5 * log_det + log_sigma.sum(1)
                         + 0.5 * dims * math.log(2 * math.pi)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["photo_patches_bottleneck"])
    parser.add_argument("--num-train", type=int, default=4000,
                        help="training images the covariances are fitted to (a random subset)")
    parser.add_argument("--ridges", type=float, nargs="+", default=[1e-2, 1e-1])
    parser.add_argument("--pca-components", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from sklearn.decomposition import PCA

    rows = [("preset", "residual model", "train bits/dim", "test bits/dim")]
    for name in args.presets:
        vae = keras_cvae.VAE.from_preset(name)
        metadata = keras_cvae.zoo.read_metadata(name)
        levels, dataset = metadata["intensity_levels"], metadata["dataset"]["name"]
        splits = {split: residuals(vae, dequantized(dataset, split, levels, limit, args.seed))
                  for split, limit in (("train", args.num_train), ("test", None))}
        dims = splits["train"][0].shape[1]

        def bits(nll):
            return f"{bits_per_dim(-nll, dims, levels):.3f}"

        identity = np.eye(dims)
        rows.append((name, "the decoder's",
                     *(bits(gaussian_nll(u, s, identity)) for u, s in splits.values())))
        covariance = np.cov(splits["train"][0], rowvar=False)
        for ridge in args.ridges:
            rows.append((name, f"full covariance + {ridge:g} I", *(
                bits(gaussian_nll(u, s, covariance + ridge * identity)) for u, s in splits.values())))
        for q in args.pca_components:
            pca = PCA(q).fit(splits["train"][0])
            rows.append((name, f"PPCA q={q}", *(
                bits(-pca.score_samples(u).mean() + s.sum(1).mean()) for u, s in splits.values())))
    print(format_table(rows))


if __name__ == "__main__":
    main()
