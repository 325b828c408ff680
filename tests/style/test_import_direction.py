"""Imports point one way: layers ← models ← zoo-using training and export ← the command line.

The zoo (preset registry and preset files) sits below the models: `VAE.from_preset`
uses it, and it never imports a model.
"""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "keras_cvae"
BASE = {"validation", "version", "utils"}
# Which subpackages each subpackage may import (besides itself).
ALLOWED = {
    "validation": set(),
    "version": set(),
    "utils": {"validation"},
    "layers": BASE,
    "datasets": BASE,
    "distribute": BASE,
    "zoo": BASE,
    "models": BASE | {"layers", "datasets", "zoo"},
    "training": BASE | {"layers", "datasets", "distribute", "zoo", "models"},
    "export": BASE | {"layers", "datasets", "models"},
}
# Upward imports allowed inside a function body only, {file: {subpackage}}: `VAE.export`
# (Keras's `Model.export`) writes keras_cvae.export's artifacts, imported when it is called.
DEFERRED = {"models/vae.py": {"export"}}


def _imported_subpackages(path):
    """The `keras_cvae` subpackages or modules that the file at `path` imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "keras_cvae":
                continue
            if len(parts) > 1:
                found.add(parts[1])
            else:  # from keras_cvae import datasets, validation
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "keras_cvae" and len(parts) > 1:
                    found.add(parts[1])
    return found


def _subpackage(path):
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py") if len(relative.parts) > 1 else relative.stem


def test_imports_point_one_way():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        owner = _subpackage(path)
        if owner not in ALLOWED:  # cli, __init__, __main__, conftest: the top may import anything
            continue
        deferred = DEFERRED.get(path.relative_to(PACKAGE).as_posix(), set())
        for imported in _imported_subpackages(path) - {owner} - ALLOWED[owner] - deferred:
            wrong.append(f"{path.relative_to(PACKAGE.parent)} imports keras_cvae.{imported}")
    assert not wrong, "\n".join(wrong)


def test_every_subpackage_is_placed():
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert subpackages <= set(ALLOWED), subpackages - set(ALLOWED)


def test_the_check_sees_an_upward_import(tmp_path):
    file = tmp_path / "x.py"
    file.write_text("from keras_cvae.training import train\nfrom keras_cvae import zoo, models\n")
    assert _imported_subpackages(file) == {"training", "zoo", "models"}


def test_deferred_imports_are_inside_functions(tmp_path):
    """A `DEFERRED` import at module level would load the upper subpackage with the lower one."""
    for name, subpackages in DEFERRED.items():
        body = ast.parse((PACKAGE / name).read_text()).body
        imports = tmp_path / "imports.py"
        imports.write_text("\n".join(
            ast.unparse(node) for node in body if isinstance(node, (ast.Import, ast.ImportFrom))
        ))
        assert not _imported_subpackages(imports) & subpackages, f"{name}: {subpackages}"
