"""XLA and mixed precision on one device: same training, float32 maths for the ELBO.

Tolerances against float32 training without XLA, after two epochs (8 SGD
steps): XLA fuses and reorders float32 arithmetic (observed ~2e-5 relative
on the weights, 1e-6 on the metrics); 16-bit policies round every
activation, float16 to 11 significant bits (observed 2e-4 on the metrics)
and bfloat16 to 8 bits (observed 1e-2).

XLA compiles TensorFlow's stateless random ops to its own generators, so
`jit_compile=True` draws other (equally distributed) ε for the same seed;
the XLA comparison therefore fixes ε.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_cvae
import keras_cvae.distribute as kd


@pytest.fixture(autouse=True)
def float32_policy():
    yield
    keras.mixed_precision.set_dtype_policy("float32")


EPSILON = np.random.default_rng(1).normal(size=(8, 4)).astype("float32")


def train(policy="float32", jit_compile=False, loss_scale=None, fixed_noise=False):
    keras.mixed_precision.set_dtype_policy(policy)
    keras.utils.set_random_seed(0)
    conv_net = {"block": "basic", "depth": 1, "channels": 8}
    vae = keras_cvae.VAE(
        keras_cvae.GaussianEncoder(4, conv_net), keras_cvae.GaussianDecoder((8, 8, 1), conv_net), seed=0
    )
    if fixed_noise:
        vae._noise = lambda batch, seed=None: tf.constant(EPSILON)
    optimizer = keras.optimizers.SGD(1e-3)
    if loss_scale:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=loss_scale)
    vae.compile(optimizer=optimizer, jit_compile=jit_compile)
    images = np.random.default_rng(0).random((32, 8, 8, 1)).astype("float32")
    # Static shapes, as under a TPUStrategy: XLA compiles the step once.
    dataset = kd.prepare_dataset(images, 8, drop_remainder=True)
    history = vae.fit(dataset, epochs=2, shuffle=False, verbose=0).history
    keras.mixed_precision.set_dtype_policy("float32")
    return vae, history, images


@pytest.fixture(scope="module")
def float32_run():
    vae, history, _ = train()
    return [np.asarray(v) for v in vae.variables], history


def test_train_step_compiles_with_xla_and_trains_as_without():
    vae, reference_history, _ = train(fixed_noise=True)
    reference = [np.asarray(v) for v in vae.variables]
    vae, history, _ = train(jit_compile=True, fixed_noise=True)
    assert vae.jit_compile is True
    for got, want in zip(vae.variables, reference):
        scale = np.max(np.abs(want)) + 1e-6
        assert np.max(np.abs(np.asarray(got) - want)) <= 1e-4 * scale, got.path
    for name in ("loss", "reconstruction", "kl"):
        np.testing.assert_allclose(history[name], reference_history[name], rtol=1e-5)


# float16 needs a loss scale; Keras starts at 2**15, under which this ELBO's
# gradients (thousands of nats per parameter) overflow float16 and the first
# ~12 steps are skipped while the scale adapts; start it at 8 instead.
@pytest.mark.parametrize("policy, loss_scale, rtol", [("mixed_float16", 8.0, 1e-2), ("mixed_bfloat16", None, 5e-2)])
def test_mixed_precision_trains_close_to_float32_with_float32_elbo(float32_run, policy, loss_scale, rtol):
    _, reference_history = float32_run
    vae, history, images = train(policy, loss_scale=loss_scale)
    compute_dtype = policy.removeprefix("mixed_")
    mean, _ = vae.decode(images[:2, 0, :4, 0])
    assert vae.decoder.f_mean.compute_dtype == compute_dtype  # the layers run in 16 bits
    assert keras.backend.standardize_dtype(mean.dtype) == "float32"  # offsets and sigmoid: float32
    assert all(v.dtype == "float32" for v in vae.trainable_variables)
    for name in ("loss", "reconstruction", "kl"):
        np.testing.assert_allclose(history[name], reference_history[name], rtol=rtol)
    terms = vae.elbo(images[:4], seed=1)
    assert all(keras.backend.standardize_dtype(value.dtype) == "float32" for value in terms.values())
    log_likelihood = vae.log_likelihood(images[:4], num_samples=4, seed=1)
    assert keras.backend.standardize_dtype(log_likelihood.dtype) == "float32"
    assert np.all(np.isfinite(log_likelihood))
