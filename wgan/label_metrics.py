"""Scores of a conditional GAN from the judge's outputs (`wgan.classifier.Judge`): does each
image show the label it was generated for, and is there variety within a label?

Plain numpy and scipy on arrays the judge already produced, so the numbers can be recomputed
and tested without a network.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

# Rows of the distance matrix computed at once: 1024 x N float64 stays small for any N.
_ROWS = 1024


def _labels(array: np.ndarray, n: int, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must be a 1-D integer array, got {array.dtype} {array.shape}")
    if len(array) and (array.min() < 0 or array.max() >= n):
        raise ValueError(f"{name} must lie in [0, {n}), got values {array.min()}..{array.max()}")
    return array


def label_accuracy(
    predicted: np.ndarray, wanted: np.ndarray, n_classes: int
) -> tuple[float, list[float]]:
    """Share of generated images the judge puts in the class they were generated for, overall
    and per class (nan for a class nothing was generated for); AC-GAN's measure (Odena et al.
    2017), with an independent classifier in place of the GAN's own."""
    predicted = _labels(predicted, n_classes, "predicted")
    wanted = _labels(wanted, n_classes, "wanted")
    if len(predicted) != len(wanted) or len(wanted) == 0:
        raise ValueError(f"got {len(predicted)} predictions for {len(wanted)} wanted labels")
    hits = predicted == wanted
    per_class = [
        float(hits[wanted == c].mean()) if np.any(wanted == c) else float("nan")
        for c in range(n_classes)
    ]
    return float(hits.mean()), per_class


def mean_pairwise_distance(features: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs of distinct rows; nan for fewer than 2 rows.

    |a - b|^2 = |a|^2 + |b|^2 - 2 a.b in float64, a block of rows at a time; rounding can make a
    zero distance slightly negative, hence the clip, and the diagonal is left out.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be a 2-D (N, D) array, got shape {x.shape}")
    n = len(x)
    if n < 2:
        return float("nan")
    squares = np.einsum("ij,ij->i", x, x)
    total = 0.0
    for start in range(0, n, _ROWS):
        block = x[start : start + _ROWS]
        d2 = squares[start : start + _ROWS, None] + squares[None, :] - 2.0 * block @ x.T
        distances = np.sqrt(np.clip(d2, 0.0, None))
        rows = np.arange(len(block))
        distances[rows, start + rows] = 0.0
        total += distances.sum()
    return float(total / (n * (n - 1)))


def diversity_ratios(
    gen_features: np.ndarray,
    gen_labels: np.ndarray,
    real_features: np.ndarray,
    real_labels: np.ndarray,
    n_classes: int,
) -> list[float]:
    """Per class: the generated images' mean pairwise feature distance over the real images'.

    Serves the target "within-class diversity at least 80 % of the real images' of the same
    class": ~1 matches the real spread, and a generator that draws one image per class (mode
    collapse within the class) scores ~0, which the label accuracy alone would reward. nan for
    a class with fewer than 2 images on either side, or whose real images are all identical.
    """
    gen_labels = _labels(gen_labels, n_classes, "gen_labels")
    real_labels = _labels(real_labels, n_classes, "real_labels")
    if len(gen_features) != len(gen_labels) or len(real_features) != len(real_labels):
        raise ValueError(
            f"got {len(gen_features)} generated features for {len(gen_labels)} labels and "
            f"{len(real_features)} real features for {len(real_labels)} labels"
        )
    gen_features, real_features = np.asarray(gen_features), np.asarray(real_features)
    ratios = []
    for c in range(n_classes):
        generated = mean_pairwise_distance(gen_features[gen_labels == c])
        real = mean_pairwise_distance(real_features[real_labels == c])
        ratios.append(generated / real if real > 0 else float("nan"))  # nan > 0 is False
    return ratios


def hungarian_agreement(
    codes: np.ndarray, predicted: np.ndarray, n_codes: int, n_classes: int
) -> tuple[float, dict[int, int]]:
    """How well InfoGAN's categorical code (Chen et al. 2016) came to mean the class.

    The code is unsupervised, so code k need not be digit k: the best one-to-one matching of
    codes to classes (Hungarian algorithm on the contingency table, as for clustering accuracy)
    is found first. Returns the share of samples the judge puts in the class matched to their
    code, and the matching code -> class (codes left unmatched when n_codes > n_classes count
    as misses).
    """
    codes = _labels(codes, n_codes, "codes")
    predicted = _labels(predicted, n_classes, "predicted")
    if len(codes) != len(predicted) or len(codes) == 0:
        raise ValueError(f"got {len(codes)} codes for {len(predicted)} predictions")
    table = np.zeros((n_codes, n_classes), np.int64)
    np.add.at(table, (codes, predicted), 1)
    rows, cols = linear_sum_assignment(-table)
    agreement = table[rows, cols].sum() / len(codes)
    return float(agreement), {int(r): int(c) for r, c in zip(rows, cols, strict=True)}


def flip_rate(off_predictions: np.ndarray, on_predictions: np.ndarray) -> float:
    """Share of samples (same noise, attribute switched off, then on) that the judge sees
    without the attribute when off and with it when on.

    Counts only the wanted direction: samples already showing the attribute when off, or
    losing it when on, are failures, not half-successes. Arrays hold 0/1 decisions of one shape
    (all entries are averaged, so pass one attribute's column for that attribute's rate).
    """
    off = np.asarray(off_predictions)
    on = np.asarray(on_predictions)
    if off.shape != on.shape or off.size == 0:
        raise ValueError(f"off and on decisions differ in shape: {off.shape} vs {on.shape}")
    if not (np.isin(off, (0, 1)).all() and np.isin(on, (0, 1)).all()):
        raise ValueError("off and on decisions must be 0/1")
    return float(np.mean((off == 0) & (on == 1)))
