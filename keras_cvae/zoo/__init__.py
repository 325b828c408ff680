"""The preset zoo: registered presets, `from_preset`, `save_to_preset`, training a preset.

`keras_cvae.VAE.from_preset(...)` and `vae.save_to_preset(...)` delegate here
(lazily: the models never import the zoo at import time). The registry and
`read_metadata` load without Keras; the rest is imported on first use.
"""

import importlib

from keras_cvae.zoo.preset_lookup import read_metadata
from keras_cvae.zoo.preset_lookup import resolve_preset
from keras_cvae.zoo.registry import PRESETS
from keras_cvae.zoo.registry import Preset
from keras_cvae.zoo.registry import list_presets

_LAZY = {"from_preset": "keras_cvae.zoo.preset_io", "save_to_preset": "keras_cvae.zoo.preset_io"}

__all__ = ["PRESETS", "Preset", "from_preset", "list_presets", "read_metadata", "resolve_preset",
           "save_to_preset"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'keras_cvae.zoo' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
