"""``dctrgan calochallenge``: reweight a CaloChallenge model sample and report on it."""

from __future__ import annotations

from pathlib import Path

import click

from dctrgan import plot
from dctrgan.cli._common import check_input, overwrite_option, progress_option
from dctrgan.data import CylindricalGeometry
from dctrgan.io import calochallenge as challenge_io
from dctrgan.report import calochallenge

__all__ = ("calochallenge_command",)

#: The files the command writes into its folder, besides ``feature_<name>.png`` figures.
_FILES = ("report.md", "report.csv", "summary.json", "profile.png", "average_shower.png")


def _read(path: str, geometry: CylindricalGeometry, n: int | None) -> challenge_io.ChallengeShowers:
    check_input(path)
    return challenge_io.read(path, geometry, stop=n)


@click.command("calochallenge")
@click.argument("reference")
@click.argument("model")
@click.option("--binning", required=True, help="The dataset's binning XML (binning_dataset_2.xml).")
@click.option(
    "--particle", default=None, help="The binning's particle (default: the XML's only one)."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder of the report (report.md, report.csv, summary.json, figures).",
)
@click.option(
    "-n",
    "--events",
    "n",
    type=click.IntRange(min=4),
    default=None,
    help="Showers of each file to use (default: all).",
)
@click.option(
    "--fit-fraction",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=0.5,
    show_default=True,
    help="Share of each sample DCTR is fitted on; the report is on the rest.",
)
@click.option(
    "--inputs",
    default=None,
    help="Comma-separated features DCTR is fitted on (default: all, e.g. E_tot,E_layer_0,...).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--figures/--no-figures",
    default=True,
    show_default=True,
    help="Draw the figures (the plot extra).",
)
@overwrite_option
@progress_option
def calochallenge_command(
    reference: str,
    model: str,
    binning: str,
    particle: str | None,
    output: Path,
    n: int | None,
    fit_fraction: float,
    inputs: str | None,
    seed: int,
    figures: bool,
    overwrite: bool,
    progress: bool,
) -> None:
    """Reweight MODEL's showers towards REFERENCE (CaloChallenge HDF5 files) and report.

    DCTR is fitted on the challenge's high-level features and the incident energy of
    part of both samples; on the other showers the report gives every feature's
    separation power before and after weighting, an independent classifier test (AUC,
    JSD), n_eff/N, FPD and KPD; the figures show the mean energy per layer, the average
    shower per layer, and the six features of the largest S^2 before weighting.

    \b
    Example:
        dctrgan calochallenge dataset_2_2.hdf5 my_model.hdf5 \\
            --binning binning_dataset_2.xml -o report
    """
    geometry = CylindricalGeometry.from_calochallenge(binning, particle=particle)
    if output.exists() and not output.is_dir():
        msg = f"{output}: exists and is not a folder"
        raise click.BadParameter(msg, param_hint="-o/--output")
    existing = [f for f in _FILES if (output / f).exists()]
    existing += sorted(p.name for p in output.glob("feature_*.png"))
    if existing and not overwrite:
        msg = f"{output}: {', '.join(existing)} exist(s); pass --overwrite to replace"
        raise FileExistsError(msg)
    if figures:
        plot.require()
    ref_showers, model_showers = _read(reference, geometry, n), _read(model, geometry, n)
    chosen = None if inputs is None else [n.strip() for n in inputs.split(",") if n.strip()]
    result, _, weights = calochallenge(
        ref_showers,
        model_showers,
        fit_fraction=fit_fraction,
        inputs=chosen,
        seed=seed,
        progress=progress,
    )
    output.mkdir(parents=True, exist_ok=True)
    drawn = plot.report_figures(result, ref_showers, model_showers, weights) if figures else {}
    for name, fig in drawn.items():
        fig.savefig(output / name, dpi=100)
    files = [p.name for p in result.write(output, figures=list(drawn))]
    click.echo(result.summary())
    click.echo(f"wrote {', '.join([*files, *drawn])} in {output}")
