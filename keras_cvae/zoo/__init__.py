"""The preset zoo: the registry, finding and reading presets, writing and loading preset folders.

`keras_cvae.VAE.from_preset(...)` and `vae.save_to_preset(...)` are the way in;
this package sits below the models and never imports them. The registry and
the readers load without Keras; `preset_io` (writing and loading weights)
is imported on first use.
"""

from keras_cvae.zoo.preset_lookup import list_presets
from keras_cvae.zoo.preset_lookup import read_config
from keras_cvae.zoo.preset_lookup import read_metadata
from keras_cvae.zoo.preset_lookup import resolve_preset
from keras_cvae.zoo.registry import PRESETS

__all__ = ["PRESETS", "list_presets", "read_config", "read_metadata", "resolve_preset"]
