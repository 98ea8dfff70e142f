"""Densities of the Gaussian toys: truth, GAN and DCTRGAN side by side (DCTRGAN Fig. 1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dctrgan.plot._style import figure, require, style

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ("density",)

Limits = tuple[float, float]


def _points(x: Any, name: str) -> np.ndarray:
    """``(N, d)`` finite points, ``d`` 1 or 2 (an ``(N,)`` array is 1-D)."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] not in (1, 2) or not len(a):
        msg = f"{name}: expected (N,), (N, 1) or (N, 2) points, got shape {np.shape(x)}"
        raise ValueError(msg)
    if not np.isfinite(a).all():
        msg = f"{name}: {int(np.count_nonzero(~np.isfinite(a)))} non-finite value(s)"
        raise ValueError(msg)
    return a


def _limits(truth: Any, samples: list[np.ndarray], limits: Any, dim: int) -> list[Limits]:
    """Plot range per dimension: given, from a mixture's modes (+-4 sigma), or the samples'."""
    if limits is not None:
        given = np.asarray(limits, dtype=np.float64)
        pairs = np.broadcast_to(given, (dim, 2)) if given.shape == (2,) else given
        if pairs.shape != (dim, 2) or not (pairs[:, 0] < pairs[:, 1]).all():
            msg = f"limits: expected (low, high) or one pair per dimension, got {limits!r}"
            raise ValueError(msg)
        return [(float(lo), float(hi)) for lo, hi in pairs]
    means, sigmas = getattr(truth, "means", None), getattr(truth, "sigmas", None)
    if means is not None and sigmas is not None:
        m = np.asarray(means, dtype=np.float64).reshape(-1, dim)
        s = np.broadcast_to(np.asarray(sigmas, dtype=np.float64), (len(m),))[:, None]
        return [
            (float(lo), float(hi))
            for lo, hi in zip((m - 4 * s).min(0), (m + 4 * s).max(0), strict=True)
        ]
    every = np.concatenate(samples)
    lo, hi = np.percentile(every, 0.5, axis=0), np.percentile(every, 99.5, axis=0)
    pad = 0.05 * np.maximum(hi - lo, 1e-12)
    return [(float(a), float(b)) for a, b in zip(lo - pad, hi + pad, strict=True)]


def _pdf(truth: Any) -> Any:
    pdf = getattr(truth, "pdf", None)
    if callable(pdf):
        return pdf
    return truth if callable(truth) else None


def density(
    truth: Any,
    model: Any,
    weights: Any = None,
    *,
    labels: Sequence[str] = ("Truth", "GAN", "DCTRGAN"),
    bins: int | None = None,
    limits: Any = None,
) -> tuple[Figure, np.ndarray]:
    """The true density, the model's, and the model's with weights, side by side.

    DCTRGAN Fig. 1 (one row): the truth ``p_X`` (a density function, or a sample
    of it), the histogram of the GAN sample, and that of the same sample with the
    DCTR weights, all as densities (normalized with every event, also those outside
    the range). In 1D the true density is drawn again, dashed, over the
    histograms; in 2D the three panels share the colour scale of the truth (the
    colorbar's arrow marks cells above it).

    Args:
        truth: the true density: a :class:`dctrgan.simulate.GaussianMixture` (or
            anything with a ``pdf`` method), a function of ``(M,)`` points in 1D or
            ``(M, 2)`` points in 2D returning ``(M,)`` densities, or a sample
            ``(N,)`` / ``(N, d)``.
        model: ``(N,)`` or ``(N, d)`` model (GAN) points, ``d`` 1 or 2.
        weights: ``(N,)`` weights of the model points; without them, no third panel.
        labels: titles of the truth, model and weighted model panels.
        bins: bins per dimension (default 60 in 1D, 80 in 2D).
        limits: ``(low, high)`` for every dimension or one pair per dimension
            (default: the mixture's modes +-4 sigma, or the samples' 0.5-99.5 %).

    Returns:
        The figure and its panels, a 1-D array: truth, model, weighted model. In 2D
        the figure also holds a colorbar axes.

    Raises:
        ModuleNotFoundError: without matplotlib or mplhep (install ``dctrgan[plot]``).
        ValueError: for points that are not 1- or 2-D, dimensions that differ,
            bad weights or limits.

    Example:
        >>> from dctrgan.simulate import circle_2d
        >>> gan = circle_2d.sample(10_000, seed=1)            # a stand-in for GAN samples
        >>> fig, axes = density(circle_2d, gan)  # doctest: +SKIP
    """
    require()
    x = _points(model, "model")
    dim = x.shape[1]
    pdf = _pdf(truth)
    truth_points = None if pdf is not None else _points(truth, "truth")
    if truth_points is not None and truth_points.shape[1] != dim:
        msg = f"truth: {truth_points.shape[1]}-D points, but the model is {dim}-D"
        raise ValueError(msg)
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (len(x),) or not np.isfinite(w).all() or w.sum() <= 0:
            msg = f"weights: expected ({len(x)},) finite weights with a positive sum, got {w.shape}"
            raise ValueError(msg)
    n_panels = 2 if w is None else 3
    if len(labels) < n_panels:
        msg = f"labels: expected {n_panels} titles, got {len(labels)}"
        raise ValueError(msg)
    ranges = _limits(truth, [x] if truth_points is None else [x, truth_points], limits, dim)
    n_bins = bins if bins is not None else (60 if dim == 1 else 80)
    edges = [np.linspace(lo, hi, n_bins + 1) for lo, hi in ranges]

    def histogram(points: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
        counts, _ = np.histogramdd(points, bins=edges, weights=weight)
        total = len(points) if weight is None else float(weight.sum())
        cell = np.prod([np.diff(e)[0] for e in edges])
        return np.asarray(counts / (total * cell))

    if pdf is not None:
        if dim == 1:
            grid = np.linspace(*ranges[0], 400)
            truth_values = np.asarray(pdf(grid), dtype=np.float64).reshape(grid.shape)
        else:
            centres = [0.5 * (e[1:] + e[:-1]) for e in edges]
            cx, cy = np.meshgrid(*centres, indexing="ij")
            flat = np.asarray(pdf(np.column_stack([cx.ravel(), cy.ravel()])), np.float64)
            truth_values = flat.reshape(cx.shape)
    else:
        assert truth_points is not None
        truth_values = histogram(truth_points, None)
    maps = [histogram(x, None)] + ([] if w is None else [histogram(x, w)])

    with style():
        if dim == 1:
            fig, axes = _draw_1d(truth_values, maps, edges[0], ranges[0], pdf is not None, labels)
        else:
            fig, axes = _draw_2d([truth_values, *maps], edges, labels)
    return fig, np.array(axes, dtype=object)


def _draw_1d(
    truth: np.ndarray,
    maps: list[np.ndarray],
    edges: np.ndarray,
    limits: Limits,
    smooth: bool,
    labels: Sequence[str],
) -> tuple[Figure, list[Axes]]:
    fig, rects = figure([6.5] * (1 + len(maps)), [5.5], wgap=0.3, margins=(1.8, 0.3, 1.2, 0.7))
    axes: list[Axes] = []
    grid = np.linspace(*limits, len(truth)) if smooth else None
    top = max(float(np.max(truth)), *(float(m.max()) for m in maps))
    for k in range(1 + len(maps)):
        ax = fig.add_axes(rects[0][k], sharey=axes[0] if axes else None)
        if k == 0:
            if grid is not None:
                ax.fill_between(grid, truth, color="0.85", linewidth=0)
                ax.plot(grid, truth, color="0.2", linewidth=2)
            else:
                ax.stairs(truth, edges, fill=True, color="0.85")
        else:
            ax.stairs(maps[k - 1], edges, color="tab:blue" if k == 1 else "tab:red", linewidth=2)
            if grid is not None:
                ax.plot(grid, truth, color="0.3", linestyle="--", linewidth=1.5)
            else:
                ax.stairs(truth, edges, color="0.3", linestyle="--", linewidth=1.5)
            ax.tick_params(labelleft=False)
        ax.set_xlim(*limits)
        ax.set_title(labels[k], fontsize="small")
        ax.set_xlabel("$x$")
        axes.append(ax)
    axes[0].set_ylim(0, 1.1 * top)
    axes[0].set_ylabel("Density")
    return fig, axes


def _draw_2d(
    maps: list[np.ndarray], edges: list[np.ndarray], labels: Sequence[str]
) -> tuple[Figure, list[Axes]]:
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    side = 6.5
    widths = [side] * len(maps) + [0.35]
    gaps = [0.3] * (len(maps) - 1) + [0.25]
    fig, rects = figure(widths, [side], wgap=gaps, margins=(1.6, 1.9, 1.2, 0.7))
    # the truth's scale: single hot cells of a weighted histogram would wash the others out
    vmax = float(maps[0].max()) or max(float(m.max()) for m in maps) or 1.0
    beyond = any(float(m.max()) > vmax * (1 + 1e-9) for m in maps)
    axes: list[Axes] = []
    for k, values in enumerate(maps):
        ax = fig.add_axes(rects[0][k], sharey=axes[0] if axes else None)
        ax.pcolormesh(
            edges[0], edges[1], values.T, cmap="viridis", vmin=0, vmax=vmax, rasterized=True
        )
        ax.set_aspect("equal")
        ax.set_title(labels[k], fontsize="small")
        ax.set_xlabel("$x_0$")
        if k:
            ax.tick_params(labelleft=False)
        axes.append(ax)
    axes[0].set_ylabel("$x_1$")
    bar = fig.colorbar(
        ScalarMappable(Normalize(0, vmax), "viridis"),
        cax=fig.add_axes(rects[0][-1]),
        extend="max" if beyond else "neither",
    )
    bar.set_label("Density")
    return fig, axes
