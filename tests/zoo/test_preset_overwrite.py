"""`save_to_preset(..., overwrite=True)` replaces only its own folders; full disks and kills lose nothing."""

import errno
import json
import os
import shutil
import subprocess
import sys

import pytest

import keras_cvae
from keras_cvae.zoo import preset_io
from keras_cvae.zoo.preset_io import save_to_preset
from tests.helpers import tiny_vae


@pytest.fixture(scope="module")
def vae():
    return tiny_vae()


def _contents(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


def test_overwrite_replaces_only_a_folder_save_to_preset_wrote(vae, tmp_path):
    preset = tmp_path / "preset"
    assert save_to_preset(vae, preset)["files"] == ["config.json", "metadata.json",
                                                   "model.weights.h5"]
    save_to_preset(vae, preset, overwrite=True, files={"card.txt": "a card"})
    assert sorted(os.listdir(preset)) == ["card.txt", "config.json", "metadata.json",
                                          "model.weights.h5"]
    (preset / "notes.txt").write_text("my notes")
    user = tmp_path / "user"
    user.mkdir()
    (user / "thesis.tex").write_text("years of work")
    (tmp_path / "file").write_text("a file")
    refused = [
        (preset, FileExistsError, r"Refusing to replace .*preset: it holds notes.txt, which "
                                  r"`save_to_preset` did not write, or which changed since .*\. Remove it "
                                  r"yourself"),
        (user, FileExistsError, r"it is not a keras_cvae preset folder \(no metadata.json"),
        (tmp_path / "file", NotADirectoryError, "is a file, not a folder"),
    ]
    before = {path: _contents(path) if path.is_dir() else path.read_bytes() for path, *_ in refused}
    for path, error, message in refused:
        with pytest.raises(error, match=message):
            save_to_preset(vae, path, overwrite=True)
    assert before == {path: _contents(path) if path.is_dir() else path.read_bytes()
                      for path, *_ in refused}
    assert sorted(os.listdir(tmp_path)) == ["file", "preset", "user"]
    (tmp_path / "empty").mkdir()  # nothing to lose
    save_to_preset(vae, tmp_path / "empty", overwrite=True, include_weights=False)
    assert keras_cvae.VAE.from_preset(str(tmp_path / "empty"), load_weights=False).latent_dim == 4


def test_a_preset_without_a_files_list_is_the_users(vae, tmp_path):
    """An older or hand-edited preset: only what metadata.json's SHA-256 proves ours is replaced."""
    preset = tmp_path / "preset"
    save_to_preset(vae, preset, files={"samples.png": b"png", "README.md": "card"})
    metadata = json.loads((preset / "metadata.json").read_text())
    del metadata["files"], metadata["file_sha256"]
    (preset / "metadata.json").write_text(json.dumps(metadata))
    before = _contents(preset)
    with pytest.raises(FileExistsError, match=r"it holds README.md, config.json, samples.png, "
                                              r"which `save_to_preset` did not write"):
        save_to_preset(vae, preset, overwrite=True)
    assert _contents(preset) == before
    for name in ("README.md", "config.json", "samples.png"):
        (preset / name).unlink()
    save_to_preset(vae, preset, overwrite=True)  # the weights match their recorded SHA-256
    assert sorted(os.listdir(preset)) == ["config.json", "metadata.json", "model.weights.h5"]
    (preset / "runs").mkdir()  # a folder is never a preset's file
    with pytest.raises(FileExistsError, match="it holds runs, which"):
        save_to_preset(vae, preset, overwrite=True)


def test_a_file_changed_since_save_to_preset_wrote_it_is_kept(vae, tmp_path):
    preset = tmp_path / "preset"
    metadata = save_to_preset(vae, preset, files={"README.md": "card"})
    assert sorted(metadata["file_sha256"]) == ["README.md", "config.json", "model.weights.h5"]
    (preset / "README.md").write_text("the card, with my notes")
    with pytest.raises(FileExistsError, match="it holds README.md, which `save_to_preset` did not "
                                              "write, or which changed since"):
        save_to_preset(vae, preset, overwrite=True)
    assert (preset / "README.md").read_text() == "the card, with my notes"


def test_a_full_disk_leaves_the_previous_preset(vae, tmp_path, monkeypatch):
    preset = tmp_path / "preset"
    save_to_preset(vae, preset)
    before = _contents(preset)

    class FullDisk:
        def save_weights(self, path):
            with open(path, "wb") as f:
                f.write(b"\x89HDF half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(preset_io, "_weights_only", lambda model: FullDisk())
    with pytest.raises(OSError, match=r"^Could not write .*preset: No space left on device\. "
                                      r"The previous version \(if any\) is unchanged") as info:
        save_to_preset(vae, preset, overwrite=True)
    assert info.value.errno == errno.ENOSPC
    assert _contents(preset) == before and os.listdir(tmp_path) == ["preset"]


def test_a_real_full_file_system_leaves_the_previous_preset(vae, tmp_path):
    """On a 512 KiB tmpfs: needs root to mount (the injected test above runs everywhere)."""
    mount = tmp_path / "small"
    mount.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
                                 capture_output=True).returncode == 0
    except OSError:
        mounted = False
    if not mounted:
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        preset = mount / "preset"
        save_to_preset(vae, preset)  # about 100 KB
        before = _contents(preset)
        big = tiny_vae(channels=64)  # about 870 KB: refused before HDF5 writes (it would crash)
        for model, files in ((big, None), (vae, {"big.bin": b"x" * 400_000})):
            with pytest.raises(OSError, match=r"preset: No space left on device\. The previous"):
                save_to_preset(model, preset, overwrite=True, files=files)
            assert _contents(preset) == before and os.listdir(mount) == ["preset"]
        assert keras_cvae.VAE.from_preset(str(preset)).count_params() == vae.count_params()
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_loading_recovers_a_preset_whose_replacement_was_killed(vae, tmp_path):
    """As the two-rename fallback leaves it when killed between its renames."""
    preset = tmp_path / "preset"
    save_to_preset(vae, preset)
    before = _contents(preset)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    aside = tmp_path / f".preset.{dead}.abcd1234.old"
    aside.mkdir()
    shutil.move(preset, aside / "preset")
    (tmp_path / f".preset.{dead}.efgh5678.partial").mkdir()  # the new version, half-written
    (tmp_path / f".preset.{dead}.efgh5678.partial" / "config.json").write_text("{")
    loaded = keras_cvae.VAE.from_preset(str(preset))
    assert loaded.count_params() == vae.count_params()
    assert os.listdir(tmp_path) == ["preset"] and _contents(preset) == before
