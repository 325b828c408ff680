"""How good a model's samples are: a classifier's Inception-style score and a memorisation check.

A sample-quality judge that is not part of the model: `ClassifierScore` fits a
scikit-learn `SVC` to labelled training images and scores a set of images
with the Inception-style score (Salimans et al. 2016)

    exp E_x[KL(p(y|x) ‖ p(y))],   p(y) = E_x p(y|x),

which is high (up to the number of classes) when every image is confidently
one class and the classes are evenly represented, and 1 when the classifier
cannot tell the images apart. `nearest_training_distance` is the memorisation
check: samples that copy training images sit much closer to them than the
reconstructions of test images (decoder means of images the model never saw)
do. `sample_quality` reports both for a VAE, as the model cards and
`bench/sample_quality.py` show them.
"""

import functools
import warnings

import numpy as np

from keras_cvae.validation import check_int
from keras_cvae.validation import check_number
from keras_cvae.validation import invalid

# The digits splits of keras_cvae.datasets: the first 1437 of sklearn's load_digits() train.
DIGITS_TRAIN_SIZE = 1437
DIGITS_SHAPE = (8, 8, 1)


class ClassifierScore:
    """A classifier of labelled images and the Inception-style score of its predictions.

    Fits `sklearn.svm.SVC(probability=True)` (RBF kernel) to the flattened
    training images. `score(images)` is `exp E_x[KL(p(y|x) ‖ p(y))]`, with
    `p(y)` the mean of `p(y|x)` over the scored images: between 1 and the
    number of classes. Deterministic for a seed (which seeds the
    cross-validated Platt scaling of the SVC's probabilities).

    Args:
        images: array `(N, *image_shape)`. Training images, finite.
        labels: array `(N,)` of class labels (at least two classes).
        seed: int. Seeds the probability calibration. Defaults to `0`.
        C: float. The SVC's regularisation. Defaults to `1.0`.

    Example:

    >>> from sklearn.datasets import load_digits
    >>> digits = load_digits()
    >>> images = digits.images[..., None] / 16
    >>> judge = keras_cvae.training.sample_quality.ClassifierScore(
    ...     images[:1437], digits.target[:1437])
    >>> judge.num_classes, judge.image_shape
    (10, (8, 8, 1))
    >>> bool(judge.score(images[1437:]) > 6)
    True
    """

    def __init__(self, images, labels, seed=0, C=1.0):
        from sklearn.svm import SVC

        images = _as_images("images", images)
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise invalid("labels", f"one label per image, shape ({len(images)},)",
                          _Shown(f"<array of shape {labels.shape}>"))
        if len(np.unique(labels)) < 2:
            raise invalid("labels", "at least two classes",
                          _Shown(f"<array of the classes {np.unique(labels).tolist()}>"))
        self.seed = check_int("seed", seed, minimum=0)
        self.C = check_number("C", C, minimum=0, minimum_inclusive=False)
        self.image_shape = images.shape[1:]
        self.classifier = SVC(C=self.C, probability=True, random_state=self.seed)
        with warnings.catch_warnings():
            # Deprecated in scikit-learn 1.9 for CalibratedClassifierCV(SVC()), whose one-vs-rest
            # sigmoids are confident on noise (uniform noise scores about 4 on the digits, against
            # 1.1 with libsvm's pairwise probabilities): kept while scikit-learn has it.
            warnings.filterwarnings("ignore", "The `probability` parameter", FutureWarning)
            self.classifier.fit(images.reshape(len(images), -1), labels)
        self.classes = self.classifier.classes_
        self.num_classes = len(self.classes)

    def probabilities(self, images):
        """`p(y|x)`: `(N, num_classes)`, rows summing to 1, columns in the order of `classes`."""
        images = _as_images("images", images, self.image_shape)
        return self.classifier.predict_proba(images.reshape(len(images), -1))

    def score(self, images):
        """The Inception-style score `exp E_x[KL(p(y|x) ‖ p(y))]` of `images`, a float."""
        return inception_score(self.probabilities(images))


def inception_score(probabilities):
    """`exp E_x[KL(p(y|x) ‖ p(y))]` from the rows `p(y|x)`, `p(y)` their mean.

    Args:
        probabilities: array `(N, num_classes)`: each row a distribution.

    Returns:
        float, between 1 (all rows equal) and `num_classes` (one-hot rows,
        every class equally often).

    Example:

    >>> from keras_cvae.training.sample_quality import inception_score
    >>> round(inception_score(np.eye(4)), 6), round(inception_score(np.full((3, 4), 0.25)), 6)
    (4.0, 1.0)
    """
    p = np.asarray(probabilities, dtype="float64")
    if p.ndim != 2 or len(p) == 0 or not np.isfinite(p).all() or (p < 0).any():
        raise invalid("probabilities", "a non-empty (N, num_classes) array of probabilities",
                      _Shown(f"<array of shape {p.shape}>"))
    p = p / p.sum(axis=1, keepdims=True)
    marginal = p.mean(axis=0)
    # 0 log 0 = 0: only the terms with p(y|x) > 0 count (and then p(y) > 0 too).
    safe = np.where(p > 0, p, 1.0)
    kl = np.sum(p * (np.log(safe) - np.log(np.where(p > 0, marginal, 1.0))), axis=1)
    return float(np.exp(np.mean(kl)))


def nearest_training_distance(images, train_images, chunk_size=None, return_indices=False):
    """The Euclidean distance of each image to its nearest training image.

    The search uses `‖a − b‖² = ‖a‖² − 2 a·b + ‖b‖²` (float64), `chunk_size`
    images at a time, so memory stays at `chunk_size × len(train_images)`
    numbers; the distance to the neighbour found is then computed exactly
    (a training image is at distance 0).

    Args:
        images: array `(N, *image_shape)`.
        train_images: array `(M, *image_shape)`, `M >= 1`.
        chunk_size: int. Images compared at once. Defaults to about 16 M
            distances per chunk.
        return_indices: bool. Also return the index of each nearest
            training image. Defaults to `False`.

    Returns:
        `(N,)` float64 distances, and with `return_indices` the `(N,)` indices.

    Example:

    >>> from keras_cvae.training.sample_quality import nearest_training_distance
    >>> train = np.array([[0.0, 0.0], [1.0, 1.0]])
    >>> nearest_training_distance(np.array([[0.0, 0.0], [1.0, 0.0], [4.0, 5.0]]), train)
    array([0., 1., 5.])
    """
    train = _as_images("train_images", train_images)
    images = _as_images("images", images, train.shape[1:])
    if chunk_size is None:
        chunk_size = max(1, 2**24 // len(train))
    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    train = train.reshape(len(train), -1).astype("float64")
    flat = images.reshape(len(images), -1).astype("float64")
    train_norms = np.sum(train**2, axis=1)
    indices = np.empty(len(flat), dtype="int64")
    for start in range(0, len(flat), chunk_size):
        chunk = flat[start:start + chunk_size]
        squared = train_norms[None, :] - 2.0 * chunk @ train.T  # + ‖a‖², the same along a row
        indices[start:start + chunk_size] = np.argmin(squared, axis=1)
    distances = np.linalg.norm(flat - train[indices], axis=1)
    return (distances, indices) if return_indices else distances


def sample_quality(vae, judge, train_images, test_images, num_samples=1000, seed=0, prior=None,
                   temperature=1.0, batch_size=500):
    """Sample quality of `vae`: the judge's score and the memorisation check.

    Draws `num_samples` decoder means `vae.sample(..., seed, temperature,
    prior)` (in batches of `batch_size`, each with a seed derived from
    `seed`) and reconstructs the test images `g(f(x))`. The memorisation check
    compares the median distance of the samples to their nearest training
    image with that of the test reconstructions: a ratio well below 1 means
    the samples sit closer to the training images than the decodings of
    unseen images do (copies); about 1 or above, they do not.

    Args:
        vae: `keras_cvae.VAE`.
        judge: `ClassifierScore` or `None` (no score: a dataset without
            labels here, see `judge_for`).
        train_images: array `(M, *image_shape)`: the model's training images.
        test_images: array `(N, *image_shape)`: images it never saw.
        num_samples: int. Defaults to `1000`.
        seed: int. Seeds the samples. Defaults to `0`.
        prior: As in `VAE.sample`: `None` (the model's prior), `"fitted"`
            or `"standard"` (`N(0, I)`). Defaults to `None`.
        temperature: float. As in `VAE.sample`. Defaults to `1.0`.
        batch_size: int. Images sampled or reconstructed at once. Defaults
            to `500`.

    Returns:
        dict: `score` (of the samples; `None` without a judge),
        `median_nearest_distance` (samples), `reconstruction_median_nearest_distance`
        (test reconstructions), and `nearest_distance_ratio`, the first over
        the second.

    Example:

    >>> from keras_cvae.training.sample_quality import digits_judge, digits_splits, sample_quality
    >>> train, test = digits_splits()
    >>> vae = keras_cvae.VAE.from_preset("digits_basic")
    >>> quality = sample_quality(vae, digits_judge(), train, test, num_samples=200)
    >>> sorted(quality)
    ['median_nearest_distance', 'nearest_distance_ratio', 'reconstruction_median_nearest_distance', 'score']
    >>> bool(1 <= quality["score"] <= 10)
    True
    """
    num_samples = check_int("num_samples", num_samples, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    train = _as_images("train_images", train_images, tuple(vae.image_shape))
    test = _as_images("test_images", test_images, tuple(vae.image_shape))
    samples = np.concatenate([
        np.asarray(vae.sample(min(batch_size, num_samples - start), seed=[seed, start],
                              temperature=temperature, prior=prior), dtype="float32")
        for start in range(0, num_samples, batch_size)])
    reconstructions = np.concatenate([
        np.asarray(vae.reconstruct(test[start:start + batch_size]), dtype="float32")
        for start in range(0, len(test), batch_size)])
    sample_distance = float(np.median(nearest_training_distance(samples, train)))
    reconstruction_distance = float(np.median(nearest_training_distance(reconstructions, train)))
    return {
        "score": None if judge is None else judge.score(samples),
        "median_nearest_distance": sample_distance,
        "reconstruction_median_nearest_distance": reconstruction_distance,
        "nearest_distance_ratio": sample_distance / reconstruction_distance,
    }


def digits_splits():
    """The digits as `keras_cvae.datasets` splits them: `(train, test)` images `(N, 8, 8, 1)`.

    scikit-learn's `load_digits()` images divided by 16 (17 levels in
    [0, 1]): the first 1437 train, the last 360 test.

    Example:

    >>> from keras_cvae.training.sample_quality import digits_splits
    >>> [split.shape for split in digits_splits()]
    [(1437, 8, 8, 1), (360, 8, 8, 1)]
    """
    images, _ = _digits()
    return images[:DIGITS_TRAIN_SIZE], images[DIGITS_TRAIN_SIZE:]


def digits_judge(seed=0):
    """The `ClassifierScore` of the digits train split (labels from `load_digits`), cached.

    Fitted once per seed (about 0.2 s) and shared: do not refit it.

    Example:

    >>> from keras_cvae.training.sample_quality import digits_judge, digits_splits
    >>> round(digits_judge().score(digits_splits()[1]), 2)
    6.78
    """
    return _digits_judge(check_int("seed", seed, minimum=0))


@functools.lru_cache(maxsize=None)
def _digits_judge(seed):
    images, labels = _digits()
    return ClassifierScore(images[:DIGITS_TRAIN_SIZE], labels[:DIGITS_TRAIN_SIZE], seed=seed)


def judge_for(dataset_name, seed=0):
    """The judge of a dataset with labels here (`"digits"`, `"mnist5k"`), else `None`.

    Example:

    >>> from keras_cvae.training.sample_quality import judge_for
    >>> type(judge_for("digits")).__name__, judge_for("mnist")
    ('ClassifierScore', None)
    """
    seed = check_int("seed", seed, minimum=0)
    if dataset_name == "digits":
        return _digits_judge(seed)
    if dataset_name == "mnist5k":
        return _mnist5k_judge(seed)
    return None


@functools.lru_cache(maxsize=None)
def _mnist5k_judge(seed):
    from keras_cvae.datasets.mnist5k_builder import mnist5k_arrays

    images, labels = mnist5k_arrays("train")
    return ClassifierScore(images / 255.0, labels, seed=seed)


def _digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (digits.images / 16.0).astype("float32")[..., None], digits.target


def _as_images(name, images, image_shape=None):
    """`images` as a finite float array `(N, *image_shape)`, `N >= 1`; a ValueError naming `name`."""
    try:
        array = np.asarray(images, dtype="float32")
    except (TypeError, ValueError):
        raise invalid(name, "an array of images", images) from None
    shape = "(N, *image_shape)" if image_shape is None else f"(N, {', '.join(map(str, image_shape))})"
    if array.ndim < 2 or len(array) == 0 or (image_shape is not None
                                             and array.shape[1:] != tuple(image_shape)):
        raise invalid(name, f"a non-empty array of images of shape {shape}",
                      _Shown(f"<array of shape {array.shape}>"))
    if not np.isfinite(array).all():
        bad = np.size(array) - np.isfinite(array).sum()
        raise invalid(name, "finite values (no NaN or inf)",
                      _Shown(f"<array of shape {array.shape} with {bad} non-finite values>"))
    return array


class _Shown(str):
    """A description of an argument, shown as it is in an error (not quoted)."""

    def __repr__(self):
        return str(self)
