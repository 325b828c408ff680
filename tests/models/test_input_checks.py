"""Every entry point refuses bad images and bad numbers, naming the argument (issue #15)."""

import re

import numpy as np
import pytest
import tensorflow as tf

import keras_cvae
from keras_cvae.models.density_evaluation import bits_per_dim
from tests.helpers import digits
from tests.helpers import tiny_vae


@pytest.fixture(scope="module")
def vae():
    model = tiny_vae()
    model.compile(optimizer="adam")
    return model


IMAGES = digits("test")[:8]


def _with_nan():
    images = IMAGES.copy()
    images[0, 0, 0, 0] = np.nan
    return images


BAD_IMAGES = {
    "nan": (_with_nan(), r"with 1 NaN value>"),
    "8-bit": (IMAGES * 255, r"with values in \[0, 255\]> \(scale them to \[0, 1\], e.g. divide 8-bit images by 255\)"),
    "empty": (IMAGES[:0], r"shape \(0, 8, 8, 1\)> \(an empty batch\)"),
    "shape": (np.zeros((2, 9, 9, 1), "float32"), r"shape \(2, 9, 9, 1\)>"),
    "rank": (IMAGES[..., 0], r"shape \(8, 8, 8\)>"),
    "dtype": (np.full((2, 8, 8, 1), "a"), r"str32 array .*\(expected real numbers"),
    "negative": (-IMAGES - 0.5, r"with values in \[-1\.5, -0\.5\]>"),
}

# Each entry point that takes images: (call, the argument's name in the error).
IMAGE_ENTRY_POINTS = {
    "encode": (lambda vae, x: vae.encode(x), "images"),
    "reconstruct": (lambda vae, x: vae.reconstruct(x), "images"),
    "elbo": (lambda vae, x: vae.elbo(x), "images"),
    "log_likelihood": (lambda vae, x: vae.log_likelihood(x, num_samples=2), "images"),
    "interpolate": (lambda vae, x: vae.interpolate(x, IMAGES[:1], num_steps=2), "images_a"),
    "evaluate_density": (lambda vae, x: keras_cvae.evaluate_density(vae, x, num_samples=2, verbose=0),
                         "data"),
    "recalibrate_batchnorm": (lambda vae, x: keras_cvae.recalibrate_batchnorm(vae, x), "data"),
    "fit_prior": (lambda vae, x: vae.fit_prior(x, num_components=1, samples_per_image=1), "data"),
    "fit": (lambda vae, x: vae.fit(x, epochs=1, verbose=0), "x"),
    "evaluate": (lambda vae, x: vae.evaluate(x, verbose=0), "x"),
    "predict": (lambda vae, x: vae.predict(x, verbose=0), "x"),
    "fit validation_data": (lambda vae, x: vae.fit(IMAGES, epochs=1, verbose=0, validation_data=x),
                            "validation_data"),
}
CASES = [(entry_point, bad) for entry_point in IMAGE_ENTRY_POINTS for bad in BAD_IMAGES
         if entry_point != "fit validation_data" or bad in ("nan", "8-bit")]


@pytest.mark.parametrize("entry_point, bad", CASES)
def test_every_entry_point_refuses_bad_images(vae, entry_point, bad):
    call, name = IMAGE_ENTRY_POINTS[entry_point]
    images, received = BAD_IMAGES[bad]
    weights = [w.numpy() for w in vae.weights]
    message = (rf"Invalid value for argument `{name}`. Expected .*images of shape "
               rf"\(batch, 8, 8, 1\).*\[0, 1\]. Received: {name}=<.*{received}")
    with pytest.raises(ValueError, match=message):
        call(vae, images)
    # Nothing was trained, recalibrated or fitted before the error.
    assert all(np.array_equal(w.numpy(), before) for w, before in zip(vae.weights, weights))
    assert type(vae.prior).__name__ == "StandardNormalPrior"


def test_recalibration_refuses_a_nan_pixel_in_a_later_batch_and_keeps_the_statistics(vae):
    batches = np.stack([IMAGES[:4], _with_nan()[:4]])  # the NaN is in batch 1
    dataset = tf.data.Dataset.from_tensor_slices(batches)
    moving = [w.numpy() for w in vae.weights if "moving" in w.path]
    with pytest.raises(ValueError, match=r"`data`.*Received: data=<dataset whose batch 1 is a "
                                         r"float32 tensor .* with 1 NaN value>"):
        keras_cvae.recalibrate_batchnorm(vae, dataset)
    assert all(np.array_equal(w.numpy(), m)
               for w, m in zip([w for w in vae.weights if "moving" in w.path], moving))


def test_evaluate_density_refuses_an_empty_dataset(vae):
    empty = tf.data.Dataset.from_tensor_slices(IMAGES[:0]).batch(4)
    with pytest.raises(ValueError, match=r"Received: data=<empty dataset>"):
        keras_cvae.evaluate_density(vae, empty, num_samples=2, verbose=0)


def test_symbolic_images_are_checked_by_shape_when_traced(vae):
    """At tracing, a wrong shape is a ValueError; values are asserted when the graph runs
    (tests/reliability/test_entry_point_probes.py)."""
    traced = tf.function(lambda x: vae.encode(x)[0])
    traced.get_concrete_function(tf.TensorSpec((None, 8, 8, 1)))
    with pytest.raises(ValueError, match=r"images=<float32 symbolic tensor of shape \(None, 8, 8, 3\)>"):
        traced.get_concrete_function(tf.TensorSpec((None, 8, 8, 3)))


def test_decode_checks_codes(vae):
    with pytest.raises(ValueError, match=r"`z`. Expected a non-empty batch of codes of shape "
                                         r"\(batch, 4\).*Received: z=<float64 array of shape \(2, 3\)>"):
        vae.decode(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"Received: z=<float32 array of shape \(2, 4\) with 8 NaN values>"):
        vae.decode(np.full((2, 4), np.nan, "float32"))


def _layer(cls, **kwargs):
    return lambda vae: cls(**kwargs)


CONV_NET = {"depth": 1, "channels": 8}

# (call, argument, the received value as the error shows it).
BAD_NUMBERS = [
    (lambda vae: vae.sample(-1), "num_samples", "-1"),
    (lambda vae: vae.sample(2.5), "num_samples", "2.5"),
    (lambda vae: vae.sample(True), "num_samples", "True"),
    (lambda vae: vae.sample(2, temperature=float("nan")), "temperature", "nan"),
    (lambda vae: vae.sample(2, temperature=-1), "temperature", "-1"),
    (lambda vae: vae.sample(2, seed=2.5), "seed", "2.5"),
    (lambda vae: vae.sample(2, add_noise="yes"), "add_noise", "'yes'"),
    (lambda vae: vae.log_likelihood(IMAGES, num_samples=0), "num_samples", "0"),
    (lambda vae: vae.log_likelihood(IMAGES, num_samples=2, chunk_size=0), "chunk_size", "0"),
    (lambda vae: vae.elbo(IMAGES, seed="a"), "seed", "'a'"),
    (lambda vae: vae.interpolate(IMAGES[:1], IMAGES[1:2], num_steps=1), "num_steps", "1"),
    (lambda vae: keras_cvae.evaluate_density(vae, IMAGES, num_samples=0), "num_samples", "0"),
    (lambda vae: keras_cvae.evaluate_density(vae, IMAGES, batch_size=0), "batch_size", "0"),
    (lambda vae: keras_cvae.evaluate_density(vae, IMAGES, intensity_levels=1), "intensity_levels", "1"),
    (lambda vae: keras_cvae.evaluate_density(vae, IMAGES, seed=None), "seed", "None"),
    (lambda vae: keras_cvae.evaluate_density(vae, IMAGES, verbose=5), "verbose", "5"),
    (lambda vae: keras_cvae.evaluate_density("vae", IMAGES), "model", "'vae'"),
    (lambda vae: keras_cvae.recalibrate_batchnorm(vae, IMAGES, batch_size=0), "batch_size", "0"),
    (lambda vae: keras_cvae.recalibrate_batchnorm(vae, IMAGES, seed=1.5), "seed", "1.5"),
    (lambda vae: vae.fit(IMAGES, batch_size=0, verbose=0), "batch_size", "0"),
    (lambda vae: vae.fit(IMAGES, None, 4, 0, verbose=0), "epochs", "0"),
    (lambda vae: vae.fit(IMAGES, epochs=1.5, verbose=0), "epochs", "1.5"),
    (lambda vae: vae.fit(IMAGES, validation_split=1.0, verbose=0), "validation_split", "1.0"),
    (lambda vae: vae.fit(IMAGES, steps_per_epoch=0, verbose=0), "steps_per_epoch", "0"),
    (lambda vae: vae.fit(IMAGES, verbose=3), "verbose", "3"),
    (lambda vae: vae.evaluate(IMAGES, batch_size=-1, verbose=0), "batch_size", "-1"),
    (lambda vae: vae.evaluate(IMAGES, steps=0, verbose=0), "steps", "0"),
    (lambda vae: vae.predict(IMAGES, batch_size=0, verbose=0), "batch_size", "0"),
    (lambda vae: vae.fit_prior(IMAGES, num_components=0), "num_components", "0"),
    (lambda vae: vae.fit_prior(IMAGES, samples_per_image=0), "samples_per_image", "0"),
    (lambda vae: vae.fit_prior(IMAGES, seed=-1), "seed", "-1"),
    (lambda vae: vae.fit_prior(IMAGES, reg_covar=float("nan")), "reg_covar", "nan"),
    (lambda vae: tiny_vae(beta=float("nan")), "beta", "nan"),
    (lambda vae: tiny_vae(kl_warmup_steps=-1), "kl_warmup_steps", "-1"),
    (lambda vae: tiny_vae(free_bits=-0.5), "free_bits", "-0.5"),
    (lambda vae: tiny_vae(seed=1.5), "seed", "1.5"),
    (lambda vae: keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET, min_scale=-1), "min_scale", "-1"),
    (lambda vae: keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET, scale=1e-4), "scale", "0.0001"),
    (lambda vae: keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET, decoder_scale="constant", scale=0),
     "scale", "0"),
    (lambda vae: keras_cvae.GaussianEncoder(4, CONV_NET, min_scale=0), "min_scale", "0"),
    (lambda vae: keras_cvae.layers.ConvNet(batchnorm_momentum=2.0), "batchnorm_momentum", "2.0"),
    (lambda vae: keras_cvae.layers.ConvNet(batchnorm_epsilon=0.0), "batchnorm_epsilon", "0.0"),
    (lambda vae: keras_cvae.layers.FusedBatchNormalization(momentum=float("nan")), "momentum", "nan"),
    (lambda vae: bits_per_dim(0.0, 0, 256), "dims", "0"),
    (lambda vae: keras_cvae.datasets.load("digits", "test", batch_size=0), "batch_size", "0"),
    (lambda vae: keras_cvae.datasets.load("digits", "test", shuffle="yes"), "shuffle", "'yes'"),
]


@pytest.mark.parametrize("call, name, received", BAD_NUMBERS,
                         ids=[f"{i}-{name}" for i, (_, name, _) in enumerate(BAD_NUMBERS)])
def test_every_number_is_checked(vae, call, name, received):
    message = rf"Invalid value for argument `{name}`. Expected .*Received: {name}={re.escape(received)}"
    with pytest.raises(ValueError, match=message):
        call(vae)
