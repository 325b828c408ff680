"""Argument checks shared by the layers: Keras-style messages naming the value."""

BLOCK_TYPES = ("basic", "bottleneck")


def check_positive_int(name, value):
    """Returns `value` if it is an int > 0, else raises a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a strictly positive "
            f"integer. Received: {name}={value!r}"
        )
    return value


def check_rank(rank):
    if rank not in (1, 2, 3) or isinstance(rank, bool):
        raise ValueError(
            "Invalid value for argument `rank`. Expected 1, 2 or 3 spatial axes. "
            f"Received: rank={rank!r}"
        )
    return rank


def check_rate(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a number in [0, 1). "
            f"Received: {name}={value!r}"
        )
    return float(value)


def check_non_negative(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a non-negative number. "
            f"Received: {name}={value!r}"
        )
    return float(value)
