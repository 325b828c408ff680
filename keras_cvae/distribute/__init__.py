"""Training on several devices or workers, with XLA and mixed precision, resumably.

Nothing here is needed on one device: `keras_cvae.VAE` computes its loss,
gradients, noise and metrics correctly under any `tf.distribute` strategy.
"""

from keras_cvae.distribute.atomic_save import save_atomically
from keras_cvae.distribute.backup_and_restore import AtomicBackupAndRestore
from keras_cvae.distribute.backup_and_restore import read_backup_state
from keras_cvae.distribute.backup_and_restore import resumable_callbacks
from keras_cvae.distribute.datasets import prepare_dataset
from keras_cvae.distribute.strategies import PRECISIONS
from keras_cvae.distribute.strategies import STRATEGIES
from keras_cvae.distribute.strategies import configure
from keras_cvae.distribute.strategies import get_strategy
