"""A :class:`dctrgan.report.Comparison` (its table) as
Markdown: the header with sample sizes and floors, the medians, the independent
classifier test, the figures and every observable.

With replicas of the weighting, the weighted numbers are quoted as ``value ± spread``,
the spread being their standard deviation over the replicas."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dctrgan.report.binning import RANGE_PERCENTILES

if TYPE_CHECKING:
    from dctrgan.report.table import Entry, Table
    from dctrgan.stats import ClassifierTest

__all__ = ("classifier_section", "header", "medians", "observables", "render")


def _sci(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2e}"


def _fixed(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2f}"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _with_spread(text: str, spread: str, replicas: bool) -> str:
    """``text ± spread`` with replicas, else ``text``."""
    return f"{text} ± {spread}" if replicas and text != "—" else text


def header(c: Table) -> list[str]:
    """The lines on the samples, the bins, the floors and the columns (a Markdown list)."""
    neff = f"n_eff = {c.neff_model:.0f}"
    fraction = f"n_eff/N = {c.neff_fraction:.3f}"
    if c.n_replicas:
        spread = c.neff_model_spread
        neff += f" ± {spread:.0f}"
        fraction += f" ± {spread / c.n_model if c.n_model else math.nan:.3f}"
    lines = [
        f"- Reference: {c.n_reference} events"
        + (
            f" (effective {c.neff_reference:.0f})" if c.neff_reference < c.n_reference - 0.5 else ""
        ),
        f"- Model: {c.n_model} events; with the weights {neff} ({fraction})",
    ]
    if c.n_replicas:
        lines.append(
            f"- Replicas: S² weighted, r weighted and n_eff are quoted as value ± the "
            f"standard deviation over the {c.n_replicas} replicas of the weighting (the "
            "reweighting uncertainty)"
        )
    lines += [
        (
            f"- Histograms: {c.bins} equal-width bins between the "
            f"{RANGE_PERCENTILES[0]:g} and {RANGE_PERCENTILES[1]:g} percentiles of both "
            "samples together (events outside are not counted; integer observables on "
            "half-integer edges)"
        ),
        (
            f"- Statistical floor of S²: {_sci(c.floor_unweighted)} unweighted, "
            f"{_sci(c.floor_weighted)} weighted: what two samples of one distribution of "
            "these sizes give, (B - 1)/4 (1/N_ref + 1/N_model) with effective entries for "
            "weighted samples; an S² near it cannot be told from a perfect model"
        ),
        (
            "- S² ratio: S² weighted / S² unweighted (below 1: the weights help). "
            "r: uncertainty on the mean of the observable from the model sample over that "
            "from the reference sample (DCTRGAN sec. II B)"
        ),
    ]
    return lines


def medians(c: Table) -> list[str]:
    """The section of the medians over each group of observables and over all.

    With replicas, the weighted cells are the median of the values ± the median of
    their spreads.
    """
    lines = ["## Medians", ""]
    if c.n_replicas:
        note = (
            "S² weighted and r weighted: the median of the values ± the median of their "
            "spreads over the replicas."
        )
        lines += [note, ""]
    lines += [
        (
            "| group | observables | S² unweighted | S² weighted | S² ratio "
            "| r unweighted | r weighted |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    replicas = bool(c.n_replicas)
    for group in (*c.groups, None):
        n = sum(1 for e in c.entries if group is None or e.group == group)
        s2 = _sci(c.median("s2_weighted", group))
        r = _fixed(c.median("r_weighted", group))
        cells = [
            group or "all",
            str(n),
            _sci(c.median("s2_unweighted", group)),
            _with_spread(s2, _sci(c.median("s2_weighted_spread", group)), replicas),
            _fixed(c.median("s2_ratio", group)),
            _fixed(c.median("r_unweighted", group)),
            _with_spread(r, _fixed(c.median("r_weighted_spread", group)), replicas),
        ]
        lines.append(_row(cells))
    return lines


def _test_row(sample: str, t: ClassifierTest) -> str:
    auc_lo, auc_hi = t.auc_interval
    jsd_lo, jsd_hi = t.jsd_interval
    return _row(
        [
            sample,
            f"{t.auc:.4f}",
            f"[{auc_lo:.4f}, {auc_hi:.4f}]",
            _sci(t.jsd),
            f"[{_sci(jsd_lo)}, {_sci(jsd_hi)}]",
        ]
    )


def classifier_section(c: Table) -> list[str]:
    """The section of the independent classifier test, no lines if it was not run."""
    tests = (("unweighted", c.test_unweighted), ("weighted", c.test_weighted))
    run = [(sample, t) for sample, t in tests if t is not None]
    if not run:
        return []
    first = run[0][1]
    return [
        "## Independent classifier test",
        "",
        (
            f"An independent MLP, trained afresh, tells the model sample from the reference "
            f"on all {len(c.entries)} compared observables together "
            f"(dctrgan.stats.classifier_test): {first.folds}-fold, every event scored by "
            "the classifier that did not train on it, once without and once with the "
            "weights. AUC 0.5 and JSD 0 mean that the samples cannot be told apart; JSD is "
            "ln 2 - BCE of the held-out scores, in nats, a lower bound on the "
            f"Jensen-Shannon divergence. Intervals: bootstrap at {first.level:.0%}."
        ),
        "",
        "| sample | AUC | AUC interval | JSD (nats) | JSD interval |",
        "|---|---:|---:|---:|---:|",
        *(_test_row(sample, t) for sample, t in run),
    ]


def _entry_cells(e: Entry, replicas: bool) -> list[str]:
    return [
        e.observable,
        e.unit,
        e.group,
        _sci(e.s2_unweighted),
        _with_spread(_sci(e.s2_weighted), _sci(e.s2_weighted_spread), replicas),
        _fixed(e.s2_ratio),
        _fixed(e.r_unweighted),
        _with_spread(_fixed(e.r_weighted), _fixed(e.r_weighted_spread), replicas),
    ]


def observables(c: Table) -> list[str]:
    """The section of every observable, one row each."""
    return [
        "## Observables",
        "",
        (
            "| observable | unit | group | S² unweighted | S² weighted | S² ratio "
            "| r unweighted | r weighted |"
        ),
        "|---|---|---|---:|---:|---:|---:|---:|",
        *(_row(_entry_cells(e, bool(c.n_replicas))) for e in c.entries),
    ]


def render(c: Table, title: str = "Reweighting report", figures: Sequence[str] = ()) -> str:
    """The whole report: title, header, medians, classifier test, figures, observables.

    Args:
        c: the comparison.
        title: the first heading.
        figures: paths of figures (relative to the Markdown file) to show after the
            medians and the classifier test.

    Returns:
        The Markdown text, ending in a newline.
    """
    lines = [f"# {title}", ""]
    if c.evaluation:
        lines += [f"Evaluated on: {c.evaluation}", ""]
    lines += [*header(c), "", *medians(c)]
    classifier = classifier_section(c)
    if classifier:
        lines += ["", *classifier]
    if figures:
        lines += ["", "## Figures", ""]
        lines += [f"![{Path(f).stem}]({Path(f).as_posix()})" for f in figures]
    lines += ["", *observables(c)]
    return "\n".join(lines) + "\n"
