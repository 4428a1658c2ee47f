"""SWD during training: the same latent batch against the same real subset at every evaluation.

Holding both sets (and the SWD's own random draws) fixed for the whole run, resumes included,
makes the values of different epochs comparable: what changes is the generator.
"""

from __future__ import annotations

import keras
import numpy as np

from wgan.generate import latent_noise, sample_images
from wgan.inputs import InputSpace
from wgan.metrics import sliced_wasserstein_distance

# Independent random streams of one run seed (the grids' noise uses the seed itself).
_REAL_STREAM, _NOISE_STREAM = 1, 2


class SWDEvaluator:
    """Score a generator against ``n`` real images drawn once from the training images."""

    def __init__(
        self,
        images: np.ndarray,
        n: int,
        latent_dim: int,
        distribution: str = "uniform",
        seed: int = 0,
        space: InputSpace | None = None,
        labels: np.ndarray | None = None,
    ):
        """``space`` and ``labels`` (one per image) for a conditional or InfoGAN generator:
        the fakes are then drawn for the labels of the real images they are compared with."""
        n = min(n, len(images))
        rng = np.random.default_rng([seed, _REAL_STREAM])
        # Sorted indices: a memmap is then read front to back.
        index = np.sort(rng.choice(len(images), size=n, replace=False))
        self.real = np.asarray(images[index])
        noise_rng = np.random.default_rng([seed, _NOISE_STREAM])
        if space is None:
            self.noise = latent_noise(n, latent_dim, distribution, noise_rng)
        elif space.conditional:
            self.noise = space.inputs(space.latent(n, noise_rng), labels[index])
        else:
            self.noise = space.latent(n, noise_rng)
        self.seed = seed

    def __call__(self, generator: keras.Model, batch_size: int = 64) -> float:
        """The average SWD (x 1e3) over the pyramid levels; lower is better."""
        fake = sample_images(generator, self.noise, batch_size)
        return sliced_wasserstein_distance(fake, self.real, seed=self.seed)["swd_avg"]
