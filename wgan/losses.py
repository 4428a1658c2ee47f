"""The Wasserstein loss and the critic and generator objectives written with it.

Labels follow the common Keras recipe: -1 for real images and +1 for fakes, so that
``mean(label * score)`` is the quantity each side minimises.
"""

import keras
from keras import ops

REAL_LABEL = -1.0
FAKE_LABEL = 1.0


@keras.saving.register_keras_serializable(package="wgan")
def wasserstein_loss(y_true, y_pred):
    """``mean(y_true * y_pred)``: with -1 for real and +1 for fake it estimates -W."""
    y_true = ops.cast(y_true, y_pred.dtype)
    return ops.mean(y_true * y_pred)


def critic_loss(real_scores, fake_scores):
    """``mean(fake) - mean(real)``: the critic raises real images' scores and lowers fakes'."""
    return wasserstein_loss(REAL_LABEL, real_scores) + wasserstein_loss(FAKE_LABEL, fake_scores)


def generator_loss(fake_scores):
    """``-mean(fake)``: the generator wants the critic to score its images as if they were real."""
    return wasserstein_loss(REAL_LABEL, fake_scores)
