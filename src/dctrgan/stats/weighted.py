"""Weighted samples: effective entries and their bound under exact reweighting, the
uncertainty ratio ``r`` (DCTRGAN sec. II B, eqs. 6-9), weighted means, variances and
correlation matrices."""

from __future__ import annotations

from typing import Any

import boost_histogram as bh
import numpy as np
import numpy.typing as npt

from dctrgan.stats._checks import (
    FloatArray,
    check_axes,
    hist_values,
    hist_variances,
    is_hist,
    sample,
    squeeze,
    weights_of,
)

__all__ = (
    "effective_counts",
    "effective_entries",
    "neff_bound",
    "uncertainty_ratio",
    "uncertainty_ratio_hist",
    "weighted_correlation",
    "weighted_mean",
    "weighted_variance",
)


def effective_entries(h_or_weights: Any, *, flow: bool = False) -> float:
    r"""Kish effective number of entries :math:`n_\text{eff} = (\sum_i w_i)^2 / \sum_i w_i^2`.

    With signed weights the cancellation shows: a fraction :math:`f` of weights :math:`-1`
    among :math:`+1` leaves :math:`N (1 - 2 f)^2` effective entries (:math:`N / 4` at 25 %).

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
    if is_hist(h_or_weights):
        sw = float(hist_values(h_or_weights, flow).sum())
        sw2 = float(hist_variances(h_or_weights, "effective_entries", flow).sum())
    else:
        w = np.asarray(h_or_weights, dtype=np.float64)
        sw, sw2 = float(np.sum(w)), float(np.sum(w * w))
    return sw**2 / sw2 if sw2 > 0 else 0.0


def neff_bound(
    reference: npt.ArrayLike,
    model: npt.ArrayLike,
    *,
    bins: int = 30,
    reference_weights: npt.ArrayLike | None = None,
    model_weights: npt.ArrayLike | None = None,
) -> float:
    """The most ``n_eff / N`` that a reweighting of ``model`` to ``reference`` can keep,
    as histograms of the two samples tell.

    For each column (projection) of the samples: ``bins`` equal-probability bins of both
    samples together, the exact weights per bin ``r_b = P_ref(b) / P_model(b)`` (0
    where the model has no entries: a hole no weight fills), and the ``n_eff`` of
    ``model_weights * r_b`` over that of ``model_weights``. For an unweighted model
    sample, weights that reproduce the reference exactly average to these ``r_b`` over
    each bin, and by Cauchy-Schwarz averaging over a bin only raises ``n_eff``: no exact
    reweighting keeps more (with model weights: no factor that is exact per bin). The
    bound is the smallest over the columns; a column that separates the samples well
    (such as a classifier's output) makes it tight.

    Args:
        reference: ``(N1,)`` or ``(N1, d)`` values of the reference sample.
        model: ``(N2,)`` or ``(N2, d)`` values of the sample to reweight.
        bins: bins per column (fewer where values repeat).
        reference_weights: ``(N1,)`` non-negative weights (default 1).
        model_weights: ``(N2,)`` non-negative weights (default 1).

    Returns:
        The bound on ``n_eff / n_eff(model_weights)``, in ``[0, 1]``.

    Raises:
        ValueError: for samples of different column counts, non-finite values, fewer
            than 2 bins, or weights that are negative, not one per event or sum to 0.
    """
    x1, x2 = np.asarray(reference, np.float64), np.asarray(model, np.float64)
    x1, x2 = (x if x.ndim == 2 else x.reshape(len(x), -1) for x in (x1, x2))
    if x1.shape[1] != x2.shape[1]:
        msg = f"neff_bound: reference {x1.shape} and model {x2.shape} differ in columns"
        raise ValueError(msg)
    if not (np.isfinite(x1).all() and np.isfinite(x2).all()):
        msg = "neff_bound: the samples hold non-finite values"
        raise ValueError(msg)
    if bins < 2:
        msg = f"neff_bound: bins must be >= 2, got {bins}"
        raise ValueError(msg)
    w1 = _non_negative(reference_weights, len(x1), "reference_weights")
    w2 = _non_negative(model_weights, len(x2), "model_weights")
    levels = np.linspace(0, 1, bins + 1)[1:-1]
    bounds = []
    for a, b in zip(x1.T, x2.T, strict=True):
        inner = np.unique(np.quantile(np.concatenate([a, b]), levels))
        i1, i2 = np.searchsorted(inner, a, "right"), np.searchsorted(inner, b, "right")
        p1 = np.bincount(i1, w1, len(inner) + 1) / w1.sum()
        p2 = np.bincount(i2, w2, len(inner) + 1) / w2.sum()
        ratio = np.divide(p1, p2, out=np.zeros_like(p1), where=p2 > 0)
        bounds.append(effective_entries(w2 * ratio[i2]) / effective_entries(w2))
    return float(min(bounds))


def _non_negative(weights: npt.ArrayLike | None, n: int, name: str) -> FloatArray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, np.float64)
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        msg = (
            f"neff_bound: {name} must be {n} finite, non-negative weights with a positive "
            f"sum (got shape {w.shape})"
        )
        raise ValueError(msg)
    return w


def effective_counts(h: Any, *, flow: bool = False) -> FloatArray:
    r"""Per-bin effective number of entries :math:`(\sum w)^2 / \sum w^2`.

    ``h.counts()`` of hist / boost-histogram returns :math:`\sum w` for a ``Weight()``
    storage, not this. With signed weights a bin's :math:`\sum w` may be negative, its
    effective count is still ``>= 0``: a bin of ``+1, +1, -1`` has ``1 / 3``.

    Args:
        h: a uhi histogram with ``Weight()`` storage (or unweighted counts).
        flow: include the under- and overflow bins.

    Returns:
        Array of the histogram's bin shape; 0 in bins without entries.

    Raises:
        TypeError: if ``h`` is not a histogram.
        ValueError: for a histogram without its sum of squared weights.
    """
    if not is_hist(h):
        msg = f"effective_counts: expected a uhi histogram, got {type(h).__name__}"
        raise TypeError(msg)
    sw = hist_values(h, flow)
    sw2 = hist_variances(h, "effective_counts", flow)
    out = np.zeros_like(sw)
    np.divide(sw * sw, sw2, out=out, where=sw2 > 0)
    return out


def _sigma_of_mean(x: FloatArray, w: FloatArray) -> float:
    r"""Sampling estimate of the standard deviation of the weighted mean of ``x``.

    :math:`\mathrm{Var} = Σ w_i^2 (x_i - \bar x)^2 / (Σ w_i)^2`, DCTRGAN eqs. 7-8 with the
    integrals replaced by sums and the weights normalized to :math:`Σ w = N`
    (eq. 10); for unit weights this is ``Var(x) / N``. The linearized variance of
    the ratio :math:`Σ w x / Σ w`, it holds for weights of either sign (``w^2``).
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
    r"""Ratio :math:`r` of the uncertainties on the mean of an observable.

    :math:`r = \sigma_\text{model} / \sigma_\text{ref}`, the uncertainties of the mean
    of :math:`x` from the weighted model sample and from the reference sample, with
    the sampling estimates of DCTRGAN eqs. 6-8 for each sample,

    .. math:: \sigma^2 = \frac{\sum_i w_i^2 (x_i - \bar x)^2}{(\sum_i w_i)^2},

    :math:`\bar x` its own weighted mean. This is invariant under a rescaling of either
    set of weights. :math:`r^2` is the factor :math:`N_\text{model} / N_\text{ref}` of
    eq. 9 at equal sample sizes; for unit weights and the same distribution,
    :math:`r = \sqrt{N_\text{ref} / N_\text{model}}` up to sampling fluctuations. Signed
    weights enter through :math:`w^2`: negative weights raise :math:`r` (they cancel in
    :math:`\sum w`, not in :math:`\sum w^2`).

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
    xm, xr = sample(x_model, who, "x_model"), sample(x_ref, who, "x_ref")
    for name, a in (("x_model", xm), ("x_ref", xr)):
        if a.ndim != 1:
            msg = f"{who}: {name!r} must be 1-D (one observable), got shape {a.shape}"
            raise ValueError(msg)
    wm = weights_of(w_model, xm.shape[0], who, "w_model")
    wr = weights_of(w_ref, xr.shape[0], who, "w_ref")
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
    sw, sw2 = hist_values(h), hist_variances(h, who)
    total = float(sw.sum())
    if not total > 0:
        msg = f"{who}: the histogram {name!r} has no positive content"
        raise ValueError(msg)
    mean = float(np.dot(sw, c)) / total
    return float(np.sqrt(np.dot(sw2, (c - mean) ** 2))) / total


def uncertainty_ratio_hist(h_model: Any, h_ref: Any) -> float:
    r"""Histogram-level approximation of :func:`uncertainty_ratio`.

    The sums over events of :func:`uncertainty_ratio` become sums over bins, each
    event placed at its bin center:
    :math:`\sigma^2 = \sum_b S_{2,b} (c_b - \bar c)^2 / (\sum_b S_{1,b})^2`, with
    :math:`S_{1,b} = \sum w` and :math:`S_{2,b} = \sum w^2` of bin :math:`b` (the
    histogram's values and variances), :math:`c_b` the bin centers and :math:`\bar c` the
    weighted mean of the centers. It ignores the spread within bins and the flow
    bins, so it approaches the event-level ``r`` for fine binnings that contain
    the samples. It is exact in one case: for unit weights and histograms of the
    same shape (proportional contents) it gives :math:`\sqrt{N_\text{ref} / N_\text{model}}`.

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
    check_axes(h_model, h_ref, who)
    if sigma_ref == 0:
        return float("nan")
    return sigma_model / sigma_ref


def _moved(
    x: npt.ArrayLike, w: npt.ArrayLike | None, axis: int, who: str
) -> tuple[FloatArray, FloatArray]:
    """``x`` with the event axis first and its checked weights."""
    a = sample(np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0), who, "x")
    return a, weights_of(w, a.shape[0], who, "w")


def weighted_mean(
    x: npt.ArrayLike, w: npt.ArrayLike | None = None, axis: int = 0
) -> FloatArray | float:
    r"""Weighted mean :math:`\sum_i w_i x_i / \sum_i w_i` along the event axis.

    Args:
        x: samples; events along ``axis``, e.g. (N,) or (N, d).
        w: (N,) weights of either sign with a positive sum, or ``None`` for unit weights.
        axis: the event axis of ``x``.

    Returns:
        A float for 1-D ``x``, else the array of the remaining shape, e.g. (d,).

    Raises:
        ValueError: for an empty or non-finite ``x`` or bad weights.
    """
    a, wa = _moved(x, w, axis, "weighted_mean")
    return squeeze(np.tensordot(wa, a, axes=1) / wa.sum())


def weighted_variance(
    x: npt.ArrayLike, w: npt.ArrayLike | None = None, axis: int = 0
) -> FloatArray | float:
    r"""Weighted variance :math:`\sum_i w_i (x_i - \bar x)^2 / \sum_i w_i` along the events.

    The biased (population, ``ddof=0``) form, as ``numpy.var``'s default. With
    signed weights it estimates the variance of the signed density
    :math:`\sum_i w_i \delta(x - x_i)`, with the precision of
    :math:`n_\text{eff} = (\sum w)^2 / \sum w^2` events
    (:func:`effective_entries`), not ``N``; where cancellations leave it negative,
    which no variance is, it raises rather than return the number.

    Args:
        x: samples; events along ``axis``, e.g. (N,) or (N, d).
        w: (N,) weights of either sign with a positive sum, or ``None`` for unit weights.
        axis: the event axis of ``x``.

    Returns:
        A float for 1-D ``x``, else the array of the remaining shape, e.g. (d,).

    Raises:
        ValueError: for an empty or non-finite ``x``, bad weights, or signed weights
            that give a negative variance.
    """
    a, wa = _moved(x, w, axis, "weighted_variance")
    sw = wa.sum()
    dx = a - np.tensordot(wa, a, axes=1) / sw
    variance = np.tensordot(wa, dx * dx, axes=1) / sw
    _check_signed_variance(np.atleast_1d(variance), "weighted_variance")
    return squeeze(variance)


def _check_signed_variance(variance: FloatArray, who: str) -> None:
    """A ValueError for a negative variance (only signed weights give one)."""
    negative = variance < 0
    if negative.any():
        first = int(np.flatnonzero(negative.ravel())[0])
        msg = (
            f"{who}: the signed weights give a negative variance ({variance.ravel()[first]:.3g}, "
            f"column {first}): their cancellations leave too few effective entries"
        )
        raise ValueError(msg)


def weighted_correlation(x: npt.ArrayLike, w: npt.ArrayLike | None = None) -> FloatArray:
    """Weighted Pearson correlation matrix of the columns of ``x``.

    Args:
        x: (N, d) samples, one column per observable.
        w: (N,) weights, or ``None`` for unit weights.

    Returns:
        (d, d) symmetric matrix with unit diagonal; rows and columns of a
        constant column are ``nan``.

    Signed weights give the correlation of the signed density; where their
    cancellations leave a negative variance or a correlation beyond ``[-1, 1]``
    (an indefinite covariance) it raises instead of clipping.

    Raises:
        ValueError: if ``x`` is not 2-D, is empty or non-finite, for bad weights, or
            for signed weights that give a negative variance or ``|corr| > 1``.

    References:
        DCTRGAN (Diefenbacher et al.), Fig. 7.
    """
    who = "weighted_correlation"
    a = sample(x, who, "x")
    if a.ndim != 2:
        msg = f"{who}: 'x' must be 2-D (events, observables), got shape {a.shape}"
        raise ValueError(msg)
    wa = weights_of(w, a.shape[0], who, "w")
    sw = wa.sum()
    dx = a - (wa @ a) / sw
    cov = (dx * wa[:, None]).T @ dx / sw
    signed = bool((wa < 0).any())
    if signed:
        _check_signed_variance(np.diag(cov), who)
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    corr: FloatArray = np.full(cov.shape, np.nan, dtype=np.float64)
    ok = sd > 0
    corr[np.ix_(ok, ok)] = cov[np.ix_(ok, ok)] / np.outer(sd[ok], sd[ok])
    beyond = np.abs(corr[np.ix_(ok, ok)]) > 1 + 1e-9
    if signed and beyond.any():  # an indefinite covariance; non-negative weights cannot
        i, j = np.flatnonzero(ok)[np.argwhere(beyond)[0]]
        msg = (
            f"{who}: the signed weights give a correlation {corr[i, j]:.4g} of columns {i} "
            f"and {j}, beyond [-1, 1]: their cancellations leave too few effective entries"
        )
        raise ValueError(msg)
    corr[np.ix_(ok, ok)] = np.clip(corr[np.ix_(ok, ok)], -1.0, 1.0)
    np.fill_diagonal(corr, np.where(ok, 1.0, np.nan))
    return corr
