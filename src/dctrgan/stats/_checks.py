"""Checks and conversions shared by the statistics (private): histograms or arrays in,
float64 arrays out, and the axis check of every comparison of two histograms."""

from __future__ import annotations

import math
import reprlib
from typing import Any

import boost_histogram as bh
import numpy as np
import numpy.typing as npt

__all__ = (
    "FloatArray",
    "_axis_differences",
    "_describe",
    "_edges",
    "check_axes",
    "hist_values",
    "hist_variances",
    "is_hist",
    "positive",
    "sample",
    "squeeze",
    "values_of",
    "weights_of",
)

FloatArray = npt.NDArray[np.float64]


def is_hist(h: Any) -> bool:
    """Whether ``h`` looks like a uhi histogram (has callable ``values``)."""
    return callable(getattr(h, "values", None)) and hasattr(h, "axes")


def hist_values(h: Any, flow: bool = False) -> FloatArray:
    """Bin contents of a uhi histogram, with the flow bins if ``flow``."""
    values = h.values(flow=True) if flow else h.values()
    return np.asarray(values, dtype=np.float64)


def hist_variances(h: Any, who: str, flow: bool = False) -> FloatArray:
    """Per-bin sum of squared weights of a uhi histogram.

    Raises:
        ValueError: if the histogram does not know its variances (a ``Double``
            storage filled with weights) or is not a counting histogram.
    """
    kind = str(getattr(h, "kind", "COUNT"))
    if "MEAN" in kind.upper():
        msg = f"{who}: a profile (mean storage) has no sum of weights per bin; use Weight() storage"
        raise ValueError(msg)
    variances = h.variances(flow=True) if flow else h.variances()
    if variances is None:
        msg = (
            f"{who}: the histogram does not know its sum of squared weights "
            "(filled with weights into a Double() storage); use Weight() storage"
        )
        raise ValueError(msg)
    return np.asarray(variances, dtype=np.float64)


def _edges(ax: Any) -> FloatArray | None:
    """Bin edges of a numeric axis (hist, boost-histogram, uproot); ``None`` for categories."""
    edges = getattr(ax, "edges", None)
    if isinstance(ax, (bh.axis.StrCategory, bh.axis.IntCategory)) or edges is None:
        return None
    return np.asarray(edges() if callable(edges) else edges, dtype=np.float64)


def _describe(ax: Any, e: FloatArray | None) -> str:
    """A short text for an axis, e.g. ``Regular(30, 0, 150)``."""
    if e is None:
        return f"{type(ax).__name__}({list(ax)[:6]!r}{', ...' if len(ax) > 6 else ''})"
    if isinstance(ax, bh.axis.Regular):
        transform = "" if ax.transform is None else f", transform={ax.transform!r}"
        return f"Regular({len(e) - 1}, {e[0]:.15g}, {e[-1]:.15g}{transform})"
    shown = [f"{x:.15g}" for x in e] if len(e) <= 6 else [*(f"{x:.15g}" for x in e[:3]), "..."]
    return f"{type(ax).__name__}([{', '.join(shown)}{'' if len(e) <= 6 else f', {e[-1]:.15g}'}])"


def _axis_differences(i: int, a: Any, b: Any) -> list[str]:
    """What differs between axis ``i`` of two histograms (empty if they match)."""
    found = []
    ea, eb = _edges(a), _edges(b)
    both = f"{_describe(a, ea)} vs {_describe(b, eb)}"
    if ea is None or eb is None:
        if ea is not None or eb is not None or type(a) is not type(b):
            found.append(f"axis {i} types differ: {both}")
        elif list(a) != list(b):
            found.append(f"axis {i} categories differ: {both}")
    elif ea.shape != eb.shape:
        found.append(f"axis {i} edges differ ({len(ea) - 1} vs {len(eb) - 1} bins): {both}")
    else:
        off = np.abs(ea - eb) > 1e-12 * max(float(np.max(np.abs(ea))), float(np.max(np.abs(eb))))
        if off.any():
            k = int(np.argmax(off))
            found.append(f"axis {i} edges differ (edge {k}: {ea[k]:.15g} vs {eb[k]:.15g}): {both}")
    # only hist axes carry names (boost-histogram's and uproot's do not)
    na, nb = (getattr(x, "name", "") if isinstance(x, bh.axis.Axis) else "" for x in (a, b))
    if na and nb and na != nb:
        found.append(f"axis {i} names differ: {na!r} vs {nb!r}")
    return found


def check_axes(h1: Any, h2: Any, who: str) -> None:
    """Raise a ``ValueError`` naming each axis that differs, if both are histograms."""
    if not (is_hist(h1) and is_hist(h2)):
        return
    axes1, axes2 = list(h1.axes), list(h2.axes)
    if len(axes1) != len(axes2):
        msg = f"{who}: the histograms have {len(axes1)} and {len(axes2)} axes"
        raise ValueError(msg)
    pairs = enumerate(zip(axes1, axes2, strict=True))
    found = [d for i, (a, b) in pairs for d in _axis_differences(i, a, b)]
    if found:
        s1, s2 = hist_values(h1).shape, hist_values(h2).shape
        shapes = f"histograms have different shapes {s1} and {s2}: " if s1 != s2 else ""
        msg = f"{who}: {shapes}{'; '.join(found)}"
        raise ValueError(msg)


def values_of(h: Any) -> FloatArray:
    """Bin contents of a uhi histogram (hist, boost-histogram, ...) or an array."""
    return hist_values(h) if callable(getattr(h, "values", None)) else np.asarray(h, np.float64)


def sample(x: npt.ArrayLike, who: str, name: str) -> FloatArray:
    """``x`` as float64, refusing empty and non-finite samples."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0 or a.shape[0] == 0:
        msg = f"{who}: the sample {name!r} is empty (shape {a.shape})"
        raise ValueError(msg)
    bad = ~np.isfinite(a)
    if bad.any():
        msg = f"{who}: {int(bad.sum())} non-finite value(s) in {name!r} (shape {a.shape})"
        raise ValueError(msg)
    return a


def weights_of(w: npt.ArrayLike | None, n: int, who: str, name: str) -> FloatArray:
    """Weights of ``n`` events as float64 (ones if ``None``), checked for shape and sum.

    Weights may have either sign (NLO generators); they must be finite and their sum
    positive (``ValueError`` otherwise, naming ``name``)."""
    if w is None:
        return np.ones(n, dtype=np.float64)
    a = np.asarray(w, dtype=np.float64)
    if a.shape != (n,):
        msg = f"{who}: {name!r} has shape {a.shape}, expected ({n},) (one weight per event)"
        raise ValueError(msg)
    bad = ~np.isfinite(a)
    if bad.any():
        msg = f"{who}: {int(bad.sum())} non-finite weight(s) in {name!r}"
        raise ValueError(msg)
    if not a.sum() > 0:
        kind = "all-negative weights, " if (a < 0).all() else ""
        msg = f"{who}: the weights {name!r} do not have a positive sum ({kind}{float(a.sum())!r})"
        raise ValueError(msg)
    return a


def squeeze(a: FloatArray) -> FloatArray | float:
    """A 0-d result as a Python float, anything else unchanged."""
    return float(a) if a.ndim == 0 else a


def positive(n: Any, who: str, name: str, *, integer: bool = False) -> float:
    """``n`` as a positive finite float; it must be an integer if ``integer``."""
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    value = float(n) if isinstance(n, kinds) and not isinstance(n, bool) else math.nan
    if not (math.isfinite(value) and value > 0):
        what = "integer" if integer else "finite number of (effective) entries"
        msg = f"{who}: {name!r} must be a positive {what}, got {reprlib.repr(n)}"
        raise ValueError(msg)
    return value
