"""`python -m keras_cvae`: the `keras-cvae` command line."""

import sys

from keras_cvae.cli import main

if __name__ == "__main__":
    sys.exit(main())
