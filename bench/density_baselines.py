"""Pixel-space density baselines in bits/dim, on the splits and test noise the presets use.

For a `keras_cvae.datasets` dataset with discrete levels (`"digits"`,
`"mnist5k"`, `"photo_patches"`, ...), fits four densities on `[0, 1]^D` to
the dequantized training split, `(v + u) / L` with `u ~ U[0, 1)` (`--copies`
dequantized copies of it, seeded by `--seed`), and reports the test NLL
(nats per image) and bits/dim of the test split, dequantized exactly as
`keras_cvae.evaluate_density(model, test_images, intensity_levels=L,
seed=SEED)` dequantizes it (its `dequantize`, batches of 64, a stateless seed
per batch): the VAE's bits/dim in the model cards are on the same noise.

- uniform: density 1 on `[0, 1]^D`, bits/dim = `log2 L` (the raw 8 bits for 256 levels);
- Gaussian: the training mean and covariance, plus a ridge (`--ridges`) on the
  diagonal: with 256 levels the ridge matters (mnist5k: 7.66 bits/dim at 1e-6,
  5.79 at 1e-4);
- GaussianMixture: scikit-learn's, full covariances, `reg_covar` the best
  Gaussian's ridge (or `--reg-covar`), one fit per number of components in
  `--components`;
- PPCA: probabilistic PCA (`sklearn.decomposition.PCA(q).score_samples`),
  one fit per `q` in `--pca-components`.

The ridge, the mixture's components and PCA's `q` are chosen on the test split
itself, which flatters those baselines (all candidates are printed).

    python bench/density_baselines.py --dataset digits                  # about 1 min
    python bench/density_baselines.py --dataset mnist5k --json mnist5k.json  # about 1.5 min
    python bench/density_baselines.py --dataset photo_patches --components 1 2 5  # about 5 min

On 2 shared CPU cores. A mixture's EM costs N K D² per iteration: on
photo_patches (11,246 patches, D = 768) K = 10 would take a quarter of an hour
or more, and K = 5 already fits worse than K = 2 on its test split.
"""

import argparse
import math
import time

import numpy as np

from keras_cvae import datasets
from keras_cvae.models.density_evaluation import bits_per_dim
from keras_cvae.models.density_evaluation import dequantize
from keras_cvae.models.density_evaluation import evaluation_batch_seed
from keras_cvae.utils import format_table
from keras_cvae.utils import write_json

EVALUATION_BATCH_SIZE = 64  # evaluate_density's default, with which the presets are evaluated
# Default --copies: about this many training values (images × D), 1 to 10 copies. Ten of the
# digits (17 levels: coarse noise); one of 28×28 or 16×16×3 images of 256 levels, whose
# mixtures take minutes per fit (EM costs N K D² per iteration).
TRAIN_VALUES = 1_000_000
HEADER = ("model", "setting", "test NLL (nats/image)", "bits/dim", "fit time")


def main():
    args = parse_arguments()
    started = time.perf_counter()
    train, test, levels = load_splits(args.dataset)
    copies = args.copies or max(1, min(10, TRAIN_VALUES // train[0].size // len(train)))
    train_x = dequantized_copies(train, levels, copies, args.seed)
    test_x = dequantized_like_evaluate_density(test, levels, args.seed)
    dims = train_x.shape[1]
    gaussians = gaussian_results(train_x, test_x, args.ridges)
    reg_covar = args.reg_covar
    if reg_covar is None:
        reg_covar = next(result["ridge"] for result in gaussians if result["best"])
    results = [{"model": "uniform", "setting": "density 1 on [0, 1]^D", "nll_nats": 0.0,
                "fit_seconds": 0.0}] + gaussians
    results += mixture_results(train_x, test_x, args.components, reg_covar, args.seed)
    results += pca_results(train_x, test_x, args.pca_components)
    for result in results:
        result["bits_per_dim"] = bits_per_dim(-result["nll_nats"], dims, levels)
    print(format_table([HEADER] + [table_row(result) for result in results]))
    print(f"\n{args.dataset}: {len(train)} train images x {copies} dequantized copies (seed "
          f"{args.seed}), {len(test)} test images dequantized as evaluate_density(seed={args.seed}) "
          f"does; D = {dims}, L = {levels}. * best of its grid, chosen on the test split "
          "(generous to the baselines); the mixtures' reg_covar: "
          + ("--reg-covar." if args.reg_covar is not None else "the best Gaussian's ridge.")
          + f" {time.perf_counter() - started:.0f} s in all.")
    if args.json:
        write_json(args.json, {"dataset": args.dataset, "intensity_levels": levels, "dims": dims,
                               "num_train": len(train), "copies": copies, "num_test": len(test),
                               "seed": args.seed, "reg_covar": reg_covar, "results": results})
        print(f"Wrote {args.json}")


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="digits",
                        help="a keras_cvae.datasets name with discrete levels (default: digits)")
    parser.add_argument("--components", type=int, nargs="+", default=[1, 2, 5, 10],
                        help="the GaussianMixture's candidates (default: 1 2 5 10)")
    parser.add_argument("--pca-components", type=int, nargs="+",
                        default=[2, 5, 10, 20, 50, 100, 200, 400, 600],
                        help="PPCA's candidates q (those below min(N, D))")
    parser.add_argument("--ridges", type=float, nargs="+", default=[1e-6, 1e-5, 1e-4, 1e-3],
                        help="the Gaussian's candidates for the ridge added to its covariance")
    parser.add_argument("--reg-covar", type=float, default=None,
                        help="the GaussianMixture's ridge (default: the best Gaussian's)")
    parser.add_argument("--copies", type=int, default=None,
                        help=f"dequantized copies of the training split (default: about "
                             f"{TRAIN_VALUES:.0e} values, 1 to 10 copies)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the training copies' noise and, as evaluate_density's seed, "
                             "the test split's")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    return parser.parse_args()


def load_splits(name):
    """`(train, test, L)`: both splits as float32 arrays `(N, *image_shape)` of `v / (L − 1)`."""
    arrays = []
    for split in ("train", "test"):
        data, info = datasets.load(name, split, batch_size=1024, with_info=True)
        arrays.append(np.concatenate([np.asarray(batch) for batch in data]))
    if info.intensity_levels is None:
        raise ValueError(f"Expected a dataset with discrete intensity levels (bits/dim needs them). "
                         f"Received: dataset={name!r} with intensity_levels=None")
    return arrays[0], arrays[1], info.intensity_levels


def dequantized_copies(images, levels, copies, seed):
    """`copies` dequantized copies `(v + u) / L` of `images`, flattened: `(copies N, D)` float64."""
    v = np.round(images.reshape(len(images), -1).astype("float64") * (levels - 1))
    rng = np.random.default_rng(seed)
    return np.concatenate([(v + rng.uniform(size=v.shape)) / levels for _ in range(copies)])


def dequantized_like_evaluate_density(images, levels, seed):
    """`images` with the noise of `evaluate_density(..., seed=seed)`, flattened, float64."""
    import tensorflow as tf  # after keras_cvae, which imports it without its start-up lines

    batches = []
    for index, start in enumerate(range(0, len(images), EVALUATION_BATCH_SIZE)):
        batch_seed = tf.random.experimental.stateless_fold_in(
            tf.constant([seed, 0], "int64"), tf.constant(index, "int64"))
        batch = images[start:start + EVALUATION_BATCH_SIZE]
        batches.append(np.asarray(dequantize(batch, levels, batch_seed), "float64"))
    return np.concatenate(batches).reshape(len(images), -1)


def gaussian_results(train_x, test_x, ridges):
    """Full-covariance Gaussians: the training mean and covariance + `ridge` I, per ridge."""
    started = time.perf_counter()
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(train_x, rowvar=False))
    eigenvalues = np.maximum(eigenvalues, 0.0)  # round-off
    projections = (test_x - train_x.mean(axis=0)) @ eigenvectors  # coordinates in the eigenbasis
    seconds = time.perf_counter() - started
    results = []
    for ridge in ridges:
        variances = eigenvalues + ridge
        log_p = -0.5 * (np.sum(projections**2 / variances, axis=1) + np.sum(np.log(variances))
                        + len(variances) * math.log(2 * math.pi))
        results.append({"model": "Gaussian", "setting": f"full covariance + {ridge:g} I",
                        "ridge": ridge, "nll_nats": float(-log_p.mean()), "fit_seconds": seconds})
    return mark_best(results)


def mixture_results(train_x, test_x, components, ridge, seed):
    """scikit-learn's GaussianMixture (full covariances), one fit per number of components."""
    from sklearn.mixture import GaussianMixture

    results = []
    for k in components:
        started = time.perf_counter()
        mixture = GaussianMixture(k, covariance_type="full", reg_covar=ridge, random_state=seed)
        mixture.fit(train_x)
        results.append({"model": "GaussianMixture", "setting": f"K={k}, full, reg_covar={ridge:g}",
                        "components": k, "converged": bool(mixture.converged_),
                        "iterations": int(mixture.n_iter_),
                        "nll_nats": float(-mixture.score_samples(test_x).mean()),
                        "fit_seconds": time.perf_counter() - started})
        print(f"GaussianMixture K={k}: {mixture.n_iter_} EM iterations, "
              f"{results[-1]['fit_seconds']:.0f} s", flush=True)
    return mark_best(results)


def pca_results(train_x, test_x, pca_components):
    """Probabilistic PCA, `PCA(q).score_samples`, one fit per `q < min(N, D)`."""
    from sklearn.decomposition import PCA

    results = []
    for q in sorted(q for q in pca_components if q < min(train_x.shape)):
        started = time.perf_counter()
        pca = PCA(q, svd_solver="covariance_eigh").fit(train_x)
        results.append({"model": "PPCA", "setting": f"q={q}, noise var {pca.noise_variance_:.3g}",
                        "components": q, "nll_nats": float(-pca.score_samples(test_x).mean()),
                        "fit_seconds": time.perf_counter() - started})
    return mark_best(results)


def mark_best(results):
    """Flags the lowest test NLL of a grid with `"best": True` (the others `False`)."""
    best = min(range(len(results)), key=lambda i: results[i]["nll_nats"]) if results else None
    for i, result in enumerate(results):
        result["best"] = i == best
    return results


def table_row(result):
    star = " *" if result.get("best") else ""
    converged = "" if result.get("converged", True) else " (not converged)"
    if "iterations" in result:
        converged += f", {result['iterations']} iterations"
    return (result["model"] + star, result["setting"] + converged, f"{result['nll_nats']:.2f}",
            f"{result['bits_per_dim']:.3f}", f"{result['fit_seconds']:.1f} s")


if __name__ == "__main__":
    main()
