"""The reading machinery behind :mod:`dctrgan.io` (private).

A *plan* opens every input file once, finds its tree and branches, checks them
against the branch mapping and resolves the entry range over all files together;
:func:`chunks` then reads the plan chunk by chunk and converts each chunk with
:func:`~dctrgan.io.branches.from_branches` (ROOT) or :mod:`dctrgan.io._hdf5`. Every
failure of uproot on a file is re-raised as an ``OSError`` naming it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import glob
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import awkward as ak
import numpy as np
import uproot

from dctrgan.data import DEFAULT_GEOMETRY, KINDS, Geometry, Kind, behavior
from dctrgan.io import _hdf5
from dctrgan.io.branches import SCHEMA_FIELDS, BranchMap, from_branches, guess_kind, resolve

__all__ = (
    "Files",
    "Plan",
    "Weights",
    "attach",
    "chunks",
    "friend_reader",
    "guard",
    "make_plan",
    "parse_size",
    "steps",
)

#: One file or a sequence of them: paths, ``"file.root:tree"`` strings, globs.
Files: TypeAlias = "str | os.PathLike[str] | Sequence[str | os.PathLike[str]]"
#: Friend weights of global entries ``[start, stop)``.
Weights: TypeAlias = Callable[[int, int], np.ndarray]

_TREE_CLASSES = ("TTree", "TNtuple", "TNtupleD")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([kMGT]?i?B)\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_size(size: int | str) -> int | str:
    """A step in events (an int) or in bytes (``"100 MB"``, returned as ``"<n> B"``)."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        if size < 1:
            msg = f"step_size must be at least 1 event, got {size}"
            raise ValueError(msg)
        return int(size)
    match = _SIZE.match(size) if isinstance(size, str) else None
    if match is None:
        msg = f"step_size must be a number of events or a size such as '100 MB', got {size!r}"
        raise ValueError(msg)
    return f"{max(1, int(float(match.group(1)) * _UNITS[match.group(2).lower()]))} B"


def steps(step_size: int | str, bytes_per_event: float) -> int:
    """Events per chunk for a step in events or in bytes."""
    parsed = parse_size(step_size)
    if isinstance(parsed, int):
        return parsed
    return max(1, int(int(parsed.split()[0]) / max(bytes_per_event, 1.0)))


@dataclasses.dataclass(frozen=True)
class _Source:
    """One input file: its tree (empty for HDF5), its entries and its first global entry."""

    path: str
    tree: str
    entries: int
    offset: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.tree}" if self.tree else self.path


def describe(sources: Sequence[_Source]) -> str:
    """``file:tree`` of one source, or the count and the first of several."""
    if len(sources) == 1:
        return sources[0].where
    return f"{len(sources)} files ({sources[0].where}, ...)"


@dataclasses.dataclass(frozen=True)
class Plan:
    """What to read: the files, the branches, and the global entry range ``[start, stop)``."""

    sources: tuple[_Source, ...]
    hdf5: bool
    kind: Kind
    mapping: BranchMap | None
    columns: tuple[str, ...]
    extra: tuple[str, ...]
    start: int
    stop: int
    first_tree: Any = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def total(self) -> int:
        """Entries of all files together."""
        return self.sources[-1].offset + self.sources[-1].entries

    @property
    def where(self) -> str:
        return describe(self.sources)

    def ranges(self) -> list[tuple[_Source, int, int]]:
        """Local ``(source, start, stop)`` of the selection; one empty range if it is empty."""
        out = []
        for s in self.sources:
            lo, hi = max(self.start - s.offset, 0), min(self.stop - s.offset, s.entries)
            if lo < hi:
                out.append((s, lo, hi))
        return out or [(self.sources[0], 0, 0)]


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


def _expand(files: Files, tree: str | None) -> list[tuple[str, str | None]]:
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


@contextlib.contextmanager
def guard(where: str) -> Iterator[None]:
    """Re-raise what uproot raises on a broken file as an ``OSError`` naming it."""
    try:
        yield
    except (MemoryError, FileNotFoundError):
        raise
    except Exception as err:
        msg = (
            f"{where}: cannot be read; the file may be truncated or corrupt ({type(err).__name__}: "
            f"{err})"
        )
        raise OSError(msg) from err


@contextlib.contextmanager
def _open_root(path: str) -> Iterator[Any]:
    if "://" not in path and not Path(path).exists():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    with guard(path):
        file = uproot.open(path)
    try:
        yield file
    finally:
        file.close()


def _find_tree(file: Any, path: str, name: str | None) -> tuple[Any, str]:
    """The TTree ``name`` of an open file (the only one if ``name`` is None)."""
    with guard(path):
        classes = file.classnames(cycle=False)
    trees = [key for key, cls in classes.items() if cls in _TREE_CLASSES]
    if name is None:
        if len(trees) != 1:
            found = f"{len(trees)} TTrees {trees}" if trees else "no TTree"
            msg = f"{path}: {found}; name one with tree= or as 'file.root:tree'"
            raise ValueError(msg)
        name = trees[0]
    base = name.split(";")[0]
    if base not in trees:
        other = f" (it is a {classes[base]})" if base in classes else ""
        msg = f"{path}: no TTree {name!r}{other}; TTrees in the file: {trees}"
        raise ValueError(msg)
    with guard(f"{path}:{name}"):
        return file[name], name


def _branch_info(tree: Any, where: str) -> tuple[list[str], list[str], set[str]]:
    """Branch names (sub-branches too), the top-level ones holding one number per
    event, and the counters of jagged branches."""
    with guard(where):
        branches = list(tree.branches)
        names = list(dict.fromkeys([*tree.keys(full_paths=False), *tree.keys()]))
        counters = {b.count_branch.name for b in branches if b.count_branch is not None}
        scalars = [
            b.name
            for b in branches
            if not b.branches
            and isinstance(b.interpretation, uproot.AsDtype)
            and b.interpretation.inner_shape == ()
            and b.interpretation.to_dtype.kind in "biuf"
        ]
    return names, scalars, counters


def _require(
    wanted: Sequence[str], names: Sequence[str], where: str, role: Mapping[str, str]
) -> None:
    """A ValueError naming the missing branches (and their keys) and the available ones."""
    missing = [b for b in wanted if b not in names]
    if missing:
        shown = ", ".join(names[:40]) + (f", ... ({len(names)} in all)" if len(names) > 40 else "")
        which = ", ".join(f"{b!r} ({role[b]})" if b in role else repr(b) for b in missing)
        msg = f"{where}: no branch {which}; available branches: {shown or 'none'}"
        raise ValueError(msg)


def _entry_range(start: int | None, stop: int | None, total: int, where: str) -> tuple[int, int]:
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


def _hdf5_plan(
    specs: Sequence[tuple[str, str | None]],
    entry_start: int | None,
    entry_stop: int | None,
    geometry: Geometry | None,
) -> Plan:
    sources: list[_Source] = []
    offset = 0
    for path, _ in specs:
        n = _hdf5.entries(path, geometry)
        sources.append(_Source(path, "", n, offset))
        offset += n
    lo, hi = _entry_range(entry_start, entry_stop, offset, describe(sources))
    return Plan(tuple(sources), True, "showers", None, (), (), lo, hi)


def make_plan(
    files: Files,
    kind: Kind | None,
    tree: str | None,
    branches: Mapping[str, str] | None,
    entry_start: int | None,
    entry_stop: int | None,
    geometry: Geometry | None,
    hdf5: bool | None = None,
    keep: contextlib.ExitStack | None = None,
) -> Plan:
    """Open every file once for its entries and branches, and check what will be read.

    The branches read are those of the mapping, the weight (if the first file has
    it) and every other branch with one number per event (the extra fields).
    With ``keep``, the first file stays open (until ``keep`` closes) for the reading.
    ``hdf5`` forces the format; by default it follows the file suffixes.
    """
    if kind is not None and kind not in KINDS:
        msg = f"kind must be one of {KINDS} or None, got {kind!r}"
        raise ValueError(msg)
    specs = _expand(files, tree)
    formats = {p.lower().endswith(_hdf5.SUFFIXES) for p, _ in specs} if hdf5 is None else {hdf5}
    if len(formats) > 1:
        msg = f"cannot read HDF5 and ROOT files together: {[p for p, _ in specs]}"
        raise ValueError(msg)
    if formats == {True}:
        if branches is not None or kind == "traces" or any(t is not None for _, t in specs):
            msg = (
                f"{specs[0][0]}: HDF5 files hold showers in a fixed layout; "
                "tree=, branches= and kind='traces' do not apply"
            )
            raise ValueError(msg)
        return _hdf5_plan(specs, entry_start, entry_stop, geometry)

    sources: list[_Source] = []
    mapping: BranchMap | None = None
    columns: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    first_tree = None
    for path, asked in specs:
        with contextlib.ExitStack() as stack:
            file = stack.enter_context(_open_root(path))
            ttree, name = _find_tree(file, path, asked)
            where = f"{path}:{name}"
            with guard(where):
                entries = int(ttree.num_entries)
            names, scalars, counters = _branch_info(ttree, where)
            if keep is not None and not sources:
                keep.enter_context(stack.pop_all())
                first_tree = ttree
        if mapping is None:
            mapping = resolve(kind if kind is not None else guess_kind(branches, names), branches)
            columns = tuple(mapping.fields.values())
            if mapping.weight_required or mapping.weight in names:
                columns += (mapping.weight,)
            skip = {
                *mapping.fields.values(),
                mapping.weight,
                *counters,
                *SCHEMA_FIELDS[mapping.kind],
            }
            extra = tuple(b for b in scalars if b not in skip)
            columns += extra
        role = {b: k for k, b in mapping.fields.items()} | {mapping.weight: "weight"}
        _require(columns, names, where, role)
        if mapping.weight in names and mapping.weight not in columns:
            msg = (
                f"{where} has a {mapping.weight!r} branch but {describe(sources[:1])} has none: "
                "read weighted and unweighted files separately"
            )
            raise ValueError(msg)
        sources.append(_Source(path, name, entries, sum(s.entries for s in sources)))
    assert mapping is not None
    lo, hi = _entry_range(
        entry_start, entry_stop, sum(s.entries for s in sources), describe(sources)
    )
    return Plan(tuple(sources), False, mapping.kind, mapping, columns, extra, lo, hi, first_tree)


def _root_chunks(
    source: _Source,
    lo: int,
    hi: int,
    columns: Sequence[str],
    step_size: int | str | None,
    ttree: Any = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(global start, branch arrays)`` of entries ``[lo, hi)`` of one tree, in chunks.

    ``ttree`` is the tree if it is open already; ``step_size=None`` reads all at once.
    """
    where = source.where
    with contextlib.ExitStack() as stack:
        if ttree is None:
            file = stack.enter_context(_open_root(source.path))
            with guard(where):
                ttree = file[source.tree]
        if step_size is None:
            with guard(where):
                arrays = ttree.arrays(list(columns), entry_start=lo, entry_stop=hi, how=dict)
            yield source.offset + lo, arrays
            return
        step = parse_size(step_size)
        parts = ttree.iterate(
            list(columns), entry_start=lo, entry_stop=hi, step_size=step, how=dict, report=True
        )
        while True:
            with guard(where):
                try:
                    arrays, report = next(parts)
                except StopIteration:
                    return
            yield source.offset + int(report.tree_entry_start), arrays


def _source_chunks(
    plan: Plan,
    source: _Source,
    lo: int,
    hi: int,
    step_size: int | str | None,
    geometry: Geometry | None,
) -> Iterator[tuple[int, ak.Array]]:
    """``(global start, events)`` of entries ``[lo, hi)`` of one file."""
    if plan.hdf5:
        cells = int(np.prod((geometry or DEFAULT_GEOMETRY).shape))
        step = None if step_size is None else steps(step_size, 4.0 * (cells + 1))
        for start, events in _hdf5.chunks(source.path, lo, hi, step, geometry):
            yield source.offset + start, events
        return
    assert plan.mapping is not None
    ttree = plan.first_tree if source is plan.sources[0] else None
    for start, arrays in _root_chunks(source, lo, hi, plan.columns, step_size, ttree):
        events = from_branches(
            arrays, plan.kind, plan.mapping, extra=plan.extra, geometry=geometry, where=source.where
        )
        yield start, events


def chunks(
    plan: Plan,
    step_size: int | str | None,
    geometry: Geometry | None,
    weights: Weights | None,
    skip_empty: bool,
) -> Iterator[ak.Array]:
    """Events of the selection, chunk by chunk, with the friend weights attached.

    ``step_size=None`` reads each file at once; ``skip_empty=False`` yields one
    empty chunk for an empty selection (so that ``read`` returns typed events).
    """
    for source, lo, hi in plan.ranges():
        if skip_empty and lo == hi:
            continue
        for start, events in _source_chunks(plan, source, lo, hi, step_size, geometry):
            yield events if weights is None else attach(events, weights(start, start + len(events)))


def attach(events: ak.Array, weight: np.ndarray) -> ak.Array:
    """Multiply ``weight`` into the events' weight (or set it)."""
    if "weight" in ak.fields(events):
        weight = (np.asarray(ak.to_numpy(events["weight"])) * weight).astype(np.float32)
    return ak.Array(ak.with_field(events, weight, "weight"), behavior=behavior)


def friend_reader(friend: Files, plan: Plan, stack: contextlib.ExitStack) -> Weights:
    """A reader of friend weights by global entry range, checked against ``plan``.

    The friend files stay open in ``stack``.
    """
    sources: list[_Source] = []
    for path, asked in _expand(friend, None):
        with _open_root(path) as file:
            ttree, name = _find_tree(file, path, asked)
            where = f"{path}:{name}"
            with guard(where):
                entries = int(ttree.num_entries)
            names, _, _ = _branch_info(ttree, where)
        _require(["weight"], names, where, {"weight": "friend weight"})
        sources.append(_Source(path, name, entries, sum(s.entries for s in sources)))
    total = sum(s.entries for s in sources)
    if total != plan.total:
        msg = (
            f"friend {describe(sources)} has {total} entries but {plan.where} has {plan.total}: "
            "a friend tree holds one weight per event, in the same order"
        )
        raise ValueError(msg)
    branches: dict[str, Any] = {}

    def weights(start: int, stop: int) -> np.ndarray:
        parts = []
        for s in sources:
            lo, hi = max(start - s.offset, 0), min(stop - s.offset, s.entries)
            if lo >= hi:
                continue
            if s.where not in branches:
                file = stack.enter_context(_open_root(s.path))
                with guard(s.where):
                    branches[s.where] = file[s.tree]["weight"]
            with guard(s.where):
                values = np.asarray(
                    branches[s.where].array(entry_start=lo, entry_stop=hi, library="np")
                )
            if values.ndim != 1 or values.dtype.kind not in "iuf" or not np.isfinite(values).all():
                msg = f"{s.where}: branch 'weight' must hold one finite number per event"
                raise ValueError(msg)
            parts.append(values.astype(np.float32, copy=False))
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    return weights
