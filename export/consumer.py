"""What the three consumer scripts share: the command line, verification, inputs, running.

Needs only numpy and the standard library. Each script (`run_saved_model.py`,
`run_tflite.py`, `run_onnx.py`) brings its runtime (which files it loads, how
to load a model's signatures, read a signature's inputs and run it) and hands
it to `main`. Keep this file beside the scripts: `python export/run_tflite.py
...` finds it in the script's folder.

Before loading anything, `main` checks the files the runtime will load
against the export's manifest (`verify`): the SHA-256 sums keras_cvae wrote
last, at `<export>/manifest.json` (a folder) or `<file>.manifest.json` (a
single `.tflite`). A damaged or changed file, a missing one, or an artifact
without a manifest is refused; `--no-verify` runs it anyway. Given a folder
of files to load (ONNX), every file the manifest lists in it must be there.
Before running, every input is checked (`check_inputs`): names, shapes,
dtypes, and values (finite; images in [0, 1], `z_uniform` in [0, 1),
temperatures in [0, 1000]), since TFLite and ONNX have no operation that
refuses them. An `--outputs` file that exists is refused unless
`--overwrite` is given, and is replaced only once the new one is written.
Every error, from the command line, the manifest, the `--inputs` files or
the runtime, is one line on stderr and exit status 2.
"""

import argparse
import contextlib
import hashlib
import json
import os
import sys
import zipfile

import numpy as np

# The manifest keras_cvae.export writes (keras_cvae/export/manifest.py): kept in step by a test.
MANIFEST_FILE = "manifest.json"
SIDECAR_SUFFIX = ".manifest.json"
MANIFEST_FORMAT = "keras_cvae.export.manifest"
MANIFEST_VERSION = 1
EXIT_ERROR = 2
# The values each input takes, as keras_cvae checks them (keras_cvae.validation,
# VAE.sample_from_noise): (low, high, whether high itself is accepted). Kept in step by a test.
MAX_TEMPERATURE = 1000.0
VALUE_RANGES = {"images": (0.0, 1.0, True), "z_uniform": (0.0, 1.0, False),
                "temperature": (0.0, MAX_TEMPERATURE, True)}


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block), exit status 2."""

    def error(self, message):
        self.exit(EXIT_ERROR, f"{self.prog}: error: {' '.join(message.split())} "
                              f"(see {self.prog} --help)\n")


def build_parser(doc, model_help, prog):
    """The options every script takes; a script adds its own after them."""
    parser = _Parser(prog=prog, description=doc.split("\n\n")[0])
    parser.add_argument("model", help=model_help)
    parser.add_argument(
        "--inputs", nargs="*", default=[], help="npz files of <signature>/<input> arrays"
    )
    parser.add_argument(
        "--outputs", nargs="*", default=[],
        help="npz files to write, one per --inputs (an existing file is refused without "
        "--overwrite)",
    )
    parser.add_argument(
        "--overwrite", action="store_true",
        help="replace existing --outputs files (default: refuse them, before running anything)",
    )
    parser.add_argument("--signature", nargs="*", help="run only these signatures")
    parser.add_argument("--batch", type=int, default=2, help="batch of the random inputs")
    parser.add_argument(
        "--seed", type=int, default=0,
        help="seed of the random inputs, and of `sample/z_uniform` when an --inputs file "
        "has no such array (default: 0)",
    )
    parser.add_argument(
        "--no-verify", action="store_true",
        help=f"run the artifact without checking its files against the export's {MANIFEST_FILE} "
        "(default: check, and refuse a damaged file or an artifact without a manifest)",
    )
    return parser


def main(parser, argv, locate, load, input_details, run, errors=()):
    """Verifies the artifact, lists the signatures' inputs, runs them on random inputs or files.

    Random inputs, and the inputs an `--inputs` file leaves out that are
    only noise (`z_uniform`: files written before `sample` took it), are
    drawn from `--seed`.

    Args:
        parser: From `build_parser`, with the script's own options.
        argv: The command line (`None`: `sys.argv[1:]`).
        locate: `locate(model) -> [path, ...]`: the files or folders the
            runtime loads for the `model` argument (an existing path); a
            ValueError if it holds none.
        load: `load(args, paths) -> {signature: handle}`.
        input_details: `input_details(handle) -> {input: (shape, dtype)}`, `-1`
            for the batch.
        run: `run(handle, signature, inputs) -> {output: array}`.
        errors: The runtime's exception types for a file it cannot load or
            inputs it cannot run (besides ValueError and OSError).

    Returns:
        The exit status, `0`. An error raises `SystemExit(2)` after printing
        `<script>: error: <message>` (one line) to stderr.
    """
    args = parser.parse_args(argv)
    if args.inputs and len(args.outputs) not in (0, len(args.inputs)):
        parser.error("give one --outputs file per --inputs file")
    try:
        check_outputs(args.outputs, args.overwrite)
        _run_all(args, locate, load, input_details, run)
    except (ValueError, OSError, *errors) as error:
        parser.exit(EXIT_ERROR, f"{parser.prog}: error: {one_line(error)}\n")
    return 0


@contextlib.contextmanager
def quiet_stderr():
    """Sends file descriptor 2 (C++ logs too) to /dev/null in the block, unless
    `TF_CPP_MIN_LOG_LEVEL` is 0: TensorFlow writes start-up lines there whatever the level."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def one_line(error):
    """The message of `error` on one line (or its type, if it has none)."""
    return " ".join(str(error).split()) or type(error).__name__


def _run_all(args, locate, load, input_details, run):
    """`main` after the options: raises a ValueError, an OSError or a runtime's error."""
    if not os.path.exists(args.model):
        raise ValueError(f"Expected an exported model. Received: {args.model!r}, which does not "
                         "exist")
    paths = locate(args.model)
    if args.no_verify:
        print(f"not verified (--no-verify): {', '.join(paths)}")
    else:
        for path in _to_verify(args.model, paths):
            manifest, count = verify(path)
            print(f"verified: {path} ({count} file{'s' * (count != 1)}, {manifest})")
    cases = [(path, read_inputs(path)) for path in args.inputs]  # fail before loading
    handles = load(args, paths)
    names = args.signature or sorted(handles)
    unknown = sorted(set(names) - set(handles))
    if unknown:
        raise ValueError(f"Expected --signature names among {sorted(handles)}. Received: "
                         f"{unknown}")
    details = {name: input_details(handles[name]) for name in names}
    for name in names:
        shapes = {key: shape for key, (shape, _) in details[name].items()}
        print(f"{name}: inputs {shapes}")

    rng = np.random.default_rng(args.seed)
    for index, (case, arrays) in enumerate(cases or [(None, None)]):
        if case is None:
            feeds = {name: random_inputs(details[name], args.batch, rng) for name in names}
        else:
            feeds = select_inputs(case, arrays, names, sorted(handles))
            for name, inputs in feeds.items():
                drawn = ", ".join(add_missing_noise(inputs, details[name], rng))
                if drawn:
                    print(f"{name}: {drawn} not in {case}: drawn from --seed {args.seed}")
        for name, inputs in feeds.items():
            check_inputs(name, inputs, details[name], case)
        results = run_feeds(handles, feeds, run)
        if index < len(args.outputs):
            write_outputs(args.outputs[index], results)


# === Outputs ===


def npz_path(path):
    """The file `numpy.savez(path)` writes: `path`, with `.npz` added if it lacks it."""
    return path if path.endswith(".npz") else path + ".npz"


def check_outputs(paths, overwrite):
    """Refuses, before anything runs, an `--outputs` file that exists (unless `overwrite`) or a folder."""
    for path in map(npz_path, paths):
        if os.path.isdir(path):
            raise ValueError(f"Expected an --outputs file. Received: {path!r}, which is a folder")
        if os.path.lexists(path) and not overwrite:
            raise ValueError(f"Expected an --outputs file that does not exist. Received: "
                             f"{path!r}, which exists: pass --overwrite to replace it")


def write_outputs(path, results):
    """Writes `results` to `npz_path(path)` whole: to a temporary file beside it, then renamed."""
    path = npz_path(path)
    temporary = os.path.join(os.path.dirname(path) or ".",
                             f".{os.path.basename(path)}.{os.getpid()}.partial")
    try:
        with open(temporary, "wb") as file:
            np.savez(file, **results)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


# === Verification ===


def _to_verify(model, paths):
    """What to verify: the `paths` to load, after the folder `model` when they are its files.

    Verifying the folder (an ONNX export) checks that every file its
    manifest lists there is present, not only the files found in it.
    """
    folder = os.path.abspath(model)
    if os.path.isdir(model) and all(
        os.path.isfile(p) and os.path.dirname(os.path.abspath(p)) == folder for p in paths
    ):
        return [model, *paths]
    return paths


def find_manifest(path):
    """`(manifest path, manifest)` of the export holding `path`; `(None, None)` if none.

    Looks for `<path>/manifest.json` (a folder) or `<path>.manifest.json` (a
    file), then `manifest.json` in each parent folder, and takes the first
    written by keras_cvae (another program's `manifest.json` is passed over).
    """
    path = os.path.abspath(path)
    candidates = [os.path.join(path, MANIFEST_FILE) if os.path.isdir(path)
                  else path + SIDECAR_SUFFIX]
    folder = os.path.dirname(path)
    while True:
        candidates.append(os.path.join(folder, MANIFEST_FILE))
        if os.path.dirname(folder) == folder:
            break
        folder = os.path.dirname(folder)
    for candidate in candidates:
        manifest = _read_manifest(candidate) if os.path.isfile(candidate) else None
        if manifest is not None:
            return candidate, manifest
    return None, None


def _read_manifest(path):
    """The manifest at `path`, `None` if it is another program's; a ValueError if unreadable."""
    try:
        with open(path, "rb") as file:
            manifest = json.load(file)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"Expected a JSON manifest. Received: {path}, which is not valid JSON "
                         f"({error}): re-export the model") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        return None
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > MANIFEST_VERSION:
        raise ValueError(f"Expected a manifest of format_version <= {MANIFEST_VERSION} (what this "
                         f"script reads). Received: format_version={version!r} in {path}: use "
                         "the consumer scripts of the keras_cvae that exported it")
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
        and isinstance(entry.get("size"), int) for entry in files.values()
    ):
        raise ValueError(f"Expected a manifest whose 'files' map paths to a sha256 and a size. "
                         f"Received: {path}, which does not: re-export the model")
    return manifest


def verify(path):
    """Checks the file or folder `path` against its export's manifest: `(manifest path, files)`.

    A file must be listed, with the same size and SHA-256 sum; for a folder,
    every file the manifest lists below it. Raises a ValueError (one line:
    the file, the expected and the received sum) otherwise, and if no
    manifest is found.
    """
    manifest_path, manifest = find_manifest(path)
    if manifest is None:
        raise ValueError(
            f"Expected a keras_cvae export with its {MANIFEST_FILE} (or {SIDECAR_SUFFIX} beside a "
            f"file), which every keras_cvae export writes. Received: {path}, with none in it or "
            "its parent folders: its files cannot be verified. Pass --no-verify to run it anyway"
        )
    root, files = os.path.dirname(manifest_path), manifest["files"]
    relative = os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")
    if os.path.isdir(path):
        listed = sorted(name for name in files
                        if relative == "." or name.startswith(relative + "/"))
    else:
        listed = [relative] if relative in files else []
    if not listed:
        raise ValueError(f"Expected {path} to be listed in {manifest_path}. Received: no entry "
                         f"for {relative!r}: it was not exported with it. Pass --no-verify to "
                         "run it anyway")
    for name in listed:
        _check_file(os.path.join(root, *name.split("/")), files[name], manifest_path)
    return manifest_path, len(listed)


def _check_file(path, entry, manifest_path):
    if not os.path.isfile(path):
        raise ValueError(f"Missing file {path}, listed in {manifest_path}: the export is "
                         "incomplete. Re-export it")
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    size, sha256 = os.path.getsize(path), digest.hexdigest()
    if (size, sha256) != (entry["size"], entry["sha256"]):
        raise ValueError(
            f"Checksum mismatch for {path}: expected sha256 {entry['sha256'][:16]}... and "
            f"{entry['size']} bytes (from {manifest_path}). Received: sha256 {sha256[:16]}... "
            f"and {size} bytes: the file is damaged or was changed after export. Re-export it, "
            "or pass --no-verify to run it anyway"
        )


# === Inputs ===

# Inputs that are uniform noise in [0, 1): `sample`'s choice of a mixture prior's component.
UNIFORM_NOISE = ("z_uniform",)


def random_inputs(details, batch, rng):
    """Inputs of batch `batch`: images and `z_uniform` in [0, 1), temperature 1, noise `N(0, 1)`."""
    inputs = {}
    for key, (shape, dtype) in sorted(details.items()):
        shape = tuple(batch if d == -1 else d for d in shape)
        if key == "temperature":
            inputs[key] = np.ones(shape, dtype)
        elif key == "images" or key in UNIFORM_NOISE:
            inputs[key] = rng.uniform(size=shape).astype(dtype)
        else:
            inputs[key] = rng.standard_normal(shape).astype(dtype)
    return inputs


def add_missing_noise(inputs, details, rng):
    """Draws each `UNIFORM_NOISE` input the signature takes but `inputs` lacks; their names.

    The batch is that of the given inputs. Other missing inputs are left
    for `check_inputs` to report.
    """
    missing = [key for key in UNIFORM_NOISE if key in details and key not in inputs]
    if not missing or not inputs:
        return []
    batch = len(next(iter(inputs.values())))
    for key in missing:
        shape, dtype = details[key]
        shape = tuple(batch if d == -1 else d for d in shape)
        inputs[key] = rng.uniform(size=shape).astype(dtype)
    return missing


def read_inputs(path):
    """`{"<signature>/<input>": array}` of an `.npz` file; a ValueError if it is not one."""
    expected = "an --inputs .npz file (numpy.savez) of arrays named <signature>/<input>"
    if not os.path.isfile(path):
        state = "is a folder" if os.path.isdir(path) else "does not exist"
        raise ValueError(f"Expected {expected}. Received: {path!r}, which {state}")
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                data = {key: data[key] for key in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"Expected {expected}. Received: {path!r}, which numpy cannot read as "
                         f"one ({one_line(error)})") from None
    if not isinstance(data, dict):
        raise ValueError(f"Expected {expected}. Received: {path!r}, a single array (.npy)")
    bad = sorted(key for key in data if key.count("/") != 1 or "" in key.split("/"))
    if bad or not data:
        raise ValueError(f"Expected {expected} (e.g. encode/images). Received: {path!r} with "
                         f"arrays {bad or 'none'}")
    return data


def select_inputs(path, arrays, names, signatures):
    """`{signature: {input: array}}` of `arrays` for the signatures `names` to run.

    Arrays of the model's other signatures are left out; a ValueError for
    arrays of a signature the model does not have, or if none is for `names`.
    """
    unknown = sorted(key for key in arrays if key.split("/")[0] not in signatures)
    if unknown:
        raise ValueError(f"Expected arrays named <signature>/<input> with a signature among "
                         f"{signatures}. Received: {unknown} in {path!r}")
    feeds = {}
    for key, value in sorted(arrays.items()):
        name, input_name = key.split("/")
        if name in names:
            feeds.setdefault(name, {})[input_name] = value
    if not feeds:
        raise ValueError(f"Expected arrays for the signatures to run, {names}. Received: "
                         f"{sorted(arrays)} in {path!r}")
    return feeds


def check_inputs(name, inputs, details, source=None):
    """Raises a ValueError unless `inputs` has the names, shapes, dtypes and one batch of `details`.

    `source`: the `--inputs` file they come from, named in the message.
    """
    where = f" in {source!r}" if source else ""
    if set(inputs) != set(details):
        raise ValueError(
            f"Signature '{name}' takes inputs {sorted(details)}. Received: {sorted(inputs)}{where}"
        )
    for key, (shape, dtype) in sorted(details.items()):
        value = np.asarray(inputs[key])
        fits = len(value.shape) == len(shape) and all(
            d in (-1, v) for d, v in zip(shape, value.shape)
        )
        if not fits:
            raise ValueError(
                f"Signature '{name}' expects input '{key}' of shape "
                f"{tuple('batch' if d == -1 else d for d in shape)}. Received: shape "
                f"{value.shape}{where}"
            )
        if value.dtype != np.dtype(dtype):
            raise ValueError(
                f"Signature '{name}' expects input '{key}' of dtype {np.dtype(dtype).name}. "
                f"Received: dtype {value.dtype.name}{where}"
            )
    batches = {key: np.shape(value)[0] for key, value in inputs.items() if np.ndim(value)}
    if len(set(batches.values())) > 1:
        raise ValueError(
            f"Signature '{name}' expects all inputs to have the same batch size. "
            f"Received: {dict(sorted(batches.items()))}{where}"
        )
    for key, value in sorted(inputs.items()):
        _check_values(name, key, np.asarray(value), where)


def _check_values(name, key, value, where):
    """Raises a ValueError unless `value` is finite and in the input's `VALUE_RANGES`."""
    if value.size == 0:
        raise ValueError(f"Signature '{name}' expects input '{key}' with at least one example. "
                         f"Received: shape {value.shape}{where}")
    low, high, high_inclusive = VALUE_RANGES.get(key, (-np.inf, np.inf, True))
    expected = ("finite values" if key not in VALUE_RANGES else
                f"values in [{low:g}, {high:g}{']' if high_inclusive else ')'}")
    nan, infinite = int(np.isnan(value).sum()), int(np.isinf(value).sum())
    if nan or infinite:
        received = f"{nan} NaN and {infinite} infinite values"
    else:
        smallest, largest = float(value.min()), float(value.max())
        if smallest >= low and (largest <= high if high_inclusive else largest < high):
            return
        received = f"values in [{smallest:g}, {largest:g}]"
    hint = (" (scale them to [0, 1], e.g. divide 8-bit images by 255)"
            if key == "images" and not (nan or infinite) and value.min() >= 0
            and 1 < value.max() <= 255 else "")
    raise ValueError(f"Signature '{name}' expects input '{key}' with {expected}. "
                     f"Received: {received}{where}{hint}")


def run_feeds(handles, feeds, run):
    """Runs each signature on its inputs, prints every output; `{"<signature>/<output>": array}`."""
    results = {}
    for name, inputs in feeds.items():
        for key, value in run(handles[name], name, inputs).items():
            results[f"{name}/{key}"] = value
            print(f"  {name}/{key}: shape {value.shape}, mean {float(np.mean(value)):.4f}")
    return results
