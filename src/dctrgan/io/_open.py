"""Opening ROOT files and finding their TTrees, RNTuples and branches (private).

Every failure of uproot on a file is re-raised as a one-line ``OSError`` naming it;
a file that does not start with the ROOT magic bytes is called not a ROOT file,
one that does but cannot be read truncated or corrupt.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import awkward as ak
import numpy as np
import uproot

from dctrgan.data import numeric_type

__all__ = (
    "RNTUPLE",
    "BranchInfo",
    "Files",
    "Source",
    "branch_infos",
    "describe",
    "entry_range",
    "expand",
    "find_tree",
    "guard",
    "open_root",
    "require",
)

#: One file or a sequence of them: paths, ``"file.root:tree"`` strings, globs.
Files: TypeAlias = "str | os.PathLike[str] | Sequence[str | os.PathLike[str]]"

_TREE_CLASSES = ("TTree", "TNtuple", "TNtupleD")
#: Class name of an RNTuple in a ROOT file.
RNTUPLE = "ROOT::RNTuple"
_MAGIC = b"root"


@dataclasses.dataclass(frozen=True)
class Source:
    """One input file: its tree or RNTuple (empty for HDF5), entries and first global entry."""

    path: str
    tree: str
    entries: int
    offset: int
    rntuple: bool = False

    @property
    def where(self) -> str:
        return f"{self.path}:{self.tree}" if self.tree else self.path


def describe(sources: Sequence[Source]) -> str:
    """``file:tree`` of one source, or the count and the first of several."""
    if len(sources) == 1:
        return sources[0].where
    return f"{len(sources)} files ({sources[0].where}, ...)"


def _split_spec(item: str | os.PathLike[str]) -> tuple[str, str | None]:
    """``"file.root:tree"`` -> ``("file.root", "tree")``; a ``Path`` is never split."""
    if not isinstance(item, str):
        return os.fspath(item), None
    head, sep, tail = item.rpartition(":")
    if not sep or not head or not tail or "/" in tail or "\\" in tail or Path(item).exists():
        return item, None
    if len(head) == 1 and head.isalpha():  # a Windows drive letter
        return item, None
    return head, tail


def expand(files: Files, tree: str | None) -> list[tuple[str, str | None]]:
    """Paths (globs expanded, in order) and the tree named for each."""
    items = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    if not items:
        msg = "no input files given"
        raise ValueError(msg)
    out: list[tuple[str, str | None]] = []
    for item in items:
        path, name = _split_spec(item)
        if tree is not None and name is not None and name != tree:
            msg = f"{item!s}: names tree {name!r} but tree={tree!r} was given"
            raise ValueError(msg)
        name = name if name is not None else tree
        if any(c in path for c in "*?[") and not Path(path).exists():
            # glob.glob, not Path.glob: the pattern may be absolute and match folders too
            matches = sorted(glob.glob(path, recursive=True))  # noqa: PTH207
            if not matches:
                msg = f"no files match the pattern {path!r}"
                raise FileNotFoundError(msg)
            out.extend((m, name) for m in matches)
        else:
            out.append((path, name))
    return out


def _one_line(err: BaseException, limit: int = 200) -> str:
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextlib.contextmanager
def guard(where: str) -> Iterator[None]:
    """Re-raise what uproot raises on a broken file as a one-line ``OSError`` naming it."""
    try:
        yield
    except (MemoryError, FileNotFoundError):
        raise
    except Exception as err:
        msg = (
            f"{where}: cannot be read; the file may be truncated or corrupt ({type(err).__name__}: "
            f"{_one_line(err)})"
        )
        raise OSError(msg) from err


def _check_magic(path: str) -> None:
    """A one-line error for a missing file, and for one that is not ROOT at all."""
    try:
        with Path(path).open("rb") as file:
            head = file.read(4)
    except FileNotFoundError:
        msg = f"no such file: {path!r}"
        raise FileNotFoundError(msg) from None
    except IsADirectoryError:
        msg = f"{path}: is a folder, not a ROOT file"
        raise IsADirectoryError(msg) from None
    if len(head) < len(_MAGIC):
        msg = f"{path}: cannot be read; the file may be truncated or corrupt (it has {len(head)} B)"
        raise OSError(msg)
    if head != _MAGIC:
        msg = f"{path}: cannot be read: not a ROOT file (it does not start with 'root')"
        raise OSError(msg)


@contextlib.contextmanager
def open_root(path: str) -> Iterator[Any]:
    """An open uproot file, closed at the end of the block."""
    if "://" not in path:
        _check_magic(path)
    with guard(path):
        file = uproot.open(path)
    try:
        yield file
    finally:
        file.close()


def find_tree(file: Any, path: str, name: str | None) -> tuple[Any, str, bool]:
    """The TTree or RNTuple ``name`` of an open file (the only one if ``name`` is None).

    Returns:
        The object, its name and whether it is an RNTuple.
    """
    with guard(path):
        classes = file.classnames(cycle=False)
    trees = [key for key, cls in classes.items() if cls in _TREE_CLASSES]
    ntuples = [key for key, cls in classes.items() if cls == RNTUPLE]
    both = f"TTrees in the file: {trees}, RNTuples: {ntuples}"
    if name is None:
        if len(trees) + len(ntuples) != 1:
            if not trees and not ntuples:
                msg = f"{path}: no TTree or RNTuple in the file"
                raise ValueError(msg)
            found = f"{len(trees)} TTrees {trees} and {len(ntuples)} RNTuples {ntuples}"
            msg = f"{path}: {found}; name one with tree= or as 'file.root:tree'"
            raise ValueError(msg)
        name = (trees or ntuples)[0]
    base = name.split(";")[0]
    if base not in trees and base not in ntuples:
        other = f" (it is a {classes[base]})" if base in classes else ""
        msg = f"{path}: no TTree or RNTuple {name!r}{other}; {both}"
        raise ValueError(msg)
    with guard(f"{path}:{name}"):
        return file[name], name, base in ntuples


@dataclasses.dataclass(frozen=True)
class BranchInfo:
    """A top-level branch (or RNTuple field): its name, counter, and what it holds.

    Attributes:
        name: the branch name.
        counter: the counter branch of a jagged branch, else None.
        numeric: holds numbers (flat, fixed-size or jagged).
        flat: holds one number per event.
        typename: a short description, for messages.
        fixed: holds a fixed number of numbers per event (a 1-d array, ``k * float32``).
    """

    name: str
    counter: str | None
    numeric: bool
    flat: bool
    typename: str
    fixed: bool = False


def _tree_infos(tree: Any) -> list[BranchInfo]:
    out = []
    for b in tree.branches:
        counter = b.count_branch.name if b.count_branch is not None else None
        try:
            item = b.interpretation.awkward_form(b.file).type
        except Exception:  # noqa: BLE001 - uproot cannot tell: not a number
            item = None
        numeric = not b.branches and item is not None and numeric_type(item)
        shape = (
            b.interpretation.inner_shape
            if numeric and isinstance(b.interpretation, uproot.AsDtype)
            else None
        )
        flat, fixed = shape == (), shape is not None and len(shape) == 1
        out.append(BranchInfo(b.name, counter, numeric, flat, b.typename, fixed))
    return out


def _rntuple_infos(ntuple: Any) -> list[BranchInfo]:
    empty = ntuple.arrays(entry_start=0, entry_stop=0)
    record = ak.type(empty).content
    return [
        BranchInfo(
            name,
            None,
            numeric_type(content),
            isinstance(content, ak.types.NumpyType) and numeric_type(content),
            " ".join(str(content).split())[:60],
            isinstance(content, ak.types.RegularType)
            and isinstance(content.content, ak.types.NumpyType)
            and numeric_type(content),
        )
        for name, content in zip(record.fields, record.contents, strict=True)
    ]


def branch_infos(tree: Any, where: str, rntuple: bool) -> list[BranchInfo]:
    """The top-level branches of a TTree, or fields of an RNTuple."""
    with guard(where):
        return _rntuple_infos(tree) if rntuple else _tree_infos(tree)


def require(
    wanted: Sequence[str], names: Sequence[str], where: str, role: Mapping[str, str]
) -> None:
    """A ValueError naming the missing branches (and their keys) and the available ones."""
    missing = [b for b in wanted if b not in names]
    if missing:
        shown = ", ".join(names[:40]) + (f", ... ({len(names)} in all)" if len(names) > 40 else "")
        which = ", ".join(f"{b!r} ({role[b]})" if b in role else repr(b) for b in missing)
        msg = f"{where}: no branch {which}; available branches: {shown or 'none'}"
        raise ValueError(msg)


def entry_range(start: int | None, stop: int | None, total: int, where: str) -> tuple[int, int]:
    """Python-style ``[start, stop)`` within ``total`` entries; empty is an error unless total
    is 0."""
    values: tuple[tuple[str, object], ...] = (("entry_start", start), ("entry_stop", stop))
    for name, value in values:
        if value is not None and not isinstance(value, (int, np.integer)):
            msg = f"{name} must be an integer or None, got {value!r}"
            raise TypeError(msg)
    lo = 0 if start is None else int(start) + (total if start < 0 else 0)
    hi = total if stop is None else int(stop) + (total if stop < 0 else 0)
    lo, hi = min(max(lo, 0), total), min(max(hi, 0), total)
    if total > 0 and lo >= hi:
        msg = (
            f"empty selection: entry_start={start}, entry_stop={stop} select no event "
            f"of the {total} in {where}"
        )
        raise ValueError(msg)
    return lo, hi
