import keras
import numpy as np

import keras_cvae
from tests.helpers import digits, tiny_vae


def to_np(x):
    return keras.ops.convert_to_numpy(x)


def test_stored_statistics_normalise_the_dataset():
    vae = tiny_vae(depth=2)
    vae.compile(optimizer="adam")
    data = digits("train")[:300]
    vae.fit(data, batch_size=50, epochs=1, verbose=0)
    layers = keras_cvae.recalibrate_batchnorm(vae, data, batch_size=64)
    assert len(layers) == 8  # 2 BatchNorms x 2 blocks x (encoder, decoder)

    # Independent check on encoder BatchNorms at two depths, in inference mode.
    encoder = vae.encoder
    block1, block2 = encoder.conv_net.blocks
    features = encoder.f_in(data)
    bn_inputs = {
        block1.bn1: block1.conv1(features),
        block2.bn1: block2.conv1(block1(features, training=False)),
    }
    u = keras.ops.relu(block2.bn1(block2.conv1(block1(features, training=False)), training=False))
    bn_inputs[block2.bn2] = block2.conv2(u)
    for bn, inputs in bn_inputs.items():
        inputs = to_np(inputs).reshape(-1, inputs.shape[-1]).astype("float64")
        normalised = (inputs - to_np(bn.moving_mean)) / np.sqrt(to_np(bn.moving_variance))
        np.testing.assert_allclose(normalised.mean(0), 0, atol=1e-4)
        np.testing.assert_allclose(normalised.var(0), 1, atol=1e-3)

    # The decoder's statistics changed too, and in call order the encoder comes first.
    assert layers[0] is block1.bn1
    decoder_bn = vae.decoder.conv_net.blocks[0].bn1
    assert decoder_bn in layers and not np.allclose(to_np(decoder_bn.moving_variance), 1.0)


def test_accepts_a_dataset_of_tuples_and_is_deterministic():
    import tensorflow as tf

    data = digits("train")[:128]
    vae = tiny_vae()
    keras_cvae.recalibrate_batchnorm(vae, data, batch_size=32, seed=3)
    first = [to_np(w) for w in vae.non_trainable_weights if "moving" in w.path]
    dataset = tf.data.Dataset.from_tensor_slices((data, data)).batch(32)
    keras_cvae.recalibrate_batchnorm(vae, dataset, seed=3)
    second = [to_np(w) for w in vae.non_trainable_weights if "moving" in w.path]
    for a, b in zip(first, second):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
