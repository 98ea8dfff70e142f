"""The numbers of a comparison: :class:`Entry` per observable, and :class:`Table`, the
fields, floors, medians and CSV table of :class:`dctrgan.report.Comparison` (its base)."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from typing import Literal

import numpy as np

from dctrgan import stats

__all__ = ("Entry", "Table", "statistical_floor")

#: Columns of :class:`Entry` before the floors of the CSV table, in order.
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
#: Columns of :class:`Entry` after the floors: the spreads over the replicas.
_SPREADS: tuple[str, ...] = ("s2_weighted_spread", "r_weighted_spread")
_Column = Literal[
    "s2_unweighted",
    "s2_weighted",
    "s2_ratio",
    "r_unweighted",
    "r_weighted",
    "s2_weighted_spread",
    "r_weighted_spread",
]


@dataclasses.dataclass(frozen=True)
class Entry:
    r"""The comparison of one observable.

    Attributes:
        observable: name of the observable.
        unit: its unit (``""`` for a count).
        group: ``"input"`` for a classifier input, ``"held-out"`` for the others.
        s2_unweighted: :math:`\langle S^2 \rangle` of the model without the weights against
            the reference.
        s2_weighted: :math:`\langle S^2 \rangle` of the weighted model against the reference.
        r_unweighted: uncertainty ratio :math:`r` of the unweighted model.
        r_weighted: uncertainty ratio :math:`r` of the weighted model.
        s2_weighted_spread: standard deviation (``ddof=1``) of ``s2_weighted`` over the
            replicas of the weighting, its reweighting uncertainty (NaN without replicas).
        r_weighted_spread: the same for ``r_weighted``.
    """

    observable: str
    unit: str
    group: str
    s2_unweighted: float
    s2_weighted: float
    r_unweighted: float
    r_weighted: float
    s2_weighted_spread: float = math.nan
    r_weighted_spread: float = math.nan

    @property
    def s2_ratio(self) -> float:
        """``s2_weighted / s2_unweighted`` (below 1: the weights help); NaN if the latter is 0."""
        if self.s2_unweighted <= 0:
            return math.nan
        return self.s2_weighted / self.s2_unweighted

    def row(self) -> tuple[str | float, ...]:
        """The values of the CSV columns before the floors, in order."""
        return tuple(getattr(self, column) for column in _COLUMNS)


def statistical_floor(bins: int, n1: float, n2: float) -> float:
    """Expected :math:`⟨S^2⟩` of two samples of the same distribution, ``inf`` for an empty one.

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
class Table:
    """The numbers of a :class:`dctrgan.report.Comparison`: its fields (documented
    there), floors, medians and CSV table, without the Markdown (which
    :mod:`dctrgan.report.markdown` renders from these)."""

    entries: tuple[Entry, ...]
    bins: int
    n_reference: int
    n_model: int
    neff_reference: float
    neff_model: float
    evaluation: str = ""
    n_replicas: int = 0
    neff_model_spread: float = math.nan
    test_unweighted: stats.ClassifierTest | None = None
    test_weighted: stats.ClassifierTest | None = None

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
                ``"r_unweighted"``, ``"r_weighted"``, ``"s2_weighted_spread"`` or
                ``"r_weighted_spread"``.
            group: ``"input"``, ``"held-out"``, or None for all observables.

        Returns:
            The median, NaN if no observable has a value.

        Raises:
            KeyError: for an unknown column or group.
        """
        known = (*_COLUMNS[3:], *_SPREADS)
        if column not in known:
            msg = f"unknown column {column!r}; one of {known}"
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

    def summary(self) -> str:
        """A few lines of plain text (what ``dctrgan report`` and ``dctrgan demo``
        print): the median :math:`⟨S^2⟩` before and after weighting, their ratio and ``r``
        per group, the floors, ``n_eff / N`` (± its spread over the replicas) and the
        independent classifier test's AUCs, if run."""
        lines = [f"  {'median over':<28}{'S2 before':>12}{'S2 after':>12}{'ratio':>9}{'r':>7}"]
        for group in self.groups:
            n = sum(e.group == group for e in self.entries)
            label = "classifier inputs" if group == "input" else group + " observables"
            lines.append(
                f"  {f'{n} {label}':<28}{self.median('s2_unweighted', group):>12.2e}"
                f"{self.median('s2_weighted', group):>12.2e}"
                f"{self.median('s2_ratio', group):>9.2f}{self.median('r_weighted', group):>7.2f}"
            )
        floors = f"{self.floor_unweighted:>12.2e}{self.floor_weighted:>12.2e}"
        lines.append(f"  {'statistical floor of S2':<28}{floors}")
        spread = ""
        if self.n_replicas and self.n_model:
            spread = (
                f" ± {self.neff_model_spread / self.n_model:.2f} over {self.n_replicas} replicas"
            )
        lines.append(f"  n_eff/N of the weighted sample: {self.neff_fraction:.2f}{spread}")
        for name, t in (("unweighted", self.test_unweighted), ("weighted", self.test_weighted)):
            if t is not None:
                lo, hi = t.auc_interval
                lines.append(
                    f"  classifier test, {name + ':':<12}AUC {t.auc:.3f} [{lo:.3f}, {hi:.3f}] "
                    f"({t.level:.0%}; 0.5: cannot be told apart)"
                )
        return "\n".join(lines)

    def to_csv(self) -> str:
        """The table as CSV: a header line, then one line per observable.

        Columns: ``observable, unit, group, s2_unweighted, s2_weighted, s2_ratio,
        r_unweighted, r_weighted, s2_floor_unweighted, s2_floor_weighted,
        s2_weighted_spread, r_weighted_spread`` (the floors are the same on every line;
        the spreads are the standard deviations over the replicas of the weighting,
        ``nan`` without replicas; numbers with full precision, ``nan`` for none).
        """
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow((*_COLUMNS, "s2_floor_unweighted", "s2_floor_weighted", *_SPREADS))
        floors = (self.floor_unweighted, self.floor_weighted)
        for entry in self.entries:
            spreads = (getattr(entry, column) for column in _SPREADS)
            writer.writerow(
                tuple(
                    v if isinstance(v, str) else repr(float(v))
                    for v in (*entry.row(), *floors, *spreads)
                )
            )
        return buffer.getvalue()
