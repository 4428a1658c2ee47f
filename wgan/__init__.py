"""Wasserstein GANs on colour images with Keras 3 and TensorFlow."""

import os

# The library is written for the TensorFlow backend; choose it before Keras is first imported.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
