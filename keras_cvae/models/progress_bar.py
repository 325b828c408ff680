"""A progress bar that counts batches when `fit` runs several steps per execution."""

import keras


class BatchProgbarLogger(keras.callbacks.ProgbarLogger):
    """Keras's `ProgbarLogger`, never past the epoch's last batch.

    With `steps_per_execution=N`, Keras reports the end of each block of `N`
    steps, and the last block of an epoch as if it were full: an epoch of 23
    batches showed `32/23` and a negative ETA. This bar stops at the total.
    `VAE.fit` uses it instead of Keras's when it shows a bar.
    """

    def _clamped(self, batch):
        return batch if self.target is None else min(batch, self.target - 1)

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(self._clamped(batch), logs)

    def on_test_batch_end(self, batch, logs=None):
        super().on_test_batch_end(self._clamped(batch), logs)

    def on_predict_batch_end(self, batch, logs=None):
        super().on_predict_batch_end(self._clamped(batch), logs)
