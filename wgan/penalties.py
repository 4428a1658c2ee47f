"""Ways of keeping the critic in check: weight clipping, the gradient penalty, R1, or nothing.

A penalty takes part in every critic update: ``loss`` adds a term to the critic's objective
(inside its gradient tape) and ``after_update`` acts on the weights once the optimizer has
stepped. ``per_sample`` penalties differentiate each sample's score with respect to that sample,
which batch statistics would mix up: the GAN refuses them on a critic with batch (or Keras')
normalisation.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from wgan.errors import ConfigError
from wgan.parts import Part
from wgan.randomness import draw_seed

# Inside the square root of a gradient norm, so that a zero gradient has a finite derivative.
NORM_EPSILON = 1e-12


class Penalty(Part):
    """No penalty: the base of the others, and the choice for hinge and DCGAN losses."""

    name = "none"
    per_sample = False

    def loss(self, critic, real, fake):
        """(term added to the critic loss or None, metrics) for one critic update.

        ``critic`` maps images to scores in training mode; ``real`` and ``fake`` are the
        images the critic just scored.
        """
        return None, {}

    def after_update(self, critic: keras.Model) -> None:
        """Act on the critic's weights after each optimizer step."""
        return None


keras.saving.register_keras_serializable(package="wgan", name="NoPenalty")(Penalty)


@keras.saving.register_keras_serializable(package="wgan")
class WeightClip(Penalty):
    """The WGAN paper's clipping: every critic parameter into [-c, c] after each update.

    "Every parameter" as in Algorithm 1: kernels, biases and BatchNorm scales and offsets. The
    weights are clipped once before the first update too, as the official code clamps at the
    start of every critic step.
    """

    name = "clip"

    def __init__(self, clip_value: float = 0.01):
        if not clip_value > 0:
            raise ConfigError(f"--clip must be a positive number, got {clip_value}")
        self.clip_value = float(clip_value)

    def build(self, model) -> None:
        self.after_update(model.critic)

    def after_update(self, critic: keras.Model) -> None:
        for variable in critic.trainable_variables:
            variable.assign(ops.clip(variable, -self.clip_value, self.clip_value))

    def get_config(self) -> dict:
        return {"clip_value": self.clip_value}


class _WeightedPenalty(Penalty):
    per_sample = True
    flag = "--gp-weight"

    def __init__(self, weight: float = 10.0):
        if not weight > 0:
            raise ConfigError(f"{self.flag} must be a positive number, got {weight}")
        self.weight = float(weight)

    def get_config(self) -> dict:
        return {"weight": self.weight}


def _input_gradient(critic, images):
    """d sum(scores) / d images: each sample's own gradient, as no op mixes the samples."""
    with tf.GradientTape() as tape:
        tape.watch(images)
        scores = critic(images)
    return tape.gradient(scores, images)


def _squared_norms(gradients):
    return ops.sum(ops.square(gradients), axis=tuple(range(1, len(gradients.shape))))


@keras.saving.register_keras_serializable(package="wgan")
class GradientPenalty(_WeightedPenalty):
    """WGAN-GP (Gulrajani et al. 2017): λ·E[(‖∇D(x̂)‖₂ − 1)²] on x̂ = α·real + (1 − α)·fake.

    α is drawn uniform in [0, 1] per sample (one per image, shared by its pixels), as in the
    paper's Algorithm 1; the norm runs over all of a sample's axes (H, W, C), with
    ``NORM_EPSILON`` inside the square root so a zero gradient gives a finite penalty gradient.
    The metric ``gradient_penalty`` is the unweighted mean, comparable across λ; the critic loss
    includes λ times it.
    """

    name = "gp"
    metrics = ("gradient_penalty",)
    labels = {"gradient_penalty": "gradient penalty"}

    def build(self, model) -> None:
        seed = None if model.seed is None else model.seed + 1
        self.seed_generator = keras.random.SeedGenerator(seed, name="penalty_seed")

    def loss(self, critic, real, fake):
        shape = (tf.shape(real)[0],) + (1,) * (len(real.shape) - 1)
        alpha = tf.random.stateless_uniform(shape, draw_seed(self.seed_generator), 0.0, 1.0)
        mixed = alpha * real + (1.0 - alpha) * fake
        norms = ops.sqrt(_squared_norms(_input_gradient(critic, mixed)) + NORM_EPSILON)
        penalty = ops.mean(ops.square(norms - 1.0))
        return self.weight * penalty, {"gradient_penalty": penalty}

    def state(self) -> dict:
        return {"penalty_seed": self.seed_generator.state}


@keras.saving.register_keras_serializable(package="wgan")
class R1(_WeightedPenalty):
    """R1 (Mescheder et al. 2018): γ/2·E[‖∇D(x)‖₂²] on real images only.

    Computed at every critic update (not lazily every 16, as StyleGAN2 does), with a forward
    pass of its own over the real batch. The metric ``r1_penalty`` is the unweighted mean.
    """

    name = "r1"
    metrics = ("r1_penalty",)
    labels = {"r1_penalty": "R1 penalty"}

    def loss(self, critic, real, fake):
        penalty = ops.mean(_squared_norms(_input_gradient(critic, real)))
        return 0.5 * self.weight * penalty, {"r1_penalty": penalty}


PENALTIES: dict[str, type[Penalty]] = {
    cls.name: cls for cls in (WeightClip, GradientPenalty, R1, Penalty)
}


def make_penalty(name: str, clip: float = 0.01, weight: float = 10.0) -> Penalty:
    """The penalty called ``name`` on the command line (``--penalty``)."""
    if name == WeightClip.name:
        return WeightClip(clip)
    if name in (GradientPenalty.name, R1.name):
        return PENALTIES[name](weight)
    if name == Penalty.name:
        return Penalty()
    raise ConfigError(f"--penalty must be one of {', '.join(PENALTIES)}, got {name!r}")
