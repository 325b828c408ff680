"""Keeps every datasets test away from ~/.cache and ~/tensorflow_datasets."""

import pytest

from keras_cvae.conftest import data_dir  # noqa: F401  (session-wide, autouse)


@pytest.fixture(scope="session")
def digits_levels():
    """scikit-learn's digits as integer levels (1797, 8, 8, 1)."""
    from sklearn.datasets import load_digits

    return load_digits().images.astype("int64")[..., None]
