"""`python -m keras_cvae`: the `keras-cvae` command line.

Python imports the package (and so TensorFlow) before this module runs;
the `keras-cvae` console script (`keras_cvae_cli`) parses first, so its
`--help` and usage errors come at once.
"""

import sys

from keras_cvae.cli import main

if __name__ == "__main__":
    sys.exit(main())
