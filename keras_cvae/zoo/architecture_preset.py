"""Writing an architecture-only preset folder (no weights) for a registered preset."""

import json

from keras_cvae.zoo import registry
from keras_cvae.zoo.preset_io import save_to_preset


def write_architecture_preset(name, output_dir, overwrite=False):
    """Writes `config.json`, `metadata.json` and a short `README.md` for preset `name`.

    `python -m keras_cvae.zoo.architecture_preset NAME DIR`.
    """
    from keras_cvae.zoo.train_preset import build_preset_model

    spec = registry.get_preset(name)
    model = build_preset_model(spec)
    command = f"keras-cvae train --preset {name} --dataset {spec.dataset}"
    metadata = {
        "preset": name,
        "description": spec.description,
        "intensity_levels": spec.intensity_levels,
        "architecture": spec.vae_arguments(),
        "dataset": {"name": spec.dataset, "train_split": "train", "test_split": "test"},
        "training": {"command": command, "epochs": spec.epochs, "batch_size": spec.batch_size,
                     "learning_rate": spec.learning_rate},
        "metrics": None,
    }
    card = "\n".join([
        f"# `{name}` (architecture only)",
        "",
        spec.description,
        "",
        f"No weights ship: `keras_cvae.VAE.from_preset(\"{name}\", load_weights=False)` gives the "
        f"architecture ({int(model.count_params()):,} parameters, input {tuple(spec.image_shape)}). "
        f"Train it with `{command}`.",
        "",
        "```json",
        json.dumps(spec.vae_arguments(), indent=2),
        "```",
        "",
    ])
    return save_to_preset(model, output_dir, metadata=metadata, overwrite=overwrite,
                          include_weights=False, files={"README.md": card})


if __name__ == "__main__":
    import sys

    write_architecture_preset(sys.argv[1], sys.argv[2], overwrite="--overwrite" in sys.argv)
