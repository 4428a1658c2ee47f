"""Fréchet distance between two feature sets (Heusel et al. 2017), the "FID" on Inception features.

It takes feature arrays, not images, so any extractor works (InceptionV3 for FID proper, a small
network or raw features in tests). Computed in float64: the covariance square root is sensitive.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two (N, D) feature sets; 0 for equal statistics."""
    a = _as_features(feats_a, "feats_a")
    b = _as_features(feats_b, "feats_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"feature sets have different widths ({a.shape[1]} and {b.shape[1]}): "
            "compute both with the same extractor"
        )
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    return fid_from_statistics(mu_a, cov_a, mu_b, cov_b)


def fid_from_statistics(
    mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray, eps: float = 1e-6
) -> float:
    """||mu_a - mu_b||^2 + Tr(cov_a + cov_b - 2 sqrt(cov_a cov_b)), for cached reference statistics."""
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():
        # Singular product (fewer samples than dimensions): nudge both diagonals, as is usual.
        warnings.warn(
            f"covariance product is singular; adding {eps} to the diagonals for the FID",
            RuntimeWarning,
            stacklevel=2,
        )
        offset = np.eye(len(cov_a)) * eps
        covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    if np.iscomplexobj(covmean):
        # Round-off gives small imaginary parts; large ones mean the result cannot be trusted.
        largest = np.abs(covmean.imag).max()
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(
                f"matrix square root has an imaginary component of {largest:.3g}: the feature "
                "covariances are ill-conditioned; use more images"
            )
        covmean = covmean.real
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean)
    # Tiny negative values are round-off around zero.
    return float(max(value, 0.0))


def _as_features(feats: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(feats, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (N, D) feature array, got shape {array.shape}")
    if len(array) < 2:
        raise ValueError(f"{name} has {len(array)} row(s): the FID needs at least 2 feature vectors")
    return array
