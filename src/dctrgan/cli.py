"""The ``dctrgan`` command line: thin wrappers around the public API."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from dctrgan import demo, io, simulate
from dctrgan._version import __version__

__all__ = ("main",)


class _Group(click.Group):
    """A group that turns expected errors into one clear line and exit code 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (ValueError, OSError, KeyError) as err:
            if ctx.params.get("debug"):
                raise
            click.echo(f"dctrgan: error: {err}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="dctrgan")
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@click.option("-v", "--verbose", is_flag=True, help="Log progress messages.")
def main(debug: bool, verbose: bool) -> None:
    """dctrgan: make fast and generative detector simulations precise."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    )


@main.command("simulate")
@click.argument("kind", type=click.Choice(["calorimeter", "airshower"]))
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
    "--seed", type=int, default=None, help="Random seed; the same seed gives the same file."
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
def simulate_command(
    kind: str,
    n: int,
    variant: str | None,
    energy: float,
    seed: int | None,
    output: Path,
    overwrite: bool,
) -> None:
    """Simulate reference events and write them to a ROOT file.

    \b
    Example:
        dctrgan simulate calorimeter -n 10000 --variant fast --seed 1 -o fast.root
    """
    if output.exists() and not overwrite:
        msg = f"{output} exists; pass --overwrite to replace it"
        raise FileExistsError(msg)
    if kind == "calorimeter":
        if variant not in (None, "full", "fast"):
            msg = f"calorimeter variant must be full or fast, got {variant}"
            raise click.BadParameter(msg, param_hint="--variant")
        events = simulate.calorimeter(
            n,
            energy=energy,
            variant="fast" if variant == "fast" else "full",
            seed=seed,
            progress=True,
        )
    else:
        if variant not in (None, "data", "sim"):
            msg = f"airshower variant must be data or sim, got {variant}"
            raise click.BadParameter(msg, param_hint="--variant")
        events = simulate.airshower(
            n, variant="sim" if variant == "sim" else "data", seed=seed, progress=True
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
    "--overwrite", is_flag=True, help="Write into a non-empty folder, replacing the demo's files."
)
@click.option(
    "--progress/--no-progress", default=True, show_default=True, help="Show progress on stderr."
)
def demo_command(output: Path, events: int, seed: int, overwrite: bool, progress: bool) -> None:
    """The main job: DCTR-HL reweighting of the fast calorimeter simulation, end to end.

    Simulates full and fast 50 GeV photon showers, writes them to ROOT and reads them
    back, fits DCTR on the 33 high-level features, writes the weighted fast sample
    (a weight branch, and a friend tree), the model, a table of S^2 and r for every
    observable (Markdown and CSV) and Fig. 3 style plots, all into one folder.

    \b
    Example:
        dctrgan demo --output dctrgan-demo --events 50000
    """
    try:
        result = demo.demo(output, events, seed=seed, overwrite=overwrite, progress=progress)
    except ImportError as err:  # the plot extra is missing: one line with the hint
        raise click.ClickException(str(err)) from err
    click.echo(result.summary())
