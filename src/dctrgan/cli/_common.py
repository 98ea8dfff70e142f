"""Options and file handling shared by the ``dctrgan`` commands (private).

Inputs are ROOT files (``file.root``, ``file.root:tree``, globs; read with
:func:`dctrgan.read`) or, for points such as the Gaussian toys, ``.npz`` files
holding an ``x`` array ``(N, d)``. Outputs are checked before any work starts:
an existing file needs ``--overwrite``, the folder must exist, and no output may
be one of the inputs.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
import numpy as np
from tqdm.auto import tqdm

from dctrgan import io
from dctrgan.io.files import atomic

__all__ = (
    "NPZ",
    "branch_option",
    "check_output",
    "device_option",
    "events_option",
    "integers",
    "is_npz",
    "load",
    "output_option",
    "overwrite_option",
    "progress_bar",
    "progress_option",
    "read_npz",
    "seed_option",
    "step_size",
    "write_npz",
)

F = TypeVar("F", bound=Callable[..., Any])

#: Suffix of the numpy files that hold points (the Gaussian toys, 9x9 patterns).
NPZ = ".npz"


# --------------------------------------------------------------------- options


def _chain(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(function: F) -> F:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


def output_option(text: str) -> Callable[[F], F]:
    """``-o/--output PATH`` (required), with the help ``text``."""
    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        required=True,
        help=text,
    )


overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Replace existing output files (only once complete)."
)
seed_option = click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Random seed; on CPU the same seed gives the same result.",
)
device_option = click.option(
    "--device",
    default="auto",
    show_default=True,
    help="Torch device: auto (CUDA if available), cpu, cuda, cuda:1, ...",
)
progress_option = click.option(
    "--progress/--no-progress", default=True, show_default=True, help="Show progress on stderr."
)
events_option = click.option(
    "--events",
    type=click.IntRange(min=1),
    default=None,
    help="Read at most this many events of each input (the first ones).",
)
branch_option = click.option(
    "--branch",
    "branches",
    multiple=True,
    metavar="KEY=BRANCH",
    help=(
        "Read a schema field from a branch of another name, e.g. energy=scene "
        "(repeatable; see dctrgan.io)."
    ),
)
model_options = _chain(seed_option, device_option, progress_option)


# --------------------------------------------------------------------- parsing


def integers(text: str, name: str) -> tuple[int, ...]:
    """``"128,128"`` -> ``(128, 128)``."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        msg = f"expected comma-separated integers such as 128,128, got {text!r}"
        raise click.BadParameter(msg, param_hint=name) from None
    return values


def branch_map(branches: Sequence[str]) -> dict[str, str] | None:
    """``("energy=scene",)`` -> ``{"energy": "scene"}``; None when empty."""
    out: dict[str, str] = {}
    for item in branches:
        key, sep, name = item.partition("=")
        if not sep or not key.strip() or not name.strip():
            msg = f"expected KEY=BRANCH, such as energy=scene, got {item!r}"
            raise click.BadParameter(msg, param_hint="--branch")
        out[key.strip()] = name.strip()
    return out or None


def step_size(text: str) -> int | str:
    """``"10000"`` (events) -> 10000; ``"100 MB"`` stays a size (checked by
    :func:`dctrgan.iterate`)."""
    return int(text) if text.strip().isdigit() else text


# --------------------------------------------------------------------- files


def is_npz(spec: str | os.PathLike[str]) -> bool:
    return os.fspath(spec).lower().endswith(NPZ)


def read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every array of a ``.npz`` file (no pickles); it must hold ``x``."""
    with np.load(path, allow_pickle=False) as file:
        arrays = {name: file[name] for name in file.files}
    if "x" not in arrays:
        msg = f"{path}: no array 'x' (the points, (N, d)); it holds {sorted(arrays)}"
        raise ValueError(msg)
    return arrays


def write_npz(path: Path, arrays: Mapping[str, np.ndarray], overwrite: bool) -> Path:
    """Write arrays to a ``.npz`` file atomically (a temporary file renamed at the end)."""
    with atomic(path, overwrite) as temporary, temporary.open("wb") as file:
        np.savez(file, **arrays)  # type: ignore[arg-type]
    return path


def load(
    spec: str,
    events: int | None = None,
    branches: Sequence[str] = (),
    friend: str | None = None,
) -> Any:
    """Events of a ROOT input (awkward), or the ``x`` points ``(N, d)`` of a ``.npz`` file."""
    if is_npz(spec):
        if branches or friend:
            msg = f"{spec}: --branch and --friend apply to ROOT files, not to {NPZ}"
            raise click.UsageError(msg)
        return read_npz(spec)["x"][:events]
    return io.read(spec, branches=branch_map(branches), entry_stop=events, friend=friend)


def _paths(spec: str | os.PathLike[str]) -> list[Path]:
    """The existing files a ``file.root:tree`` spec or glob may name."""
    text = os.fspath(spec)
    candidates = {text, text.rpartition(":")[0]} - {""}
    # glob.glob, not Path.glob: the pattern may be absolute (as dctrgan.read reads it)
    out = [Path(p) for c in candidates for p in glob.glob(c, recursive=True)]  # noqa: PTH207
    return [p for p in out if p.is_file()]


def check_output(
    output: Path, overwrite: bool, inputs: Iterable[str | os.PathLike[str] | None] = ()
) -> None:
    """Refuse, before any work: an existing output without ``--overwrite``, a missing folder,
    an output that is one of the inputs."""
    if output.exists():
        for spec in inputs:
            if spec is None:
                continue
            for path in _paths(spec):
                if path.samefile(output):
                    msg = f"{output}: is also an input ({spec}); write to another file"
                    raise ValueError(msg)
        if not overwrite:
            msg = f"{output}: exists; pass --overwrite to replace it"
            raise FileExistsError(msg)
    if not output.parent.is_dir():
        msg = f"{output}: the folder {output.parent} does not exist"
        raise FileNotFoundError(msg)


def progress_bar(show: bool, description: str, total: int | None = None) -> Any:
    """A tqdm bar of events on stderr (disabled without ``show``)."""
    return tqdm(
        total=total,
        desc=description,
        unit=" events",
        disable=not show,
        file=sys.stderr,
        dynamic_ncols=True,
    )
