"""Sliced Wasserstein distance between two image sets (Karras et al. 2018, "Progressive growing").

It needs no pretrained network, so it always works and is cheap enough to track during training.
Each Laplacian pyramid level compares the distributions of small local patches: the finest level
measures texture and sharpness, the coarsest level large-scale layout. As in the paper, each set's
patches are standardised per channel, so a global colour or contrast shift goes unseen (the FID
and KID do see it).
"""

from __future__ import annotations

import numpy as np

_BINOMIAL_5 = np.array([1.0, 4.0, 6.0, 4.0, 1.0], dtype=np.float32) / 16.0


def sliced_wasserstein_distance(
    images_a: np.ndarray,
    images_b: np.ndarray,
    seed: int = 0,
    *,
    patch_size: int = 7,
    patches_per_image: int = 128,
    directions: int = 128,
    repeats: int = 4,
    min_resolution: int = 16,
) -> dict[str, float]:
    """Sliced Wasserstein distance (x 1e3) per pyramid level, finest first, plus their average.

    Images are (N, H, W, C) arrays of the same H, W, C (any dtype; uint8 as everywhere here).
    Both sets use the same random patch positions and projection directions for a given seed, so
    the result is reproducible, a set scores exactly 0 against itself, and differences between two
    comparisons come from the images rather than from the draw. The sets may differ in size.

    Returns e.g. ``{"swd_64": .., "swd_32": .., "swd_16": .., "swd_avg": ..}``.
    """
    a = _as_float_images(images_a, "images_a")
    b = _as_float_images(images_b, "images_b")
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(
            f"SWD needs images of the same shape, got {a.shape[1:]} and {b.shape[1:]} (H, W, C); "
            "load both sets at the same image size and channel count"
        )
    height, width = a.shape[1:3]
    if min(height, width) < patch_size:
        raise ValueError(
            f"SWD needs images of at least {patch_size}x{patch_size} pixels, got {height}x{width}"
        )

    rng = np.random.default_rng(seed)
    n_max = max(len(a), len(b))
    result: dict[str, float] = {}
    for level_a, level_b in zip(
        laplacian_pyramid(a, min_resolution), laplacian_pyramid(b, min_resolution), strict=True
    ):
        h, w = level_a.shape[1:3]
        ys = rng.integers(0, h - patch_size + 1, size=(n_max, patches_per_image))
        xs = rng.integers(0, w - patch_size + 1, size=(n_max, patches_per_image))
        desc_a = _patch_descriptors(level_a, ys[: len(a)], xs[: len(a)], patch_size)
        desc_b = _patch_descriptors(level_b, ys[: len(b)], xs[: len(b)], patch_size)
        distance = _sliced_distance(desc_a, desc_b, rng, directions, repeats)
        result[f"swd_{h}" if h == w else f"swd_{h}x{w}"] = 1e3 * distance
    result["swd_avg"] = float(np.mean(list(result.values())))
    return result


def laplacian_pyramid(images: np.ndarray, min_resolution: int = 16) -> list[np.ndarray]:
    """Band-pass levels, finest first, halving while the next level stays >= ``min_resolution``.

    The last entry is the low-pass residual (the blurred, downsampled image itself).
    """
    levels = []
    current = images.astype(np.float32, copy=False)
    while min(current.shape[1:3]) // 2 >= min_resolution:
        smaller = _downsample(current)
        levels.append(current - _upsample(smaller, current.shape[1:3]))
        current = smaller
    levels.append(current)
    return levels


def _as_float_images(images: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(images)
    if array.ndim != 4:
        raise ValueError(f"{name} must be a 4-D array (N, H, W, C), got shape {array.shape}")
    if len(array) == 0:
        raise ValueError(f"{name} is empty: SWD needs at least one image per set")
    return array.astype(np.float32, copy=False)


def _blur(images: np.ndarray) -> np.ndarray:
    """Separable 5-tap binomial filter over H and W, mirrored at the borders."""
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    h, w = images.shape[1:3]
    rows = sum(k * padded[:, i : i + h] for i, k in enumerate(_BINOMIAL_5))
    return sum(k * rows[:, :, i : i + w] for i, k in enumerate(_BINOMIAL_5))


def _downsample(images: np.ndarray) -> np.ndarray:
    return _blur(images)[:, ::2, ::2]


def _upsample(images: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    n, h, w, c = images.shape
    up = np.zeros((n, 2 * h, 2 * w, c), dtype=images.dtype)
    up[:, ::2, ::2] = images
    # Zero insertion keeps a quarter of the samples, so the filter gain is 4.
    return 4.0 * _blur(up)[:, : shape[0], : shape[1]]


def _patch_descriptors(level: np.ndarray, ys: np.ndarray, xs: np.ndarray, size: int) -> np.ndarray:
    """(N * P, size * size * C) patches, each channel standardised over the whole patch set."""
    n, height, width, channels = level.shape
    level = np.ascontiguousarray(level)
    # A view whose [n, y, x] is the run of `size` pixels (all channels) starting at (y, x), so
    # the gather below copies contiguous runs instead of single values.
    runs = np.lib.stride_tricks.as_strided(
        level,
        shape=(n, height, width - size + 1, size * channels),
        strides=level.strides,
        writeable=False,
    )
    rows = ys[:, :, None] + np.arange(size)
    patches = runs[np.arange(n)[:, None, None], rows, xs[:, :, None]]  # (N, P, size, size * C)
    pixels = patches.reshape(-1, channels)
    # np.mean/np.std in float64 would dominate the run time. Centre roughly in place first, so
    # that float32 sums through BLAS stay accurate, then finish the standardisation in place.
    pixels -= level[:, ::4, ::4].mean(axis=(0, 1, 2), dtype=np.float64).astype(np.float32)
    count = len(pixels)
    mean = (np.ones((1, count), dtype=np.float32) @ pixels)[0].astype(np.float64) / count
    mean_square = np.einsum("ij,ij->j", pixels.T @ pixels, np.eye(channels)) / count
    std = np.sqrt(np.maximum(mean_square - mean**2, 0.0))
    pixels -= mean.astype(np.float32)
    pixels /= np.maximum(std, 1e-8).astype(np.float32)
    return patches.reshape(count // (size * size), -1)


def _sliced_distance(
    desc_a: np.ndarray,
    desc_b: np.ndarray,
    rng: np.random.Generator,
    directions: int,
    repeats: int,
) -> float:
    """Mean over random unit directions of the 1-D Wasserstein-1 distance of the projections."""
    if len(desc_a) > len(desc_b):
        desc_a, desc_b = desc_b, desc_a
    n_small, n_big = len(desc_a), len(desc_b)
    # Unequal sets: compare the small set's order statistics with the big set's matching quantiles.
    quantiles = None
    if n_small != n_big:
        positions = (np.arange(n_small) + 0.5) * n_big / n_small
        quantiles = np.minimum(positions.astype(int), n_big - 1)
    distances = []
    for _ in range(repeats):
        dirs = rng.standard_normal((desc_a.shape[1], directions)).astype(np.float32)
        dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
        # (directions, N) so each projection sorts in place along contiguous memory.
        proj_a = dirs.T @ desc_a.T
        proj_b = dirs.T @ desc_b.T
        proj_a.sort(axis=1)
        proj_b.sort(axis=1)
        if quantiles is not None:
            proj_b = proj_b[:, quantiles]
        proj_a -= proj_b
        distances.append(float(np.abs(proj_a, out=proj_a).mean()))
    return float(np.mean(distances))
