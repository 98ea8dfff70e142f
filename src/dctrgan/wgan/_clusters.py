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
#: Points assigned per distance matrix, and the most differences held at once.
_CHUNK = 65_536
_ELEMENTS = 1 << 22
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
        labels: ``(N,)`` int64 cluster of every point (drawn; see :func:`fit_clusters`).
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
    points for 25 iterations. Every point's cluster is then drawn from the clusters'
    responsibilities as a Gaussian mixture (centres, per-axis scales and fractions of
    the nearest-centre assignment): soft k-means. A cluster's points thin out smoothly
    at its edges instead of ending at the wall of its Voronoi cell, which a generator
    of that cluster could only follow with sharp edges; the clusters' sum is still
    the data.
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
    fractions, scales = _moments(points, _nearest(points, centres), k)
    labels = _soft(points, centres, scales, fractions, seed)
    fractions, scales = _moments(points, labels, k)
    return Clusters(centres=centres, scales=scales, fractions=fractions, labels=labels)


def _soft(
    points: torch.Tensor,
    centres: torch.Tensor,
    scales: torch.Tensor,
    fractions: torch.Tensor,
    seed: int,
) -> torch.Tensor:
    """Labels drawn from the clusters' responsibilities as a Gaussian mixture (one E step
    of a diagonal mixture with the k-means centres, scales and fractions)."""
    generator = torch.Generator().manual_seed(seed)
    log_prior = torch.log(fractions.clamp(min=1e-12)) - torch.log(scales).sum(1)
    chunk = max(1, _ELEMENTS // centres.numel())  # (chunk, K, d) differences at a time
    out = []
    for i in range(0, len(points), chunk):
        u = (points[i : i + chunk, None, :] - centres) / scales
        logits = log_prior - 0.5 * (u**2).sum(-1)
        gumbel = -torch.log(-torch.log(torch.rand(logits.shape, generator=generator)))
        out.append((logits + gumbel).argmax(1))
    return torch.cat(out)


def _moments(
    points: torch.Tensor, labels: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The clusters' fractions and per-axis scales (see :class:`Clusters`)."""
    n, d = points.shape
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
    return (counts / n).float(), scales.clamp(min=_MIN_SCALE).float()
