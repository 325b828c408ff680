"""Argument checks for every package: Keras-style errors naming the argument and the value.

Pure Python (no TensorFlow), so the command line can use it before TensorFlow
loads. Each check returns the value (converted where that is safe) or raises
a ValueError such as::

    Invalid value for argument `depth`. Expected an integer >= 1. Received: depth=0

Example:

>>> from keras_cvae.validation import check_int, check_number
>>> check_int("depth", 2, minimum=1)
2
>>> check_number("temperature", 0.5, minimum=0, minimum_inclusive=False)
0.5
>>> check_int("depth", 0, minimum=1)
Traceback (most recent call last):
    ...
ValueError: Invalid value for argument `depth`. Expected an integer >= 1. Received: depth=0
"""

import math
import numbers

BLOCK_TYPES = ("basic", "bottleneck")
# What TensorFlow's random ops take: a seed is one int64.
SEED_RANGE = (-(2**63), 2**63 - 1)
# What NumPy's global seed (`keras.utils.set_random_seed`) and scikit-learn take.
NUMPY_SEED_RANGE = (0, 2**32 - 1)
# `T` scales the prior's standard deviations: beyond this the codes lie where
# the decoder clips them (`GaussianDecoder`'s `CODE_LIMIT`).
MAX_TEMPERATURE = 1000.0
# Standard deviations that float32 can use: `(x - mean)² / (2σ²)` stays finite
# for images in [0, 1] and `σ` above the lower end; above the upper end the
# model says nothing of the images.
SCALE_RANGE = (1e-6, 1e6)


def _bounds(minimum, maximum, minimum_inclusive, maximum_inclusive):
    parts = []
    if minimum is not None:
        parts.append(f"{'>=' if minimum_inclusive else '>'} {_number(minimum)}")
    if maximum is not None:
        parts.append(f"{'<=' if maximum_inclusive else '<'} {_number(maximum)}")
    return " and ".join(parts)


def _number(value):
    """An integer in full (`4294967295`), another number short (`0.001`)."""
    return str(value) if isinstance(value, numbers.Integral) else f"{value:g}"


def _in_bounds(value, minimum, maximum, minimum_inclusive, maximum_inclusive):
    if minimum is not None and (value < minimum if minimum_inclusive else value <= minimum):
        return False
    if maximum is not None and (value > maximum if maximum_inclusive else value >= maximum):
        return False
    return True


def invalid(name, expected, value=None, received=None, note=None):
    """The ValueError every check raises: the argument, what was expected, what was received.

    Args:
        name: str. The argument's name.
        expected: str. What is accepted, in words.
        value: The argument as it was given, shown with `repr`.
        received: str or None. A description shown instead of `value`, as
            `name=<received>`: for arrays and tensors, whose `repr` would be
            long. Defaults to `None`.
        note: str or None. A hint appended in parentheses. Defaults to `None`.

    Example:

    >>> from keras_cvae.validation import invalid
    >>> str(invalid("batch_size", "an integer >= 1", 0))
    'Invalid value for argument `batch_size`. Expected an integer >= 1. Received: batch_size=0'
    >>> str(invalid("z", "codes of shape (batch, 4)", received="array of shape (2, 3)"))
    'Invalid value for argument `z`. Expected codes of shape (batch, 4). Received: z=<array of shape (2, 3)>'
    """
    shown = f"<{received}>" if received is not None else repr(value)
    hint = f" ({note})" if note else ""
    return ValueError(
        f"Invalid value for argument `{name}`. Expected {expected}. Received: {name}={shown}{hint}"
    )


def describe_int(minimum=None, maximum=None):
    """`"an integer >= 1"`: what `check_int` expects, in words (also for argparse)."""
    bounds = _bounds(minimum, maximum, True, True)
    return f"an integer {bounds}" if bounds else "an integer"


def describe_number(minimum=None, maximum=None, minimum_inclusive=True, maximum_inclusive=True):
    """`"a finite number > 0"`: what `check_number` expects, in words."""
    bounds = _bounds(minimum, maximum, minimum_inclusive, maximum_inclusive)
    return f"a finite number {bounds}" if bounds else "a finite number"


def check_int(name, value, minimum=None, maximum=None):
    """`value` as an `int` if it is an integer (not a bool) within `[minimum, maximum]`."""
    is_int = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not is_int or not _in_bounds(value, minimum, maximum, True, True):
        raise invalid(name, describe_int(minimum, maximum), value)
    return int(value)


def check_number(name, value, minimum=None, maximum=None, minimum_inclusive=True,
                 maximum_inclusive=True):
    """`value` as a `float` if it is a finite real number (not a bool) within the bounds."""
    is_real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if (not is_real or not math.isfinite(value)
            or not _in_bounds(value, minimum, maximum, minimum_inclusive, maximum_inclusive)):
        expected = describe_number(minimum, maximum, minimum_inclusive, maximum_inclusive)
        raise invalid(name, expected, value)
    return float(value)


def check_optional_int(name, value, minimum=None, maximum=None):
    """`None`, or `value` as an `int` within `[minimum, maximum]`; the error says `None` is accepted too."""
    if value is None:
        return None
    is_int = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not is_int or not _in_bounds(value, minimum, maximum, True, True):
        raise invalid(name, f"{describe_int(minimum, maximum)} or None", value)
    return int(value)


def check_seed(name, value, optional=False, seed_range=SEED_RANGE):
    """`value` as an `int` if it is an integer in `seed_range`; `None` too if `optional`.

    `seed_range` is `SEED_RANGE` (TensorFlow's int64 seeds) or
    `NUMPY_SEED_RANGE` (NumPy's and scikit-learn's unsigned 32-bit seeds).

    Example:

    >>> from keras_cvae.validation import check_seed
    >>> check_seed("seed", 2**70)
    Traceback (most recent call last):
        ...
    ValueError: Invalid value for argument `seed`. Expected an integer >= -9223372036854775808 and <= 9223372036854775807. Received: seed=1180591620717411303424 (seeds are 64-bit integers)
    """
    if optional and value is None:
        return None
    is_int = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not is_int or not _in_bounds(value, *seed_range, True, True):
        expected = describe_int(*seed_range) + (" or None" if optional else "")
        bits = "64-bit" if seed_range == SEED_RANGE else "unsigned 32-bit"
        raise invalid(name, expected, value, note=f"seeds are {bits} integers")
    return int(value)


def check_temperature(value, name="temperature"):
    """A temperature `T` in `[0, MAX_TEMPERATURE]`, as a float."""
    return check_number(name, value, minimum=0, maximum=MAX_TEMPERATURE)


def check_scale(name, value, minimum=None):
    """A standard deviation in `SCALE_RANGE` (and > `minimum`, if given), as a float.

    Example:

    >>> from keras_cvae.validation import check_scale
    >>> check_scale("scale", 1e-30)
    Traceback (most recent call last):
        ...
    ValueError: Invalid value for argument `scale`. Expected a finite number >= 1e-06 and <= 1e+06. Received: scale=1e-30 (outside the range float32 computes the likelihood in)
    """
    low, high = SCALE_RANGE
    inclusive = minimum is None or minimum < low
    low = low if inclusive else minimum
    is_real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if (not is_real or not math.isfinite(value)
            or not _in_bounds(value, low, high, inclusive, True)):
        unsafe = not (is_real and SCALE_RANGE[0] <= value <= SCALE_RANGE[1])
        raise invalid(name, describe_number(low, high, inclusive), value,
                      note="outside the range float32 computes the likelihood in" if unsafe
                      else None)
    return float(value)


def check_bool(name, value):
    """`value` if it is a bool (`True` or `False`, not `1` or `"yes"`)."""
    if not isinstance(value, bool):
        raise invalid(name, "a bool (True or False)", value)
    return value


def check_choice(name, value, choices):
    """`value` if it is one of `choices`."""
    if value not in choices:
        raise invalid(name, f"one of {', '.join(map(repr, choices))}", value)
    return value


def check_positive_int(name, value):
    """An integer >= 1."""
    return check_int(name, value, minimum=1)


def check_non_negative(name, value):
    """A finite number >= 0, as a float."""
    return check_number(name, value, minimum=0)


def check_rate(name, value):
    """A rate in [0, 1), as a float (dropout)."""
    return check_number(name, value, minimum=0, maximum=1, maximum_inclusive=False)


def check_rank(rank):
    """The number of spatial axes of a convolution: 1, 2 or 3."""
    if isinstance(rank, bool) or rank not in (1, 2, 3):
        raise invalid("rank", "1, 2 or 3 spatial axes", rank)
    return rank


def check_dims(name, value, lengths, expected, allow_none=False, broadcast=False):
    """`value` as a tuple of integers >= 1 with one of `lengths` items.

    Args:
        name: str. The argument's name, for the error.
        value: The argument: a sequence of integers (or, with `broadcast`,
            one integer).
        lengths: int or tuple of ints. The accepted numbers of items.
        expected: str. What is accepted, in words, for the error.
        allow_none: bool. Whether an item may be `None` (a size not known).
            Defaults to `False`.
        broadcast: bool. Whether one integer stands for `lengths` (an int)
            equal items. Defaults to `False`.

    Returns:
        A tuple of ints (and `None`s if `allow_none`).

    Raises:
        ValueError: `Invalid value for argument `name`. Expected {expected}.
            Received: name=value`, with `value` as it was given.

    Example:

    >>> from keras_cvae.validation import check_dims
    >>> check_dims("image_size", 8, 2, "an integer >= 1 or a (height, width) tuple",
    ...            broadcast=True)
    (8, 8)
    >>> check_dims("image_shape", [8, None, 1], (2, 3, 4), "a shape", allow_none=True)
    (8, None, 1)
    >>> check_dims("kernel_size", (3, 0), 2, "two integers >= 1")
    Traceback (most recent call last):
        ...
    ValueError: Invalid value for argument `kernel_size`. Expected two integers >= 1. Received: kernel_size=(3, 0)
    """
    lengths = (lengths,) if isinstance(lengths, int) else tuple(lengths)
    dims = value
    if broadcast and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        dims = (value,) * lengths[0]
    try:
        if isinstance(dims, (str, bytes)):
            raise TypeError
        dims = tuple(dims)
        if len(dims) not in lengths:
            raise ValueError
        return tuple(
            None if d is None and allow_none else check_positive_int(name, d) for d in dims
        )
    except (TypeError, ValueError):
        raise invalid(name, expected, value) from None
