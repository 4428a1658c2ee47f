"""Which image sizes the networks support, without importing TensorFlow (checks stay fast)."""

from wgan.errors import ConfigError

CHANNELS = (1, 3, 4)


def base_size(image_size: int) -> int:
    """The smallest feature map (4 or 7) that doubles up to ``image_size``.

    Sizes are ``4 * 2**k`` or ``7 * 2**k`` (8, 14, 16, 28, 32, 64, 128, ...), so that every
    stride-2 convolution halves the map exactly and every upsampling doubles it back.
    """
    for base in (4, 7):
        size = image_size
        while size > base and size % 2 == 0:
            size //= 2
        if size == base and image_size > base:
            return base
    raise ConfigError(
        f"image size {image_size} is not supported: use 4*2^k or 7*2^k, e.g. 16, 28, 32, 64, 128"
    )


def n_blocks(image_size: int) -> int:
    """How many stride-2 blocks take ``image_size`` down to 4x4 (or 7x7)."""
    size, blocks = image_size, 0
    base = base_size(image_size)
    while size > base:
        size //= 2
        blocks += 1
    return blocks
