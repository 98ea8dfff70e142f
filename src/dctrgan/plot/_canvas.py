"""The figure of :func:`dctrgan.plot.compare` (private): what it draws, drawn once, and
drawn again with another observable's numbers.

:func:`bin_inputs` turns the samples or histograms into :class:`Binned` counts on one set
of edges, with ``<S^2>`` and ``r``; :func:`bin_comparison` does it for the three
histograms of :func:`dctrgan.plot.comparison`. :class:`ComparisonCanvas` draws them:
histograms normalized to unit area over a ratio panel. Its :meth:`~ComparisonCanvas.redraw`
puts another observable's numbers into the same artists (stairs, legend texts, limits,
x label) rather than building a figure: a new figure creates its tick marks again (the
ROOT style draws minor ticks on all four sides), which is about half of the cost of a
figure saved at once. A redrawn figure saves to the same PNG bytes as a new one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dctrgan import report, stats
from dctrgan.plot._style import (
    LINESTYLES,
    MODEL_COLORS,
    figure,
    headroom,
    label,
    legend_size,
    metrics,
    style,
    vector,
)
from dctrgan.plot.validation import band_limits, reweighting_band

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.patches import StepPatch

__all__ = ("Binned", "ComparisonCanvas", "bin_comparison", "bin_inputs", "is_hist")

#: Height of the histogram panel, inches (the legend's headroom is a fraction of it).
_HEIGHT = 6.4


@dataclasses.dataclass(frozen=True)
class Binned:
    """Sums of weights and of squared weights per bin, with ``<S^2>`` and ``r`` to the reference."""

    values: np.ndarray
    variances: np.ndarray
    s2: float = math.nan
    r: float = math.nan
    reweighting: np.ndarray | None = None  # per-bin spread of the replicas, if any


def is_hist(h: Any) -> bool:
    """Whether ``h`` is a histogram (uhi: ``values()`` and ``axes``) rather than a sample."""
    return callable(getattr(h, "values", None)) and hasattr(h, "axes")


def _edges_of(h: Any, name: str) -> np.ndarray:
    if len(h.axes) != 1:
        msg = f"{name}: expected a 1-D histogram, got {len(h.axes)} axes"
        raise ValueError(msg)
    return np.asarray(h.axes[0].edges, dtype=np.float64)


def _from_histograms(
    inputs: list[Any], weights: list[Any], names: list[str]
) -> tuple[np.ndarray, list[Binned]]:
    """Every input as a histogram on the bins of the first histogram among them."""
    from dctrgan.hist import Hist

    first = next(i for i, h in enumerate(inputs) if is_hist(h))
    edges = _edges_of(inputs[first], names[first])
    hists = []
    for h, w, name in zip(inputs, weights, names, strict=True):
        if is_hist(h):
            if w is not None:
                msg = f"{name}: weights are given for a histogram (fill it with them instead)"
                raise ValueError(msg)
            own = _edges_of(h, name)
            if own.shape != edges.shape or not np.allclose(own, edges):
                msg = f"{name}: the bins differ from those of {names[first]}"
                raise ValueError(msg)
            hists.append(h)
        else:
            x = vector(h, name)
            # named as the first histogram's axis, so that the comparisons' axis check holds
            axis_name = getattr(inputs[first].axes[0], "name", "") or "x"
            filled = Hist.new.Var(edges, name=axis_name).Weight()
            hists.append(filled.fill(x, weight=None if w is None else vector(w, f"{name} weights")))
    reference, binned = hists[0], []
    for i, h in enumerate(hists):
        variances = h.variances()
        if variances is None:
            msg = (
                f"{names[i]}: the histogram does not know its sum of squared weights; use Weight()"
            )
            raise ValueError(msg)
        s2 = r = math.nan
        if i > 0:
            s2 = stats.separation_power(reference, h)
            r = stats.uncertainty_ratio_hist(h, reference)
        spread = h.reweighting_uncertainty() if getattr(h, "n_replicas", 0) >= 2 else None
        values = np.asarray(h.values(), np.float64)
        binned.append(Binned(values, np.asarray(variances), s2, r, spread))
    return edges, binned


def _from_arrays(
    inputs: list[Any], weights: list[Any], bins: Any, observable: str
) -> tuple[np.ndarray, list[Binned]]:
    """Histograms of the samples, with ``<S^2>`` and ``r`` as :func:`report.compare_observable`."""
    where = ["reference", *(f"model {i}" for i in range(1, len(inputs)))]
    xs = [vector(x, f"observable {observable!r}, {w}") for x, w in zip(inputs, where, strict=True)]
    if np.ndim(bins) == 0:
        unique: list[np.ndarray] = []
        for x in xs[1:]:
            if not any(x.shape == u.shape and np.array_equal(x, u) for u in unique):
                unique.append(x)
        edges = report.edges(xs[0], np.concatenate(unique), int(bins))
    else:
        edges = np.asarray(bins, dtype=np.float64)
    # the report's numbers first: it also checks every set of weights
    entries = [
        report.compare_observable(
            xs[0], x, w, reference_weights=weights[0], bins=edges, observable=observable
        )
        for x, w in zip(xs[1:], weights[1:], strict=True)
    ]
    scores = [(math.nan, math.nan)] + [(e.s2_weighted, e.r_weighted) for e in entries]
    binned = []
    for x, w, (s2, r) in zip(xs, weights, scores, strict=True):
        wa = None if w is None else np.asarray(w, dtype=np.float64)
        values, _ = np.histogram(x, bins=edges, weights=wa)
        variances, _ = np.histogram(x, bins=edges, weights=None if wa is None else wa**2)
        binned.append(Binned(values.astype(np.float64), variances.astype(np.float64), s2, r))
    return edges, binned


def bin_inputs(
    inputs: list[Any], weights: list[Any], bins: Any, observable: str
) -> tuple[np.ndarray, list[Binned]]:
    """The edges and the :class:`Binned` reference and models of :func:`dctrgan.plot.compare`:
    on the bins of the first histogram among ``inputs`` if there is one, else on ``bins``."""
    if any(is_hist(h) for h in inputs):
        where = ["reference", *(f"model {i}" for i in range(1, len(inputs)))]
        return _from_histograms(inputs, weights, where)
    return _from_arrays(inputs, weights, bins, observable)


def bin_comparison(
    reference: Any,
    model: Any,
    weights: Any,
    *,
    reference_weights: Any,
    bins: int | np.ndarray,
    observable: str,
    replicas: Any,
) -> tuple[np.ndarray, list[Binned]]:
    """The three histograms of :func:`dctrgan.plot.comparison`: reference, model, and the
    model weighted (a :class:`dctrgan.Hist` filled with the ``replicas`` if given)."""
    weighted, model_weights = model, weights
    if replicas is not None:
        from dctrgan.hist import Hist

        x_ref, x_model = vector(reference, "reference"), vector(model, "model")
        edges = report.edges(x_ref, x_model, int(bins)) if np.ndim(bins) == 0 else bins
        # the report's checks of the weights first
        report.compare_observable(
            x_ref, x_model, weights, reference_weights=reference_weights, bins=edges
        )
        weighted = Hist.new.Var(np.asarray(edges, np.float64), name="x").Weight()
        weighted.fill(x_model, weight=vector(weights, "weights"), replicas=replicas)
        model_weights = None
    inputs = [reference, model, weighted]
    return bin_inputs(inputs, [reference_weights, None, model_weights], bins, observable)


def _density(counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / (total * np.diff(edges)) if total > 0 else np.zeros_like(counts)


@dataclasses.dataclass(frozen=True)
class _Curves:
    """What the figure draws: densities, ratios to the reference, bands, the y range."""

    reference: np.ndarray
    models: list[np.ndarray]
    ratios: list[np.ndarray]
    band: np.ndarray  # relative statistical uncertainty of the reference per bin
    bands: list[tuple[int, tuple[np.ndarray, np.ndarray]]]  # (model, (density, ratio))
    top: float

    @classmethod
    def of(cls, edges: np.ndarray, binned: list[Binned]) -> _Curves:
        ref = binned[0]
        d_ref = _density(ref.values, edges)
        densities = [_density(b.values, edges) for b in binned[1:]]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = [np.where(d_ref > 0, d / d_ref, np.nan) for d in densities]
            band = np.where(ref.values > 0, np.sqrt(ref.variances) / ref.values, 0.0)
        # the reweighting uncertainty of each model with replicas, as densities and as ratios
        bands = []
        for i, b in enumerate(binned[1:]):
            if b.reweighting is not None and b.values.sum() > 0:
                density = b.reweighting / (b.values.sum() * np.diff(edges))
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratio = np.where(d_ref > 0, density / d_ref, np.nan)
                bands.append((i, (density, ratio)))
        top = max(float(np.max(d, initial=0.0)) for d in (d_ref, *densities))
        return cls(d_ref, densities, ratios, band, bands, top)


def _last(ax: Axes) -> StepPatch:
    """The artist that ``mplhep.histplot`` has just added: its stairs."""
    return ax.patches[-1]  # type: ignore[return-value]


def _set(stairs: StepPatch, values: np.ndarray, edges: np.ndarray, baseline: Any) -> None:
    """New data of a :class:`~matplotlib.patches.StepPatch`; ``baseline`` a number or ``(B,)``."""
    stairs.set_data(values, edges, baseline)


def _color(i: int) -> str:
    return MODEL_COLORS[i % len(MODEL_COLORS)]


def _linestyle(i: int) -> Any:
    return LINESTYLES[i % len(LINESTYLES)]


class ComparisonCanvas:
    """The figure of :func:`dctrgan.plot.compare` for one observable, and its artists.

    Args:
        edges: ``(B + 1,)`` bin edges.
        binned: the reference and each model on them.
        labels: legend labels, the reference's first.
        observable: name of the observable, for the x label.
        unit: its unit.
        ratio_range: y range of the ratio panel.

    Attributes:
        figure: the figure (Agg canvas).
        axes: the histogram panel and the ratio panel.
    """

    def __init__(
        self,
        edges: np.ndarray,
        binned: list[Binned],
        labels: Sequence[str],
        observable: str,
        unit: str,
        ratio_range: tuple[float, float],
    ) -> None:
        c = _Curves.of(edges, binned)
        self.layout = self.layout_of(binned, c)
        with style() as mplhep:
            fig, rects = figure([8.2], [_HEIGHT, 2.1], hgap=0.2, margins=(1.5, 0.3, 1.0, 0.3))
            ax = fig.add_axes(rects[0][0])
            rax = fig.add_axes(rects[1][0], sharex=ax)
            common = {"ax": ax, "flow": None}
            mplhep.histplot(
                c.reference, edges, histtype="fill", color="0.85", label=labels[0], **common
            )
            self._fill = _last(ax)
            mplhep.histplot(c.reference, edges, histtype="step", color="0.3", **common)
            self._outline = _last(ax)
            self._models: list[StepPatch] = []
            for i, (b, d) in enumerate(zip(binned[1:], c.models, strict=True)):
                mplhep.histplot(
                    d,
                    edges,
                    histtype="step",
                    color=_color(i),
                    linestyle=_linestyle(i),
                    label=f"{labels[i + 1]} {metrics(b.s2, b.r)}",
                    **common,
                )
                self._models.append(_last(ax))
            self._bands = []
            for i, (density, _) in c.bands:
                text = "Reweighting uncertainty" if i == c.bands[0][0] else None
                self._bands.append(
                    reweighting_band(ax, edges, c.models[i], density, _color(i), label=text)
                )
            self._size = legend_size()
            self._room = headroom(len(binned) + bool(c.bands), _HEIGHT, self._size)
            ax.set_ylim(0, max(c.top, 1e-300) / (1 - self._room - 0.04))
            ax.set_ylabel("Normalized to unity")
            ax.legend(loc="upper left", fontsize=self._size)
            ax.tick_params(labelbottom=False)
            self._band = rax.stairs(
                1 + c.band, edges, baseline=1 - c.band, fill=True, color="0.85", linewidth=0
            )
            self._ratio_bands = [
                reweighting_band(rax, edges, c.ratios[i], ratio, _color(i))
                for i, (_, ratio) in c.bands
            ]
            rax.axhline(1.0, color="0.3", linewidth=1)
            self._ratios = []
            for i, ratio in enumerate(c.ratios):
                mplhep.histplot(
                    ratio,
                    edges,
                    ax=rax,
                    histtype="step",
                    color=_color(i),
                    linestyle=_linestyle(i),
                    flow=None,
                )
                self._ratios.append(_last(rax))
            rax.set_ylim(*ratio_range)
            rax.set_xlim(edges[0], edges[-1])
            rax.set_ylabel("Ratio")
            rax.set_xlabel(label(observable, unit))
        self.figure: Figure = fig
        self.axes: tuple[Axes, Axes] = (ax, rax)

    @staticmethod
    def layout_of(binned: list[Binned], curves: _Curves | None = None) -> tuple[int, ...]:
        """What fixes the artists of a figure: the number of models, then those with a band."""
        bands = [i for i, _ in curves.bands] if curves is not None else None
        if bands is None:  # as _Curves.of decides, without the densities
            bands = [
                i
                for i, b in enumerate(binned[1:])
                if b.reweighting is not None and b.values.sum() > 0
            ]
        return (len(binned) - 1, *bands)

    def redraw(
        self,
        edges: np.ndarray,
        binned: list[Binned],
        labels: Sequence[str],
        observable: str,
        unit: str,
        ratio_range: tuple[float, float],
    ) -> None:
        """Show another observable: the figure becomes the one ``ComparisonCanvas`` would
        draw for these arguments.

        Raises:
            ValueError: if the numbers need other artists (another :attr:`layout`: other
                models, other bands).
        """
        c = _Curves.of(edges, binned)
        layout = self.layout_of(binned, c)
        if layout != self.layout:
            msg = f"redraw: the figure holds {self.layout}, the numbers need {layout}"
            raise ValueError(msg)
        ax, rax = self.axes
        with style():  # the labels' placement comes from the style
            # as mplhep.histplot: a fill from an array of zeros, a step from 0
            _set(self._fill, c.reference, edges, np.zeros_like(c.reference))
            self._fill.set_label(labels[0])
            _set(self._outline, c.reference, edges, 0)
            for i, (stairs, b, d) in enumerate(
                zip(self._models, binned[1:], c.models, strict=True)
            ):
                _set(stairs, d, edges, 0)
                stairs.set_label(f"{labels[i + 1]} {metrics(b.s2, b.r)}")
            for stairs, ratio_stairs, (i, (density, ratio)) in zip(
                self._bands, self._ratio_bands, c.bands, strict=True
            ):
                _set(stairs, *band_limits(edges, c.models[i], density))
                _set(ratio_stairs, *band_limits(edges, c.ratios[i], ratio))
            legend = ax.get_legend()
            assert legend is not None
            _, texts = ax.get_legend_handles_labels()
            for text, new in zip(legend.get_texts(), texts, strict=True):
                text.set_text(new)
            ax.set_ylim(0, max(c.top, 1e-300) / (1 - self._room - 0.04))
            _set(self._band, 1 + c.band, edges, 1 - c.band)
            for stairs, ratio in zip(self._ratios, c.ratios, strict=True):
                _set(stairs, ratio, edges, 0)
            rax.set_ylim(*ratio_range)
            rax.set_xlim(edges[0], edges[-1])
            rax.set_xlabel(label(observable, unit))
