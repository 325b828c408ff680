"""The files `keras-cvae` writes (`--out`, `--json`) replace an existing file only with `--overwrite`."""

import os

import pytest

from keras_cvae import cli
from tests.cli.conftest import png_shape
from tests.cli.conftest import run_ok

_COMMANDS = [
    ["sample", "--preset", "digits_basic", "--out"],
    ["reconstruct", "--preset", "digits_basic", "--out"],
    ["interpolate", "--preset", "digits_basic", "--out"],
    ["evaluate", "--preset", "digits_basic", "--json"],
]


@pytest.mark.parametrize("command", _COMMANDS, ids=lambda command: command[0])
def test_an_existing_file_is_refused_before_anything_loads(command, tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    flag = command[-1]
    assert cli.main([*command, str(notes)]) == 2
    error = capsys.readouterr().err
    assert error == (f"keras-cvae {command[0]}: error: {notes} already exists. Pass `--overwrite` "
                     f"to replace it, or choose another path. Received: {flag} {notes}\n")
    assert cli.main([*command, str(tmp_path), "--overwrite"]) == 2
    assert f"{tmp_path} is a folder; expected the path of a file" in capsys.readouterr().err
    assert notes.read_text() == "my notes" and os.listdir(tmp_path) == ["notes.txt"]


def test_overwrite_replaces_the_file(cli_env, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    run_ok(cli_env, "sample", "--preset", "digits_basic", "--num", 4, "--scale", 1,
           "--out", notes, "--overwrite")
    assert png_shape(notes) == (19, 19, 1) and os.listdir(tmp_path) == ["notes.txt"]
