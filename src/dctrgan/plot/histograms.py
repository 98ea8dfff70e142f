"""Histogram comparisons with ``<S^2>`` and ``r`` (DCTRGAN Figs. 3-6) and their summary (Fig. 8)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dctrgan import report, stats
from dctrgan.plot._style import (
    LINESTYLES,
    MODEL_COLORS,
    decades,
    figure,
    headroom,
    label,
    labels_or,
    legend_size,
    log_axis,
    metrics,
    numbered,
    per_model,
    power_of_ten,
    require,
    style,
    vector,
)
from dctrgan.plot.validation import reweighting_band

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ("compare", "comparison", "summary")


@dataclasses.dataclass(frozen=True)
class _Binned:
    """Sums of weights and of squared weights per bin, with ``<S^2>`` and ``r`` to the reference."""

    values: np.ndarray
    variances: np.ndarray
    s2: float = math.nan
    r: float = math.nan
    reweighting: np.ndarray | None = None  # per-bin spread of the replicas, if any


def _is_hist(h: Any) -> bool:
    return callable(getattr(h, "values", None)) and hasattr(h, "axes")


def _edges_of(h: Any, name: str) -> np.ndarray:
    if len(h.axes) != 1:
        msg = f"{name}: expected a 1-D histogram, got {len(h.axes)} axes"
        raise ValueError(msg)
    return np.asarray(h.axes[0].edges, dtype=np.float64)


def _from_histograms(
    inputs: list[Any], weights: list[Any], names: list[str]
) -> tuple[np.ndarray, list[_Binned]]:
    """Every input as a histogram on the bins of the first histogram among them."""
    from dctrgan.hist import Hist

    first = next(i for i, h in enumerate(inputs) if _is_hist(h))
    edges = _edges_of(inputs[first], names[first])
    hists = []
    for h, w, name in zip(inputs, weights, names, strict=True):
        if _is_hist(h):
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
        binned.append(_Binned(values, np.asarray(variances), s2, r, spread))
    return edges, binned


def _from_arrays(
    inputs: list[Any], weights: list[Any], bins: Any, observable: str
) -> tuple[np.ndarray, list[_Binned]]:
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
        binned.append(_Binned(values.astype(np.float64), variances.astype(np.float64), s2, r))
    return edges, binned


def _bands(
    binned: list[_Binned], edges: np.ndarray, d_ref: np.ndarray
) -> list[tuple[int, tuple[np.ndarray, np.ndarray]]]:
    """Reweighting uncertainty of each model with replicas, as densities and as ratios."""
    out = []
    for i, b in enumerate(binned[1:]):
        if b.reweighting is not None and b.values.sum() > 0:
            density = b.reweighting / (b.values.sum() * np.diff(edges))
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(d_ref > 0, density / d_ref, np.nan)
            out.append((i, (density, ratio)))
    return out


def _density(counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / (total * np.diff(edges)) if total > 0 else np.zeros_like(counts)


def compare(
    reference: Any,
    *models: Any,
    labels: Sequence[str] | None = None,
    bins: int | Sequence[float] | np.ndarray = 30,
    weights: Any = None,
    reference_weights: Any = None,
    observable: str = "",
    unit: str = "",
    ratio_range: tuple[float, float] = (0.5, 1.5),
) -> tuple[Figure, np.ndarray]:
    """Histograms of one observable, reference and models, with ``<S^2>``, ``r`` and a ratio panel.

    DCTRGAN Figs. 3-6: histograms normalized to unit area, the legend giving for
    each model the separation power ``<S^2>`` (eq. 15) against the reference and the
    uncertainty ratio ``r`` (sec. II B), and below, the ratio of each model to the
    reference with the reference's relative statistical uncertainty as a grey band.
    The paper's figures show one fast sample several times, with and without
    weights: ``compare(g4, gan, gan, gan, weights=[None, w_hl, w_ll])``.

    Samples are histogrammed in ``bins`` bins (edges from
    :func:`dctrgan.report.edges`, so ``<S^2>`` and ``r`` are the numbers of
    :func:`dctrgan.report.compare`); events outside the edges are not counted, and
    ``r`` uses every event. If any input is a histogram (:class:`dctrgan.Hist` or
    another 1-D uhi histogram with ``Weight()`` storage), all are compared on its
    bins: samples are filled into them, ``<S^2>`` comes from the bin contents and
    ``r`` from :meth:`dctrgan.Hist.uncertainty_ratio` (entries at bin centres).
    A model :class:`dctrgan.Hist` filled with ``replicas=`` (two or more) gets a
    hatched band in its colour, in both panels: its reweighting uncertainty
    (:meth:`dctrgan.Hist.reweighting_uncertainty`, the spread of the replicas), beside
    the grey statistical band of the reference.

    Args:
        reference: ``(N,)`` values of the observable in the reference sample, or a histogram.
        *models: ``(N_i,)`` values in each model sample, or histograms.
        labels: legend labels, the reference's first (default ``"Reference"``,
            ``"Model"`` or ``"Model 1"``, ...).
        bins: number of bins, or the edges (ignored when an input is a histogram).
        weights: weights of the model events, one ``(N_i,)`` array or ``None`` per
            model in a list; with one model, its array.
        reference_weights: ``(N,)`` weights of the reference events (default: 1).
        observable: name of the observable, for the x label (``total_energy``).
        unit: its unit, for the x label (``MeV``).
        ratio_range: y range of the ratio panel.

    Returns:
        The figure and its two axes as an array: ``[histograms, ratio]``.

    Raises:
        ModuleNotFoundError: without matplotlib or mplhep (install ``dctrgan[plot]``).
        ValueError: without models, for non-finite values, invalid weights, labels
            that are not one per input, or histograms with different bins.

    Example:
        >>> fig, (ax, ratio) = compare(full_e, fast_e, fast_e, weights=[None, w],
        ...                            labels=["Full", "Fast", "Fast + DCTR"])  # doctest: +SKIP
        >>> fig.savefig("total_energy.png")  # doctest: +SKIP
    """
    require()
    if not models:
        msg = "compare: pass at least one model sample after the reference"
        raise ValueError(msg)
    names = labels_or(labels, numbered("Model", len(models), first="Reference"))
    inputs = [reference, *models]
    all_weights = [reference_weights, *per_model(weights, len(models), "weights")]
    if any(_is_hist(h) for h in inputs):
        where = ["reference", *(f"model {i}" for i in range(1, len(inputs)))]
        edges, binned = _from_histograms(inputs, all_weights, where)
    else:
        edges, binned = _from_arrays(inputs, all_weights, bins, observable)
    ref = binned[0]
    d_ref = _density(ref.values, edges)
    densities = [_density(b.values, edges) for b in binned[1:]]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = [np.where(d_ref > 0, d / d_ref, np.nan) for d in densities]
        band = np.where(ref.values > 0, np.sqrt(ref.variances) / ref.values, 0.0)

    with style() as mplhep:
        fig, rects = figure([8.2], [6.4, 2.1], hgap=0.2, margins=(1.5, 0.3, 1.0, 0.3))
        ax = fig.add_axes(rects[0][0])
        rax = fig.add_axes(rects[1][0], sharex=ax)
        common = {"ax": ax, "flow": None}
        mplhep.histplot(d_ref, edges, histtype="fill", color="0.85", label=names[0], **common)
        mplhep.histplot(d_ref, edges, histtype="step", color="0.3", **common)
        for i, (b, d) in enumerate(zip(binned[1:], densities, strict=True)):
            mplhep.histplot(
                d,
                edges,
                histtype="step",
                color=MODEL_COLORS[i % len(MODEL_COLORS)],
                linestyle=LINESTYLES[i % len(LINESTYLES)],
                label=f"{names[i + 1]} {metrics(b.s2, b.r)}",
                **common,
            )
        bands = _bands(binned, edges, d_ref)
        for i, band_i in bands:
            color = MODEL_COLORS[i % len(MODEL_COLORS)]
            label_i = "Reweighting uncertainty" if i == bands[0][0] else None
            reweighting_band(ax, edges, densities[i], band_i[0], color, label=label_i)
        size = legend_size()
        top = max(float(np.max(d, initial=0.0)) for d in (d_ref, *densities))
        room = headroom(len(inputs) + bool(bands), 6.4, size)
        ax.set_ylim(0, max(top, 1e-300) / (1 - room - 0.04))
        ax.set_ylabel("Normalized to unity")
        ax.legend(loc="upper left", fontsize=size)
        ax.tick_params(labelbottom=False)
        rax.stairs(1 + band, edges, baseline=1 - band, fill=True, color="0.85", linewidth=0)
        for i, band_i in bands:
            reweighting_band(rax, edges, ratios[i], band_i[1], MODEL_COLORS[i % len(MODEL_COLORS)])
        rax.axhline(1.0, color="0.3", linewidth=1)
        for i, ratio in enumerate(ratios):
            mplhep.histplot(
                ratio,
                edges,
                ax=rax,
                histtype="step",
                color=MODEL_COLORS[i % len(MODEL_COLORS)],
                linestyle=LINESTYLES[i % len(LINESTYLES)],
                flow=None,
            )
        rax.set_ylim(*ratio_range)
        rax.set_xlim(edges[0], edges[-1])
        rax.set_ylabel("Ratio")
        rax.set_xlabel(label(observable, unit))
    return fig, np.array([ax, rax], dtype=object)


# ------------------------------------------------------------------ summary (Fig. 8)

_FIELDS = ("s2_unweighted", "s2_weighted", "r_unweighted", "r_weighted")


def _field(record: Any, key: str) -> Any:
    if isinstance(record, Mapping):
        return record.get(key)
    return getattr(record, key, None)


def _number(value: Any) -> float:
    if value is None or (isinstance(value, str) and value.strip() in {"", "—", "-"}):
        return math.nan
    return float(value)


def _records(table: Any, name: str) -> list[dict[str, Any]]:
    """A table as records with the columns of :class:`dctrgan.report.Entry`."""
    if isinstance(table, report.Comparison):
        rows: list[Any] = list(table.entries)
    elif isinstance(table, Mapping):
        rows = list(table.values())
    elif isinstance(table, Sequence) and not isinstance(table, str):
        rows = list(table)
    else:
        msg = (
            f"{name}: expected a dctrgan.report.Comparison, a mapping observable -> values "
            f"or a sequence of records, got {type(table).__name__}"
        )
        raise TypeError(msg)
    if not rows:
        msg = f"{name}: the table has no observables"
        raise ValueError(msg)
    out = []
    for row in rows:
        missing = [key for key in _FIELDS if _field(row, key) is None]
        if missing:
            msg = f"{name}: a record lacks {missing} (has {row!r})"
            raise ValueError(msg)
        record: dict[str, Any] = {key: _number(_field(row, key)) for key in _FIELDS}
        ratio = _field(row, "s2_ratio")
        if ratio is None:
            s2u = record["s2_unweighted"]
            ratio = record["s2_weighted"] / s2u if s2u > 0 else math.nan
        record["s2_ratio"] = _number(ratio)
        record["group"] = str(_field(row, "group") or "all")
        out.append(record)
    return out


def _log_edges(values: list[np.ndarray], bins: int) -> np.ndarray:
    every = np.concatenate(values)
    every = every[np.isfinite(every) & (every > 0)]
    if not len(every):
        return np.geomspace(0.1, 10.0, bins + 1)
    lo, hi = decades(float(every.min()) / 1.2, float(every.max()) * 1.2)
    return np.geomspace(lo, hi, bins + 1)


def _lin_edges(values: list[np.ndarray], bins: int) -> np.ndarray:
    every = np.concatenate(values)
    every = every[np.isfinite(every)]
    if not len(every):
        return np.linspace(0.0, 2.0, bins + 1)
    lo, hi = float(every.min()), float(every.max())
    pad = max(0.05 * (hi - lo), 0.05)
    return np.linspace(max(lo - pad, 0.0), hi + pad, bins + 1)


def summary(
    *tables: Any,
    labels: Sequence[str] | None = None,
    model_label: str = "Model",
    by_group: bool = True,
    bins: int = 20,
) -> tuple[Figure, np.ndarray]:
    """Histograms of ``<S^2>``, its weighted/unweighted ratio and ``r`` over all observables.

    DCTRGAN Fig. 8: one column each for ``<S^2>`` (of the unweighted model and of
    each weighted one), the ratio ``<S^2>_weighted / <S^2>_unweighted`` (below 1:
    the weights help) and ``r``; one row per group of observables (the report's
    ``"input"`` and ``"held-out"``). Each legend gives the median over the row's
    observables.

    Args:
        *tables: one table per weighting of the same model sample (say DCTR-HL and
            DCTR-LL): a :class:`dctrgan.report.Comparison`, a mapping
            ``observable -> {"s2_unweighted": ..., "s2_weighted": ..., "r_unweighted":
            ..., "r_weighted": ..., "group": ...}`` (values or objects with these
            attributes), or a sequence of such records with an ``observable`` key
            (rows of the report's CSV, as strings, work). ``s2_ratio`` and ``group``
            are optional. The unweighted columns are taken from the first table.
        labels: legend label of each table's weights (default ``"Weighted"`` or
            ``"Weighted 1"``, ...).
        model_label: legend label of the unweighted model.
        by_group: one row per group; else one row for all observables.
        bins: bins of each histogram (log-spaced for ``<S^2>`` and its ratio).

    Returns:
        The figure and its axes, a ``(rows, 3)`` array: ``[S^2, S^2 ratio, r]`` per row.

    Raises:
        ModuleNotFoundError: without matplotlib or mplhep (install ``dctrgan[plot]``).
        TypeError: for a table of an unknown kind.
        ValueError: without tables, for records that lack a column, or labels that
            are not one per table.

    Example:
        >>> hl = dctrgan.report.compare(full, fast, w_hl)  # doctest: +SKIP
        >>> ll = dctrgan.report.compare(full, fast, w_ll)  # doctest: +SKIP
        >>> labels = ["DCTR-HL", "DCTR-LL"]
        >>> fig, axes = summary(hl, ll, labels=labels, model_label="Fast")  # doctest: +SKIP
    """
    require()
    if not tables:
        msg = "summary: pass at least one table"
        raise ValueError(msg)
    names = labels_or(labels, numbered("Weighted", len(tables)))
    records = [_records(t, f"tables[{i}]") for i, t in enumerate(tables)]
    groups = list(dict.fromkeys(r["group"] for rs in records for r in rs)) if by_group else ["all"]

    def column(rs: list[dict[str, Any]], key: str, group: str) -> np.ndarray:
        return np.array([r[key] for r in rs if group in ("all", r["group"])], dtype=np.float64)

    # the same bins in every row: those of all observables
    edges = (
        _log_edges(
            [column(records[0], "s2_unweighted", "all")]
            + [column(rs, "s2_weighted", "all") for rs in records],
            bins,
        ),
        _log_edges([column(rs, "s2_ratio", "all") for rs in records], bins),
        _lin_edges(
            [column(records[0], "r_unweighted", "all")]
            + [column(rs, "r_weighted", "all") for rs in records],
            bins,
        ),
    )
    xlabels = (
        r"$\langle S^2\rangle$",
        r"$\langle S^2\rangle_\mathrm{weighted} / \langle S^2\rangle_\mathrm{unweighted}$",
        r"$r$",
    )
    with style() as mplhep:
        size = legend_size()
        fig, rects = figure(
            [7.0] * 3, [5.5] * len(groups), wgap=1.6, hgap=1.9, margins=(1.6, 0.3, 1.3, 0.7)
        )
        axes = np.empty((len(groups), 3), dtype=object)
        for row, group in enumerate(groups):
            curves: list[list[tuple[np.ndarray, str, int]]] = [[], [], []]
            unweighted_s2 = column(records[0], "s2_unweighted", group)
            unweighted_r = column(records[0], "r_unweighted", group)
            curves[0].append((unweighted_s2, model_label, 0))
            curves[2].append((unweighted_r, model_label, 0))
            for k, (rs, name) in enumerate(zip(records, names, strict=True)):
                curves[0].append((column(rs, "s2_weighted", group), name, k + 1))
                curves[1].append((column(rs, "s2_ratio", group), name, k + 1))
                curves[2].append((column(rs, "r_weighted", group), name, k + 1))
            for col in range(3):
                ax = fig.add_axes(rects[row][col])
                axes[row, col] = ax
                top = 0.0
                for values, name, style_index in curves[col]:
                    finite = values[np.isfinite(values)]
                    counts, _ = np.histogram(finite, bins=edges[col])
                    top = max(top, float(counts.max(initial=0)))
                    median = float(np.median(finite)) if len(finite) else math.nan
                    text = f"{median:.2f}" if col else f"${power_of_ten(median)}$"
                    mplhep.histplot(
                        counts,
                        edges[col],
                        ax=ax,
                        histtype="step",
                        color=MODEL_COLORS[style_index % len(MODEL_COLORS)],
                        linestyle=LINESTYLES[style_index % len(LINESTYLES)],
                        label=f"{name} (median {text})",
                        flow=None,
                    )
                if col < 2:
                    log_axis(ax, "x", edges[col][0], edges[col][-1])
                if col == 1:
                    ax.axvline(1.0, color="0.5", linestyle=":", linewidth=1.5)
                room = headroom(len(curves[col]), 5.5, size)
                ax.set_ylim(0, max(top, 1.0) / (1 - room - 0.04))
                ax.set_xlim(edges[col][0], edges[col][-1])
                ax.set_xlabel(xlabels[col])
                ax.set_ylabel("Observables")
                ax.legend(loc="upper left", fontsize=size)
            n = len(unweighted_s2)
            axes[row, 0].set_title(f"{group} ({n} observables)", loc="left", fontsize="small")
    return fig, axes


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
    replicas: Any = None,
) -> Figure:
    """Reference, model and weighted model histograms of one observable, with a ratio panel.

    :func:`compare` of ``reference`` with ``model`` twice, without and with
    ``weights``; see there. With ``replicas``, the weighted model is a
    :class:`dctrgan.Hist` filled with them, on the edges the samples would get
    (:func:`dctrgan.report.edges`), so :func:`compare` draws its reweighting
    uncertainty as a hatched band. The legend's ``<S^2>`` is the same (same bins);
    ``r`` comes from the bins then, for every sample (:meth:`dctrgan.Hist.uncertainty_ratio`,
    entries at bin centres, a difference well below the legend's one decimal).

    Args:
        reference: ``(N1,)`` values of the observable in the reference sample.
        model: ``(N2,)`` values in the model sample.
        weights: ``(N2,)`` non-negative weights of the model events.
        reference_weights: ``(N1,)`` weights of the reference events (default: 1).
        bins: number of bins (edges from :func:`dctrgan.report.edges`) or the edges.
        observable: name of the observable, for the x label (``total_energy``).
        unit: its unit, for the x label (``MeV``).
        labels: legend labels of the reference, the model and the weighted model.
        ratio_range: y range of the ratio panel.
        replicas: ``(N2, k)`` weights of the model events under ``k >= 2`` replicas of
            the weighting (as ``weights``, one column per replica), or None.

    Returns:
        The figure, with two axes: the histograms, and the ratio to the reference.

    Raises:
        ModuleNotFoundError: without matplotlib or mplhep (install ``dctrgan[plot]``).
        ValueError: for non-finite values, invalid weights or replicas, or not three
            labels.

    Example:
        >>> fig = comparison(  # doctest: +SKIP
        ...     full_energy, fast_energy, w, observable="total_energy", unit="MeV"
        ... )
        >>> fig.savefig("total_energy.png")  # doctest: +SKIP
    """
    if len(labels) != 3:
        msg = f"labels: expected three (reference, model, weighted model), got {len(labels)}"
        raise ValueError(msg)
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
    fig, _ = compare(
        reference,
        model,
        weighted,
        labels=labels,
        bins=bins,
        weights=[None, model_weights],
        reference_weights=reference_weights,
        observable=observable,
        unit=unit,
        ratio_range=ratio_range,
    )
    return fig
