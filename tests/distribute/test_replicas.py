"""Two replicas (two logical CPUs, MirroredStrategy) compute what one device computes.

The runs happen once, in `two_replicas.py` in a fresh process; these tests
read its arrays. Tolerances: the two runs add the same float32 numbers in a
different order (two half-batch sums, then an all-reduce, in the loss,
BatchNorm's statistics and the gradients), so they differ by rounding only:
a few float32 ulps (~1e-7 relative), amplified by the BatchNorm division
and the chain rule to ~1e-6 of a step. We allow 1e-4 of the largest update
of each variable and 1e-5 relative on the metrics; the controls (plain
BatchNorm) are off by 1e-2 to 1, and per-replica batch means instead of
global ones (free bits) by 5e-4.
"""

import numpy as np
import pytest

from tests.distribute.conftest import run_script

STEP_RTOL = 1e-4
METRIC_RTOL = 1e-5
# Five steps with the default BatchNorms ("auto"), of each variable's largest
# magnitude: measured <= 1.1e-6 by hand and up to 3e-4 on the digits_basic
# preset (its σ(z) of about 0.001 on the empty background gives gradients near
# 1e6, which amplify the two devices' different summation orders); the same
# runs with each replica's own statistics are off by 2e-2 (preset) to 0.2 (by hand).
AUTO_RTOL = 1e-3


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("two_replicas") / "results.npz"
    run_script("two_replicas.py", out, timeout=400)
    return dict(np.load(out))


def steps(runs, prefix, reference="elbo/one"):
    """`{variable: (one-device update, two-replica update)}`."""
    pairs = {}
    for key, before in runs.items():
        if key.startswith(f"{reference}/before/"):
            name = key.split("/before/")[1]
            pairs[name] = (runs[f"{reference}/after/{name}"] - before, runs[f"{prefix}/after/{name}"] - before)
    return pairs


def relative_step_errors(pairs):
    return {name: np.max(np.abs(two - one)) / np.max(np.abs(one)) for name, (one, two) in pairs.items()}


@pytest.mark.parametrize("config", ["elbo", "free_bits"])
def test_one_step_on_two_replicas_equals_one_step_on_one_device(runs, config):
    for key in runs:  # the same starting point
        if key.startswith(f"{config}/one/before/"):
            np.testing.assert_array_equal(runs[key], runs[key.replace("/one/", "/two/")])
    pairs = steps(runs, f"{config}/two", reference=f"{config}/one")
    assert all(np.max(np.abs(one)) > 0 for one, _ in pairs.values()), "every variable moves"
    errors = relative_step_errors(pairs)
    assert max(errors.values()) < STEP_RTOL, errors
    for name in ("loss", "reconstruction", "kl"):
        np.testing.assert_allclose(
            runs[f"{config}/two/fit/{name}"], runs[f"{config}/one/fit/{name}"], rtol=METRIC_RTOL
        )


def test_plain_batchnorm_is_the_trap_the_equivalence_test_catches(runs):
    errors = relative_step_errors(steps(runs, "unsynchronized/two"))
    assert max(errors.values()) > 100 * STEP_RTOL
    # ... and each replica's moving statistics drift from its own half batch.
    per_replica = runs["unsynchronized/two/moving_variance_per_replica"]
    assert not np.allclose(per_replica[0], per_replica[1], rtol=1e-6, atol=0)
    np.testing.assert_array_equal(*runs["elbo/two/moving_variance_per_replica"])


def test_evaluate_under_the_strategy_reports_the_single_device_metrics(runs):
    # 13 images in batches of 6, so the last batch is split 1 / 0.
    for name in ("loss", "reconstruction", "kl"):
        np.testing.assert_allclose(
            runs[f"elbo/two/evaluate/{name}"], runs[f"elbo/one/evaluate/{name}"], rtol=METRIC_RTOL
        )


def test_each_replica_draws_its_own_reproducible_noise(runs):
    same_images = runs["noise/same_images"]  # (replica, example): the same 4 images on each
    assert np.all(np.abs(same_images[0] - same_images[1]) > 1e-3 * np.abs(same_images[0]))
    np.testing.assert_array_equal(same_images, runs["noise/same_images_again"])


def test_split_batch_gets_the_noise_of_the_whole_batch_on_one_device(runs):
    np.testing.assert_allclose(runs["noise/halves"], runs["noise/one_device"], rtol=1e-6)


@pytest.mark.parametrize("source, batchnorms", [("by_hand", 4), ("preset", 8)])
def test_default_batchnorm_is_synchronized_under_two_replicas(runs, source, batchnorms):
    """Built by hand or from a preset (whose config says `synchronized: false`) with no word
    about synchronization: 5 steps leave both replicas the same statistics and the
    one-device weights."""
    per_replica = {key: value for key, value in runs.items()
                   if key.startswith(f"auto/{source}/two/per_replica/")}
    assert len(per_replica) == 2 * batchnorms  # moving mean and variance of each
    for key, (first, second) in per_replica.items():
        np.testing.assert_array_equal(first, second, err_msg=key)
    compared = moved = 0
    for key, before in runs.items():
        if key.startswith(f"auto/{source}/one/before/"):
            np.testing.assert_array_equal(runs[key.replace("/one/", "/two/")], before, err_msg=key)
            one = runs[key.replace("/before/", "/after/")]
            two = runs[key.replace("/one/before/", "/two/after/")]
            scale = np.max(np.abs(one))
            assert np.max(np.abs(two - one)) <= AUTO_RTOL * scale, (key, np.max(np.abs(two - one)) / scale)
            compared += 1
            moved += bool(np.max(np.abs(one - before)) > 1e-3 * scale)
    assert compared == sum(1 for key in runs if key.startswith(f"auto/{source}/two/after/"))
    assert moved > compared / 2, (moved, compared)


def test_a_batch_with_a_nan_changes_nothing_on_either_replica(runs):
    """`VAE.train_step` skips the step (its `cond` runs in the cross-replica context) and puts
    back every replica's BatchNorm statistics; the NaN is in one replica's half only."""
    with_nan = {k.split("/", 2)[2]: v for k, v in runs.items() if k.startswith("nan_batch/with_nan/")}
    first_only = {k.split("/", 2)[2]: v for k, v in runs.items() if k.startswith("nan_batch/first_only/")}
    assert with_nan.keys() == first_only.keys() and any("per_replica" in k for k in with_nan)
    for name, values in with_nan.items():
        assert np.all(np.isfinite(values)), name
        np.testing.assert_array_equal(values, first_only[name], err_msg=name)
