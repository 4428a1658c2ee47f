"""Differentiable augmentation (DiffAugment) for data-efficient GAN training.

Zhao, Liu, Lin, Zhu & Han, "Differentiable Augmentation for Data-Efficient GAN Training",
NeurIPS 2020. With little data the critic memorises the real images and its feedback to the
generator degrades. Augmenting only the real images would teach the generator to produce
augmented images; augmenting real and fake images alike, in both the critic and the generator
updates, with transforms the gradient can pass through, keeps the critic from memorising
while the generator still matches the unaugmented distribution. Every call draws afresh, so
real and fake batches, and successive updates, get independent transforms.

The transforms follow the official code (mit-han-lab/data-efficient-gans, ``DiffAugment_tf.py``)
on channels-last images in [-1, 1], one random draw per sample:

- ``color``: brightness ``x + (u - 0.5)``, then saturation ``(x - m_c) * 2u + m_c`` (``m_c``
  the per-pixel channel mean), then contrast ``(x - m) * (u + 0.5) + m`` (``m`` the sample mean);
- ``translation``: integer shifts in [-s, s] per axis, ``s = int(size / 8 + 0.5)``, zeros moving in;
- ``cutout``: a zeroed square of side ``int(size / 2 + 0.5)``, centred uniformly, clipped at
  the borders.

Where this module differs from the official code:

- Draws are stateless (``tf.random.stateless_*``) from a seed passed in, each draw with its own
  sub-seed (the seed with a fixed tag folded in), so a seeded run repeats exactly and a
  checkpoint can hold the generator state; the official code uses the global stateful RNG.
- The cutout mask is built by comparing pixel coordinates with the square's bounds instead of
  ``scatter_nd`` over clamped indices; the two masks are identical.
- Arithmetic runs in float32 (float64 stays float64) and the result is cast back to the input
  dtype, so bfloat16 batches under a mixed-precision policy work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import tensorflow as tf

from wgan.errors import ConfigError
from wgan.parts import Part
from wgan.randomness import draw_seed

POLICIES = ("color", "translation", "cutout")
OFF_WORDS = ("", "off", "none")
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5

# Folded into the batch seed to give every random draw its own independent sub-seed.
_BRIGHTNESS, _SATURATION, _CONTRAST, _SHIFT_Y, _SHIFT_X, _CUTOUT_Y, _CUTOUT_X = range(7)


def parse_policy(policy: str) -> tuple[str, ...]:
    """The words of a ``--augment`` value, deduplicated, in ``POLICIES`` order.

    ``"translation, color"`` -> ``("color", "translation")``; ``""``, ``"off"`` and ``"none"``
    -> ``()``. An unknown word raises ``ConfigError`` with a one-line message.
    """
    words = {word.strip().lower() for word in str(policy).split(",")}
    words.discard("")
    if words <= set(OFF_WORDS):
        return ()
    valid = ", ".join(POLICIES)
    for word in sorted(words):
        if word in OFF_WORDS:
            raise ConfigError(f"--augment: {word!r} cannot be combined with {valid}")
        if word not in POLICIES:
            raise ConfigError(
                f"--augment: unknown policy {word!r}; choose from {valid} (comma-separated) or off"
            )
    return tuple(word for word in POLICIES if word in words)


def _sub_seed(seed: tf.Tensor, tag: int) -> tf.Tensor:
    return tf.random.experimental.stateless_fold_in(seed, tag)


def _per_sample_uniform(images: tf.Tensor, seed: tf.Tensor, tag: int) -> tf.Tensor:
    """U[0, 1) per sample, shaped (N, 1, 1, 1) to broadcast over a batch."""
    shape = tf.stack([tf.shape(images)[0], 1, 1, 1])
    return tf.random.stateless_uniform(shape, _sub_seed(seed, tag), dtype=images.dtype)


def _per_sample_int(images: tf.Tensor, seed: tf.Tensor, tag: int, low: int, high: int):
    """Integers uniform in [low, high) per sample, shape (N,)."""
    shape = tf.shape(images)[:1]
    return tf.random.stateless_uniform(
        shape, _sub_seed(seed, tag), minval=low, maxval=high, dtype=tf.int32
    )


def rand_brightness(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Add one offset in [-0.5, 0.5) per sample."""
    return images + (_per_sample_uniform(images, seed, _BRIGHTNESS) - 0.5)


def rand_saturation(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Scale each pixel's deviation from its channel mean by one factor in [0, 2) per sample."""
    mean = tf.reduce_mean(images, axis=3, keepdims=True)
    return (images - mean) * (_per_sample_uniform(images, seed, _SATURATION) * 2.0) + mean


def rand_contrast(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Scale each sample's deviation from its mean by one factor in [0.5, 1.5)."""
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    return (images - mean) * (_per_sample_uniform(images, seed, _CONTRAST) + 0.5) + mean


def _shift_axis(images: tf.Tensor, shift: tf.Tensor, axis: int) -> tf.Tensor:
    """Output index i takes input index i + shift (per sample) along ``axis``; zeros outside."""
    size = images.shape[axis]
    padding = [[0, 0]] * 4
    padding[axis] = [1, 1]
    padded = tf.pad(images, padding)
    indices = tf.range(size, dtype=tf.int32)[tf.newaxis, :] + shift[:, tf.newaxis] + 1
    indices = tf.clip_by_value(indices, 0, size + 1)
    return tf.gather(padded, indices, axis=axis, batch_dims=1)


def rand_translation(
    images: tf.Tensor, seed: tf.Tensor, ratio: float = TRANSLATION_RATIO
) -> tf.Tensor:
    """Shift each sample by integers in [-s, s] along H and W independently, zeros moving in."""
    height, width = images.shape[1], images.shape[2]
    shift_y, shift_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    dy = _per_sample_int(images, seed, _SHIFT_Y, -shift_y, shift_y + 1)
    dx = _per_sample_int(images, seed, _SHIFT_X, -shift_x, shift_x + 1)
    return _shift_axis(_shift_axis(images, dy, axis=1), dx, axis=2)


def rand_cutout(images: tf.Tensor, seed: tf.Tensor, ratio: float = CUTOUT_RATIO) -> tf.Tensor:
    """Zero one square per sample, side ``int(size * ratio + 0.5)``, clipped at the borders."""
    height, width = images.shape[1], images.shape[2]
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    # The square's centre, as in the official code: [0, size + 1) for an even side.
    top = _per_sample_int(images, seed, _CUTOUT_Y, 0, height + (1 - size_y % 2)) - size_y // 2
    left = _per_sample_int(images, seed, _CUTOUT_X, 0, width + (1 - size_x % 2)) - size_x // 2
    rows = tf.range(height, dtype=tf.int32)[tf.newaxis, :]
    cols = tf.range(width, dtype=tf.int32)[tf.newaxis, :]
    in_rows = (rows >= top[:, tf.newaxis]) & (rows < top[:, tf.newaxis] + size_y)
    in_cols = (cols >= left[:, tf.newaxis]) & (cols < left[:, tf.newaxis] + size_x)
    cut = in_rows[:, :, tf.newaxis] & in_cols[:, tf.newaxis, :]
    mask = 1.0 - tf.cast(cut, images.dtype)
    return images * mask[:, :, :, tf.newaxis]


AUGMENT_FNS: dict[str, tuple[Callable[[tf.Tensor, tf.Tensor], tf.Tensor], ...]] = {
    "color": (rand_brightness, rand_saturation, rand_contrast),
    "translation": (rand_translation,),
    "cutout": (rand_cutout,),
}


def diff_augment(images: tf.Tensor, policy: Sequence[str], seed: tf.Tensor) -> tf.Tensor:
    """Apply the transforms of ``policy`` in order to a batch (N, H, W, C) in [-1, 1].

    ``policy`` is a sequence of ``POLICIES`` words (a string is parsed with ``parse_policy``);
    ``seed`` is a shape-[2] integer tensor. The same seed gives the same output; the output has
    the input's dtype, and gradients flow from it to ``images``. (TensorFlow's stateless float
    draws differ between XLA-compiled and plain execution, so a seed repeats within one mode.)
    """
    if isinstance(policy, str):
        policy = parse_policy(policy)
    for word in policy:
        if word not in AUGMENT_FNS:
            raise ConfigError(f"unknown augmentation policy {word!r}; choose from {POLICIES}")
    images = tf.convert_to_tensor(images)
    if not policy:
        return images
    if images.shape.rank != 4 or None in images.shape[1:]:
        raise ValueError(
            f"diff_augment needs images (N, H, W, C) with static H, W, C, got {images.shape}"
        )
    if not images.dtype.is_floating:
        raise TypeError(f"diff_augment needs float images in [-1, 1], got {images.dtype.name}")
    seed = tf.convert_to_tensor(seed)
    compute = tf.float64 if images.dtype == tf.float64 else tf.float32
    x = tf.cast(images, compute)
    for word in policy:
        for transform in AUGMENT_FNS[word]:
            x = transform(x, seed)
    return tf.cast(x, images.dtype)


@keras.saving.register_keras_serializable(package="wgan")
class DiffAugment(Part):
    """The augmentation the GAN applies to every batch the critic sees, real and fake.

    ``build(model)`` creates the seed generator; each call draws a fresh seed from it, so real
    and fake batches get independent transforms and a seeded run repeats exactly.
    """

    name = "augment"

    def __init__(self, policy: str = "color,translation,cutout"):
        self.policy = parse_policy(policy)
        self.seed_generator: keras.random.SeedGenerator | None = None

    def build(self, model) -> None:
        """Create the seed generator, from the seed of ``model`` (a ``wgan.gan.GAN``; its seed
        None: a random start)."""
        seed = None if model.seed is None else model.seed + 2
        self.seed_generator = keras.random.SeedGenerator(seed, name="augment_seed")

    def __call__(self, images: tf.Tensor) -> tf.Tensor:
        if not self.policy:
            return images
        if self.seed_generator is None:
            raise RuntimeError("DiffAugment.build(model) must be called before augmenting")
        return diff_augment(images, self.policy, draw_seed(self.seed_generator))

    def state(self) -> dict:
        """Variables a checkpoint must hold for an exact resume."""
        if self.seed_generator is None:
            raise RuntimeError("DiffAugment.build(model) must be called before state()")
        return {"augment_seed": self.seed_generator.state}

    def get_config(self) -> dict:
        return {"policy": ",".join(self.policy)}

    def __repr__(self) -> str:
        return f"DiffAugment(policy={','.join(self.policy) or 'off'!r})"
