"""Writing events as ROOT TTrees or RNTuples (uproot), atomically: :func:`write`,
:func:`write_chunks`, :func:`write_weights`, and the writer of dask-awkward arrays.

The layouts are described in :mod:`dctrgan.io`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from dctrgan.data import (
    SIGNAL_SHAPE,
    Kind,
    binning_of,
    coerce,
    detect_kind,
    is_cylindrical,
    is_dask,
    validate,
)
from dctrgan.io import calochallenge
from dctrgan.io._binned import Binning
from dctrgan.io._compression import DEFAULT_COMPRESSION, Compression, compression_of
from dctrgan.io._generic import Column, tree_columns, tree_data
from dctrgan.io._hdf5 import SUFFIXES
from dctrgan.io._pipeline import drain
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
    """Fields beyond the schema, which must hold one number or a fixed-size array of numbers
    per event: their branch dtypes (``np.dtype((dtype, (k,)))`` for ``k * dtype``)."""
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
        dtype = _extra_dtype(events[name])
        if dtype is None:
            msg = (
                f"field {name!r} cannot be written: besides the schema only fields with one number "
                f"or a fixed-size array of numbers per event are kept, got type "
                f"{ak.type(events[name])}"
            )
            raise ValueError(msg)
        out[name] = dtype
    return out


def _extra_dtype(column: ak.Array) -> np.dtype[Any] | None:
    """The branch dtype of an extra field: its dtype for numbers, ``np.dtype((dtype, (k,)))``
    for a regular ``k * dtype`` (k >= 1); None for anything else."""
    item = ak.type(column).content
    size: int | None = None
    if isinstance(item, ak.types.RegularType) and item.size >= 1:
        size, item = item.size, item.content
    if not isinstance(item, ak.types.NumpyType) or item.parameter("__array__") is not None:
        return None
    try:
        dtype = np.asarray(ak.to_numpy(column[:0], allow_missing=False)).dtype
    except (TypeError, ValueError):
        return None
    if dtype.kind not in "biuf":
        return None
    return dtype if size is None else np.dtype((dtype, (size,)))


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
    """``array`` as numpy of ``dtype``; of a subarray dtype (``(N, k)`` values), its base."""
    dtype = np.dtype(dtype)
    return np.asarray(ak.to_numpy(array, allow_missing=False), dtype=dtype.base)


def _schema_data(chunk: ak.Array, types: Mapping[str, Any]) -> dict[str, Any]:
    """Arrays for ``extend`` of one chunk of showers or traces; no copy where dtypes match."""
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


@dataclasses.dataclass(frozen=True)
class _Layout:
    """How one kind of events is written: TTree branch types, or the RNTuple's fields."""

    kind: Kind
    types: dict[str, Any]
    columns: tuple[Column, ...]
    rntuple: bool

    def signature(self, events: ak.Array) -> str:
        """What must match between chunks: the fields, and for generic events their types."""
        if self.kind != "events":
            sizes = [
                f"{name}: {t.shape[0]} * {t.base}"
                for name, t in self.types.items()
                if name not in SCHEMA_FIELDS[self.kind] and isinstance(t, np.dtype) and t.shape
            ]
            shapes = f" ({', '.join(sizes)})" if sizes else ""
            return f"{self.kind} with fields {ak.fields(events)}{shapes}"
        text = " ".join(str(ak.type(events).content).split())
        return f"events of type {text if len(text) <= 200 else text[:197] + '...'}"


def _branch_data(chunk: ak.Array, layout: _Layout) -> Any:
    """What ``extend`` takes for one chunk: branch arrays (TTree) or the events (RNTuple)."""
    if layout.rntuple:
        events = coerce(chunk, layout.kind)
        return ak.to_packed(ak.without_parameters(events))
    if layout.kind == "events":
        return tree_data(chunk, layout.columns)
    return _schema_data(chunk, layout.types)


def _check_suffix(path: str | os.PathLike[str]) -> None:
    name = os.fspath(path)
    suffix = Path(name).suffix.lower()
    if suffix == ".root":
        return
    if suffix in (".h5", ".hdf5"):
        msg = (
            f"{name}: write() writes HDF5 in the CaloChallenge layout, for showers of a "
            "cylindrical binning; other events go to ROOT files, whose names end in '.root'"
        )
    else:
        msg = f"{name}: write() writes ROOT files, whose names end in '.root'"
    raise ValueError(msg)


def check_target(path: str | os.PathLike[str], tree: str, overwrite: bool) -> Path:
    """Fail early for a bad tree name, a name not ending in ``.root``, or an existing
    ``path`` without ``overwrite``."""
    name: object = tree
    if not isinstance(name, str) or name == "" or "/" in name or ";" in name:
        msg = f"tree must be a non-empty name without '/' or ';', got {tree!r}"
        raise ValueError(msg)
    _check_suffix(path)
    return check_destination(path, overwrite)


def _write_tree(
    path: str | os.PathLike[str],
    tree: str,
    types: Mapping[str, Any],
    chunks: Iterator[Any],
    overwrite: bool,
    compression: Compression,
    rntuple: bool = False,
    background: bool = False,
) -> Path:
    """Write a TTree of ``types`` (or, with ``rntuple``, an RNTuple of the first chunk's
    type), one chunk after the other, atomically; with ``background``, each chunk in a
    thread while the next is produced (see :func:`drain`)."""
    check_target(path, tree, overwrite)
    codec = compression_of(compression)
    with (
        atomic(path, overwrite) as temporary,
        uproot.recreate(temporary, compression=codec) as file,
    ):
        if rntuple:
            ntuple: Any = None

            def sink(data: Any) -> None:
                nonlocal ntuple
                if ntuple is None:
                    ntuple = file.mkrntuple(tree, data)
                else:
                    ntuple.extend(data)

            drain(chunks, sink, background=background)
        else:
            drain(chunks, file.mktree(tree, dict(types)).extend, background=background)
    return Path(path)


def _prepare(events: Any, what: str, kind: Kind | None, rntuple: bool) -> tuple[ak.Array, _Layout]:
    """Checked events (an index applied once) and how they are written."""
    if not isinstance(events, ak.Array):
        msg = f"{what} must be an awkward Array, got {type(events).__name__}"
        raise TypeError(msg)
    layout = events.layout
    if layout.is_indexed and not layout.is_option:  # filtered events: apply the index once
        events = ak.Array(layout.project(), behavior=events.behavior)
    if is_cylindrical(events) and kind in (None, "showers"):
        # hits of (layer, alpha, r) bins: a collection, read back with binning=
        validate(events, "showers", strict=False)
        events, kind = ak.Array(ak.without_parameters(events)), "events"
    if kind is None:
        kind = detect_kind(events, generic=True)
    validate(events, kind, strict=False)
    if kind == "events":
        columns = tuple(tree_columns(events)) if not rntuple else ()
        return events, _Layout(kind, {c.branch: c.type for c in columns}, columns, rntuple)
    extra = _extra_fields(events, kind)
    types = _branch_types(kind, "weight" in ak.fields(events), extra)
    return events, _Layout(kind, types, (), rntuple)


def write(
    path: str | os.PathLike[str],
    events: Any,
    tree: str = "events",
    *,
    overwrite: bool = False,
    step_size: int | str = "100 MB",
    rntuple: bool = False,
    kind: Kind | None = None,
    binning: Binning | None = None,
    compression: Compression = DEFAULT_COMPRESSION,
) -> Path | list[Path]:
    """Write events as a ROOT TTree (or RNTuple), atomically (see :mod:`dctrgan.io` for the
    layouts); showers of a cylindrical binning also as a CaloChallenge HDF5 file.

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
        path: the ROOT file to create (its name ends in ``.root``), or a pattern with
            ``{i}`` for a dask array.
        events: showers or traces in the package schema (any integer / float dtypes;
            written as int32 / float32), with an optional ``weight`` and any other
            fields holding one number or a fixed-size array of numbers (``N * k *
            float32``, such as ``dctr_replicas``) per event, written with their
            dtypes; generic events (records of numeric fields, flat, fixed-size,
            jagged, collections ``var * {...}`` and nested records, written with
            their dtypes, ``weight`` as float32); or a dask-awkward array of them.
        tree: name of the TTree or RNTuple.
        overwrite: replace an existing file (only once the new one is complete).
        step_size: events per basket, or the uncompressed size of one chunk (``"100 MB"``).
        rntuple: write an RNTuple (``mkrntuple``) instead of a TTree: the events'
            own record structure, any nesting of numbers, lists and records.
        kind: ``"showers"``, ``"traces"`` or ``"events"``; by default showers if the
            events have a ``hits`` field, traces if ``signal``, else generic events.
        binning: for a path ending in ``.h5`` or ``.hdf5``: the CaloChallenge binning
            XML (or geometry) of the showers, checked against theirs; the file is
            written in the challenge's layout (:func:`dctrgan.io.calochallenge.write`).
            Showers of a cylindrical binning written to ROOT get the branches
            ``incident_energy``, ``nhits``, ``hits_layer``, ``hits_alpha``, ``hits_r``,
            ``hits_energy`` (read them back with ``read(..., binning=)``).
        compression: of the ROOT file: ``"zstd:1"`` (the default, with checksums),
            ``"lz4:1"``, ``"zlib:1"`` (uproot's default), ``"algorithm:level"`` of zlib,
            lz4, zstd, lzma; an uproot compression (``uproot.LZ4(1)``); None for none.

    Returns:
        ``path``; for a pattern, the list of files written, in partition order.

    Raises:
        FileExistsError: if ``path`` (or one of the pattern's files) exists and
            ``overwrite`` is False; checked before anything is computed.
        TypeError: if ``events`` is not an awkward (or dask-awkward) Array, or
            ``compression`` is neither a string, an uproot compression nor None.
        ValueError: for a name not ending in ``.root``, a bad ``compression``, or
            naming the field that does not fit the schema or cannot be written
            (generic events in a TTree: numbers, fixed-size arrays, ``var * number``,
            ``var * {numbers}`` and records of them).
    """
    compression_of(compression)  # a bad value fails before anything is computed
    if is_dask(events):
        return _write_dask(path, events, tree, overwrite, step_size, rntuple, kind, compression)
    if Path(os.fspath(path)).suffix.lower() in SUFFIXES and is_cylindrical(events):
        return calochallenge.write(path, events, binning=binning, overwrite=overwrite)
    if binning is not None and (
        not is_cylindrical(events)
        or binning_of(events["hits"]) != calochallenge.binning_geometry(binning)
    ):
        msg = f"{path}: the events are not showers of the binning given (binning=)"
        raise ValueError(msg)
    check_target(path, tree, overwrite)
    events, layout = _prepare(events, "events", kind, rntuple)
    n = len(events)
    step = steps(step_size, events.layout.nbytes / max(n, 1))

    def chunks() -> Iterator[Any]:
        for start in range(0, max(n, 1) if rntuple else n, step):
            yield _branch_data(events[start : start + step], layout)

    _write_tree(path, tree, layout.types, chunks(), overwrite, compression, rntuple)
    log.debug("wrote %d %s to %s:%s", n, layout.kind, path, tree)
    return Path(path)


def write_chunks(
    path: str | os.PathLike[str],
    chunks: Iterable[ak.Array],
    tree: str = "events",
    *,
    overwrite: bool = False,
    rntuple: bool = False,
    kind: Kind | None = None,
    background: bool = True,
    compression: Compression = DEFAULT_COMPRESSION,
) -> Path:
    """Write a stream of event chunks as one ROOT TTree (or RNTuple), atomically, a few
    chunks in memory at a time, each written while the next is produced.

    The events of a file larger than memory, read with :func:`iterate`, changed
    chunk by chunk and written back::

        chunks = (dctr.attach(c) for c in dctrgan.iterate("big.root:events"))
        dctrgan.io.write_chunks("big_weighted.root", chunks)

    Each chunk is checked and converted as by :func:`write` in the calling thread,
    which also runs ``chunks`` (reading, weighting, a dask partition: in its own
    context, such as ``torch.no_grad``). With ``background`` (the default), a
    writer thread compresses and writes each chunk as one basket while the calling
    thread produces the next; zlib and torch release the GIL, so on two cores the
    writing hides most of the rest. The two meet at a queue of one chunk, so at
    most three chunks are held here at a time: one being written, one waiting, one
    being produced (without ``background``, one; the stream itself may keep its
    previous chunk besides, as a generator expression does).

    Nothing appears at ``path`` until the last chunk is written: if the stream
    raises (or the write fails) midway, both sides stop -- the writer after the
    chunk it is writing, the stream after the chunk it is producing -- the error is
    raised here as it was raised, an existing file stays as it was and no partial
    file is left. A ``KeyboardInterrupt`` does the same; the writer is a daemon
    thread and never keeps the interpreter from exiting.

    Args:
        path: the ROOT file to create.
        chunks: awkward events, all of one kind with the same fields (the first
            chunk, which may be empty, sets the branches).
        tree: name of the TTree or RNTuple.
        overwrite: replace an existing file (only once the new one is complete).
        rntuple: write an RNTuple instead of a TTree (see :func:`write`).
        kind: the kind of events (see :func:`write`); by default from the first chunk.
        background: write in a thread while the next chunk is produced; False writes
            each chunk in the calling thread before the next is asked for (one core,
            or two chunks in memory instead of three). The file is the same.
        compression: of the ROOT file (see :func:`write`; default ``"zstd:1"``).

    Returns:
        ``path``.

    Raises:
        FileExistsError: if ``path`` exists and ``overwrite`` is False (checked
            before the first chunk is asked for).
        TypeError: for a chunk that is not an awkward Array.
        ValueError: for no chunk at all, a chunk whose kind or fields (for generic
            events, types) differ from the first one's (naming the chunk), or a bad
            ``compression`` (before the first chunk is asked for).
        OSError: if the file cannot be written (a full disk, say).
    """
    target = check_target(path, tree, overwrite)
    compression_of(compression)
    stream = iter(chunks)
    head = next(stream, None)
    if head is None:
        msg = (
            f"{target}: no chunks to write: an empty stream has no branch types (write() writes an "
            "empty events array)"
        )
        raise ValueError(msg)
    head, layout = _prepare(head, "chunk 0", kind, rntuple)
    expected = layout.signature(head)
    n = 0

    def branch_data(events: ak.Array) -> Iterator[Any]:
        """Each chunk's branch data, checked against chunk 0; no chunk is kept once its
        data are handed on."""
        nonlocal n
        if len(events) or rntuple:
            n += len(events)
            data = _branch_data(events, layout)
            del events
            yield data
            del data
        for i, chunk in enumerate(stream, start=1):
            events, other = _prepare(chunk, f"chunk {i}", kind, rntuple)
            del chunk
            found = other.signature(events)
            if found != expected:
                msg = f"chunk {i}: {found} differ from chunk 0's {expected}"
                raise ValueError(msg)
            if len(events):
                n += len(events)
                data = _branch_data(events, layout)
                del events
                yield data
                del data

    data = branch_data(head)
    del head
    _write_tree(path, tree, layout.types, data, overwrite, compression, rntuple, background)
    log.debug("wrote %d %s to %s:%s in chunks", n, layout.kind, path, tree)
    return target


def write_weights(
    path: str | os.PathLike[str],
    weights: Any,
    tree: str = "weights",
    *,
    overwrite: bool = False,
    field: str | None = None,
    step_size: int = 10_000_000,
    compression: Compression = DEFAULT_COMPRESSION,
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
        field: the weight field of ``weights`` when it is an events array. By default
            ``dctr_weight`` where the events have one (from :meth:`dctrgan.DCTR.attach`:
            the DCTR factor alone, since ``read(..., friend=)`` multiplies the friend
            into the events' own ``weight``, which the friend must not hold again),
            else ``weight``.
        step_size: weights per basket (of an array; each chunk of an iterator is one).
        compression: of the ROOT file (see :func:`write`; default ``"zstd:1"``).

    Returns:
        ``path``.

    Raises:
        ValueError: for weights that are not one finite number per event (naming
            the event, counted over all chunks), or a bad ``compression``.
    """
    compression_of(compression)
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

    types = {"weight": np.dtype(np.float32)}
    return _write_tree(path, tree, types, chunks(), overwrite, compression)


def _weight_values(weights: Any, field: str | None, offset: int) -> np.ndarray:
    """``(N,)`` float32 weights of an array or of events' ``field`` (by default
    ``dctr_weight`` if they have it, else ``weight``); ``offset``: index of the first."""
    if isinstance(weights, ak.Array) and ak.fields(weights):
        if field is None:
            field = "dctr_weight" if "dctr_weight" in ak.fields(weights) else "weight"
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


def _write_dask(
    path: str | os.PathLike[str],
    events: Any,
    tree: str,
    overwrite: bool,
    step_size: int | str,
    rntuple: bool,
    kind: Kind | None,
    compression: Compression,
) -> Path | list[Path]:
    """Write a dask-awkward array: one file per partition if ``path`` holds ``{i}``,
    else one file, streamed partition by partition (see :func:`write`)."""
    from dask.base import compute
    from dask.delayed import delayed

    if kind is None:
        detect_kind(events._meta, generic=True)  # fail before computing anything
    template = os.fspath(path)
    options: dict[str, Any] = {"rntuple": rntuple, "kind": kind, "compression": compression}
    if "{i}" not in template:
        check_target(path, tree, overwrite)
        chunks = (part.compute() for part in events.to_delayed())
        return write_chunks(path, chunks, tree, overwrite=overwrite, **options)
    paths = [Path(template.replace("{i}", str(i))) for i in range(events.npartitions)]
    for target in paths:
        check_target(target, tree, overwrite)
    tasks = [
        delayed(write)(target, part, tree, overwrite=overwrite, step_size=step_size, **options)
        for part, target in zip(events.to_delayed(), paths, strict=True)
    ]
    return [Path(p) for p in compute(*tasks)]  # type: ignore[no-untyped-call]
