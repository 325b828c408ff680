"""In-memory arrays as the `tf.data.Dataset` of batches that `VAE.fit`, `evaluate` and `predict` read.

Keras turns NumPy arrays into a `tf.data` pipeline of its own, with
tf.data's autotuning on. Deleting that pipeline's iterator at the end of a
call waits for the autotuning thread to wake up, which took 0-8 s per call on
a 60,000-image array (it is asleep for a while between optimizations). These
batches are what Keras's pipeline gives, with the same semantics
(`batch_size` default 32, or `ceil(n / steps)`; `shuffle=True` a new
permutation each epoch, `"batch"` within each batch; a final partial batch;
`validation_split` from the last samples, before shuffling), built with
autotuning off: `fit` on an array returns as soon as training ends.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from keras_cvae import validation

# Elements computed ahead of the training step: batches are gathers from memory.
_PREFETCH = 2


def is_array(data):
    """Whether `data` is an in-memory array (NumPy, a tensor) that Keras would slice into batches."""
    return isinstance(data, np.ndarray) or tf.is_tensor(data)


def _as_tensor(array):
    """A tensor of `array`; floats in Keras's float type (`keras.config.floatx()`), as Keras's pipeline."""
    tensor = tf.convert_to_tensor(array)
    if tensor.dtype.is_floating and tensor.dtype != keras.config.floatx():
        tensor = tf.cast(tensor, keras.config.floatx())
    return tensor


def check_sample_weight(sample_weight, num_samples, name="sample_weight"):
    """`sample_weight` as a float32 array `(num_samples,)` of finite weights ≥ 0.

    Keras weighs each example's loss by its weight: one weight per image,
    shape `(n,)` or `(n, 1)`.
    """
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight)
    if weights.ndim == 2 and weights.shape[1] == 1:
        weights = weights[:, 0]
    if weights.ndim != 1 or weights.shape[0] != num_samples:
        raise ValueError(
            f"`{name}` must hold one weight per image: shape ({num_samples},). "
            f"Received: {name} of shape {weights.shape}"
        )
    if not np.issubdtype(weights.dtype, np.number) or np.issubdtype(weights.dtype, np.complexfloating):
        raise ValueError(f"`{name}` must be real numbers. Received: {name} of dtype {weights.dtype}")
    weights = weights.astype("float32")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(
            f"`{name}` must be finite and non-negative. Received: {name} with values in "
            + _value_range(weights)
        )
    return weights


def _value_range(weights):
    finite = weights[np.isfinite(weights)]
    described = f"[{finite.min()}, {finite.max()}]" if finite.size else "no finite values"
    return described + (" and NaN" if np.isnan(weights).any() else "") + (" and inf" if np.isinf(weights).any() else "")


def validation_split_of(arrays, validation_split):
    """`(train, validation)`: the last `validation_split` of the samples held out, as Keras does."""
    num_samples = int(arrays[0].shape[0])
    split_at = int(math.floor(num_samples * (1.0 - validation_split)))
    if split_at in (0, num_samples):
        raise ValueError(
            f"`validation_split={validation_split}` of {num_samples} images leaves "
            f"{split_at} for training and {num_samples - split_at} for validation: both "
            f"must be at least 1. Received: validation_split={validation_split}"
        )
    train = tuple(None if a is None else a[:split_at] for a in arrays)
    held_out = tuple(None if a is None else a[split_at:] for a in arrays)
    return train, held_out


def array_batches(arrays, batch_size=None, shuffle=False, steps=None):
    """The batches of `arrays` (`(x,)`, `(x, y)` or `(x, y, sample_weight)`) as a dataset.

    Args:
        arrays: tuple. Arrays or tensors with the same first dimension
            (`None` items, such as a missing `y`, are kept as `None`).
        batch_size: int or None. Defaults to `ceil(n / steps)` if `steps`
            is given, else 32.
        shuffle: bool or `"batch"`. `True` reorders all samples each epoch,
            `"batch"` only within each batch.
        steps: int or None. The steps per epoch asked for, if any.

    Returns:
        A `tf.data.Dataset` of tuples, with its number of batches as
        cardinality and tf.data's autotuning off.
    """
    validation.check_choice("shuffle", shuffle, (True, False, "batch"))
    tensors = tuple(None if a is None else _as_tensor(a) for a in arrays)
    num_samples = int(tensors[0].shape[0])
    if not batch_size:
        batch_size = int(math.ceil(num_samples / steps)) if steps else 32
    num_full, remainder = divmod(num_samples, batch_size)

    def epoch_order(seed):
        order = tf.range(num_samples, dtype=tf.int64)
        if shuffle is not True:
            return order
        return tf.random.experimental.stateless_shuffle(order, seed=tf.stack([seed, 0]))

    def batches_of(order):
        full = tf.data.Dataset.from_tensor_slices(tf.reshape(order[: num_full * batch_size], (num_full, batch_size)))
        return full.concatenate(tf.data.Dataset.from_tensors(order[num_full * batch_size:])) if remainder else full

    # One seed per epoch (a new one each time Keras iterates over the dataset), from
    # TensorFlow's global seed if set (`keras.utils.set_random_seed`).
    seeds = tf.data.Dataset.random(rerandomize_each_iteration=True)
    indices = seeds.take(1).map(epoch_order).flat_map(batches_of)
    if shuffle == "batch":
        indices = tf.data.Dataset.zip(indices, seeds).map(
            lambda batch, seed: tf.random.experimental.stateless_shuffle(batch, seed=tf.stack([seed, 1])))

    def gather(batch_indices):
        return tuple(None if t is None else tf.gather(t, batch_indices) for t in tensors)

    dataset = indices.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(_PREFETCH)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(num_full + (1 if remainder else 0)))
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.apply_default_optimizations = False
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def keras_arguments_with_batches(method, arguments):
    """The arguments (by name) of Keras's `fit`, `evaluate` or `predict`, arrays made `array_batches`.

    In-memory `x` (and `validation_data`) become datasets with the batches
    Keras would make of them; `batch_size`, `shuffle`, `sample_weight`,
    `validation_split` and `validation_batch_size` are then used up. Other
    inputs (datasets, generators) and `class_weight` are left to Keras.
    """
    x = arguments.get("x")
    if not is_array(x) or arguments.get("class_weight") is not None:
        return arguments
    arguments = dict(arguments)
    num_samples = int(x.shape[0])
    batch_size = arguments.pop("batch_size", None)
    if method == "predict":
        arguments["x"] = array_batches((x,), batch_size, steps=arguments.get("steps"))
        return arguments
    data = (x, arguments.pop("y", None), check_sample_weight(arguments.pop("sample_weight", None), num_samples))
    if method == "evaluate":
        arguments["x"] = array_batches(_packed(data), batch_size, steps=arguments.get("steps"))
        return arguments
    validation_split = arguments.pop("validation_split", 0.0)
    if validation_split and arguments.get("validation_data") is None:
        data, arguments["validation_data"] = validation_split_of(data, validation_split)
    arguments["x"] = array_batches(_packed(data), batch_size, shuffle=arguments.pop("shuffle", True),
                                   steps=arguments.get("steps_per_epoch"))
    held_out = arguments.get("validation_data")
    if isinstance(held_out, list):
        held_out = tuple(held_out)
    x_held_out, y_held_out, weights = keras.utils.unpack_x_y_sample_weight(held_out)
    if is_array(x_held_out):
        weights = check_sample_weight(weights, int(x_held_out.shape[0]), name="validation sample_weight")
        arguments["validation_data"] = array_batches(
            _packed((x_held_out, y_held_out, weights)),
            arguments.pop("validation_batch_size", None) or batch_size,
            steps=arguments.get("validation_steps"),
        )
    return arguments


def _packed(data):
    """`(x,)`, `(x, y)` or `(x, y, sample_weight)`: the shortest tuple, as Keras packs them."""
    x, y, weights = data
    if weights is not None:
        return (x, y, weights)
    return (x,) if y is None else (x, y)
