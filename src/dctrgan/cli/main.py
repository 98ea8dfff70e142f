"""The ``dctrgan`` command line: thin wrappers around the public API.

============  =================================================================
``demo``      the main job: DCTR-HL reweighting of the fast calorimeter simulation
``simulate``  reference events: calorimeter showers, air-shower traces (ROOT),
              Gaussian toys (.npz)
``fit``       fit DCTR on a reference and a fake sample (showers, traces, any
              ntuple: TTree or RNTuple), save the model
``weight``    weight a file with a DCTR model, chunk by chunk (weight branch or
              friend tree)
``report``    S^2 and r of every observable, and figures, of weighted events
``generate``  train or load a WGAN and write samples
``refine``    train or load a refiner and write refined traces
``export``    a DCTR, WGAN or refiner as ONNX or TorchScript, with a closure check
``calochallenge``  reweight a CaloChallenge model sample towards the reference, report
============  =================================================================

Every command checks its inputs and outputs before it starts (inputs must exist;
ROOT outputs end in ``.root``; ``--overwrite`` to replace a file; never an input),
writes them atomically, shows progress on stderr, and reports an error as one
line ``dctrgan: error: ...`` with exit code 1 (``dctrgan --debug ...`` shows the
traceback), in the words of the command line: it names options (``--overwrite``),
where the Python API names arguments (``overwrite=True``).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from dctrgan import demo, io, simulate
from dctrgan._version import __version__
from dctrgan.cli._common import (
    NPZ,
    check_output,
    check_root_output,
    cli_wording,
    is_npz,
    write_npz,
)
from dctrgan.cli.challenge import calochallenge_command
from dctrgan.cli.dctr import fit_command, weight_command
from dctrgan.cli.export import export_command
from dctrgan.cli.gan import generate_command, refine_command
from dctrgan.cli.report import report_command

__all__ = ("main",)

#: Errors of bad input (files, arguments, models) that get one line, not a traceback.
_EXPECTED = (ValueError, TypeError, KeyError, OSError, ImportError, FloatingPointError)
_TOYS = ("bimodal_1d", "circle_2d", "grid_2d")


class _Group(click.Group):
    """A group that turns expected errors into one clear line and exit code 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except _EXPECTED as err:
            if ctx.params.get("debug"):
                raise
            text = err.args[0] if isinstance(err, KeyError) and err.args else err
            message = cli_wording(" ".join(str(text).split("\n"))) or type(err).__name__
            click.echo(f"dctrgan: error: {message}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="dctrgan")
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@click.option("-v", "--verbose", is_flag=True, help="Log progress messages.")
def main(debug: bool, verbose: bool) -> None:
    """dctrgan: make fast and generative detector simulations precise.

    Inputs are ROOT files (TTree or RNTuple): calorimeter showers, air-shower
    traces, or any ntuple of numeric branches (NanoAOD, Delphes, your own).

    \b
    Example (the DCTR chain on your own files):
        dctrgan fit full.root fast.root -o dctr.pt
        dctrgan weight dctr.pt fast.root -o fast_weighted.root
        dctrgan report full.root fast_weighted.root -o report

    \b
    On any ntuple, with features named or reduced from jagged collections:
        dctrgan fit data.root mc.root -o dctr.pt \\
            --features "first(Jet.pt),num(Jet),MET_pt" --fill-none 0
    """
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    )


@main.command("simulate")
@click.argument("kind", type=click.Choice(["calorimeter", "airshower", "gaussians"]))
@click.option("-n", "--events", "n", type=click.IntRange(min=0), default=10_000, show_default=True)
@click.option(
    "--variant",
    type=click.Choice(["full", "fast", "data", "sim"]),
    default=None,
    help="calorimeter: full (default) or fast; airshower: data (default) or sim.",
)
@click.option(
    "--energy",
    type=float,
    default=50.0,
    show_default=True,
    help="Photon energy in GeV (calorimeter).",
)
@click.option(
    "--toy",
    type=click.Choice(_TOYS),
    default="bimodal_1d",
    show_default=True,
    help="gaussians: the DCTRGAN toy (eqs. 12-14).",
)
@click.option(
    "--seed", type=int, default=None, help="Random seed; the same seed gives the same file."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="A .root file (showers, traces) or a .npz file (gaussians: array x, (N, d)).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
@click.option(
    "--progress/--no-progress", default=True, show_default=True, help="Show progress on stderr."
)
def simulate_command(
    kind: str,
    n: int,
    variant: str | None,
    energy: float,
    toy: str,
    seed: int | None,
    output: Path,
    overwrite: bool,
    progress: bool,
) -> None:
    """Simulate reference events and write them to ROOT (or points to .npz).

    \b
    Examples:
        dctrgan simulate calorimeter -n 10000 --variant fast --seed 1 -o fast.root
        dctrgan simulate airshower -n 10000 --variant sim -o sim.root
        dctrgan simulate gaussians --toy circle_2d -n 100000 -o truth.npz
    """
    if (kind == "gaussians") != is_npz(output):
        where = f"a {NPZ} file" if kind == "gaussians" else "a ROOT file (.root)"
        msg = f"{kind} events are written to {where}"
        raise click.BadParameter(msg, param_hint="--output")
    if kind != "gaussians":
        check_root_output(output)
    check_output(output, overwrite)
    if kind == "gaussians":
        points = getattr(simulate, toy).sample(n, seed=seed)
        write_npz(output, {"x": points}, overwrite)
        click.echo(f"wrote {n} points of the {toy} toy to {output}")
        return
    if kind == "calorimeter":
        if variant not in (None, "full", "fast"):
            msg = f"calorimeter variant must be full or fast, got {variant}"
            raise click.BadParameter(msg, param_hint="--variant")
        events = simulate.calorimeter(
            n,
            energy=energy,
            variant="fast" if variant == "fast" else "full",
            seed=seed,
            progress=progress,
        )
    else:
        if variant not in (None, "data", "sim"):
            msg = f"airshower variant must be data or sim, got {variant}"
            raise click.BadParameter(msg, param_hint="--variant")
        events = simulate.airshower(
            n, variant="sim" if variant == "sim" else "data", seed=seed, progress=progress
        )
    io.write(output, events, overwrite=overwrite)
    click.echo(f"wrote {len(events)} {kind} events to {output}")


@main.command("demo")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default="dctrgan-demo",
    show_default=True,
    help="Folder for every file the demo writes.",
)
@click.option(
    "-n",
    "--events",
    type=click.IntRange(min=1),
    default=50_000,
    show_default=True,
    help="Showers per sample (full and fast); half train DCTR, half test it.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--replicas",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Bootstrap replicas of the classifier: the spread of the report and the plots' "
    "bands (0: none).",
)
@click.option(
    "--test/--no-test",
    default=True,
    show_default=True,
    help="Run the independent classifier test of the report (AUC before and after weighting).",
)
@click.option(
    "--overwrite", is_flag=True, help="Write into a non-empty folder, replacing the demo's files."
)
@click.option(
    "--progress/--no-progress", default=True, show_default=True, help="Show progress on stderr."
)
def demo_command(
    output: Path,
    events: int,
    seed: int,
    replicas: int,
    test: bool,
    overwrite: bool,
    progress: bool,
) -> None:
    """The main job: DCTR-HL reweighting of the fast calorimeter simulation, end to end.

    Simulates full and fast 50 GeV photon showers, writes them to ROOT and reads them
    back, fits DCTR on the 33 high-level features, writes the weighted fast sample
    (a weight branch, and a friend tree), the model, a table of S^2 and r for every
    observable with their spread over the replicas (Markdown and CSV), an independent
    classifier test, and Fig. 3 style plots with the replicas' band, all into one folder.

    \b
    Example:
        dctrgan demo --output dctrgan-demo --events 50000
    """
    try:
        result = demo.demo(
            output,
            events,
            seed=seed,
            replicas=replicas,
            test=test,
            overwrite=overwrite,
            progress=progress,
        )
    except ImportError as err:  # the plot extra is missing: one line with the hint
        raise click.ClickException(str(err)) from err
    click.echo(result.summary())


for _command in (
    fit_command,
    weight_command,
    report_command,
    generate_command,
    refine_command,
    export_command,
    calochallenge_command,
):
    main.add_command(_command)
