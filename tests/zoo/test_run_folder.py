"""The run folder of `train_preset(run_dir=...)`: what a restart keeps, refuses and discards."""

import json
import os

import pytest

from keras_cvae.training import run_folder as training

ARGUMENTS = {"preset": "digits_basic", "epochs": 2, "seed": 0}


def _run_with_a_finished_preset(tmp_path):
    run_dir, preset_dir = tmp_path / "run", tmp_path / "run" / "preset"
    os.makedirs(preset_dir)
    (preset_dir / "config.json").write_text("{}")
    (preset_dir / "metadata.json").write_text(json.dumps({"preset": "digits_basic"}))
    for folder in (training.BACKUP_DIR, training.LOG_DIR, training.SAMPLES_DIR):
        os.makedirs(run_dir / folder)
    (run_dir / training.RUN_FILE).write_text(json.dumps(ARGUMENTS))
    (run_dir / training.METRICS_FILE).write_text("{}")
    return str(run_dir), str(preset_dir)


def test_overwrite_discards_the_run_but_keeps_the_preset_until_replaced(tmp_path):
    run_dir, preset_dir = _run_with_a_finished_preset(tmp_path)
    assert training.start_run(run_dir, {**ARGUMENTS, "epochs": 3}, True, preset_dir) is None
    assert sorted(os.listdir(run_dir)) == ["preset", training.RUN_FILE]
    assert os.path.exists(os.path.join(preset_dir, "metadata.json"))  # a failed run loses nothing
    assert json.load(open(os.path.join(run_dir, training.RUN_FILE)))["epochs"] == 3


def test_same_arguments_return_the_finished_run_and_others_are_refused(tmp_path):
    run_dir, preset_dir = _run_with_a_finished_preset(tmp_path)
    assert training.start_run(run_dir, ARGUMENTS, False, preset_dir) == {"preset": "digits_basic"}
    with pytest.raises(FileExistsError, match=r"other arguments \(epochs differ\)"):
        training.start_run(run_dir, {**ARGUMENTS, "epochs": 3}, False, preset_dir)
