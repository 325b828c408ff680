"""A pretrained preset's model card (`README.md`) and its sample and reconstruction images."""

import keras
import numpy as np

from keras_cvae.utils.image_grid import image_grid
from keras_cvae.utils.image_grid import png_bytes
from keras_cvae.zoo.preset_lookup import architecture_summary

# scikit-learn GaussianMixture on the digits' training split with the same
# dequantization, test metrics: recorded from `python bench/gmm_baseline.py`.
GMM_BASELINE = {"description": "5 full-covariance components", "nll_nats": -58.06, "bits_per_dim": 2.779}


def model_card_files(model, metadata, test_images, seed=0, grid=8, zoom=4):
    """`{"README.md": str, "samples.png": bytes, "reconstructions.png": bytes}`."""
    samples = np.asarray(model.sample(grid * grid, seed=seed))
    originals = np.asarray(test_images[: grid * grid // 2], "float32")
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
        f'vae = keras_cvae.VAE.from_preset("{name}")',
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
        "## Samples and reconstructions",
        "",
        "![samples](samples.png) — decoder means `g(z)`, `z ~ N(0, I)`.",
        "",
        "![reconstructions](reconstructions.png) — test images (odd rows) and `g(f(x))` (even rows).",
        "",
    ]
    return "\n".join(lines)


def _training_section(metadata):
    training = metadata["training"]
    return [
        "## Training",
        "",
        f"- Command: `{training['command']}` (seed {training['seed']}).",
        f"- {training['epochs']} epochs, batch {training['batch_size']}, Adam, learning rate "
        f"{training['learning_rate']} with {training['schedule']}; {metadata['dataset']['dequantization']}.",
        f"- BatchNorm: {training['batchnorm']}.",
        f"- Training time: {training['train_seconds']:.0f} s on {training['machine']} "
        "(shared with other jobs).",
        "",
    ]


def _metrics_section(metadata):
    name, metrics, check = metadata["preset"], metadata["metrics"], metadata.get("check_metrics")
    gmm = GMM_BASELINE if metadata["dataset"]["name"] == "digits" else None
    lines = [
        "## Test-split metrics",
        "",
        f"{metadata['dataset']['num_test']} test images, dequantized with seed {metrics['seed']}; "
        "nats per image, bits per dimension on the discrete data.",
        "",
        "| model | −ELBO (nats) | NLL, K = " + str(metrics["num_samples"]) + " (nats) | bits/dim |",
        "|---|---|---|---|",
        f"| `{name}` | {metrics['negative_elbo_nats']:.2f} | {metrics['nll_nats']:.2f} | "
        f"**{metrics['bits_per_dim']:.3f}** |",
    ]
    if gmm:
        lines.append(
            f"| GaussianMixture baseline ({gmm['description']}) | — | {gmm['nll_nats']:.2f} | "
            f"{gmm['bits_per_dim']:.3f} |"
        )
    lines += ["", f"Reproduce: `{metrics['command']}`."]
    if check:
        lines.append(
            f"Quick check used by the tests: K = {check['num_samples']}, seed {check['seed']}: "
            f"−ELBO {check['negative_elbo_nats']:.3f} nats, {check['bits_per_dim']:.4f} bits/dim.")
    return lines + [""]
