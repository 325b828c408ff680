"""Training a preset: the one training path of `keras-cvae train`.

`train(TrainingConfig(preset, ...), preset_dir, run_dir=...)` trains the
preset's architecture from scratch, recalibrates BatchNorm on the full
training split, evaluates the test split, and writes the preset folder with
its model card; the run folder keeps logs, images, backups and metrics.
"""

from keras_cvae.training.trainer import train
from keras_cvae.training.training_config import OVERRIDES
from keras_cvae.training.training_config import TrainingConfig

__all__ = ["OVERRIDES", "TrainingConfig", "train"]
