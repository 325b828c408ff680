"""The manifest of an export: the SHA-256 sum and size of every file it wrote.

Every export writes one, last, so it also marks the export as complete:

- a folder (`export_all`, `export_saved_model`'s version folder,
  `export_onnx`, `VAE.export(format="tf_saved_model" | "onnx")`):
  `<folder>/manifest.json`, listing the files below the folder;
- a single `.tflite` file (`export_tflite`, `VAE.export(format="litert")`):
  `<file>.manifest.json` beside it, listing the file.

Paths are relative to the manifest's folder, with `/` separators. The
consumer scripts in `export/` check the files they load against it (they
read it with the standard library only, so its layout is fixed by
`MANIFEST_FORMAT` and `MANIFEST_VERSION`). `overwrite=True` replaces only
an empty folder or one that holds such a manifest (or, written before
manifests, an `export_all` report): never a folder of someone else's files.

Example:

>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> with open(os.path.join(folder, "model.onnx"), "wb") as f:
...     _ = f.write(b"graph")
>>> manifest = write_manifest(folder)
>>> manifest["files"]["model.onnx"]["size"]
5
>>> sorted(os.listdir(folder))
['manifest.json', 'model.onnx']
>>> is_export_folder(folder)
True
"""

import hashlib
import os

from keras_cvae.utils import read_json
from keras_cvae.utils import write_json
from keras_cvae.version import __version__

MANIFEST_FILE = "manifest.json"
# What a single-file export's manifest is called: `<file>` + this suffix.
SIDECAR_SUFFIX = ".manifest.json"
MANIFEST_FORMAT = "keras_cvae.export.manifest"
MANIFEST_VERSION = 1
# What `export_all` wrote before manifests: its report marks a folder it wrote too.
_REPORT_FILE = "export_report.json"
_CHUNK = 1 << 20


def write_manifest(path):
    """Writes the manifest of the export at `path` (a folder or one file); returns its contents.

    Call it last: the manifest lists the files present, and marks the export
    as complete.

    Args:
        path: str. The export's folder (every file below it is listed, but
            for `manifest.json` itself) or its single file (listed in
            `<path>.manifest.json` beside it).

    Returns:
        The manifest: `{"format", "format_version", "keras_cvae_version",
        "algorithm": "sha256", "files": {relative path: {"sha256", "size"}}}`.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        root, target = path, os.path.join(path, MANIFEST_FILE)
        files = sorted(
            os.path.relpath(os.path.join(folder, name), root)
            for folder, _, names in os.walk(root)
            for name in names
        )
        files = [name for name in files if name != MANIFEST_FILE]
    else:
        root, target = os.path.dirname(path), path + SIDECAR_SUFFIX
        files = [os.path.basename(path)]
    manifest = {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION,
        "keras_cvae_version": __version__,
        "algorithm": "sha256",
        "files": {
            name.replace(os.sep, "/"): {
                "sha256": _sha256(os.path.join(root, name)),
                "size": os.path.getsize(os.path.join(root, name)),
            }
            for name in files
        },
    }
    write_json(target, manifest)
    return manifest


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_export_folder(path):
    """Whether `path` is a real folder (not a link) that an export of this package wrote.

    That is, it holds this package's `manifest.json`, or the
    `export_report.json` of an `export_all` that predates manifests.
    """
    path = os.fspath(path)
    if not os.path.isdir(path) or os.path.islink(path):
        return False
    manifest = _read(os.path.join(path, MANIFEST_FILE))
    if isinstance(manifest, dict) and manifest.get("format") == MANIFEST_FORMAT:
        return True
    report = _read(os.path.join(path, _REPORT_FILE))
    return isinstance(report, dict) and {"model", "artifacts"} <= set(report)


def _read(path):
    """The parsed JSON file at `path`, or `None` if it is missing or not JSON."""
    if not os.path.isfile(path):
        return None
    try:
        return read_json(path)
    except (ValueError, OSError):
        return None


def check_replaceable(path, overwrite):
    """Raises unless an export may be written to the folder `path`.

    With `overwrite=False`, `atomic_path` refuses any existing `path`. With
    `overwrite=True`, an existing `path` is replaced whole, so it must be an
    empty folder or one an export wrote (`is_export_folder`): anything else,
    such as a folder of the user's files, a file or a link, raises a
    FileExistsError naming it, and nothing is touched.
    """
    path = os.path.abspath(os.fspath(path))
    if overwrite is not True or not os.path.lexists(path) or is_export_folder(path):
        return
    folder = os.path.isdir(path) and not os.path.islink(path)
    if folder and not os.listdir(path):
        return
    raise FileExistsError(
        f"{path} is a {'folder' if folder else 'file or link'} that keras_cvae did not export "
        f"(it holds no keras_cvae {MANIFEST_FILE}): `overwrite=True` replaces only an earlier "
        f"export, never other files. Choose another path, or move it away yourself. "
        f"Received: path={path!r}"
    )
