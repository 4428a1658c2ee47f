"""Quality metrics for generated images, registered by name as in stylegan2-ada's ``metrics``.

``compute_metrics(["swd", "fid"], generated, real, extractor=...)`` runs several at once and
computes the (expensive) features only once for the metrics that share them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from wgan.metrics.fid import fid_from_statistics, frechet_distance
from wgan.metrics.inception import (
    InceptionFeatures,
    InceptionWeightsError,
    compute_features,
    find_inception_weights,
    load_inception,
)
from wgan.metrics.kid import kernel_inception_distance
from wgan.metrics.swd import laplacian_pyramid, sliced_wasserstein_distance

__all__ = [
    "METRICS",
    "InceptionFeatures",
    "InceptionWeightsError",
    "Metric",
    "MetricInputs",
    "compute_features",
    "compute_metrics",
    "fid_from_statistics",
    "find_inception_weights",
    "frechet_distance",
    "kernel_inception_distance",
    "laplacian_pyramid",
    "load_inception",
    "sliced_wasserstein_distance",
]


@dataclass
class MetricInputs:
    """The two image sets and what metrics share about them (features computed on first use)."""

    generated: np.ndarray
    real: np.ndarray
    seed: int = 0
    extractor: Callable[[np.ndarray], object] | None = None
    batch_size: int = 50
    _features: tuple[np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False)

    def features(self) -> tuple[np.ndarray, np.ndarray]:
        if self.extractor is None:
            raise ValueError("this metric needs a feature extractor, e.g. load_inception(path)")
        if self._features is None:
            self._features = (
                compute_features(self.generated, self.extractor, self.batch_size),
                compute_features(self.real, self.extractor, self.batch_size),
            )
        return self._features


@dataclass(frozen=True)
class Metric:
    name: str
    needs_features: bool  # True: needs an extractor (InceptionV3 weights for the real thing)
    compute: Callable[[MetricInputs], dict[str, float]]


def _swd(inputs: MetricInputs) -> dict[str, float]:
    return sliced_wasserstein_distance(inputs.generated, inputs.real, seed=inputs.seed)


def _fid(inputs: MetricInputs) -> dict[str, float]:
    return {"fid": frechet_distance(*inputs.features())}


def _kid(inputs: MetricInputs) -> dict[str, float]:
    mean, std = kernel_inception_distance(*inputs.features(), seed=inputs.seed)
    return {"kid": mean, "kid_std": std}


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("swd", needs_features=False, compute=_swd),
        Metric("fid", needs_features=True, compute=_fid),
        Metric("kid", needs_features=True, compute=_kid),
    )
}


def compute_metrics(
    names: Sequence[str],
    generated: np.ndarray,
    real: np.ndarray,
    *,
    seed: int = 0,
    extractor: Callable[[np.ndarray], object] | None = None,
    batch_size: int = 50,
) -> dict[str, float]:
    """Every value of the named metrics, e.g. {"swd_64": .., "swd_avg": .., "fid": ..}."""
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}: choose from {sorted(METRICS)}")
    needing = [name for name in names if METRICS[name].needs_features]
    if needing and extractor is None:
        raise ValueError(
            f"{', '.join(needing)} need a feature extractor, e.g. load_inception(path)"
        )
    inputs = MetricInputs(generated, real, seed, extractor, batch_size)
    results: dict[str, float] = {}
    for name in dict.fromkeys(names):
        results.update(METRICS[name].compute(inputs))
    return results
