"""TensorFlow without its start-up lines: CUDA probing, `cuInit`, CPU features, oneDNN notices.

`import keras_cvae` and the `keras-cvae` command line import TensorFlow
through `import_tensorflow`. Pure Python until it is called, so the command
line can import this module before it parses its arguments.
"""

import contextlib
import os
import sys

ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
# TensorFlow's C++ INFO and WARNING lines hidden, ERROR lines kept.
QUIET_LOG_LEVEL = "2"


@contextlib.contextmanager
def silenced_stderr(silence=True):
    """Sends the process's stderr (file descriptor 2: C++ logs too) to /dev/null in the block."""
    if not silence:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow():
    """Imports TensorFlow with its oneDNN CPU kernels, without its start-up lines.

    If `TF_ENABLE_ONEDNN_OPTS` is unset, sets it to `"1"`: TensorFlow's oneDNN
    CPU kernels on, as TensorFlow itself has them on CPUs with AVX512_VNNI,
    BF16 or AMX (`"0"` turns them off; `MirroredStrategy` over logical CPU
    devices needs that, see `keras_cvae.distribute.get_strategy`).

    Its start-up lines are hidden unless `TF_CPP_MIN_LOG_LEVEL` is 0. If
    `TF_CPP_MIN_LOG_LEVEL` is unset, sets it to `"2"` in `os.environ`
    (TensorFlow's C++ INFO and WARNING lines hidden, ERROR lines kept;
    TensorFlow reads it when it loads, and so do the processes this one
    starts); a level the user set is left as it is. Then, unless the level is
    0, sends stderr to /dev/null while TensorFlow loads and looks for GPUs:
    the lines written before absl's logging starts, and the `cuInit` error of
    a machine with CUDA libraries but no GPU, ignore the level. The GPU
    look-up (`tf.config.list_physical_devices`) leaves the devices
    unconfigured, so `tf.config.set_visible_devices` and logical devices can
    still be set afterwards. Does nothing if TensorFlow is imported already.
    """
    if "tensorflow" in sys.modules:
        return
    # oneDNN's CPU kernels train these convnets 1.1-1.3x faster per CPU-second
    # (bench/train_speed.py); TensorFlow turns them on itself only on CPUs with
    # AVX512_VNNI, BF16 or AMX.
    os.environ.setdefault(ONEDNN_VARIABLE, "1")
    quiet = os.environ.setdefault(LOG_LEVEL_VARIABLE, QUIET_LOG_LEVEL).strip() not in ("", "0")
    with silenced_stderr(quiet):
        import tensorflow as tf

        if quiet:
            tf.config.list_physical_devices("GPU")
