"""The k-means clusters of a self-conditioned WGAN for points
(:class:`dctrgan.nn.gan.PointGenerator`).

Private helper of :mod:`dctrgan.wgan`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

__all__ = ("Clusters", "fit_clusters")

#: Lloyd iterations, and the most points they run on (a random subsample).
_ITERATIONS = 25
_SUBSAMPLE = 20_000
#: Points assigned per distance matrix.
_CHUNK = 65_536
#: Smallest per-axis scale of a cluster (the points are standardized).
_MIN_SCALE = 1e-3


@dataclasses.dataclass(frozen=True)
class Clusters:
    """k-means clusters of standardized points.

    Attributes:
        centres: ``(K, d)`` cluster means.
        scales: ``(K, d)`` per-axis standard deviations of the clusters' points (at
            least 1e-3; the median over the clusters for a cluster of one point or none).
        fractions: ``(K,)`` the clusters' shares of the points (0 for an empty one).
        labels: ``(N,)`` int64 cluster of every point.
    """

    centres: torch.Tensor
    scales: torch.Tensor
    fractions: torch.Tensor
    labels: torch.Tensor


def _nearest(x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    return torch.cat(
        [torch.cdist(x[i : i + _CHUNK], centres).argmin(1) for i in range(0, len(x), _CHUNK)]
    )


def fit_clusters(x: np.ndarray, k: int, seed: int) -> Clusters:
    """Lloyd's k-means of ``x`` ``(N, d)`` (float32, standardized) with ``k`` clusters.

    The centres start at ``k`` random points (drawn with replacement if ``N < k``: the
    repeated ones stay empty) and move over a random subsample of at most 20,000
    points for 25 iterations; every point is then assigned to its nearest centre.
    """
    rng = np.random.default_rng(seed)
    points = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    n, d = points.shape
    sub = points[rng.permutation(n)[:_SUBSAMPLE]]
    centres = sub[rng.choice(len(sub), size=k, replace=len(sub) < k)].clone()
    for _ in range(_ITERATIONS):
        labels = _nearest(sub, centres)
        counts = torch.bincount(labels, minlength=k)
        sums = torch.zeros(k, d).index_add_(0, labels, sub)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None]
    labels = _nearest(points, centres)
    counts = torch.bincount(labels, minlength=k).to(torch.float64)
    sums = torch.zeros(k, d, dtype=torch.float64).index_add_(0, labels, points.double())
    squares = torch.zeros(k, d, dtype=torch.float64).index_add_(0, labels, points.double() ** 2)
    many = counts > 1
    mean = sums[many] / counts[many, None]
    variance = (squares[many] - counts[many, None] * mean**2) / (counts[many, None] - 1)
    scales = torch.ones(k, d, dtype=torch.float64)
    scales[many] = variance.clamp(min=0).sqrt()
    if bool(many.any()) and not bool(many.all()):
        scales[~many] = scales[many].median(0).values
    return Clusters(
        centres=centres,
        scales=scales.clamp(min=_MIN_SCALE).float(),
        fractions=(counts / n).float(),
        labels=labels,
    )
