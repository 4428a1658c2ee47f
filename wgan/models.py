"""The critic and generator networks (DCGAN layout, as in the WGAN paper's experiments)."""

from __future__ import annotations

import keras
from keras import layers

from wgan.constraints import ClipConstraint
from wgan.convolution import Conv2D
from wgan.errors import ConfigError
from wgan.normalization import FusedBatchNormalization
from wgan.shapes import CHANNELS, base_size, n_blocks


def _check_channels(channels: int) -> None:
    if channels not in CHANNELS:
        raise ConfigError(f"channels must be 1, 3 or 4, got {channels}")


def build_critic(
    image_size: int = 64,
    channels: int = 3,
    clip_value: float = 0.01,
    filters: int = 64,
    leaky_slope: float = 0.2,
    init_stddev: float = 0.02,
    dtype: str | None = None,
) -> keras.Model:
    """Conv(4, stride 2) -> BatchNorm (not in the first block) -> LeakyReLU, then a linear score.

    Every trainable weight (kernels, biases, BatchNorm scale and offset) carries a
    :class:`ClipConstraint`, as the paper's algorithm clips all critic parameters. The output is
    linear: a critic scores, it does not classify, so a sigmoid would break the
    Wasserstein estimate. ``dtype`` is a Keras dtype policy such as ``"mixed_bfloat16"``; the
    score stays float32.
    """
    _check_channels(channels)
    blocks = n_blocks(image_size)
    clip = ClipConstraint(clip_value)
    init = keras.initializers.RandomNormal(0.0, init_stddev)
    inputs = keras.Input((image_size, image_size, channels), name="image")
    x = inputs
    for i in range(blocks):
        x = Conv2D(
            min(filters * 2**i, 8 * filters),
            4,
            strides=2,
            padding="same",
            kernel_initializer=init,
            kernel_constraint=clip,
            bias_constraint=clip,
            dtype=dtype,
            name=f"conv_{i}",
        )(x)
        if i > 0:
            x = FusedBatchNormalization(
                gamma_initializer=keras.initializers.RandomNormal(1.0, init_stddev),
                gamma_constraint=clip,
                beta_constraint=clip,
                dtype=dtype,
                name=f"bn_{i}",
            )(x)
        x = layers.LeakyReLU(leaky_slope, dtype=dtype, name=f"lrelu_{i}")(x)
    x = layers.Flatten(dtype=dtype, name="flatten")(x)
    score = layers.Dense(
        1,
        kernel_initializer=init,
        kernel_constraint=clip,
        bias_constraint=clip,
        dtype="float32",
        name="score",
    )(x)
    critic = keras.Model(inputs, score, name="critic")
    clip_weights(critic)
    return critic


def clip_weights(model: keras.Model) -> None:
    """Apply each weight's constraint once: the paper clips before the first critic update too."""
    for w in model.trainable_weights:
        if w.constraint is not None:
            w.assign(w.constraint(w))


def build_generator(
    image_size: int = 64,
    channels: int = 3,
    latent_dim: int = 100,
    filters: int = 64,
    leaky_slope: float = 0.2,
    init_stddev: float = 0.02,
    dtype: str | None = None,
) -> keras.Model:
    """Latent vector -> Dense -> 4x4 (or 7x7) map -> (UpSampling + Conv + BN + LeakyReLU)* -> tanh.

    Widths mirror the critic (8*filters at the smallest map, halving per block), and the tanh
    output matches real images scaled to [-1, 1]. The images come out float32 under any policy.
    """
    _check_channels(channels)
    if latent_dim < 1:
        raise ConfigError(f"latent_dim must be at least 1, got {latent_dim}")
    blocks = n_blocks(image_size)
    base = base_size(image_size)
    init = keras.initializers.RandomNormal(0.0, init_stddev)
    gamma_init = keras.initializers.RandomNormal(1.0, init_stddev)
    width = filters * 2 ** (blocks - 1)
    inputs = keras.Input((latent_dim,), name="latent")
    x = layers.Dense(base * base * width, kernel_initializer=init, dtype=dtype, name="project")(
        inputs
    )
    x = layers.Reshape((base, base, width), dtype=dtype, name="reshape")(x)
    x = FusedBatchNormalization(gamma_initializer=gamma_init, dtype=dtype, name="bn_project")(x)
    x = layers.LeakyReLU(leaky_slope, dtype=dtype, name="lrelu_project")(x)
    for i in range(blocks):
        x = layers.UpSampling2D(2, dtype=dtype, name=f"up_{i}")(x)
        x = layers.Conv2D(
            max(width // 2 ** (i + 1), 1),
            3,
            padding="same",
            kernel_initializer=init,
            dtype=dtype,
            name=f"conv_{i}",
        )(x)
        x = FusedBatchNormalization(gamma_initializer=gamma_init, dtype=dtype, name=f"bn_{i}")(x)
        x = layers.LeakyReLU(leaky_slope, dtype=dtype, name=f"lrelu_{i}")(x)
    x = layers.Conv2D(
        channels, 3, padding="same", kernel_initializer=init, dtype=dtype, name="to_image"
    )(x)
    images = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs, images, name="generator")
