"""Data only: the keras_cvae preset zoo, installed as the `keras_cvae_zoo` package.

One folder per preset (`config.json`, `metadata.json`, `model.weights.h5` when
pretrained, `README.md`, images); registered in `keras_cvae/zoo/registry.py`.
"""
