"""Keeps every datasets test away from ~/.cache and ~/tensorflow_datasets."""

import pytest

from keras_cvae.conftest import data_dir  # noqa: F401  (session-wide, autouse)


@pytest.fixture(scope="session")
def digits_levels():
    """scikit-learn's digits as integer levels (1797, 8, 8, 1)."""
    from sklearn.datasets import load_digits

    return load_digits().images.astype("int64")[..., None]


@pytest.fixture
def hide_packages(monkeypatch):
    """`hide_packages("mlxtend", ...)`: the embedded builders find those packages not installed."""
    import importlib.util

    from keras_cvae.datasets import embedded_builder

    def hide(*packages):
        find_spec = importlib.util.find_spec
        monkeypatch.setattr(
            embedded_builder.importlib.util,
            "find_spec",
            lambda name, *args: None if name in packages else find_spec(name, *args),
        )

    return hide
