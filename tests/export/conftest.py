import numpy as np
import pytest

from tests.export.export_checks import mixture_vae
from tests.export.export_checks import tiny_vae


@pytest.fixture
def vae():
    return tiny_vae()


@pytest.fixture
def images():
    return np.random.default_rng(1).uniform(size=(100, 8, 8, 1)).astype("float32")


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """A full-posterior model exported to SavedModel, float32 TFLite and ONNX, once per module."""
    from keras_cvae.export import export_all

    model = tiny_vae("basic", "full", "constant", seed=2)
    paths = export_all(
        model,
        tmp_path_factory.mktemp("export") / "out",
        quantizations=(None,),
        report=False,
    )
    return model, paths


@pytest.fixture(scope="module")
def mixture_artifacts(tmp_path_factory):
    """A model with a fitted 3-component mixture prior, exported like `artifacts`."""
    from keras_cvae.export import export_all

    model = mixture_vae(seed=5)
    paths = export_all(
        model,
        tmp_path_factory.mktemp("export_mixture") / "out",
        quantizations=(None,),
        report=False,
    )
    return model, paths
