"""Figures of the DCTRGAN paper, for your own samples (matplotlib + mplhep).

Needs the ``plot`` extra: ``pip install "dctrgan[plot]"``. Figures are built on the
Agg canvas without :mod:`matplotlib.pyplot`, so they need no display and are never
left open; save them with ``fig.savefig("name.png")`` (in Jupyter, a returned figure
shows as the cell's output).

References:
    DCTRGAN (Diefenbacher et al.), Figs. 3-6.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from dctrgan import report

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ("comparison",)

_HINT = 'plotting needs matplotlib and mplhep: pip install "dctrgan[plot]"'


def _require() -> tuple[ModuleType, ModuleType]:
    """Import matplotlib and mplhep on first use, with an install hint if they are missing."""
    try:
        matplotlib = importlib.import_module("matplotlib")
        mplhep = importlib.import_module("mplhep")
    except ModuleNotFoundError as err:
        msg = f"{_HINT} ({err})"
        raise ModuleNotFoundError(msg) from err
    return matplotlib, mplhep


def _label(observable: str, unit: str) -> str:
    """Axis label from a name like ``total_energy`` and its unit: ``Total energy [MeV]``."""
    text = observable.replace("_", " ").strip()
    text = text[:1].upper() + text[1:] if text else "Observable"
    return f"{text} [{unit.replace('^2', '²')}]" if unit else text


def _power_of_ten(value: float) -> str:
    """``2.88e-03`` as mathtext ``2.88 \\times 10^{-3}``."""
    if not np.isfinite(value):
        return "-"
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.2e}".split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


def _metrics(s2: float, r: float) -> str:
    return rf"($\langle S^2\rangle = {_power_of_ten(s2)}$, $r = {r:.1f}$)"


def _density(counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / (total * np.diff(edges)) if total > 0 else np.zeros_like(counts)


def comparison(
    reference: Any,
    model: Any,
    weights: Any,
    *,
    reference_weights: Any = None,
    bins: int | np.ndarray = 30,
    observable: str = "",
    unit: str = "",
    labels: Sequence[str] = ("Reference", "Model", "Model, weighted"),
    ratio_range: tuple[float, float] = (0.5, 1.5),
) -> Figure:
    """Reference, model and weighted model histograms of one observable, with a ratio panel.

    The style of DCTRGAN Figs. 3-6: histograms normalized to unit area, the legend
    giving the separation power ``<S^2>`` of each model histogram against the
    reference and the uncertainty ratio ``r`` (the numbers of
    :func:`dctrgan.report.compare_observable`, same binning), and below, the ratio of
    each model histogram to the reference with the reference's statistical
    uncertainty as a grey band.

    Args:
        reference: ``(N1,)`` values of the observable in the reference sample.
        model: ``(N2,)`` values in the model sample.
        weights: ``(N2,)`` non-negative weights of the model events.
        reference_weights: ``(N1,)`` weights of the reference events (default: 1).
        bins: number of bins (edges from :func:`dctrgan.report.edges`) or the edges;
            events outside the edges are not counted.
        observable: name of the observable, for the x label (``total_energy``).
        unit: its unit, for the x label (``MeV``).
        labels: legend labels of the reference, the model and the weighted model.
        ratio_range: y range of the ratio panel.

    Returns:
        A figure with two axes: the histograms, and the ratio to the reference.

    Raises:
        ModuleNotFoundError: without matplotlib or mplhep (install ``dctrgan[plot]``).
        ValueError: for non-finite values, invalid weights, or not three labels.

    Example:
        >>> fig = comparison(full_energy, fast_energy, w, observable="total_energy", unit="MeV")
        >>> fig.savefig("total_energy.png")  # doctest: +SKIP
    """
    if len(labels) != 3:
        msg = f"labels: expected three (reference, model, weighted model), got {len(labels)}"
        raise ValueError(msg)
    matplotlib, mplhep = _require()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    x_ref = np.asarray(reference, dtype=np.float64).ravel()
    x_model = np.asarray(model, dtype=np.float64).ravel()
    if np.ndim(bins) == 0:
        if not (np.all(np.isfinite(x_ref)) and np.all(np.isfinite(x_model))):
            msg = f"observable {observable!r}: the samples hold non-finite values"
            raise ValueError(msg)
        edges = report.edges(x_ref, x_model, int(bins))
    else:
        edges = np.asarray(bins, dtype=np.float64)
    entry = report.compare_observable(
        x_ref, x_model, weights, reference_weights=reference_weights, bins=edges
    )
    w_model = np.asarray(weights, dtype=np.float64)
    w_ref = None if reference_weights is None else np.asarray(reference_weights, np.float64)
    h_ref, _ = np.histogram(x_ref, bins=edges, weights=w_ref)
    h_ref_w2, _ = np.histogram(x_ref, bins=edges, weights=None if w_ref is None else w_ref**2)
    h_model, _ = np.histogram(x_model, bins=edges)
    h_weighted, _ = np.histogram(x_model, bins=edges, weights=w_model)
    d_ref = _density(h_ref, edges)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = [
            np.where(d_ref > 0, _density(h, edges) / d_ref, np.nan) for h in (h_model, h_weighted)
        ]
        band = np.where(h_ref > 0, np.sqrt(h_ref_w2) / h_ref, 0.0)

    # the style without its mathtext fonts: those are looked up again when the figure is
    # drawn (outside this context), and the legend's math must find the same fonts then
    style = {k: v for k, v in mplhep.style.ROOT.items() if not k.startswith("mathtext.")}
    with matplotlib.rc_context(style):
        fig = Figure()
        FigureCanvasAgg(fig)
        # fixed margins for the style's 10 x 10 inch figure (a layout engine costs ~1 s a figure)
        grid = fig.add_gridspec(
            2, 1, height_ratios=(3, 1), left=0.15, right=0.97, top=0.97, bottom=0.1, hspace=0.06
        )
        ax = fig.add_subplot(grid[0])
        rax = fig.add_subplot(grid[1], sharex=ax)
        mplhep.histplot(
            d_ref, edges, ax=ax, histtype="fill", color="0.85", label=labels[0], flow=None
        )
        mplhep.histplot(d_ref, edges, ax=ax, histtype="step", color="0.3", flow=None)
        styles = (
            ("tab:blue", "--", entry.s2_unweighted, entry.r_unweighted, labels[1]),
            ("tab:red", "-", entry.s2_weighted, entry.r_weighted, labels[2]),
        )
        for (color, line, s2, r, label), h in zip(styles, (h_model, h_weighted), strict=True):
            mplhep.histplot(
                _density(h, edges),
                edges,
                ax=ax,
                histtype="step",
                color=color,
                linestyle=line,
                label=f"{label} {_metrics(s2, r)}",
                flow=None,
            )
        ax.set_ylabel("Normalized to unity")
        ax.set_ylim(0, 1.6 * max(float(np.max(d_ref, initial=0.0)), 1e-300))
        ax.legend(loc="upper left", fontsize="x-small", frameon=False)
        ax.tick_params(labelbottom=False)
        ax.set_xlabel("")
        rax.stairs(1 + band, edges, baseline=1 - band, fill=True, color="0.85", linewidth=0)
        rax.axhline(1.0, color="0.3", linewidth=1)
        for (color, line, *_), ratio in zip(styles, ratios, strict=True):
            mplhep.histplot(
                ratio, edges, ax=rax, histtype="step", color=color, linestyle=line, flow=None
            )
        rax.set_ylim(*ratio_range)
        rax.set_xlim(edges[0], edges[-1])
        rax.set_ylabel("Ratio")
        rax.set_xlabel(_label(observable, unit))
    return fig
