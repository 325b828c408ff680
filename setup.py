"""Only what pyproject.toml cannot say: the package list.

`packages.find` cannot add a package from a mapped folder, so the list is
`keras_cvae*` plus `keras_cvae_zoo`, the top-level `zoo/` data folder
(`package-dir` and `package-data` in pyproject.toml), and the module
`keras_cvae_cli`, the `keras-cvae` console script, which sits outside the
package so that it parses the command line before `import keras_cvae` loads
TensorFlow.
"""

from setuptools import find_packages
from setuptools import setup

setup(packages=find_packages(include=["keras_cvae", "keras_cvae.*"]) + ["keras_cvae_zoo"],
      py_modules=["keras_cvae_cli"])
