"""Fréchet and kernel physics distances between two samples of features, with weights.

The generative-model literature of particle physics compares a model with its reference
on high-level features by two distances (Kansal et al. 2023, the ``jetnet`` package),
which the Fast Calorimeter Simulation Challenge reports as well:

- :func:`fpd`, the Fréchet physics distance: the Fréchet distance between Gaussians of
  the two samples' means and covariances,
  ``|mu_1 - mu_2|^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))``, computed on subsets of
  increasing size ``n`` and extrapolated linearly in ``1 / n`` to infinite samples (it
  is biased by ``O(1 / n)``);
- :func:`kpd`, the kernel physics distance: the unbiased estimate of the squared
  maximum mean discrepancy with the cubic polynomial kernel ``k(x, y) = (x . y / d +
  1)^3``, its median over batches and half the interquartile range as the error.

The published implementations take unweighted samples; here every event has a weight
(DCTR weights, generator weights): means and covariances are weighted (with the
reliability-weights correction :math:`W^2 / (W^2 - Σ w^2)`, the ``N / (N - 1)`` of unit
weights), and the MMD's pair sums are weighted, ``sum_{i != j} w_i w_j k(x_i, x_j) /
sum_{i != j} w_i w_j`` within a sample, which is the unbiased estimator for unit
weights. Features are divided by their largest absolute value in either sample first
(``normalise=True``), so that the kernel's ``x . y / d`` is at most 1. ``jetnet``
divides by the reference's largest value alone; that lets a feature which is almost
constant in the reference (a shower width of ``1e-6`` mm from rounding in a layer whose
energy sits in one radial bin) but spread in the model swell the distance by ten
orders of magnitude, so both samples set the scale here.

References:
    R. Kansal, A. Li, J. Duarte, N. Chernyavskaya, M. Pierini, B. Orzari, T. Tomei,
    "Evaluating generative models in high energy physics", Phys. Rev. D 107 (2023)
    076017, arXiv:2211.10295.
    A. Gretton et al., "A kernel two-sample test", JMLR 13 (2012) 723 (the unbiased MMD).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

from dctrgan.stats._checks import FloatArray, sample, weights_of

__all__ = ("Distance", "fpd", "kpd")

#: Rows of one block of the kernel matrix (bounded memory for any batch size).
_BLOCK = 1024


@dataclasses.dataclass(frozen=True)
class Distance:
    """A distance between two samples and its uncertainty.

    Attributes:
        value: the distance (FPD extrapolated to infinite samples; KPD the median over
            batches).
        error: its uncertainty (FPD: of the extrapolation's intercept; KPD: half the
            interquartile range over batches).
    """

    value: float
    error: float

    def __str__(self) -> str:
        return f"{self.value:.4g} ± {self.error:.2g}"


def _inputs(
    reference: npt.ArrayLike,
    model: npt.ArrayLike,
    reference_weights: npt.ArrayLike | None,
    model_weights: npt.ArrayLike | None,
    normalise: bool,
    who: str,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Both samples as ``(N, d)`` float64 (normalised) and their checked weights."""
    x = sample(reference, who, "reference")
    y = sample(model, who, "model")
    x = x.reshape(len(x), -1)
    y = y.reshape(len(y), -1)
    if x.shape[1] != y.shape[1]:
        msg = f"{who}: reference has {x.shape[1]} features, model {y.shape[1]}"
        raise ValueError(msg)
    wx = weights_of(reference_weights, len(x), who, "reference_weights")
    wy = weights_of(model_weights, len(y), who, "model_weights")
    if normalise:
        largest = np.maximum(np.abs(x).max(axis=0, initial=0.0), np.abs(y).max(axis=0, initial=0.0))
        scale = np.where(largest > 0, largest, 1.0)
        x, y = x / scale, y / scale
    return x, y, wx, wy


def _moments(x: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Weighted mean and covariance (reliability weights: unbiased for unit weights)."""
    total = w.sum()
    mean = w @ x / total
    centred = x - mean
    cov = (centred * w[:, None]).T @ centred / total
    effective = total**2 - (w**2).sum()
    if effective > 0:
        cov *= total**2 / effective
    return mean, cov


def _frechet(x: FloatArray, wx: FloatArray, y: FloatArray, wy: FloatArray) -> float:
    """The Fréchet distance of the Gaussians of two weighted samples."""
    mu1, s1 = _moments(x, wx)
    mu2, s2 = _moments(y, wy)
    values, vectors = np.linalg.eigh(s1)
    root = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    middle = root @ s2 @ root
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh(0.5 * (middle + middle.T)), 0.0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * trace_root)


def fpd(
    reference: npt.ArrayLike,
    model: npt.ArrayLike,
    *,
    reference_weights: npt.ArrayLike | None = None,
    model_weights: npt.ArrayLike | None = None,
    normalise: bool = True,
    min_samples: int = 20_000,
    max_samples: int = 50_000,
    num_batches: int = 20,
    num_points: int = 10,
    seed: int = 0,
) -> Distance:
    """The Fréchet physics distance between two weighted samples, extrapolated in ``1/n``.

    At ``num_points`` subset sizes ``n`` from ``min_samples`` to ``max_samples`` (at most
    the smaller sample's size; the smallest at least 40 % of the largest), the mean of
    the distance over ``num_batches`` random subsets of each sample (without
    replacement, with their weights); a straight line in ``1 / n`` through those
    means gives the value at ``1 / n = 0`` and its standard error.

    Args:
        reference: ``(N1, d)`` features of the reference (``(N1,)`` for one feature).
        model: ``(N2, d)`` features of the model.
        reference_weights: ``(N1,)`` weights (default 1).
        model_weights: ``(N2,)`` weights (default 1), e.g. DCTR weights.
        normalise: divide every feature by its largest ``|value|`` in either sample first.
        min_samples: the smallest subset size.
        max_samples: the largest subset size.
        num_batches: subsets per size.
        num_points: sizes.
        seed: seed of the subsets.

    Raises:
        ValueError: for empty or non-finite samples, different feature counts, or bad
            weights (naming the argument).
    """
    x, y, wx, wy = _inputs(reference, model, reference_weights, model_weights, normalise, "fpd")
    rng = np.random.default_rng(seed)
    largest = min(max_samples, len(x), len(y))
    smallest = max(min(min_samples, largest), int(0.4 * largest), 2)
    sizes = np.unique(np.linspace(smallest, largest, num_points).astype(int))
    means = []
    for n in sizes:
        values = []
        for _ in range(num_batches):
            i = rng.choice(len(x), n, replace=False)
            j = rng.choice(len(y), n, replace=False)
            values.append(_frechet(x[i], wx[i], y[j], wy[j]))
        means.append(np.mean(values))
    if len(sizes) < 3:
        return Distance(float(means[-1]), float(np.std(values) / np.sqrt(num_batches)))
    inverse = 1.0 / sizes
    (_, intercept), cov = np.polyfit(inverse, np.asarray(means), 1, cov=True)
    return Distance(float(intercept), float(np.sqrt(max(cov[1, 1], 0.0))))


def _kernel_sum(a: FloatArray, wa: FloatArray, b: FloatArray, wb: FloatArray) -> float:
    """``sum_ij wa_i wb_j (a_i . b_j / d + 1)^3``, computed in blocks of rows."""
    d = a.shape[1]
    total = 0.0
    for start in range(0, len(a), _BLOCK):
        block = (a[start : start + _BLOCK] @ b.T / d + 1.0) ** 3
        total += float(wa[start : start + _BLOCK] @ block @ wb)
    return total


def _mmd2(x: FloatArray, wx: FloatArray, y: FloatArray, wy: FloatArray) -> float:
    """The weighted unbiased squared MMD with the cubic polynomial kernel."""
    d = x.shape[1]

    def within(a: FloatArray, w: FloatArray) -> float:
        diagonal = float((w**2) @ ((np.einsum("ij,ij->i", a, a) / d + 1.0) ** 3))
        pairs = float(w.sum() ** 2 - (w**2).sum())
        return (_kernel_sum(a, w, a, w) - diagonal) / pairs

    across = _kernel_sum(x, wx, y, wy) / float(wx.sum() * wy.sum())
    return within(x, wx) + within(y, wy) - 2.0 * across


def kpd(
    reference: npt.ArrayLike,
    model: npt.ArrayLike,
    *,
    reference_weights: npt.ArrayLike | None = None,
    model_weights: npt.ArrayLike | None = None,
    normalise: bool = True,
    num_batches: int = 10,
    batch_size: int = 5_000,
    seed: int = 0,
) -> Distance:
    """The kernel physics distance between two weighted samples: the median over batches
    of the unbiased squared MMD with the kernel ``(x . y / d + 1)^3``.

    Args:
        reference: ``(N1, d)`` features of the reference (``(N1,)`` for one feature).
        model: ``(N2, d)`` features of the model.
        reference_weights: ``(N1,)`` weights (default 1).
        model_weights: ``(N2,)`` weights (default 1), e.g. DCTR weights.
        normalise: divide every feature by its largest ``|value|`` in either sample first.
        num_batches: batches.
        batch_size: events of each sample per batch, drawn with replacement (as
            ``jetnet`` does: batches of the whole sample still differ).
        seed: seed of the batches.

    Returns:
        The median and half the interquartile range over the batches. Near 0 (either
        sign) for samples of the same distribution.

    Raises:
        ValueError: for samples with fewer than two events, different feature counts,
            or bad weights (naming the argument).
    """
    x, y, wx, wy = _inputs(reference, model, reference_weights, model_weights, normalise, "kpd")
    if min(len(x), len(y)) < 2:
        msg = f"kpd: needs two events per sample, got {len(x)} and {len(y)}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num_batches):
        i = rng.choice(len(x), batch_size)
        j = rng.choice(len(y), batch_size)
        values.append(_mmd2(x[i], wx[i], y[j], wy[j]))
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return Distance(float(median), float(0.5 * (q3 - q1)))
