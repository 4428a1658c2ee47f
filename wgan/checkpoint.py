"""One ``tf.train.Checkpoint`` with everything resuming needs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from wgan.gan import WGAN


class TrainingState:
    """Both networks, both optimizers' slots and step counters, the latent seed, the fixed
    noise batch of the grids and the last completed epoch.

    ``tf.train.CheckpointManager`` writes the data files before it updates its index, so a
    run killed mid-save resumes from the previous epoch.
    """

    def __init__(self, model: WGAN, fixed_noise: np.ndarray, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.fixed_noise = tf.Variable(
            np.asarray(fixed_noise, np.float32), trainable=False, name="fixed_noise"
        )
        self.checkpoint = tf.train.Checkpoint(
            critic=model.critic,
            generator=model.generator,
            critic_optimizer=model.critic_optimizer,
            generator_optimizer=model.generator_optimizer,
            latent_seed=model.seed_generator.state,
            fixed_noise=self.fixed_noise,
            epoch=self.epoch,
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.directory, max_to_keep=2, checkpoint_name="last"
        )

    def save(self, epoch: int) -> str:
        self.epoch.assign(epoch)
        return self.manager.save(checkpoint_number=epoch)

    def restore(self) -> int:
        """Load the newest checkpoint, if any; return the epoch it completed (0 for none)."""
        latest = self.manager.latest_checkpoint
        if latest is None:
            return 0
        self.checkpoint.restore(latest).assert_existing_objects_matched()
        return int(self.epoch.numpy())

    @property
    def noise(self) -> np.ndarray:
        return self.fixed_noise.numpy()
