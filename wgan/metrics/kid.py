"""Kernel Inception distance (Bińkowski et al. 2018): unbiased MMD^2 with a cubic polynomial kernel.

Unlike the FID it has an unbiased estimator, so it is meaningful with a few hundred images; the
spread over random subsets says how much to trust a difference between two runs.
"""

from __future__ import annotations

import numpy as np

# Sets up to this size get their kernel matrices computed once (at most 3 x 4096^2 float64, 400 MB).
_WHOLE_KERNEL_LIMIT = 4096


def kernel_inception_distance(
    feats_a: np.ndarray,
    feats_b: np.ndarray,
    *,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Mean and std over random subsets of the unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3.

    ``subset_size`` is capped at the smaller set's size; subsets are drawn without replacement.
    """
    a = np.asarray(feats_a, dtype=np.float64)
    b = np.asarray(feats_b, dtype=np.float64)
    for name, array in (("feats_a", a), ("feats_b", b)):
        if array.ndim != 2:
            raise ValueError(f"{name} must be a 2-D (N, D) feature array, got shape {array.shape}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"feature sets have different widths ({a.shape[1]} and {b.shape[1]}): "
            "compute both with the same extractor"
        )
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be at least 1, got {num_subsets}")
    size = min(len(a), len(b), subset_size)
    if size < 2:
        raise ValueError(
            f"the KID needs at least 2 feature vectors per set, got {len(a)} and {len(b)}"
        )
    rng = np.random.default_rng(seed)
    if max(len(a), len(b)) <= _WHOLE_KERNEL_LIMIT:
        # Kernels over the whole sets once; each subset then only indexes them.
        k_aa, k_bb, k_ab = _kernel(a, a), _kernel(b, b), _kernel(a, b)

        def mmd2(rows_a: np.ndarray, rows_b: np.ndarray) -> float:
            return _unbiased_mmd2(
                k_aa[np.ix_(rows_a, rows_a)],
                k_bb[np.ix_(rows_b, rows_b)],
                k_ab[np.ix_(rows_a, rows_b)],
            )
    else:

        def mmd2(rows_a: np.ndarray, rows_b: np.ndarray) -> float:
            x, y = a[rows_a], b[rows_b]
            return _unbiased_mmd2(_kernel(x, x), _kernel(y, y), _kernel(x, y))

    values = np.array(
        [
            mmd2(rng.choice(len(a), size, replace=False), rng.choice(len(b), size, replace=False))
            for _ in range(num_subsets)
        ]
    )
    return float(values.mean()), float(values.std())


def _kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _unbiased_mmd2(k_xx: np.ndarray, k_yy: np.ndarray, k_xy: np.ndarray) -> float:
    m = len(k_xx)
    # Leave out the diagonals (k(x, x)) so the estimate is unbiased.
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.mean())
