"""Wasserstein GANs on colour images with Keras 3 and TensorFlow."""

import os

# The library is written for the TensorFlow backend; choose it before Keras is first imported.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

# Importing these registers the custom objects, so `.keras` files load with no custom_objects.
from wgan.constraints import ClipConstraint  # noqa: E402
from wgan.convolution import Conv2D  # noqa: E402
from wgan.gan import WGAN  # noqa: E402
from wgan.losses import critic_loss, generator_loss, wasserstein_loss  # noqa: E402
from wgan.normalization import FusedBatchNormalization  # noqa: E402

__all__ = [
    "WGAN",
    "ClipConstraint",
    "Conv2D",
    "FusedBatchNormalization",
    "critic_loss",
    "generator_loss",
    "wasserstein_loss",
]
