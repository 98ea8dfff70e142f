"""Histograms with :math:`⟨S^2⟩` and ``r`` (DCTRGAN Figs. 3-6), and their summary (Fig. 8)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dctrgan import report
from dctrgan.plot._canvas import ComparisonCanvas, bin_comparison, bin_inputs
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
    power_of_ten,
    require,
    style,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ("compare", "comparison", "summary")


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
    """One observable's histograms, reference and models, with :math:`⟨S^2⟩`, ``r``, ratio panel.

    DCTRGAN Figs. 3-6: histograms normalized to unit area, the legend giving for
    each model the separation power :math:`⟨S^2⟩` (eq. 15) against the reference and the
    uncertainty ratio ``r`` (sec. II B), and below, the ratio of each model to the
    reference with the reference's relative statistical uncertainty as a grey band.
    The paper's figures show one fast sample several times, with and without
    weights: ``compare(g4, gan, gan, gan, weights=[None, w_hl, w_ll])``.

    Samples are histogrammed in ``bins`` bins (edges from
    :func:`dctrgan.report.edges`, so :math:`⟨S^2⟩` and ``r`` are the numbers of
    :func:`dctrgan.report.compare`); events outside the edges are not counted, and
    ``r`` uses every event. If any input is a histogram (:class:`dctrgan.Hist` or
    another 1-D uhi histogram with ``Weight()`` storage), all are compared on its
    bins: samples are filled into them, :math:`⟨S^2⟩` comes from the bin contents and
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
    edges, binned = bin_inputs(inputs, all_weights, bins, observable)
    canvas = ComparisonCanvas(edges, binned, names, observable, unit, ratio_range)
    return canvas.figure, np.array(canvas.axes, dtype=object)


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
    r"""Histograms of :math:`⟨S^2⟩`, its weighted/unweighted ratio and ``r`` over all observables.

    DCTRGAN Fig. 8: one column each for :math:`⟨S^2⟩` (of the unweighted model and of
    each weighted one), the ratio :math:`⟨S^2⟩_\text{weighted} / ⟨S^2⟩_\text{unweighted}` (below 1:
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
        bins: bins of each histogram (log-spaced for :math:`⟨S^2⟩` and its ratio).

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
    uncertainty as a hatched band. The legend's :math:`⟨S^2⟩` is the same (same bins);
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
    require()
    edges, binned = bin_comparison(
        reference,
        model,
        weights,
        reference_weights=reference_weights,
        bins=bins,
        observable=observable,
        replicas=replicas,
    )
    names = [str(text) for text in labels]
    return ComparisonCanvas(edges, binned, names, observable, unit, ratio_range).figure
