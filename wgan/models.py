"""The critic and generator networks (DCGAN layout, as in the WGAN paper's experiments)."""

from __future__ import annotations

import keras
from keras import layers

from wgan.conditioning import (
    CLASSES,
    SCORE,
    Conditioning,
    LogSumExp,
    head_output,
    join_label_maps,
    join_latent,
    label_input,
    project_label,
)
from wgan.convolution import Conv2D
from wgan.errors import ConfigError
from wgan.normalization import LayerNormalization, batch_norm
from wgan.shapes import CHANNELS, base_size, n_blocks
from wgan.spectral import Dense

NORMS = ("batch", "layer", "none")


def _check_channels(channels: int) -> None:
    if channels not in CHANNELS:
        raise ConfigError(f"channels must be 1, 3 or 4, got {channels}")


def _check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ConfigError(f"--norm must be one of {', '.join(NORMS)}, got {norm!r}")


def _normalization(norm: str, name: str, init_stddev: float, dtype):
    """The normalisation layer after a convolution, or None for ``norm="none"``.

    "batch" is the fused batch norm (DCGAN's choice, and the WGAN paper's); "layer" is this
    package's layer norm, whose second derivatives are exact, for gradient-penalty critics.
    """
    if norm == "batch":
        return batch_norm(keras.initializers.RandomNormal(1.0, init_stddev), dtype, f"bn_{name}")
    if norm == "layer":
        return LayerNormalization(dtype=dtype, name=f"ln_{name}")
    return None


def build_critic(
    image_size: int = 64,
    channels: int = 3,
    filters: int = 64,
    leaky_slope: float = 0.2,
    init_stddev: float = 0.02,
    norm: str = "batch",
    spectral_norm: bool = False,
    dtype: str | None = None,
    conditioning: Conditioning | None = None,
) -> keras.Model:
    """Conv(4, stride 2) -> norm (not in the first block) -> LeakyReLU, then a linear score.

    The output is linear: a critic scores, and the losses that need a probability take the
    score as a logit, so a sigmoid here would break the Wasserstein estimate and the log-loss's
    precision alike. ``norm`` is "batch", "layer" or "none" (a gradient penalty needs "layer" or
    "none"); ``spectral_norm`` divides every kernel by its largest singular value (Miyato et al.
    2018). Clipping is not built in: it is a penalty part (``wgan.penalties.WeightClip``).
    ``dtype`` is a Keras dtype policy such as ``"mixed_bfloat16"``; the score stays float32.

    With a ``conditioning`` other than the plain one, the critic takes ``[image, label]`` when
    it is told the label, and returns a dict: ``score`` plus the extra outputs it names.
    """
    _check_channels(channels)
    _check_norm(norm)
    cond = conditioning or Conditioning()
    blocks = n_blocks(image_size)
    init = keras.initializers.RandomNormal(0.0, init_stddev)
    sn = {"spectral_norm": True} if spectral_norm else {}
    image = keras.Input((image_size, image_size, channels), name="image")
    x, inputs = image, image
    if cond.critic_join:
        labels = label_input(cond.kind, cond.n_labels)
        inputs = [image, labels]
        if cond.critic_join == "maps":
            x = join_label_maps(image, labels, cond.kind, cond.n_labels, image_size, dtype)
    for i in range(blocks):
        x = Conv2D(
            min(filters * 2**i, 8 * filters),
            4,
            strides=2,
            padding="same",
            kernel_initializer=init,
            dtype=dtype,
            name=f"conv_{i}",
            **sn,
        )(x)
        normalization = _normalization(norm, str(i), init_stddev, dtype) if i > 0 else None
        if normalization is not None:
            x = normalization(x)
        x = layers.LeakyReLU(leaky_slope, dtype=dtype, name=f"lrelu_{i}")(x)
    x = layers.Flatten(dtype=dtype, name="flatten")(x)
    if cond.plain:
        dense = Dense if spectral_norm else layers.Dense
        score = dense(1, kernel_initializer=init, dtype="float32", name=SCORE, **sn)(x)
        return keras.Model(inputs, score, name="critic")
    outputs = {name: head_output(x, name, units, init) for name, units in cond.outputs.items()}
    if cond.score_from_classes:
        score = LogSumExp(dtype="float32", name=SCORE)(outputs[CLASSES])
    else:
        dense = Dense if spectral_norm else layers.Dense
        score = dense(1, kernel_initializer=init, dtype="float32", name=SCORE, **sn)(x)
    if cond.critic_join == "projection":
        score = project_label(score, x, labels, cond.kind, cond.n_labels, init)
    return keras.Model(inputs, {SCORE: score, **outputs}, name="critic")


def build_generator(
    image_size: int = 64,
    channels: int = 3,
    latent_dim: int = 100,
    filters: int = 64,
    leaky_slope: float = 0.2,
    init_stddev: float = 0.02,
    norm: str = "batch",
    spectral_norm: bool = False,
    dtype: str | None = None,
    conditioning: Conditioning | None = None,
) -> keras.Model:
    """Latent -> Dense -> 4x4 (or 7x7) map -> (UpSampling + Conv + norm + LeakyReLU)* -> tanh.

    Widths mirror the critic (8*filters at the smallest map, halving per block), and the tanh
    output matches real images scaled to [-1, 1]. Every preset keeps batch norm here (DCGAN's
    generator); ``norm`` and ``spectral_norm`` mean what they mean for the critic. The images
    come out float32 under any policy. A ``conditioning`` with generator labels makes the
    inputs ``[latent, label]``; InfoGAN's codes widen the latent input by ``code_dim``.
    """
    _check_channels(channels)
    _check_norm(norm)
    if latent_dim < 1:
        raise ConfigError(f"latent_dim must be at least 1, got {latent_dim}")
    blocks = n_blocks(image_size)
    base = base_size(image_size)
    init = keras.initializers.RandomNormal(0.0, init_stddev)
    gamma_init = keras.initializers.RandomNormal(1.0, init_stddev)
    dense, conv, sn = layers.Dense, layers.Conv2D, {}
    if spectral_norm:
        dense, conv, sn = Dense, Conv2D, {"spectral_norm": True}

    def normalize(x, name: str):
        if norm == "batch":  # one shared initializer, as the networks were first written
            return batch_norm(gamma_init, dtype, f"bn_{name}")(x)
        layer = _normalization(norm, name, init_stddev, dtype)
        return x if layer is None else layer(x)

    width = filters * 2 ** (blocks - 1)
    cond = conditioning or Conditioning()
    latent = keras.Input((latent_dim + cond.code_dim,), name="latent")
    x, inputs = latent, latent
    if cond.generator_labels:
        labels = label_input(cond.kind, cond.n_labels)
        inputs = [latent, labels]
        x = join_latent(latent, labels, cond.kind, cond.n_labels, dtype)
    x = dense(base * base * width, kernel_initializer=init, dtype=dtype, name="project", **sn)(x)
    x = layers.Reshape((base, base, width), dtype=dtype, name="reshape")(x)
    x = normalize(x, "project")
    x = layers.LeakyReLU(leaky_slope, dtype=dtype, name="lrelu_project")(x)
    for i in range(blocks):
        x = layers.UpSampling2D(2, dtype=dtype, name=f"up_{i}")(x)
        x = conv(
            max(width // 2 ** (i + 1), 1),
            3,
            padding="same",
            kernel_initializer=init,
            dtype=dtype,
            name=f"conv_{i}",
            **sn,
        )(x)
        x = normalize(x, str(i))
        x = layers.LeakyReLU(leaky_slope, dtype=dtype, name=f"lrelu_{i}")(x)
    x = conv(
        channels, 3, padding="same", kernel_initializer=init, dtype=dtype, name="to_image", **sn
    )(x)
    images = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs, images, name="generator")
