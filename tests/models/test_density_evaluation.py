import math

import numpy as np
import pytest

import keras_cvae
from keras_cvae.models.density_evaluation import dequantize
from tests.helpers import digits, tiny_vae


def test_bits_per_dim_follows_from_the_nll():
    vae = tiny_vae()
    data = digits("test")[:40]
    results = keras_cvae.evaluate_density(vae, data, intensity_levels=17, num_samples=8, batch_size=16, verbose=0)
    assert results["num_examples"] == 40 and results["num_samples"] == 8
    d = 64
    expected = (results["nll"] + d * math.log(17)) / (d * math.log(2))
    assert results["bits_per_dim"] == pytest.approx(expected)
    assert results["nll"] <= results["negative_elbo"] + 0.5  # IWAE tightens the bound
    again = keras_cvae.evaluate_density(vae, data, intensity_levels=17, num_samples=8, batch_size=16, verbose=0)
    assert again == results  # seeded: dequantization and samples are reproducible


def test_dequantization_is_uniform_within_each_level():
    data = digits("test")
    x = np.asarray(dequantize(data, 17, np.array([1, 2])))
    v = np.round(data * 16)
    assert np.all(x >= v / 17) and np.all(x < (v + 1) / 17)
    offsets = (x * 17 - v).ravel()  # u, which should be U[0, 1)
    assert abs(offsets.mean() - 0.5) < 0.01 and abs(offsets.var() - 1 / 12) < 0.005
    np.testing.assert_array_equal(x, np.asarray(dequantize(data, 17, np.array([1, 2]))))
    assert not np.array_equal(x, np.asarray(dequantize(data, 17, np.array([1, 3]))))


def test_refuses_dequantized_input():
    data = (np.round(digits("test")[:8] * 16) + 0.5) / 17
    with pytest.raises(ValueError, match=r"grid of 17 intensity levels.*Received"):
        keras_cvae.evaluate_density(tiny_vae(), data.astype("float32"), intensity_levels=17, verbose=0)


def test_continuous_data_has_no_bits_per_dim():
    results = keras_cvae.evaluate_density(tiny_vae(), digits("test")[:8], num_samples=4, verbose=0)
    assert "bits_per_dim" not in results and math.isfinite(results["nll"])
