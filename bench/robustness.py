"""How robust training is: test bits/dim over seeds and learning rates, two ways.

- `--mode library`: the preset's network built with the library's defaults,
  as a user's script would (`GaussianEncoder(latent_dim, conv_net)`,
  `GaussianDecoder(image_shape, conv_net)`, `VAE(encoder, decoder)`,
  `compile(optimizer=Adam(lr))` at a constant rate, `fit` on dequantized
  training images, `recalibrate_batchnorm`), evaluated under `N(0, I)`.
- `--mode trainer`: `keras_cvae.training.train` on the preset (the recipe of
  `keras-cvae train`), with the learning rate given, evaluated under the
  fitted prior and `N(0, I)`.

Every run is a fresh process (`--jobs` at a time, the CPU cores split among
them); each result is appended as a JSON line to `--results` (runs already
there are not repeated), and the table is printed from that file. Test
bits/dim by the dequantized importance-weighted estimate with K = `--iw-samples`.

    python bench/robustness.py --dataset digits --seeds 0-7 --learning-rates 1e-3
    python bench/robustness.py --dataset digits --seeds 0 --learning-rates 5e-4,1e-3,2e-3,5e-3
    python bench/robustness.py --mode trainer --preset digits_basic --seeds 0-7
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

# The network each dataset is measured with: its pretrained preset's.
PRESET_OF_DATASET = {"digits": "digits_basic", "mnist5k": "mnist5k_basic",
                     "photo_patches": "photo_patches_bottleneck"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=("library", "trainer"), default="library")
    parser.add_argument("--dataset", default=None, help="library mode: digits, mnist5k or "
                        "photo_patches (its preset's network); default: the preset's")
    parser.add_argument("--preset", default=None, help="default: the dataset's preset")
    parser.add_argument("--seeds", default="0", help="e.g. 0-7 or 0,3")
    parser.add_argument("--learning-rates", default="1e-3")
    parser.add_argument("--epochs", type=int, default=None, help="default: the preset's")
    parser.add_argument("--iw-samples", type=int, default=100)
    parser.add_argument("--decoder", default="{}", help="library mode: GaussianDecoder options "
                        "as JSON, e.g. '{\"data_init\": false}' (default: none, the defaults)")
    parser.add_argument("--prior-components", type=int, default=None,
                        help="trainer mode: the fitted prior's components (default: the preset's)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--results", default="bench_robustness.jsonl")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a run's JSON arguments: run it
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(json.loads(args.one))), flush=True)
        return
    from keras_cvae.zoo import registry

    preset = args.preset or PRESET_OF_DATASET[args.dataset or "digits"]
    entry = registry.get_preset(preset)
    dataset = args.dataset or entry["dataset"]
    epochs = args.epochs or entry["training"]["epochs"]
    runs = [{"mode": args.mode, "preset": preset, "dataset": dataset, "epochs": epochs,
             "seed": seed, "learning_rate": rate, "iw_samples": args.iw_samples,
             "decoder": json.loads(args.decoder),
             **({} if args.prior_components is None else
                {"prior_components": args.prior_components})}
            for rate in _floats(args.learning_rates) for seed in _ints(args.seeds)]
    done = [_key(result) for result in _read(args.results)]
    todo = [run for run in runs if _key(run) not in done]
    _run_all(todo, args.jobs, args.results)
    results = [r for r in _read(args.results) if _key(r) in [_key(run) for run in runs]]
    print_table(results)


def run_one(run):
    """Trains and evaluates one run in this process; its result as a dict."""
    import keras_cvae  # first: oneDNN and quiet logs
    import keras

    start = time.time()
    levels = {"digits": 17}.get(run["dataset"], 256)
    if run["mode"] == "trainer":
        from keras_cvae.training import TrainingConfig, train

        config = TrainingConfig(run["preset"], dataset=run["dataset"], epochs=run["epochs"],
                                learning_rate=run["learning_rate"], seed=run["seed"],
                                num_samples=run["iw_samples"],
                                prior_components=run.get("prior_components"))
        with tempfile.TemporaryDirectory() as folder:
            metrics = train(config, os.path.join(folder, "preset"), verbose=0)["metrics"]
        fitted = metrics.get("fitted_prior", metrics)
        standard = metrics.get("standard_prior", metrics)
        return {**run, "bits_per_dim": fitted["bits_per_dim"],
                "standard_bits_per_dim": standard["bits_per_dim"],
                "minutes": (time.time() - start) / 60}
    keras.utils.set_random_seed(run["seed"])
    preset = keras_cvae.VAE.from_preset(run["preset"], load_weights=False)
    encoder, decoder = preset.encoder, preset.decoder
    vae = keras_cvae.VAE(
        keras_cvae.GaussianEncoder(encoder.latent_dim, encoder.conv_net.get_config()),
        keras_cvae.GaussianDecoder(decoder.image_shape, decoder.conv_net.get_config(),
                                   **run.get("decoder", {})))
    vae.compile(optimizer=keras.optimizers.Adam(run["learning_rate"]))
    load = keras_cvae.datasets.load
    train_images = load(run["dataset"], "train", batch_size=64, dequantize=True, shuffle=True,
                        seed=run["seed"])
    vae.fit(train_images, epochs=run["epochs"], verbose=0)
    keras_cvae.recalibrate_batchnorm(vae, train_images)
    test = load(run["dataset"], "test", batch_size=64)
    metrics = keras_cvae.evaluate_density(vae, test, intensity_levels=levels,
                                          num_samples=run["iw_samples"], verbose=0)
    return {**run, "bits_per_dim": None, "standard_bits_per_dim": metrics["bits_per_dim"],
            "minutes": (time.time() - start) / 60}


def print_table(results):
    """One row per (mode, preset, learning rate): bits/dim per seed, spread, minutes."""
    rows = {}
    for result in results:
        key = (result["mode"], result["preset"], result["epochs"], result["learning_rate"],
               json.dumps(result.get("decoder") or {}), result.get("prior_components"))
        rows.setdefault(key, []).append(result)
    seeds = sorted({r["seed"] for r in results})
    print("| mode | preset | epochs | learning rate | decoder | prior | "
          + " | ".join(f"seed {s}" for s in seeds) + " | spread | minutes |")
    print("|---" * (len(seeds) + 8) + "|")
    for (mode, preset, epochs, rate, decoder, components), runs in sorted(
            rows.items(), key=lambda item: json.dumps(item[0])):
        by_seed = {r["seed"]: r for r in runs}
        minutes = sum(r["minutes"] for r in runs) / len(runs)
        for prior, field in (("fitted", "bits_per_dim"), ("N(0, I)", "standard_bits_per_dim")):
            values = [by_seed[s][field] if s in by_seed else None for s in seeds]
            present = [v for v in values if v is not None]
            if not present:
                continue
            cells = " | ".join("" if v is None else f"{v:.3f}" for v in values)
            spread = max(present) - min(present)
            decoder = "defaults" if decoder == "{}" else decoder.replace("|", "\\|")
            if components is not None:
                prior = prior.replace("fitted", f"fitted, {components} components")
            print(f"| {mode} | {preset} | {epochs} | {rate:g} | {decoder} | {prior} | {cells} | "
                  f"{spread:.3f} | {minutes:.1f} |")


def _run_all(runs, jobs, results_path):
    threads = str(max(1, (os.cpu_count() or 2) // jobs))
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": "1"}
    pending, running = list(runs), []
    while pending or running:
        while pending and len(running) < jobs:
            run = pending.pop(0)
            process = subprocess.Popen([sys.executable, __file__, "--one", json.dumps(run)],
                                       stdout=subprocess.PIPE, text=True, env=env)
            running.append((run, process))
        time.sleep(2)
        for run, process in list(running):
            if process.poll() is None:
                continue
            running.remove((run, process))
            lines = process.stdout.read().strip().splitlines()
            if process.returncode or not lines:
                print(f"failed (exit {process.returncode}): {run}", file=sys.stderr)
                continue
            with open(results_path, "a") as file:
                file.write(lines[-1] + "\n")
            print(lines[-1], flush=True)


def _key(run):
    return (*(run[k] for k in ("mode", "preset", "dataset", "epochs", "seed", "learning_rate",
                               "iw_samples")), json.dumps(run.get("decoder") or {}),
            run.get("prior_components"))


def _read(path):
    if not os.path.exists(path):
        return []
    with open(path) as file:
        return [json.loads(line) for line in file if line.strip()]


def _ints(text):
    values = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        values += list(range(int(low), int(high or low) + 1))
    return values


def _floats(text):
    return [float(part) for part in text.split(",")]


if __name__ == "__main__":
    main()
