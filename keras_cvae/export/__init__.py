"""Export a `keras_cvae.VAE` for serving and devices: SavedModel, TFLite, ONNX.

One function per format, plus `export_all` (every format and the report),
`export_report` (sizes, differences from Keras, latencies) and
`export_for_keras` (what `VAE.export(filepath, format=...)`, Keras's
`Model.export`, calls). Every export ends with a manifest of its files'
SHA-256 sums (`keras_cvae.export.manifest`). The artifacts need neither Keras
nor keras_cvae; `export/` at the top of the repository holds standalone
scripts that verify and run them.
"""

from keras_cvae.export._signatures import SERVING_DEFAULT
from keras_cvae.export._signatures import SIGNATURES
from keras_cvae.export.onnx import export_onnx
from keras_cvae.export.saved_model import export_saved_model
from keras_cvae.export.tflite import QUANTIZATIONS
from keras_cvae.export.tflite import export_tflite
from keras_cvae.export.report import export_report
from keras_cvae.export.export_all import FORMATS
from keras_cvae.export.export_all import export_all
from keras_cvae.export.keras_export import KERAS_FORMATS
from keras_cvae.export.keras_export import export_for_keras
