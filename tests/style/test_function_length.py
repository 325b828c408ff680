"""Every function in the package reads on one screen: at most 60 lines of code besides its docstring."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "keras_cvae"
MAX_LINES = 60


def _functions():
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path, node


def _code_lines(node):
    """Lines from the `def` to the end, less the docstring's."""
    lines = node.end_lineno - node.lineno + 1
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None),
                                                             ast.Constant):
        if isinstance(body[0].value.value, str):
            lines -= body[0].end_lineno - body[0].lineno + 1
    return lines


def test_the_package_has_functions():
    assert sum(1 for _ in _functions()) > 100


def test_no_function_is_longer_than_a_screen():
    long = [f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({_code_lines(node)} lines)"
            for path, node in _functions() if _code_lines(node) > MAX_LINES]
    assert not long, "functions over 60 lines of code:\n" + "\n".join(long)


@pytest.mark.parametrize("source, expected", [
    ('def f():\n    """Doc\n\n    more."""\n    return 1\n', 2),
    ("def f():\n    x = 1\n    return x\n", 3),
])
def test_the_docstring_is_not_counted(source, expected):
    (node,) = ast.parse(source).body
    assert _code_lines(node) == expected
