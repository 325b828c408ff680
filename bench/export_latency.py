"""Export a VAE to every format and print the report: sizes, max |diff| from Keras, latency.

    python bench/export_latency.py                          # a small fresh 8x8 model
    python bench/export_latency.py --model vae.keras --images train.npy --repeats 50
    python bench/export_latency.py --block bottleneck --posterior full --image-size 28
    python bench/export_latency.py --prior-components 10    # `sample` from a fitted mixture
    python bench/export_latency.py --presets digits_basic digits_bottleneck \
        digits_basic_full mnist5k_basic photo_patches_bottleneck   # pretrained presets

Writes the artifacts and `export_report.json` under --out (a temporary folder
by default; `<out>/<preset>` per preset). Latencies are of `reconstruct` per
image at batch 1 and 64, and of one `decode` and one `sample` call at batch 1,
the median of --repeats calls, on this machine's CPU (TFLite through LiteRT's
default XNNPACK delegate). A preset is compared on, and int8-calibrated with,
200 images of its dataset's test split (--images overrides); with several
presets, a last table lists the TFLite batch-1 latencies of all of them.
"""

import argparse
import os
import tempfile

import keras
import numpy as np

import keras_cvae
from keras_cvae.export import export_all
from keras_cvae.export.report import BATCH_1_SIGNATURES
from keras_cvae.utils import format_table
from keras_cvae.utils import read_json
from keras_cvae.zoo.preset_lookup import read_metadata
from keras_cvae.zoo.preset_lookup import recorded_dataset

NUM_IMAGES = 200


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


def preset_images(preset):
    """`NUM_IMAGES` test images of the preset's dataset, or `None` if it is not recorded."""
    dataset = recorded_dataset(read_metadata(preset))
    if dataset is None:
        return None
    test = keras_cvae.datasets.load(dataset, "test").take(NUM_IMAGES)
    return np.stack(list(test.as_numpy_iterator())).astype("float32")


def export_one(model, images, out, args):
    """Fits the prior if asked, exports every format to `out`; returns the report."""
    if images is None:
        images = np.random.default_rng(0).uniform(
            size=(NUM_IMAGES, *model.image_shape)
        ).astype("float32")
    if args.prior_components:
        model.fit_prior(images, num_components=args.prior_components, samples_per_image=2)
    paths = export_all(model, out, representative_data=images, report_repeats=args.repeats)
    print(f"Report: {paths['report']}")
    return read_json(paths["report"])


def summary(reports):
    """Every preset's TFLite artifacts: batch-1 milliseconds of `decode` and `sample`."""
    rows = [["preset", "artifact", *[f"{name} ms b=1" for name in BATCH_1_SIGNATURES]]]
    for preset, report in reports.items():
        for label, entry in report["artifacts"].items():
            latencies = entry.get("signature_latency_ms")
            if label.startswith("tflite") and latencies:
                cells = [f"{latencies[name]:.3f}" for name in BATCH_1_SIGNATURES]
                rows.append([preset, label, *cells])
    return format_table(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a saved .keras VAE (default: a fresh model)")
    parser.add_argument(
        "--preset", "--presets", dest="presets", nargs="+", action="extend", default=[],
        metavar="NAME",
        help="pretrained presets to export instead (keras_cvae.VAE.from_preset; a name or "
        "a folder; repeatable)",
    )
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
    if args.presets and args.model:
        parser.error("--model and --preset are exclusive: give one")

    images = np.load(args.images).astype("float32") if args.images else None
    out = args.out or os.path.join(tempfile.mkdtemp(prefix="keras_cvae_bench_"), "export")
    if not args.presets:
        export_one(build_model(args), images, out, args)
        return
    reports = {}
    for preset in args.presets:
        print(f"\n=== {preset} ===", flush=True)
        model = keras_cvae.VAE.from_preset(preset)
        preset_out = os.path.join(out, os.path.basename(os.path.normpath(preset)))
        reports[preset] = export_one(
            model, images if images is not None else preset_images(preset), preset_out, args
        )
    if len(reports) > 1:
        print(f"\nTFLite batch-1 latency per call (median of {args.repeats}):")
        print(summary(reports))


if __name__ == "__main__":
    main()
