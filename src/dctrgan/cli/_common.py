"""Options and file handling shared by the ``dctrgan`` commands (private).

Inputs are ROOT files (``file.root``, ``file.root:tree``, globs; a TTree or an
RNTuple; read with :func:`dctrgan.read`) or, for points such as the Gaussian toys,
``.npz`` files holding an ``x`` array ``(N, d)``. A missing input is refused
before any work. Outputs are checked before any work starts too: ROOT outputs need
a ``.root`` name, an existing file needs ``--overwrite``, the folder must exist,
and no output may be one of the inputs.

Errors of the public API name its arguments (``overwrite=True``); the commands
name their options: :func:`cli_wording` translates the one into the other.
"""

from __future__ import annotations

import glob
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
import numpy as np
import uproot
from tqdm.auto import tqdm

from dctrgan import io
from dctrgan.io.files import atomic

__all__ = (
    "NPZ",
    "ROOT",
    "branch_option",
    "check_input",
    "check_output",
    "check_root_output",
    "cli_wording",
    "device_option",
    "entries",
    "events_option",
    "integers",
    "is_npz",
    "is_root",
    "load",
    "output_option",
    "overwrite_option",
    "progress_bar",
    "progress_option",
    "read_npz",
    "seed_option",
    "step_size",
    "tree_of",
    "write_npz",
)

F = TypeVar("F", bound=Callable[..., Any])

#: Suffix of the numpy files that hold points (the Gaussian toys, 9x9 patterns).
NPZ = ".npz"
#: Suffix of ROOT files.
ROOT = ".root"
#: What holds events in a ROOT file.
_EVENT_CLASSES = ("TTree", "TNtuple", "TNtupleD", "ROOT::RNTuple")
#: API arguments -> the options that set them, for :func:`cli_wording`.
_OPTIONS = {
    "overwrite=True": "--overwrite",
    "fill_none=": "--fill-none ",
    "features=": "--features ",
    "step_size=": "--step-size ",
    "branches=": "--branch ",
    "model=": "--model ",
    "device=": "--device ",
    "seed=": "--seed ",
    "epochs=": "--epochs ",
    "batch_size=": "--batch-size ",
    "lr=": "--lr ",
    "folds=": "--folds ",
    "clip=": "--clip ",
    "hidden=": "--hidden ",
    "steps=": "--steps ",
    "width=": "--width ",
}
_ARGUMENT = re.compile(r"\b(" + "|".join(re.escape(k) for k in _OPTIONS) + ")")


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


_SIZE = re.compile(r"^\s*\d+(\.\d*)?\s*[kMGT]?i?B\s*$", re.IGNORECASE)


def step_size(text: str) -> int | str:
    """``"10000"`` (events) -> 10000; ``"100 MB"`` stays a size (read by
    :func:`dctrgan.iterate`); anything else is an error naming ``--step-size``."""
    if text.strip().isdigit() and int(text) > 0:
        return int(text)
    if not _SIZE.match(text):
        msg = f"expected a number of events or a size such as '100 MB', got {text!r}"
        raise click.BadParameter(msg, param_hint="--step-size")
    return text


def cli_wording(message: str) -> str:
    """An error message of the public API in the words of the command line: the
    arguments it names (``overwrite=True``, ``step_size``) become the options that
    set them (``--overwrite``, ``--step-size``)."""

    def option(match: re.Match[str]) -> str:
        text = _OPTIONS[match.group(1)]
        value_follows = match.end() < len(message) and message[match.end()] not in " ,;:)"
        return text if value_follows else text.rstrip()

    message = _ARGUMENT.sub(option, message)
    message = re.sub(r"\bstep_size\b", "--step-size", message)
    return re.sub(r"\bwith tree= or as\b", "as", message)


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


def is_root(path: str | os.PathLike[str]) -> bool:
    return os.fspath(path).lower().endswith(ROOT)


def check_root_output(output: Path, option: str = "-o/--output") -> None:
    """Refuse, before any work, a ROOT output whose name does not end in ``.root``."""
    if not is_root(output):
        msg = f"{output}: ROOT files are written to a {ROOT} file name"
        raise click.BadParameter(msg, param_hint=option)


def check_input(spec: str | os.PathLike[str]) -> None:
    """Refuse, before any work, an input file that does not exist (a FileNotFoundError
    naming it: one line from the command, the traceback with ``--debug``)."""
    text = os.fspath(spec)
    if "://" in text or _paths(text):
        return
    head, sep, _ = text.rpartition(":")
    name = head if sep and head and not Path(text).exists() else text
    if any(c in name for c in "*?["):
        msg = f"{name}: no file matches this pattern"
    else:
        msg = f"{name}: no such file"
    raise FileNotFoundError(msg)


def _sources(spec: str | os.PathLike[str]) -> list[tuple[Path, str | None]]:
    """The files of a ROOT input and the tree named in it (``file.root:tree``), if any."""
    text = os.fspath(spec)
    name = None
    if not Path(text).exists():
        head, sep, tail = text.rpartition(":")
        name = tail if sep and head else None
    return [(path, name) for path in sorted(set(_paths(text)))]


def _event_key(file: Any, name: str | None) -> str | None:
    """The TTree or RNTuple of an open file: ``name``, the only one, or events/Events."""
    if name is not None:
        return name
    classes = file.classnames(cycle=False)
    found = [key for key, cls in classes.items() if cls in _EVENT_CLASSES]
    if len(found) != 1:
        found = [key for key in found if key in ("events", "Events")]
    return found[0] if len(found) == 1 else None


def tree_of(spec: str | os.PathLike[str]) -> str | None:
    """The name of the tree a ROOT input is read from (None if it cannot be told)."""
    try:
        for path, name in _sources(spec)[:1]:
            with uproot.open(path) as file:
                return _event_key(file, name)
    except Exception:  # noqa: BLE001 - a default name only; the reader reports bad files
        return None
    return None


def entries(spec: str | os.PathLike[str]) -> int | None:
    """Events of a ROOT input (all files of a glob), for a progress total; None if unknown."""
    total = 0
    try:
        for path, name in _sources(spec):
            with uproot.open(path) as file:
                key = _event_key(file, name)
                if key is None:
                    return None
                total += int(file[key].num_entries)
    except Exception:  # noqa: BLE001 - a progress total only; the reader reports bad files
        return None
    return total or None


def load(
    spec: str,
    events: int | None = None,
    branches: Sequence[str] = (),
    friend: str | None = None,
) -> Any:
    """Events of a ROOT input (awkward), or the ``x`` points ``(N, d)`` of a ``.npz`` file."""
    check_input(spec)
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


def progress_bar(
    show: bool, description: str, total: int | None = None, unit: str = " events"
) -> Any:
    """A tqdm bar on stderr (disabled without ``show``): with a ``total``, it shows the
    fraction done and the time left."""
    return tqdm(
        total=total,
        desc=description,
        unit=unit,
        disable=not show,
        file=sys.stderr,
        dynamic_ncols=True,
    )
