"""Hit tables, one row per hit, grouped into one record per event (private).

:func:`group` groups rows by the value of one column (``group_by=``), in the order
in which each event first appears; the rows of an event need not be contiguous.
:func:`stream` does the same for a stream of chunks, carrying the event of the last
row into the next chunk; there the rows of an event must be contiguous. A
:class:`HitMap` turns grouped rows into showers, with numbers in place of absent
coordinates.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Iterator, Mapping
from typing import Any

import awkward as ak
import numpy as np

from dctrgan.data import Geometry, behavior, short_type
from dctrgan.io.branches import BranchMap, from_branches, resolve

__all__ = ("HitMap", "group", "hit_map", "stream", "to_showers")

_CONSTANT_KEYS = ("layer", "ix", "iy", "incident_energy", "weight")
_PER_EVENT = ("incident_energy", "weight")


@dataclasses.dataclass(frozen=True)
class HitMap:
    """A branch mapping of a hit table to showers.

    Attributes:
        columns: the branches of the table to read.
        mapping: the resolved mapping; constants stand under names ``"key=value"``.
        constants: those names -> their value.
    """

    columns: tuple[str, ...]
    mapping: BranchMap
    constants: dict[str, float]


def hit_map(branches: Mapping[str, Any], group_by: str) -> HitMap:
    """Check a hit-table mapping: branch names, or numbers for ``layer``, ``ix``, ``iy``,
    ``incident_energy`` and ``weight``.

    Raises:
        ValueError: for a number where a branch is needed, a missing key, or ``voxels``.
    """
    names: dict[str, str] = {}
    constants: dict[str, float] = {}
    for key, given in branches.items():
        value: object = given  # not trusted: callers may be untyped
        if not isinstance(value, str | bool) and isinstance(value, numbers.Real | np.number):
            if key not in _CONSTANT_KEYS:
                msg = (
                    f"branches=: key {key!r} must name a branch of the hit table, got {value!r} "
                    f"(numbers stand for {', '.join(_CONSTANT_KEYS)})"
                )
                raise ValueError(msg)
            names[key] = f"{key}={float(value):g}"
            constants[names[key]] = float(value)
        else:
            names[key] = given
    if "voxels" in names:
        msg = "branches=: 'voxels' does not apply to a hit table (group_by=)"
        raise ValueError(msg)
    needed = [("layer", "z"), ("ix", "x"), ("iy", "y"), ("energy",), ("incident_energy",)]
    missing = [" or ".join(map(repr, keys)) for keys in needed if not set(keys) & set(names)]
    if missing:
        msg = (
            f"branches=: a hit table grouped into showers needs {', '.join(missing)} "
            "(a branch, or a number for a coordinate that the table lacks)"
        )
        raise ValueError(msg)
    mapping = resolve("showers", names)
    wanted = [*mapping.fields.values()] + ([mapping.weight] if "weight" in names else [])
    columns = tuple(dict.fromkeys(b for b in wanted if b not in constants and b != group_by))
    return HitMap(columns, mapping, constants)


def _keys(rows: ak.Array, by: str, where: str) -> np.ndarray:
    for name in ak.fields(rows):
        if not isinstance(ak.type(rows[name]).content, ak.types.NumpyType):
            msg = (
                f"{where}: branch {name!r} holds {short_type(rows[name])}; a hit table grouped "
                "with group_by= has one number per row in each branch"
            )
            raise ValueError(msg)  # noqa: TRY004 - a file's content, not an argument's type
    keys = np.asarray(ak.to_numpy(rows[by]))
    if keys.dtype.kind == "f" and not np.isfinite(keys).all():
        msg = f"{where}: group_by branch {by!r} holds non-finite values"
        raise ValueError(msg)
    return keys


def group(rows: ak.Array, by: str, where: str) -> ak.Array:
    """One record per distinct value of ``rows[by]`` (in order of first appearance): ``by``
    once, every other column as a list of that event's rows (in row order)."""
    keys = _keys(rows, by, where)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    event = rank[inverse.reshape(-1)]
    perm = np.argsort(event, kind="stable")
    counts = np.bincount(event, minlength=len(order))
    out: dict[str, Any] = {}
    for name in ak.fields(rows):
        values = np.asarray(ak.to_numpy(rows[name]))
        out[name] = keys[first[order]] if name == by else ak.unflatten(values[perm], counts)
    return ak.Array(ak.zip(out, depth_limit=1), behavior=behavior)


def stream(chunks: Iterator[ak.Array], by: str, where: str) -> Iterator[ak.Array]:
    """Grouped events of a stream of row chunks; an event split across chunks is carried.

    Raises:
        ValueError: if rows of an event appear again after the event was closed (rows
            of other events came in between, across a chunk boundary).
    """
    closed: np.ndarray | None = None
    carry: ak.Array | None = None
    typed: ak.Array | None = None
    for chunk in chunks:
        typed = chunk[:0] if typed is None else typed
        keys = _keys(chunk, by, where)
        closed = keys[:0] if closed is None else closed
        again = np.isin(keys, closed)
        if again.any():
            value = keys[int(np.flatnonzero(again)[0])]
            msg = (
                f"{where}: rows of the event {by}={value} are not contiguous: they appear again "
                "after other events, across chunks; iterate(group_by=) needs the rows of each "
                "event together, read(group_by=) takes any order"
            )
            raise ValueError(msg)
        rows = chunk
        if carry is not None:
            rows = ak.concatenate([carry, chunk])
            keys = np.concatenate([np.asarray(ak.to_numpy(carry[by])), keys])
        if len(rows) == 0:
            continue
        last = keys == keys[-1]
        carry = rows[last]
        done = rows[~last]
        if len(done):
            closed = np.union1d(closed, keys[~last])
            yield group(done, by, where)
    if carry is not None and len(carry):
        yield group(carry, by, where)
    elif (closed is None or not len(closed)) and typed is not None:
        yield group(typed, by, where)


def _per_event(values: ak.Array, name: str, keys: Any, by: str, where: str) -> np.ndarray:
    """The value of a per-row branch that must be the same on every row of an event."""
    counts = np.asarray(ak.to_numpy(ak.num(values, axis=1)))
    flat = np.asarray(ak.to_numpy(ak.flatten(values, axis=1)))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    first = flat[starts] if len(flat) else flat[:0]
    bad = flat != np.repeat(first, counts)
    if bad.any():
        event = int(np.searchsorted(np.cumsum(counts), int(np.flatnonzero(bad)[0]), side="right"))
        msg = (
            f"{where}: branch {name!r} must be the same on every row of an event, but differs "
            f"within the event {by}={np.asarray(ak.to_numpy(keys))[event]}"
        )
        raise ValueError(msg)
    return first


def to_showers(
    events: ak.Array, hits: HitMap, by: str, geometry: Geometry | None, where: str
) -> ak.Array:
    """Showers of grouped hit rows, with ``by`` kept as a field."""
    mapping = hits.mapping
    counts = np.asarray(ak.to_numpy(ak.num(events[mapping.fields["energy"]], axis=1)))
    arrays: dict[str, Any] = {by: events[by]}
    for key, name in [*mapping.fields.items(), ("weight", mapping.weight)]:
        if key == "weight" and not mapping.weight_required:
            continue
        if key in _PER_EVENT:
            if name in hits.constants:
                arrays[name] = np.full(len(events), hits.constants[name], np.float32)
            else:
                arrays[name] = _per_event(events[name], name, events[by], by, where)
        elif name in hits.constants:
            flat = np.full(int(counts.sum()), hits.constants[name])
            arrays[name] = ak.unflatten(flat, counts)
        else:
            arrays[name] = events[name]
    return from_branches(arrays, "showers", mapping, extra=[by], geometry=geometry, where=where)
