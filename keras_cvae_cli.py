"""The `keras-cvae` console script: parses the command line before TensorFlow loads.

`import keras_cvae` loads TensorFlow, since it registers the package's
classes with Keras (so that `keras.models.load_model` finds them). Python runs
a package's `__init__.py` before any module inside it, so a console script at
`keras_cvae.cli:main` would load TensorFlow (seconds) before it could print
`--help`. This module sits outside the package: it puts `keras_cvae` in
`sys.modules` without running its `__init__.py` and imports
`keras_cvae.cli`, whose top level is pure Python (argparse and
`keras_cvae.validation`; `keras-cvae presets` reads the zoo, pure Python
too). `keras_cvae.cli.main` then runs the package's `__init__.py` once the
arguments are parsed, and only for a command that needs TensorFlow, so the
command runs with the package exactly as `import keras_cvae` gives it.
`python -m keras_cvae` works too, but imports the package (and TensorFlow)
first.
"""

import importlib.util
import sys


def defer_package():
    """Puts `keras_cvae` in `sys.modules` without running its `__init__.py`.

    Its pure-Python modules (`keras_cvae.cli`, `validation`, `zoo`, `utils`)
    can then be imported without TensorFlow.

    Returns:
        A function that runs `keras_cvae/__init__.py`, or `None` if the
        package is imported already.
    """
    if "keras_cvae" in sys.modules:
        return None
    spec = importlib.util.find_spec("keras_cvae")
    package = importlib.util.module_from_spec(spec)
    sys.modules["keras_cvae"] = package

    def initialize_package():
        spec.loader.exec_module(package)

    return initialize_package


def main(argv=None):
    """Runs `keras-cvae` with `argv` (default: `sys.argv[1:]`); returns the exit status."""
    initialize_package = defer_package()
    from keras_cvae import cli

    return cli.main(argv, initialize_package=initialize_package)


if __name__ == "__main__":
    sys.exit(main())
