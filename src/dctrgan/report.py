"""Observable-by-observable comparison of a (weighted) model sample with a reference.

For every observable: the separation power ``<S^2>`` (DCTRGAN eq. 15) of the model
against the reference, without and with the weights, their ratio, and the
uncertainty ratio ``r`` (DCTRGAN sec. II B): the uncertainty on the mean of the
observable from the model sample over that from the reference sample. The table is
written as Markdown (for people) and CSV (for programs)::

    comparison = dctrgan.report.compare(full, fast, weights)
    comparison.write("report")  # report.md and report.csv
    comparison.median("s2_weighted", group="input")

Showers are compared on :func:`dctrgan.features.observables`, air-shower traces on
:func:`dctrgan.features.trace_observables`, anything else given as a mapping
``name -> (N,) values``.

Every observable is histogrammed in the same number of equal-width bins between the
0.1 and 99.9 percentiles of both samples together; events outside are not counted
(as in the paper's figures, whose first and last bins hold no under- or overflow).
Integer-valued observables (active cells) get edges on half-integers, so every bin
holds the same number of integers. ``r`` uses every event.

Two finite samples of the same distribution do not give ``<S^2> = 0``: with ``B``
bins and ``N1``, ``N2`` events, ``E[<S^2>] ~ (B - 1) / 4 (1/N1 + 1/N2)``, with the
effective numbers of entries in place of ``N`` for weighted samples. The report
states this floor; an ``<S^2>`` near it is as good as the sample size can tell.

References:
    DCTRGAN (Diefenbacher et al.), eq. 15, sec. II B, Figs. 3-8.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import awkward as ak
import numpy as np
from tqdm.auto import tqdm

from dctrgan import features, stats

__all__ = (
    "Comparison",
    "Entry",
    "compare",
    "compare_observable",
    "edges",
    "statistical_floor",
)

#: Columns of :class:`Entry` (and of the CSV table), in order.
_COLUMNS: tuple[str, ...] = (
    "observable",
    "unit",
    "group",
    "s2_unweighted",
    "s2_weighted",
    "s2_ratio",
    "r_unweighted",
    "r_weighted",
)
_Column = Literal["s2_unweighted", "s2_weighted", "s2_ratio", "r_unweighted", "r_weighted"]
#: Percentiles of both samples together that bound the histograms.
_RANGE_PERCENTILES = (0.1, 99.9)
_TRACE_UNITS = {"total_signal": "VEM", "max_station_signal": "VEM", "rise_time": "ns"}


@dataclasses.dataclass(frozen=True)
class Entry:
    """The comparison of one observable.

    Attributes:
        observable: name of the observable.
        unit: its unit (``""`` for a count).
        group: ``"input"`` for a classifier input, ``"held-out"`` for the others.
        s2_unweighted: ``<S^2>`` of the model without the weights against the reference.
        s2_weighted: ``<S^2>`` of the weighted model against the reference.
        r_unweighted: uncertainty ratio ``r`` of the unweighted model.
        r_weighted: uncertainty ratio ``r`` of the weighted model.
    """

    observable: str
    unit: str
    group: str
    s2_unweighted: float
    s2_weighted: float
    r_unweighted: float
    r_weighted: float

    @property
    def s2_ratio(self) -> float:
        """``s2_weighted / s2_unweighted`` (below 1: the weights help); NaN if the latter is 0."""
        if self.s2_unweighted <= 0:
            return math.nan
        return self.s2_weighted / self.s2_unweighted

    def row(self) -> tuple[str | float, ...]:
        """The values in the order of the CSV columns."""
        return tuple(getattr(self, column) for column in _COLUMNS)


def statistical_floor(bins: int, n1: float, n2: float) -> float:
    """Expected ``<S^2>`` of two samples of the same distribution, ``inf`` for an empty one.

    :func:`dctrgan.stats.statistical_floor` (``(bins - 1) / 4 (1/n1 + 1/n2)``, which
    refuses a bad argument by name), except that a sample of zero (effective) entries
    gives ``inf``: a comparison with an empty sample has no floor.

    Args:
        bins: number of bins.
        n1: events (or effective entries) of the first sample.
        n2: the same for the second sample.
    """
    if n1 == 0 or n2 == 0:
        stats.statistical_floor(bins, 1, 1)  # the bins are still checked
        return math.inf
    return stats.statistical_floor(bins, n1, n2)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Observable-by-observable comparison of a weighted model sample with a reference.

    Attributes:
        entries: one :class:`Entry` per observable, in order.
        bins: number of bins of every histogram.
        n_reference: events in the reference sample.
        n_model: events in the model sample.
        neff_reference: effective entries ``(sum w)^2 / sum w^2`` of the reference.
        neff_model: effective entries of the weighted model sample.
        evaluation: which events were compared (e.g. "held-out test split"), for the header.
    """

    entries: tuple[Entry, ...]
    bins: int
    n_reference: int
    n_model: int
    neff_reference: float
    neff_model: float
    evaluation: str = ""

    @property
    def floor_unweighted(self) -> float:
        """Statistical floor of ``s2_unweighted`` (:func:`statistical_floor`)."""
        return statistical_floor(self.bins, self.neff_reference, self.n_model)

    @property
    def floor_weighted(self) -> float:
        """Statistical floor of ``s2_weighted``, through the effective entries of the weights."""
        return statistical_floor(self.bins, self.neff_reference, self.neff_model)

    @property
    def neff_fraction(self) -> float:
        """``n_eff / N`` of the weighted model sample."""
        return self.neff_model / self.n_model if self.n_model else math.nan

    @property
    def groups(self) -> tuple[str, ...]:
        """The groups present, in order of first appearance."""
        return tuple(dict.fromkeys(e.group for e in self.entries))

    def __getitem__(self, observable: str) -> Entry:
        for entry in self.entries:
            if entry.observable == observable:
                return entry
        msg = f"no observable {observable!r} in the comparison"
        raise KeyError(msg)

    def median(self, column: _Column, group: str | None = None) -> float:
        """Median of a column over all observables, or over one group (NaN values skipped).

        Args:
            column: ``"s2_unweighted"``, ``"s2_weighted"``, ``"s2_ratio"``,
                ``"r_unweighted"`` or ``"r_weighted"``.
            group: ``"input"``, ``"held-out"``, or None for all observables.

        Returns:
            The median, NaN if no observable has a value.

        Raises:
            KeyError: for an unknown column or group.
        """
        if column not in _COLUMNS[3:]:
            msg = f"unknown column {column!r}; one of {_COLUMNS[3:]}"
            raise KeyError(msg)
        if group is not None and group not in self.groups:
            msg = f"unknown group {group!r}; the comparison has {self.groups}"
            raise KeyError(msg)
        values = np.array(
            [getattr(e, column) for e in self.entries if group is None or e.group == group],
            dtype=np.float64,
        )
        values = values[~np.isnan(values)]
        return float(np.median(values)) if len(values) else math.nan

    def to_csv(self) -> str:
        """The table as CSV: a header line, then one line per observable.

        Columns: ``observable, unit, group, s2_unweighted, s2_weighted, s2_ratio,
        r_unweighted, r_weighted, s2_floor_unweighted, s2_floor_weighted`` (the floors
        are the same on every line; numbers with full precision, ``nan`` for none).
        """
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow((*_COLUMNS, "s2_floor_unweighted", "s2_floor_weighted"))
        floors = (self.floor_unweighted, self.floor_weighted)
        for entry in self.entries:
            writer.writerow(
                tuple(v if isinstance(v, str) else repr(float(v)) for v in (*entry.row(), *floors))
            )
        return buffer.getvalue()

    def to_markdown(self, title: str = "Reweighting report", figures: Sequence[str] = ()) -> str:
        """The table as Markdown: header with sample sizes and floors, medians, every observable.

        Args:
            title: the first heading.
            figures: paths of figures (relative to the Markdown file) to show after the medians.
        """
        lines = [f"# {title}", ""]
        if self.evaluation:
            lines += [f"Evaluated on: {self.evaluation}", ""]
        lines += [
            f"- Reference: {self.n_reference} events"
            + (
                f" (effective {self.neff_reference:.0f})"
                if self.neff_reference < self.n_reference - 0.5
                else ""
            ),
            (
                f"- Model: {self.n_model} events; with the weights n_eff = {self.neff_model:.0f}"
                f" (n_eff/N = {self.neff_fraction:.3f})"
            ),
            (
                f"- Histograms: {self.bins} equal-width bins between the "
                f"{_RANGE_PERCENTILES[0]:g} and {_RANGE_PERCENTILES[1]:g} percentiles of both "
                "samples together (events outside are not counted; integer observables on "
                "half-integer edges)"
            ),
            (
                f"- Statistical floor of S²: {_sci(self.floor_unweighted)} unweighted, "
                f"{_sci(self.floor_weighted)} weighted: what two samples of one distribution of "
                "these sizes give, (B - 1)/4 (1/N_ref + 1/N_model) with effective entries for "
                "weighted samples; an S² near it cannot be told from a perfect model"
            ),
            (
                "- S² ratio: S² weighted / S² unweighted (below 1: the weights help). "
                "r: uncertainty on the mean of the observable from the model sample over that "
                "from the reference sample (DCTRGAN sec. II B)"
            ),
            "",
            "## Medians",
            "",
            (
                "| group | observables | S² unweighted | S² weighted | S² ratio "
                "| r unweighted | r weighted |"
            ),
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for group in (*self.groups, None):
            n = sum(1 for e in self.entries if group is None or e.group == group)
            cells = [
                group or "all",
                str(n),
                _sci(self.median("s2_unweighted", group)),
                _sci(self.median("s2_weighted", group)),
                _fixed(self.median("s2_ratio", group)),
                _fixed(self.median("r_unweighted", group)),
                _fixed(self.median("r_weighted", group)),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        if figures:
            lines += ["", "## Figures", ""]
            lines += [f"![{Path(f).stem}]({Path(f).as_posix()})" for f in figures]
        lines += [
            "",
            "## Observables",
            "",
            (
                "| observable | unit | group | S² unweighted | S² weighted | S² ratio "
                "| r unweighted | r weighted |"
            ),
            "|---|---|---|---:|---:|---:|---:|---:|",
        ]
        for e in self.entries:
            cells = [
                e.observable,
                e.unit,
                e.group,
                _sci(e.s2_unweighted),
                _sci(e.s2_weighted),
                _fixed(e.s2_ratio),
                _fixed(e.r_unweighted),
                _fixed(e.r_weighted),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def write(
        self,
        path: str | os.PathLike[str],
        *,
        title: str = "Reweighting report",
        figures: Sequence[str] = (),
    ) -> tuple[Path, Path]:
        """Write the table as ``<path>.md`` and ``<path>.csv`` (a suffix of ``path`` is replaced).

        Args:
            path: the file name without suffix, e.g. ``"out/report"``.
            title: the first heading of the Markdown file.
            figures: figure paths relative to the folder of ``path``, linked from the Markdown.

        Returns:
            The Markdown and the CSV path.
        """
        base = Path(path)
        markdown, table = base.with_suffix(".md"), base.with_suffix(".csv")
        markdown.write_text(self.to_markdown(title, figures), encoding="utf-8")
        table.write_text(self.to_csv(), encoding="utf-8")
        return markdown, table


def _sci(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2e}"


def _fixed(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2f}"


def _is_integer(x: np.ndarray) -> bool:
    return bool(np.all(x == np.round(x)))


def edges(reference: Any, model: Any, bins: int = 30) -> np.ndarray:
    """Bin edges for comparing one observable in two samples.

    ``bins`` equal-width bins between the 0.1 and 99.9 percentiles of both samples
    together; for integer-valued samples the edges sit on half-integers and every bin
    spans the same number of integers.

    Args:
        reference: ``(N1,)`` values of the observable in the reference sample.
        model: ``(N2,)`` values in the model sample.
        bins: number of bins (>= 1).

    Returns:
        ``(bins + 1,)`` increasing edges.

    Raises:
        ValueError: for ``bins < 1``, or samples that are empty or not finite.
    """
    if bins < 1:
        msg = f"bins must be at least 1, got {bins}"
        raise ValueError(msg)
    both = np.concatenate([np.ravel(reference), np.ravel(model)]).astype(np.float64)
    if len(both) == 0 or not np.all(np.isfinite(both)):
        msg = "edges: the samples must hold finite values and not both be empty"
        raise ValueError(msg)
    lo, hi = (float(q) for q in np.percentile(both, _RANGE_PERCENTILES))
    if _is_integer(both):
        width = max(1, math.ceil((math.floor(hi) - math.ceil(lo) + 1) / bins))
        start = math.ceil(lo) - 0.5
        return start + width * np.arange(bins + 1, dtype=np.float64)
    if hi <= lo:  # a (nearly) constant observable: one unit-wide range around it
        lo, hi = lo - 0.5, lo + 0.5
    return np.linspace(lo, hi, bins + 1)


def _weights(weights: Any, n: int, what: str) -> np.ndarray | None:
    if weights is None:
        return None
    w = np.asarray(ak.to_numpy(weights) if isinstance(weights, ak.Array) else weights)
    w = w.astype(np.float64)
    if w.shape != (n,):
        msg = f"{what}: expected ({n},) weights, one per event, got shape {w.shape}"
        raise ValueError(msg)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        msg = (
            f"{what}: {int(bad.sum())} weights are negative or not finite "
            f"(first at event {first}: {w[first]})"
        )
        raise ValueError(msg)
    if w.sum() <= 0:
        msg = f"{what}: the weights sum to zero"
        raise ValueError(msg)
    return w


def compare_observable(
    reference: Any,
    model: Any,
    weights: Any,
    *,
    reference_weights: Any = None,
    bins: int | np.ndarray = 30,
    observable: str = "",
    unit: str = "",
    group: str = "",
) -> Entry:
    """Compare one observable of a weighted model sample with the reference.

    Args:
        reference: ``(N1,)`` values of the observable in the reference sample.
        model: ``(N2,)`` values in the model sample.
        weights: ``(N2,)`` non-negative weights of the model events.
        reference_weights: ``(N1,)`` weights of the reference events (default: 1).
        bins: number of bins (edges from :func:`edges`) or the edges themselves.
        observable: the name to store in the entry.
        unit: the unit to store.
        group: the group to store.

    Returns:
        The :class:`Entry` with ``<S^2>`` and ``r`` without and with the weights.

    Raises:
        ValueError: for non-finite values or invalid weights.
    """
    x_ref = np.asarray(reference, dtype=np.float64).ravel()
    x_model = np.asarray(model, dtype=np.float64).ravel()
    for values, what in ((x_ref, "reference"), (x_model, "model")):
        bad = ~np.isfinite(values)
        if bad.any():
            msg = f"observable {observable!r}: {int(bad.sum())} non-finite values in the {what}"
            raise ValueError(msg)
    w_model = _weights(weights, len(x_model), f"observable {observable!r}, model weights")
    w_ref = _weights(reference_weights, len(x_ref), f"observable {observable!r}, reference")
    if np.ndim(bins) == 0:
        bin_edges = edges(x_ref, x_model, int(bins))
    else:
        bin_edges = np.asarray(bins, dtype=np.float64)
    h_ref, _ = np.histogram(x_ref, bins=bin_edges, weights=w_ref)
    h_model, _ = np.histogram(x_model, bins=bin_edges)
    h_weighted, _ = np.histogram(x_model, bins=bin_edges, weights=w_model)
    return Entry(
        observable=observable,
        unit=unit,
        group=group,
        s2_unweighted=_separation(h_ref, h_model),
        s2_weighted=_separation(h_ref, h_weighted),
        r_unweighted=stats.uncertainty_ratio(x_model, None, x_ref, w_ref),
        r_weighted=stats.uncertainty_ratio(x_model, w_model, x_ref, w_ref),
    )


def _separation(h1: np.ndarray, h2: np.ndarray) -> float:
    """``<S^2>``, or NaN where a histogram has no entries in the range."""
    if h1.sum() <= 0 or h2.sum() <= 0:
        return math.nan
    return stats.separation_power(h1, h2)


def _observables(sample: Any, what: str) -> Mapping[str, Any]:
    if isinstance(sample, Mapping):
        return sample
    if isinstance(sample, ak.Array) and "hits" in ak.fields(sample):
        return features.observables(sample)
    if isinstance(sample, ak.Array) and "signal" in ak.fields(sample):
        return features.trace_observables(sample)
    msg = (
        f"{what}: expected showers, traces or a mapping name -> (N,) values, "
        f"got {type(sample).__name__}"
    )
    raise TypeError(msg)


def _event_weights(sample: Any, given: Any) -> Any:
    """``given``, else the ``weight`` field of awkward events, else None."""
    if given is not None:
        return given
    if isinstance(sample, ak.Array) and "weight" in ak.fields(sample):
        return sample["weight"]
    return None


def _unit(name: str) -> str:
    try:
        return features.observable_unit(name)
    except KeyError:
        return _TRACE_UNITS.get(name, "")


def compare(
    reference: Any,
    model: Any,
    weights: Any = None,
    *,
    reference_weights: Any = None,
    names: Sequence[str] | None = None,
    inputs: Collection[str] = features.HIGH_LEVEL_NAMES,
    bins: int = 30,
    evaluation: str = "",
    progress: bool | Callable[[int], object] = False,
) -> Comparison:
    """Compare every observable of a weighted model sample with a reference sample.

    Args:
        reference: reference showers or traces (awkward, package schema) or a mapping
            ``name -> (N1,) values``.
        model: model showers, traces or a mapping ``name -> (N2,) values``.
        weights: ``(N2,)`` non-negative weights of the model events; by default the
            ``weight`` field of ``model``.
        reference_weights: ``(N1,)`` weights of the reference events; by default its
            ``weight`` field if it has one, else 1.
        names: the observables to compare, in order (default: all of ``reference``).
        inputs: names of the classifier's inputs: their group is ``"input"``, the
            others' ``"held-out"`` (default: the 33 high-level features of DCTR-HL).
        bins: bins per histogram.
        evaluation: which events these are, for the report header (say whether the
            weights were trained on them).
        progress: a progress bar over the observables on stderr, or a function called
            with 1 after each observable (a caller's ``tqdm(...).update``).

    Returns:
        The :class:`Comparison`.

    Raises:
        TypeError: for samples that are neither showers, traces nor mappings.
        ValueError: for missing weights, an observable missing from a sample, values
            that are not one finite number per event, or invalid weights.
    """
    ref_obs, model_obs = _observables(reference, "reference"), _observables(model, "model")
    weights = _event_weights(model, weights)
    if weights is None:
        msg = "compare: no weights; pass weights= or model events with a 'weight' field"
        raise ValueError(msg)
    reference_weights = _event_weights(reference, reference_weights)
    names = list(ref_obs) if names is None else list(names)
    if not names:
        msg = "compare: no observables to compare"
        raise ValueError(msg)
    missing = [n for n in names if n not in ref_obs or n not in model_obs]
    if missing:
        msg = f"compare: observable(s) {missing} missing from the reference or the model"
        raise ValueError(msg)
    n_ref = len(np.asarray(ref_obs[names[0]]))
    n_model = len(np.asarray(model_obs[names[0]]))
    for name in names:
        for sample, n, what in ((ref_obs, n_ref, "reference"), (model_obs, n_model, "model")):
            shape = np.shape(sample[name])
            if shape != (n,):
                msg = f"compare: observable {name!r} of the {what} has shape {shape}, not ({n},)"
                raise ValueError(msg)
    w_model = _weights(weights, n_model, "compare: model weights")
    w_ref = _weights(reference_weights, n_ref, "compare: reference weights")
    inputs, entries = set(inputs), []
    with tqdm(names, "comparing", disable=progress is not True, file=sys.stderr) as bar:
        for name in bar:
            group = "input" if name in inputs else "held-out"
            x_ref, x_model = ref_obs[name], model_obs[name]
            entry = compare_observable(
                x_ref, x_model, w_model, reference_weights=w_ref, bins=bins, observable=name
            )
            entries.append(dataclasses.replace(entry, unit=_unit(name), group=group))
            if callable(progress):
                progress(1)
    return Comparison(
        entries=tuple(entries),
        bins=bins,
        n_reference=n_ref,
        n_model=n_model,
        neff_reference=float(n_ref) if w_ref is None else stats.effective_entries(w_ref),
        neff_model=stats.effective_entries(w_model),
        evaluation=evaluation,
    )
