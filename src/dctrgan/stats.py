"""Statistics of (weighted) histograms and samples.

Separation power (DCTRGAN eq. 15) and effective entries; the weighted-sample
statistics of DCTRGAN sec. II B build on these.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ("effective_entries", "separation_power")


def _values(h: Any) -> np.ndarray:
    """Bin contents of a uhi histogram (hist, boost-histogram, ...) or an array."""
    if hasattr(h, "values") and callable(h.values):
        return np.asarray(h.values(), dtype=np.float64)
    return np.asarray(h, dtype=np.float64)


def separation_power(
    h1: Any,
    h2: Any,
    bins: Any = None,
    *,
    weights1: Any = None,
    weights2: Any = None,
) -> float:
    """Separation power ``<S^2> = 1/2 sum_i (p1_i - p2_i)^2 / (p1_i + p2_i)``.

    ``p`` are the bin contents normalized to unit sum, so the result is 0 for
    identical shapes, 1 for histograms that share no bin, and independent of the
    bin widths.

    Args:
        h1: a uhi histogram, or an array of bin contents; with ``bins``, a sample.
        h2: the same for the second distribution.
        bins: if given, ``h1`` and ``h2`` are samples histogrammed with these bins
            (anything ``numpy.histogram`` takes).
        weights1: per-event weights of the sample ``h1`` (with ``bins``).
        weights2: per-event weights of the sample ``h2`` (with ``bins``).

    Returns:
        The separation power, in [0, 1].

    Raises:
        ValueError: if the binnings differ or a histogram is empty.

    References:
        DCTRGAN (Diefenbacher et al.), eq. 15.
    """
    if bins is not None:
        x1, x2 = np.asarray(h1, dtype=np.float64), np.asarray(h2, dtype=np.float64)
        if isinstance(bins, int):
            both = np.concatenate([x1[np.isfinite(x1)], x2[np.isfinite(x2)]])
            bins = np.histogram_bin_edges(both, bins=bins)
        c1, _ = np.histogram(x1, bins=bins, weights=weights1)
        c2, _ = np.histogram(x2, bins=bins, weights=weights2)
    else:
        c1, c2 = _values(h1), _values(h2)
    if c1.shape != c2.shape:
        msg = f"separation_power: histograms have different shapes {c1.shape} and {c2.shape}"
        raise ValueError(msg)
    s1, s2 = c1.sum(), c2.sum()
    if s1 <= 0 or s2 <= 0:
        msg = "separation_power: a histogram has no (positive) content"
        raise ValueError(msg)
    p1, p2 = c1 / s1, c2 / s2
    total = p1 + p2
    nonzero = total > 0
    return float(0.5 * np.sum((p1[nonzero] - p2[nonzero]) ** 2 / total[nonzero]))


def effective_entries(weights: Any) -> float:
    """Kish effective number of entries ``(sum w)^2 / sum w^2`` of a weighted sample."""
    w = np.asarray(weights, dtype=np.float64)
    sw2 = float(np.sum(w * w))
    return float(np.sum(w)) ** 2 / sw2 if sw2 > 0 else 0.0
