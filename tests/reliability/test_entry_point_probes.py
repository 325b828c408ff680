"""Probes of every entry point: bad values refused in one clear line, extreme numbers handled.

Families: the Keras call `vae(x)` (eagerly and in a graph), `sample_from_noise`,
`decode` of huge codes, scales, seeds and temperatures at construction and in
the command line, the exported SavedModel's in-graph checks, and the export/
consumer scripts (input values, `--outputs` over an existing file, an ONNX
folder missing a file). Each case names the words its message must hold.
"""

import os
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf

import keras_cvae
from keras_cvae.models.gaussian_decoder import CODE_LIMIT
from keras_cvae.training.training_config import TrainingConfig
from keras_cvae.utils.image_validation import UNIT_INTERVAL
from keras_cvae.validation import MAX_TEMPERATURE
from tests.cli.conftest import COMMAND
from tests.export.conftest import artifacts  # noqa: F401 (a fixture: one export per module)
from tests.export.export_checks import script_module
from tests.export.export_checks import tflite_operators
from tests.helpers import digits
from tests.helpers import tiny_vae

CONV_NET = {"depth": 1, "channels": 8}
X = digits("test")[:4]
Z = np.random.default_rng(0).standard_normal((2, 4)).astype("float32")
PIXELS = np.zeros((2, 8, 8, 1), "float32")
U = np.array([0.25, 0.75], "float32")


def _with(array, index, value):
    array = np.array(array, copy=True)
    array[index] = value
    return array


@pytest.fixture(scope="module")
def vae():
    model = tiny_vae()
    model.compile(optimizer="adam")
    return model


def _one_line(text):
    return " ".join(str(text).split())


# === The Keras call `vae(x)`: eagerly a ValueError, in a graph an assertion ===

BAD_IMAGES = {
    "nan": (_with(X, (0, 0, 0, 0), np.nan), ["1 NaN value"], ["1 NaN and 0 infinite values"]),
    "inf": (_with(X, (1, 2, 3, 0), np.inf), ["1 infinite value"], ["0 NaN and 1 infinite"]),
    "8-bit": (X * 255, ["[0, 255]", "divide 8-bit images by 255"],
              ["[0, 255]", "divide 8-bit images by 255"]),
    "negative": (X - 2, ["[-2, -1]"], ["[-2, -1]"]),
    "int 0..255": ((X * 255).astype("int32"), ["[0, 255]"], ["int32 tensor", "[0, 255]"]),
}
HEAD = ("Invalid value for argument `images`. Expected a non-empty batch of images of shape "
        "(batch, 8, 8, 1) with real values in [0, 1]. Received: images=<")


@pytest.mark.parametrize("bad", list(BAD_IMAGES))
def test_keras_call_refuses_bad_images_eagerly(vae, bad):
    images, words, _ = BAD_IMAGES[bad]
    with pytest.raises(ValueError) as raised:
        vae(images)
    message = _one_line(raised.value)
    for word in [HEAD, *words]:
        assert word in message, (word, message)


@pytest.mark.parametrize("bad", list(BAD_IMAGES))
def test_keras_call_refuses_bad_images_in_a_graph(vae, bad):
    images, _, words = BAD_IMAGES[bad]
    traced = tf.function(vae)
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        traced(tf.constant(images))
    message = _one_line(raised.value.message)
    for word in ["assertion failed", HEAD, *words]:
        assert word in message, (word, message)
    np.testing.assert_allclose(traced(tf.constant(X)), vae(X), atol=1e-6)  # good images pass


def test_predict_checks_every_batch_in_the_graph(vae):
    """`predict` checks a dataset's first batch in Python; a NaN in batch 1 meets the assertion."""
    dataset = tf.data.Dataset.from_tensor_slices(np.stack([X[:2], _with(X[:2], (0, 0, 0, 0), np.nan)]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"1 NaN and 0 infinite values"):
        vae.predict(dataset, verbose=0)


def test_xla_compiles_the_call(vae):
    """XLA ignores assertions: a compiled call still compiles and runs (unchecked)."""
    compiled = tf.function(vae, jit_compile=True)
    np.testing.assert_allclose(compiled(tf.constant(X)), vae(X), atol=1e-5)


def test_training_does_not_trace_the_call():
    """`train_step` computes the ELBO from the encoder and decoder, not through `call`."""
    model = tiny_vae()
    model.compile(optimizer="adam")
    calls = []
    original = type(model).call
    type(model).call = lambda self, *args, **kwargs: calls.append(1) or original(self, *args,
                                                                                 **kwargs)
    try:
        model.fit(X, epochs=1, batch_size=2, verbose=0)  # traced here, with the patch
        assert not calls
        model.predict(X, verbose=0)  # traced through `call`: the patch sees it
    finally:
        type(model).call = original
    assert calls


# === sample_from_noise: shapes, finite noise, z_uniform in [0, 1), temperatures ===

SAMPLE_CASES = {
    "nan z_noise": ({"z_noise": _with(Z, (0, 0), np.nan)}, ["`z_noise`", "1 NaN value"]),
    "inf z_noise": ({"z_noise": _with(Z, (1, 1), -np.inf)}, ["`z_noise`", "1 infinite value"]),
    "z_noise shape": ({"z_noise": Z[:, :3]}, ["`z_noise`", "(batch, 4)", "(2, 3)"]),
    "nan pixel_noise": ({"pixel_noise": _with(PIXELS, 0, np.nan)}, ["`pixel_noise`", "NaN"]),
    "pixel_noise shape": ({"pixel_noise": np.zeros((2, 9, 9, 1), "float32")},
                          ["`pixel_noise`", "(2, 9, 9, 1)"]),
    "nan z_uniform": ({"z_uniform": _with(U, 0, np.nan)}, ["`z_uniform`", "[0, 1)", "1 NaN"]),
    "z_uniform 1.5": ({"z_uniform": _with(U, 0, 1.5)}, ["`z_uniform`", "[0, 1)", "[0.75, 1.5]"]),
    "z_uniform -0.2": ({"z_uniform": _with(U, 0, -0.2)}, ["`z_uniform`", "[-0.2, 0.75]"]),
    "z_uniform 1": ({"z_uniform": _with(U, 1, 1.0)}, ["`z_uniform`", "[0, 1)", "[0.25, 1]"]),
    "z_uniform shape": ({"z_uniform": np.zeros((2, 2), "float32")},
                        ["`z_uniform`", "(batch,)", "(2, 2)"]),
    "batch sizes": ({"pixel_noise": np.zeros((3, 8, 8, 1), "float32")},
                    ["one batch size", "z_noise 2, pixel_noise 3"]),
    "temperature 1e300": ({"temperature": 1e300}, ["`temperature`", "<= 1000", "1e+300"]),
    "temperature -1": ({"temperature": -1.0}, ["`temperature`", "temperature=-1"]),
    "temperature nan": ({"temperature": float("nan")}, ["`temperature`", "temperature=nan"]),
    "temperature tensor nan": ({"temperature": tf.constant([np.nan, 1.0])},
                               ["`temperature`", "1 NaN value"]),
    "temperature array 2000": ({"temperature": np.array([1.0, 2000.0], "float32")},
                               ["`temperature`", "[0, 1000]", "[1, 2000]"]),
}


def _sample(vae, z_noise=Z, pixel_noise=PIXELS, temperature=1.0, z_uniform=U):
    return vae.sample_from_noise(z_noise, pixel_noise, temperature, z_uniform=z_uniform)


@pytest.mark.parametrize("case", list(SAMPLE_CASES))
def test_sample_from_noise_refuses(vae, case):
    changes, words = SAMPLE_CASES[case]
    with pytest.raises(ValueError) as raised:
        _sample(vae, **changes)
    message = str(raised.value)
    assert "\n" not in message and message.startswith("Invalid value for argument `"), message
    for word in words:
        assert word in message, (word, message)


GRAPH_SAMPLE_CASES = {
    "nan z_noise": ({"z_noise": _with(Z, (0, 0), np.nan)}, "`z_noise`"),
    "nan pixel_noise": ({"pixel_noise": _with(PIXELS, 0, np.inf)}, "`pixel_noise`"),
    "z_uniform 1.5": ({"z_uniform": _with(U, 0, 1.5)}, "`z_uniform`"),
    "negative temperature": ({"temperature": np.array([1.0, -0.5], "float32")}, "`temperature`"),
}


@pytest.mark.parametrize("case", list(GRAPH_SAMPLE_CASES))
def test_sample_from_noise_refuses_in_a_graph(vae, case):
    changes, name = GRAPH_SAMPLE_CASES[case]
    inputs = {"z_noise": Z, "pixel_noise": PIXELS, "temperature": np.ones(2, "float32"),
              "z_uniform": U, **changes}
    traced = tf.function(lambda a, b, t, u: vae.sample_from_noise(a, b, t, z_uniform=u))
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        traced(*(tf.constant(inputs[key]) for key in ("z_noise", "pixel_noise", "temperature",
                                                        "z_uniform")))
    assert f"Invalid value for argument {name}" in _one_line(raised.value.message)


def test_sample_from_noise_accepts_the_edges(vae):
    """`z_uniform` 0 and just below 1, temperature 0 and 1000: accepted, finite."""
    below_one = np.nextafter(np.float32(1), np.float32(0))
    for temperature in (0.0, MAX_TEMPERATURE):
        images = _sample(vae, temperature=temperature, z_uniform=np.array([0, below_one], "float32"))
        assert np.isfinite(images).all()


# === decode: every finite code gives finite outputs (codes clipped to ±CODE_LIMIT) ===

DECODERS = {
    "learned": {}, "constant": {"decoder_scale": "constant"}, "linear": {"decoder_scale": "linear"},
    "per_pixel": {"decoder_scale": "per_pixel"},
    "linear_per_pixel": {"decoder_scale": "linear_per_pixel"},
}
HUGE = np.finfo(np.float32).max


@pytest.mark.parametrize("decoder", list(DECODERS))
def test_decode_of_huge_codes_is_finite(decoder):
    model = tiny_vae(**DECODERS[decoder])
    codes = np.array([[HUGE] * 4, [-HUGE] * 4, [3e38, -3e38, 1e30, 0.0]], "float32")
    mean, scale = (np.asarray(t) for t in model.decode(codes))
    assert np.isfinite(mean).all() and np.isfinite(scale).all()
    # The clip: beyond CODE_LIMIT the outputs are those at CODE_LIMIT; inside it, unchanged.
    at_limit = np.asarray(model.decode(np.full((1, 4), CODE_LIMIT, "float32"))[0])
    # (equal up to float32 rounding, which differs with the batch size)
    np.testing.assert_allclose(mean[0], at_limit[0], atol=1e-5 * np.abs(at_limit).max())
    inside = np.asarray(model.decode(np.full((1, 4), CODE_LIMIT / 2, "float32"))[0])
    assert not np.array_equal(inside, at_limit)


def test_decode_of_huge_codes_is_finite_for_a_trained_preset():
    model = keras_cvae.VAE.from_preset("digits_basic")
    codes = np.stack([np.full(model.latent_dim, 3e38), np.full(model.latent_dim, -3e38)])
    mean, scale = model.decode(codes.astype("float32"))
    assert np.isfinite(mean).all() and np.isfinite(scale).all()


# === Scales: refused outside [1e-6, 1e6] at construction ===

SCALE_CASES = [
    ({"decoder_scale": "constant", "scale": 1e-30}, "scale", "1e-30"),
    ({"decoder_scale": "constant", "scale": 1e7}, "scale", "10000000.0"),
    ({"decoder_scale": "constant", "scale": float("inf")}, "scale", "inf"),
    ({"scale": 1e300}, "scale", "1e+300"),
    ({"min_scale": 1e-30}, "min_scale", "1e-30"),
    ({"min_scale": 0.0}, "min_scale", "0.0"),
]


@pytest.mark.parametrize("kwargs, name, received", SCALE_CASES)
def test_decoder_refuses_unsafe_scales(kwargs, name, received):
    with pytest.raises(ValueError) as raised:
        keras_cvae.GaussianDecoder((8, 8, 1), CONV_NET, **kwargs)
    message = str(raised.value)
    for word in (f"`{name}`", "<= 1e+06", f"Received: {name}={received}",
                 "outside the range float32 computes the likelihood in"):
        assert word in message, (word, message)


def test_encoder_refuses_an_unsafe_min_scale():
    with pytest.raises(ValueError, match=r"`min_scale`.*>= 1e-06 and <= 1e\+06.*min_scale=1e-30"):
        keras_cvae.GaussianEncoder(4, CONV_NET, min_scale=1e-30)


@pytest.mark.parametrize("decoder_scale, scale", [("constant", 1e-6), ("constant", 1e6),
                                                  ("learned", 800.0), ("learned", 1e6)])
def test_scales_at_the_edges_give_finite_elbos(decoder_scale, scale):
    """A learned σ above ~710 once raised 'math range error'; σ = 1e-6 keeps the ELBO finite."""
    model = tiny_vae(decoder_scale=decoder_scale)
    model.decoder.scale = scale  # the decoder as built from a config with this scale:
    decoder = keras_cvae.GaussianDecoder.from_config(model.decoder.get_config())
    decoder.build((None, 4))
    sigma = np.asarray(decoder(np.zeros((1, 4), "float32"))[1])
    np.testing.assert_allclose(sigma, scale, rtol=1e-5)
    model = keras_cvae.VAE(model.encoder, decoder)
    assert np.isfinite(np.asarray(model.elbo(X, seed=0)["elbo"])).all()


# === Seeds and temperatures: refused by the shared checks before TensorFlow sees them ===

NUMBER_CASES = [
    (lambda vae: vae.sample(2, seed=2**64), "seed", "18446744073709551616"),
    (lambda vae: vae.sample(2, seed=-(2**63) - 1), "seed", "-9223372036854775809"),
    (lambda vae: vae.elbo(X, seed=2**70), "seed", "1180591620717411303424"),
    (lambda vae: vae.log_likelihood(X, num_samples=2, seed=2**64), "seed", "18446744073709551616"),
    (lambda vae: tiny_vae(seed=2**64), "seed", "18446744073709551616"),
    (lambda vae: keras_cvae.evaluate_density(vae, X, num_samples=2, seed=2**64), "seed",
     "18446744073709551616"),
    (lambda vae: keras_cvae.recalibrate_batchnorm(vae, X, seed=2**64), "seed",
     "18446744073709551616"),
    (lambda vae: keras_cvae.datasets.load("digits", "test", seed=2**64), "seed",
     "18446744073709551616"),
    (lambda vae: TrainingConfig("digits_basic", seed=-1), "seed", "-1"),
    (lambda vae: TrainingConfig("digits_basic", seed=2**32), "seed", "4294967296"),
    (lambda vae: vae.sample(2, temperature=1e300), "temperature", "1e+300"),
    (lambda vae: vae.sample(2, temperature=-1.0), "temperature", "-1.0"),
    (lambda vae: vae.sample(2, temperature=float("nan")), "temperature", "nan"),
    (lambda vae: vae.sample(2, temperature=1001), "temperature", "1001"),
]


@pytest.mark.parametrize("call, name, received", NUMBER_CASES,
                         ids=[f"{i}-{name}={received}" for i, (_, name, received)
                              in enumerate(NUMBER_CASES)])
def test_seeds_and_temperatures_out_of_range(vae, call, name, received):
    with pytest.raises(ValueError) as raised:
        call(vae)
    message = str(raised.value)
    assert message.startswith(f"Invalid value for argument `{name}`. Expected "), message
    assert f"Received: {name}={received}" in message, message


def test_seeds_at_the_edges_are_accepted(vae):
    for seed in (-(2**63), 2**63 - 1):
        assert vae.sample(1, seed=seed).shape == (1, 8, 8, 1)
    assert TrainingConfig("digits_basic", seed=2**32 - 1).seed == 2**32 - 1


CLI_CASES = [
    ("sample --preset digits_basic --seed 18446744073709551616 --out a.png",
     ["--seed", "<= 9223372036854775807", "18446744073709551616"]),
    ("sample --preset digits_basic --temperature 1e300 --out a.png",
     ["--temperature", "<= 1000", "1e300"]),
    ("sample --preset digits_basic --temperature -1 --out a.png", ["--temperature", ">= 0"]),
    ("sample --preset digits_basic --temperature nan --out a.png", ["--temperature", "nan"]),
    ("evaluate --preset digits_basic --seed -9223372036854775809",
     ["--seed", ">= -9223372036854775808"]),
    ("train --epochs 1 --seed 4294967296", ["--seed", "<= 4294967295", "4294967296"]),
    ("train --epochs 1 --seed -1", ["--seed", ">= 0", "-1"]),
]


@pytest.mark.parametrize("arguments, words", CLI_CASES, ids=[case[0] for case in CLI_CASES])
def test_command_line_refuses_out_of_range_numbers(tmp_path, arguments, words):
    result = subprocess.run([*COMMAND, *arguments.split()], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras-cvae "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert os.listdir(tmp_path) == []


# === Exported artifacts: the SavedModel checks in its graph, TFLite stays builtin-only ===


def test_saved_model_signatures_check_values(artifacts):  # noqa: F811
    _, paths = artifacts
    signatures = tf.saved_model.load(paths["saved_model"]).signatures
    calls = {
        "images": lambda: signatures["encode"](images=tf.constant(X * 255)),
        "z": lambda: signatures["decode"](z=tf.constant(_with(Z, 0, np.nan))),
        "z_uniform": lambda: signatures["sample"](
            z_noise=tf.constant(Z), pixel_noise=tf.constant(PIXELS),
            temperature=tf.ones(2), z_uniform=tf.constant(_with(U, 0, 1.5))),
    }
    for name, call in calls.items():
        with pytest.raises(tf.errors.InvalidArgumentError) as raised:
            call()
        assert f"Invalid value for argument `{name}`" in _one_line(raised.value.message), name
    assert np.isfinite(signatures["decode"](z=tf.fill((1, 4), 3e38))["x_mean"].numpy()).all()


def test_tflite_drops_the_assertions_and_stays_builtin(artifacts):  # noqa: F811
    _, paths = artifacts
    for signature, operators in tflite_operators(paths["tflite_float32"]).items():
        assert not [op for op in operators if op.startswith("CUSTOM")], (signature, operators)


# === The consumer scripts: input values, --outputs, an incomplete ONNX folder ===


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


SCRIPT_INPUT_CASES = {
    "nan images": ({"encode/images": _with(X, (0, 0, 0, 0), np.nan)},
                   ["'encode'", "'images'", "values in [0, 1]", "1 NaN and 0 infinite values"]),
    "8-bit images": ({"reconstruct/images": X * 255},
                     ["'images'", "values in [0, 255]", "divide 8-bit images by 255"]),
    "inf z": ({"decode/z": _with(Z, (0, 0), np.inf)}, ["'z'", "finite values", "1 infinite"]),
    "z_uniform 1.5": ({"sample/z_noise": Z, "sample/pixel_noise": PIXELS,
                       "sample/temperature": np.ones(2, "float32"),
                       "sample/z_uniform": _with(U, 0, 1.5)},
                      ["'z_uniform'", "values in [0, 1)", "[0.75, 1.5]"]),
    "negative temperature": ({"sample/z_noise": Z, "sample/pixel_noise": PIXELS,
                              "sample/temperature": np.array([1.0, -1.0], "float32"),
                              "sample/z_uniform": U},
                             ["'temperature'", "values in [0, 1000]", "[-1, 1]"]),
    "empty batch": ({"decode/z": Z[:0]}, ["'z'", "at least one example", "(0, 4)"]),
}
SCRIPTS = {"run_onnx": "onnx", "run_tflite": "tflite_float32", "run_saved_model": "saved_model"}


@pytest.mark.parametrize("script", list(SCRIPTS))
@pytest.mark.parametrize("case", list(SCRIPT_INPUT_CASES))
def test_scripts_refuse_bad_input_values(artifacts, tmp_path, capsys, script, case):  # noqa: F811
    _, paths = artifacts
    arrays, words = SCRIPT_INPUT_CASES[case]
    inputs = _npz(tmp_path / "in.npz", **{k: v.astype("float32") for k, v in arrays.items()})
    argv = [str(paths[SCRIPTS[script]]), "--inputs", inputs, "--outputs", str(tmp_path / "o.npz")]
    with pytest.raises(SystemExit) as raised:
        script_module(script).main(argv)
    assert raised.value.code == 2
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and stderr.startswith(f"{script}.py: error: "), stderr
    for word in [*words, "in.npz"]:
        assert word in stderr, (word, stderr)
    assert not (tmp_path / "o.npz").exists()


def test_scripts_check_the_ranges_keras_cvae_checks():
    consumer = script_module("consumer")
    assert consumer.MAX_TEMPERATURE == MAX_TEMPERATURE
    assert consumer.VALUE_RANGES == {"images": (0.0, 1.0, True), "z_uniform": (0.0, 1.0, False),
                                     "temperature": (0.0, MAX_TEMPERATURE, True)}
    assert UNIT_INTERVAL == consumer.VALUE_RANGES["images"][:2]


def test_scripts_refuse_an_existing_outputs_file(artifacts, tmp_path, capsys):  # noqa: F811
    _, paths = artifacts
    run_onnx = script_module("run_onnx")
    inputs = _npz(tmp_path / "in.npz", **{"decode/z": Z})
    mine = tmp_path / "mine.npz"
    mine.write_bytes(b"the user's results")
    for given in (str(mine), str(tmp_path / "mine")):  # numpy adds .npz to a name without it
        with pytest.raises(SystemExit) as raised:
            run_onnx.main([paths["onnx"], "--inputs", inputs, "--outputs", given])
        assert raised.value.code == 2
        stderr = capsys.readouterr()
        assert "exists: pass --overwrite to replace it" in stderr.err, stderr.err
        assert "decode:" not in stderr.out  # refused before running anything
        assert mine.read_bytes() == b"the user's results"
    assert run_onnx.main([paths["onnx"], "--inputs", inputs, "--outputs", str(mine),
                          "--overwrite"]) == 0
    with np.load(mine) as data:
        assert data["decode/x_mean"].shape == (2, 8, 8, 1)
    assert sorted(os.listdir(tmp_path)) == ["in.npz", "mine.npz"]  # no temporary left


def test_scripts_refuse_a_folder_as_outputs(artifacts, tmp_path, capsys):  # noqa: F811
    _, paths = artifacts
    (tmp_path / "out.npz").mkdir()
    with pytest.raises(SystemExit):
        script_module("run_onnx").main([paths["onnx"], "--inputs",
                                        _npz(tmp_path / "in.npz", **{"decode/z": Z}),
                                        "--outputs", str(tmp_path / "out.npz"), "--overwrite"])
    assert "which is a folder" in capsys.readouterr().err


@pytest.mark.parametrize("removed", ["sample.onnx", "encode.onnx"])
def test_run_onnx_refuses_a_folder_missing_a_listed_file(artifacts, tmp_path, capsys,  # noqa: F811
                                                         removed):
    _, paths = artifacts
    export = tmp_path / "export"
    shutil.copytree(os.path.dirname(paths["onnx"]), export)
    os.remove(export / "onnx" / removed)
    with pytest.raises(SystemExit) as raised:
        script_module("run_onnx").main([str(export / "onnx"), "--signature", "decode"])
    assert raised.value.code == 2
    captured = capsys.readouterr()
    assert f"Missing file {export / 'onnx' / removed}" in captured.err, captured.err
    assert "decode:" not in captured.out  # nothing ran
