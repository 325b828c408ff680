"""A pretrained preset's model card (`README.md`) and its sample and reconstruction images."""

import keras
import numpy as np

from keras_cvae.utils.image_grid import image_grid
from keras_cvae.utils.image_grid import png_bytes
from keras_cvae.zoo.preset_lookup import architecture_summary

# Pixel-space density baselines fitted to a dataset's training split with the same
# dequantization, test metrics (nats per image, bits/dim) recorded from the command in
# BASELINE_COMMANDS (each model's setting the best of its grid on the test split).
BASELINE_COMMANDS = {
    "digits": "python bench/density_baselines.py --dataset digits",
    "mnist5k": "python bench/density_baselines.py --dataset mnist5k",
    "photo_patches": "python bench/density_baselines.py --dataset photo_patches --components 1 2 5",
}
BASELINES = {
    "digits": [("GaussianMixture, 5 full-covariance components", -58.06, 2.779)],
    "mnist5k": [
        ("full-covariance Gaussian (ridge 1e-4)", -1202.67, 5.787),
        ("GaussianMixture, 2 full-covariance components", -1269.95, 5.663),
        ("probabilistic PCA, 400 components", -983.73, 6.190),
        ("uniform on [0, 1]", 0.0, 8.000),
    ],
    "photo_patches": [
        ("full-covariance Gaussian (ridge 1e-4)", -1324.32, 5.512),
        ("GaussianMixture, 2 full-covariance components", -1724.80, 4.760),
        ("probabilistic PCA, 600 components", -1219.01, 5.710),
        ("uniform on [0, 1]", 0.0, 8.000),
    ],
}


STANDARD_SAMPLES_FILE = "samples_standard_prior.png"


def model_card_files(model, metadata, test_images, seed=0, grid=8, zoom=4):
    """`{"README.md": str, "samples.png": bytes, "reconstructions.png": bytes}`.

    With a fitted prior, also `samples_standard_prior.png`: samples from `N(0, I)`.
    """
    files = {}
    if metadata.get("prior", {}).get("type", "StandardNormalPrior") != "StandardNormalPrior":
        standard = np.asarray(model.sample(grid * grid, seed=seed, prior="standard"))
        files[STANDARD_SAMPLES_FILE] = png_bytes(image_grid(standard, columns=grid, scale=zoom))
    samples = np.asarray(model.sample(grid * grid, seed=seed))
    # Test images spread evenly over the split (the first few can be alike: the sky of a photograph).
    test_images = np.asarray(test_images, "float32")
    spread = np.linspace(0, len(test_images) - 1, min(grid * grid // 2, len(test_images)))
    originals = test_images[np.round(spread).astype(int)]
    reconstructions = np.asarray(model.reconstruct(originals))
    rows = []
    for i in range(grid // 2):  # an originals row, then its reconstructions
        rows.append(originals[i * grid:(i + 1) * grid])
        rows.append(reconstructions[i * grid:(i + 1) * grid])
    return {
        "README.md": model_card(
            metadata, architecture_summary(keras.saving.serialize_keras_object(model))),
        "samples.png": png_bytes(image_grid(samples, columns=grid, scale=zoom)),
        "reconstructions.png": png_bytes(image_grid(np.concatenate(rows), columns=grid, scale=zoom)),
        **files,
    }


def model_card(metadata, architecture):
    """The `README.md` of a pretrained preset, from its `metadata.json` contents.

    Args:
        metadata: dict. The preset's `metadata.json` contents.
        architecture: str. A one-line summary of its `config.json`
            (`keras_cvae.zoo.preset_lookup.architecture_summary`).
    """
    name = metadata["preset"]
    lines = [
        f"# `{name}`",
        "",
        metadata["description"],
        "",
        "```python",
        f'vae = keras_cvae.VAE.from_preset("{_loadable(metadata)}")',
        "```",
        "",
        "## Architecture",
        "",
        f"- Input: {tuple(metadata['input_shape'])}, {metadata['intensity_levels']} intensity levels "
        f"({metadata['dataset']['name']}).",
        f"- Parameters: {metadata['parameter_count']:,}.",
        f"- Encoder and decoder: the lecture's residual convnet at full resolution: {architecture} "
        "(all hyper-parameters in `config.json`).",
        "",
        *_training_section(metadata),
        *_metrics_section(metadata),
        *_samples_section(metadata),
    ]
    return "\n".join(lines)


def _loadable(metadata):
    """What `from_preset` loads this preset by: its name, or its folder if rebuilt for other images."""
    return "path/to/this/folder" if "network_of" in metadata else metadata["preset"]


def _fitted(metadata):
    return metadata.get("prior", {}).get("type", "StandardNormalPrior") != "StandardNormalPrior"


def _samples_section(metadata):
    lines = ["## Samples and reconstructions", ""]
    quality = metadata.get("sample_quality") or {}
    if _fitted(metadata):
        lines += [
            f"![samples](samples.png) — decoder means `g(z)`, `z` from the fitted prior "
            f"({metadata['prior']['num_components']}-component mixture; `vae.sample()`)"
            + _score_text(quality.get("fitted")) + ".",
            "",
            f"![samples from N(0, I)]({STANDARD_SAMPLES_FILE}) — `z ~ N(0, I)` "
            "(`vae.sample(prior=\"standard\")`)" + _score_text(quality.get("standard")) + ".",
        ]
    else:
        lines.append("![samples](samples.png) — decoder means `g(z)`, `z ~ N(0, I)`"
                     + _score_text(quality.get("standard")) + ".")
    if (quality.get("real_test_images") or {}).get("score"):
        lines += ["", f"Scores of {quality['num_samples']} samples by {quality['judge']}; "
                      f"the real test images score {quality['real_test_images']['score']:.2f}."]
    return lines + [
        "",
        "![reconstructions](reconstructions.png) — test images (odd rows) and `g(f(x))` (even rows).",
        "",
    ]


def _score_text(quality):
    if not quality:
        return ""
    score = f"classifier score {quality['score']:.2f}, " if quality.get("score") else ""
    return (f"; {score}median nearest-training-image distance "
            f"{quality['nearest_distance_ratio']:.2f}× that of test reconstructions")


def _training_section(metadata):
    training = metadata["training"]
    shift = training.get("augment_shift") or 0
    augmentation = [
        f"- Augmentation: each training image translated by a random (dy, dx) in "
        f"[−{shift}, {shift}]², fresh every epoch, the border filled with 0; the test images "
        "are evaluated unshifted."] if shift else []
    return [
        "## Training",
        "",
        f"- Command: `{training['command']}` (seed {training['seed']}).",
        f"- {training['epochs']} epochs, batch {training['batch_size']}, Adam, learning rate "
        f"{training['learning_rate']} with {training['schedule']}; {metadata['dataset']['dequantization']}.",
        *augmentation,
        f"- BatchNorm: {training['batchnorm']}.",
        f"- Training time: {training['train_seconds']:.0f} s on {training['machine']} "
        "(shared with other jobs).",
        "",
    ]


def _metrics_section(metadata):
    name, metrics, check = metadata["preset"], metadata["metrics"], metadata.get("check_metrics")
    lines = [
        "## Test-split metrics",
        "",
        f"{metadata['dataset']['num_test']} test images, dequantized with seed {metrics['seed']}; "
        "nats per image, bits per dimension on the discrete data.",
        "",
        "| model | −ELBO (nats) | NLL, K = " + str(metrics["num_samples"]) + " (nats) | bits/dim |",
        "|---|---|---|---|",
        f"| `{name}`{' (fitted prior)' if 'standard_prior' in metrics else ''} | "
        f"{metrics['negative_elbo_nats']:.2f} | {metrics['nll_nats']:.2f} | "
        f"**{metrics['bits_per_dim']:.3f}** |",
    ]
    if "standard_prior" in metrics:
        standard = metrics["standard_prior"]
        lines.append(f"| `{name}` (N(0, I) prior) | {standard['negative_elbo_nats']:.2f} | "
                     f"{standard['nll_nats']:.2f} | {standard['bits_per_dim']:.3f} |")
    baselines = BASELINES.get(metadata["dataset"]["name"], [])
    for description, nll_nats, bits_per_dim in baselines:
        lines.append(f"| {description} (baseline) | — | {nll_nats:.2f} | {bits_per_dim:.3f} |")
    lines += ["", f"Reproduce: `{metrics['command']}`."]
    if baselines:
        lines.append(f"Baselines: `{BASELINE_COMMANDS[metadata['dataset']['name']]}`, each "
                     "setting the best of its grid on the test split.")
    if check:
        lines.append(
            f"Quick check used by the tests: K = {check['num_samples']}, seed {check['seed']}"
            + (f", the first {check['num_images']} test images"
               if check.get("num_images", metadata["dataset"]["num_test"])
               < metadata["dataset"]["num_test"] else "")
            + ": "
            f"−ELBO {check['negative_elbo_nats']:.3f} nats, {check['bits_per_dim']:.4f} bits/dim.")
    return lines + [""]
