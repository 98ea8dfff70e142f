"""Statistics of weighted samples and histograms.

Separation power (DCTRGAN eq. 15), effective entries, the uncertainty ratio ``r``
of DCTRGAN sec. II B (eqs. 6-9), and weighted means, variances and correlation
matrices. Every function takes plain arrays or any uhi histogram (hist,
boost-histogram, ...); :class:`dctrgan.Hist` exposes the histogram ones as methods.

Weights may be negative (NLO generators produce them) as long as their sum is
positive; they must be finite.

Every comparison of two histograms (:func:`separation_power`, :func:`histogram_ratio`,
:func:`uncertainty_ratio_hist`, :func:`statistical_floor_hist`) first checks that
their axes match and raises a ``ValueError`` naming the axis and what differs: the
number of axes, the bin edges (equal to 1e-12 of the axis's largest ``|edge|``), the
categories of a category axis (in order), a category axis against a numeric one, and
the names where both axes are named. A ``Regular`` and a ``Variable`` (or ``Integer``)
axis with the same edges match: the numbers depend on the edges only.
"""

from __future__ import annotations

import math
import reprlib
from typing import Any

import boost_histogram as bh
import numpy as np
import numpy.typing as npt

__all__ = (
    "effective_counts",
    "effective_entries",
    "histogram_ratio",
    "separation_power",
    "statistical_floor",
    "statistical_floor_hist",
    "uncertainty_ratio",
    "uncertainty_ratio_hist",
    "weighted_correlation",
    "weighted_mean",
    "weighted_variance",
)

FloatArray = npt.NDArray[np.float64]


def _is_hist(h: Any) -> bool:
    """Whether ``h`` looks like a uhi histogram (has callable ``values``)."""
    return callable(getattr(h, "values", None)) and hasattr(h, "axes")


def _hist_values(h: Any, flow: bool = False) -> FloatArray:
    """Bin contents of a uhi histogram, with the flow bins if ``flow``."""
    values = h.values(flow=True) if flow else h.values()
    return np.asarray(values, dtype=np.float64)


def _hist_variances(h: Any, who: str, flow: bool = False) -> FloatArray:
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


def _check_axes(h1: Any, h2: Any, who: str) -> None:
    """Raise a ``ValueError`` naming each axis that differs, if both are histograms."""
    if not (_is_hist(h1) and _is_hist(h2)):
        return
    axes1, axes2 = list(h1.axes), list(h2.axes)
    if len(axes1) != len(axes2):
        msg = f"{who}: the histograms have {len(axes1)} and {len(axes2)} axes"
        raise ValueError(msg)
    pairs = enumerate(zip(axes1, axes2, strict=True))
    found = [d for i, (a, b) in pairs for d in _axis_differences(i, a, b)]
    if found:
        s1, s2 = _hist_values(h1).shape, _hist_values(h2).shape
        shapes = f"histograms have different shapes {s1} and {s2}: " if s1 != s2 else ""
        msg = f"{who}: {shapes}{'; '.join(found)}"
        raise ValueError(msg)


def _values(h: Any) -> FloatArray:
    """Bin contents of a uhi histogram (hist, boost-histogram, ...) or an array."""
    return _hist_values(h) if callable(getattr(h, "values", None)) else np.asarray(h, np.float64)


def _sample(x: npt.ArrayLike, who: str, name: str) -> FloatArray:
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


def _weights(w: npt.ArrayLike | None, n: int, who: str, name: str) -> FloatArray:
    """Weights of ``n`` events as float64 (ones if ``None``), checked for shape and sum."""
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
        msg = f"{who}: the weights {name!r} do not have a positive sum ({a.sum()!r})"
        raise ValueError(msg)
    return a


def _squeeze(a: FloatArray) -> FloatArray | float:
    """A 0-d result as a Python float, anything else unchanged."""
    return float(a) if a.ndim == 0 else a


def separation_power(
    h1: Any, h2: Any, bins: Any = None, *, weights1: Any = None, weights2: Any = None
) -> float:
    """Separation power ``<S^2> = 1/2 sum_i (p1_i - p2_i)^2 / (p1_i + p2_i)``.

    ``p`` are the bin contents normalized to unit sum, so the result is 0 for
    identical shapes, 1 for histograms that share no bin, and independent of the
    bin widths. Two finite samples of the same distribution give about ``B/(2N)``
    for ``B`` bins and ``N`` (effective) events each: the statistical floor
    (:func:`statistical_floor`).

    Args:
        h1: a uhi histogram, or an array of bin contents; with ``bins``, a sample.
        h2: the same for the second distribution.
        bins: if given, ``h1`` and ``h2`` are samples histogrammed with these bins
            (anything ``numpy.histogram`` takes; an integer means that many bins
            spanning both samples).
        weights1: per-event weights of the sample ``h1`` (with ``bins``).
        weights2: per-event weights of the sample ``h2`` (with ``bins``).

    Returns:
        The separation power, in [0, 1].

    Raises:
        ValueError: if the axes of two histograms differ (module docstring), the
            shapes differ or a histogram is empty.

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
        _check_axes(h1, h2, "separation_power")
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


def effective_entries(h_or_weights: Any, *, flow: bool = False) -> float:
    """Kish effective number of entries ``(sum w)^2 / sum w^2``.

    Args:
        h_or_weights: per-event weights, shape (N,); or a uhi histogram that knows
            its sum of squared weights (``Weight()`` storage, or an unweighted
            count storage, for which the result is the number of entries).
        flow: for a histogram, include the under- and overflow bins.

    Returns:
        The effective number of entries; ``N`` for unit weights, 0 for no entries.

    Raises:
        ValueError: for a histogram without its sum of squared weights.
    """
    if _is_hist(h_or_weights):
        sw = float(_hist_values(h_or_weights, flow).sum())
        sw2 = float(_hist_variances(h_or_weights, "effective_entries", flow).sum())
    else:
        w = np.asarray(h_or_weights, dtype=np.float64)
        sw, sw2 = float(np.sum(w)), float(np.sum(w * w))
    return sw**2 / sw2 if sw2 > 0 else 0.0


def effective_counts(h: Any, *, flow: bool = False) -> FloatArray:
    """Per-bin effective number of entries ``(sum w)^2 / sum w^2``.

    ``h.counts()`` of hist / boost-histogram returns ``sum w`` for a ``Weight()``
    storage, not this.

    Args:
        h: a uhi histogram with ``Weight()`` storage (or unweighted counts).
        flow: include the under- and overflow bins.

    Returns:
        Array of the histogram's bin shape; 0 in bins without entries.

    Raises:
        TypeError: if ``h`` is not a histogram.
        ValueError: for a histogram without its sum of squared weights.
    """
    if not _is_hist(h):
        msg = f"effective_counts: expected a uhi histogram, got {type(h).__name__}"
        raise TypeError(msg)
    sw = _hist_values(h, flow)
    sw2 = _hist_variances(h, "effective_counts", flow)
    out = np.zeros_like(sw)
    np.divide(sw * sw, sw2, out=out, where=sw2 > 0)
    return out


def _sigma_of_mean(x: FloatArray, w: FloatArray) -> float:
    """Sampling estimate of the standard deviation of the weighted mean of ``x``.

    ``Var = sum w_i^2 (x_i - xbar)^2 / (sum w_i)^2``, DCTRGAN eqs. 7-8 with the
    integrals replaced by sums and the weights normalized to ``sum w = N``
    (eq. 10); for unit weights this is ``Var(x) / N``.
    """
    sw = float(w.sum())
    mean = float(np.sum(w * x)) / sw  # np.sum, not np.dot: BLAS threads are slow on 1-D
    dx = x - mean
    return float(np.sqrt(np.sum((w * dx) ** 2))) / sw


def uncertainty_ratio(
    x_model: npt.ArrayLike,
    w_model: npt.ArrayLike | None,
    x_ref: npt.ArrayLike,
    w_ref: npt.ArrayLike | None = None,
) -> float:
    """Ratio ``r`` of the uncertainties on the mean of an observable.

    ``r = sigma(mean of x from the weighted model sample) / sigma(mean of x from
    the reference sample)``, with the sampling estimates of DCTRGAN eqs. 6-8:
    ``sigma^2 = sum_i w_i^2 (x_i - xbar)^2 / (sum_i w_i)^2`` for each sample, with
    ``xbar`` its own weighted mean. This is invariant under a rescaling of either
    set of weights. ``r^2`` is the factor ``N_model / N_ref`` of eq. 9 at equal
    sample sizes; for unit weights and the same distribution,
    ``r = sqrt(N_ref / N_model)`` up to sampling fluctuations.

    Args:
        x_model: (N_model,) observable values of the model (e.g. fast) sample.
        w_model: (N_model,) weights of the model sample, or ``None`` for unit weights.
        x_ref: (N_ref,) observable values of the reference (e.g. full) sample.
        w_ref: (N_ref,) weights of the reference sample, or ``None`` for unit weights.

    Returns:
        ``r``; ``nan`` if the reference sample has no spread in ``x`` (``r`` is
        then undefined).

    Raises:
        ValueError: for empty, non-1-D or non-finite samples, weights of the wrong
            shape, non-finite weights or weights without a positive sum.

    References:
        DCTRGAN (Diefenbacher et al.), sec. II B, eqs. 6-9.
    """
    who = "uncertainty_ratio"
    xm, xr = _sample(x_model, who, "x_model"), _sample(x_ref, who, "x_ref")
    for name, a in (("x_model", xm), ("x_ref", xr)):
        if a.ndim != 1:
            msg = f"{who}: {name!r} must be 1-D (one observable), got shape {a.shape}"
            raise ValueError(msg)
    wm = _weights(w_model, xm.shape[0], who, "w_model")
    wr = _weights(w_ref, xr.shape[0], who, "w_ref")
    sigma_ref = _sigma_of_mean(xr, wr)
    if sigma_ref == 0:
        return float("nan")
    return _sigma_of_mean(xm, wm) / sigma_ref


def _hist_sigma_of_mean(h: Any, who: str, name: str) -> float:
    """:func:`_sigma_of_mean` with the entries of each bin placed at its center."""
    axes: Any = getattr(h, "axes", ())
    if len(axes) != 1:
        msg = f"{who}: {name!r} must be a 1-D histogram, it has {len(axes)} axes"
        raise ValueError(msg)
    centers = getattr(axes[0], "centers", None)
    if centers is None or isinstance(axes[0], (bh.axis.StrCategory, bh.axis.IntCategory)):
        msg = f"{who}: the axis of {name!r} has no numeric bin centers (a category axis?)"
        raise ValueError(msg)
    c = np.asarray(centers, dtype=np.float64)
    sw, sw2 = _hist_values(h), _hist_variances(h, who)
    total = float(sw.sum())
    if not total > 0:
        msg = f"{who}: the histogram {name!r} has no positive content"
        raise ValueError(msg)
    mean = float(np.dot(sw, c)) / total
    return float(np.sqrt(np.dot(sw2, (c - mean) ** 2))) / total


def uncertainty_ratio_hist(h_model: Any, h_ref: Any) -> float:
    """Histogram-level approximation of :func:`uncertainty_ratio`.

    The sums over events of :func:`uncertainty_ratio` become sums over bins, each
    event placed at its bin center: ``sigma^2 = sum_b S2_b (c_b - cbar)^2 /
    (sum_b S1_b)^2``, with ``S1_b = sum w`` and ``S2_b = sum w^2`` of bin ``b``
    (the histogram's values and variances), ``c_b`` the bin centers and ``cbar`` the
    weighted mean of the centers. It ignores the spread within bins and the flow
    bins, so it approaches the event-level ``r`` for fine binnings that contain
    the samples. It is exact in one case: for unit weights and histograms of the
    same shape (proportional contents) it gives ``sqrt(N_ref / N_model)``.

    Args:
        h_model: 1-D uhi histogram of the (weighted) model sample, ``Weight()``
            storage (or unweighted counts).
        h_ref: 1-D uhi histogram of the reference sample, likewise, with the same
            axis as ``h_model`` (checked as in the module docstring).

    Returns:
        ``r``; ``nan`` if ``h_ref`` has all its content in one bin.

    Raises:
        ValueError: for histograms that are not 1-D, have no positive content, lack
            their sum of squared weights or have different axes.

    References:
        DCTRGAN (Diefenbacher et al.), sec. II B, eqs. 6-9.
    """
    who = "uncertainty_ratio_hist"
    sigma_ref = _hist_sigma_of_mean(h_ref, who, "h_ref")
    sigma_model = _hist_sigma_of_mean(h_model, who, "h_model")
    _check_axes(h_model, h_ref, who)
    if sigma_ref == 0:
        return float("nan")
    return sigma_model / sigma_ref


def histogram_ratio(
    h_num: Any, h_den: Any, *, normalize: bool = True
) -> tuple[FloatArray, FloatArray]:
    """Bin-by-bin ratio of two histograms with its statistical uncertainty.

    The ratio panel of a comparison plot (DCTRGAN Figs. 3-6): with ``normalize``
    both histograms are first scaled to unit sum. The uncertainty propagates both
    histograms' variances as independent: ``ratio * sqrt(V_num / S_num^2 +
    V_den / S_den^2)`` per bin.

    Args:
        h_num: uhi histogram of the numerator (e.g. the weighted model sample).
        h_den: uhi histogram of the denominator (e.g. the reference), same bins.
        normalize: compare shapes (unit sums) rather than raw contents.

    Returns:
        ``(ratio, error)``, arrays of the bin shape; ``nan`` where the denominator
        (for the error, either histogram) has no content.

    Raises:
        ValueError: if the axes (module docstring) or shapes differ, a histogram has
            no positive content (with ``normalize``) or lacks its sum of squared weights.
    """
    who = "histogram_ratio"
    _check_axes(h_num, h_den, who)
    s_num, s_den = _hist_values(h_num), _hist_values(h_den)
    if s_num.shape != s_den.shape:
        msg = f"{who}: histograms have different shapes {s_num.shape} and {s_den.shape}"
        raise ValueError(msg)
    v_num, v_den = _hist_variances(h_num, who), _hist_variances(h_den, who)
    if normalize:
        t_num, t_den = float(s_num.sum()), float(s_den.sum())
        if not (t_num > 0 and t_den > 0):
            msg = f"{who}: a histogram has no positive content ({t_num!r}, {t_den!r})"
            raise ValueError(msg)
        s_num, v_num = s_num / t_num, v_num / t_num**2
        s_den, v_den = s_den / t_den, v_den / t_den**2
    ratio = np.full_like(s_num, np.nan)
    np.divide(s_num, s_den, out=ratio, where=s_den != 0)
    rel2 = np.full_like(s_num, np.nan)
    both = (s_num != 0) & (s_den != 0)
    rel2[both] = v_num[both] / s_num[both] ** 2 + v_den[both] / s_den[both] ** 2
    return ratio, np.abs(ratio) * np.sqrt(rel2)


def _positive(n: Any, who: str, name: str, *, integer: bool = False) -> float:
    """``n`` as a positive finite float; it must be an integer if ``integer``."""
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    value = float(n) if isinstance(n, kinds) and not isinstance(n, bool) else math.nan
    if not (math.isfinite(value) and value > 0):
        what = "integer" if integer else "finite number of (effective) entries"
        msg = f"{who}: {name!r} must be a positive {what}, got {reprlib.repr(n)}"
        raise ValueError(msg)
    return value


def statistical_floor(bins: int, n1: float, n2: float) -> float:
    """Expected ``<S^2>`` of two finite samples of the same distribution (DCTRGAN eq. 15).

    ``(bins - 1) / 4 * (1/n1 + 1/n2)``, i.e. ``(B - 1) / (2N)`` for two samples of ``N``
    events: the normalized contents of a bin of probability ``pi`` differ by
    ``p - q`` of variance ``pi (1 - pi) (1/n1 + 1/n2)`` with ``p + q ~ 2 pi``. First
    order in ``1/n``, every bin populated (pass the populated bins). For weighted
    samples ``n`` is the effective number of entries ``(sum w)^2 / sum w^2`` (exact
    for weights that do not depend on the observable). Two forms: this one from
    numbers, :func:`statistical_floor_hist` (:meth:`dctrgan.Hist.statistical_floor`)
    from the two histograms.

    Args:
        bins: number of (populated) bins ``B``, a positive integer.
        n1: events, or effective entries, of the first sample; positive and finite.
        n2: the same for the second sample.

    Returns:
        The expected ``<S^2>``: ``29 / 4 * 2 / 1000 = 0.0145`` for 30 bins and 1000
        events each.

    Raises:
        ValueError: naming the argument, if ``bins`` is not a positive integer or
            ``n1`` or ``n2`` is not a positive finite number.
    """
    who = "statistical_floor"
    b = _positive(bins, who, "bins", integer=True)
    inverse = 1 / _positive(n1, who, "n1") + 1 / _positive(n2, who, "n2")
    return (b - 1) / 4 * inverse


def statistical_floor_hist(h1: Any, h2: Any) -> float:
    """:func:`statistical_floor` for the :func:`separation_power` of two histograms.

    ``B`` is the number of bins with entries in either histogram, ``n1`` and ``n2``
    their effective entries (:func:`effective_entries`; no flow bins, as in ``S^2``).

    Args:
        h1: uhi histogram with ``Weight()`` storage (or unweighted counts).
        h2: the same, with the same axes (checked as in the module docstring).

    Returns:
        The expected ``<S^2>`` of two samples of one distribution of these sizes.

    Raises:
        ValueError: if the axes differ, a histogram lacks its sum of squared
            weights, or either has no entries.
    """
    who = "statistical_floor_hist"
    _check_axes(h1, h2, who)
    v1, v2 = _hist_variances(h1, who), _hist_variances(h2, who)
    for name, v in (("h1", v1), ("h2", v2)):
        if not (v > 0).any():
            msg = f"{who}: the histogram {name!r} has no entries"
            raise ValueError(msg)
    bins = int(np.count_nonzero((v1 > 0) | (v2 > 0)))
    return statistical_floor(bins, effective_entries(h1), effective_entries(h2))


def _moved(
    x: npt.ArrayLike, w: npt.ArrayLike | None, axis: int, who: str
) -> tuple[FloatArray, FloatArray]:
    """``x`` with the event axis first and its checked weights."""
    a = _sample(np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0), who, "x")
    return a, _weights(w, a.shape[0], who, "w")


def weighted_mean(
    x: npt.ArrayLike, w: npt.ArrayLike | None = None, axis: int = 0
) -> FloatArray | float:
    """Weighted mean ``sum w x / sum w`` along the event axis.

    Args:
        x: samples; events along ``axis``, e.g. (N,) or (N, d).
        w: (N,) weights, or ``None`` for unit weights.
        axis: the event axis of ``x``.

    Returns:
        A float for 1-D ``x``, else the array of the remaining shape, e.g. (d,).

    Raises:
        ValueError: for an empty or non-finite ``x`` or bad weights.
    """
    a, wa = _moved(x, w, axis, "weighted_mean")
    return _squeeze(np.tensordot(wa, a, axes=1) / wa.sum())


def weighted_variance(
    x: npt.ArrayLike, w: npt.ArrayLike | None = None, axis: int = 0
) -> FloatArray | float:
    """Weighted variance ``sum w (x - xbar)^2 / sum w`` along the event axis.

    The biased (population, ``ddof=0``) form, as ``numpy.var``'s default.

    Args:
        x: samples; events along ``axis``, e.g. (N,) or (N, d).
        w: (N,) weights, or ``None`` for unit weights.
        axis: the event axis of ``x``.

    Returns:
        A float for 1-D ``x``, else the array of the remaining shape, e.g. (d,).

    Raises:
        ValueError: for an empty or non-finite ``x`` or bad weights.
    """
    a, wa = _moved(x, w, axis, "weighted_variance")
    sw = wa.sum()
    dx = a - np.tensordot(wa, a, axes=1) / sw
    return _squeeze(np.tensordot(wa, dx * dx, axes=1) / sw)


def weighted_correlation(x: npt.ArrayLike, w: npt.ArrayLike | None = None) -> FloatArray:
    """Weighted Pearson correlation matrix of the columns of ``x``.

    Args:
        x: (N, d) samples, one column per observable.
        w: (N,) weights, or ``None`` for unit weights.

    Returns:
        (d, d) symmetric matrix with unit diagonal; rows and columns of a
        constant column are ``nan``.

    Raises:
        ValueError: if ``x`` is not 2-D, is empty or non-finite, or for bad weights.

    References:
        DCTRGAN (Diefenbacher et al.), Fig. 7.
    """
    who = "weighted_correlation"
    a = _sample(x, who, "x")
    if a.ndim != 2:
        msg = f"{who}: 'x' must be 2-D (events, observables), got shape {a.shape}"
        raise ValueError(msg)
    wa = _weights(w, a.shape[0], who, "w")
    sw = wa.sum()
    dx = a - (wa @ a) / sw
    cov = (dx * wa[:, None]).T @ dx / sw
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    corr: FloatArray = np.full(cov.shape, np.nan, dtype=np.float64)
    ok = sd > 0
    corr[np.ix_(ok, ok)] = cov[np.ix_(ok, ok)] / np.outer(sd[ok], sd[ok])
    corr[np.ix_(ok, ok)] = np.clip(corr[np.ix_(ok, ok)], -1.0, 1.0)
    np.fill_diagonal(corr, np.where(ok, 1.0, np.nan))
    return corr
