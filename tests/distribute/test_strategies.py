"""Named strategies, `configure` and `prepare_dataset`, in this (one-device) process."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_cvae.distribute as kd


@pytest.fixture(autouse=True)
def float32_policy():
    yield
    keras.mixed_precision.set_dtype_policy("float32")


@pytest.mark.parametrize("name", ["auto", "one_device", "mirrored"])
def test_local_strategies_have_one_replica_on_this_machine(name):
    strategy = kd.get_strategy(name)
    assert isinstance(strategy, tf.distribute.Strategy)
    assert strategy.num_replicas_in_sync == 1


def test_one_device_is_not_asked_for_inside_another_scope():
    with kd.get_strategy("mirrored").scope():
        with pytest.raises(ValueError, match="outside of another strategy's scope"):
            kd.get_strategy("one_device")


def test_bad_strategy_name_lists_the_accepted_ones():
    accepted = "'auto', 'one_device', 'mirrored', 'multi_worker', 'tpu'"
    with pytest.raises(ValueError, match=rf"Expected one of {accepted}. Received: name='gpus'"):
        kd.get_strategy("gpus")


def test_tpu_strategy_without_a_tpu_says_so():
    with pytest.raises(ValueError, match="No TPU found"):
        kd.get_strategy("tpu")


@pytest.mark.parametrize("tf_config", [None, "not json", json.dumps({"task": {"type": "worker", "index": 0}})])
def test_multi_worker_needs_tf_config(tf_config, monkeypatch):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        kd.get_strategy("multi_worker")


def test_configure_sets_the_policy_and_returns_the_strategy():
    strategy = kd.configure("one_device", mixed_precision="mixed_bfloat16")
    assert strategy is tf.distribute.get_strategy()  # the default: no wrapper
    assert keras.mixed_precision.dtype_policy().name == "mixed_bfloat16"
    assert kd.configure(strategy) is strategy
    assert keras.mixed_precision.dtype_policy().name == "float32"
    with pytest.raises(ValueError, match="`mixed_precision`. Expected one of 'float32', 'mixed_float16', 'mixed_bfloat16'. "
                       "Received: mixed_precision='float16'"):
        kd.configure("one_device", mixed_precision="float16")


def test_prepare_dataset_batches_globally_with_static_shapes_on_request():
    images = np.zeros((10, 8, 8, 1), "float32")
    dataset = kd.prepare_dataset(images, 4, drop_remainder=True)
    assert dataset.element_spec.shape.as_list() == [4, 8, 8, 1]
    assert [len(batch) for batch in dataset] == [4, 4]
    assert [len(batch) for batch in kd.prepare_dataset(images, 4)] == [4, 4, 2]
    shuffled = kd.prepare_dataset(tf.data.Dataset.range(10), 10, shuffle=10, seed=1)
    assert sorted(next(iter(shuffled)).numpy()) == list(range(10))


def test_prepare_dataset_rejects_batches_replicas_cannot_share():
    class TwoReplicas:
        num_replicas_in_sync = 2

    with pytest.raises(ValueError, match=r"`global_batch_size`. Expected a multiple of the 2 replicas.*Received: global_batch_size=5"):
        kd.prepare_dataset(np.zeros((10, 1)), 5, TwoReplicas(), drop_remainder=True)
    with pytest.raises(ValueError, match="`global_batch_size`. Expected an integer >= 1. Received: global_batch_size=0"):
        kd.prepare_dataset(np.zeros((10, 1)), 0)


@pytest.mark.parametrize("onednn, refused", [("1", True), ("0", False)])
def test_mirrored_over_logical_cpus_refuses_onednn(onednn, refused):
    # oneDNN is chosen when TensorFlow is imported: a fresh process each.
    script = (
        "import tensorflow as tf\n"
        "cpu = tf.config.list_physical_devices('CPU')[0]\n"
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
        "from keras_cvae.distribute import get_strategy\n"
        "try:\n"
        "    print('replicas', get_strategy('mirrored').num_replicas_in_sync)\n"
        "except ValueError as error:\n"
        "    print('refused:', error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
        env={**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    if refused:
        assert "refused: Strategy \"mirrored\" over logical CPU devices" in result.stdout
        assert "Received: TF_ENABLE_ONEDNN_OPTS=1" in result.stdout
    else:
        assert "replicas 2" in result.stdout
