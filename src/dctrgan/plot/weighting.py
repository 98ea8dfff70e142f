"""Figures of the weights themselves: their distributions and correlation (DCTRGAN Fig. 2), and
what they do to the correlations between observables (Fig. 7)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import awkward as ak
import numpy as np

from dctrgan import stats
from dctrgan.plot._style import (
    LINESTYLES,
    MODEL_COLORS,
    decades,
    figure,
    headroom,
    labels_or,
    legend_size,
    log_axis,
    numbered,
    per_model,
    require,
    style,
    vector,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ("correlations", "weights", "weights_scatter")


def weights(
    *samples: Any,
    labels: Sequence[str] | None = None,
    bins: int = 50,
    limits: tuple[float, float] | None = None,
    log_y: bool = True,
) -> tuple[Figure, Axes]:
    """Distributions of per-event weights on a logarithmic weight axis.

    DCTRGAN Fig. 2 (top): the fraction of events per bin of ``log w`` for each set
    of weights, with the effective fraction ``n_eff / N`` (Kish) in the legend and a
    dotted line at ``w = 1``. Weights that are not positive cannot be drawn on the
    log axis; the legend counts them.

    Args:
        *samples: ``(N_i,)`` weights, one array per model (say DCTR-LL and DCTR-HL).
        labels: legend label of each (default ``"Weights"`` or ``"Weights 1"``, ...).
        bins: number of log-spaced bins.
        limits: ``(low, high)`` weights of the first and last edge (default: the
            smallest positive and the largest weight).
        log_y: logarithmic fraction axis, to show the tails.

    Returns:
        The figure and its one axes.

    Raises:
        ModuleNotFoundError: without matplotlib or mplhep (install ``dctrgan[plot]``).
        ValueError: without samples, for non-finite weights, no positive weight, bad
            limits or labels that are not one per sample.
    """
    require()
    if not samples:
        msg = "weights: pass at least one array of weights"
        raise ValueError(msg)
    names = labels_or(labels, numbered("Weights", len(samples)))
    ws = [vector(w, f"weights: samples[{i}]") for i, w in enumerate(samples)]
    positive = np.concatenate([w[w > 0] for w in ws])
    if not len(positive):
        msg = "weights: no positive weight to draw on a log axis"
        raise ValueError(msg)
    if limits is None:
        lo, hi = decades(float(positive.min()), float(positive.max()))
    else:
        lo, hi = (float(v) for v in limits)
    if not 0 < lo < hi:
        msg = f"limits: expected 0 < low < high, got ({lo}, {hi})"
        raise ValueError(msg)
    edges = np.geomspace(lo, hi, bins + 1)
    with style() as mplhep:
        size = legend_size()
        fig, rects = figure([8.2], [7.0], margins=(1.7, 0.3, 1.1, 0.3))
        ax = fig.add_axes(rects[0][0])
        top, bottom = 0.0, math.inf
        for i, (w, name) in enumerate(zip(ws, names, strict=True)):
            fraction, _ = np.histogram(w, bins=edges)
            fraction = fraction / len(w)
            neff = stats.effective_entries(w) / len(w)
            text = f"{name} ($n_\\mathrm{{eff}}/N = {neff:.2f}$)"
            hidden = int(np.count_nonzero(w <= 0))
            if hidden:
                text += f", {hidden} not > 0"
            mplhep.histplot(
                fraction,
                edges,
                ax=ax,
                histtype="step",
                color=MODEL_COLORS[(i + 1) % len(MODEL_COLORS)],
                linestyle=LINESTYLES[(i + 1) % len(LINESTYLES)],
                linewidth=2,
                label=text,
                flow=None,
            )
            top = max(top, float(fraction.max()))
            bottom = min(bottom, 0.5 / len(w))
        ax.axvline(1.0, color="0.5", linestyle=":", linewidth=1.5)
        log_axis(ax, "x", edges[0], edges[-1])
        room = headroom(len(ws), 7.0, size) + 0.04
        if log_y:
            top = max(top, bottom * 10)
            log_axis(ax, "y", bottom, bottom * (top / bottom) ** (1 / (1 - room)))
        else:
            ax.set_ylim(0, max(top, 1e-300) / (1 - room))
        ax.set_xlabel("Weight")
        ax.set_ylabel("Fraction of events")
        ax.legend(loc="upper left", fontsize=size)
    return fig, ax


def weights_scatter(
    w_x: Any,
    w_y: Any,
    *,
    labels: tuple[str, str] = ("High-level weight", "Low-level weight"),
    log: bool = True,
    max_points: int = 20_000,
) -> tuple[Figure, Axes]:
    """Scatter plot of two models' weights of the same events, with Pearson's ``rho``.

    DCTRGAN Fig. 2 (bottom). ``rho`` is the linear correlation of the weights of
    all events; at most ``max_points`` events (a fixed random subset) are drawn.

    Args:
        w_x: ``(N,)`` weights of the first model (x axis), e.g. DCTR-HL.
        w_y: ``(N,)`` weights of the second model (y axis), e.g. DCTR-LL.
        labels: the axis labels.
        log: logarithmic axes (events with a weight that is not positive are not drawn).
        max_points: the most events drawn.

    Returns:
        The figure and its one axes.

    Raises:
        ModuleNotFoundError: without matplotlib or mplhep (install ``dctrgan[plot]``).
        ValueError: for weights of different lengths or non-finite weights.
    """
    require()
    x, y = vector(w_x, "w_x"), vector(w_y, "w_y")
    if x.shape != y.shape or not len(x):
        msg = f"w_x {x.shape} and w_y {y.shape}: expected the same, non-zero number of events"
        raise ValueError(msg)
    rho = float(stats.weighted_correlation(np.column_stack([x, y]))[0, 1])
    keep = (x > 0) & (y > 0) if log else np.ones(len(x), dtype=bool)
    index = np.flatnonzero(keep)
    if len(index) > max_points:
        index = np.sort(np.random.default_rng(0).choice(index, max_points, replace=False))
    both = np.concatenate([x[keep], y[keep]])
    lo, hi = (float(both.min()), float(both.max())) if len(both) else (0.1, 10.0)
    if log:
        lo, hi = lo / 1.3, hi * 1.3
    else:
        pad = 0.05 * (hi - lo) or 0.5
        lo, hi = lo - pad, hi + pad
    with style():
        fig, rects = figure([7.5], [7.5], margins=(1.9, 0.4, 1.3, 0.4))
        ax = fig.add_axes(rects[0][0])
        ax.scatter(
            x[index], y[index], s=6, alpha=0.3, color="tab:blue", linewidths=0, rasterized=True
        )
        ax.plot([lo, hi], [lo, hi], color="0.4", linestyle="--", linewidth=1.5)
        if log:
            log_axis(ax, "x", lo, hi)
            log_axis(ax, "y", lo, hi)
        else:
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        ax.text(
            0.05,
            0.95,
            rf"$\rho = {rho:.2f}$" if np.isfinite(rho) else r"$\rho$ undefined",
            transform=ax.transAxes,
            va="top",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8},
        )
    return fig, ax


def _columns(sample: Any, names: list[str] | None, what: str) -> tuple[np.ndarray, list[str]]:
    """``(N, d)`` values of a mapping ``name -> (N,)`` or of an ``(N, d)`` array, and the names."""
    if isinstance(sample, Mapping) or (isinstance(sample, ak.Array) and ak.fields(sample)):
        keys = list(ak.fields(sample) if isinstance(sample, ak.Array) else sample)
        names = keys if names is None else names
        missing = [n for n in names if n not in keys]
        if missing:
            msg = f"{what}: observable(s) {missing} missing"
            raise ValueError(msg)
        x = np.column_stack([vector(sample[n], f"{what}, {n!r}") for n in names])
        return x, names
    x = np.asarray(sample, dtype=np.float64)
    if x.ndim != 2:
        msg = (
            f"{what}: expected a mapping name -> (N,) values or an (N, d) array, got shape "
            f"{x.shape}"
        )
        raise ValueError(msg)
    names = [f"x{i}" for i in range(x.shape[1])] if names is None else names
    if len(names) != x.shape[1]:
        msg = f"{what}: {x.shape[1]} columns but {len(names)} names"
        raise ValueError(msg)
    return x, names


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``value``."""
    if not value > 0 or not math.isfinite(value):
        return 0.1
    power = 10.0 ** math.floor(math.log10(value))
    return next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= value * (1 - 1e-9))


def correlations(
    reference: Any,
    *models: Any,
    labels: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    weights: Any = None,
    reference_weights: Any = None,
    annotate: bool | None = None,
) -> tuple[Figure, np.ndarray]:
    """The reference's correlation matrix and each model's difference to it.

    DCTRGAN Fig. 7: the linear (Pearson) correlation coefficients between
    observables (:func:`dctrgan.stats.weighted_correlation`, with each sample's
    weights), drawn for the reference, then ``model - reference`` for each model on
    one shared, symmetric colour scale. Grey cells are undefined (a constant
    observable).

    Args:
        reference: the reference sample: a mapping ``name -> (N,) values`` (as
            :func:`dctrgan.features.observables` gives), awkward records, or an
            ``(N, d)`` array.
        *models: the model samples, likewise (the same observables).
        labels: panel titles, the reference's first (default ``"Reference"``,
            ``"Model"`` or ``"Model 1"``, ...).
        names: the observables, in order (default: all of the reference mapping;
            for arrays, the column labels, default ``x0, x1, ...``).
        weights: weights of the model events, one ``(N_i,)`` array or ``None`` per
            model in a list; with one model, its array.
        reference_weights: ``(N,)`` weights of the reference events (default: 1).
        annotate: write each coefficient into its cell (default: up to 12 observables).

    Returns:
        The figure and its matrix panels, a 1-D array: the reference, then one per
        model. The figure also holds a colorbar axes for each scale.

    Raises:
        ModuleNotFoundError: without matplotlib or mplhep (install ``dctrgan[plot]``).
        ValueError: for missing observables, fewer than two of them, non-finite
            values, bad weights or labels that are not one per sample.
    """
    require()
    titles = labels_or(labels, numbered("Model", len(models), first="Reference"))
    sample_weights = [reference_weights, *per_model(weights, len(models), "weights")]
    x_ref, columns = _columns(reference, None if names is None else list(names), "reference")
    if len(columns) < 2:
        msg = f"correlations: need at least two observables, got {columns}"
        raise ValueError(msg)
    matrices = [stats.weighted_correlation(x_ref, sample_weights[0])]
    for i, model in enumerate(models):
        x, _ = _columns(model, columns, f"model {i + 1}")
        matrices.append(stats.weighted_correlation(x, sample_weights[i + 1]) - matrices[0])
    d = len(columns)
    limit = _nice_ceiling(
        max((float(np.nanmax(np.abs(m), initial=0.0)) for m in matrices[1:]), default=0.1)
    )
    annotate = d <= 12 if annotate is None else annotate
    side = 8.0
    cell = side * 72 / d  # points
    if models:  # panel, colorbar, panels of the differences, their colorbar
        widths = [side, 0.4, *[side] * len(models), 0.4]
        gaps = [0.25, 2.2, *[0.5] * (len(models) - 1), 0.25]
    else:
        widths, gaps = [side, 0.4], [0.25]
    with style():
        tick_size = min(legend_size("small"), 0.75 * cell)
        margin = 0.3 + 0.62 * tick_size / 72 * max(len(c) for c in columns)
        fig, rects = figure(widths, [side], wgap=gaps, margins=(margin, 2.2, margin, 0.9))
        cmap_ref, cmap_diff = _colormap("RdBu_r"), _colormap("PuOr_r")
        panels: list[Axes] = []
        columns_of_panels = [0, *range(2, 2 + len(models))]
        for k, (matrix, col) in enumerate(zip(matrices, columns_of_panels, strict=True)):
            ax = fig.add_axes(rects[0][col], sharey=panels[0] if panels else None)
            vmax = 1.0 if k == 0 else limit
            image = ax.imshow(matrix, cmap=cmap_ref if k == 0 else cmap_diff, vmin=-vmax, vmax=vmax)
            ax.set_xticks(range(d), columns, rotation=90, fontsize=tick_size)
            ax.set_yticks(range(d), columns, fontsize=tick_size)
            ax.tick_params(which="both", top=False, right=False, length=4)
            ax.minorticks_off()
            if k:
                ax.tick_params(labelleft=False)
            title = titles[0] if k == 0 else f"{titles[k]} $-$ {titles[0]}"
            ax.set_title(title, fontsize="small")
            if annotate:
                _annotate(ax, matrix, vmax, signed=k > 0, size=min(tick_size, 0.3 * cell))
            panels.append(ax)
            if k == 0 or k == len(models):
                cax = fig.add_axes(rects[0][col + 1])
                bar = fig.colorbar(image, cax=cax)
                bar.set_label("Correlation" if k == 0 else "Difference")
    return fig, np.array(panels, dtype=object)


def _colormap(name: str) -> Any:
    """A matplotlib colormap with undefined cells in light grey."""
    import matplotlib as mpl

    return mpl.colormaps[name].with_extremes(bad="0.85")


def _annotate(ax: Axes, matrix: np.ndarray, vmax: float, *, signed: bool, size: float) -> None:
    for (i, j), value in np.ndenumerate(matrix):
        if not np.isfinite(value):
            continue
        ax.text(
            j,
            i,
            f"{value:+.2f}" if signed else f"{value:.2f}",
            ha="center",
            va="center",
            fontsize=size,
            color="white" if abs(value) > 0.6 * vmax else "black",
        )
