"""Export a VAE to every format and print the report: sizes, max |diff| from Keras, latency.

    python bench/export_latency.py                          # a small fresh 8x8 model
    python bench/export_latency.py --model vae.keras --images train.npy --repeats 50
    python bench/export_latency.py --block bottleneck --posterior full --image-size 28
    python bench/export_latency.py --prior-components 10    # `sample` from a fitted mixture

Writes the artifacts and `export_report.json` under --out (a temporary folder
by default). Latencies are of `reconstruct` per image at batch 1 and 64, the
median of --repeats calls, on this machine's CPU.
"""

import argparse
import os
import tempfile

import keras
import numpy as np

import keras_cvae
from keras_cvae.export import export_all


def build_model(args):
    if args.model:
        return keras.models.load_model(args.model)
    conv_net = {
        "block": args.block,
        "depth": args.depth,
        "channels": args.channels,
        "bottleneck_channels": max(1, args.channels // 2),
    }
    return keras_cvae.VAE(
        keras_cvae.GaussianEncoder(
            latent_dim=args.latent_dim, conv_net=conv_net, posterior=args.posterior
        ),
        keras_cvae.GaussianDecoder(
            image_shape=(args.image_size, args.image_size, 1), conv_net=conv_net
        ),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a saved .keras VAE (default: a fresh model)")
    parser.add_argument("--images", help=".npy of training images in [0, 1] (int8 calibration)")
    parser.add_argument("--out", help="output folder (default: a temporary one)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--block", default="basic", choices=["basic", "bottleneck"])
    parser.add_argument("--posterior", default="diagonal", choices=["diagonal", "full"])
    parser.add_argument("--image-size", type=int, default=8)
    parser.add_argument("--latent-dim", type=int, default=8)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument(
        "--prior-components", type=int, default=0,
        help="fit a Gaussian mixture prior of this many components to the images' codes "
        "before exporting (default: 0, the model's own prior)",
    )
    args = parser.parse_args(argv)

    model = build_model(args)
    if args.images:
        images = np.load(args.images).astype("float32")
    else:
        images = np.random.default_rng(0).uniform(size=(200, *model.image_shape)).astype("float32")
    if args.prior_components:
        model.fit_prior(images, num_components=args.prior_components, samples_per_image=2)
    out = args.out or os.path.join(tempfile.mkdtemp(prefix="keras_cvae_bench_"), "export")
    paths = export_all(model, out, representative_data=images, report_repeats=args.repeats)
    print(f"Report: {paths['report']}")


if __name__ == "__main__":
    main()
