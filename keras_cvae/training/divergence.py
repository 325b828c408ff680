"""Refusing a training run that diverged: a non-finite loss, or a model worse than untrained."""

import math

import keras


class TrainingDivergedError(ValueError):
    """A training run diverged; nothing of it may be published."""


class DivergenceGuard(keras.callbacks.Callback):
    """Raises a `TrainingDivergedError` at the first NaN or infinite loss, before anything saves it.

    Put it before the callbacks that save (backups, logs, images): it ends
    `fit` from `on_train_batch_end` at the first non-finite loss, and from
    `on_epoch_end` at a non-finite epoch result (e.g. the validation loss), so
    that no epoch with a non-finite result ends. With `steps_per_execution`
    above 1 the loss is seen every that many batches.

    Args:
        advice: str. A sentence ending the error message. Defaults to `""`.
    """

    def __init__(self, advice=""):
        super().__init__()
        self.advice = advice
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self._fail(f"the loss is {float(loss)} at epoch {self._epoch + 1}, batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            if not math.isfinite(float(value)):
                self._fail(f"the {name} is {float(value)} at the end of epoch {epoch + 1}")

    def _fail(self, what):
        raise TrainingDivergedError(" ".join(f"Training diverged: {what}. {self.advice}".split()))
