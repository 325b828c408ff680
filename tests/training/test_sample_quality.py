"""The sample-quality judge (classifier score), the nearest-training-image distance, `sample_quality`."""

import numpy as np
import pytest

from keras_cvae.training.sample_quality import ClassifierScore
from keras_cvae.training.sample_quality import digits_judge
from keras_cvae.training.sample_quality import digits_splits
from keras_cvae.training.sample_quality import inception_score
from keras_cvae.training.sample_quality import judge_for
from keras_cvae.training.sample_quality import nearest_training_distance
from keras_cvae.training.sample_quality import sample_quality
from tests.helpers import tiny_vae


@pytest.fixture(scope="module")
def splits():
    return digits_splits()


@pytest.fixture(scope="module")
def small_vae():
    return tiny_vae(decoder_scale="linear_per_pixel")


def test_real_test_digits_score_high_and_noise_low(splits):
    _, test = splits
    judge = digits_judge()
    assert judge.score(test) > 5
    noise = np.random.default_rng(0).uniform(size=(500, 8, 8, 1))
    assert judge.score(noise) < 2


def test_score_is_between_one_and_the_number_of_classes(splits):
    train, test = splits
    judge = digits_judge()
    rng = np.random.default_rng(1)
    for images in (test[:50], train[:1] + np.zeros((20, 1, 1, 1)), rng.uniform(size=(30, 8, 8, 1))):
        assert 1 - 1e-9 <= judge.score(images) <= judge.num_classes + 1e-9


def test_inception_score_extremes():
    assert inception_score(np.eye(10)) == pytest.approx(10)
    assert inception_score(np.full((7, 10), 0.1)) == pytest.approx(1)
    assert inception_score(np.eye(10)[[3] * 5]) == pytest.approx(1)  # confident, one class
    p = np.random.default_rng(0).dirichlet(np.ones(5), size=40)
    marginal = p.mean(0)
    expected = np.exp(np.mean(np.sum(p * np.log(p / marginal), axis=1)))
    assert inception_score(p) == pytest.approx(expected)


def test_the_judge_is_deterministic_for_a_seed(splits):
    train, test = splits
    labels = np.arange(len(train)) % 3  # any labels will do: a small, quick fit
    a = ClassifierScore(train[:200], labels[:200], seed=3)
    b = ClassifierScore(train[:200], labels[:200], seed=3)
    np.testing.assert_array_equal(a.probabilities(test[:40]), b.probabilities(test[:40]))


def test_judge_for():
    assert judge_for("digits") is digits_judge()
    assert judge_for("mnist") is None and judge_for("cifar10") is None


def test_a_training_image_is_at_distance_zero(splits):
    train, _ = splits
    distances, indices = nearest_training_distance(train[[5, 700, 1436]], train, return_indices=True)
    np.testing.assert_array_equal(distances, 0.0)
    np.testing.assert_array_equal(train[indices], train[[5, 700, 1436]])


def test_distance_matches_brute_force_in_any_chunk_size():
    rng = np.random.default_rng(0)
    train, images = rng.uniform(size=(50, 4, 3)), rng.uniform(size=(23, 4, 3))
    brute = np.sqrt(((images.reshape(23, 1, -1) - train.reshape(1, 50, -1)) ** 2).sum(-1)).min(1)
    for chunk_size in (1, 7, 23, None):
        np.testing.assert_allclose(nearest_training_distance(images, train, chunk_size), brute,
                                   rtol=1e-6)


def test_sample_quality_reports_score_and_memorisation(small_vae, splits):
    train, test = splits
    quality = sample_quality(small_vae, digits_judge(), train, test[:50], num_samples=120,
                             batch_size=50)
    assert set(quality) == {"score", "median_nearest_distance",
                            "reconstruction_median_nearest_distance", "nearest_distance_ratio"}
    assert 1 <= quality["score"] <= 10
    assert quality["nearest_distance_ratio"] == pytest.approx(
        quality["median_nearest_distance"] / quality["reconstruction_median_nearest_distance"])
    again = sample_quality(small_vae, None, train, test[:50], num_samples=120, batch_size=50)
    assert again["score"] is None
    assert again["median_nearest_distance"] == quality["median_nearest_distance"]


def test_sample_quality_batches_like_one_draw(small_vae, splits):
    """With `num_samples <= batch_size` the samples are `vae.sample(num_samples, seed=seed)`'s."""
    train, test = splits
    samples = np.asarray(small_vae.sample(40, seed=4))
    expected = np.median(nearest_training_distance(samples, train))
    quality = sample_quality(small_vae, None, train, test[:10], num_samples=40, seed=4)
    assert quality["median_nearest_distance"] == pytest.approx(expected)


def test_argument_errors(small_vae, splits):
    train, test = splits
    judge = digits_judge()
    with pytest.raises(ValueError, match="`images`.*Received: images=<array of shape \\(3, 4, 4, 1\\)>"):
        judge.score(np.zeros((3, 4, 4, 1)))
    with pytest.raises(ValueError, match="`images`.*non-finite"):
        judge.score(np.full((3, 8, 8, 1), np.nan))
    with pytest.raises(ValueError, match="`labels`.*one label per image"):
        ClassifierScore(train[:10], np.arange(9))
    with pytest.raises(ValueError, match="`labels`.*at least two classes"):
        ClassifierScore(train[:10], np.zeros(10))
    with pytest.raises(ValueError, match="`probabilities`"):
        inception_score(np.ones(3))
    with pytest.raises(ValueError, match="`train_images`"):
        nearest_training_distance(test, train[:0])
    with pytest.raises(ValueError, match="`images`"):
        nearest_training_distance(test.reshape(360, 64), train)
    with pytest.raises(ValueError, match="`chunk_size`"):
        nearest_training_distance(test, train, chunk_size=0)
    with pytest.raises(ValueError, match="`num_samples`"):
        sample_quality(small_vae, judge, train, test, num_samples=0)
    with pytest.raises(ValueError, match="`test_images`"):
        sample_quality(small_vae, judge, train, test.reshape(360, 64))
    with pytest.raises(ValueError, match="`prior`"):
        sample_quality(small_vae, judge, train, test[:5], num_samples=5, prior="uniform")


def test_the_mnist5k_judge_scores_real_digits_high_and_noise_low():
    from keras_cvae.datasets.mnist5k_builder import mnist5k_arrays

    judge = judge_for("mnist5k")  # fitted once per process (cached)
    assert judge is judge_for("mnist5k") and judge.image_shape == (28, 28, 1)
    images, labels = mnist5k_arrays("test")
    test = images[:300].astype("float32") / 255.0
    assert judge.score(test) > 7
    assert np.mean(judge.classes[judge.probabilities(test).argmax(1)] == labels[:300]) > 0.9
    noise = np.random.default_rng(0).uniform(size=(300, 28, 28, 1))
    assert judge.score(noise) < 2
