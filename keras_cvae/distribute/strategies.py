"""Named `tf.distribute` strategies and the mixed-precision policy, for `model.fit`."""

import json
import os

import keras
import tensorflow as tf

from keras_cvae.validation import check_choice

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def get_strategy(name="auto"):
    """Returns the `tf.distribute.Strategy` called `name`.

    - `"auto"`: a TPU if one is found, else `"mirrored"` over all GPUs if
      there are several, else `"one_device"`.
    - `"one_device"`: TensorFlow's default strategy: the first GPU, or the
      CPU. (Not `tf.distribute.OneDeviceStrategy`, which made `fit` 2-3x
      slower on CPU in `bench/train_distributed.py`.)
    - `"mirrored"`: all local GPUs, or all logical CPUs when there is no GPU
      (`tf.config.set_logical_device_configuration`); over logical CPUs it
      needs TensorFlow's oneDNN kernels off (`TF_ENABLE_ONEDNN_OPTS=0`),
      and says so otherwise.
    - `"multi_worker"`: `MultiWorkerMirroredStrategy`, the cluster read from
      the `TF_CONFIG` environment variable.
    - `"tpu"`: `TPUStrategy` on the TPU found by `TPUClusterResolver`.

    Build and compile the model under `strategy.scope()`; `fit` then splits
    each global batch across the replicas.

    Args:
        name: str. One of `keras_cvae.distribute.STRATEGIES`. Defaults to
            `"auto"`.

    Example:

    >>> strategy = keras_cvae.distribute.get_strategy("one_device")
    >>> strategy.num_replicas_in_sync
    1
    """
    check_choice("name", name, STRATEGIES)
    if name == "auto":
        tpu = _find_tpu()
        if tpu is not None:
            return _tpu_strategy(tpu)
        name = "mirrored" if len(tf.config.list_logical_devices("GPU")) > 1 else "one_device"
    if name == "one_device":
        return _default_strategy()
    if name == "mirrored":
        return _mirrored_strategy()
    if name == "multi_worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    tpu = _find_tpu()
    if tpu is None:
        raise ValueError(
            'No TPU found for strategy "tpu" (TPUClusterResolver found none). '
            f"Use one of {STRATEGIES[:-1]} on this machine."
        )
    return _tpu_strategy(tpu)


def configure(strategy="auto", mixed_precision="float32"):
    """Sets the Keras dtype policy and returns the strategy: one call for a CLI.

    Args:
        strategy: str or `tf.distribute.Strategy`. A name for `get_strategy`,
            or a strategy, returned as is. Defaults to `"auto"`.
        mixed_precision: str. `"float32"`, `"mixed_float16"` (GPU; `fit`
            scales the loss) or `"mixed_bfloat16"` (TPU, recent CPUs). Layers
            then compute in 16 bits; the ELBO's terms stay float32. Defaults
            to `"float32"`.

    Example:

    >>> strategy = keras_cvae.distribute.configure("one_device", "float32")
    >>> with strategy.scope():
    ...     conv_net = {"depth": 1, "channels": 8}
    ...     vae = keras_cvae.VAE(keras_cvae.GaussianEncoder(2, conv_net),
    ...                          keras_cvae.GaussianDecoder((8, 8, 1), conv_net))
    ...     vae.compile(optimizer="adam", jit_compile=True)
    >>> vae.distribute_strategy is strategy, keras.mixed_precision.dtype_policy().name
    (True, 'float32')
    """
    check_choice("mixed_precision", mixed_precision, PRECISIONS)
    if not isinstance(strategy, tf.distribute.Strategy):
        strategy = get_strategy(strategy)
    keras.mixed_precision.set_dtype_policy(mixed_precision)
    return strategy


def _default_strategy():
    """TensorFlow's default strategy, asked for outside of any other strategy's scope."""
    if tf.distribute.has_strategy():
        raise ValueError(
            'Call get_strategy("one_device") outside of another strategy\'s scope. '
            f"Received: the scope of {tf.distribute.get_strategy()!r}"
        )
    return tf.distribute.get_strategy()


def _mirrored_strategy():
    """`MirroredStrategy` over the local GPUs, else the logical CPUs (without oneDNN)."""
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    if len(devices) > 1 and devices[0].device_type == "CPU" and _onednn_enabled():
        raise ValueError(
            'Strategy "mirrored" over logical CPU devices needs TensorFlow\'s oneDNN '
            "kernels off: with them, TensorFlow 2.21 feeds a replica's convolution the "
            "wrong tensor. Set TF_ENABLE_ONEDNN_OPTS=0 before TensorFlow is imported. "
            "Received: TF_ENABLE_ONEDNN_OPTS="
            f"{os.environ.get('TF_ENABLE_ONEDNN_OPTS', '<unset, on by default on this CPU>')}"
        )
    return tf.distribute.MirroredStrategy([device.name for device in devices])


def _check_tf_config():
    raw = os.environ.get("TF_CONFIG")
    try:
        config = json.loads(raw) if raw else None
        workers = config["cluster"]["worker"]
        task = config["task"]
    except (ValueError, KeyError, TypeError):
        raise ValueError(
            'Strategy "multi_worker" needs the TF_CONFIG environment variable, e.g. '
            '{"cluster": {"worker": ["host1:port", "host2:port"]}, '
            '"task": {"type": "worker", "index": 0}}. '
            f"Received: TF_CONFIG={raw!r}"
        ) from None
    if not workers or task.get("type") not in ("worker", "chief"):
        raise ValueError(
            "TF_CONFIG must list the workers and name this task's type ('worker' or "
            f"'chief') and index. Received: TF_CONFIG={raw!r}"
        )


def _find_tpu():
    """A `TPUClusterResolver` for a Colab/Kaggle/`TPU_NAME` TPU or a TPU VM's own, or None."""
    try:
        return tf.distribute.cluster_resolver.TPUClusterResolver()
    except ValueError:  # "Please provide a TPU Name to connect to."
        pass
    if tf.config.list_physical_devices("TPU"):
        return tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
    return None


def _tpu_strategy(resolver):
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def _onednn_enabled():
    """Whether TensorFlow runs its oneDNN CPU kernels in this process."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # a TensorFlow without the query: the environment decides
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1"
    return bool(_pywrap_util_port.IsMklEnabled())
