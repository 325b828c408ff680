"""Saving so that a file is either complete or absent, even if the process is killed."""

import os

from keras_cvae.utils.atomic_write import atomic_path
from keras_cvae.utils.atomic_write import check_free_space
from keras_cvae.validation import invalid

SUFFIXES = (".keras", ".weights.h5")


def save_atomically(model, filepath):
    """Saves `model` to `filepath`: to a temporary file in the same folder, then a rename.

    A process killed while saving leaves the previous `filepath` (or none),
    never a truncated one; its hidden temporary file is removed by the next
    save to `filepath`. A full disk raises an `OSError` ("No space left on
    device"), with the previous `filepath` unchanged and no temporary file left
    (`keras_cvae.utils.atomic_path`).

    Args:
        model: `keras.Model`.
        filepath: str. Ends with `.keras` (the whole model) or `.weights.h5`
            (the weights, with the optimizer's state).

    Example:

    >>> import os, tempfile
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> keras_cvae.distribute.save_atomically(model, path)
    >>> keras.models.load_model(path).count_params()
    3
    """
    filepath = os.fspath(filepath)
    if not filepath.endswith(SUFFIXES):
        raise invalid("filepath", f"a name ending with one of {SUFFIXES}", filepath)
    with atomic_path(filepath, overwrite=True) as temporary:
        optimizer = getattr(model, "optimizer", None)
        # HDF5 crashes on a full disk: refuse first if the weights and optimizer state cannot fit.
        check_free_space(os.path.dirname(temporary),
                         [*model.weights, *(optimizer.variables if optimizer else [])])
        if filepath.endswith(".keras"):
            model.save(temporary)
        else:
            model.save_weights(temporary)
