"""The run folder of `keras_cvae.training.train`: logs, per-epoch images, backups, metrics.

A run folder holds `run.json` (the run's `TrainingConfig`), TensorBoard logs in
`logs/`, a sample grid per epoch in `samples/`, a backup after every epoch in
`backup/` and, once finished, `metrics.json`. Running the same training again
resumes from the backup; a finished run is not trained twice. `run.json` is
written only when training is about to start (`check_run`, then `start_run`):
a run that fails on its data or model leaves nothing that blocks the corrected
command. From then on the previous run is kept aside (`start_run` returns a
`RunSnapshot`) until the new one has published its preset: a run that fails
(diverges, fills the disk) puts the run folder back as it was, byte for byte.
A run that is killed leaves its progress, to resume from.
"""

import json
import os

from keras_cvae.distribute.backup_and_restore import read_backup_state
from keras_cvae.training.run_snapshot import SNAPSHOT_DIR
from keras_cvae.training.run_snapshot import RunSnapshot
from keras_cvae.utils.json_file import read_json
from keras_cvae.utils.json_file import write_json
from keras_cvae.zoo.preset_lookup import read_metadata

RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
BACKUP_DIR = "backup"
LOG_DIR = "logs"
SAMPLES_DIR = "samples"
# What a run writes in its folder, all of which a failed run puts back.
RUN_CONTENTS = (RUN_FILE, METRICS_FILE, BACKUP_DIR, LOG_DIR, SAMPLES_DIR)


def check_run(run_dir, arguments, overwrite, preset_dir):
    """Checks `run_dir` without writing; returns the metadata of an identical finished run, else None.

    Raises a `FileExistsError` for a folder that is not a keras_cvae run (even
    with `overwrite`: only a run folder is replaced), or for a run with other
    arguments unless `overwrite`; a ValueError naming the file for a damaged
    backup of the run to resume (`keras_cvae.distribute.read_backup_state`).
    Nothing is written or removed: `start_run` does that once the run's data
    and model are ready, so a run that fails before training leaves the
    folder as it was (and the corrected command is not refused).

    Args:
        run_dir: str. The run folder.
        arguments: dict. What defines the run (recorded in `run.json`), with
            its `epochs`.
        overwrite: bool. The run will start afresh.
        preset_dir: str. Where the run writes its preset.
    """
    run_file = os.path.join(run_dir, RUN_FILE)
    if os.path.lexists(run_dir) and not os.path.isdir(run_dir):
        raise FileExistsError(f"The run folder {run_dir} is a file: choose another folder.")
    if not os.path.exists(run_file):
        foreign = [name for name in os.listdir(run_dir) if name != SNAPSHOT_DIR] if os.path.isdir(run_dir) else []
        if foreign:
            raise FileExistsError(
                f"The run folder {run_dir} exists and is not a keras_cvae run (no {RUN_FILE}; "
                f"it holds {', '.join(sorted(foreign)[:3])}{', ...' if len(foreign) > 3 else ''}): "
                "choose another folder (--overwrite replaces only a run folder)."
            )
        return None
    if overwrite:
        return None
    _check_same_run(run_dir, read_json(run_file, "run file"), _as_recorded(arguments))
    if os.path.exists(os.path.join(run_dir, METRICS_FILE)) and os.path.exists(preset_dir):
        return read_metadata(preset_dir)
    read_backup_state(os.path.join(run_dir, BACKUP_DIR), epochs=arguments.get("epochs"))
    return None


def start_run(run_dir, arguments, overwrite):
    """Starts (or continues) the run in `run_dir`, checked by `check_run`: writes `run.json`.

    Call it when training is about to start (data loaded, model built). The
    previous run's files are kept aside (moved with `overwrite`, else
    copied, since training appends to them) until the returned snapshot's
    `discard`; its `restore` puts them back.

    Args:
        run_dir: str. The run folder; created if missing.
        arguments: dict. What defines the run (recorded in `run.json`).
        overwrite: bool. Start afresh, without the run's logs, images,
            backups and metrics. The previous preset stays until the new one
            replaces it (saving a preset is atomic).

    Returns:
        A `RunSnapshot` of the run folder as it was.
    """
    snapshot = RunSnapshot(run_dir, RUN_CONTENTS, move=overwrite)
    try:
        write_json(os.path.join(run_dir, RUN_FILE), _as_recorded(arguments))
    except BaseException:
        snapshot.restore()
        raise
    return snapshot


def finish_run(run_dir, metrics):
    """Writes `metrics.json`: last, since a run with metrics is finished."""
    write_json(os.path.join(run_dir, METRICS_FILE), metrics)


def _as_recorded(arguments):
    return json.loads(json.dumps(arguments))  # as run.json records them


def _check_same_run(run_dir, recorded, arguments):
    if recorded == arguments:
        return
    changed = sorted(k for k in set(recorded) | set(arguments) if recorded.get(k) != arguments.get(k))
    raise FileExistsError(
        f"The run folder {run_dir} holds a run with other arguments ({', '.join(changed)} "
        "differ): rerun the same command to resume it, pass --overwrite (overwrite=True) "
        "to start afresh, or choose another folder."
    )
