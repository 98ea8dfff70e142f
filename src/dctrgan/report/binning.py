"""The bins of a comparison: equal-width between percentiles of both samples, on
half-integers for integer-valued observables."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ("RANGE_PERCENTILES", "edges")

#: Percentiles of both samples together that bound the histograms.
RANGE_PERCENTILES = (0.1, 99.9)


def _is_integer(x: np.ndarray) -> bool:
    return bool(np.all(x == np.round(x)))


def edges(reference: Any, model: Any, bins: int = 30) -> np.ndarray:
    """Bin edges for comparing one observable in two samples.

    ``bins`` equal-width bins between the 0.1 and 99.9 percentiles of both samples
    together; for integer-valued samples the edges sit on half-integers and every bin
    spans the same number of integers.

    Args:
        reference: ``(N1,)`` values of the observable in the reference sample.
        model: ``(N2,)`` values in the model sample.
        bins: number of bins (>= 1).

    Returns:
        ``(bins + 1,)`` increasing edges.

    Raises:
        ValueError: for ``bins < 1``, or samples that are empty or not finite.
    """
    if bins < 1:
        msg = f"bins must be at least 1, got {bins}"
        raise ValueError(msg)
    both = np.concatenate([np.ravel(reference), np.ravel(model)]).astype(np.float64)
    if len(both) == 0 or not np.all(np.isfinite(both)):
        msg = "edges: the samples must hold finite values and not both be empty"
        raise ValueError(msg)
    lo, hi = (float(q) for q in np.percentile(both, RANGE_PERCENTILES))
    if _is_integer(both):
        width = max(1, math.ceil((math.floor(hi) - math.ceil(lo) + 1) / bins))
        start = math.ceil(lo) - 0.5
        return start + width * np.arange(bins + 1, dtype=np.float64)
    if hi <= lo:  # a (nearly) constant observable: one unit-wide range around it
        lo, hi = lo - 0.5, lo + 0.5
    return np.linspace(lo, hi, bins + 1)
