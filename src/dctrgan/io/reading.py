"""Reading events from ROOT TTrees and RNTuples (uproot) and HDF5 files: :func:`read` and
:func:`iterate`.

The layouts, ``branches=``, hit tables (``group_by=``) and friend trees are described in
:mod:`dctrgan.io`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any, Literal, overload

import awkward as ak

from dctrgan.data import Geometry, Kind, behavior
from dctrgan.io import _dask, calochallenge
from dctrgan.io._binned import Binning, from_generic, hdf5_files, iterate_challenge, read_challenge
from dctrgan.io._hittable import HitMap, group, hit_map, stream, to_showers
from dctrgan.io._plan import Branches, Files, Plan, chunks, friend_reader, make_plan, parse_size

__all__ = ("Files", "iterate", "read", "read_hdf5")

log = logging.getLogger(__name__)


@overload
def read(
    files: Files,
    kind: Kind | None = ...,
    *,
    tree: str | None = ...,
    branches: Branches = ...,
    group_by: str | None = ...,
    entry_start: int | None = ...,
    entry_stop: int | None = ...,
    friend: Files | None = ...,
    geometry: Geometry | None = ...,
    dask: Literal[False] = ...,
    step_size: int | str = ...,
    binning: Binning | None = ...,
) -> ak.Array: ...


@overload
def read(
    files: Files,
    kind: Kind | None = ...,
    *,
    tree: str | None = ...,
    branches: Branches = ...,
    group_by: str | None = ...,
    entry_start: int | None = ...,
    entry_stop: int | None = ...,
    friend: Files | None = ...,
    geometry: Geometry | None = ...,
    dask: bool,
    step_size: int | str = ...,
    binning: Binning | None = ...,
) -> Any: ...


def read(
    files: Files,
    kind: Kind | None = None,
    *,
    tree: str | None = None,
    branches: Branches = None,
    group_by: str | None = None,
    entry_start: int | None = None,
    entry_stop: int | None = None,
    friend: Files | None = None,
    geometry: Geometry | None = None,
    dask: bool = False,
    step_size: int | str = "100 MB",
    binning: Binning | None = None,
) -> Any:
    """Read events from ROOT files (or HDF5 files, by their ``.h5`` / ``.hdf5`` suffix).

    Args:
        files: a path, ``"file.root:tree"``, a glob, or a sequence of them; read in
            order as one sample. ``tree`` may name a TTree or an RNTuple.
        kind: ``"showers"``, ``"traces"`` or ``"events"`` (generic events). By default
            showers if the tree has the shower branches ``incident_energy``, ``hits_*``
            (or ``branches=`` is a mapping of shower keys), traces if it has ``signal``
            (or the mapping names trace keys), else generic events.
        tree: name of the TTree or RNTuple; may be omitted when each file holds exactly one.
        branches: for showers and traces, schema key -> branch name for other layouts;
            for generic events, the branch names or glob patterns to read (``["Jet_*",
            "MET_pt"]``; default: every numeric branch). See :mod:`dctrgan.io`.
        group_by: a hit table (one row per hit): the branch that numbers the events
            (``"Event"``); rows are grouped into one record per event, in order of first
            appearance, with every other branch a list over the event's rows. With
            ``kind="showers"`` and a ``branches=`` mapping the events become showers.
        entry_start: first entry (of all files together; negative counts from the end).
            With ``group_by``, the first row.
        entry_stop: one past the last entry.
        friend: a file (or files) with a friend tree holding a ``weight`` branch, one
            entry per event of ``files``; its weight multiplies the events' own.
        geometry: calorimeter of the showers (default: ILD-like).
        dask: return a lazy ``dask_awkward.Array`` (ROOT files only; needs
            ``pip install "dctrgan[dask]"``), read with ``uproot.dask``.
        step_size: with ``dask=True``, events per partition, or the uncompressed
            size of one (``"100 MB"``); a partition never spans two files.
        binning: showers of a cylindrical binning: the CaloChallenge binning XML (or its
            :class:`~dctrgan.data.CylindricalGeometry`). HDF5 files are then read in the
            challenge's layout (``incident_energies``, ``showers``), ROOT files as
            :func:`write` writes such showers (``hits_layer``, ``hits_alpha``,
            ``hits_r``, ``hits_energy``); the showers' hits are the nonzero voxels, in
            (layer, alpha, r) bins (:mod:`dctrgan.io.calochallenge`). Read eagerly:
            ``dask``, ``group_by`` and ``branches`` do not apply.

    Returns:
        Validated events: showers or traces in the package schema (plus a ``weight``
        field if the tree has a ``weight`` branch, and any other branch with one number
        per event), or generic events (a ``weight`` field as float32). With
        ``dask=True`` a dask-awkward array of the same type and behavior: the files are
        checked now, each partition is read and converted when computed, and only the
        branches a computation needs are read (``incident_energy`` alone reads one
        branch; any hit field reads the hit branches; ``events.Jet.pt`` reads
        ``Jet_pt`` and the first branch of the collection).

    Raises:
        FileNotFoundError: for a missing file or a glob that matches nothing.
        OSError: for a file that is truncated, corrupt or not ROOT.
        ValueError: naming the file, tree and branch, for a missing tree or branch,
            a wrong shape, non-finite values, a non-numeric branch asked for, or an
            empty entry range (with ``dask=True``, bad values raise when their
            partition is computed).

    Example:
        >>> showers = dctrgan.read("showers.root:events")  # doctest: +SKIP
        >>> nano = dctrgan.read("nano.root:Events", branches=["Jet_*", "MET_pt"])  # doctest: +SKIP
        >>> hits = dctrgan.read("g4.root:HitStrips", group_by="Event")  # doctest: +SKIP
        >>> lazy = dctrgan.read("showers_*.root:events", dask=True)  # doctest: +SKIP
        >>> weights = dctr.weight(lazy).compute()  # doctest: +SKIP
        >>> calo = dctrgan.read("ds2.hdf5", binning="binning_dataset_2.xml")  # doctest: +SKIP
    """
    if binning is not None:
        _binned_options(kind, branches, group_by, dask)
        paths = hdf5_files(files, tree)
        if paths is not None:
            _no_friend(friend)
            return read_challenge(paths, binning, entry_start, entry_stop)
        cylindrical = calochallenge.binning_geometry(binning)
        events = read(
            files,
            "events",
            tree=tree,
            entry_start=entry_start,
            entry_stop=entry_stop,
            friend=friend,
        )
        return from_generic(events, cylindrical, _where(files))
    if group_by is not None:
        if dask or friend is not None:
            msg = "group_by= does not apply with dask=True or friend=: read the hit table eagerly"
            raise ValueError(msg)
        with contextlib.ExitStack() as stack:
            plan, hits = _table_plan(
                files, kind, tree, branches, group_by, entry_start, entry_stop, stack
            )
            rows = _concatenate(list(chunks(plan, None, geometry, None, skip_empty=False)))
        events = group(rows, group_by, plan.where)
        if hits is not None:
            events = to_showers(events, hits, group_by, geometry, plan.where)
        log.debug("read %d events of %d rows from %s", len(events), len(rows), plan.where)
        return events
    if dask:
        parse_size(step_size)
        with contextlib.ExitStack() as stack:
            plan = make_plan(
                files, kind, tree, branches, entry_start, entry_stop, geometry, keep=stack
            )
            if friend is not None:
                friend_reader(friend, plan, stack)
            return _dask.read(plan, step_size, friend, geometry)
    with contextlib.ExitStack() as stack:
        plan = make_plan(files, kind, tree, branches, entry_start, entry_stop, geometry, keep=stack)
        weights = None if friend is None else friend_reader(friend, plan, stack)
        events = _concatenate(list(chunks(plan, None, geometry, weights, skip_empty=False)))
    log.debug("read %d %s from %s", len(events), plan.kind, plan.where)
    return events


def _table_plan(
    files: Files,
    kind: Kind | None,
    tree: str | None,
    branches: Branches,
    group_by: str,
    entry_start: int | None,
    entry_stop: int | None,
    keep: contextlib.ExitStack | None = None,
) -> tuple[Plan, HitMap | None]:
    """The plan of the rows of a hit table, and its mapping to showers (if showers)."""
    name: object = group_by
    if not isinstance(name, str) or not name:
        msg = f"group_by must be a branch name, got {group_by!r}"
        raise TypeError(msg)
    if kind == "traces":
        msg = "group_by= groups hit tables into generic events or showers, not traces"
        raise ValueError(msg)
    hits = None
    columns: list[str] | None = None
    if kind == "showers" or isinstance(branches, Mapping):
        if kind == "events" or not isinstance(branches, Mapping):
            msg = (
                "group_by= with kind='showers' needs branches=, a mapping of layer, ix, iy, "
                "energy and incident_energy to branches or numbers"
            )
            raise ValueError(msg)
        hits = hit_map(branches, group_by)
        columns = [group_by, *hits.columns]
    elif branches is not None:
        columns = [group_by, *branches]
    plan = make_plan(files, "events", tree, columns, entry_start, entry_stop, None, keep=keep)
    if group_by not in plan.columns:
        shown = ", ".join(plan.columns[:40])
        msg = f"{plan.where}: no flat branch {group_by!r} to group by; branches: {shown}"
        raise ValueError(msg)
    return plan, hits


def _binned_options(
    kind: Kind | None, branches: Branches, group_by: str | None, dask: bool
) -> None:
    """A ValueError for options that do not apply with ``binning=``."""
    if kind not in (None, "showers") or branches is not None or group_by is not None or dask:
        msg = (
            "binning= reads showers of a cylindrical binning eagerly in their own layout: "
            "kind= other than 'showers', branches=, group_by= and dask=True do not apply"
        )
        raise ValueError(msg)


def _no_friend(friend: Files | None) -> None:
    if friend is not None:
        msg = (
            "friend= applies to ROOT files; a weight dataset in a CaloChallenge file is read "
            "as the weight"
        )
        raise ValueError(msg)


def _where(files: Files) -> str:
    return os.fspath(files) if isinstance(files, str | os.PathLike) else f"{list(files)}"


def _concatenate(parts: list[ak.Array]) -> ak.Array:
    return parts[0] if len(parts) == 1 else ak.Array(ak.concatenate(parts), behavior=behavior)


def read_hdf5(
    files: Files,
    *,
    entry_start: int | None = None,
    entry_stop: int | None = None,
    geometry: Geometry | None = None,
) -> ak.Array:
    """Read showers from HDF5 files of the CaloGAN / "getting_high" layout, whatever their suffix.

    The file holds ``30x30/layers``, ``(N, 30, 30, 30)`` cell energies in MeV
    (layer, ix, iy), and ``30x30/energy``, ``(N, 1)`` incident energies in GeV.
    Every nonzero cell becomes a hit. Needs h5py (``pip install "dctrgan[hdf5]"``).

    Args:
        files: a path, a glob, or a sequence of them.
        entry_start: first event (of all files together).
        entry_stop: one past the last event.
        geometry: calorimeter of the showers; the layer shape must match it.

    Returns:
        Validated showers.
    """
    plan = make_plan(files, "showers", None, None, entry_start, entry_stop, geometry, hdf5=True)
    return _concatenate(list(chunks(plan, None, geometry, None, skip_empty=False)))


def iterate(
    files: Files,
    kind: Kind | None = None,
    *,
    step_size: int | str = "100 MB",
    tree: str | None = None,
    branches: Branches = None,
    group_by: str | None = None,
    entry_start: int | None = None,
    entry_stop: int | None = None,
    friend: Files | None = None,
    geometry: Geometry | None = None,
    binning: Binning | None = None,
) -> Iterator[ak.Array]:
    """Stream events in chunks of bounded memory; the arguments are those of :func:`read`.

    Files are checked (trees, branches, entry range, friend) before the first chunk.

    Args:
        step_size: events per chunk, or a memory size per chunk such as ``"100 MB"``
            (of uncompressed branch data). A chunk never spans two files. With
            ``group_by``, rows per chunk: the event of a chunk's last row is carried
            into the next chunk, so no event is split.

    Yields:
        Validated events, in file order; one empty chunk (typed) if the selection is empty.

    Raises:
        ValueError: as :func:`read`; with ``group_by``, when the rows of an event are
            not contiguous across chunks (:func:`read` groups rows in any order).
    """
    parse_size(step_size)
    if binning is not None:
        _binned_options(kind, branches, group_by, False)
        paths = hdf5_files(files, tree)
        if paths is not None:
            _no_friend(friend)
            return iterate_challenge(paths, binning, step_size, entry_start, entry_stop)
        binned = calochallenge.binning_geometry(binning)
        chunks = iterate(
            files,
            "events",
            step_size=step_size,
            tree=tree,
            entry_start=entry_start,
            entry_stop=entry_stop,
            friend=friend,
        )
        return (from_generic(c, binned, _where(files)) for c in chunks)
    if group_by is not None:
        if friend is not None:
            msg = "group_by= does not apply with friend=: the friend's entries are rows"
            raise ValueError(msg)
        plan, hits = _table_plan(files, kind, tree, branches, group_by, entry_start, entry_stop)
        return _iterate_table(plan, step_size, group_by, hits, geometry)
    plan = make_plan(files, kind, tree, branches, entry_start, entry_stop, geometry)
    if friend is not None:  # check the friend now, read it while iterating
        with contextlib.ExitStack() as stack:
            friend_reader(friend, plan, stack)
    return _iterate(plan, step_size, geometry, friend)


def _iterate_table(
    plan: Plan, step_size: int | str, by: str, hits: HitMap | None, geometry: Geometry | None
) -> Iterator[ak.Array]:
    rows = _iterate(plan, step_size, None, None)
    for events in stream(rows, by, plan.where):
        yield events if hits is None else to_showers(events, hits, by, geometry, plan.where)


def _iterate(
    plan: Plan, step_size: int | str, geometry: Geometry | None, friend: Files | None
) -> Iterator[ak.Array]:
    with contextlib.ExitStack() as stack:
        weights = None if friend is None else friend_reader(friend, plan, stack)
        empty = True
        for chunk in chunks(plan, step_size, geometry, weights, skip_empty=True):
            empty = False
            yield chunk
        if empty:  # one typed empty chunk, so that a writer downstream knows the branches
            yield from chunks(plan, None, geometry, weights, skip_empty=False)
