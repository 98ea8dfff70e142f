"""Gaussian-mixture toys of the DCTRGAN paper, with exact densities.

Three mixtures of isotropic Gaussians (DCTRGAN eqs. 12-14):

- :data:`bimodal_1d`: ``1/2 N(-1, 0.4) + 1/2 N(1, 0.4)``;
- :data:`circle_2d`: 8 Gaussians of width 0.1 centred on the unit circle at
  angles ``2 pi i / 8``;
- :data:`grid_2d`: 25 Gaussians of width 0.1 centred at ``(i + 0.1, j + 0.1)``,
  ``i, j = 1..5``.

Each is a :class:`GaussianMixture` with ``sample(n, seed)`` and the exact
``pdf(x)``, so the true weight ``p_T / p_G`` is known wherever ``p_G`` is.

References:
    DCTRGAN (Diefenbacher et al.), sec. III A, eqs. 12-14.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

__all__ = ("GaussianMixture", "bimodal_1d", "circle_2d", "grid_2d")


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


@dataclasses.dataclass(frozen=True, eq=False)
class GaussianMixture:
    """A mixture of isotropic Gaussians in ``d`` dimensions.

    Mode ``k`` is ``N(means[k], sigmas[k]^2 * I)`` with probability ``weights[k]``.
    The arrays are stored read-only.

    Args:
        means: ``(K, d)`` mode centres (a ``(K,)`` array means ``d = 1``).
        sigmas: standard deviation of each mode, ``(K,)``, or one number for all.
        weights: ``(K,)`` mode probabilities (normalized to unit sum); default equal.

    Example:
        >>> x = circle_2d.sample(1000, seed=1)   # (1000, 2)
        >>> p = circle_2d.pdf(x)                 # (1000,)
    """

    means: np.ndarray
    sigmas: np.ndarray | float
    weights: np.ndarray | None = None

    def __post_init__(self) -> None:
        means = np.array(self.means, dtype=np.float64)
        if means.ndim == 1:
            means = means[:, None]
        if means.ndim != 2 or means.shape[0] == 0:
            msg = f"GaussianMixture: means must have shape (K, d), got {np.shape(self.means)}"
            raise ValueError(msg)
        k = means.shape[0]
        sigmas = np.broadcast_to(np.asarray(self.sigmas, dtype=np.float64), (k,)).copy()
        if not np.all(np.isfinite(sigmas) & (sigmas > 0)):
            msg = f"GaussianMixture: sigmas must be positive and finite, got {self.sigmas}"
            raise ValueError(msg)
        raw = np.ones(k) if self.weights is None else np.asarray(self.weights, dtype=np.float64)
        if raw.shape != (k,) or not np.all(np.isfinite(raw) & (raw >= 0)) or raw.sum() <= 0:
            msg = f"GaussianMixture: weights must be {k} non-negative numbers, got {self.weights}"
            raise ValueError(msg)
        object.__setattr__(self, "means", _readonly(means))
        object.__setattr__(self, "sigmas", _readonly(sigmas))
        object.__setattr__(self, "weights", _readonly(raw / raw.sum()))

    @property
    def dim(self) -> int:
        """Dimension ``d`` of the space."""
        return int(np.shape(self.means)[1])

    @property
    def n_modes(self) -> int:
        """Number of modes ``K``."""
        return int(np.shape(self.means)[0])

    def _points(self, x: Any) -> np.ndarray:
        points = np.asarray(x, dtype=np.float64)
        if self.dim == 1 and points.ndim == 1:
            points = points[:, None]
        if points.ndim != 2 or points.shape[1] != self.dim:
            msg = f"x: expected shape (N, {self.dim}), got {np.shape(x)}"
            raise ValueError(msg)
        return points

    def _log_components(self, x: np.ndarray) -> np.ndarray:
        """``(N, K)`` log of ``weights[k] * N(x; means[k], sigmas[k])``."""
        means = np.asarray(self.means)
        sigmas = np.asarray(self.sigmas)
        d2 = ((x[:, None, :] - means[None, :, :]) ** 2).sum(axis=-1)
        log_norm = -self.dim * (np.log(sigmas) + 0.5 * math.log(2 * math.pi))
        with np.errstate(divide="ignore"):
            log_w = np.log(np.asarray(self.weights))
        return np.asarray(log_w + log_norm - 0.5 * d2 / sigmas**2)

    def log_pdf(self, x: Any) -> np.ndarray:
        """Natural log of the density at ``x``: ``(N, d)`` points (or ``(N,)`` in 1D) ->
        ``(N,)``."""
        log_c = self._log_components(self._points(x))
        top = log_c.max(axis=1)
        finite = np.isfinite(top)
        shift = np.where(finite, top, 0.0)
        return np.asarray(np.log(np.exp(log_c - shift[:, None]).sum(axis=1)) + shift)

    def pdf(self, x: Any) -> np.ndarray:
        """Exact density at ``x``: ``(N, d)`` points (or ``(N,)`` in 1D) -> ``(N,)``."""
        return np.asarray(np.exp(self.log_pdf(x)))

    def assign(self, x: Any) -> np.ndarray:
        """Most probable mode of each point: ``(N, d)`` -> ``(N,)`` indices into ``means``."""
        return np.asarray(np.argmax(self._log_components(self._points(x)), axis=1))

    def sample(self, n: int, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """Draw ``n`` points.

        Args:
            n: number of points.
            seed: seed or generator; the same seed gives the same points.

        Returns:
            ``(n, d)`` float64 points.
        """
        if n < 0:
            msg = f"n must be non-negative, got {n}"
            raise ValueError(msg)
        rng = np.random.default_rng(seed)
        modes = rng.choice(self.n_modes, size=n, p=np.asarray(self.weights))
        noise = rng.standard_normal((n, self.dim))
        return np.asarray(self.means)[modes] + np.asarray(self.sigmas)[modes, None] * noise


_angles = 2 * np.pi * np.arange(1, 9) / 8
_grid = np.arange(1, 6) + 0.1

#: DCTRGAN eq. 12: ``1/2 N(-1, 0.4) + 1/2 N(1, 0.4)``.
bimodal_1d = GaussianMixture(np.array([[-1.0], [1.0]]), 0.4)
#: DCTRGAN eq. 13: 8 Gaussians (sigma 0.1) on the unit circle.
circle_2d = GaussianMixture(np.column_stack([np.cos(_angles), np.sin(_angles)]), 0.1)
#: DCTRGAN eq. 14: 5 x 5 Gaussians (sigma 0.1) at ``(i + 0.1, j + 0.1)``, ``i, j = 1..5``.
grid_2d = GaussianMixture(np.array([(i, j) for i in _grid for j in _grid]), 0.1)
