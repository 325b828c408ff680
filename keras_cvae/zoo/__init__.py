"""The preset zoo: registered presets, `from_preset`, `save_to_preset`, training a preset.

`keras_cvae.VAE.from_preset(...)` and `vae.save_to_preset(...)` delegate here
(lazily: the models never import the zoo at import time).
"""

from keras_cvae.zoo.preset_io import from_preset
from keras_cvae.zoo.preset_io import read_metadata
from keras_cvae.zoo.preset_io import save_to_preset
from keras_cvae.zoo.registry import PRESETS
from keras_cvae.zoo.registry import Preset
from keras_cvae.zoo.registry import list_presets

__all__ = ["PRESETS", "Preset", "from_preset", "list_presets", "read_metadata", "save_to_preset"]
