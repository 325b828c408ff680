"""GaussianMixture density baseline for the digits presets' model cards.

Fits scikit-learn's GaussianMixture (full covariances) to the digits training
split (first 1437 images), dequantized like the VAE's training data
(`(v + u) / 17`), and reports test NLL (nats per image) and bits/dim on the
last 360 images, dequantized with the same seed as `keras_cvae.evaluate_density`.

    python bench/gmm_baseline.py [--components 5] [--seed 0]
"""

import argparse
import math

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.mixture import GaussianMixture

from keras_cvae.models.density_evaluation import dequantize

LEVELS = 17


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--components", type=int, nargs="+", default=[1, 3, 5, 10])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--copies", type=int, default=10, help="dequantized copies of the training set")
    args = parser.parse_args()
    images = load_digits().images.astype("float32")[..., None] / 16.0
    train, test = images[:1437], images[1437:]
    rng = np.random.default_rng(args.seed)
    v = np.round(train * (LEVELS - 1))
    train_x = np.concatenate([(v + rng.uniform(size=v.shape)) / LEVELS for _ in range(args.copies)])
    # The same per-batch dequantization as evaluate_density(batch_size=64, seed).
    test_x = np.concatenate([
        np.asarray(dequantize(test[i:i + 64], LEVELS, tf.random.experimental.stateless_fold_in(
            tf.constant([args.seed, 0], "int64"), tf.constant(i // 64, "int64"))))
        for i in range(0, len(test), 64)])
    dims = 64
    for k in args.components:
        gmm = GaussianMixture(k, covariance_type="full", random_state=args.seed, reg_covar=1e-6)
        gmm.fit(train_x.reshape(len(train_x), -1))
        log_p = gmm.score_samples(test_x.reshape(len(test_x), -1))
        bits = -(log_p.mean() - dims * math.log(LEVELS)) / (dims * math.log(2))
        print(f"components={k:3d}  test NLL {-log_p.mean():8.2f} nats  bits/dim {bits:.3f}")


if __name__ == "__main__":
    main()
