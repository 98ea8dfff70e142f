"""The reading machinery behind :mod:`dctrgan.io` (private).

A *plan* opens every input file once, finds its TTree or RNTuple and branches, checks
them against the branch mapping (showers, traces) or the selection (generic events)
and resolves the entry range over all files together; :func:`chunks` then reads the
plan chunk by chunk and converts each chunk with
:func:`~dctrgan.io.branches.from_branches` (showers, traces),
:func:`~dctrgan.io._generic.assemble` (generic events) or :mod:`dctrgan.io._hdf5`.
Every failure of uproot on a file is re-raised as an ``OSError`` naming it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeAlias

import awkward as ak
import numpy as np

from dctrgan.data import DEFAULT_GEOMETRY, KINDS, Geometry, Kind, behavior
from dctrgan.io import _hdf5
from dctrgan.io._generic import Node, assemble, branch_view, finish, select, tree_layout
from dctrgan.io._open import (
    BranchInfo,
    Files,
    Source,
    branch_infos,
    describe,
    entry_range,
    expand,
    find_tree,
    guard,
    open_root,
    require,
)
from dctrgan.io.branches import (
    DEFAULT_BRANCHES,
    SCHEMA_FIELDS,
    BranchMap,
    from_branches,
    guess_kind,
    resolve,
)

__all__ = (
    "Branches",
    "Files",
    "Plan",
    "Weights",
    "aligned_step",
    "attach",
    "chunks",
    "convert",
    "friend_reader",
    "guard",
    "make_plan",
    "parse_size",
    "steps",
)

log = logging.getLogger(__name__)

#: ``branches=``: a schema mapping (showers, traces) or branch names and globs (events).
Branches: TypeAlias = "Mapping[str, Any] | Sequence[str] | None"
#: Friend weights of global entries ``[start, stop)``.
Weights: TypeAlias = Callable[[int, int], np.ndarray]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([kMGT]?i?B)\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SHOWER_BRANCHES = tuple(b for k, b in DEFAULT_BRANCHES["showers"].items() if k != "weight")


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
class Plan:
    """What to read: the files, the branches, and the global entry range ``[start, stop)``.

    ``columns`` are the branch names the conversion takes (for an RNTuple read with a
    branch mapping, the TTree branches of its fields, see
    :func:`~dctrgan.io._generic.branch_view`); ``fields`` what is asked of uproot.
    """

    sources: tuple[Source, ...]
    hdf5: bool
    kind: Kind
    mapping: BranchMap | None
    columns: tuple[str, ...]
    extra: tuple[str, ...]
    start: int
    stop: int
    first_tree: Any = dataclasses.field(default=None, compare=False, repr=False)
    rntuple: bool = False
    fields: tuple[str, ...] = ()
    layout: Mapping[str, Node] | None = None

    @property
    def total(self) -> int:
        """Entries of all files together."""
        return self.sources[-1].offset + self.sources[-1].entries

    @property
    def where(self) -> str:
        return describe(self.sources)

    def ranges(self) -> list[tuple[Source, int, int]]:
        """Local ``(source, start, stop)`` of the selection; one empty range if it is empty."""
        out = []
        for s in self.sources:
            lo, hi = max(self.start - s.offset, 0), min(self.stop - s.offset, s.entries)
            if lo < hi:
                out.append((s, lo, hi))
        return out or [(self.sources[0], 0, 0)]


def _hdf5_plan(
    specs: Sequence[tuple[str, str | None]],
    entry_start: int | None,
    entry_stop: int | None,
    geometry: Geometry | None,
) -> Plan:
    sources: list[Source] = []
    offset = 0
    for path, _ in specs:
        n = _hdf5.entries(path, geometry)
        sources.append(Source(path, "", n, offset))
        offset += n
    lo, hi = entry_range(entry_start, entry_stop, offset, describe(sources))
    return Plan(tuple(sources), True, "showers", None, (), (), lo, hi)


def _kind(kind: Kind | None, branches: Branches, names: Sequence[str]) -> Kind:
    """The kind asked for, else the kind the branches (or the mapping) say."""
    if isinstance(branches, str) or (
        branches is not None and not isinstance(branches, Mapping | Sequence)
    ):
        msg = (
            "branches= must be a mapping of schema keys to branches (showers, traces) or a "
            f"list of branch names or patterns (events), got {branches!r}"
        )
        raise TypeError(msg)
    listed = branches is not None and not isinstance(branches, Mapping)
    if kind == "events" and isinstance(branches, Mapping):
        msg = (
            "branches= for kind='events' is a list of branch names or patterns "
            "(a mapping of schema keys is for showers and traces)"
        )
        raise ValueError(msg)
    if kind in ("showers", "traces") and listed:
        msg = f"branches= for kind={kind!r} is a mapping of schema keys to branch names"
        raise ValueError(msg)
    if kind is not None:
        return kind
    if isinstance(branches, Mapping):
        return guess_kind(branches, names)
    if listed:
        return "events"
    if all(b in names for b in _SHOWER_BRANCHES):
        return "showers"
    return "traces" if DEFAULT_BRANCHES["traces"]["signal"] in names else "events"


@dataclasses.dataclass(frozen=True)
class _Setup:
    """What the first file decides: kind, mapping, branches, layout."""

    kind: Kind
    mapping: BranchMap | None
    columns: tuple[str, ...]
    extra: tuple[str, ...]
    fields: tuple[str, ...]
    layout: Mapping[str, Node] | None


def _generic_setup(
    infos: Sequence[BranchInfo], branches: Branches, where: str, rntuple: bool
) -> _Setup:
    if branches is not None:
        chosen = select(list(branches), infos, where, "field" if rntuple else "branch")
    else:
        chosen = [i.name for i in infos if i.numeric]
        skipped = [i.name for i in infos if not i.numeric]
        if skipped:
            log.warning(
                "%s: skipped %d non-numeric branch(es): %s", where, len(skipped), ", ".join(skipped)
            )
    counted = {i.counter for i in infos if i.name in chosen and i.counter is not None}
    columns = tuple(c for c in chosen if c not in counted)
    if not columns:
        msg = f"{where}: no numeric branch to read"
        raise ValueError(msg)
    layout = {c: c for c in columns} if rntuple else tree_layout(infos, columns)
    return _Setup("events", None, columns, (), columns, layout)


def _setup(
    kind: Kind,
    branches: Branches,
    infos: Sequence[BranchInfo],
    names: Sequence[str],
    owners: Mapping[str, str],
    where: str,
    rntuple: bool,
) -> _Setup:
    if kind == "events":
        return _generic_setup(infos, branches, where, rntuple)
    mapping = resolve(kind, branches if isinstance(branches, Mapping) else None)
    columns = tuple(mapping.fields.values())
    if mapping.weight_required or mapping.weight in names:
        columns += (mapping.weight,)
    counters = {i.counter for i in infos if i.counter is not None}
    skip = {*mapping.fields.values(), mapping.weight, *counters, *SCHEMA_FIELDS[mapping.kind]}
    extra = tuple(i.name for i in infos if (i.flat or i.fixed) and i.name not in skip)
    columns += extra
    role = {b: k for k, b in mapping.fields.items()} | {mapping.weight: "weight"}
    require(columns, names, where, role)
    fields = tuple(dict.fromkeys(owners[c] for c in columns)) if rntuple else columns
    return _Setup(mapping.kind, mapping, columns, extra, fields, None)


def _names(
    tree: Any, infos: Sequence[BranchInfo], where: str, rntuple: bool
) -> tuple[list[str], dict[str, str]]:
    """The branch names of a tree (sub-branches too); of an RNTuple, its fields and the
    TTree branches they correspond to (with the field each comes from)."""
    with guard(where):
        if rntuple:
            view, owners = branch_view(tree.arrays(entry_start=0, entry_stop=0))
            owners |= {i.name: i.name for i in infos}
            return list(dict.fromkeys([*view, *owners])), owners
        names = list(dict.fromkeys([*tree.keys(full_paths=False), *tree.keys()]))
    return names, {}


def make_plan(
    files: Files,
    kind: Kind | None,
    tree: str | None,
    branches: Branches,
    entry_start: int | None,
    entry_stop: int | None,
    geometry: Geometry | None,
    hdf5: bool | None = None,
    keep: contextlib.ExitStack | None = None,
) -> Plan:
    """Open every file once for its entries and branches, and check what will be read.

    Showers and traces: the branches of the mapping, the weight (if the first file has
    it) and every other branch with one number, or a fixed-size array of numbers, per event
    (the extra fields). Generic
    events: the numeric branches (those ``branches`` selects). With ``keep``, the first
    file stays open (until ``keep`` closes) for the reading. ``hdf5`` forces the
    format; by default it follows the file suffixes.
    """
    if kind is not None and kind not in KINDS:
        msg = f"kind must be one of {KINDS} or None, got {kind!r}"
        raise ValueError(msg)
    specs = expand(files, tree)
    formats = {p.lower().endswith(_hdf5.SUFFIXES) for p, _ in specs} if hdf5 is None else {hdf5}
    if len(formats) > 1:
        msg = f"cannot read HDF5 and ROOT files together: {[p for p, _ in specs]}"
        raise ValueError(msg)
    if formats == {True}:
        if (
            branches is not None
            or kind in ("traces", "events")
            or any(t is not None for _, t in specs)
        ):
            msg = (
                f"{specs[0][0]}: HDF5 files hold showers in a fixed layout; "
                "tree=, branches= and kind='traces' or 'events' do not apply"
            )
            raise ValueError(msg)
        return _hdf5_plan(specs, entry_start, entry_stop, geometry)

    sources: list[Source] = []
    setup: _Setup | None = None
    first_tree = None
    for path, asked in specs:
        with contextlib.ExitStack() as stack:
            file = stack.enter_context(open_root(path))
            ttree, name, rntuple = find_tree(file, path, asked)
            where = f"{path}:{name}"
            with guard(where):
                entries = int(ttree.num_entries)
            infos = branch_infos(ttree, where, rntuple)
            names, owners = _names(ttree, infos, where, rntuple)
            if keep is not None and not sources:
                keep.enter_context(stack.pop_all())
                first_tree = ttree
        if setup is None:
            found = _kind(kind, branches, names)
            setup = _setup(found, branches, infos, names, owners, where, rntuple)
            first_rntuple = rntuple
        elif rntuple != first_rntuple:
            msg = (
                f"{where} is {'an RNTuple' if rntuple else 'a TTree'} but {describe(sources[:1])} "
                "is not: read TTrees and RNTuples separately"
            )
            raise ValueError(msg)
        mapping = setup.mapping
        role = {} if mapping is None else {b: k for k, b in mapping.fields.items()}
        if mapping is not None:
            role[mapping.weight] = "weight"
        require(setup.columns, names, where, role)
        if mapping is not None and mapping.weight in names and mapping.weight not in setup.columns:
            msg = (
                f"{where} has a {mapping.weight!r} branch but {describe(sources[:1])} has none: "
                "read weighted and unweighted files separately"
            )
            raise ValueError(msg)
        sources.append(Source(path, name, entries, sum(s.entries for s in sources), rntuple))
    assert setup is not None
    lo, hi = entry_range(
        entry_start, entry_stop, sum(s.entries for s in sources), describe(sources)
    )
    return Plan(
        tuple(sources),
        False,
        setup.kind,
        setup.mapping,
        setup.columns,
        setup.extra,
        lo,
        hi,
        first_tree,
        rntuple=sources[0].rntuple,
        fields=setup.fields,
        layout=setup.layout,
    )


def _root_chunks(
    source: Source,
    lo: int,
    hi: int,
    columns: Sequence[str],
    step_size: int | str | None,
    ttree: Any = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(global start, branch arrays)`` of entries ``[lo, hi)`` of one tree, in chunks.

    ``ttree`` is the tree (or RNTuple) if it is open already; ``step_size=None`` reads
    all at once.
    """
    where = source.where
    with contextlib.ExitStack() as stack:
        if ttree is None:
            file = stack.enter_context(open_root(source.path))
            with guard(where):
                ttree = file[source.tree]
        if step_size is None:
            with guard(where):
                arrays = ttree.arrays(list(columns), entry_start=lo, entry_stop=hi, how=dict)
            yield source.offset + lo, arrays
            return
        step = parse_size(step_size)
        if isinstance(step, str) and not source.rntuple:
            step = aligned_step(ttree, columns, lo, hi, int(step.split()[0])) or step
        with guard(where):
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


def aligned_step(ttree: Any, columns: Sequence[str], lo: int, hi: int, size: int) -> int | None:
    """Entries per chunk of about ``size`` bytes of ``columns`` (uproot's estimate), fitted
    to the tree's clusters where they are regular: whole clusters, or a cluster in equal
    parts; None where uproot cannot tell (the step stays a size, for uproot to take).

    A chunk that ends inside a cluster holds its baskets, decompressed, until the next
    chunk has read the rest of them: reading ``[5000, 12896)`` of clusters of 10,000
    entries decompresses two clusters for one chunk's worth (380 MB at the peak for 100
    MB of showers, 190 MB for ``[0, 7896)``). Halves of a cluster read it once (uproot
    keeps the baskets from one step to the next) and never hold two.
    """
    try:
        found = ttree.num_entries_for(size, list(columns), entry_start=lo, entry_stop=hi)
        offsets = ttree.common_entry_offsets(filter_name=list(columns))
    except Exception:  # noqa: BLE001 - only a finer step is lost; the reading reports errors
        return None
    entries, clusters = max(1, int(found)), np.diff(np.asarray(offsets))
    if len(clusters) < 2 or np.any(clusters[:-1] != clusters[0]) or clusters[-1] > clusters[0]:
        return entries  # irregular clusters: uproot's step as it is
    cluster = int(clusters[0])
    if cluster <= entries:
        return cluster * (entries // cluster)
    parts = -(-cluster // entries)  # at least this many parts of a cluster
    exact = [k for k in range(parts, 2 * parts + 1) if cluster % k == 0]
    return cluster // exact[0] if exact else -(-cluster // parts)


def convert(
    plan: Plan, arrays: Mapping[str, Any], geometry: Geometry | None, where: str
) -> ak.Array:
    """Events of one chunk of branch arrays (as uproot reads the plan's ``fields``)."""
    if plan.kind == "events":
        assert plan.layout is not None
        return finish(assemble(arrays, plan.layout), where)
    assert plan.mapping is not None
    if plan.rntuple:
        arrays = branch_view(ak.zip(dict(arrays), depth_limit=1))[0]
    return from_branches(
        arrays, plan.kind, plan.mapping, extra=plan.extra, geometry=geometry, where=where
    )


def _source_chunks(
    plan: Plan,
    source: Source,
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
    ttree = plan.first_tree if source is plan.sources[0] else None
    for start, arrays in _root_chunks(source, lo, hi, plan.fields, step_size, ttree):
        yield start, convert(plan, arrays, geometry, source.where)


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
    sources: list[Source] = []
    for path, asked in expand(friend, None):
        with open_root(path) as file:
            ttree, name, rntuple = find_tree(file, path, asked)
            where = f"{path}:{name}"
            with guard(where):
                entries = int(ttree.num_entries)
            names = [i.name for i in branch_infos(ttree, where, rntuple)]
        require(["weight"], names, where, {"weight": "friend weight"})
        sources.append(Source(path, name, entries, sum(s.entries for s in sources), rntuple))
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
                file = stack.enter_context(open_root(s.path))
                with guard(s.where):
                    branches[s.where] = file[s.tree]
            with guard(s.where):
                read = branches[s.where].arrays(["weight"], entry_start=lo, entry_stop=hi, how=dict)
            try:
                values = np.asarray(ak.to_numpy(read["weight"], allow_missing=False))
            except (TypeError, ValueError):
                values = np.zeros((0, 0))
            if values.ndim != 1 or values.dtype.kind not in "iuf" or not np.isfinite(values).all():
                msg = f"{s.where}: branch 'weight' must hold one finite number per event"
                raise ValueError(msg)
            parts.append(values.astype(np.float32, copy=False))
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    return weights
