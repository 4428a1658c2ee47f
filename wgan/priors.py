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


@keras.saving.register_keras_serializable(package="wgan")
class WithCodes(Prior):
    """InfoGAN's joint latent (Chen et al. 2016): noise from ``noise``, then a one-hot
    categorical code of ``categories`` values (uniform), then ``continuous`` codes uniform in
    [-1, 1]. The codes are the last ``categories + continuous`` entries of every vector."""

    name = "infogan"

    def __init__(self, noise: str = "normal", categories: int = 10, continuous: int = 2):
        if int(categories) < 2:
            raise ConfigError(f"--categories must be at least 2, got {categories}")
        if int(continuous) < 0:
            raise ConfigError(f"--continuous-codes must be 0 or more, got {continuous}")
        self.noise = make_prior(noise)
        self.categories = int(categories)
        self.continuous = int(continuous)

    @property
    def code_dim(self) -> int:
        return self.categories + self.continuous

    def sample(self, shape, seed) -> tf.Tensor:
        batch, width = shape[0], shape[1]
        seeds = [tf.random.experimental.stateless_fold_in(seed, k) for k in range(3)]
        noise = self.noise.sample((batch, width - self.code_dim), seeds[0])
        index = tf.random.stateless_uniform((batch,), seeds[1], 0, self.categories, "int32")
        category = tf.one_hot(index, self.categories)
        continuous = tf.random.stateless_uniform((batch, self.continuous), seeds[2], -1.0, 1.0)
        return tf.concat([noise, category, continuous], axis=-1)

    def sample_numpy(self, n: int, latent_dim: int, rng: np.random.Generator) -> np.ndarray:
        noise = self.noise.sample_numpy(n, latent_dim - self.code_dim, rng)
        index = rng.integers(0, self.categories, n)
        continuous = rng.uniform(-1.0, 1.0, (n, self.continuous))
        return self.with_codes(noise, index, continuous)

    def with_codes(self, noise: np.ndarray, category, continuous) -> np.ndarray:
        """Latent vectors from noise (n, D), category indices (n,) and continuous codes."""
        n = len(noise)
        one_hot = np.eye(self.categories, dtype=np.float32)[np.broadcast_to(category, (n,))]
        continuous = np.broadcast_to(np.asarray(continuous, np.float32), (n, self.continuous))
        return np.concatenate([noise, one_hot, continuous], axis=-1).astype(np.float32)

    def walk(self, a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
        split = len(a) - self.code_dim
        noise = self.noise.walk(a[:split], b[:split], t)
        codes = Prior.walk(self, a[split:], b[split:], t)
        return np.concatenate([noise, codes], axis=-1)

    def get_config(self) -> dict:
        return {"noise": self.noise.name, "categories": self.categories,
                "continuous": self.continuous}  # fmt: skip


def make_prior(name: str) -> Prior:
    """The prior called ``name`` on the command line (``--latent-dist``)."""
    if name not in PRIORS:
        raise ConfigError(f"--latent-dist must be one of {', '.join(PRIORS)}, got {name!r}")
    return PRIORS[name]()
