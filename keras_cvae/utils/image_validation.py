"""`validate_images` and `validate_dataset`: checks run before training (by `VAE.fit` too)."""

import numpy as np
import tensorflow as tf

from keras_cvae.validation import check_dims


def validate_images(images, image_shape=None):
    """Checks that `images` is a batch of channels-last images in [0, 1].

    Args:
        images: np.ndarray or tf.Tensor. A batch of shape
            `(batch, height, width, channels)` (or the 1-d / 3-d analogue).
        image_shape: tuple or None. The expected `(height, width, channels)`;
            `None` entries (or `image_shape=None`) match any size. Defaults
            to `None`.

    Returns:
        `images`, unchanged.

    Raises:
        ValueError: if the rank, shape, dtype or values are wrong, naming
            what was expected and what was received.

    Example:

    >>> import numpy as np
    >>> images = keras_cvae.datasets.validate_images(
    ...     np.zeros((10, 8, 8, 1), "float32"), image_shape=(8, 8, 1))
    """
    image_shape = _standardize_image_shape(image_shape)
    expected = _expected(image_shape)
    kind = "tensor" if isinstance(images, (tf.Tensor, tf.Variable)) else "array"
    if tf.is_symbolic_tensor(images):  # Inside tf.function: shape only.
        shape = tuple(images.shape)
        if len(shape) != _rank(image_shape) or not _shape_matches(shape[1:], image_shape):
            raise ValueError(f"{expected} Received: {kind} of shape {shape}")
        return images
    try:
        array = np.asarray(images)
    except (TypeError, ValueError):
        raise ValueError(f"{expected} Received: {images!r}") from None
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{expected} Received: {kind} of dtype {array.dtype}")
    received = f"{kind} of shape {array.shape}"
    if array.ndim != _rank(image_shape) or not _shape_matches(array.shape[1:], image_shape):
        raise ValueError(f"{expected} Received: {received}")
    if array.size == 0:
        return images
    finite = np.isfinite(array)
    if not finite.all():
        raise ValueError(
            f"{expected} Received: {received} with {array.size - finite.sum()} "
            "non-finite values (NaN or inf)"
        )
    low, high = array.min(), array.max()
    if low < 0 or high > 1:
        hint = " (divide 8-bit images by 255)" if high > 1 and high <= 255 else ""
        raise ValueError(
            f"{expected} Received: {received} with values in "
            f"[{low:g}, {high:g}]{hint}"
        )
    return images


def validate_dataset(dataset, image_shape=None):
    """Checks a `tf.data.Dataset` of image batches and its first batch.

    Checks the `element_spec` (a single float tensor of rank 4 matching
    `(batch, *image_shape)`), then the values of the first batch with
    `validate_images`. Only that batch is read, through a fresh iterator, so
    `dataset` is not consumed (a seeded dataset that reshuffles each
    iteration does count this as one iteration).

    Args:
        dataset: tf.data.Dataset. Batches of images, no labels.
        image_shape: tuple or None. The expected `(height, width, channels)`.
            Defaults to `None`.

    Returns:
        `dataset`, unchanged.

    Example:

    >>> ds = keras_cvae.datasets.load("digits", "test", batch_size=32)
    >>> ds = keras_cvae.datasets.validate_dataset(ds, image_shape=(8, 8, 1))
    """
    image_shape = _standardize_image_shape(image_shape)
    expected = _expected(image_shape).replace("images", "a dataset of image batches", 1)
    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(f"{expected} Received: {type(dataset).__name__}")
    spec = dataset.element_spec
    if not isinstance(spec, tf.TensorSpec):
        raise ValueError(
            f"{expected} Received: elements with spec {spec} (the dataset must "
            "yield image tensors only, without labels)"
        )
    received = f"elements of dtype {spec.dtype.name} and shape {tuple(spec.shape)}"
    if not spec.dtype.is_floating:
        raise ValueError(f"{expected} Received: {received}")
    if spec.shape.rank == _rank(image_shape) - 1:
        raise ValueError(
            f"{expected} Received: {received} (unbatched: call dataset.batch())"
        )
    if spec.shape.rank != _rank(image_shape) or not _shape_matches(tuple(spec.shape)[1:], image_shape):
        raise ValueError(f"{expected} Received: {received}")
    for batch in dataset.take(1):
        validate_images(batch, image_shape)
    return dataset


def _standardize_image_shape(image_shape):
    if image_shape is None:
        return None
    expected = (
        "a tuple (height, width, channels) (or (length, channels), (depth, height, width, "
        "channels)) of positive ints or None"
    )
    return check_dims("image_shape", image_shape, (2, 3, 4), expected, allow_none=True)


def _expected(image_shape):
    dims = image_shape or ("height", "width", "channels")
    shape = ", ".join(str(d) for d in ("batch", *dims))
    return f"Expected images of shape ({shape}) with values in [0, 1]."


def _rank(image_shape):
    """Rank of a batch of images: 4 for (batch, height, width, channels) by default."""
    return 4 if image_shape is None else len(image_shape) + 1


def _shape_matches(shape, image_shape):
    if image_shape is None:
        return True
    return all(e is None or s is None or s == e for s, e in zip(shape, image_shape))
