"""GANs on images with Keras 3 and TensorFlow: the Wasserstein GAN first, and the family around
it (WGAN-GP, DCGAN, hinge, balanced training; the conditional GAN, AC-GAN, InfoGAN and the
semi-supervised GAN; Pix2Pix and CycleGAN) as parts of one training step."""

import os

# The library is written for the TensorFlow backend; choose it before Keras is first imported.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.2.0"

# Importing these registers the custom objects, so `.keras` files load with no custom_objects.
from wgan.augment import DiffAugment  # noqa: E402
from wgan.conditioning import Conditioning, LogSumExp  # noqa: E402
from wgan.constraints import ClipConstraint  # noqa: E402
from wgan.convolution import Conv2D  # noqa: E402
from wgan.ema import EMA  # noqa: E402
from wgan.gan import GAN  # noqa: E402
from wgan.heads import AuxiliaryClassifier, MutualInformation, SemiSupervised  # noqa: E402
from wgan.image_pool import ImagePool  # noqa: E402
from wgan.losses import Hinge, LeastSquares, NonSaturating, Wasserstein  # noqa: E402
from wgan.normalization import FusedBatchNormalization, LayerNormalization  # noqa: E402
from wgan.penalties import R1, GradientPenalty, Penalty, WeightClip  # noqa: E402
from wgan.priors import Normal, Uniform, WithCodes  # noqa: E402
from wgan.schedules import Fixed, LossMargin, Warmup  # noqa: E402
from wgan.spectral import Dense  # noqa: E402
from wgan.translation import (  # noqa: E402
    CycleConsistency,
    Identity,
    LinearDecay,
    PairedL1,
    Translator,
)
from wgan.translators import ReflectionPadding2D  # noqa: E402

__all__ = [
    "EMA",
    "AuxiliaryClassifier",
    "Conditioning",
    "LogSumExp",
    "MutualInformation",
    "SemiSupervised",
    "WithCodes",
    "CycleConsistency",
    "Identity",
    "ImagePool",
    "LinearDecay",
    "PairedL1",
    "ReflectionPadding2D",
    "Translator",
    "GAN",
    "R1",
    "ClipConstraint",
    "Conv2D",
    "Dense",
    "DiffAugment",
    "Fixed",
    "FusedBatchNormalization",
    "GradientPenalty",
    "Hinge",
    "LayerNormalization",
    "LeastSquares",
    "LossMargin",
    "NonSaturating",
    "Normal",
    "Penalty",
    "Uniform",
    "Warmup",
    "Wasserstein",
    "WeightClip",
]
