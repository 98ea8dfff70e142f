"""Tests between two weighted histograms (a chi-square and a Kolmogorov-Smirnov test that use
the sums of squared weights) and the weighted calibration curve of a classifier."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import boost_histogram as bh
import numpy as np

from dctrgan.stats._checks import FloatArray, check_axes, hist_values, hist_variances

__all__ = ("CalibrationCurve", "KSTest", "calibration_curve", "chi2_test", "ks_test")


class KSTest(NamedTuple):
    """Result of :func:`ks_test`: the distance, its approximate p-value, the effective size."""

    distance: float
    p_value: float
    n_eff: float


def _contents(h1: Any, h2: Any, who: str, flow: bool) -> tuple[FloatArray, ...]:
    """Sums of weights and of squared weights of two histograms with matching axes."""
    check_axes(h1, h2, who)
    n1, n2 = hist_values(h1, flow).ravel(), hist_values(h2, flow).ravel()
    v1, v2 = hist_variances(h1, who, flow).ravel(), hist_variances(h2, who, flow).ravel()
    for name, n in (("h1", n1), ("h2", n2)):
        if not n.sum() > 0:
            msg = f"{who}: the histogram {name!r} has no positive content ({n.sum()!r})"
            raise ValueError(msg)
    return n1, v1, n2, v2


def chi2_test(h1: Any, h2: Any, *, flow: bool = False) -> tuple[float, int]:
    """Chi-square of the shapes of two weighted histograms, and its degrees of freedom.

    ``chi2 = sum_i (n1_i/N1 - n2_i/N2)^2 / (s1_i^2/N1^2 + s2_i^2/N2^2)`` over the bins
    with entries in either histogram (``s^2`` the sum of squared weights of the bin,
    ``N`` the sum of weights), ``ndf`` = those bins - 1 (the shapes are compared, the
    normalisation is not). For two samples of one distribution ``chi2 / ndf`` is about 1
    (exactly 1 on average for unweighted counts in the large-sample limit; with weights
    the variances are estimated from the weights, which is accurate when each bin has
    many effective entries).

    Args:
        h1: uhi histogram with ``Weight()`` storage (or unweighted counts).
        h2: the same, with the same axes.
        flow: include the flow bins.

    Returns:
        ``(chi2, ndf)``.

    Raises:
        ValueError: if the axes differ (see :mod:`dctrgan.stats`), a histogram lacks its
            sum of squared weights or has no positive content, or fewer than two bins
            have entries.

    References:
        N. D. Gagunashvili, "Comparison of weighted and unweighted histograms",
        arXiv:physics/0605123 (the normalised form with the variances of both).
    """
    who = "chi2_test"
    n1, v1, n2, v2 = _contents(h1, h2, who, flow)
    t1, t2 = n1.sum(), n2.sum()
    variance = v1 / t1**2 + v2 / t2**2
    used = variance > 0
    bins = int(used.sum())
    if bins < 2:
        msg = f"{who}: {bins} bin(s) with entries; a shape comparison needs two"
        raise ValueError(msg)
    diff = n1[used] / t1 - n2[used] / t2
    return float(np.sum(diff**2 / variance[used])), bins - 1


def _kolmogorov(x: float) -> float:
    """``P(K > x)`` of the Kolmogorov distribution (series of Numerical Recipes' probks)."""
    if x < 0.2:
        return 1.0
    j = np.arange(1, 101)
    terms = 2 * (-1.0) ** (j - 1) * np.exp(-2 * j**2 * x**2)
    return float(min(max(terms.sum(), 0.0), 1.0))


def ks_test(h1: Any, h2: Any, *, flow: bool = False) -> KSTest:
    r"""Weighted Kolmogorov-Smirnov distance of two 1-D histograms, with an approximate p-value.

    :math:`D = \max_i \lvert F_{1,i} - F_{2,i} \rvert` over the bin edges, :math:`F` the
    cumulative sums of weights normalised to 1. The p-value is the asymptotic Kolmogorov
    one, :math:`Q\big((\sqrt{n} + 0.12 + 0.11/\sqrt{n})\, D\big)` with
    :math:`n = n_1 n_2 / (n_1 + n_2)` and :math:`n_1`, :math:`n_2` the effective entries
    :math:`(\sum w)^2 / \sum w^2` of the histograms (Stephens'
    form, as in Numerical Recipes). Two approximations: effective entries in place of
    event counts (exact for weights independent of the observable), and the binning,
    which can only lower ``D`` (the CDFs are compared at the edges only), so the
    p-value is conservative: too large, never too small.

    Args:
        h1: 1-D uhi histogram with ``Weight()`` storage (or unweighted counts), numeric axis.
        h2: the same, with the same axis.
        flow: include the flow bins (events below and above the range).

    Returns:
        ``KSTest(distance, p_value, n_eff)``, ``n_eff`` the ``n`` above.

    Raises:
        ValueError: if the axes differ, are not one numeric axis, or a histogram lacks
            its sum of squared weights or positive content.

    References:
        M. A. Stephens, J. R. Stat. Soc. B 32 (1970) 115; Numerical Recipes, sec. 14.3.
    """
    who = "ks_test"
    axes = list(getattr(h1, "axes", [])) or [None]
    if len(axes) != 1 or isinstance(axes[0], (bh.axis.StrCategory, bh.axis.IntCategory)):
        msg = f"{who}: needs 1-D histograms with a numeric axis, got {len(axes)} axes {axes}"
        raise ValueError(msg)
    n1, v1, n2, v2 = _contents(h1, h2, who, flow)
    f1, f2 = np.cumsum(n1) / n1.sum(), np.cumsum(n2) / n2.sum()
    distance = float(np.max(np.abs(f1 - f2)))
    e1, e2 = n1.sum() ** 2 / v1.sum(), n2.sum() ** 2 / v2.sum()
    n = e1 * e2 / (e1 + e2)
    p = _kolmogorov((math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * distance)
    return KSTest(distance, p, float(n))


@dataclasses.dataclass(frozen=True)
class CalibrationCurve:
    r"""A weighted reliability curve (:func:`calibration_curve`); arrays of one value per bin.

    Attributes:
        edges: ``(B + 1,)`` bin edges in the predicted probability.
        predicted: weighted mean predicted probability in each bin.
        observed: weighted fraction of positives in each bin.
        error: binomial uncertainty of ``observed``, :math:`\sqrt{f (1 - f) / n_\text{eff}}`.
        n_eff: effective events :math:`(\sum w)^2 / \sum w^2` in each bin.
    """

    edges: FloatArray
    predicted: FloatArray
    observed: FloatArray
    error: FloatArray
    n_eff: FloatArray


def calibration_curve(
    scores: Any, labels: Any, weights: Any = None, *, bins: int | Any = 10
) -> CalibrationCurve:
    """The fraction of positives against the mean predicted probability, in bins of the latter.

    A calibrated classifier lies on the diagonal: of the events predicted at ``p``, a
    fraction ``p`` are positives. Bins whose weights do not sum to a positive number
    (empty ones, or signed weights that cancel) are ``nan``.

    Args:
        scores: ``(N,)`` predicted probabilities of the positive class, in [0, 1].
        labels: ``(N,)`` 1 for positive events, 0 for negative ones.
        weights: ``(N,)`` event weights (default 1).
        bins: number of equal bins on [0, 1], or the edges.

    Returns:
        The :class:`CalibrationCurve`.

    Raises:
        ValueError: for mismatched shapes, scores outside [0, 1], labels other than 0
            and 1, non-finite weights, or bad bins.
    """
    who = "calibration_curve"
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    w = np.ones_like(s) if weights is None else np.asarray(weights, dtype=np.float64)
    if s.ndim != 1 or y.shape != s.shape or w.shape != s.shape:
        msg = f"{who}: scores, labels and weights have shapes {s.shape}, {y.shape}, {w.shape}"
        raise ValueError(msg)
    if not (np.isfinite(s).all() and (s >= 0).all() and (s <= 1).all()):
        msg = f"{who}: scores must be probabilities in [0, 1]"
        raise ValueError(msg)
    if not np.isin(y, (0, 1)).all():
        msg = f"{who}: labels must be 0 or 1"
        raise ValueError(msg)
    if not np.isfinite(w).all():
        msg = f"{who}: {int((~np.isfinite(w)).sum())} non-finite weight(s)"
        raise ValueError(msg)
    edges = np.linspace(0, 1, int(bins) + 1) if np.ndim(bins) == 0 else np.asarray(bins, float)
    if edges.ndim != 1 or len(edges) < 2 or not (np.diff(edges) > 0).all():
        msg = f"{who}: bins must be a positive number or increasing edges, got {bins!r}"
        raise ValueError(msg)
    index = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, len(edges) - 2)
    inside = (s >= edges[0]) & (s <= edges[-1])

    def per_bin(values: FloatArray) -> FloatArray:
        counts = np.bincount(index[inside], values[inside], minlength=len(edges) - 1)
        return np.asarray(counts, dtype=np.float64)

    sw, sw2 = per_bin(w), per_bin(w**2)
    ok = sw > 0
    nan = np.full(len(sw), np.nan)
    predicted, observed, n_eff = nan.copy(), nan.copy(), nan.copy()
    predicted[ok] = per_bin(w * s)[ok] / sw[ok]
    observed[ok] = per_bin(w * y)[ok] / sw[ok]
    n_eff[ok] = sw[ok] ** 2 / sw2[ok]
    error = np.sqrt(np.clip(observed * (1 - observed), 0, None) / n_eff)
    return CalibrationCurve(edges, predicted, observed, error, n_eff)
