"""`keras_cvae.utils.atomic_write`: kills at every step, full disks, refused destinations.

Plain files only (no TensorFlow): what is tested is the swap.
"""

import errno
import os
import subprocess
import sys

import pytest

from keras_cvae.utils import atomic_write
from keras_cvae.utils.atomic_write import atomic_path
from keras_cvae.utils.atomic_write import check_destination
from keras_cvae.utils.atomic_write import remove_leftovers

OLD = {"a.txt": "old a", "c.txt": "old c"}
NEW = {"a.txt": "new a", "b.txt": "new b" * 1000}

# Runs `atomic_path(TARGET, overwrite=True)` writing NEW, and exits (as a SIGKILL would: no
# cleanup) right after the KILL_AT-th step that changes names in the file system (a kill
# elsewhere leaves the names as the last such step did); prints the number of steps if it ends.
_CHILD = r"""
import os, sys
import keras_cvae_cli
keras_cvae_cli.defer_package()  # no TensorFlow
from keras_cvae.utils import atomic_write

kill_at, target, is_dir, swap = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "dir", sys.argv[4]
new = {"a.txt": "new a", "b.txt": "new b" * 1000}
steps = [0]

def step(function):
    def counted(*args, **kwargs):
        result = function(*args, **kwargs)
        steps[0] += 1
        if steps[0] == kill_at:
            os._exit(9)
        return result
    return counted

for name in ("rename", "replace", "mkdir", "rmdir", "unlink"):
    setattr(os, name, step(getattr(os, name)))
if swap == "two_renames":  # no renameat2: the fallback
    atomic_write._renameat2 = lambda: None
else:
    atomic_write._rename2 = step(atomic_write._rename2)
with atomic_write.atomic_path(target, overwrite=True, is_dir=is_dir) as temporary:
    if is_dir:
        for name, text in new.items():
            with open(os.path.join(temporary, name), "w") as f:
                f.write(text)
    else:
        with open(temporary, "w") as f:
            f.write(new["b.txt"])
print(steps[0])
"""


def _write(target, contents, is_dir):
    if is_dir:
        os.makedirs(target, exist_ok=True)
        for name, text in contents.items():
            with open(os.path.join(target, name), "w") as f:
                f.write(text)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as f:
            f.write(contents.get("b.txt", contents["a.txt"]))


def _read(target, is_dir):
    if not os.path.lexists(target):
        return None
    if is_dir:
        return {name: open(os.path.join(target, name)).read() for name in os.listdir(target)}
    return open(target).read()


def _version(target, is_dir):
    """"old", "new" or what else is at `target` (None: missing)."""
    found = _read(target, is_dir)
    for name, contents in (("old", OLD), ("new", NEW)):
        if found == (contents if is_dir else contents.get("b.txt", contents["a.txt"])):
            return name
    return found


def _exchange_available(folder):
    a, b = os.path.join(folder, "x"), os.path.join(folder, "y")
    os.mkdir(a), os.mkdir(b)
    try:
        return atomic_write._rename2(a, b, atomic_write._RENAME_EXCHANGE)
    finally:
        os.rmdir(a), os.rmdir(b)


@pytest.mark.parametrize("kind, swap", [("dir", "exchange"), ("dir", "two_renames"),
                                        ("file", "replace")])
def test_a_kill_at_any_step_leaves_the_old_or_the_new_version(tmp_path, kind, swap):
    is_dir = kind == "dir"
    if swap == "exchange" and is_dir and not _exchange_available(tmp_path):
        pytest.skip("renameat2(RENAME_EXCHANGE) is unavailable here")
    target = os.path.join(tmp_path, "out", "artifact")
    parent = os.path.dirname(target)
    seen = set()
    for kill_at in range(1, 40):
        _write(target, OLD, is_dir)
        result = subprocess.run([sys.executable, "-c", _CHILD, str(kill_at), target, kind, swap],
                                capture_output=True, text=True, timeout=60)
        if result.returncode == 0:  # no step left to kill at
            assert _version(target, is_dir) == "new" and os.listdir(parent) == ["artifact"]
            assert kill_at == int(result.stdout) + 1 > 3
            break
        assert result.returncode == 9, result.stderr[-2000:]
        version = _version(target, is_dir)
        if swap == "two_renames" and version is None:  # killed between its two renames
            assert any(name.endswith(".old") for name in os.listdir(parent))
        else:
            assert version in ("old", "new"), (kill_at, version)
        seen.add(version)
        # The next load puts a moved-aside folder back; the next save also replaces it.
        if kill_at % 2:
            remove_leftovers(target)
            assert _version(target, is_dir) in ("old", "new"), kill_at
        else:
            with atomic_path(target, overwrite=True, is_dir=is_dir) as temporary:
                _write(temporary, NEW, is_dir)
            assert _version(target, is_dir) == "new"
        assert os.listdir(parent) == ["artifact"], (kill_at, os.listdir(parent))
        atomic_write._remove(target)
    else:
        pytest.fail("the save never completed")
    assert {"old", "new"} <= seen


def test_leftovers_of_running_processes_and_other_names_are_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    keep = ["model.keras", "notes.txt", f".model.keras.{os.getpid()}.abc_1234.partial",
            f".other.keras.{dead}.abc_1234.partial", f".model.keras.{dead}.abc.partial.bak"]
    debris = [f".model.keras.{dead}.x1y2z3w4.partial", f".model.keras.{dead}.q1.old"]
    for name in keep + debris:
        (tmp_path / name).mkdir()
    remove_leftovers(tmp_path / "model.keras")
    assert sorted(os.listdir(tmp_path)) == sorted(keep)


def test_a_symlink_left_as_debris_is_removed_not_followed(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data.txt").write_text("keep")
    (tmp_path / ".out.4194305.abcd1234.partial").symlink_to(precious)  # pid_max is at most 2**22
    remove_leftovers(tmp_path / "out")
    assert sorted(os.listdir(tmp_path)) == ["precious"] and (precious / "data.txt").exists()


def _fill_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("is_dir", [False, True])
def test_a_full_disk_leaves_the_previous_version_and_no_temporary_files(tmp_path, is_dir):
    target = tmp_path / "artifact"
    _write(target, OLD, is_dir)
    with pytest.raises(OSError, match=r"^Could not write .*artifact: No space left on device\. "
                                      r"The previous version \(if any\) is unchanged") as info:
        with atomic_path(target, overwrite=True, is_dir=is_dir) as temporary:
            with open(os.path.join(temporary, "a.txt") if is_dir else temporary, "w") as f:
                f.write("half")
                _fill_disk()
    assert info.value.errno == errno.ENOSPC and "\n" not in str(info.value)
    assert _version(target, is_dir) == "old" and os.listdir(tmp_path) == ["artifact"]


def test_a_full_disk_while_flushing_is_reported_too(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    monkeypatch.setattr(os, "fsync", _fill_disk)
    with pytest.raises(OSError, match="No space left on device"):
        atomic_write.atomic_write_bytes(target, b"{}")
    assert os.listdir(tmp_path) == []


def test_a_refused_destination_is_left_as_it_was(tmp_path):
    folder, file = tmp_path / "folder", tmp_path / "notes.txt"
    folder.mkdir()
    (folder / "mine.txt").write_text("mine")
    file.write_text("notes")
    not_ours = lambda path: "it holds mine.txt"  # noqa: E731
    cases = [
        (dict(path=file), FileExistsError, r"notes.txt already exists\. Pass `overwrite=True`"),
        (dict(path=folder, overwrite=True), IsADirectoryError, "is a folder; expected the path"),
        (dict(path=file, overwrite=True, is_dir=True), NotADirectoryError, "is a file, not a folder"),
        (dict(path=folder, overwrite=True, is_dir=True, owned=not_ours), FileExistsError,
         r"Refusing to replace .*folder: it holds mine.txt\. Remove it yourself"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            with atomic_path(**kwargs):
                pytest.fail("the block must not run")
    assert sorted(os.listdir(tmp_path)) == ["folder", "notes.txt"]
    assert (folder / "mine.txt").read_text() == "mine" and file.read_text() == "notes"
    with pytest.raises(ValueError, match="Received: overwrite='yes'"):
        check_destination(file, overwrite="yes")


def test_an_empty_folder_may_be_replaced_whoever_made_it(tmp_path):
    (tmp_path / "out").mkdir()
    with atomic_path(tmp_path / "out", overwrite=True, is_dir=True,
                     owned=lambda path: "never asked") as temporary:
        open(os.path.join(temporary, "a.txt"), "w").close()
    assert os.listdir(tmp_path / "out") == ["a.txt"]


def test_without_overwrite_a_file_appearing_meanwhile_is_kept(tmp_path):
    target = tmp_path / "grid.png"
    with pytest.raises(FileExistsError, match="already exists"):
        with atomic_path(target) as temporary:
            open(temporary, "w").write("new")
            target.write_text("written by someone else meanwhile")
    assert target.read_text() == "written by someone else meanwhile"
    assert os.listdir(tmp_path) == ["grid.png"]
