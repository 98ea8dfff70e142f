"""The DCTR commands of ``dctrgan``: ``fit`` and ``weight`` (private; ``report`` is in
:mod:`.report`).

Each parses its arguments, calls the public API and prints what it made. Features
given as expressions (:mod:`._features`) are saved by their names, which are the
expressions: :func:`load_dctr` rebuilds them from a model file.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import awkward as ak
import click
import numpy as np

from dctrgan import io
from dctrgan.cli._common import (
    NPZ,
    branch_map,
    branch_option,
    check_input,
    check_output,
    check_root_output,
    device_option,
    entries,
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
    tree_of,
    write_npz,
)
from dctrgan.cli._features import FORMS, feature_spec, non_flat_fields, rebuild
from dctrgan.dctr import DCTR
from dctrgan.dctr.config import Config
from dctrgan.modelfile import load_model

__all__ = (
    "FEATURES_HELP",
    "fill_none_option",
    "fit_command",
    "is_generic",
    "load_dctr",
    "model_features",
    "weight_command",
)

#: The help of ``--features`` (and, for observables, ``report --observables``).
FEATURES_HELP = (
    "auto (showers: the 33 high-level features; traces: their trace features; any other "
    "ntuple: every branch with one number per event), high_level (showers), or "
    "comma-separated observables (showers), branches (pt1, MET_pt, MET.pt) and reductions "
    "of jagged collections: num(Jet), sum(Jet.pt), max(Jet.pt), min(Jet.pt), first(Jet.pt) "
    "(the leading entry). mlp only."
)
fill_none_option = click.option(
    "--fill-none",
    type=float,
    default=None,
    help="Value of a feature missing in an event, e.g. first(Jet.pt) of an event without "
    "jets (default: an error).",
)


def _attach_field() -> str:
    """The field :meth:`dctrgan.DCTR.attach` writes by default."""
    parameter = inspect.signature(DCTR.attach).parameters.get("field")
    default = None if parameter is None else parameter.default
    return default if isinstance(default, str) else "weight"


def _compression() -> str:
    """The compression :func:`dctrgan.io.write_chunks` writes with by default."""
    default = inspect.signature(io.write_chunks).parameters["compression"].default
    return default if isinstance(default, str) else "zstd:1"


def is_generic(events: Any) -> bool:
    """Awkward records that are neither showers nor traces."""
    fields = ak.fields(events) if isinstance(events, ak.Array) else []
    return bool(fields) and "hits" not in fields and "signal" not in fields


def model_features(path: str) -> tuple[list[str] | None, Any, float | None]:
    """The feature names of a DCTR model file, the ``features=`` it must be loaded with
    (None: the saved one) and its ``fill_none`` (None if it has none).

    Raises:
        ValueError: for a model fitted in Python with feature functions.
    """
    check_input(path)
    file = load_model(Path(path), "DCTR", Config)
    names = file.fitted.get("feature_names")
    spec = rebuild(names)
    if spec is None and file.config.features in ("callable", "callables"):
        msg = (
            f"{path}: the model was fitted in Python on feature functions, which a model "
            "file does not hold; weight with dctrgan.DCTR.load and the same functions"
        )
        raise ValueError(msg)
    fill = getattr(file.config, "fill_none", None)
    return names, spec, None if fill is None else float(fill)


def load_dctr(path: str, device: str, progress: bool = False) -> DCTR:
    """A DCTR model file; a model fitted by ``dctrgan fit`` on reductions gets them back."""
    _, spec, _ = model_features(path)
    return DCTR.load(path, features=cast(Any, spec), device=device, progress=progress)


def _clip(text: str) -> float | str | None:
    if text in ("auto", "sqrt_n"):
        return text
    if text == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        msg = f"expected a positive number, auto, sqrt_n or none, got {text!r}"
        raise click.BadParameter(msg, param_hint="--clip")
    return value


def _check_missing(events: Any, spec: Any, fill_none: float | None, argument: str) -> None:
    """Reductions missing in some events (no jet to take) need ``--fill-none``."""
    if fill_none is not None or not isinstance(spec, dict) or not isinstance(events, ak.Array):
        return
    for name, expression in spec.items():
        missing = int(ak.sum(ak.is_none(expression(events))))
        if missing:
            msg = (
                f"{name} is missing in {missing} of {len(events)} events of {argument} "
                "(no entry to take); pass --fill-none VALUE to use in their place"
            )
            raise click.BadParameter(msg, param_hint="--fill-none")


def _check_auto(events: Any, spec: Any, argument: str) -> None:
    """``--features auto`` on an ntuple with jagged branches: say how to name features."""
    if not (isinstance(spec, str) and spec == "auto" and is_generic(events)):
        return
    other = non_flat_fields(events)
    if other:
        shown = ", ".join(other[:8]) + (f" and {len(other) - 8} more" if len(other) > 8 else "")
        msg = (
            f"auto takes the branches with one number per event, but {argument} also has "
            f"others ({shown}); name the features: {FORMS.split(', or ', 1)[1]}"
        )
        raise click.BadParameter(msg, param_hint="--features")


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
@click.option("--features", "features", default="auto", show_default=True, help=FEATURES_HELP)
@fill_none_option
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
    help="Largest weight: a number, none, sqrt_n (the square root of the FAKE events), "
    "or auto (5 for cnn3d, sqrt_n otherwise).",
)
@click.option(
    "--calibrate",
    type=click.Choice(["auto", "temperature", "closure", "none"]),
    default="auto",
    show_default=True,
    help="temperature: fitted to the validation loss; closure: that temperature, softened "
    "where the weighted validation events then match the real ones better; auto: "
    "temperature for cnn3d, closure otherwise.",
)
@click.option(
    "--replicas",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Bootstrap replicas of the classifier (the uncertainty of the weights: "
    "dctrgan weight writes them as dctr_replicas, dctrgan report quotes their spread).",
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
    features: str,
    fill_none: float | None,
    hidden: str | None,
    epochs: int | None,
    batch_size: int,
    lr: float,
    folds: int,
    clip: str,
    calibrate: str,
    replicas: int,
    events: int | None,
    branches: tuple[str, ...],
    overwrite: bool,
    seed: int,
    device: str,
    progress: bool,
) -> None:
    """Fit DCTR on REAL (the reference) against FAKE and save the model.

    REAL and FAKE are ROOT files (file.root, file.root:tree, globs; a TTree or an
    RNTuple) of calorimeter showers, air-shower traces or any ntuple of numeric
    branches (NanoAOD, Delphes, your own: flat branches, jagged collections such as
    Jet_pt with nJet, nested records), or .npz files of points (array x). On an
    ntuple, name the features: branches, or reductions of collections to one number
    per event (see --features). The model file is written only once the fit is
    complete: a failed or interrupted fit leaves no file.

    \b
    Examples:
        dctrgan fit full.root:events fast.root:events -o dctr_hl.pt --features high_level
        dctrgan fit data.root mc.root -o dctr.pt --features pt1,eta1
        dctrgan fit data.root:Events mc.root:Events -o dctr.pt \\
            --features "first(Jet.pt),num(Jet),sum(Jet.pt),MET_pt" --fill-none 0
    """
    spec = feature_spec(features)
    check_output(output, overwrite, (real, fake))
    if model != "mlp" and not (isinstance(spec, str) and spec == "auto"):
        msg = f"--features applies to --model mlp; the {model} model reads the hits"
        raise click.BadParameter(msg, param_hint="--features")
    extra: dict[str, Any] = {} if fill_none is None else {"fill_none": fill_none}
    dctr = DCTR(
        features=spec,
        model=model,  # type: ignore[arg-type]
        hidden=None if hidden is None else integers(hidden, "--hidden"),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        clip=_clip(clip),  # type: ignore[arg-type]
        calibrate=None if calibrate == "none" else calibrate,  # type: ignore[arg-type]
        replicas=replicas,
        folds=folds,
        device=device,
        seed=seed,
        progress=progress,
        **extra,
    )
    real_events = load(real, events, branches)
    fake_events = load(fake, events, branches)
    for sample, argument in ((real_events, "REAL"), (fake_events, "FAKE")):
        _check_auto(sample, spec, argument)
        _check_missing(sample, spec, fill_none, argument)
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
    default=_attach_field(),
    show_default=True,
    help="Name of the DCTR weight branch (as dctrgan.DCTR.attach writes it).",
)
@click.option(
    "--tree",
    default=None,
    help="Tree name of the output (default: that of INPUT, else events; weights for --friend).",
)
@click.option(
    "--step-size",
    "step",
    default="100 MB",
    show_default=True,
    help="Events per chunk, or memory per chunk such as '100 MB': memory stays bounded.",
)
@click.option(
    "--compression",
    default=_compression(),
    show_default=True,
    help="Of the ROOT OUTPUT: 'algorithm:level' of zlib, lz4, zstd, lzma, or 'none'.",
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
    compression: str,
    branches: tuple[str, ...],
    overwrite: bool,
    device: str,
    progress: bool,
) -> None:
    """Weight the events of INPUT with a DCTR MODEL, streaming chunk by chunk.

    INPUT holds showers, traces or any ntuple (TTree or RNTuple) with what the model
    was fitted on (its branches; the reductions of a model fitted with them are
    computed again). Writes INPUT with the weight branch added (float32, as
    dctrgan.DCTR.attach does), or with --friend only the weights, one per event in
    the same order: read them back with dctrgan.read(INPUT, friend=OUTPUT). Files
    larger than memory are read and written chunk by chunk; OUTPUT appears only once
    complete.

    \b
    Examples:
        dctrgan weight dctr_hl.pt fast.root:events -o fast_weighted.root
        dctrgan weight dctr_hl.pt fast.root --friend -o fast_weights.root
    """
    if friend and field != _attach_field():
        msg = "a friend tree holds the branch 'weight'; --field applies without --friend"
        raise click.BadParameter(msg, param_hint="--field")
    step_events = step_size(step)
    if is_npz(input_spec) != is_npz(output):
        msg = f"{output}: the weights of {NPZ} input are written to {NPZ}, of ROOT input to ROOT"
        raise click.BadParameter(msg, param_hint="-o/--output")
    if not is_npz(input_spec):
        check_root_output(output)
    check_input(input_spec)
    check_output(output, overwrite, (input_spec, model_file))
    dctr = load_dctr(model_file, device)
    tally = _Tally()
    if is_npz(input_spec):
        arrays = read_npz(input_spec)
        w = np.asarray(dctr.weight(arrays["x"]), dtype=np.float32)
        if not friend and field in arrays:
            w = (w * arrays[field]).astype(np.float32)
        tally.add(w)
        write_npz(output, {field: w} if friend else {**arrays, field: w}, overwrite)
        what, where = f"{len(w)} points of {input_spec}", f"array {field!r}"
    else:
        chunks = io.iterate(input_spec, step_size=step_events, branches=branch_map(branches))
        total = entries(input_spec) if progress else None
        with progress_bar(progress, "weighting", total) as bar:

            def weighted() -> Iterator[Any]:
                for chunk in chunks:
                    out = dctr.weight(chunk) if friend else dctr.attach(chunk, field=field)
                    tally.add(out if friend else out[field])
                    bar.update(len(chunk))
                    yield out

            name = tree or ("weights" if friend else tree_of(input_spec) or "events")
            if friend:
                io.write_weights(
                    output, weighted(), name, overwrite=overwrite, compression=compression
                )
            else:
                io.write_chunks(
                    output, weighted(), name, overwrite=overwrite, compression=compression
                )
        what = f"{tally.n} events of {input_spec}"
        where = f"tree {name!r}, branch {'weight' if friend else field!r}, float32"
    click.echo(f"weighted {what}: {tally.summary()}")
    click.echo(f"wrote {output} ({where})")
