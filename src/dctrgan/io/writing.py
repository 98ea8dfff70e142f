"""Writing events as ROOT TTrees (uproot), atomically: :func:`write`, :func:`write_chunks`,
:func:`write_weights`, and the writer of dask-awkward arrays.

The layout is described in :mod:`dctrgan.io`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from dctrgan.data import SIGNAL_SHAPE, Kind, detect_kind, is_dask, validate
from dctrgan.io._plan import steps
from dctrgan.io.branches import SCHEMA_FIELDS
from dctrgan.io.files import atomic, check_destination

__all__ = ("check_target", "write", "write_chunks", "write_weights")

log = logging.getLogger(__name__)

_HIT_DTYPES: tuple[tuple[str, np.dtype[Any]], ...] = (
    ("layer", np.dtype(np.int32)),
    ("ix", np.dtype(np.int32)),
    ("iy", np.dtype(np.int32)),
    ("energy", np.dtype(np.float32)),
)
_HITS_TYPE = ak.types.from_datashape(
    "var * {layer: int32, ix: int32, iy: int32, energy: float32}", highlevel=False
)


def _extra_fields(events: ak.Array, kind: Kind) -> dict[str, np.dtype[Any]]:
    """Fields beyond the schema, which must hold one number per event."""
    reserved = {"nhits", *(f"hits_{f}" for f, _ in _HIT_DTYPES)} if kind == "showers" else set()
    out: dict[str, np.dtype[Any]] = {}
    if kind == "showers":
        hit_extra = sorted(set(ak.fields(events["hits"])) - {f for f, _ in _HIT_DTYPES})
        if hit_extra:
            msg = (
                f"hit field(s) {[f'hits.{f}' for f in hit_extra]} cannot be written: hits are "
                "written as layer, ix, iy, energy"
            )
            raise ValueError(msg)
    for name in ak.fields(events):
        if name in SCHEMA_FIELDS[kind]:
            continue
        if name in reserved:
            msg = f"field {name!r} cannot be written: the name is taken by the hit branches"
            raise ValueError(msg)
        column = events[name]
        try:
            dtype = np.asarray(ak.to_numpy(column[:0], allow_missing=False)).dtype
            ok = column.ndim == 1 and dtype.kind in "biuf"
        except (TypeError, ValueError):
            ok = False
        if not ok:
            msg = (
                f"field {name!r} cannot be written: besides the schema only fields with one number "
                f"per event are kept, got type {ak.type(column)}"
            )
            raise ValueError(msg)
        out[name] = dtype
    return out


def _branch_types(
    kind: Kind, has_weight: bool, extra: Mapping[str, np.dtype[Any]]
) -> dict[str, Any]:
    f32 = np.dtype(np.float32)
    if kind == "showers":
        types: dict[str, Any] = {"incident_energy": f32, "hits": _HITS_TYPE}
    else:
        types = {"energy": f32, "signal": np.dtype((np.float32, SIGNAL_SHAPE))}
        types |= {"core_x": f32, "core_y": f32, "xmax": f32}
    if has_weight:
        types["weight"] = f32
    return types | dict(extra)


def _numpy(array: ak.Array, dtype: np.dtype[Any] | type) -> np.ndarray:
    return np.asarray(ak.to_numpy(array, allow_missing=False), dtype=dtype)


def _branch_data(chunk: ak.Array, types: Mapping[str, Any]) -> dict[str, Any]:
    """Arrays for ``extend`` of one chunk of events; no copy where dtypes already match."""
    out: dict[str, Any] = {}
    for name, dtype in types.items():
        if name == "hits":
            hits = chunk["hits"]
            offsets = np.zeros(len(hits) + 1, dtype=np.int64)
            np.cumsum(ak.to_numpy(ak.num(hits, axis=1)), out=offsets[1:])
            contents = [
                ak.contents.NumpyArray(_numpy(ak.flatten(hits[f], axis=1), dt))
                for f, dt in _HIT_DTYPES
            ]
            record = ak.contents.RecordArray(
                contents, [f for f, _ in _HIT_DTYPES], length=int(offsets[-1])
            )
            out[name] = ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), record))
        elif name == "signal":
            out[name] = _numpy(chunk["signal"], np.float32)
        else:
            out[name] = _numpy(chunk[name], dtype)
    return out


def check_target(path: str | os.PathLike[str], tree: str, overwrite: bool) -> Path:
    """Fail early for a bad tree name, or an existing ``path`` without ``overwrite``."""
    name: object = tree
    if not isinstance(name, str) or name == "" or "/" in name or ";" in name:
        msg = f"tree must be a non-empty name without '/' or ';', got {tree!r}"
        raise ValueError(msg)
    return check_destination(path, overwrite)


def _write_tree(
    path: str | os.PathLike[str],
    tree: str,
    types: Mapping[str, Any],
    chunks: Iterator[dict[str, Any]],
    overwrite: bool,
) -> Path:
    check_target(path, tree, overwrite)
    with atomic(path, overwrite) as temporary, uproot.recreate(temporary) as file:
        ttree = file.mktree(tree, dict(types))
        for data in chunks:
            ttree.extend(data)
    return Path(path)


def _prepare(events: Any, what: str) -> tuple[ak.Array, Kind, dict[str, Any]]:
    """Checked events (an index applied once), their kind and their branch types."""
    if not isinstance(events, ak.Array):
        msg = f"{what} must be an awkward Array, got {type(events).__name__}"
        raise TypeError(msg)
    layout = events.layout
    if layout.is_indexed and not layout.is_option:  # filtered events: apply the index once
        events = ak.Array(layout.project(), behavior=events.behavior)
    kind = detect_kind(events)
    validate(events, kind, strict=False)
    extra = _extra_fields(events, kind)
    return events, kind, _branch_types(kind, "weight" in ak.fields(events), extra)


def write(
    path: str | os.PathLike[str],
    events: Any,
    tree: str = "events",
    *,
    overwrite: bool = False,
    step_size: int | str = "100 MB",
) -> Path | list[Path]:
    """Write events as a ROOT TTree, atomically (see :mod:`dctrgan.io` for the layout).

    A dask-awkward array (say, from ``read(..., dask=True)``) is written in one of
    two ways, chosen by ``path``:

    - a path with ``{i}`` in it, such as ``"weighted-{i}.root"``: one file per
      partition, ``{i}`` replaced by the partition number, written by the workers in
      parallel, each file atomically; returns the list of files. Read them back as
      one sample with ``read("weighted-*.root")`` (mind that the glob orders
      ``-10`` before ``-2``) or with the list.
    - any other path: one file, the partitions computed one after the other (in
      order, by the current dask scheduler) and streamed into it as by
      :func:`write_chunks`, so one partition is in memory at a time; nothing
      appears at ``path`` unless every partition is written.

    Args:
        path: the ROOT file to create, or a pattern with ``{i}`` for a dask array.
        events: showers or traces in the package schema (any integer / float dtypes;
            written as int32 / float32), with an optional ``weight`` and any other
            fields holding one number per event; or a dask-awkward array of them.
        tree: name of the TTree.
        overwrite: replace an existing file (only once the new one is complete).
        step_size: events per basket, or the uncompressed size of one chunk (``"100 MB"``).

    Returns:
        ``path``; for a pattern, the list of files written, in partition order.

    Raises:
        FileExistsError: if ``path`` (or one of the pattern's files) exists and
            ``overwrite`` is False; checked before anything is computed.
        TypeError: if ``events`` is not an awkward (or dask-awkward) Array.
        ValueError: naming the field that does not fit the schema or cannot be written.
    """
    if is_dask(events):
        return _write_dask(path, events, tree, overwrite, step_size)
    events, kind, types = _prepare(events, "events")
    n = len(events)
    step = steps(step_size, events.layout.nbytes / max(n, 1))

    def chunks() -> Iterator[dict[str, Any]]:
        for start in range(0, n, step):
            yield _branch_data(events[start : start + step], types)

    _write_tree(path, tree, types, chunks(), overwrite)
    log.debug("wrote %d %s to %s:%s", n, kind, path, tree)
    return Path(path)


def write_chunks(
    path: str | os.PathLike[str],
    chunks: Iterable[ak.Array],
    tree: str = "events",
    *,
    overwrite: bool = False,
) -> Path:
    """Write a stream of event chunks as one ROOT TTree, atomically, one chunk in memory at a time.

    The events of a file larger than memory, read with :func:`iterate`, changed
    chunk by chunk and written back::

        chunks = (dctr.attach(c) for c in dctrgan.iterate("big.root:events"))
        dctrgan.io.write_chunks("big_weighted.root", chunks)

    Each chunk is checked and written as by :func:`write` and becomes one basket.
    Nothing appears at ``path`` until the last chunk is written: if the stream
    raises (or the write fails) midway, an existing file stays as it was and no
    partial file is left.

    Args:
        path: the ROOT file to create.
        chunks: awkward events, all of one kind with the same fields (the first
            chunk, which may be empty, sets the branches).
        tree: name of the TTree.
        overwrite: replace an existing file (only once the new one is complete).

    Returns:
        ``path``.

    Raises:
        FileExistsError: if ``path`` exists and ``overwrite`` is False (checked
            before the first chunk is asked for).
        TypeError: for a chunk that is not an awkward Array.
        ValueError: for no chunk at all, or a chunk whose kind or fields differ
            from the first one's (naming the chunk).
    """
    target = check_target(path, tree, overwrite)
    stream = iter(chunks)
    first = next(stream, None)
    if first is None:
        msg = (
            f"{target}: no chunks to write: an empty stream has no branch types (write() writes an "
            "empty events array)"
        )
        raise ValueError(msg)
    first, kind, types = _prepare(first, "chunk 0")
    fields = ak.fields(first)
    n = len(first)

    def branch_data() -> Iterator[dict[str, Any]]:
        nonlocal n
        if len(first):
            yield _branch_data(first, types)
        for i, chunk in enumerate(stream, start=1):
            events, chunk_kind, _ = _prepare(chunk, f"chunk {i}")
            if chunk_kind != kind or ak.fields(events) != fields:
                msg = (
                    f"chunk {i}: {chunk_kind} with fields {ak.fields(events)} differ from chunk "
                    f"0's {kind} with fields {fields}"
                )
                raise ValueError(msg)
            if len(events):
                n += len(events)
                yield _branch_data(events, types)

    _write_tree(path, tree, types, branch_data(), overwrite)
    log.debug("wrote %d %s to %s:%s in chunks", n, kind, path, tree)
    return target


def write_weights(
    path: str | os.PathLike[str],
    weights: Any,
    tree: str = "weights",
    *,
    overwrite: bool = False,
    field: str = "weight",
    step_size: int = 10_000_000,
) -> Path:
    """Write event weights as a friend tree: a ``weight`` branch, one entry per event.

    The input file stays untouched; read the weights back with
    ``read(events_file, friend=path)``, with uproot by reading both trees and
    ``ak.zip``-ping them, or in ROOT with ``events->AddFriend(tree, path)``.

    Weights computed chunk by chunk (of a file larger than memory) are written as
    they come by passing an iterator, such as a generator, of those chunks::

        weights = (dctr.weight(c) for c in dctrgan.iterate("big.root:events"))
        dctrgan.io.write_weights("big_weights.root", weights)

    Args:
        path: the ROOT file to create.
        weights: ``(N,)`` weights, or events with a ``field`` field, in the entry
            order of the events they belong to; or an iterator of such chunks,
            written one after the other (nothing appears at ``path`` if it raises).
        tree: name of the friend TTree.
        overwrite: replace an existing file.
        field: the weight field of ``weights`` when it is an events array.
        step_size: weights per basket (of an array; each chunk of an iterator is one).

    Returns:
        ``path``.

    Raises:
        ValueError: for weights that are not one finite number per event (naming
            the event, counted over all chunks).
    """
    stream = isinstance(weights, Iterator)
    if stream:
        check_target(path, tree, overwrite)  # before the first chunk is computed
    parts: Iterable[Any] = weights if stream else [_weight_values(weights, field, 0)]
    step = max(int(step_size), 1)

    def chunks() -> Iterator[dict[str, np.ndarray]]:
        offset = 0
        for part in parts:
            values = _weight_values(part, field, offset) if stream else part
            for a in range(0, len(values), step):
                yield {"weight": values[a : a + step]}
            offset += len(values)

    return _write_tree(path, tree, {"weight": np.dtype(np.float32)}, chunks(), overwrite)


def _weight_values(weights: Any, field: str, offset: int) -> np.ndarray:
    """``(N,)`` float32 weights of an array or of events' ``field``; ``offset``: index of the
    first."""
    if isinstance(weights, ak.Array) and ak.fields(weights):
        if field not in ak.fields(weights):
            msg = f"weights: no field {field!r} in the events (have {ak.fields(weights)})"
            raise ValueError(msg)
        weights = weights[field]
    try:
        values = np.asarray(ak.to_numpy(weights) if isinstance(weights, ak.Array) else weights)
    except (TypeError, ValueError) as err:
        msg = f"weights: expected one number per event, got {type(weights).__name__}"
        raise ValueError(msg) from err
    if values.ndim != 1 or values.dtype.kind not in "iuf":
        msg = f"weights: expected one number per event, got shape {values.shape} of {values.dtype}"
        raise ValueError(msg)
    bad = ~np.isfinite(values)
    if bad.any():
        msg = (
            f"weights: {int(bad.sum())} non-finite value(s), first at index "
            f"{offset + int(np.flatnonzero(bad)[0])}"
        )
        raise ValueError(msg)
    return values.astype(np.float32, copy=False)


def _write_partition(
    events: ak.Array, path: Path, tree: str, overwrite: bool, step_size: int | str
) -> str:
    return str(write(path, events, tree, overwrite=overwrite, step_size=step_size))


def _write_dask(
    path: str | os.PathLike[str],
    events: Any,
    tree: str,
    overwrite: bool,
    step_size: int | str,
) -> Path | list[Path]:
    """Write a dask-awkward array: one file per partition if ``path`` holds ``{i}``,
    else one file, streamed partition by partition (see :func:`write`)."""
    from dask.base import compute
    from dask.delayed import delayed

    detect_kind(events._meta)  # fail before computing anything
    template = os.fspath(path)
    if "{i}" not in template:
        check_target(path, tree, overwrite)
        chunks = (part.compute() for part in events.to_delayed())
        return write_chunks(path, chunks, tree, overwrite=overwrite)
    paths = [Path(template.replace("{i}", str(i))) for i in range(events.npartitions)]
    for target in paths:
        check_target(target, tree, overwrite)
    tasks = [
        delayed(_write_partition)(part, target, tree, overwrite, step_size)
        for part, target in zip(events.to_delayed(), paths, strict=True)
    ]
    return [Path(p) for p in compute(*tasks)]  # type: ignore[no-untyped-call]
