"""The namespace of the docstring examples (`pytest --doctest-modules keras_cvae`).

Every example may use `keras_cvae`, `np` (NumPy) and `keras` without
importing them. Datasets are prepared in a temporary folder, never in the
user's cache.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def data_dir(tmp_path_factory):
    """A session-wide empty data folder, the default of keras_cvae and TFDS alike.

    Also the `tests/datasets` fixture of that name.
    """
    path = tmp_path_factory.mktemp("tensorflow_datasets")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_CVAE_DATA_DIR", str(path))
        patch.setenv("TFDS_DATA_DIR", str(path))
        yield path


@pytest.fixture(scope="session")
def _prepared_digits(data_dir):
    """The embedded digits, prepared once before the examples that load them.

    Preparing prints TFDS's progress lines, which would otherwise land in the
    output of whichever example happened to load the digits first.
    """
    from keras_cvae.datasets import tfds_source

    tfds_source.digits_source("train")


@pytest.fixture(autouse=True)
def _examples_namespace(request, doctest_namespace):
    """`keras_cvae`, `np` and `keras` in every docstring example."""
    import keras

    import keras_cvae

    doctest_namespace.update(keras_cvae=keras_cvae, np=np, keras=keras)
    test = getattr(request.node, "dtest", None)
    if test is not None and any('"digits"' in example.source for example in test.examples):
        request.getfixturevalue("_prepared_digits")
