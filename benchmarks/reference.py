"""The common Keras WGAN tutorial loop, kept as the yardstick for the project's training step.

Per generator iteration it does what the blog-post recipe does: for each of n_critic critic
updates, ``critic.train_on_batch`` on a real batch and again on a fake batch made by
``generator.predict``; then ``composite.train_on_batch`` on latent vectors. Batch sizes match
the project's step (B real and B fake images per critic update, B latent vectors per generator
update) and the networks are the project's own, so both do the same convolution and dense work
(the same FLOP count). Two things differ, both as the tutorial has them: each critic update is
two optimizer steps (one per half), and in the composite the frozen critic's BatchNorm uses its
moving statistics (Keras runs a non-trainable BatchNorm in inference mode), where the project's
generator update scores fakes with batch statistics.

Keras 3 traces each ``train_on_batch`` function once, with the trainable weights of that
moment. The tutorial's one-time ``critic.trainable = False`` (before building the composite)
would therefore give the critic a training function with no weights at all: it would silently
never learn. So the flag is switched on before every critic update and off before every
composite update, which makes the first trace of each function see the right weights.
"""

from __future__ import annotations

import keras
import numpy as np

from wgan.constraints import ClipConstraint
from wgan.losses import FAKE_LABEL, REAL_LABEL, wasserstein_loss
from wgan.models import build_critic, build_generator


class TutorialWGAN:
    """Critic, generator and composite compiled separately, trained with ``train_on_batch``."""

    def __init__(
        self,
        image_size: int = 64,
        channels: int = 3,
        latent_dim: int = 100,
        n_critic: int = 5,
        lr: float = 5e-5,
        filters: int = 64,
        seed: int = 0,
    ):
        self.latent_dim = latent_dim
        self.n_critic = n_critic
        self.rng = np.random.default_rng(seed)
        self.critic = build_critic(image_size, channels, filters=filters)
        for weight in self.critic.trainable_weights:  # the tutorial clips through constraints
            weight.constraint = ClipConstraint(0.01)
        self.generator = build_generator(image_size, channels, latent_dim, filters=filters)
        self.critic.compile(optimizer=keras.optimizers.RMSprop(lr), loss=wasserstein_loss)
        self.composite = keras.Sequential([self.generator, self.critic], name="composite")
        self.composite.compile(optimizer=keras.optimizers.RMSprop(lr), loss=wasserstein_loss)

    def latent(self, batch: int) -> np.ndarray:
        return self.rng.uniform(0.0, 1.0, (batch, self.latent_dim)).astype("float32")

    def train_critic(self, real: np.ndarray) -> float:
        """One critic update: a real batch, then a fake batch, each its own ``train_on_batch``."""
        batch = len(real)
        self.critic.trainable = True
        real_loss = self.critic.train_on_batch(real, np.full((batch, 1), REAL_LABEL, "float32"))
        fake = self.generator.predict(self.latent(batch), batch_size=batch, verbose=0)
        fake_loss = self.critic.train_on_batch(fake, np.full((batch, 1), FAKE_LABEL, "float32"))
        return float(real_loss) + float(fake_loss)

    def train_generator(self, batch: int) -> float:
        self.critic.trainable = False
        target = np.full((batch, 1), REAL_LABEL, "float32")
        return float(self.composite.train_on_batch(self.latent(batch), target))

    def iteration(self, real_batches: np.ndarray) -> tuple[float, float]:
        """One generator iteration on float32 reals in [-1, 1], shaped (n_critic, B, H, W, C)."""
        critic_losses = [self.train_critic(real) for real in real_batches[: self.n_critic]]
        return float(np.mean(critic_losses)), self.train_generator(real_batches.shape[1])
