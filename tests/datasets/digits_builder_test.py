import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_cvae.datasets import digits_builder


def _read_split(builder, split):
    return np.stack([ex["image"] for ex in tfds.as_numpy(builder.as_dataset(split=split))])


def test_prepare_is_a_real_tfds_dataset_in_scikit_learn_order(tmp_path, digits_levels):
    builder = digits_builder.prepare(str(tmp_path))
    assert isinstance(builder, tfds.core.GeneratorBasedBuilder)
    assert builder.is_prepared()
    assert builder.info.splits["train"].num_examples == 1437
    assert builder.info.splits["test"].num_examples == 360
    np.testing.assert_array_equal(_read_split(builder, "train"), digits_levels[:1437])
    np.testing.assert_array_equal(_read_split(builder, "test"), digits_levels[1437:])
    # Written through a temporary dir renamed into place: nothing left over.
    assert not list((tmp_path / "keras_cvae_digits").glob("incomplete*"))


def test_prepare_reuses_prepared_data(tmp_path):
    digits_builder.prepare(str(tmp_path))
    record = next((tmp_path / "keras_cvae_digits" / "1.0.0").glob("*train.tfrecord*"))
    mtime = record.stat().st_mtime_ns
    digits_builder.prepare(str(tmp_path))
    assert record.stat().st_mtime_ns == mtime


def test_failed_prepare_leaves_nothing_and_can_be_retried(tmp_path, monkeypatch):
    # A stale temporary dir from a killed process must not matter either.
    (tmp_path / "keras_cvae_digits" / "incomplete.STALE0_1.0.0").mkdir(parents=True)
    original = digits_builder.KerasCvaeDigits._generate_examples

    def crash(self, images, offset):
        yield from list(original(self, images, offset))[:10]
        raise RuntimeError("killed")

    monkeypatch.setattr(digits_builder.KerasCvaeDigits, "_generate_examples", crash)
    with pytest.raises(RuntimeError, match="killed"):
        digits_builder.prepare(str(tmp_path))
    assert not (tmp_path / "keras_cvae_digits" / "1.0.0").exists()
    monkeypatch.undo()
    builder = digits_builder.prepare(str(tmp_path))
    assert builder.info.splits["train"].num_examples == 1437


@pytest.mark.slow
def test_concurrent_processes_prepare_once(tmp_path):
    # This process and a child prepare the same data dir at the same moment.
    script = textwrap.dedent(
        """
        import os, sys, time
        from keras_cvae.datasets import digits_builder
        data_dir = sys.argv[1]
        open(os.path.join(data_dir, "ready_child"), "w").close()
        while not os.path.exists(os.path.join(data_dir, "ready_parent")):
            time.sleep(0.005)
        print(digits_builder.prepare(data_dir).info.splits["test"].num_examples)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "ready_child").exists():
            assert child.poll() is None, child.stderr.read()[-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.005)
        (tmp_path / "ready_parent").touch()
        builder = digits_builder.prepare(str(tmp_path))
        out, err = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode == 0, err[-2000:]
    assert out.split()[-1] == "360"
    assert builder.info.splits["test"].num_examples == 360
    assert not list((tmp_path / "keras_cvae_digits").glob("incomplete*"))
