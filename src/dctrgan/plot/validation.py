"""Figures that check a weighting: the reliability (calibration) diagram of a classifier, and
the band of the reweighting uncertainty that :func:`dctrgan.plot.compare` draws."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from dctrgan import stats
from dctrgan.plot._style import figure, legend_size, style, vector

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.patches import StepPatch

__all__ = ("band_limits", "reliability", "reweighting_band")


def reliability(
    scores: Any,
    labels: Any,
    weights: Any = None,
    bins: int | Any = 10,
    ax: Axes | None = None,
) -> tuple[Figure, Axes]:
    r"""Weighted reliability diagram: the fraction of positives against the predicted probability.

    One point per bin of the predicted probability, at the weighted mean prediction
    and the weighted fraction of positives, with the binomial error bar
    :math:`√(f (1 - f) / n_\text{eff})` of the bin's effective events; the dotted diagonal is
    perfect calibration. The numbers are :func:`dctrgan.stats.calibration_curve`'s.
    For DCTR, whose weight ``p / (1 - p)`` is only right if the classifier is
    calibrated, plot the held-out predictions with the reference as positives.

    Args:
        scores: ``(N,)`` predicted probabilities of the positive class, in [0, 1].
        labels: ``(N,)`` 1 for positive events, 0 for negative ones.
        weights: ``(N,)`` event weights (default 1).
        bins: number of equal bins on [0, 1], or the edges.
        ax: draw onto this axes (its figure is returned); default a new figure.

    Returns:
        The figure and the axes.

    Raises:
        ModuleNotFoundError: without matplotlib or mplhep (install ``dctrgan[plot]``).
        ValueError: as :func:`dctrgan.stats.calibration_curve`.
    """
    curve = stats.calibration_curve(
        vector(scores, "reliability: scores"),
        vector(labels, "reliability: labels"),
        None if weights is None else vector(weights, "reliability: weights"),
        bins=bins,
    )
    ok = np.isfinite(curve.observed)
    with style():
        if ax is None:
            fig, rects = figure([7.0], [7.0], margins=(1.9, 0.3, 1.5, 0.3))
            ax = fig.add_axes(rects[0][0])
        else:
            fig = ax.figure  # type: ignore[assignment]
        ax.plot([0, 1], [0, 1], color="0.5", linestyle=":", linewidth=1.5, label="Calibrated")
        ax.errorbar(
            curve.predicted[ok],
            curve.observed[ok],
            yerr=curve.error[ok],
            fmt="o",
            color="tab:blue",
            label="Classifier",
        )
        ax.set_xlim(curve.edges[0], curve.edges[-1])
        ax.set_ylim(0, 1)
        ax.set_xlabel("Mean predicted probability")
        ax.set_ylabel("Fraction of positives")
        ax.legend(loc="upper left", fontsize=legend_size())
    return fig, ax


def band_limits(edges: Any, centre: Any, sigma: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The stairs of ``centre +- sigma``: ``(high, edges, low)``, NaN where either is not finite.

    Args:
        edges: ``(B + 1,)`` bin edges.
        centre: ``(B,)`` the model's curve (density or ratio).
        sigma: ``(B,)`` its reweighting uncertainty on the same scale.

    Returns:
        The values, edges and baseline of :meth:`matplotlib.axes.Axes.stairs`.
    """
    centre, sigma = np.asarray(centre, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
    ok = np.isfinite(centre) & np.isfinite(sigma)
    low = np.where(ok, centre - sigma, np.nan)
    high = np.where(ok, centre + sigma, np.nan)
    return high, np.asarray(edges), low


def reweighting_band(
    ax: Axes, edges: Any, centre: Any, sigma: Any, color: str, *, label: str | None = None
) -> StepPatch:
    """Draw ``centre +- sigma`` per bin as a hatched band (the reweighting uncertainty).

    The statistical bands of :func:`dctrgan.plot.compare` are grey fills; this one is
    hatched in the model's colour, so both can be read where they overlap.

    Args:
        ax: the axes.
        edges: ``(B + 1,)`` bin edges.
        centre: ``(B,)`` the model's curve (density or ratio).
        sigma: ``(B,)`` its reweighting uncertainty on the same scale.
        color: the model's colour.
        label: legend label of the band, if any.

    Returns:
        The band (its data set again by ``set_data(*band_limits(...))``).
    """
    high, edges, low = band_limits(edges, centre, sigma)
    return ax.stairs(
        high,
        edges,
        baseline=low,
        fill=True,
        facecolor="none",
        edgecolor=color,
        hatch="////",
        linewidth=0,
        alpha=0.6,
        label=label,
    )
