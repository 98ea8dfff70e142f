"""The ``report`` command of ``dctrgan`` (private): S^2 and r of every observable.

It parses its arguments, calls :func:`dctrgan.report.compare` and :mod:`dctrgan.plot`,
and prints a summary. The observables depend on the events: the calorimeter
observables of showers, the trace observables of air-shower traces, and for any
other ntuple the features of ``--model`` (its branches and reductions), else every
branch with one number per event; ``--observables`` names them instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import click
import numpy as np

from dctrgan import features, io, plot, report
from dctrgan.cli._common import (
    branch_map,
    branch_option,
    check_input,
    overwrite_option,
    progress_bar,
    progress_option,
)
from dctrgan.cli._features import numeric_fields, parse, values
from dctrgan.cli.dctr import fill_none_option, is_generic, model_features

__all__ = ("report_command",)

#: Observables drawn by default (DCTRGAN Fig. 3 for showers).
_FIGURES = {
    "showers": ("active_cells", "total_energy", "longitudinal_centroid"),
    "traces": ("total_signal", "rise_time", "early_fraction"),
}
#: The branches that hold weights, never observables.
_WEIGHTS = ("weight", "dctr_weight", "dctr_replicas")


def _names(text: str) -> tuple[str, ...]:
    if text == "none":
        return ()
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _kind(events: Any) -> str:
    fields = ak.fields(events)
    return "showers" if "hits" in fields else "traces" if "signal" in fields else "events"


def _weights(events: ak.Array, field: str, spec: str) -> Any:
    """The ``--field`` weights of the weighted sample (by default ``weight``, which
    :meth:`dctrgan.DCTR.attach` multiplies the DCTR weights into)."""
    if field not in ak.fields(events):
        fields = ak.fields(events)
        shown = ", ".join(fields[:12]) + (" ..." if len(fields) > 12 else "")
        msg = f"{spec}: no weight field {field!r} (it has {shown}); pass --friend or --field"
        raise ValueError(msg)
    return events[field]


def _replicas(events: ak.Array, field: str, w: Any) -> np.ndarray | None:
    """The full weights of the replicas of the weighting, ``(N, k)``, if the events have
    the ``dctr_replicas`` of :meth:`dctrgan.DCTR.attach`: the ``--field`` weights with
    the nominal DCTR factor replaced by each replica's."""
    fields = ak.fields(events)
    if "dctr_replicas" not in fields:
        return None
    factors = np.asarray(ak.to_numpy(events["dctr_replicas"]), dtype=np.float64)
    if field != "weight":  # attach(field=...) wrote the DCTR factor alone there
        return factors
    if "dctr_weight" not in fields:
        click.echo(
            "note: dctr_replicas left out: the weight field holds no DCTR factor "
            "(no dctr_weight); pass --field with the field attach wrote",
            err=True,
        )
        return None
    dctr = np.asarray(ak.to_numpy(events["dctr_weight"]), dtype=np.float64)
    given = np.asarray(ak.to_numpy(w), dtype=np.float64)
    # weight / dctr_weight: the weights before the DCTR factor (0 where that is 0)
    before = np.divide(given, dctr, out=np.zeros_like(given), where=dctr != 0)
    return before[:, np.newaxis] * factors


def _observables(
    events: ak.Array, expressions: Sequence[str] | None, fill_none: float | None
) -> dict[str, np.ndarray]:
    """The observables of events: named ones (``--observables``), or those of their kind."""
    if is_generic(events):
        return values(events, expressions or (), fill_none)
    if "hits" in ak.fields(events):
        table = features.observables(events)
    else:
        table = features.trace_observables(events)
    if not expressions:
        return table
    unknown = [n for n in expressions if n not in table]
    if unknown:
        msg = f"unknown observable(s) {unknown} of {_kind(events)}; they have {list(table)}"
        raise click.BadParameter(msg, param_hint="--observables")
    return {n: table[n] for n in expressions}


@click.command("report")
@click.argument("reference")
@click.argument("weighted")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for report.md, report.csv and the figures (created if needed).",
)
@click.option("--friend", default=None, help="Friend file with the weights of WEIGHTED.")
@click.option("--field", default="weight", show_default=True, help="The weight field of WEIGHTED.")
@click.option(
    "--model",
    "model_file",
    default=None,
    help="The DCTR model of the weights: its features are the classifier inputs of the "
    "table, and the observables of an ntuple (default: every branch with one number per "
    "event).",
)
@click.option(
    "--observables",
    default=None,
    help="Comma-separated observables to compare: of showers or traces by name, of an "
    "ntuple as branches and reductions like --features of dctrgan fit (first(Jet.pt), "
    "num(Jet), MET_pt).",
)
@fill_none_option
@click.option("--bins", type=click.IntRange(min=1), default=30, show_default=True)
@click.option(
    "--figures",
    default="auto",
    show_default=True,
    help="Observables to draw (comma-separated), all, none (no plot extra needed), or auto: "
    "showers active_cells, total_energy, longitudinal_centroid; traces total_signal, "
    "rise_time, early_fraction; an ntuple its first three observables.",
)
@click.option(
    "--labels",
    default="Reference,Model,Model + DCTR",
    show_default=True,
    help="Legend labels of REFERENCE, WEIGHTED unweighted and weighted (comma-separated).",
)
@click.option("--title", default="Reweighting report", show_default=True)
@click.option(
    "--test/--no-test",
    default=True,
    show_default=True,
    help="Run an independent classifier test (dctrgan.stats.classifier_test) on all compared "
    "observables, without and with the weights: AUC and JSD with bootstrap intervals in "
    "report.md and the summary. On by default: for 20,000 + 20,000 showers (151 "
    "observables) both tests take about 5 s on one CPU thread.",
)
@branch_option
@overwrite_option
@progress_option
def report_command(
    reference: str,
    weighted: str,
    output: Path,
    friend: str | None,
    field: str,
    model_file: str | None,
    observables: str | None,
    fill_none: float | None,
    bins: int,
    figures: str,
    labels: str,
    title: str,
    test: bool,
    branches: tuple[str, ...],
    overwrite: bool,
    progress: bool,
) -> None:
    """Compare every observable of the WEIGHTED events with the REFERENCE ones.

    Writes the separation power <S^2> without and with the weights, their ratio
    and the uncertainty ratio r of each observable (report.md, report.csv) and
    DCTRGAN Fig. 3 style figures (the plot extra). The events are calorimeter
    showers (their 151 observables), air-shower traces (total signal, active and
    largest station, rise time, early fraction) or any ntuple, TTree or RNTuple
    (the --model's features, or every branch with one number per event; or the
    --observables). The weights are the weight branches of WEIGHTED (--field), or
    come from a --friend file.

    Events that dctrgan.DCTR.attach weighted with a model fitted with replicas
    carry their DCTR factors in dctr_replicas: then S^2 weighted, r weighted and
    n_eff are quoted with their spread over the replicas, and the figures with a
    hatched band. Replica i's weights are the --field weights with the DCTR factor
    replaced by replica i's: weight / dctr_weight * dctr_replicas[:, i] for --field
    weight, dctr_replicas[:, i] for another --field (attach(field=...) writes the
    DCTR factor alone there); with --field weight and no dctr_weight they are left
    out.

    \b
    Examples:
        dctrgan report full.root fast_weighted.root -o report
        dctrgan report full.root fast.root --friend fast_weights.root -o report \\
            --labels "Full simulation,Fast simulation,Fast simulation + DCTR"
        dctrgan report data.root mc_weighted.root -o report --model dctr.pt
    """
    legend = tuple(label.strip() for label in labels.split(","))
    if len(legend) != 3:
        msg = f"expected three comma-separated labels, got {labels!r}"
        raise click.BadParameter(msg, param_hint="--labels")
    expressions = None if observables is None else list(_names(observables))
    try:
        for text in expressions or ():
            parse(text)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--observables") from None
    if output.exists() and not output.is_dir():
        msg = f"{output}: exists and is not a folder"
        raise FileExistsError(msg)
    for spec in (reference, weighted, friend, model_file):
        if spec is not None:
            check_input(spec)
    inputs: Sequence[str] = features.HIGH_LEVEL_NAMES
    if model_file is not None:
        fitted, _, model_fill = model_features(model_file)
        inputs = fitted or ()
        fill_none = model_fill if fill_none is None else fill_none
    # the figures are drawn in worker processes while the numbers are computed
    writer = (
        contextlib.nullcontext(None)
        if figures == "none"
        else plot.ComparisonWriter(output, workers="auto" if figures == "all" else 1, dpi=100)
    )
    with progress_bar(progress, "report", total=2, unit=" steps") as bar, writer as drawing:
        ref = io.read(reference, branches=branch_map(branches))
        bar.update()
        model = io.read(weighted, branches=branch_map(branches), friend=friend)
        bar.update()
        w = _weights(model, field, weighted)
        replicas = _replicas(model, field, w)
        w_ref = ref["weight"] if "weight" in ak.fields(ref) else None
        if is_generic(ref) and expressions is None:
            both = set(numeric_fields(model, [*_WEIGHTS, field]))
            common = [n for n in numeric_fields(ref, [*_WEIGHTS, field]) if n in both]
            expressions = list(inputs) if model_file is not None else common
        ref_obs = _observables(ref, expressions, fill_none)
        model_obs = _observables(model, expressions, fill_none)
        names = _figures(figures, _kind(ref), list(ref_obs))
        files = ["report.md", "report.csv", *(f"{n}.png" for n in names)]
        existing = [f for f in files if (output / f).exists()]
        if existing and not overwrite:
            msg = f"{output}: {', '.join(existing)} exist(s); pass --overwrite to replace"
            raise FileExistsError(msg)
        bar.total += len(ref_obs) + 2 * test + len(names) + 1
        bar.refresh()
        if drawing is not None and names:
            drawing.submit(
                ref_obs,
                model_obs,
                w,
                names=names,
                reference_weights=w_ref,
                bins=bins,
                units={n: report.observable_unit(n) for n in names},
                labels=legend,
                replicas=replicas,
            )
        try:
            comparison = report.compare(
                ref_obs,
                model_obs,
                w,
                reference_weights=w_ref,
                inputs=inputs,
                bins=bins,
                evaluation=f"{reference} (reference) and {weighted} (weighted)",
                progress=bar.update,
                replicas=replicas,
                test=test,
            )
        except ValueError as err:
            if "classifier_test" not in str(err):
                raise
            msg = f"{err}; pass --no-test to compare without the classifier test"
            raise click.BadParameter(msg, param_hint="--test") from None
        if drawing is not None:
            drawing.wait(bar.update)
        output.mkdir(parents=True, exist_ok=True)
        comparison.write(output / "report", title=title, figures=[f"{n}.png" for n in names])
        bar.update()
    _print_summary(comparison, _kind(ref), output, files)


def _figures(text: str, kind: str, available: list[str]) -> tuple[str, ...]:
    """The observables to draw, checked against those compared."""
    if text == "auto":
        return _FIGURES.get(kind, tuple(available[:3]))
    names = tuple(available) if text == "all" else _names(text)
    unknown = [n for n in names if n not in available]
    if unknown:
        msg = f"unknown observable(s) {unknown}; the report compares {available[:20]}"
        raise click.BadParameter(msg, param_hint="--figures")
    return names


def _print_summary(c: report.Comparison, kind: str, output: Path, files: Sequence[str]) -> None:
    what = "showers" if kind == "showers" else "events"
    click.echo(
        f"compared {len(c.entries)} observables of {c.n_reference} reference and "
        f"{c.n_model} weighted {what}"
    )
    click.echo(c.summary())
    click.echo(f"wrote {', '.join(files)} in {output}")
