import sys

from keras_cvae.cli import main

sys.exit(main())
