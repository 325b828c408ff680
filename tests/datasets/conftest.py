"""Keeps every datasets test away from ~/.cache and ~/tensorflow_datasets."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory):
    """A session-wide empty data dir, used as both keras_cvae and TFDS default."""
    path = tmp_path_factory.mktemp("tensorflow_datasets")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_CVAE_DATA_DIR", str(path))
        patch.setenv("TFDS_DATA_DIR", str(path))
        yield path


@pytest.fixture(scope="session")
def digits_levels():
    """scikit-learn's digits as integer levels (1797, 8, 8, 1)."""
    from sklearn.datasets import load_digits

    return load_digits().images.astype("int64")[..., None]
