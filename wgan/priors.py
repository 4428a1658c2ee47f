"""The latent prior: where the generator's input noise comes from, in TensorFlow and in numpy.

Training draws in TensorFlow (stateless, from the model's seed generator, so a seeded run
repeats); grids, evaluations and ``generate.py`` draw the same distribution in numpy. Both live on
one object, as does the way to walk between two latent points, so sampling exists once.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from wgan.errors import ConfigError
from wgan.parts import Part


class Prior(Part):

    def sample(self, shape, seed) -> tf.Tensor:
        """Stateless float32 draws of ``shape`` from an int64 seed pair."""
        raise NotImplementedError

    def sample_numpy(self, n: int, latent_dim: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` float32 latent vectors drawn with numpy's ``rng``."""
        raise NotImplementedError

    def walk(self, a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Points from ``a`` (t = 0) towards ``b`` (t = 1) that stay typical of the prior."""
        return a[None] * (1.0 - t[:, None]) + b[None] * t[:, None]


@keras.saving.register_keras_serializable(package="wgan")
class Uniform(Prior):
    """Uniform in [0, 1] per coordinate: the original WGAN code's noise. Straight lines between
    two points stay inside the cube, so walks are linear."""

    name = "uniform"

    def sample(self, shape, seed) -> tf.Tensor:
        return tf.random.stateless_uniform(shape, seed, 0.0, 1.0)

    def sample_numpy(self, n: int, latent_dim: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(0.0, 1.0, (n, latent_dim)).astype(np.float32)


@keras.saving.register_keras_serializable(package="wgan")
class Normal(Prior):
    """Standard normal. Walks follow great circles (slerp): a straight line between two typical
    points passes through atypically short vectors near the middle."""

    name = "normal"

    def sample(self, shape, seed) -> tf.Tensor:
        return tf.random.stateless_normal(shape, seed)

    def sample_numpy(self, n: int, latent_dim: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, latent_dim)).astype(np.float32)

    def walk(self, a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
        cos = np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))
        omega = np.arccos(np.clip(cos, -1.0, 1.0))
        if np.sin(omega) < 1e-6:
            return super().walk(a, b, t)
        wa = np.sin((1.0 - t) * omega) / np.sin(omega)
        wb = np.sin(t * omega) / np.sin(omega)
        return wa[:, None] * a[None] + wb[:, None] * b[None]


PRIORS: dict[str, type[Prior]] = {cls.name: cls for cls in (Uniform, Normal)}


def make_prior(name: str) -> Prior:
    """The prior called ``name`` on the command line (``--latent-dist``)."""
    if name not in PRIORS:
        raise ConfigError(f"--latent-dist must be one of {', '.join(PRIORS)}, got {name!r}")
    return PRIORS[name]()
