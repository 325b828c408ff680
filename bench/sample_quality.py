"""Sample quality of the pretrained presets: classifier score and memorisation check, both priors.

For every pretrained preset (`keras_cvae.zoo.PRESETS`, `"pretrained": True`)
whose dataset has a judge (`keras_cvae.training.sample_quality.judge_for`:
an SVC trained on the labelled train split of `"digits"` or `"mnist5k"`,
Inception-style score `exp E[KL(p(y|x) ‖ p(y))]`) and each temperature,
scores 1000 decoder means `vae.sample()` under the model's prior as shipped
(the fitted mixture; a preset shipped without one gets `vae.fit_prior(train,
num_components=10, seed=0)` here, and its rows say so) and under
`prior="standard"` (N(0, I)). The splits are those of the preset's registry
dataset, `keras_cvae.datasets.load(dataset, "train" | "test")`; one table per
dataset. References: the real test images, the test reconstructions, and
samples of a pixel-space GaussianMixture (5 full-covariance components
fitted to the train split, clipped to [0, 1]).

Memorisation: `ratio` is the median distance of the samples to their nearest
training image over that of the test reconstructions (decoder means of
images the model never saw); copies of training images give well below 1
(the reconstructions of the training images, shown too, sit at about 0.4 on
the digits).

    python bench/sample_quality.py [--presets NAME ...] [--temperatures 1.0 0.8]
                                   [--num-samples 1000] [--seed 0]
    python bench/sample_quality.py --presets mnist5k_basic
"""

import argparse
import time

import numpy as np
from sklearn.mixture import GaussianMixture

import keras_cvae
from keras_cvae import datasets
from keras_cvae.models.standard_normal_prior import StandardNormalPrior
from keras_cvae.training.sample_quality import JUDGES
from keras_cvae.training.sample_quality import judge_for
from keras_cvae.training.sample_quality import nearest_training_distance
from keras_cvae.training.sample_quality import sample_quality
from keras_cvae.utils import format_table
from keras_cvae.zoo import PRESETS

HEADER = ("preset", "prior", "T", "score", "score / real", "median NN dist", "recon NN dist",
          "ratio")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    pretrained = [name for name, entry in PRESETS.items() if entry["pretrained"]]
    judged = [name for name in pretrained if PRESETS[name]["dataset"] in JUDGES]
    parser.add_argument("--presets", nargs="+", default=judged, choices=pretrained,
                        help="pretrained presets (default: all whose dataset has a judge)")
    parser.add_argument("--temperatures", nargs="+", type=float, default=[1.0, 0.8])
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    unjudged = sorted({PRESETS[name]["dataset"] for name in args.presets} - set(JUDGES))
    if unjudged:
        parser.error(f"only the datasets {sorted(JUDGES)} have a judge here; received presets "
                     f"of {unjudged}")
    by_dataset = {}
    for name in args.presets:
        by_dataset.setdefault(PRESETS[name]["dataset"], []).append(name)
    for index, (dataset, names) in enumerate(by_dataset.items()):
        if index:
            print()
        dataset_table(dataset, names, args)


def dataset_table(dataset, names, args):
    """Prints the table of the presets `names` of one dataset: its references, then each preset."""
    rows, notes = [HEADER], []
    train, test = splits(dataset)
    judge = judge_for(dataset)
    real = judge.score(test)
    rows += reference_rows(judge, train, test, real, args)
    for name in names:
        started = time.perf_counter()
        rows += preset_rows(name, judge, train, test, real, args, notes)
        notes.append(f"{name}: {time.perf_counter() - started:.0f} s")
    print(f"{dataset}:")
    print(format_table(rows))
    print()
    print(f"{args.num_samples} samples per row, seed {args.seed}; score: SVC judge, "
          f"exp E[KL(p(y|x) || p(y))] ({judge.num_classes} classes); NN dist: median Euclidean "
          f"distance to the nearest of the {len(train)} training images; ratio: samples' over "
          "test reconstructions'.")
    for note in notes:
        print(note)


def splits(dataset):
    """`(train, test)` of a `keras_cvae.datasets` dataset as float32 arrays `(N, *image_shape)`."""
    return tuple(np.concatenate([np.asarray(batch) for batch in
                                 datasets.load(dataset, split, batch_size=1024)])
                 for split in ("train", "test"))


def reference_rows(judge, train, test, real, args):
    """The real test images and a pixel-space GaussianMixture's samples."""
    test_distance = np.median(nearest_training_distance(test, train))
    mixture = GaussianMixture(5, covariance_type="full", random_state=args.seed)
    mixture.fit(train.reshape(len(train), -1))
    pixels, _ = mixture.sample(args.num_samples)
    rng = np.random.default_rng(args.seed)  # GaussianMixture.sample returns them sorted by component
    pixels = np.clip(rng.permutation(pixels), 0, 1).reshape(-1, *train.shape[1:])
    gmm_score = judge.score(pixels)
    gmm_distance = np.median(nearest_training_distance(pixels, train))
    return [
        ("real test images", "-", "-", f"{real:.2f}", "1.00", f"{test_distance:.3f}", "-", "-"),
        ("pixel GMM (K=5, full)", "-", "1", f"{gmm_score:.2f}", f"{gmm_score / real:.2f}",
         f"{gmm_distance:.3f}", "-", "-"),
    ]


def reconstruction_rows(name, vae, judge, train, test, real):
    """The test reconstructions (the memorisation check's reference) and the training ones (copies)."""
    rows, distances = [], {}
    for split, images in (("test", test), ("train", train)):
        reconstructions = np.asarray(vae.reconstruct(images))
        score = judge.score(reconstructions)
        distances[split] = np.median(nearest_training_distance(reconstructions, train))
        rows.append((name, f"{split} reconstructions", "-", f"{score:.2f}", f"{score / real:.2f}",
                     f"{distances[split]:.3f}", f"{distances['test']:.3f}",
                     f"{distances[split] / distances['test']:.2f}"))
    return rows


def preset_rows(name, judge, train, test, real, args, notes):
    """Rows of one preset: its reconstructions, then both priors at every temperature."""
    vae = keras_cvae.VAE.from_preset(name)
    shipped = "fitted (shipped)"
    if isinstance(vae.prior, StandardNormalPrior):
        started = time.perf_counter()
        vae.fit_prior(train, num_components=10, seed=args.seed)
        shipped = "fitted here (K=10)"
        notes.append(f"{name}: shipped without a fitted prior; fitted one here, "
                     f"vae.fit_prior(train, num_components=10, seed={args.seed}), "
                     f"{time.perf_counter() - started:.0f} s")
    rows = reconstruction_rows(name, vae, judge, train, test, real)
    for prior, label in ((None, shipped), ("standard", "standard N(0, I)")):
        for temperature in args.temperatures:
            quality = sample_quality(vae, judge, train, test, num_samples=args.num_samples,
                                     seed=args.seed, prior=prior, temperature=temperature)
            rows.append((name, label, f"{temperature:g}", f"{quality['score']:.2f}",
                         f"{quality['score'] / real:.2f}",
                         f"{quality['median_nearest_distance']:.3f}",
                         f"{quality['reconstruction_median_nearest_distance']:.3f}",
                         f"{quality['nearest_distance_ratio']:.2f}"))
    return rows


if __name__ == "__main__":
    main()
