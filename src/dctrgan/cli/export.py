"""``dctrgan export``: a model file as ONNX or TorchScript, with its closure check."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from dctrgan import export
from dctrgan.cli._common import check_input, check_output, is_npz, load, overwrite_option
from dctrgan.cli.dctr import load_dctr
from dctrgan.modelfile import model_class
from dctrgan.refiner import Refiner
from dctrgan.wgan import WGAN

__all__ = ("export_command",)

#: The format of an output suffix.
_SUFFIXES = {
    ".onnx": "onnx",
    ".pt": "torchscript",
    ".ts": "torchscript",
    ".torchscript": "torchscript",
}


def _format(output: Path, given: str | None) -> str:
    if given is not None:
        return given
    fmt = _SUFFIXES.get(output.suffix.lower())
    if fmt is None:
        msg = f"{output}: give --format (onnx or torchscript), or a suffix {sorted(_SUFFIXES)}"
        raise click.BadParameter(msg, param_hint="--format")
    return fmt


def _checked_events(kind: str, spec: str, n: int) -> Any:
    """The events of ``--check``: a number of events for a WGAN, else a file's first ``n``."""
    if kind == "WGAN":
        try:
            return int(spec)
        except ValueError:
            msg = f"a WGAN is checked on a number of generated events (e.g. 10000), got {spec!r}"
            raise click.BadParameter(msg, param_hint="--check") from None
    check_input(spec)
    return load(spec, events=n) if not is_npz(spec) else load(spec)[:n]


@click.command("export")
@click.argument("model_file", metavar="MODEL")
@click.argument("output", metavar="OUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(export.FORMATS),
    default=None,
    help="Default: from OUT's suffix (.onnx; .pt, .ts or .torchscript for TorchScript).",
)
@click.option(
    "--check",
    "check_spec",
    default=None,
    metavar="EVENTS",
    help="Run OUT and MODEL on these events and compare: a ROOT or .npz file of what "
    "the model takes (DCTR, refiner), or a number of events (WGAN). Exit code 1 if "
    "the weights differ by more than 1e-5 (relative).",
)
@click.option(
    "-n",
    "--events",
    "n",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Events of --check to use (the first ones).",
)
@overwrite_option
def export_command(
    model_file: str, output: Path, fmt: str | None, check_spec: str | None, n: int, overwrite: bool
) -> None:
    """Write the DCTR, WGAN or refiner in MODEL as one ONNX or TorchScript graph OUT.

    DCTR: features (columns in the model's feature order; voxels or hits for the
    low-level models) to weights, with input scaling, temperature, fold average,
    clip and replicas inside; WGAN: noise (and labels) to events; refiner: traces to
    refined traces. The metadata hold the feature names, the dctrgan version and a
    hash of the model; OUT appears only once complete.

    \b
    Examples:
        dctrgan export dctr.pt dctr.onnx --check fast.root
        dctrgan export dctr.pt dctr.torchscript      # for coffea's torch_wrapper
    """
    check_input(model_file)
    fmt = _format(output, fmt)
    check_output(output, overwrite, (model_file, check_spec))
    kind = model_class(model_file)
    model: Any
    if kind == "DCTR":
        model = load_dctr(model_file, "cpu")
    elif kind == "WGAN":
        model = WGAN.load(model_file, device="cpu", progress=False)
    elif kind == "Refiner":
        model = Refiner.load(model_file, device="cpu", progress=False)
    else:
        msg = f"{model_file}: a {kind} model; export takes a DCTR, a WGAN or a refiner"
        raise ValueError(msg)
    events = None if check_spec is None else _checked_events(kind, check_spec, n)
    path = model.export(output, fmt, overwrite=overwrite)
    click.echo(f"wrote {path} ({kind}, {fmt})")
    if events is not None:
        closure = export.check(path, model, events)
        click.echo(str(closure))
        if not closure.passed:
            sys.exit(1)
