"""The generative commands of ``dctrgan`` (private): ``generate`` (WGAN, ShowerGAN) and
``refine``.

Each parses its arguments, calls the public API and prints what it made.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import click
import numpy as np

from dctrgan import data, io
from dctrgan.cli._common import (
    NPZ,
    branch_map,
    branch_option,
    check_input,
    check_output,
    check_root_output,
    entries,
    events_option,
    is_npz,
    is_root,
    load,
    model_options,
    output_option,
    overwrite_option,
    progress_bar,
    step_size,
    write_npz,
)
from dctrgan.modelfile import model_class
from dctrgan.refiner import Refiner
from dctrgan.wgan import WGAN, ShowerGAN

__all__ = ("generate_command", "refine_command")

_SAVE_MODEL = click.option(
    "--save-model",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also save the trained model to this file.",
)


def _model_or_input(model: str | None, given: str | None, what: str) -> None:
    if model is not None and given is not None:
        msg = f"give {what} to train on or --model to load, not both"
        raise click.UsageError(msg)
    if model is None and given is None:
        msg = f"give {what} to train on, or --model to load a trained model"
        raise click.UsageError(msg)


def _check_samples(
    shape: tuple[int, ...], conditioned: bool, output: Path, energy: float | None
) -> None:
    """Showers go to ROOT, patterns and points to .npz; --energy needs something to set."""
    volumes = len(shape) == 3
    if volumes == is_npz(output) or (volumes and not is_root(output)):
        where = "a ROOT file (.root)" if volumes else f"a {NPZ} file"
        msg = f"{output}: samples of shape {shape} are written to {where}"
        raise click.BadParameter(msg, param_hint="-o/--output")
    if energy is not None and not conditioned and not volumes:
        msg = f"a WGAN of shape {shape} without a label has no energy to set"
        raise click.BadParameter(msg, param_hint="--energy")


def _shape(events: Any) -> tuple[int, ...]:
    """The WGAN shape of training events: showers -> the calorimeter, traces -> 9x9, points."""
    if isinstance(events, ak.Array):
        if "hits" in ak.fields(events):
            return data.geometry_of(events["hits"]).shape
        return data.SIGNAL_SHAPE[:2]
    return (int(np.shape(events)[1]),) if np.ndim(events) == 2 else (1,)


# --------------------------------------------------------------------- generate


def _shower_gan(
    shape: tuple[int, ...],
    conditioned: bool,
    steps: int | None,
    batch_size: int | None,
    width: int | None,
    loss: str,
    seed: int,
    device: str,
    progress: bool,
) -> ShowerGAN:
    """The ShowerGAN of ``--generator showers``, for showers only."""
    if len(shape) != 3:
        msg = f"--generator showers is for calorimeter showers, not events of shape {shape}"
        raise click.BadParameter(msg, param_hint="--generator")
    for given, name in ((width is not None, "--width"), (loss != "wasserstein", "--loss")):
        if given:
            msg = f"{name} applies to --generator wgan, not to the ShowerGAN"
            raise click.UsageError(msg)
    options: dict[str, Any] = {"seed": seed, "device": device, "progress": progress}
    if steps is not None:
        options |= {"profile_steps": steps, "hit_steps": steps}
    if batch_size is not None:
        options["hit_batch"] = batch_size
    return ShowerGAN(shape, int(conditioned), **options)


@click.command("generate")
@click.argument("input_spec", metavar="[INPUT]", required=False)
@click.option("-n", "--samples", "n", type=click.IntRange(min=0), default=10_000, show_default=True)
@output_option("Samples: .root for showers, .npz (array x) for 9x9 patterns and points.")
@click.option("--model", "model_file", default=None, help="Load this WGAN instead of training.")
@_SAVE_MODEL
@click.option(
    "--condition/--no-condition",
    default=True,
    show_default=True,
    help="Condition showers and patterns on their energy (label), with a constrainer.",
)
@click.option(
    "--energy",
    type=float,
    default=None,
    help="Energy of every sample (GeV showers, EeV patterns); default: drawn from training.",
)
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Generator updates.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Events per update.")
@click.option("--width", type=click.IntRange(min=1), default=None, help="Width of the conv nets.")
@click.option(
    "--loss",
    type=click.Choice(["wasserstein", "bce"]),
    default="wasserstein",
    show_default=True,
    help="WGAN-GP, or the vanilla GAN of the DCTRGAN toys.",
)
@click.option(
    "--generator",
    type=click.Choice(["wgan", "showers"]),
    default="wgan",
    show_default=True,
    help="Showers only: the 3D WGAN on the voxels, or the ShowerGAN (each layer's energy "
    "and cells, then its hits; conditioned only on energies that vary); --steps sets "
    "each of its WGANs, --batch-size its hits per update.",
)
@events_option
@branch_option
@overwrite_option
@model_options
def generate_command(
    input_spec: str | None,
    n: int,
    output: Path,
    model_file: str | None,
    save_model: Path | None,
    condition: bool,
    energy: float | None,
    steps: int | None,
    batch_size: int | None,
    width: int | None,
    loss: str,
    generator: str,
    events: int | None,
    branches: tuple[str, ...],
    overwrite: bool,
    seed: int,
    device: str,
    progress: bool,
) -> None:
    """Train a WGAN on INPUT (or load one with --model) and write N samples.

    INPUT: showers (ROOT; a 3D WGAN on the voxels, or with --generator showers
    the ShowerGAN), air-shower traces (ROOT; the
    paper's WGAN on the 9x9 footprints) or points (.npz, array x; the toy GANs).
    Showers are written to ROOT as events; patterns and points to .npz: x, and
    for a conditioned WGAN energy (with --energy) and reconstructed_energy (the
    constrainer's, paper Fig. 3).

    \b
    Examples:
        dctrgan generate data.root -n 5000 -o patterns.npz --save-model wgan.pt
        dctrgan generate --model wgan.pt -n 5000 --energy 10 -o patterns_10EeV.npz
        dctrgan generate truth.npz --loss bce -n 100000 -o gan.npz
        dctrgan generate showers.root --generator showers -n 10000 -o fake.root
    """
    _model_or_input(model_file, input_spec, "INPUT")
    if model_file is not None and save_model is not None:
        msg = "--save-model applies when training, not with --model"
        raise click.UsageError(msg)
    check_output(output, overwrite, (input_spec, model_file))
    if save_model is not None:
        check_output(save_model, overwrite, (input_spec, output))
    start = time.perf_counter()
    gan: WGAN | ShowerGAN
    if model_file is not None:
        check_input(model_file)
        kind = ShowerGAN if model_class(model_file) == "ShowerGAN" else WGAN
        gan = kind.load(model_file, device=device, progress=progress)
        _check_samples(gan.shape, gan.config["condition_dim"] > 0, output, energy)
        how = f"loaded {model_file}"
    else:
        assert input_spec is not None
        x = load(input_spec, events, branches)
        shape = _shape(x)
        conditioned = condition and isinstance(x, ak.Array)
        _check_samples(shape, conditioned, output, energy)
        if generator == "showers":
            # a single energy is no label: the profile keeps its Gaussian mixture
            energies = np.asarray(x["incident_energy"]) if conditioned else np.zeros(1)
            conditioned = bool(np.ptp(energies) > 0)
            gan = _shower_gan(
                shape, conditioned, steps, batch_size, width, loss, seed, device, progress
            )
        else:
            gan = WGAN(
                shape,
                condition_dim=int(conditioned),
                loss=loss,  # type: ignore[arg-type]
                device=device,
                seed=seed,
                progress=progress,
                width=width,
                batch_size=batch_size,
                steps=steps,
            )
        gan.fit(x)
        how = f"trained on {len(x)} events of {input_spec} in {time.perf_counter() - start:.0f} s"
        if save_model is not None:
            gan.save(save_model)
            how += f", saved to {save_model}"
    conditioned = gan.config["condition_dim"] > 0
    label = energy if conditioned else None
    if len(gan.shape) == 3:
        showers = gan.sample_events(
            n, condition=label, seed=seed, energy=None if conditioned else energy
        )
        io.write(output, showers, overwrite=overwrite)
    else:
        assert isinstance(gan, WGAN)  # only WGANs generate points and patterns
        x_new = gan.sample(n, condition=label, seed=seed)
        arrays = {"x": x_new}
        if label is not None:
            arrays["energy"] = np.full(n, label)
        if conditioned:
            arrays["reconstructed_energy"] = gan.reconstruct(x_new)
        write_npz(output, arrays, overwrite)
    click.echo(f"{type(gan).__name__} {gan.shape}: {how}")
    click.echo(f"wrote {n} samples to {output}")


# --------------------------------------------------------------------- refine


@click.command("refine")
@click.argument("sim")
@click.argument("data_spec", metavar="[DATA]", required=False)
@output_option("The ROOT file of refined traces (every other field unchanged).")
@click.option("--model", "model_file", default=None, help="Load this refiner instead of training.")
@_SAVE_MODEL
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Refiner updates.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Events per update.")
@click.option("--width", type=click.IntRange(min=1), default=None, help="Refiner feature maps.")
@click.option(
    "--step-size",
    "step",
    default="100 MB",
    show_default=True,
    help="Events per chunk, or memory per chunk, of the refined output.",
)
@events_option
@branch_option
@overwrite_option
@model_options
def refine_command(
    sim: str,
    data_spec: str | None,
    output: Path,
    model_file: str | None,
    save_model: Path | None,
    steps: int | None,
    batch_size: int | None,
    width: int | None,
    step: str,
    events: int | None,
    branches: tuple[str, ...],
    overwrite: bool,
    seed: int,
    device: str,
    progress: bool,
) -> None:
    """Train a refiner of SIM traces towards DATA (or load one) and write refined SIM.

    SIM and DATA are ROOT files of air-shower traces; DATA needs no labels. The
    refined traces are written chunk by chunk (--step-size), so SIM may be
    larger than memory; --events limits the training events, not the output.

    \b
    Examples:
        dctrgan refine sim.root data.root -o refined.root --save-model refiner.pt
        dctrgan refine sim.root --model refiner.pt -o refined.root
    """
    _model_or_input(model_file, data_spec, "DATA")
    if model_file is not None and save_model is not None:
        msg = "--save-model applies when training, not with --model"
        raise click.UsageError(msg)
    check_root_output(output)
    chunk_size = step_size(step)
    check_input(sim)
    check_output(output, overwrite, (sim, data_spec, model_file))
    if save_model is not None:
        check_output(save_model, overwrite, (sim, data_spec, output))
    start = time.perf_counter()
    if model_file is not None:
        check_input(model_file)
        refiner = Refiner.load(model_file, device=device, progress=progress)
        how = f"loaded {model_file}"
    else:
        assert data_spec is not None
        sim_events = load(sim, events, branches)
        data_events = load(data_spec, events, branches)
        refiner = Refiner(width=width, device=device, seed=seed, progress=progress)
        refiner.fit(sim_events, data_events, steps=steps, batch_size=batch_size)
        del sim_events, data_events
        how = f"trained on {sim} against {data_spec} in {time.perf_counter() - start:.0f} s"
        if save_model is not None:
            refiner.save(save_model)
            how += f", saved to {save_model}"
    chunks = io.iterate(sim, "traces", step_size=chunk_size, branches=branch_map(branches))
    count = 0
    with progress_bar(progress, "refining", entries(sim) if progress else None) as bar:

        def refined() -> Iterator[ak.Array]:
            nonlocal count
            for chunk in chunks:
                out = refiner.refine(chunk)
                count += len(chunk)
                bar.update(len(chunk))
                yield out

        io.write_chunks(output, refined(), overwrite=overwrite)
    click.echo(f"refiner: {how}")
    click.echo(f"wrote {count} refined events of {sim} to {output}")
