"""Image grids: the picture a person looks at to judge a run."""

from __future__ import annotations

import math

import numpy as np

from wgan.data import to_uint8  # noqa: F401  (grids are drawn from generator output)


def make_grid(images: np.ndarray, columns: int | None = None, padding: int = 2) -> np.ndarray:
    """Tile uint8 images (N, H, W, C) into one image with a thin dark border between them."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"expected images shaped (N, H, W, C), got {images.shape}")
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    grid = np.zeros(
        (rows * (h + padding) + padding, columns * (w + padding) + padding, c), images.dtype
    )
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        y, x = padding + r * (h + padding), padding + col * (w + padding)
        grid[y : y + h, x : x + w] = image
    return grid
