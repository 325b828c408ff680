"""What `import keras_cvae` does, each in a fresh process as a user's script sees it.

It registers every class the package saves, so `keras.models.load_model` works in
a new script; it prints nothing; and the `keras-cvae` command still answers
`--help` and `presets` without loading TensorFlow.
"""

import ast
import os
import pathlib
import subprocess
import sys
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "keras_cvae"
TIMEOUT = 300

_SAVE = """
import sys
import numpy as np
import keras
from tests.helpers import digits, tiny_vae

vae = tiny_vae(block="bottleneck", posterior="full")
images = digits()[:200]
vae.compile(optimizer=keras.optimizers.Adam(1e-3))
vae.fit(images, epochs=1, batch_size=50, verbose=0)
vae.fit_prior(images, num_components=3, samples_per_image=2)
vae.save(sys.argv[1])
np.savez(sys.argv[2], images=images[:8], reconstruct=vae.reconstruct(images[:8]),
         sample=vae.sample(8, seed=0), elbo=vae.elbo(images[:8], seed=0)["elbo"])
"""

_LOAD = """
import sys
import numpy as np
import keras
import keras_cvae

import tensorflow as tf

# The import configured no device: logical devices can still be set.
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
vae = keras.models.load_model(sys.argv[1])
expected = np.load(sys.argv[2])
assert type(vae).__name__ == "VAE", type(vae)
assert type(vae.prior).__name__ == "GaussianMixturePrior", type(vae.prior)
images = expected["images"]
np.testing.assert_array_equal(vae.reconstruct(images), expected["reconstruct"])
np.testing.assert_array_equal(vae.sample(8, seed=0), expected["sample"])
np.testing.assert_array_equal(vae.elbo(images, seed=0)["elbo"], expected["elbo"])
print(sorted(name for name in keras.saving.get_custom_objects() if name.startswith("keras_cvae>")))
"""

# Runs `keras-cvae ARGS` as the installed console script does (the entry point
# of pyproject.toml), then reports whether TensorFlow or Keras got imported.
_CONSOLE = """
import importlib
import sys

module, function = sys.argv[1].split(":")
try:
    status = getattr(importlib.import_module(module), function)(sys.argv[2:])
except SystemExit as exit:
    status = exit.code
loaded = sorted({"tensorflow", "keras"} & set(sys.modules))
print(f"exit {status}, loaded {loaded}", file=sys.stderr)
"""


def _python(*args, env=None):
    """`(returncode, stdout, stderr)` of `python ARGS` in a fresh process at the repository root."""
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                            timeout=TIMEOUT, env=env, check=False)
    return result.returncode, result.stdout, result.stderr


def _registered_classes():
    """`keras_cvae>Name` of every class the package decorates with `register_keras_serializable`."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                "register_keras_serializable" in ast.unparse(decorator)
                for decorator in node.decorator_list
            ):
                names.add(f"keras_cvae>{node.name}")
    return names


def _console_script():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["keras-cvae"]


def _without_log_level():
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the package must quiet TensorFlow itself
    return env


@pytest.mark.slow
def test_a_saved_vae_loads_in_a_script_that_imports_only_keras_cvae(tmp_path):
    path, outputs = tmp_path / "vae.keras", tmp_path / "outputs.npz"
    code, stdout, stderr = _python("-c", _SAVE, path, outputs)
    assert code == 0, stderr[-3000:]
    code, stdout, stderr = _python("-c", _LOAD, path, outputs)
    assert code == 0, stderr[-3000:]
    registered = set(ast.literal_eval(stdout.strip().splitlines()[-1]))
    expected = _registered_classes()
    assert {"keras_cvae>VAE", "keras_cvae>GaussianMixturePrior", "keras_cvae>PaddedConv2D",
            "keras_cvae>FusedBatchNormalization"} <= expected
    assert registered == expected


@pytest.mark.slow
@pytest.mark.parametrize("log_level", [None, "2"])  # unset, or the user's own quiet level
def test_import_keras_cvae_prints_nothing(log_level):
    env = _without_log_level()
    if log_level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = log_level
    code, stdout, stderr = _python("-c", "import keras_cvae, keras", env=env)
    assert (code, stdout, stderr) == (0, "", "")


def test_a_log_level_the_user_set_is_left_alone_and_onednn_is_on_unless_set():
    """The user's `TF_CPP_MIN_LOG_LEVEL` stays; an unset `TF_ENABLE_ONEDNN_OPTS` becomes 1, and takes.

    (Every other test runs with `TF_ENABLE_ONEDNN_OPTS=0` from tests/conftest.py,
    which the import leaves as it is: the mirrored-strategy tests need it.)
    """
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "1"}
    env.pop("TF_ENABLE_ONEDNN_OPTS", None)
    code, stdout, stderr = _python("-c", (
        "import os, keras_cvae\n"
        "from tensorflow.python.util import _pywrap_util_port\n"
        "print(os.environ['TF_CPP_MIN_LOG_LEVEL'], os.environ['TF_ENABLE_ONEDNN_OPTS'],"
        " _pywrap_util_port.IsMklEnabled())"), env=env)
    assert (code, stdout) == (0, "1 1 True\n"), stderr[-3000:]


@pytest.mark.parametrize("args, status, expected", [
    (["--help"], 0, "usage: keras-cvae"),
    (["train", "--help"], 0, "--prior-components"),
    (["presets"], 0, "digits_basic"),
    (["train", "--epochs", "0"], 2, "argument --epochs: expected an integer >= 1"),
])
def test_the_command_line_parses_and_lists_presets_without_tensorflow(args, status, expected):
    code, stdout, stderr = _python("-c", _CONSOLE, _console_script(), *args)
    assert code == 0, stderr[-3000:]
    assert stderr.strip().splitlines()[-1] == f"exit {status}, loaded []", stderr
    assert expected in stdout + stderr
