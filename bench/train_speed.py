"""Training speed of `VAE.fit` against the same VAE in PyTorch eager, side by side.

    pip install -e ".[bench]"                     # torch==2.13.0, for this script only
    python bench/train_speed.py                   # all four cases
    python bench/train_speed.py --cases digits --rounds 3 --seconds 3
    python bench/train_speed.py --keras-variants plain tuned

For each case both implementations are built with the same architecture
(the lecture's padding, blocks, BatchNorm, Gaussian NLL + closed-form KL,
Adam), the same images and the same batch size. After a warm-up, each
implementation trains for about --seconds per round, in turn, for --rounds
rounds in this one run (one worker process per implementation, so their
thread pools never compete); the table gives the median images/s and the
median of the per-round ratios keras/torch (the machine is shared and
noisy: only ratios measured side by side mean anything). Images per
CPU-second (process time of all threads) are printed too: less sensitive to
other jobs, though spinning idle threads count as work. A round is one epoch:
PyTorch's loop, or Keras's `fit(epochs=1)` timed from its start to the end of
training by a callback (what `fit` does after training, once per call, is
left out; see `build_keras`).

FLOPs per image are counted from the architecture: multiply-adds × 2 of
every convolution and dense layer in the forward pass, × 3 for forward +
backward. The fraction of peak is the achieved GFLOP/s over the fp32
throughput of a large `tf.matmul` measured in the same run.

Keras variants (`--keras-variants`):
- `before`: as `plain`, with Keras's op-by-op BatchNorm, TensorFlow's
  autodiff of the convolutions and oneDNN off: the library before its
  speed work.
- `plain`: a script with Keras's defaults: `compile(optimizer)` with
  `jit_compile=False, steps_per_execution=1`, `fit` on the NumPy array,
  `TF_ENABLE_ONEDNN_OPTS` unset (so `import keras_cvae` turns oneDNN on).
- `tuned`: what `keras-cvae train` does: as `plain`, with
  `compile(optimizer, steps_per_execution=...)` the library's choice per
  image size (`keras_cvae.models.recommended_steps_per_execution`). XLA
  stays off (Keras's CPU default): measured here it is about 2× slower on
  the bottleneck case and no faster on the others.
`plain` and `tuned` use the library's fused BatchNorm
(`keras_cvae.layers.FusedBatchNormalization`) and its convolution gradients
(`keras_cvae.layers.padded_conv.padded_convolution`).
"""

import argparse
import math
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CASES = {
    "digits": dict(image_shape=(8, 8, 1), block="basic", channels=64, bottleneck_channels=64,
                   kernel_size=3, depth=2, latent_dim=16, batch_size=128),
    "mnist": dict(image_shape=(28, 28, 1), block="basic", channels=64, bottleneck_channels=64,
                  kernel_size=3, depth=4, latent_dim=32, batch_size=32),
    "bottleneck": dict(image_shape=(8, 8, 1), block="bottleneck", channels=256, bottleneck_channels=64,
                       kernel_size=3, depth=2, latent_dim=16, batch_size=128),
    # The photo_patches_bottleneck preset's architecture and batch: RGB, C = 256, D = 64.
    "rgb_bottleneck": dict(image_shape=(16, 16, 3), block="bottleneck", channels=256,
                           bottleneck_channels=64, kernel_size=3, depth=2, latent_dim=32, batch_size=64),
}
LEARNING_RATE = 1e-3


# === FLOPs, counted from the architecture ===

def encoder_decoder_flops(case):
    """Multiply-adds × 2 of the convolutions and dense layers per image, forward: `(encoder, decoder)`.

    `case` holds the architecture (`CASES`' keys); optional `posterior`
    (`"diagonal"`, or `"full"`: Z(Z+1)/2 scale outputs) and `decoder_scale`
    (`"linear"` or `"linear_per_pixel"` add σ(z)'s 1×1 convolution).
    """
    (*spatial, channels_in), c, d, k = case["image_shape"], case["channels"], case["bottleneck_channels"], case["kernel_size"]
    pixels, z = math.prod(spatial), case["latent_dim"]

    def conv(c_in, c_out, size):
        return 2 * pixels * size ** len(spatial) * c_in * c_out

    if case["block"] == "basic":
        block = 2 * conv(c, c, k)
    else:
        block = conv(c, d, 1) + conv(d, d, k) + conv(d, c, 1)
    features = pixels * c
    scale_outputs = z * (z + 1) // 2 if case.get("posterior") == "full" else z
    heads = 2 if case.get("decoder_scale") in ("linear", "linear_per_pixel") else 1
    encoder = conv(channels_in, c, 1) + case["depth"] * block + 2 * features * (z + scale_outputs)
    decoder = 2 * z * features + case["depth"] * block + heads * conv(c, channels_in, 1)
    return encoder, decoder


def forward_flops(case):
    """Multiply-adds × 2 of the convolutions and dense layers, per image, forward."""
    return sum(encoder_decoder_flops(case))


def matmul_gflops(size=2048, seconds=2.0):
    """fp32 throughput of a large `tf.matmul` on this machine now, GFLOP/s (best of a few)."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))

    @tf.function
    def product(a, b):
        return tf.reduce_sum(tf.matmul(a, b))

    product(a, b).numpy()
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        product(a, b).numpy()
        best = max(best, 2 * size ** 3 / (time.perf_counter() - start) / 1e9)
    return best


# === PyTorch ===

def build_torch(case, seed=0):
    """The keras_cvae VAE in PyTorch (NCHW), with Adam; returns `train_epoch(images)`."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    torch.manual_seed(seed)
    (*spatial, channels_in) = case["image_shape"]
    c, d, k, z = case["channels"], case["bottleneck_channels"], case["kernel_size"], case["latent_dim"]
    log_2pi = math.log(2 * math.pi)

    def conv(c_in, c_out, size, bias=False):
        before = size // 2  # the lecture's Pad: floor(k/2) before, k - 1 - floor(k/2) after
        layer = nn.Conv2d(c_in, c_out, size, bias=bias)
        if bias is False:
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        return nn.Sequential(nn.ZeroPad2d((before, size - 1 - before) * 2), layer) if size > 1 else layer

    def batchnorm(channels, last=False):
        layer = nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)  # Keras momentum 0.99
        if last:
            nn.init.zeros_(layer.weight)
        return layer

    class Basic(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = conv(c, c, k), batchnorm(c)
            self.conv2, self.bn2 = conv(c, c, k), batchnorm(c, last=True)

        def forward(self, x):
            u = F.relu(self.bn1(self.conv1(x)))
            return F.relu(x + self.bn2(self.conv2(u)))

    class Bottleneck(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = conv(c, d, 1), batchnorm(d)
            self.conv2, self.bn2 = conv(d, d, k), batchnorm(d)
            self.conv3, self.bn3 = conv(d, c, 1), batchnorm(c, last=True)

        def forward(self, x):
            u = F.relu(self.bn1(self.conv1(x)))
            v = F.relu(self.bn2(self.conv2(u)))
            return F.relu(x + self.bn3(self.conv3(v)))

    def conv_net():
        return nn.Sequential(*[(Basic if case["block"] == "basic" else Bottleneck)() for _ in range(case["depth"])])

    features = c * math.prod(spatial)

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc_in, self.enc_net = conv(channels_in, c, 1, bias=True), conv_net()
            self.enc_mean, self.enc_var = nn.Linear(features, z), nn.Linear(features, z)
            self.dec_in, self.dec_net = nn.Linear(z, features), conv_net()
            self.dec_mean = conv(c, channels_in, 1, bias=True)
            start = math.log(math.expm1(0.1 - 1e-3))  # decoder_scale="learned", scale=0.1
            self.dec_raw_scale = nn.Parameter(torch.tensor(start))

        def forward(self, x):
            h = self.enc_net(self.enc_in(x)).flatten(1)
            mean, scale = self.enc_mean(h), F.softplus(self.enc_var(h)) + 1e-4
            latent = mean + scale * torch.randn_like(mean)
            g = self.dec_net(self.dec_in(latent).view(-1, c, *spatial))
            x_mean, x_scale = self.dec_mean(g), F.softplus(self.dec_raw_scale) + 1e-3
            per_pixel = 0.5 * ((x - x_mean) / x_scale) ** 2 + torch.log(x_scale) + 0.5 * log_2pi
            reconstruction = per_pixel.flatten(1).sum(1)
            kl = (0.5 * (scale ** 2 + mean ** 2 - 1.0) - torch.log(scale)).sum(1)
            return reconstruction.mean() + kl.mean()

    model = VAE().train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, eps=1e-7)
    batch = case["batch_size"]

    def train_epoch(images):
        """One shuffled pass over `images` (NCHW tensor): `(last loss, seconds)`."""
        start = time.perf_counter()
        order = torch.randperm(images.shape[0])
        for first in range(0, images.shape[0] - batch + 1, batch):
            loss = model(images[order[first:first + batch]])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return float(loss.detach()), time.perf_counter() - start

    return train_epoch


# === Keras ===

def build_keras(case, variant, seed=0):
    """A keras_cvae VAE compiled for `variant`; returns `train_epoch(images)`."""
    import keras

    import keras_cvae
    from keras_cvae.models import recommended_steps_per_execution

    if variant == "before":  # this worker process only: the library before issue 8
        import keras_cvae.layers.padded_conv
        import keras_cvae.layers.residual_block

        keras_cvae.layers.residual_block.FusedBatchNormalization = keras.layers.BatchNormalization
        keras_cvae.layers.padded_conv.padded_convolution = autodiff_padded_convolution
    keras.utils.set_random_seed(seed)
    conv_net = {name: case[name] for name in ("block", "depth", "channels", "bottleneck_channels", "kernel_size")}
    vae = keras_cvae.VAE(
        keras_cvae.GaussianEncoder(case["latent_dim"], conv_net=conv_net, posterior="diagonal"),
        keras_cvae.GaussianDecoder(case["image_shape"], conv_net=conv_net, decoder_scale="learned"),
        seed=seed,
    )
    optimizer = keras.optimizers.Adam(LEARNING_RATE)
    if variant in ("before", "plain"):
        vae.compile(optimizer=optimizer, jit_compile=False, steps_per_execution=1)
    elif variant == "tuned":
        vae.compile(optimizer=optimizer, steps_per_execution=recommended_steps_per_execution(vae.image_shape))
    else:  # "jit_compile=1,steps_per_execution=8": explicit compile arguments
        kwargs = dict(item.split("=") for item in variant.split(","))
        vae.compile(optimizer=optimizer, **{key: int(value) for key, value in kwargs.items()})
    batch = case["batch_size"]

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_train_end(self, logs=None):
            self.seconds = time.perf_counter() - self.start

    def train_epoch(images):
        """One epoch of `fit`: `(last loss, seconds from the start to the end of training)`.

        The seconds leave out what `fit` does once per call before and after
        training (turning the array into batches, callbacks), a cost a
        many-epoch `fit` pays once, not per epoch.
        """
        steps, clock = images.shape[0] // batch, Clock()
        history = vae.fit(images[: steps * batch], batch_size=batch, epochs=1, shuffle=True, verbose=0,
                          callbacks=[clock])
        return history.history["loss"][-1], clock.seconds

    train_epoch.model = vae
    return train_epoch


def autodiff_padded_convolution(inputs, kernel, paddings):
    """`keras_cvae.layers.padded_conv.padded_convolution` differentiated by TensorFlow."""
    import tensorflow as tf

    pad_width = [(0, 0), *paddings, (0, 0)]
    return tf.nn.convolution(tf.pad(inputs, pad_width), kernel, padding="VALID")


# === The run: one worker process per implementation, driven in turn ===

def worker(label, case_name, spec, threads, conn):
    """Builds one implementation in its own process and trains on request.

    Separate processes keep TensorFlow's and PyTorch's thread pools from
    competing (an idle pool in the same process still spins); the parent
    runs one worker at a time, so they never overlap.
    """
    import numpy as np

    case = CASES[case_name]
    if label.startswith("torch"):
        import torch

        torch.set_num_threads(threads)
        train = build_torch(case)
        to_input = lambda images: torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # noqa: E731
    else:
        # Read when TensorFlow is imported: unset, `import keras_cvae` turns oneDNN on;
        # `before` has it off, as TensorFlow on CPUs without AVX512_VNNI.
        os.environ.pop("TF_ENABLE_ONEDNN_OPTS", None)
        if spec == "before":
            os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
        train = build_keras(case, spec)
        to_input = lambda images: images  # noqa: E731
    images = None
    while True:
        command, steps = conn.recv()
        if command == "stop":
            return
        if images is None or images.shape[0] != steps * case["batch_size"]:
            # The same images in every worker.
            array = np.random.default_rng(0).random((steps * case["batch_size"], *case["image_shape"]))
            images = to_input(array.astype(np.float32))
        cpu_start = time.process_time()
        loss, seconds = train(images)
        conn.send((seconds, time.process_time() - cpu_start, loss))


def run_case(name, args):
    import multiprocessing

    case = CASES[name]
    batch = case["batch_size"]
    context = multiprocessing.get_context("spawn")
    setups = [(f"torch_t{t}", None, t) for t in args.torch_threads]
    setups += [(f"keras_{spec}", spec, None) for spec in args.keras_variants]
    workers = {}
    for label, spec, threads in setups:
        parent, child = context.Pipe()
        process = context.Process(target=worker, args=(label, name, spec, threads, child), daemon=True)
        process.start()
        workers[label] = (process, parent)

    def epoch(label, steps):
        workers[label][1].send(("epoch", steps))
        seconds, cpu_seconds, loss = workers[label][1].recv()
        if not math.isfinite(loss):
            raise RuntimeError(f"{name}/{label}: non-finite loss {loss}")
        return seconds, cpu_seconds

    # Warm-up (tracing, compilation, allocator), then a step time to size the rounds.
    step_seconds = []
    for label in workers:
        epoch(label, 2)
        step_seconds.append(epoch(label, 4)[0] / 4)
    steps = max(8, round(args.seconds / statistics.median(step_seconds)))
    for label in workers:  # one full-size epoch each: new data, caches
        epoch(label, steps)

    rates, cpu_rates, peaks = {label: [] for label in workers}, {label: [] for label in workers}, []
    for round_index in range(args.rounds):
        order = list(workers) if round_index % 2 == 0 else list(workers)[::-1]
        for label in order:
            seconds, cpu_seconds = epoch(label, steps)
            rates[label].append(steps * batch / seconds)
            cpu_rates[label].append(steps * batch / cpu_seconds)
        peaks.append(matmul_gflops(seconds=0.5))  # the machine now, between the runs
    for process, conn in workers.values():
        conn.send(("stop", 0))
        process.join()

    flops, peak = 3 * forward_flops(case), statistics.median(peaks)
    print(f"\n{name}: {case['image_shape']} {case['block']} C={case['channels']}"
          + (f" D={case['bottleneck_channels']}" if case["block"] == "bottleneck" else "")
          + f" k={case['kernel_size']} L={case['depth']} Z={case['latent_dim']} batch={batch}; "
          f"{flops / 1e6:.1f} MFLOP/image (fwd+bwd); {steps} steps x {args.rounds} rounds; "
          f"fp32 matmul {peak:.1f} GFLOP/s (median of rounds, {min(peaks):.0f}-{max(peaks):.0f})", flush=True)
    torch_labels = [label for label in rates if label.startswith("torch")]
    best_torch = [max(rates[label][i] for label in torch_labels) for i in range(args.rounds)]
    for label, values in rates.items():
        rate = statistics.median(values)
        gflops = rate * flops / 1e9
        line = (f"  {label:>12}  {rate:7.1f} images/s  {statistics.median(cpu_rates[label]):6.1f} per CPU-s"
                f"  {gflops:5.1f} GFLOP/s  {gflops / peak:6.1%} of matmul")
        if not label.startswith("torch"):
            ratios = [k / t for k, t in zip(values, best_torch)]
            line += (f"  keras/best torch {statistics.median(ratios):.2f}"
                     f" (rounds {min(ratios):.2f}-{max(ratios):.2f})")
        print(line, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--keras-variants", nargs="+", default=["before", "plain", "tuned"],
                        help="before, plain, tuned, or compile arguments such as jit_compile=1,steps_per_execution=8.")
    parser.add_argument("--torch-threads", nargs="+", type=int, default=[2, 1],
                        help="torch.set_num_threads values; the ratio is to the fastest per round.")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0, help="Training time per implementation per round.")
    args = parser.parse_args()

    # The matmul peak with TensorFlow's fastest CPU kernels (workers set their own).
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
    import tensorflow as tf
    import torch

    print(f"tensorflow {tf.__version__}, torch {torch.__version__} (default {torch.get_num_threads()} threads), "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}", flush=True)
    for name in args.cases:
        run_case(name, args)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
