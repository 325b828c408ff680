"""The documentation check: what README.md and docs/ show parses, runs and links inside the repository.

README.md is the front page; docs/README.md indexes the other pages of docs/.

- Every `keras-cvae ...` command in a code block (and every inline one with a
  flag) parses with the real command line, names a registered preset and
  known export formats; every `python bench/...` command uses flags its
  script defines. docs/cli.md documents every command and every flag of the
  real parser.
- Links and images point to files of the repository (and to headings that
  exist), never outside it.
- No development history ("issue 8", "last session", ...).
- The fast commands run as documented: `keras-cvae presets`, `keras-cvae
  sample`, and the one-line errors.
- Every Python block of README.md and docs/*.md runs, the long ones with
  fewer epochs and samples (`PYTHON_SUBSTITUTIONS`); the printed results of
  docs/model.md are the ones its comments state.
- The zoo tables (README.md: one row per preset; docs/zoo.md: with the
  baselines) are the presets' recorded metrics.

How the pages render (images, links, tables): test_rendered_pages.py.
"""

import argparse
import ast
import contextlib
import io
import itertools
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
# Also checked for commands, links and history: the export page and the model cards.
EXPORT_README = ROOT / "export" / "README.md"
MODEL_CARDS = sorted((ROOT / "zoo").glob("*/README.md"))
PAGES = [*DOCS, EXPORT_README]

_SCRIPT = os.path.join(os.path.dirname(sys.executable), "keras-cvae")
# The installed console script, else `python -m keras_cvae` (the same program).
KERAS_CVAE = [_SCRIPT] if os.path.exists(_SCRIPT) else [sys.executable, "-m", "keras_cvae"]
TIMEOUT = 120

# The README's first code block: set up + main job, set up + tests.
MAIN_COMMAND = (
    'python3 -m venv .venv && .venv/bin/pip install ".[export]" && .venv/bin/keras-cvae train && '
    ".venv/bin/keras-cvae export --preset runs/digits_basic/preset --out runs/digits_basic/export "
    "--overwrite"
)
TEST_COMMAND = 'python3 -m venv .venv && .venv/bin/pip install ".[test]" && .venv/bin/python -m pytest -q'

HISTORY = re.compile(
    r"\bissue\s*#?\d+|\bthis session\b|\blast session\b|\bpre-issue|\bbefore issue\b"
    r"|\bthe goal is met\b",
    re.IGNORECASE,
)

# Python blocks that train or evaluate for long: (page, text in the block) -> replacements,
# each of which must apply. Every other block runs as written.
PYTHON_SUBSTITUTIONS = {
    ("README.md", "vae.fit(train"): [("epochs=40)", "epochs=1)"), ("num_samples=100", "num_samples=2")],
    ("docs/distributed.md", "kd.configure"): [("epochs=50", "epochs=1"),
                                               ("(1024, 28, 28, 1)", "(64, 28, 28, 1)")],
}
# Pages whose `print(...)  # expected` lines are checked against what they print.
PRINTS_CHECKED = {"docs/model.md"}
DOCS_INDEX = ROOT / "docs" / "README.md"
CLI_REFERENCE = ROOT / "docs" / "cli.md"
ZOO_PAGE = ROOT / "docs" / "zoo.md"


# === Reading the pages ===


def _code_blocks(path):
    """`[(language, code, line number of the first code line)]` of the fenced blocks of `path`."""
    blocks, language, start, lines = [], None, 0, []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fence = re.match(r"\s*```\s*([\w+-]*)", line)
        if fence and language is None:
            language, start, lines = fence.group(1).lower(), number + 1, []
        elif fence and language is not None:
            blocks.append((language, "\n".join(lines), start))
            language = None
        elif language is not None:
            lines.append(line)
    assert language is None, f"{path}: unclosed code block from line {start - 1}"
    return blocks


def _prose(path):
    """`[(line number, text)]` of the lines outside code blocks."""
    inside, lines = False, []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if re.match(r"\s*```", line):
            inside = not inside
            continue
        if not inside:
            lines.append((number, line))
    return lines


def _inline_code(path):
    return [(number, span) for number, line in _prose(path) for span in re.findall(r"`([^`]+)`", line)]


def _shell_commands(path):
    """`[(line number, tokens)]`: each simple command of the shell code blocks and inline code."""
    found = []
    for language, code, start in _code_blocks(path):
        if language not in ("", "bash", "sh", "shell", "console"):
            continue
        pending, first = "", None  # a command continued with `\\` or inside quotes
        for offset, line in enumerate(code.splitlines()):
            first = start + offset if first is None else first
            pending += line.removeprefix("$ ") + "\n"
            if line.endswith("\\"):
                pending = pending[:-2] + " "
                continue
            try:
                commands = _split_commands(pending)
            except ValueError:  # no closing quotation yet
                continue
            found += [(first, tokens) for tokens in commands]
            pending, first = "", None
        assert not pending, f"{path}:{first}: unterminated command"
    for number, span in _inline_code(path):
        if span.startswith("python bench/") or span.startswith("keras-cvae ") and " --" in span:
            found += [(number, tokens) for tokens in _split_commands(span)]
    return found


def _split_commands(line):
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands, current = [], []
    for token in lexer:
        if token in ("&&", "||", ";", "|", "&"):
            commands.append(current)
            current = []
        else:
            current.append(token)
    commands.append(current)
    for command in commands:  # `VAR=value command ...`: the command
        while command and re.match(r"\w+=", command[0]):
            command.pop(0)
    return [c for c in commands if c]


def _keras_cvae_argv(tokens):
    """The arguments after `keras-cvae` (or `python -m keras_cvae`), else None."""
    program = os.path.basename(tokens[0])
    if program == "keras-cvae":
        return tokens[1:]
    if program.startswith("python") and tokens[1:3] == ["-m", "keras_cvae"]:
        return tokens[3:]
    return None


def _bench_command(tokens):
    """`(script path, arguments)` of `python bench/<script>.py ...`, else None."""
    if os.path.basename(tokens[0]).startswith("python") and len(tokens) > 1 and \
            tokens[1].startswith("bench/"):
        return tokens[1], tokens[2:]
    return None


def _documented(select):
    cases = []
    for path in PAGES:
        for number, tokens in _shell_commands(path):
            selected = select(tokens)
            if selected is not None:
                cases.append(pytest.param(selected, id=f"{path.relative_to(ROOT)}:{number}"))
    return cases


# === (a) Every documented command line parses ===


KERAS_CVAE_COMMANDS = _documented(_keras_cvae_argv)


def test_the_readme_starts_with_the_two_commands():
    language, code, _ = _code_blocks(README)[0]
    commands = [line for line in code.splitlines() if line.strip() and not line.startswith("#")]
    assert commands == [MAIN_COMMAND, TEST_COMMAND]


def test_the_readme_shows_every_command():
    from keras_cvae.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    shown = {argv[0] for number, tokens in _shell_commands(README)
             if (argv := _keras_cvae_argv(tokens))}
    assert shown == set(commands)


def _subcommands():
    from keras_cvae.cli import build_parser

    parser = build_parser()
    return parser, next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_the_cli_reference_documents_every_command_and_flag():
    """docs/cli.md: a `## keras-cvae NAME` section per command naming each of its flags."""
    parser, commands = _subcommands()
    text = CLI_REFERENCE.read_text()
    sections = dict(re.findall(r"^## keras-cvae (\w+)\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL))
    assert set(sections) == set(commands)
    missing = [flag for action in parser._actions for flag in action.option_strings
               if flag.startswith("--") and f"`{flag}" not in text]
    for name, command in commands.items():
        for action in command._actions:
            for flag in action.option_strings:
                if flag in ("-h", "--help", "--verbose"):  # on every command: in the introduction
                    continue
                if f"`{flag}" not in sections[name] and not (
                        flag.startswith("--no-") and f"`{flag}" in text):
                    missing.append(f"{name} {flag}")
    assert not missing, f"docs/cli.md does not document {missing}"


@pytest.mark.parametrize("argv", KERAS_CVAE_COMMANDS)
def test_documented_command_parses(argv):
    from keras_cvae.cli import build_parser
    from keras_cvae.zoo import PRESETS

    argv = [a for a in argv if a not in ("-h", "--help")]  # `keras-cvae train --help`: its command
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"`keras-cvae {' '.join(argv)}` does not parse: {stderr.getvalue()}")
    preset = getattr(args, "preset", None)
    if preset and not re.search(r"[/~.]", preset) and not preset.isupper():  # a name, not a folder
        assert preset in PRESETS, f"unknown preset {preset!r}"
    if args.command == "export":
        from keras_cvae.export import FORMATS
        from keras_cvae.export import QUANTIZATIONS

        assert set(args.format.split(",")) <= set(FORMATS), f"--format {args.format}"
        quantizations = {"float32", *filter(None, QUANTIZATIONS)}
        assert set(args.quantize.split(",")) <= quantizations, f"--quantize {args.quantize}"


def test_the_checks_see_the_commands():
    assert len([c for c in KERAS_CVAE_COMMANDS if str(c.id).startswith("README")]) >= 10
    assert _split_commands('a && .venv/bin/keras-cvae sample --out "x y.png"  # comment') == [
        ["a"], [".venv/bin/keras-cvae", "sample", "--out", "x y.png"]]


@pytest.mark.parametrize("command", _documented(_bench_command))
def test_documented_bench_command_uses_its_flags(command):
    script, arguments = command
    path = ROOT / script
    assert path.is_file(), script
    defined = {node.args[0].value for node in ast.walk(ast.parse(path.read_text()))
               if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument"
               and node.args and isinstance(node.args[0], ast.Constant)}
    used = {a.split("=")[0] for a in arguments if a.startswith("--")}
    assert used <= defined, f"{script} has no {sorted(used - defined)}"


# === (b) Links stay inside the repository ===


def _slug(heading):
    """GitHub's anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path):
    return {_slug(line.lstrip("#")) for _, line in _prose(path) if line.startswith("#")}


@pytest.mark.parametrize("path", [*PAGES, *MODEL_CARDS], ids=lambda p: str(p.relative_to(ROOT)))
def test_links_point_inside_the_repository(path):
    problems = []
    for number, line in _prose(path):
        line = re.sub(r"`[^`]*`", "", line)
        targets = re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", line)
        targets += re.findall(r"^\s*\[[^\]]+\]:\s*(\S+)", line)  # reference definitions
        if re.search(r"\b(?:https?|ftp)://", line):  # an autolink or a bare address
            problems.append(f"line {number}: an address outside the repository")
        for target in targets:
            file, _, anchor = target.partition("#")
            resolved = (path.parent / file).resolve() if file else path
            if re.match(r"[a-z][\w+.-]*:|//", target, re.IGNORECASE):
                problems.append(f"line {number}: {target} is outside the repository")
            elif ROOT not in (resolved, *resolved.parents):
                problems.append(f"line {number}: {target} is outside the repository")
            elif not resolved.exists():
                problems.append(f"line {number}: {target} does not exist")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                problems.append(f"line {number}: no heading #{anchor} in {file or path.name}")
    assert not problems, "\n".join(problems)


def test_the_readme_links_every_page_of_docs():
    text = README.read_text()
    for page in DOCS[1:]:
        assert f"(docs/{page.name}" in text, page.name


def test_the_docs_index_lists_every_page_once():
    """docs/README.md: one line per page of docs/ (and the export page), each with its link."""
    pages = [page for page in DOCS[1:] if page != DOCS_INDEX] + [EXPORT_README]
    lines = DOCS_INDEX.read_text().splitlines()
    for page in pages:
        target = os.path.relpath(page, DOCS_INDEX.parent)
        listed = [line for line in lines if line.startswith(f"- [") and f"]({target})" in line]
        assert len(listed) == 1, f"docs/README.md lists {target} on {len(listed)} lines"


# === (c) The product, not its history ===


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_development_history(path):
    found = [f"line {number}: {line.strip()}"
             for number, line in enumerate(path.read_text().splitlines(), 1) if HISTORY.search(line)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("path", [ROOT / "docs" / "model.md"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_decoder_scale_is_documented(path):
    from keras_cvae.models.gaussian_decoder import DECODER_SCALES

    text = path.read_text()
    assert all(f'"{name}"' in text for name in DECODER_SCALES)
    assert re.search(rf"\b{['one', 'two', 'three', 'four', 'five', 'six'][len(DECODER_SCALES) - 1]}"
                     r" options\b", text)


def _table_cells(row):
    """The cells of a Markdown table row, split as GitHub does: at every `|` not escaped `\\|`."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", row.strip().removeprefix("|").removesuffix("|"))]


def _zoo_rows(path):
    """`[{column: cell}]`: the rows of the table after `<!-- zoo-table -->` in `path`."""
    lines = path.read_text().split("<!-- zoo-table -->\n", 1)[1].splitlines()
    header, _, *rows = itertools.takewhile(lambda line: line.startswith("|"), lines)
    columns = _table_cells(header)
    return [dict(zip(columns, _table_cells(row), strict=True)) for row in rows]


def _number(text):  # "**2.292**", "−73.09"
    return float(text.strip("*").replace("−", "-"))


def _recorded(name):
    """`{column: check(cell)}`: what a zoo table's columns show of preset `name`, from its files."""
    from keras_cvae.zoo import read_config
    from keras_cvae.zoo import read_metadata

    metadata = read_metadata(name)
    metrics, weights = metadata["metrics"], metadata["weights"]
    encoder = read_config(name)["config"]["encoder"]["config"]
    net = encoder["conv_net"]["config"]
    inner = f"D={net['bottleneck_channels']}, " if net["block"] == "bottleneck" else ""
    architecture = (f"{net['block']}, C={net['channels']}, {inner}k={net['kernel_size']}, "
                    f"L={net['depth']}, Z={encoder['latent_dim']}")

    def params(cell):  # "501 K", "1.09 M": the count to as many digits as shown
        digits, unit = cell.split()
        scale = {"K": 1e3, "M": 1e6}[unit]
        return float(digits) == float(f"{metadata['parameter_count'] / scale:.{len(digits.replace('.', ''))}g}")

    checks = {
        "dataset": lambda cell: cell == metadata["dataset"]["name"],
        "input": lambda cell: cell == "×".join(str(n) for n in metadata["input_shape"]),
        "blocks": lambda cell: cell.startswith(architecture),
        "architecture": lambda cell: cell.startswith(architecture),
        "posterior": lambda cell: cell.startswith(encoder["posterior"]),
        "params": params,
        "weights": lambda cell: (cell == f"{weights['size_bytes'] / 1e6:.1f} MB" if weights
                                 else cell.startswith("none")),
    }
    measured = ["−ELBO (nats)", "NLL (nats)", "bits/dim", "bits/dim, N(0, I)", "sample score",
                "distance ratio", "train time"]
    if metrics is None:
        return {**checks, **dict.fromkeys(measured, lambda cell: cell == "—")}
    fitted, standard = metadata["sample_quality"]["fitted"], metadata["sample_quality"]["standard"]
    return {
        **checks,
        "−ELBO (nats)": lambda cell: _number(cell) == round(metrics["negative_elbo_nats"], 2),
        "NLL (nats)": lambda cell: _number(cell) == round(metrics["nll_nats"], 2),
        "bits/dim": lambda cell: _number(cell) == round(metrics["bits_per_dim"], 3),
        "bits/dim, N(0, I)": lambda cell: (_number(cell)
                                           == round(metrics["standard_prior"]["bits_per_dim"], 3)),
        "sample score": lambda cell: (cell == "—" if fitted["score"] is None else
                                      [_number(text) for text in cell.split("/")]
                                      == [round(fitted["score"], 2), round(standard["score"], 2)]),
        "distance ratio": lambda cell: _number(cell) == round(fitted["nearest_distance_ratio"], 2),
        "train time": lambda cell: cell.startswith(f"{metadata['training']['train_seconds']:.0f} s"),
    }


@pytest.mark.parametrize("path", [README, ZOO_PAGE], ids=lambda p: str(p.relative_to(ROOT)))
def test_the_zoo_table_is_the_recorded_metrics(path):
    """One row per registered preset (the others are baselines), every cell as the preset records it."""
    from keras_cvae.zoo import PRESETS

    shown, problems = [], []
    for row in _zoo_rows(path):
        name = re.match(r"\[`(\w+)`\]", row["preset"])
        if not name:  # a baseline
            continue
        shown.append(name.group(1))
        for column, matches in _recorded(name.group(1)).items():
            if column in row and not matches(row[column]):
                problems.append(f"{name.group(1)}: {column} {row[column]!r}")
    assert shown == list(PRESETS), f"rows {shown}, registered {list(PRESETS)}"
    assert not problems, "\n".join(problems)


def test_the_zoo_table_checks_what_it_shows():
    rows = _zoo_rows(ZOO_PAGE)
    assert {"dataset", "input", "architecture"} <= set(_zoo_rows(README)[0])
    assert {"−ELBO (nats)", "NLL (nats)", "distance ratio", "train time"} <= set(rows[0])
    checks = _recorded("digits_basic")
    assert not checks["bits/dim"]("**2.000**") and not checks["params"]("502 K")
    assert _table_cells(r"| `q(z\|x)` | a |") == [r"`q(z\|x)`", "a"]


# === (d) The fast commands run as documented ===


def _documented_command(name):
    """The first README line `keras-cvae NAME ...` (its arguments)."""
    for _, tokens in _shell_commands(README):
        argv = _keras_cvae_argv(tokens)
        if argv and argv[0] == name:
            return argv
    pytest.fail(f"the README shows no `keras-cvae {name}`")


def _run(*argv, cwd=None):
    result = subprocess.run([*KERAS_CVAE, *argv], capture_output=True, text=True, cwd=cwd,
                            timeout=TIMEOUT)
    return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """`keras-cvae sample ...` as the README shows it, started at once so that it overlaps the rest."""
    argv = _documented_command("sample")
    cwd = tmp_path_factory.mktemp("sample")
    process = subprocess.Popen([*KERAS_CVAE, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=cwd)
    yield argv, cwd, process
    if process.poll() is None:
        process.kill()
        process.communicate()


@pytest.fixture(scope="module", autouse=True)
def _start_sample_early(sample_run):
    yield


def test_presets_lists_the_zoo():
    from keras_cvae.zoo import PRESETS
    from keras_cvae.zoo import read_metadata

    argv = _documented_command("presets")
    code, stdout, stderr = _run(*argv)
    assert code == 0 and stderr == "", stderr
    header, *rows = stdout.splitlines()
    assert header.split()[0] == "name" and "test bits/dim" in header
    assert [row.split()[0] for row in rows] == list(PRESETS)
    bits = read_metadata("digits_basic")["metrics"]["bits_per_dim"]
    assert rows[0].endswith(f"{bits:.3f}")


@pytest.mark.parametrize("argv, expected", [
    (["sample", "--preset", "no_such_preset", "--out", "x.png"], "Known presets: "),
    (["train", "--epochs", "0"], "argument --epochs: expected an integer >= 1"),
])
def test_errors_are_one_line_with_status_2(argv, expected, tmp_path):
    code, stdout, stderr = _run(*argv, cwd=tmp_path)
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1 and expected in stderr, stderr


# === (e) The Python blocks run ===


def _python_blocks():
    cases = []
    for path in DOCS:
        for language, code, start in _code_blocks(path):
            if language == "python":
                cases.append(pytest.param(path, code, id=f"{path.relative_to(ROOT)}:{start}"))
    return cases


@pytest.mark.parametrize("path, code", _python_blocks())
def test_python_block_runs(path, code, tmp_path, monkeypatch, capsys):
    import keras

    page_name = path.relative_to(ROOT).as_posix()
    for (page, marker), replacements in PYTHON_SUBSTITUTIONS.items():
        if page_name == page and marker in code:
            for old, new in replacements:
                assert old in code, f"{page}: the block no longer contains {old!r}"
                code = code.replace(old, new)
    monkeypatch.chdir(tmp_path)  # files the block writes (presets, backups) land here
    policy = keras.config.dtype_policy()
    try:
        exec(compile(code, f"{path.name}: python block", "exec"), {"__name__": "__docs__"})
    finally:
        keras.config.set_dtype_policy(policy)
    printed = capsys.readouterr().out
    if path == README and "evaluate_density" in code:
        results = re.search(r"^\{'negative_elbo'.*\}$", printed, re.MULTILINE)
        assert results, printed[-2000:]
        results = ast.literal_eval(results.group(0))
        assert {"negative_elbo", "nll", "bits_per_dim"} <= set(results)
        assert results["bits_per_dim"] > 0
    if page_name in PRINTS_CHECKED:
        prints = [line for line in code.splitlines() if line.startswith("print(")]
        assert all("#" in line for line in prints), "each print(...) states its output: # ..."
        expected = [line.split("#", 1)[1].strip() for line in prints]
        outputs = printed.strip().splitlines()
        assert len(outputs) == len(expected), printed
        for output, comment in zip(outputs, expected):
            assert comment.startswith(output.strip()), f"printed {output!r}, documented {comment!r}"


# Last: by now the sample command has run alongside the tests above.
def test_sample_writes_the_documented_grid(sample_run):
    argv, cwd, process = sample_run
    stdout, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, stderr[-3000:]
    num, out = argv[argv.index("--num") + 1], argv[argv.index("--out") + 1]
    assert stdout.strip() == f"Wrote {num} samples to {out}"
    png = (cwd / out).read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000
