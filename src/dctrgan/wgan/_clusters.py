"""The Gaussian-mixture clusters of a self-conditioned WGAN for points
(:class:`dctrgan.nn.gan.PointGenerator`).

Private helper of :mod:`dctrgan.wgan`.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np
import torch

__all__ = ("Clusters", "fit_clusters")

log = logging.getLogger(__name__)

#: The most points the mixture is fitted on (a random subsample).
_SUBSAMPLE = 10_000
#: EM iterations at most, and the gain in mean log-likelihood per point that ends them:
#: while the number of components is scanned, and for the final fits of the chosen one.
_SCAN = (100, 1e-4)
_FINAL = (300, 1e-6)
#: Final fits of the chosen number (greedy k-means++ starts; the most likely one counts).
_STARTS = 3
#: Numbers of components tried past the best BIC before the scan stops.
_PATIENCE = 4
#: Points whose responsibilities are computed at a time.
_CHUNK = 65_536
#: Smallest per-axis scale of a component (the points are standardized).
_MIN_SCALE = 1e-3


@dataclasses.dataclass(frozen=True)
class Clusters:
    """The components of a Gaussian mixture of standardized points.

    Attributes:
        centres: ``(K, d)`` component means.
        scales: ``(K, d)`` per-axis standard deviations (at least 1e-3).
        fractions: ``(K,)`` the components' shares of the points: 0 for the components
            beyond the number the BIC chose.
        labels: ``(N,)`` int64 component of every point, drawn from its responsibilities.
    """

    centres: torch.Tensor
    scales: torch.Tensor
    fractions: torch.Tensor
    labels: torch.Tensor

    @property
    def used(self) -> int:
        """The number of components with points."""
        return int((self.fractions > 0).sum())


@dataclasses.dataclass(frozen=True)
class _Mixture:
    means: torch.Tensor  # (k, d)
    variances: torch.Tensor  # (k, d)
    fractions: torch.Tensor  # (k,)

    def log_joint(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, k)`` log of fraction times density of every point in every component.

        The squared distances come from three products (no ``(n, k, d)`` array).
        """
        precision = 1.0 / self.variances
        squared = (
            (x * x) @ precision.T
            - 2.0 * x @ (self.means * precision).T
            + (self.means**2 * precision).sum(1)
        )
        norm = torch.log(self.fractions) - 0.5 * torch.log(2 * math.pi * self.variances).sum(1)
        return norm - 0.5 * squared


def _kmeans_plus_plus(x: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """``k`` starting means by greedy k-means++: each new mean is the best of
    ``2 + log k`` candidates drawn with probability growing as the squared distance to
    the nearest mean drawn before (Arthur and Vassilvitskii 2007), the one that lowers
    the sum of those distances most. Plain k-means++ often leaves one of many separated
    modes without a mean and spreads another mean over two (25 modes: EM from most
    plain starts ends there)."""
    tries = 2 + int(math.log(k))
    first = int(torch.randint(len(x), (1,), generator=generator))
    means = [x[first]]
    nearest = ((x - x[first]) ** 2).sum(1)
    for _ in range(1, k):
        total = nearest.sum()
        probability = nearest / total if total > 0 else torch.full_like(nearest, 1 / len(x))
        picks = torch.multinomial(probability, tries, replacement=True, generator=generator)
        options = torch.minimum(nearest, torch.cdist(x[picks], x) ** 2)  # (tries, n)
        best = int(options.sum(1).argmin())
        means.append(x[picks[best]])
        nearest = options[best]
    return torch.stack(means)


def _em(
    x: torch.Tensor, k: int, generator: torch.Generator, limits: tuple[int, float]
) -> tuple[_Mixture, float]:
    """EM of a diagonal mixture of ``k`` components from a greedy k-means++ start, for
    at most ``limits = (iterations, tolerance)``; the mixture and its total
    log-likelihood."""
    iterations, tolerance = limits
    n, d = x.shape
    spread = x.var(0).clamp(min=_MIN_SCALE**2) / k ** (2 / d)
    mixture = _Mixture(
        _kmeans_plus_plus(x, k, generator),
        spread.expand(k, d).clone(),
        torch.full((k,), 1.0 / k, dtype=x.dtype),
    )
    previous = -math.inf
    total = -math.inf
    for _ in range(iterations):
        joint = mixture.log_joint(x)
        per_point = torch.logsumexp(joint, 1)
        total = float(per_point.sum())
        responsibility = torch.exp(joint - per_point[:, None])
        counts = responsibility.sum(0) + 1e-10
        means = (responsibility.T @ x) / counts[:, None]
        variances = (responsibility.T @ (x * x)) / counts[:, None] - means**2
        mixture = _Mixture(means, variances.clamp(min=_MIN_SCALE**2), counts / n)
        if total / n - previous < tolerance:
            break
        previous = total / n
    return mixture, total


def _best_mixture(x: torch.Tensor, k_max: int, seed: int) -> _Mixture:
    """The mixture of at most ``k_max`` components with the smallest BIC.

    The number of components rises from 1 (one short fit each) and stops
    :data:`_PATIENCE` past the best; the best number is then fitted :data:`_STARTS`
    times to convergence, and the most likely fit is kept.
    """
    generator = torch.Generator().manual_seed(seed)
    n, d = x.shape
    best: tuple[float, int] | None = None
    since = 0
    for k in range(1, min(k_max, n) + 1):
        _, likelihood = _em(x, k, generator, _SCAN)
        parameters = k * (2 * d + 1) - 1
        bic = -2.0 * likelihood + parameters * math.log(n)
        if best is None or bic < best[0]:
            best, since = (bic, k), 0
        else:
            since += 1
            if since >= _PATIENCE:
                break
    assert best is not None  # k_max >= 1
    fits = [_em(x, best[1], generator, _FINAL) for _ in range(_STARTS)]
    return max(fits, key=lambda fit: fit[1])[0]


def fit_clusters(x: np.ndarray, k: int, seed: int) -> Clusters:
    """A diagonal Gaussian mixture of ``x`` ``(N, d)`` (standardized) with at most ``k``
    components, their number chosen by the BIC.

    The mixture is fitted by EM from greedy k-means++ starts on a random subsample of
    at most 10,000 points: the number of components rises from 1 (a short fit each)
    until the BIC has not improved for 4 numbers in a row, and the best number is
    fitted three times to convergence (the most likely fit is kept). Every point's
    component is then drawn from its responsibilities, and the components' fractions
    are those of the drawn labels of all ``N`` points (a subsample's shares would put
    mode masses off by its counting error). Components past the chosen number are
    empty (fraction 0, never drawn).
    """
    rng = np.random.default_rng(seed)
    points = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))
    n, d = points.shape
    sub = points[torch.from_numpy(rng.permutation(n)[:_SUBSAMPLE])]
    mixture = _best_mixture(sub, k, seed)
    used = len(mixture.fractions)
    log.info("WGAN: a Gaussian mixture of %d components (at most %d, by BIC)", used, k)
    generator = torch.Generator().manual_seed(seed)
    labels = torch.cat(
        [_draw(mixture.log_joint(points[i : i + _CHUNK]), generator) for i in range(0, n, _CHUNK)]
    )
    centres, scales = torch.zeros(k, d), torch.ones(k, d)
    centres[:used] = mixture.means.float()
    scales[:used] = mixture.variances.sqrt().float()
    fractions = torch.bincount(labels, minlength=k).float() / n
    return Clusters(centres=centres, scales=scales, fractions=fractions, labels=labels)


def _draw(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One index per row with probabilities ``softmax(logits)`` (the Gumbel-max trick)."""
    uniform = torch.rand(logits.shape, generator=generator, dtype=logits.dtype)
    gumbel = -torch.log(-torch.log(uniform.clamp(min=1e-300)))
    return (logits + gumbel).argmax(1)
