"""Fréchet distance between two feature sets (Heusel et al. 2017), the "FID" on Inception features.

It takes feature arrays, not images, so any extractor works (InceptionV3 for FID proper, a small
network or raw features in tests). Computed in float64: the covariance square root is sensitive.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two (N, D) feature sets; 0 for equal stats."""
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
    mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray
) -> float:
    """||mu_a - mu_b||^2 + Tr(cov_a + cov_b - 2 sqrt(cov_a cov_b)), from cached statistics.

    Tr sqrt(cov_a cov_b) equals Tr sqrt(S cov_b S) with S = sqrt(cov_a), a symmetric PSD matrix,
    so symmetric eigensolvers do the work: about 10x faster than scipy.linalg.sqrtm's Schur
    method at Inception's 2048 dimensions, and real by construction, so there are no imaginary
    round-off parts to discard and singular covariances (fewer images than dimensions) need no
    diagonal offset.
    """
    mu_a, mu_b = np.asarray(mu_a, np.float64), np.asarray(mu_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    sqrt_a = _psd_sqrt(cov_a)
    product = sqrt_a @ cov_b @ sqrt_a
    eigenvalues = linalg.eigvalsh((product + product.T) / 2)
    # Round-off leaves tiny negative eigenvalues where the true ones are zero.
    trace_covmean = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_covmean
    # Tiny negative values are round-off around zero.
    return float(max(value, 0.0))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    eigenvalues, vectors = linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ vectors.T


def _as_features(feats: np.ndarray, name: str) -> np.ndarray:
    array = np.asarray(feats, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (N, D) feature array, got shape {array.shape}")
    if len(array) < 2:
        raise ValueError(f"{name} has {len(array)} row(s): the FID needs at least 2 vectors")
    return array
