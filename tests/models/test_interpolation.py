"""Latent interpolation: `interpolation_codes` (linear, spherical) and `interpolate`."""

import numpy as np
import pytest
from keras import ops

from keras_cvae.models.interpolation import interpolate
from keras_cvae.models.interpolation import interpolation_codes
from tests.helpers import tiny_vae


@pytest.fixture(scope="module")
def vae():
    return tiny_vae(decoder_scale="linear_per_pixel")


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(size=(6, 8, 8, 1)).astype("float32")


@pytest.mark.parametrize("path", ["linear", "spherical"])
def test_endpoints_are_the_decoded_posterior_means(vae, images, path):
    a, b = images[:3], images[3:]
    grid = ops.convert_to_numpy(interpolate(vae, a, b, num_steps=5, path=path))
    assert grid.shape == (3, 5, 8, 8, 1)
    for column, inputs in ((0, a), (-1, b)):
        expected = ops.convert_to_numpy(vae.decode(vae.encode(inputs)[0])[0])
        np.testing.assert_allclose(grid[:, column], expected, atol=1e-5)


def test_interior_steps_decode_the_codes(vae, images):
    a, b = images[:2], images[2:4]
    grid = ops.convert_to_numpy(interpolate(vae, a, b, num_steps=4, path="spherical"))
    codes = interpolation_codes(vae.encode(a)[0], vae.encode(b)[0], 4, "spherical")
    expected = ops.convert_to_numpy(vae.decode(ops.reshape(codes, (8, 4)))[0]).reshape(2, 4, 8, 8, 1)
    np.testing.assert_allclose(grid, expected, atol=1e-5)


def test_linear_midpoint_is_the_mean_of_the_codes():
    rng = np.random.default_rng(1)
    z_a, z_b = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    codes = ops.convert_to_numpy(interpolation_codes(z_a, z_b, 3, "linear"))
    assert codes.shape == (5, 3, 7)
    np.testing.assert_allclose(codes[:, 1], (z_a + z_b) / 2, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(codes[:, 0], z_a.astype("float32"))
    np.testing.assert_array_equal(codes[:, -1], z_b.astype("float32"))
    steps = np.diff(codes, axis=1)  # equal steps along a straight line
    np.testing.assert_allclose(steps, np.broadcast_to(steps[:, :1], steps.shape), atol=1e-6)


def test_spherical_keeps_unit_vectors_on_the_sphere():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(2, 6, 16))
    z_a, z_b = z / np.linalg.norm(z, axis=-1, keepdims=True)
    codes = ops.convert_to_numpy(interpolation_codes(z_a, z_b, 9, "spherical"))
    np.testing.assert_allclose(np.linalg.norm(codes, axis=-1), 1.0, atol=1e-5)
    # Equal angles between neighbours: slerp moves at constant speed along the great circle.
    angles = 2 * np.arcsin(np.linalg.norm(np.diff(codes, axis=1), axis=-1) / 2)
    np.testing.assert_allclose(angles, np.broadcast_to(angles[:, :1], angles.shape), atol=1e-5)
    total = np.arccos(np.sum(z_a * z_b, axis=-1))
    np.testing.assert_allclose(angles.sum(axis=1), total, atol=1e-5)


def test_spherical_norm_goes_linearly_between_the_endpoints_norms():
    rng = np.random.default_rng(3)
    z_a, z_b = rng.normal(size=(4, 16)) * 3, rng.normal(size=(4, 16))
    codes = ops.convert_to_numpy(interpolation_codes(z_a, z_b, 5, "spherical"))
    t = np.linspace(0, 1, 5)
    expected = (1 - t) * np.linalg.norm(z_a, axis=-1, keepdims=True) + t * np.linalg.norm(
        z_b, axis=-1, keepdims=True)
    np.testing.assert_allclose(np.linalg.norm(codes, axis=-1), expected, rtol=1e-5)
    linear = ops.convert_to_numpy(interpolation_codes(z_a, z_b, 5, "linear"))
    assert (np.linalg.norm(codes[:, 2], axis=-1) > np.linalg.norm(linear[:, 2], axis=-1)).all()


def test_spherical_handles_parallel_and_equal_codes():
    z_a = np.array([[1.0, 2.0], [1.0, 0.0]])
    z_b = np.array([[2.0, 4.0], [1.0, 0.0]])
    codes = ops.convert_to_numpy(interpolation_codes(z_a, z_b, 3, "spherical"))
    assert np.isfinite(codes).all()
    np.testing.assert_allclose(codes[0, 1], [1.5, 3.0], rtol=1e-5)
    np.testing.assert_allclose(codes[1], [[1.0, 0.0]] * 3, atol=1e-6)


def test_argument_errors(vae, images):
    with pytest.raises(ValueError, match="`num_steps`.*Received: num_steps=1"):
        interpolate(vae, images[:2], images[2:4], num_steps=1)
    with pytest.raises(ValueError, match="`path`.*Received: path='cubic'"):
        interpolate(vae, images[:2], images[2:4], num_steps=3, path="cubic")
    with pytest.raises(ValueError, match="`images_b`.*of the shape of `images_a`"):
        interpolate(vae, images[:2], images[2:5], num_steps=3)
    with pytest.raises(ValueError, match="`images_a`.*Received: images_a=<float32 array of shape \\(2, 8, 8\\)>"):
        interpolate(vae, images[:2, ..., 0], images[2:4, ..., 0], num_steps=3)
    with pytest.raises(ValueError, match="`images_a`.*64 NaN values"):
        interpolate(vae, np.full((1, 8, 8, 1), np.nan), images[:1], num_steps=3)
    with pytest.raises(ValueError, match="`z_b`"):
        interpolation_codes(np.zeros((2, 3)), np.zeros((2, 4)), 3)
    with pytest.raises(ValueError, match="`num_steps`"):
        interpolation_codes(np.zeros((2, 3)), np.zeros((2, 3)), 2.5)
