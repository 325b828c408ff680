import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow turns its oneDNN kernels on by default on CPUs with AVX-512, and
# MirroredStrategy over logical CPUs refuses them (keras_cvae.distribute
# explains why); the replica tests need it. Set before TensorFlow is imported,
# here and in every process the tests start.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
