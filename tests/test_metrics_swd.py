"""Sliced Wasserstein distance: zero for equal sets, larger for blurred or noisy images."""

import numpy as np
import pytest

from wgan.metrics import compute_metrics, laplacian_pyramid, sliced_wasserstein_distance


def draw_scenes(n: int, size: int = 32, seed: int = 0, channels: int = 3) -> np.ndarray:
    """Colour gradients with a few hard-edged discs: structure at every scale, like photos."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    images = np.empty((n, size, size, channels), np.float32)
    for i in range(n):
        start, end = rng.uniform(0, 255, (2, channels))
        angle = rng.uniform(0, 2 * np.pi)
        ramp = (np.cos(angle) * xx + np.sin(angle) * yy + 1) / 2
        image = start + (end - start) * ramp[..., None]
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(0.2, 0.8, 2)
            radius = rng.uniform(0.1, 0.3)
            inside = ((yy - cy) ** 2 + (xx - cx) ** 2 < radius**2)[..., None]
            image = np.where(inside, rng.uniform(0, 255, channels), image)
        images[i] = image
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)


def blur(images: np.ndarray) -> np.ndarray:
    kernel = np.array([1, 4, 6, 4, 1], np.float32) / 16
    x = images.astype(np.float32)
    for axis in (1, 2):
        pad = [(0, 0)] * 4
        pad[axis] = (2, 2)
        padded = np.pad(x, pad, mode="edge")
        length = images.shape[axis]
        x = sum(w * np.take(padded, range(i, i + length), axis=axis) for i, w in enumerate(kernel))
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def add_noise(images: np.ndarray, std: float = 20.0) -> np.ndarray:
    noise = np.random.default_rng(99).normal(0.0, std, images.shape)
    return np.clip(images + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def real():
    return draw_scenes(200, seed=1)


@pytest.fixture(scope="module")
def other_real():
    return draw_scenes(200, seed=2)


def test_a_set_against_itself_scores_zero(real):
    result = sliced_wasserstein_distance(real[:50], real[:50].copy(), seed=0)
    assert all(value == pytest.approx(0.0, abs=1e-6) for value in result.values())


def test_blurred_and_noisy_images_score_clearly_worse_than_other_real_images(real, other_real):
    baseline = sliced_wasserstein_distance(real, other_real)
    blurred = sliced_wasserstein_distance(real, blur(other_real))
    noisy = sliced_wasserstein_distance(real, add_noise(other_real))
    assert baseline["swd_avg"] > 0
    for degraded in (blurred, noisy):
        # Both damage fine detail most: the finest level shows it loudest.
        assert degraded["swd_32"] > 2.5 * baseline["swd_32"]
        assert degraded["swd_avg"] > 1.5 * baseline["swd_avg"]


def test_each_set_is_standardised_per_channel_so_global_contrast_is_ignored(real):
    # As in the paper: patches are compared in shape, not in absolute colour or contrast.
    images = real[:50].astype(np.float32)
    dimmer = images * np.array([0.5, 0.8, 1.2], np.float32) + 40.0
    result = sliced_wasserstein_distance(images, dimmer)
    assert result["swd_avg"] == pytest.approx(0.0, abs=0.05)


def test_more_blur_scores_worse(real, other_real):
    once = sliced_wasserstein_distance(real, blur(other_real))["swd_32"]
    twice = sliced_wasserstein_distance(real, blur(blur(other_real)))["swd_32"]
    assert twice > once


def test_same_seed_gives_the_same_numbers_and_another_seed_other_ones(real, other_real):
    first = sliced_wasserstein_distance(real, other_real, seed=3)
    again = sliced_wasserstein_distance(real, other_real, seed=3)
    other = sliced_wasserstein_distance(real, other_real, seed=4)
    assert first == again
    assert first != other
    # A different draw of patches and directions changes the estimate only a little.
    assert other["swd_avg"] == pytest.approx(first["swd_avg"], rel=0.3)


def test_levels_are_named_by_resolution_finest_first_down_to_16():
    images = draw_scenes(4, size=64, seed=0)
    result = sliced_wasserstein_distance(images, images[::-1], patches_per_image=8)
    assert list(result) == ["swd_64", "swd_32", "swd_16", "swd_avg"]
    levels = [result["swd_64"], result["swd_32"], result["swd_16"]]
    assert result["swd_avg"] == pytest.approx(np.mean(levels))


def test_laplacian_pyramid_puts_fine_detail_in_the_band_and_flat_colour_in_the_residual():
    yy, xx = np.mgrid[0:32, 0:32]
    checkerboard = 100.0 + 50.0 * (-1.0) ** (yy + xx)
    images = np.stack([checkerboard, np.full((32, 32), 80.0)], axis=-1)[None].astype(np.float32)
    band, residual = laplacian_pyramid(images, min_resolution=16)
    assert band.shape == (1, 32, 32, 2) and residual.shape == (1, 16, 16, 2)
    # The binomial filter removes the finest possible pattern completely...
    assert np.allclose(residual[..., 0], 100.0, atol=1e-3)
    assert np.allclose(band[..., 0], checkerboard - 100.0, atol=1e-3)
    # ...and leaves a flat colour untouched.
    assert np.allclose(residual[..., 1], 80.0, atol=1e-3)
    assert np.allclose(band[..., 1], 0.0, atol=1e-3)


def test_grayscale_images_and_sets_of_different_sizes_work(real, other_real):
    gray_a = draw_scenes(60, seed=7, channels=1)
    gray_b = draw_scenes(90, seed=8, channels=1)
    result = sliced_wasserstein_distance(gray_a, gray_b)
    assert set(result) == {"swd_32", "swd_16", "swd_avg"}
    assert all(np.isfinite(v) and v > 0 for v in result.values())
    # A smaller sample of the same distribution is still far closer than a blurred one.
    smaller = sliced_wasserstein_distance(real[:100], other_real)["swd_32"]
    blurred = sliced_wasserstein_distance(real[:100], blur(other_real))["swd_32"]
    assert smaller < 0.5 * blurred


def test_mismatched_shapes_are_a_clear_error(real):
    with pytest.raises(ValueError, match="same shape"):
        sliced_wasserstein_distance(real, draw_scenes(5, size=16))
    with pytest.raises(ValueError, match="at least 7x7"):
        sliced_wasserstein_distance(real[:, :5, :5], real[:, :5, :5])


def test_registry_computes_swd_by_name_without_an_extractor(real, other_real):
    result = compute_metrics(["swd"], real[:50], other_real[:50], seed=3)
    assert result == sliced_wasserstein_distance(real[:50], other_real[:50], seed=3)
    with pytest.raises(ValueError, match="unknown metric"):
        compute_metrics(["is"], real, other_real)
    with pytest.raises(ValueError, match="extractor"):
        compute_metrics(["fid"], real, other_real)
