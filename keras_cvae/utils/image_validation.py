"""The one check of the batches every entry point takes: `validate_images`, `validate_dataset`.

`validate_batch` is the check itself; `validate_images` (images in [0, 1]),
`validate_dataset` (its element spec and first batch) and `checked_batches`
(every batch, as a loop reads them) apply it. Each raises the ValueError of
`keras_cvae.validation.invalid`, naming the argument and what was received:

    Invalid value for argument `images`. Expected a non-empty batch of images of shape
    (batch, 8, 8, 1) with real values in [0, 1]. Received: images=<float32 array of
    shape (8, 8, 8, 1) with 1 NaN value>

An array or an eager tensor is checked fully: its shape, dtype (real numbers:
floats or integers), size (at least one example) and values (finite, in
range), in two vectorised reductions (its minimum and maximum; the values are
counted only to describe an error). A symbolic tensor is checked by its shape
and dtype when it is traced; inside a `tf.function` (Keras's `predict_step`,
an exported SavedModel) its values are also checked when the function runs,
by an assertion in the graph (elementwise comparisons and one reduction): a bad value
raises `tf.errors.InvalidArgumentError` with the same words:

    assertion failed: [Invalid value for argument `images`. Expected ... Received:
    images=<float32 tensor of shape (2, 8, 8, 1) with values in [0, 255]> (scale them ...)]

XLA (`jit_compile=True`) ignores assertions, so a function compiled with it
is not checked; the TFLite and ONNX converters drop them too (those runtimes
have no operation that raises).
"""

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.ops import control_flow_util

from keras_cvae.validation import check_dims
from keras_cvae.validation import invalid

UNIT_INTERVAL = (0, 1)


def validate_images(images, image_shape=None, name="images"):
    """Checks that `images` is a non-empty batch of channels-last images in [0, 1].

    Args:
        images: np.ndarray, tf.Tensor or nested list. A batch of shape
            `(batch, height, width, channels)` (or the 1-d / 3-d analogue).
        image_shape: tuple or None. The expected `(height, width, channels)`;
            `None` entries (or `image_shape=None`) match any size. Defaults
            to `None`.
        name: str. The argument's name, for the error. Defaults to `"images"`.

    Returns:
        `images`, unchanged; inside a `tf.function`, `images` through an
        assertion on their values (see `validate_batch`).

    Raises:
        ValueError: if the rank, shape, dtype, size or values are wrong,
            naming the argument, what was expected and what was received.

    Example:

    >>> images = keras_cvae.datasets.validate_images(
    ...     np.zeros((10, 8, 8, 1), "float32"), image_shape=(8, 8, 1))
    >>> keras_cvae.datasets.validate_images(np.full((2, 8, 8, 1), 255), (8, 8, 1))
    Traceback (most recent call last):
        ...
    ValueError: Invalid value for argument `images`. Expected a non-empty batch of images of shape (batch, 8, 8, 1) with real values in [0, 1]. Received: images=<int64 array of shape (2, 8, 8, 1) with values in [255, 255]> (scale them to [0, 1], e.g. divide 8-bit images by 255)
    """
    image_shape = _standardize_image_shape(image_shape)
    return validate_batch(images, name, _item_shape(image_shape), UNIT_INTERVAL,
                          _expected_images(image_shape))


def validate_batch(values, name, item_shape=None, value_range=None, expected=None,
                   high_inclusive=True):
    """Checks that `values` is a non-empty batch `(batch, *item_shape)` of finite real numbers.

    The one check behind `validate_images` and the checks of codes and noise.

    Args:
        values: np.ndarray, tf.Tensor or nested list.
        name: str. The argument's name, for the error.
        item_shape: tuple or None. The shape of one example, `None` entries
            matching any size; `None` accepts any shape of rank >= 1.
            Defaults to `None`.
        value_range: `(low, high)` or None. The interval the values must
            lie in. Defaults to `None` (any finite value).
        expected: str or None. What is accepted, in words, for the error.
            Defaults to a description from `item_shape` and `value_range`.
        high_inclusive: bool. Whether `high` itself is accepted (`[low,
            high]`) or not (`[low, high)`). Defaults to `True`.

    Returns:
        `values`, unchanged; inside a `tf.function`, `values` through an
        assertion on them (use it, as the checked tensor).

    Example:

    >>> from keras_cvae.utils.image_validation import validate_batch
    >>> validate_batch(np.zeros((3, 4)), "z", item_shape=(4,)).shape
    (3, 4)
    >>> validate_batch(np.full((2, 4), np.nan), "z", item_shape=(4,))
    Traceback (most recent call last):
        ...
    ValueError: Invalid value for argument `z`. Expected a non-empty batch of shape (batch, 4) with finite real values. Received: z=<float64 array of shape (2, 4) with 8 NaN values>
    """
    if expected is None:
        expected = _expected_values(item_shape, value_range, high_inclusive)
    problem = _problem(values, item_shape, value_range, high_inclusive)
    if problem is not None:
        received, note = problem
        raise invalid(name, expected, received=received, note=note)
    if _in_graph(values):
        return _asserted(values, name, expected, value_range, high_inclusive)
    return values


def validate_dataset(dataset, image_shape=None, name="dataset"):
    """Checks a `tf.data.Dataset` of image batches: its element spec and first batch.

    Checks the `element_spec` (a single float tensor of rank 4 matching
    `(batch, *image_shape)`), then the first batch with `validate_images`
    (an empty dataset is refused). Only that batch is read, through a fresh
    iterator, so `dataset` is not consumed (a seeded dataset that reshuffles
    each iteration does count this as one iteration).

    Args:
        dataset: tf.data.Dataset. Batches of images, no labels.
        image_shape: tuple or None. The expected `(height, width, channels)`.
            Defaults to `None`.
        name: str. The argument's name, for the error. Defaults to
            `"dataset"`.

    Returns:
        `dataset`, unchanged.

    Example:

    >>> ds = keras_cvae.datasets.load("digits", "test", batch_size=32)
    >>> ds = keras_cvae.datasets.validate_dataset(ds, image_shape=(8, 8, 1))
    """
    for _ in checked_batches(dataset, image_shape, name, first_only=True):
        pass
    return dataset


def checked_batches(dataset, image_shape=None, name="dataset", first_only=False):
    """Yields the batches of a `tf.data.Dataset` of images, each checked by `validate_images`.

    The element spec is checked first; an empty dataset is refused after the
    loop. For loops that read every batch anyway (`evaluate_density`,
    `recalibrate_batchnorm`, `VAE.fit_prior`): the check adds two reductions
    per batch.

    Args:
        dataset: tf.data.Dataset. Batches of images, no labels.
        image_shape: tuple or None. The expected `(height, width, channels)`.
            Defaults to `None`.
        name: str. The argument's name, for the error. Defaults to
            `"dataset"`.
        first_only: bool. Read and check the first batch only (what
            `validate_dataset` does). Defaults to `False`.
    """
    image_shape = _standardize_image_shape(image_shape)
    expected = _expected_images(image_shape, dataset=True)
    _check_spec(dataset, image_shape, name, expected)
    batches = dataset.take(1) if first_only else dataset
    index = -1
    for index, batch in enumerate(batches):
        problem = _problem(batch, _item_shape(image_shape), UNIT_INTERVAL)
        if problem is not None:
            received, note = problem
            raise invalid(name, expected, received=f"dataset whose batch {index} is a {received}",
                          note=note)
        yield batch
    if index < 0:
        raise invalid(name, expected, received="empty dataset")


# === The check ===


def _problem(values, item_shape, value_range, high_inclusive=True):
    """`None` if `values` passes, else `(received, note)`: what is wrong, in words."""
    symbolic = tf.is_symbolic_tensor(values) or isinstance(values, keras.KerasTensor)
    if symbolic or tf.is_tensor(values) or isinstance(values, tf.Variable):
        kind = "symbolic tensor" if symbolic else "tensor"
        dtype = tf.as_dtype(values.dtype)
        numeric, dtype_name = dtype.is_floating or dtype.is_integer, dtype.name
        shape = tuple(values.shape)
    else:
        kind = "array" if isinstance(values, np.ndarray) else type(values).__name__
        try:
            values = np.asarray(values)
        except (TypeError, ValueError):  # e.g. ragged nested lists
            return f"{kind} that is not a rectangular array", None
        dtype_name, shape = values.dtype.name, values.shape
        numeric = values.dtype.kind in "iuf" or dtype_name == "bfloat16"  # ml_dtypes' kind is "V"
    described = f"{dtype_name} {kind} of shape {shape}"
    if not numeric:
        return described, "expected real numbers: floats or integers"
    if not _shape_matches(shape, item_shape):
        return described, None
    if symbolic:
        return None
    if 0 in shape:
        return described, "an empty batch"
    array = _as_numpy(values)
    low, high = array.min(), array.max()  # NaN if any value is NaN
    if value_range is None:
        ok = np.isfinite(low) and np.isfinite(high)
    else:
        ok = low >= value_range[0] and (
            high <= value_range[1] if high_inclusive else high < value_range[1])
    if ok:
        return None
    if array.dtype.kind == "f":  # count what is not finite, to say so
        nan, inf = int(np.count_nonzero(np.isnan(array))), int(np.count_nonzero(np.isinf(array)))
        counts = [_count(nan, "NaN value"), _count(inf, "infinite value")]
        if nan or inf:
            return f"{described} with {' and '.join(c for c in counts if c)}", None
    note = None
    if _images(value_range, high_inclusive) and low >= 0 and 1 < high <= 255:
        note = "scale them to [0, 1], e.g. divide 8-bit images by 255"
    return f"{described} with values in [{low + 0:g}, {high + 0:g}]", note  # + 0: no "-0"


# === The check in a graph ===


def _in_graph(values):
    """Whether `values` is a tensor of a graph being traced that runs (not Keras's, not XLA's)."""
    if not tf.is_symbolic_tensor(values) or isinstance(values, keras.KerasTensor):
        return False
    return not control_flow_util.GraphOrParentsInXlaContext(values.graph)


def _asserted(values, name, expected, value_range, high_inclusive):
    """`values` after an assertion that they are finite and in `value_range` (`_problem`'s test).

    The message is built only when the assertion fails (in the branch of a
    `tf.cond`): passing costs elementwise comparisons and one reduction.
    """
    x = values if values.dtype == tf.float32 else tf.cast(values, tf.float32)
    if value_range is None:
        ok = tf.reduce_all(tf.math.is_finite(x))
    else:
        low, high = value_range
        below_high = x <= high if high_inclusive else x < high
        ok = tf.reduce_all(tf.logical_and(x >= low, below_high))

    def fail():
        received = _graph_received(x, tf.as_dtype(values.dtype).name,
                                   _images(value_range, high_inclusive))
        message = tf.strings.join([f"Invalid value for argument `{name}`. Expected {expected}. "
                                   f"Received: {name}=<", received])
        tf.debugging.Assert(False, [message])
        return tf.constant(False)

    passed = tf.cond(ok, lambda: tf.constant(True), fail)
    with tf.control_dependencies([passed]):
        return tf.identity(values)


def _images(value_range, high_inclusive):
    """Whether values in `value_range` are intensities (that 8-bit images are not)."""
    return value_range == UNIT_INTERVAL and high_inclusive


def _graph_received(x, dtype_name, images):
    """What `_problem` says of `x` (float32), as a string tensor: the rest of the message."""
    finite = tf.math.is_finite(x)
    nan = tf.math.count_nonzero(tf.math.is_nan(x))
    infinite = tf.math.count_nonzero(tf.math.is_inf(x))
    low = tf.reduce_min(tf.where(finite, x, np.inf))
    high = tf.reduce_max(tf.where(finite, x, -np.inf))

    def text(value):
        return tf.strings.as_string(value, shortest=value.dtype.is_floating)

    shape = tf.strings.reduce_join(text(tf.shape(x)), separator=", ")
    shape = tf.strings.join(["(", shape, ",)" if x.shape.rank == 1 else ")"])
    non_finite = tf.strings.join([" with ", text(nan), " NaN and ", text(infinite),
                                  " infinite values>"])
    in_range = tf.strings.join([" with values in [", text(low), ", ", text(high), "]>"])
    described = tf.strings.join([f"{dtype_name} tensor of shape ", shape,
                                 tf.where(nan + infinite > 0, non_finite, in_range)])
    if not images:
        return described
    eight_bit = tf.logical_and(tf.logical_and(low >= 0, high > 1), high <= 255)
    hint = " (scale them to [0, 1], e.g. divide 8-bit images by 255)"
    return tf.strings.join([described, tf.where(eight_bit & (nan + infinite == 0), hint, "")])


def _as_numpy(values):
    """An array of `values` that NumPy reduces: bfloat16 as float32."""
    if tf.is_tensor(values) or isinstance(values, tf.Variable):
        values = values.numpy()
    return values.astype(np.float32) if values.dtype.name == "bfloat16" else values


def _count(number, noun):
    return f"{number} {noun}{'s' if number != 1 else ''}" if number else ""


def _check_spec(dataset, image_shape, name, expected):
    """Refuses a dataset whose element spec is not a batch of float images of `image_shape`."""
    if not isinstance(dataset, tf.data.Dataset):
        raise invalid(name, expected, received=type(dataset).__name__)
    spec = dataset.element_spec
    if not isinstance(spec, tf.TensorSpec):
        raise invalid(name, expected, received=f"dataset of elements {spec}",
                      note="the dataset must yield image tensors only, without labels")
    received = f"dataset of {spec.dtype.name} elements of shape {tuple(spec.shape)}"
    if not spec.dtype.is_floating:
        raise invalid(name, expected, received=received)
    if spec.shape.rank == _rank(image_shape) - 1:
        raise invalid(name, expected, received=received, note="unbatched: call dataset.batch()")
    if not _shape_matches(tuple(spec.shape), _item_shape(image_shape)):
        raise invalid(name, expected, received=received)


# === Shapes and words ===


def _standardize_image_shape(image_shape):
    if image_shape is None:
        return None
    expected = (
        "a tuple (height, width, channels) (or (length, channels), (depth, height, width, "
        "channels)) of positive ints or None"
    )
    return check_dims("image_shape", image_shape, (2, 3, 4), expected, allow_none=True)


def _item_shape(image_shape):
    """The shape of one image: `image_shape`, or any 2-d image `(None, None, None)`."""
    return image_shape if image_shape is not None else (None, None, None)


def _expected_images(image_shape, dataset=False):
    dims = image_shape or ("height", "width", "channels")
    shape = ", ".join(str(d) for d in ("batch", *dims))
    batches = "a dataset of non-empty batches" if dataset else "a non-empty batch"
    return f"{batches} of images of shape ({shape}) with real values in [0, 1]"


def _expected_values(item_shape, value_range, high_inclusive=True):
    shape = "" if item_shape is None else (
        f" of shape ({', '.join(str(d) for d in ('batch', *item_shape))}{',' * (item_shape == ())})")
    values = "finite real values" if value_range is None else (
        f"real values in [{value_range[0]:g}, {value_range[1]:g}{']' if high_inclusive else ')'}")
    return f"a non-empty batch{shape} with {values}"


def _rank(image_shape):
    """Rank of a batch of images: 4 for (batch, height, width, channels) by default."""
    return 4 if image_shape is None else len(image_shape) + 1


def _shape_matches(shape, item_shape):
    """Whether `shape` is `(batch, *item_shape)` (any batch; `None` matches any size)."""
    if item_shape is None:
        return len(shape) >= 1
    if len(shape) != len(item_shape) + 1:
        return False
    return all(e is None or s is None or s == e for s, e in zip(shape[1:], item_shape))
