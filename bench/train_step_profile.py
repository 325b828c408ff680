"""Where a training step of `bench/train_speed.py`'s cases spends its time, op by op.

    python bench/train_step_profile.py --case mnist --steps 8

Builds the case's VAE as `train_speed.py`'s `tuned` variant does (what
`keras-cvae train` runs), trains two warm-up epochs, then profiles one epoch
of `--steps` steps with TensorFlow's profiler and prints the kernels'
time per step (summed over TensorFlow's executor threads, which run
independent ops at the same time on the shared cores), grouped as
convolutions (forward, and the input gradients the library computes as
forward convolutions), the kernel-gradient convolutions, BatchNorm and ReLU,
dense layers, and the rest (the optimizer's elementwise updates, the loss).

Then the floor under that step: every convolution and dense layer of the
model timed alone, one at a time, forward and backward with the library's
own gradients (`keras_cvae.layers.padded_conv.padded_convolution`), at the
case's batch size, summed over the layers. A step cannot be much faster than
this sum without faster convolution kernels.
"""

import argparse
import collections
import glob
import math
import os
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GROUPS = (  # (group, substrings of the kernel's name), first match wins
    ("kernel-gradient convolutions", ("Conv2DBackpropFilter",)),
    ("convolutions", ("Conv2D",)),
    ("BatchNorm and ReLU", ("BatchNorm", "Relu")),
    ("dense layers", ("MatMul",)),
)
# The executor's wrappers around kernels, not kernels.
WRAPPERS = ("Process", "ExecutorDoneCallback", "ExecutorState::Process")


def group_of(kernel):
    for group, parts in GROUPS:
        if any(part in kernel for part in parts):
            return group
    return "other ops (optimizer, loss, ...)"


def kernel_times(logdir):
    """`{kernel name: total milliseconds}` over the executor threads of the profile in `logdir`."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    path = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)[0]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as file:
        space.ParseFromString(file.read())
    totals = collections.Counter()
    for plane in space.planes:
        names = {key: value.name for key, value in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                kernel = names[event.metadata_id].split(":")[-1]
                if kernel not in WRAPPERS:
                    totals[kernel] += event.duration_ps / 1e9
    return totals


def model_layers(model):
    """`{(kind, kernel shape, paddings): count}`: the convolutions and dense layers of `model`."""
    import keras

    from keras_cvae.layers.padded_conv import PaddedConv

    layers = collections.Counter()
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, PaddedConv):
            layers["conv", tuple(layer.kernel.shape), tuple(layer._paddings)] += 1
        elif isinstance(layer, keras.layers.Dense):
            layers["dense", tuple(layer.kernel.shape), None] += 1
    return layers


def layer_floor_ms(model, batch, image_shape, repeats=10):
    """Milliseconds of `model`'s convolutions and dense layers per step, each timed alone, forward and backward.

    Convolutions keep the image's spatial size, so each runs on a
    `(batch, *image_shape[:-1], channels_in)` input.
    """
    import tensorflow as tf

    from keras_cvae.layers.padded_conv import padded_convolution

    total = 0.0
    for (kind, shape, paddings), count in model_layers(model).items():
        weights = tf.Variable(tf.random.normal(shape))
        if kind == "conv":
            inputs = tf.random.normal((batch, *image_shape[:-1], shape[-2]))
            layer = lambda x, w, paddings=paddings: padded_convolution(x, w, paddings)  # noqa: E731
        else:
            inputs = tf.random.normal((batch, shape[0]))
            layer = tf.matmul

        @tf.function
        def forward_backward(inputs, output_gradient, layer=layer, weights=weights):
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                outputs = layer(inputs, weights)
            # The outputs too: nothing else needs them, and unused ops would be pruned.
            return outputs, tape.gradient(outputs, [inputs, weights], output_gradients=output_gradient)

        output_gradient = tf.random.normal(layer(inputs, weights).shape)
        forward_backward(inputs, output_gradient)  # trace; eager calls return when computed
        best = math.inf
        for _ in range(repeats):
            start = time.perf_counter()
            forward_backward(inputs, output_gradient)
            best = min(best, time.perf_counter() - start)
        total += count * best * 1e3
    return total


def main():
    import keras_cvae  # noqa: F401  (first: it turns TensorFlow's oneDNN kernels on, as for `keras-cvae train`)
    import numpy as np
    import tensorflow as tf

    from train_speed import CASES
    from train_speed import build_keras
    from train_speed import forward_flops
    from train_speed import matmul_gflops

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=list(CASES), default="mnist")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--top", type=int, default=8, help="Kernels listed by name.")
    args = parser.parse_args()

    case = CASES[args.case]
    train = build_keras(case, "tuned")
    images = np.random.default_rng(0).random((case["batch_size"] * args.steps, *case["image_shape"]))
    images = images.astype("float32")
    for _ in range(2):
        train(images)
    with tempfile.TemporaryDirectory() as logdir:
        start = time.perf_counter()
        tf.profiler.experimental.start(logdir)
        train(images)
        tf.profiler.experimental.stop()
        seconds = time.perf_counter() - start
        totals = kernel_times(logdir)
    _, unprofiled = train(images)
    step_ms = 1e3 * unprofiled / args.steps
    gflops = 3 * forward_flops(case) * case["batch_size"] / (step_ms / 1e3) / 1e9
    peak = matmul_gflops()
    print(f"{args.case}: {step_ms:.0f} ms per step unprofiled ({seconds / args.steps * 1e3:.0f} profiled), "
          f"{gflops:.0f} GFLOP/s = {gflops / peak:.0%} of matmul ({peak:.0f} GFLOP/s)")
    kernel_ms = sum(totals.values())
    print(f"kernel time per step, summed over executor threads: {kernel_ms / args.steps:.0f} ms")
    groups = collections.Counter()
    for kernel, ms in totals.items():
        groups[group_of(kernel)] += ms
    for group, ms in groups.most_common():
        print(f"  {group:34s} {ms / args.steps:7.1f} ms  {ms / kernel_ms:6.1%}")
    print("largest kernels:")
    for kernel, ms in totals.most_common(args.top):
        print(f"  {kernel:34s} {ms / args.steps:7.1f} ms  {ms / kernel_ms:6.1%}")
    floor = layer_floor_ms(train.model, case["batch_size"], case["image_shape"])
    print(f"the convolutions and dense layers timed alone, one at a time: {floor:.0f} ms per step "
          f"(the step takes {step_ms / floor:.2f}x that)")


if __name__ == "__main__":
    main()
