"""Refusing to publish or load a model whose weights are not all finite.

Every writer of a model (`save_to_preset`, every export, `VAE.save`) calls
`check_finite_weights` before it writes anything, so a NaN or an infinity is
never published and the previous version is left as it was; `from_preset`
calls it after loading. Imports neither Keras nor TensorFlow: the variables
are read as NumPy arrays.
"""

import numpy as np


class NonFiniteWeightsError(ValueError):
    """A model's weights hold a NaN or an infinity."""


def first_non_finite(variables):
    """`(path, non-finite count, size)` of the first float variable with a NaN or infinity, or `None`.

    Example:

    >>> from keras_cvae.utils.finite_weights import first_non_finite
    >>> first_non_finite([keras.Variable([1.0, float("nan")], name="kernel")])
    ('kernel', 1, 2)
    """
    for variable in variables:
        if not str(getattr(variable, "dtype", "float")).startswith(("float", "bfloat")):
            continue  # seed states, step counters
        values = np.asarray(variable, dtype=np.float32)
        bad = int(values.size - np.count_nonzero(np.isfinite(values)))
        if bad:
            return getattr(variable, "path", None) or variable.name, bad, int(values.size)
    return None


_NOTHING_WRITTEN = ("nothing was written, and a previous version is unchanged. A run that "
                    "diverged cannot be published: retrain it, e.g. with a lower learning rate")


def check_finite_weights(model, refusal, consequence=_NOTHING_WRITTEN):
    """Raises a one-line `NonFiniteWeightsError` if a weight of `model` is NaN or infinite.

    Args:
        model: A Keras model (or layer): its `weights` are checked.
        refusal: str. What is refused, the start of the message, e.g.
            `"Refusing to write the preset folder /tmp/vae"`.
        consequence: str. The end of the message. Defaults to saying that
            nothing was written and that a diverged run must be retrained.

    Example:

    >>> from keras_cvae.utils.finite_weights import check_finite_weights
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="dense")])
    >>> check_finite_weights(model, "Refusing to save")
    >>> _ = model.layers[0].kernel.assign([[np.inf], [0.0]])
    >>> check_finite_weights(model, "Refusing to save")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    keras_cvae.utils.finite_weights.NonFiniteWeightsError: Refusing to save: the weights are not all finite (...dense/kernel holds 1 NaN or infinite value of 2)...
    """
    found = first_non_finite(model.weights)
    if found is None:
        return
    path, bad, size = found
    raise NonFiniteWeightsError(
        f"{refusal}: the weights are not all finite ({path} holds {bad} NaN or infinite "
        f"value{'s' if bad != 1 else ''} of {size}); {consequence}."
    )
