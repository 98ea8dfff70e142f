"""The DCTR commands of ``dctrgan``: ``fit``, ``weight`` and ``report`` (private).

Each parses its arguments, calls the public API and prints what it made.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import click
import numpy as np

from dctrgan import features, io, plot, report
from dctrgan.cli._common import (
    NPZ,
    branch_map,
    branch_option,
    check_output,
    device_option,
    events_option,
    integers,
    is_npz,
    load,
    model_options,
    output_option,
    overwrite_option,
    progress_bar,
    progress_option,
    read_npz,
    step_size,
    write_npz,
)
from dctrgan.dctr import DCTR

__all__ = ("fit_command", "report_command", "weight_command")

#: Observables drawn by ``dctrgan report`` by default (DCTRGAN Fig. 3).
_FIGURES = ("active_cells", "total_energy", "longitudinal_centroid")


def _clip(text: str) -> float | str | None:
    if text == "auto":
        return "auto"
    if text == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        msg = f"expected a positive number, auto or none, got {text!r}"
        raise click.BadParameter(msg, param_hint="--clip")
    return value


def _features(text: str) -> str | list[str]:
    if text in ("auto", "high_level"):
        return text
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        msg = "expected auto, high_level or comma-separated names"
        raise click.BadParameter(msg, param_hint="--features")
    return names


# --------------------------------------------------------------------- fit


@click.command("fit")
@click.argument("real")
@click.argument("fake")
@output_option("The model file to write (read it with dctrgan.DCTR.load).")
@click.option(
    "--model",
    type=click.Choice(["mlp", "cnn3d", "deepsets"]),
    default="mlp",
    show_default=True,
    help="mlp: the paper's high-level net; cnn3d: its low-level net on voxels; deepsets: hits.",
)
@click.option(
    "--features",
    "feature_spec",
    default="auto",
    show_default=True,
    help="auto, high_level, or comma-separated observables / fields (mlp only).",
)
@click.option("--hidden", default=None, help="Hidden widths, e.g. 128,128 (default: the model's).")
@click.option(
    "--epochs", type=click.IntRange(min=1), default=None, help="Maximum epochs (default: model's)."
)
@click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Adam learning rate.")
@click.option(
    "--folds", type=click.IntRange(min=1), default=1, show_default=True, help="k-fold training."
)
@click.option(
    "--clip",
    default="auto",
    show_default=True,
    help="Largest weight: a number, none, or auto (5 for cnn3d, none otherwise).",
)
@events_option
@branch_option
@overwrite_option
@model_options
def fit_command(
    real: str,
    fake: str,
    output: Path,
    model: str,
    feature_spec: str,
    hidden: str | None,
    epochs: int | None,
    batch_size: int,
    lr: float,
    folds: int,
    clip: str,
    events: int | None,
    branches: tuple[str, ...],
    overwrite: bool,
    seed: int,
    device: str,
    progress: bool,
) -> None:
    """Fit DCTR on REAL (the reference) against FAKE and save the model.

    REAL and FAKE are ROOT files (file.root, file.root:tree, globs) of showers or
    traces, or .npz files of points (array x). The model file is written only once
    the fit is complete: a failed or interrupted fit leaves no file.

    \b
    Example:
        dctrgan fit full.root:events fast.root:events -o dctr_hl.pt --features high_level
    """
    check_output(output, overwrite, (real, fake))
    dctr = DCTR(
        features=_features(feature_spec),
        model=model,  # type: ignore[arg-type]
        hidden=None if hidden is None else integers(hidden, "--hidden"),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        clip=_clip(clip),  # type: ignore[arg-type]
        folds=folds,
        device=device,
        seed=seed,
        progress=progress,
    )
    real_events = load(real, events, branches)
    fake_events = load(fake, events, branches)
    start = time.perf_counter()
    dctr.fit(real_events, fake_events)
    seconds = time.perf_counter() - start
    dctr.save(output)
    if model != "mlp":
        inputs = "the hits"
    elif dctr.feature_names:
        inputs = f"{len(dctr.feature_names)} features"
    else:
        inputs = f"{np.shape(real_events)[1] if np.ndim(real_events) == 2 else 1} columns"
    val = dctr.history.get("val_loss") or [math.nan]
    click.echo(
        f"fitted DCTR ({model} on {inputs}, {folds} fold{'s' if folds > 1 else ''}) on "
        f"{len(real_events)} real and {len(fake_events)} fake events in {seconds:.0f} s: "
        f"{len(dctr.history.get('train_loss', []))} epochs, last validation loss {val[-1]:.4g}, "
        f"temperature {', '.join(f'{t:.3g}' for t in dctr.temperatures)}"
    )
    click.echo(f"wrote {output}")


# --------------------------------------------------------------------- weight


class _Tally:
    """Sums of the written weights, for the summary line."""

    def __init__(self) -> None:
        self.n, self.sum, self.sum2 = 0, 0.0, 0.0
        self.low, self.high = math.inf, -math.inf

    def add(self, weights: Any) -> None:
        w = np.asarray(ak.to_numpy(weights) if isinstance(weights, ak.Array) else weights)
        if len(w):
            w = w.astype(np.float64)
            self.n += len(w)
            self.sum += float(w.sum())
            self.sum2 += float(np.square(w).sum())
            self.low, self.high = min(self.low, float(w.min())), max(self.high, float(w.max()))

    def summary(self) -> str:
        if not self.n:
            return "no events"
        neff = self.sum**2 / self.sum2 if self.sum2 > 0 else 0.0
        return (
            f"mean {self.sum / self.n:.4g}, min {self.low:.4g}, max {self.high:.4g}, "
            f"n_eff/N {neff / self.n:.3f}"
        )


@click.command("weight")
@click.argument("model_file", metavar="MODEL")
@click.argument("input_spec", metavar="INPUT")
@output_option("The ROOT file to write (.npz for .npz input).")
@click.option(
    "--friend",
    is_flag=True,
    help="Write only the weights, as a friend tree (branch weight) of the untouched INPUT.",
)
@click.option(
    "--field",
    default="weight",
    show_default=True,
    help="Name of the weight branch (multiplied into an existing one).",
)
@click.option(
    "--tree", default=None, help="Tree name of the output (default: events; weights for --friend)."
)
@click.option(
    "--step-size",
    "step",
    default="100 MB",
    show_default=True,
    help="Events per chunk, or memory per chunk such as '100 MB': memory stays bounded.",
)
@branch_option
@overwrite_option
@device_option
@progress_option
def weight_command(
    model_file: str,
    input_spec: str,
    output: Path,
    friend: bool,
    field: str,
    tree: str | None,
    step: str,
    branches: tuple[str, ...],
    overwrite: bool,
    device: str,
    progress: bool,
) -> None:
    """Weight the events of INPUT with a DCTR MODEL, streaming chunk by chunk.

    Writes INPUT with the weight branch added (multiplied into an existing one), or
    with --friend only the weights, one per event in the same order: read them back
    with dctrgan.read(INPUT, friend=OUTPUT). Files larger than memory are read and
    written chunk by chunk; OUTPUT appears only once complete.

    \b
    Examples:
        dctrgan weight dctr_hl.pt fast.root:events -o fast_weighted.root
        dctrgan weight dctr_hl.pt fast.root --friend -o fast_weights.root
    """
    if friend and field != "weight":
        msg = "a friend tree holds the branch 'weight'; --field applies without --friend"
        raise click.BadParameter(msg, param_hint="--field")
    check_output(output, overwrite, (input_spec, model_file))
    dctr = DCTR.load(model_file, device=device, progress=False)
    tally = _Tally()
    if is_npz(input_spec):
        if not is_npz(output):
            msg = f"{output}: the weights of {NPZ} input are written to {NPZ}"
            raise click.BadParameter(msg, param_hint="--output")
        arrays = read_npz(input_spec)
        w = np.asarray(dctr.weight(arrays["x"]), dtype=np.float64)
        if not friend and field in arrays:
            w = w * arrays[field]
        tally.add(w)
        write_npz(output, {field: w} if friend else {**arrays, field: w}, overwrite)
        what, where = f"{len(w)} points of {input_spec}", f"array {field!r}"
    else:
        chunks = io.iterate(input_spec, step_size=step_size(step), branches=branch_map(branches))
        with progress_bar(progress, "weighting") as bar:

            def weighted() -> Iterator[Any]:
                for chunk in chunks:
                    out = dctr.weight(chunk) if friend else dctr.attach(chunk, field)
                    tally.add(out if friend else out[field])
                    bar.update(len(chunk))
                    yield out

            if friend:
                io.write_weights(output, weighted(), tree or "weights", overwrite=overwrite)
            else:
                io.write_chunks(output, weighted(), tree or "events", overwrite=overwrite)
        what = f"{tally.n} events of {input_spec}"
        name = tree or ("weights" if friend else "events")
        where = f"tree {name!r}, branch {'weight' if friend else field!r}"
    click.echo(f"weighted {what}: {tally.summary()}")
    click.echo(f"wrote {output} ({where})")


# --------------------------------------------------------------------- report


def _names(text: str) -> tuple[str, ...]:
    if text == "none":
        return ()
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _line(comparison: report.Comparison, label: str, group: str | None) -> str:
    c = comparison
    return (
        f"  {label:<28}{c.median('s2_unweighted', group):>12.2e}"
        f"{c.median('s2_weighted', group):>12.2e}{c.median('s2_ratio', group):>9.2f}"
        f"{c.median('r_weighted', group):>7.2f}"
    )


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
@click.option("--bins", type=click.IntRange(min=1), default=30, show_default=True)
@click.option(
    "--figures",
    default=",".join(_FIGURES),
    show_default=True,
    help="Observables to draw (comma-separated), all, or none (no plot extra needed).",
)
@click.option(
    "--labels",
    default="Reference,Model,Model + DCTR",
    show_default=True,
    help="Legend labels of REFERENCE, WEIGHTED unweighted and weighted (comma-separated).",
)
@click.option("--title", default="Reweighting report", show_default=True)
@branch_option
@overwrite_option
def report_command(
    reference: str,
    weighted: str,
    output: Path,
    friend: str | None,
    field: str,
    bins: int,
    figures: str,
    labels: str,
    title: str,
    branches: tuple[str, ...],
    overwrite: bool,
) -> None:
    """Compare every observable of the WEIGHTED showers with the REFERENCE ones.

    Writes the separation power <S^2> without and with the weights, their ratio
    and the uncertainty ratio r of each observable (report.md, report.csv) and
    DCTRGAN Fig. 3 style figures (the plot extra). The weights are the --field
    branch of WEIGHTED, or come from a --friend file.

    \b
    Examples:
        dctrgan report full.root fast_weighted.root -o report
        dctrgan report full.root fast.root --friend fast_weights.root -o report \\
            --labels "Full simulation,Fast simulation,Fast simulation + DCTR"
    """
    legend = tuple(label.strip() for label in labels.split(","))
    if len(legend) != 3:
        msg = f"expected three comma-separated labels, got {labels!r}"
        raise click.BadParameter(msg, param_hint="--labels")
    if output.exists() and not output.is_dir():
        msg = f"{output}: exists and is not a folder"
        raise FileExistsError(msg)
    ref = io.read(reference, branches=branch_map(branches))
    model = io.read(weighted, branches=branch_map(branches), friend=friend)
    if field not in ak.fields(model):
        msg = (
            f"{weighted}: no weight field {field!r} (has {ak.fields(model)}); "
            "pass --friend or --field"
        )
        raise ValueError(msg)
    for events, spec in ((ref, reference), (model, weighted)):
        if "hits" not in ak.fields(events):
            msg = f"{spec}: report compares calorimeter showers, got traces"
            raise ValueError(msg)
    ref_obs, model_obs = features.observables(ref), features.observables(model)
    names = tuple(ref_obs) if figures == "all" else _names(figures)
    unknown = [n for n in names if n not in ref_obs]
    if unknown:
        msg = f"unknown observable(s) {unknown}; see dctrgan.features.observables"
        raise click.BadParameter(msg, param_hint="--figures")
    files = ["report.md", "report.csv", *(f"{n}.png" for n in names)]
    existing = [f for f in files if (output / f).exists()]
    if existing and not overwrite:
        msg = f"{output}: {', '.join(existing)} exist(s); pass --overwrite to replace"
        raise FileExistsError(msg)
    w = model[field]
    w_ref = ref["weight"] if "weight" in ak.fields(ref) else None
    comparison = report.compare(
        ref_obs,
        model_obs,
        w,
        reference_weights=w_ref,
        bins=bins,
        evaluation=f"{reference} (reference) and {weighted} (weighted)",
    )
    drawn = [
        plot.comparison(
            ref_obs[name],
            model_obs[name],
            w,
            reference_weights=w_ref,
            bins=bins,
            observable=name,
            unit=features.observable_unit(name),
            labels=legend,
        )
        for name in names
    ]
    output.mkdir(parents=True, exist_ok=True)
    for name, fig in zip(names, drawn, strict=True):
        fig.savefig(output / f"{name}.png", dpi=100)
    comparison.write(output / "report", title=title, figures=[f"{n}.png" for n in names])
    _print_summary(comparison, len(ref), len(model), output, files)


def _print_summary(
    c: report.Comparison, n_ref: int, n_model: int, output: Path, files: Sequence[str]
) -> None:
    click.echo(
        f"compared {len(c.entries)} observables of {n_ref} reference and {n_model} weighted showers"
    )
    click.echo(f"  {'median over':<28}{'S2 before':>12}{'S2 after':>12}{'ratio':>9}{'r':>7}")
    for group in c.groups:
        n = sum(e.group == group for e in c.entries)
        click.echo(
            _line(
                c,
                f"{n} {'classifier inputs' if group == 'input' else group + ' observables'}",
                group,
            )
        )
    click.echo(
        f"  {'statistical floor of S2':<28}{c.floor_unweighted:>12.2e}{c.floor_weighted:>12.2e}"
    )
    click.echo(f"  n_eff/N of the weighted sample: {c.neff_fraction:.2f}")
    click.echo(f"wrote {', '.join(files)} in {output}")
