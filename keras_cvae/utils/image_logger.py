"""A callback that shows training as pictures: sample grids as PNG and in TensorBoard."""

import os

import keras
import numpy as np
import tensorflow as tf

from keras_cvae.utils.image_grid import image_grid
from keras_cvae.utils.image_grid import save_png


class ImageLogger(keras.callbacks.Callback):
    """After every epoch, writes a sample grid (and reconstructions) to PNG and TensorBoard.

    Samples use a fixed seed, so successive grids show the same latent codes
    as training goes on.

    Args:
        directory: str. PNGs go to `directory/samples_epoch_NNN.png`.
        images: optional array of a few images to reconstruct (top row: inputs,
            bottom row: reconstructions), written to `reconstructions_epoch_NNN.png`.
        log_dir: str. TensorBoard log directory for the images (its `images/`
            subfolder), logged at step `epoch` counted from 0, as
            `keras.callbacks.TensorBoard` logs the epoch scalars, so that
            both show the same step; the PNG names count from 1. Defaults to
            `None` (no TensorBoard images).
        num_samples: int. Defaults to `64`.
        seed: int. Defaults to `0`.
        scale: int. Pixel enlargement of the PNGs. Defaults to `4`.
    """

    def __init__(self, directory, images=None, log_dir=None, num_samples=64, seed=0, scale=4):
        super().__init__()
        self.directory = directory
        self.images = None if images is None else np.asarray(images, "float32")
        self.log_dir = log_dir
        self.num_samples = num_samples
        self.seed = seed
        self.scale = scale
        self._writer = None

    def pictures(self):
        """`{"samples": grid, "reconstructions": grid}` as uint8 arrays for the current model."""
        samples = np.asarray(self.model.sample(self.num_samples, seed=self.seed))
        pictures = {"samples": image_grid(samples, scale=self.scale)}
        if self.images is not None:
            recon = np.asarray(self.model.reconstruct(self.images))
            pictures["reconstructions"] = image_grid(
                np.concatenate([self.images, recon]), columns=len(self.images), scale=self.scale
            )
        return pictures

    def on_epoch_end(self, epoch, logs=None):
        pictures = self.pictures()
        os.makedirs(self.directory, exist_ok=True)
        for name, picture in pictures.items():
            save_png(os.path.join(self.directory, f"{name}_epoch_{epoch + 1:03d}.png"), picture)
        if self.log_dir:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "images"))
            with self._writer.as_default():
                for name, picture in pictures.items():
                    tf.summary.image(name, picture[None], step=epoch)
            self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
