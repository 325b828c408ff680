"""The run folder of `keras_cvae.training.train`: logs, per-epoch images, backups, metrics.

A run folder holds `run.json` (the run's `TrainingConfig`), TensorBoard logs in
`logs/`, a sample grid per epoch in `samples/`, a backup after every epoch in
`backup/` and, once finished, `metrics.json`. Running the same training again
resumes from the backup; a finished run is not trained twice. `run.json` is
written only when training is about to start (`check_run`, then `start_run`):
a run that fails on its data or model leaves nothing that blocks the corrected
command.
"""

import json
import os
import shutil

from keras_cvae.utils.json_file import read_json
from keras_cvae.utils.json_file import write_json
from keras_cvae.zoo.preset_lookup import read_metadata

RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
BACKUP_DIR = "backup"
LOG_DIR = "logs"
SAMPLES_DIR = "samples"


def check_run(run_dir, arguments, overwrite, preset_dir):
    """Checks `run_dir` without writing; returns the metadata of an identical finished run, else None.

    Raises a `FileExistsError` for a run folder holding a run with other
    arguments, or a folder that is not a run, unless `overwrite`. Nothing is
    written or removed: `start_run` does that once the run's data and model
    are ready, so a run that fails before training leaves the folder as it
    was (and the corrected command is not refused).

    Args:
        run_dir: str. The run folder.
        arguments: dict. What defines the run (recorded in `run.json`).
        overwrite: bool. The run will start afresh: no check.
        preset_dir: str. Where the run writes its preset.
    """
    run_file = os.path.join(run_dir, RUN_FILE)
    if overwrite:
        return None
    if os.path.exists(run_file):
        _check_same_run(run_dir, read_json(run_file, "run file"), _as_recorded(arguments))
        if os.path.exists(os.path.join(run_dir, METRICS_FILE)) and os.path.exists(preset_dir):
            return read_metadata(preset_dir)
    elif os.path.isdir(run_dir) and os.listdir(run_dir):
        raise FileExistsError(
            f"The run folder {run_dir} exists and is not a keras_cvae run (no {RUN_FILE}): "
            "pass --overwrite (overwrite=True) or choose another folder."
        )
    return None


def start_run(run_dir, arguments, overwrite):
    """Starts (or continues) the run in `run_dir`, checked by `check_run`: writes `run.json`.

    Call it when training is about to start (data loaded, model built).

    Args:
        run_dir: str. The run folder; created if missing.
        arguments: dict. What defines the run (recorded in `run.json`).
        overwrite: bool. Discard the run's logs, images, backups and metrics.
            The previous preset stays until the new one replaces it (saving a
            preset is atomic), so a run that fails loses nothing.
    """
    if overwrite:
        _discard_run(run_dir)
    write_json(os.path.join(run_dir, RUN_FILE), _as_recorded(arguments))


def finish_run(run_dir, metrics):
    """Writes `metrics.json`: last, since a run with metrics is finished."""
    write_json(os.path.join(run_dir, METRICS_FILE), metrics)


def _as_recorded(arguments):
    return json.loads(json.dumps(arguments))  # as run.json records them


def _discard_run(run_dir):
    for child in (BACKUP_DIR, LOG_DIR, SAMPLES_DIR, METRICS_FILE, RUN_FILE):
        path = os.path.join(run_dir, child)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def _check_same_run(run_dir, recorded, arguments):
    if recorded == arguments:
        return
    changed = sorted(k for k in set(recorded) | set(arguments) if recorded.get(k) != arguments.get(k))
    raise FileExistsError(
        f"The run folder {run_dir} holds a run with other arguments ({', '.join(changed)} "
        "differ): rerun the same command to resume it, pass --overwrite (overwrite=True) "
        "to start afresh, or choose another folder."
    )
