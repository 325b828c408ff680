"""Runs the scripts that need their own process (logical devices, several workers)."""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
# Scripts run in processes of their own: importing one (as `--doctest-modules`
# would, to look for examples) configures logical devices in the test process.
collect_ignore = ["two_replicas.py", "multi_worker.py", "resumable_run.py"]


def run_script(name, *args, timeout=300, env=None):
    """Runs `tests/distribute/<name>` with this Python; fails the test with its output."""
    result = subprocess.run(
        [sys.executable, os.path.join(HERE, name), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
    )
    if result.returncode != 0:
        pytest.fail(f"{name} exited with {result.returncode}:\n{result.stdout}\n{result.stderr[-5000:]}")
    return result.stdout
