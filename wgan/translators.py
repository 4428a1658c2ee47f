"""The networks of image-to-image translation: Pix2Pix's U-Net, CycleGAN's ResNet generator and
the PatchGAN discriminator both use.

Layouts follow the papers' reference code (Isola et al. 2017; Zhu et al. 2017, appendix 7.2):
convolutions of 4x4 with stride 2 and LeakyReLU 0.2 going down, ReLU coming up, a tanh image
out; weights from N(0, 0.02). Where the code scales a layout to smaller images, the choice is
said on the function. Instance normalisation is ``GroupNormalization(groups=-1)`` with epsilon
1e-5 and no affine parameters, as the reference's ``InstanceNorm2d(affine=False)``.
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from wgan.convolution import Conv2D
from wgan.errors import ConfigError
from wgan.models import _normalization
from wgan.shapes import CHANNELS, base_size

TRANSLATION_NORMS = ("batch", "instance", "layer", "none")
INSTANCE_EPSILON = 1e-5
# The PatchGAN of the papers has 3 stride-2 layers at 256x256: a 70x70 receptive field.
REFERENCE_SIZE, REFERENCE_PATCH_LAYERS = 256, 3
MAX_UNET_DEPTH = 8  # unet_256: 256 -> 1


@keras.saving.register_keras_serializable(package="wgan")
class ReflectionPadding2D(layers.Layer):
    """Pad height and width by mirroring the border, as CycleGAN's generator does before its
    7x7 and 3x3 convolutions (zero padding leaves a dark frame in the translations)."""

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, inputs):
        p = self.padding
        return ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        grow = 2 * self.padding
        return (n, None if h is None else h + grow, None if w is None else w + grow, c)

    def get_config(self) -> dict:
        return {**super().get_config(), "padding": self.padding}


def instance_norm(name: str, dtype=None) -> layers.Layer:
    """Instance normalisation as the reference: per image and channel, epsilon 1e-5, no scale
    or offset. Keras' moments stop the gradient through the mean, so a gradient penalty
    through it is biased: the GAN refuses that pair."""
    return layers.GroupNormalization(
        groups=-1, epsilon=INSTANCE_EPSILON, center=False, scale=False, dtype=dtype, name=name
    )


def normalization(norm: str, name: str, dtype=None, init_stddev: float = 0.02):
    """The layer after a convolution for ``norm`` (batch, instance, layer, none), or None:
    the GAN networks' choices (``wgan.models``) plus instance norm."""
    if norm == "instance":
        return instance_norm(f"in_{name}", dtype)
    if norm not in TRANSLATION_NORMS:
        raise ConfigError(f"--norm must be one of {', '.join(TRANSLATION_NORMS)}, got {norm!r}")
    return _normalization(norm, name, init_stddev, dtype)


def _check(image_size: int, channels: int) -> None:
    base_size(image_size)  # 4*2^k or 7*2^k, as everywhere in the package
    if channels not in CHANNELS:
        raise ConfigError(f"channels must be 1, 3 or 4, got {channels}")


def unet_depth(image_size: int) -> int:
    """Stride-2 levels of the U-Net: down to 1x1 for 2^k sizes (8 at 256, the paper's
    unet_256), or to the odd side for 7*2^k sizes (28 -> 14 -> 7: 2), at most 8."""
    size, depth = image_size, 0
    while size > 1 and size % 2 == 0 and depth < MAX_UNET_DEPTH:
        size //= 2
        depth += 1
    return depth


def build_unet(
    image_size: int = 64,
    channels: int = 3,
    out_channels: int | None = None,
    filters: int = 64,
    norm: str = "batch",
    dropout: float = 0.5,
    leaky_slope: float = 0.2,
    init_stddev: float = 0.02,
    dtype=None,
    name: str = "generator",
) -> keras.Model:
    """Pix2Pix's U-Net: encoder C64-C128-C256-C512-C512..., decoder mirrored, each decoder
    level joined to the encoder level of its size (the skip connections), tanh out.

    The encoder's first layer has no normalisation, as in the paper; widths are
    ``filters * min(2^i, 8)``. Dropout 0.5 sits in the first three decoder levels below the
    bottleneck ("the first 3 layers of the decoder", the paper's appendix), fewer when the
    U-Net is shallower, never in the outermost level. The noise z of a conditional GAN is this
    dropout: Pix2Pix has no latent input.
    """
    _check(image_size, channels)
    out_channels = out_channels or channels
    depth = unet_depth(image_size)
    if depth < 2:
        raise ConfigError(f"a U-Net needs an image size divisible by 4, got {image_size}")
    init = keras.initializers.RandomNormal(0.0, init_stddev)
    image = keras.Input((image_size, image_size, channels), name="image")
    x, skips = image, []
    widths = [filters * min(2**i, 8) for i in range(depth)]
    for i, width in enumerate(widths):
        if i > 0:
            x = layers.LeakyReLU(leaky_slope, dtype=dtype, name=f"down_lrelu_{i}")(x)
        x = Conv2D(width, 4, strides=2, padding="same", kernel_initializer=init, dtype=dtype,
                   use_bias=norm != "batch", name=f"down_{i}")(x)  # fmt: skip
        if 0 < i < depth - 1:  # neither the first layer nor the 1x1 bottleneck
            layer = normalization(norm, f"down_{i}", dtype, init_stddev)
            x = x if layer is None else layer(x)
        skips.append(x)
    dropped = min(3, depth - 1)
    for level, i in enumerate(reversed(range(depth - 1))):  # from the bottleneck outwards
        x = layers.ReLU(dtype=dtype, name=f"up_relu_{i}")(x)
        x = layers.Conv2DTranspose(widths[i], 4, strides=2, padding="same", dtype=dtype,
                                   kernel_initializer=init, use_bias=norm != "batch",
                                   name=f"up_{i}")(x)  # fmt: skip
        layer = normalization(norm, f"up_{i}", dtype, init_stddev)
        x = x if layer is None else layer(x)
        if level < dropped and dropout > 0:
            x = layers.Dropout(dropout, dtype=dtype, name=f"dropout_{i}")(x)
        x = layers.Concatenate(dtype=dtype, name=f"skip_{i}")([x, skips[i]])
    x = layers.ReLU(dtype=dtype, name="out_relu")(x)
    x = layers.Conv2DTranspose(out_channels, 4, strides=2, padding="same", dtype=dtype,
                               kernel_initializer=init, name="to_image")(x)  # fmt: skip
    out = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(image, out, name=name)


def resnet_blocks(image_size: int) -> int:
    """Residual blocks of the ResNet generator: 6 up to 128x128 and 9 from 256x256 (the
    paper's two settings)."""
    return 9 if image_size >= 256 else 6


def build_resnet_generator(
    image_size: int = 64,
    channels: int = 3,
    filters: int = 64,
    norm: str = "instance",
    blocks: int | None = None,
    init_stddev: float = 0.02,
    dtype=None,
    name: str = "generator",
) -> keras.Model:
    """CycleGAN's generator (Johnson et al.'s layout): c7s1-64, d128, d256, R256 x blocks,
    u128, u64, c7s1-C, tanh. Reflection padding before the 7x7 and the blocks' 3x3
    convolutions; the upsampling is a stride-2 transposed convolution, as the reference."""
    _check(image_size, channels)
    if image_size % 4:
        raise ConfigError(
            f"the ResNet generator needs an image size divisible by 4, got {image_size}"
        )
    blocks = resnet_blocks(image_size) if blocks is None else blocks
    init = keras.initializers.RandomNormal(0.0, init_stddev)
    bias = norm != "batch"

    def conv(x, width, kernel, stride, tag, pad=0, use_bias=bias):
        if pad:
            x = ReflectionPadding2D(pad, dtype=dtype, name=f"pad_{tag}")(x)
        padding = "valid" if pad else "same"
        return Conv2D(width, kernel, strides=stride, padding=padding, kernel_initializer=init,
                      use_bias=use_bias, dtype=dtype, name=tag)(x)  # fmt: skip

    def norm_relu(x, tag, relu=True):
        layer = normalization(norm, tag, dtype, init_stddev)
        x = x if layer is None else layer(x)
        return layers.ReLU(dtype=dtype, name=f"relu_{tag}")(x) if relu else x

    image = keras.Input((image_size, image_size, channels), name="image")
    x = norm_relu(conv(image, filters, 7, 1, "c7s1", pad=3), "c7s1")
    for i, width in enumerate((2 * filters, 4 * filters)):
        x = norm_relu(conv(x, width, 3, 2, f"down_{i}"), f"down_{i}")
    for b in range(blocks):
        y = norm_relu(conv(x, 4 * filters, 3, 1, f"res_{b}_a", pad=1), f"res_{b}_a")
        y = norm_relu(conv(y, 4 * filters, 3, 1, f"res_{b}_b", pad=1), f"res_{b}_b", relu=False)
        x = layers.Add(dtype=dtype, name=f"res_{b}")([x, y])
    for i, width in enumerate((2 * filters, filters)):
        x = layers.Conv2DTranspose(
            width, 3, strides=2, padding="same", use_bias=bias, kernel_initializer=init,
            dtype=dtype, name=f"up_{i}",
        )(x)  # fmt: skip
        x = norm_relu(x, f"up_{i}")
    x = conv(x, channels, 7, 1, "to_image", pad=3, use_bias=True)  # no norm after it
    out = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(image, out, name=name)


def patch_layers(image_size: int) -> int:
    """Stride-2 layers of the PatchGAN: 3 at 256x256 (70x70 patches, 27 % of the side), one
    fewer per halving of the image so a patch stays about that share of it (2 at 128: 34x34;
    1 at 64 and below: 16x16), at least 1."""
    return max(1, REFERENCE_PATCH_LAYERS - round(math.log2(REFERENCE_SIZE / image_size)))


def receptive_field(n_layers: int) -> int:
    """Side of the input patch one output of a PatchGAN with ``n_layers`` stride-2 layers sees
    (4x4 kernels: n stride-2 layers, then two stride-1 layers): 16, 34, 70, 142."""
    field = 1
    for stride in reversed([2] * n_layers + [1, 1]):
        field = (field - 1) * stride + 4
    return field


def build_patch_critic(
    image_size: int = 64,
    channels: int = 3,
    filters: int = 64,
    norm: str = "batch",
    conditional: bool = False,
    n_layers: int | None = None,
    leaky_slope: float = 0.2,
    init_stddev: float = 0.02,
    spectral_norm: bool = False,
    dtype=None,
    name: str = "critic",
) -> keras.Model:
    """The PatchGAN: C64-C128-C256 (stride 2) - C512 (stride 1) - a 1-channel score map, each
    score judging one patch; no normalisation in the first layer, linear scores out (the loss
    part decides what a score means). ``conditional`` (Pix2Pix): the critic takes
    ``[source, image]`` and sees them concatenated on the channel axis."""
    _check(image_size, channels)
    n_layers = patch_layers(image_size) if n_layers is None else n_layers
    init = keras.initializers.RandomNormal(0.0, init_stddev)
    sn = {"spectral_norm": True} if spectral_norm else {}
    image = keras.Input((image_size, image_size, channels), name="image")
    inputs, x = image, image
    if conditional:
        source = keras.Input((image_size, image_size, channels), name="source")
        inputs = [source, image]
        x = layers.Concatenate(dtype=dtype, name="pair")([source, image])
    strides = [2] * n_layers + [1]
    for i, stride in enumerate(strides):
        width = filters * min(2**i, 8)
        x = Conv2D(width, 4, strides=stride, padding="same", kernel_initializer=init,
                   dtype=dtype, name=f"conv_{i}", **sn)(x)  # fmt: skip
        if i > 0:
            layer = normalization(norm, str(i), dtype, init_stddev)
            x = x if layer is None else layer(x)
        x = layers.LeakyReLU(leaky_slope, dtype=dtype, name=f"lrelu_{i}")(x)
    score = Conv2D(1, 4, padding="same", kernel_initializer=init, dtype="float32",
                   name="score", **sn)(x)  # fmt: skip
    return keras.Model(inputs, score, name=name)
