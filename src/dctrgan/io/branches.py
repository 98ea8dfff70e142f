"""Branch mappings, and the conversion of branch arrays into events of the package schema.

A *branch mapping* (the ``branches=`` argument of :func:`dctrgan.io.read`) maps keys
named after the schema fields to the branch names of a file. The conversion
(:func:`from_branches`) works on one chunk of arrays at a time, so that ``read``,
``iterate`` and a per-partition map (dask) share it.

Keys for showers:

- ``incident_energy``: one number per event, GeV;
- ``layer``, ``ix``, ``iy``, ``energy``: one jagged branch per hit field (indices,
  energy in MeV);
- ``z``, ``x``, ``y``: hit positions in mm, each in place of ``layer``, ``ix``, ``iy``;
  turned into indices through the :class:`~dctrgan.data.Geometry`;
- ``voxels``: a dense ``float[n_layers][n_x][n_y]`` branch (MeV) in place of all hit
  keys; every nonzero cell becomes a hit;
- ``weight``: one number per event.

Keys for traces: ``energy``, ``signal``, ``core_x``, ``core_y``, ``xmax``, ``weight``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import awkward as ak
import numpy as np

from dctrgan.data import (
    DEFAULT_GEOMETRY,
    SIGNAL_SHAPE,
    Geometry,
    Kind,
    behavior,
    make_showers,
    make_traces,
    validate,
)
from dctrgan.features import from_voxels

__all__ = (
    "DEFAULT_BRANCHES",
    "KEYS",
    "SCHEMA_FIELDS",
    "BranchMap",
    "field_branches",
    "field_values",
    "from_branches",
    "guess_kind",
    "resolve",
)

#: The branches :func:`dctrgan.io.write` writes, hence what ``read`` looks for by default.
DEFAULT_BRANCHES: dict[str, dict[str, str]] = {
    "showers": {
        "incident_energy": "incident_energy",
        "layer": "hits_layer",
        "ix": "hits_ix",
        "iy": "hits_iy",
        "energy": "hits_energy",
        "weight": "weight",
    },
    "traces": {
        "energy": "energy",
        "signal": "signal",
        "core_x": "core_x",
        "core_y": "core_y",
        "xmax": "xmax",
        "weight": "weight",
    },
}

#: Top-level fields of the package schema, per kind.
SCHEMA_FIELDS: dict[str, tuple[str, ...]] = {
    "showers": ("incident_energy", "hits", "weight"),
    "traces": ("energy", "signal", "core_x", "core_y", "xmax", "weight"),
}

#: Keys a branch mapping may use, per kind.
KEYS: dict[str, tuple[str, ...]] = {
    "showers": (
        "incident_energy",
        "layer",
        "ix",
        "iy",
        "energy",
        "x",
        "y",
        "z",
        "voxels",
        "weight",
    ),
    "traces": ("energy", "signal", "core_x", "core_y", "xmax", "weight"),
}

# (index key, position key) of each hit coordinate.
_COORDINATES = (("layer", "z"), ("ix", "x"), ("iy", "y"))
_HIT_KEYS = ("layer", "ix", "iy", "energy", "x", "y", "z")
_SHOWER_ONLY = frozenset(KEYS["showers"]) - frozenset(KEYS["traces"])
_TRACE_ONLY = frozenset(KEYS["traces"]) - frozenset(KEYS["showers"])


@dataclasses.dataclass(frozen=True)
class BranchMap:
    """A resolved branch mapping.

    Attributes:
        kind: ``"showers"`` or ``"traces"``.
        fields: key -> branch name for every branch that must be present.
        weight: branch name of the event weight.
        weight_required: whether the weight branch was named by the user (then it
            must exist) or is the default (read only if present).
    """

    kind: Kind
    fields: dict[str, str]
    weight: str
    weight_required: bool

    def schema_branch(self, field: str) -> str | None:
        """Branch that fills schema field ``field`` (``"hits.energy"``, ``"signal"``, ...)."""
        key = field.removeprefix("hits.")
        if "voxels" in self.fields and field.startswith("hits."):
            return self.fields["voxels"]
        if key == "weight":
            return self.weight
        position = dict(_COORDINATES).get(key)
        if position is not None and position in self.fields:
            return self.fields[position]
        return self.fields.get(key)


def guess_kind(branches: Mapping[str, str] | None, available: Collection[str]) -> Kind:
    """Kind of events a mapping or a tree holds: traces if it names or has ``signal``.

    Args:
        branches: the user's mapping, or ``None``.
        available: branch names of the tree.

    Raises:
        ValueError: if the mapping mixes keys of both kinds.
    """
    keys = set(branches or ())
    shower, trace = keys & _SHOWER_ONLY, keys & _TRACE_ONLY
    if shower and trace:
        msg = (
            f"branches= mixes shower keys {sorted(shower)} and trace keys {sorted(trace)}; "
            "pass kind= to say which events the file holds"
        )
        raise ValueError(msg)
    if shower:
        return "showers"
    if trace:
        return "traces"
    signal = (branches or {}).get("signal", DEFAULT_BRANCHES["traces"]["signal"])
    return "traces" if signal in available else "showers"


def resolve(kind: Kind, branches: Mapping[str, str] | None = None) -> BranchMap:
    """Merge a user's branch mapping over the defaults of ``kind``.

    Each hit coordinate comes either as an index (``layer``, ``ix``, ``iy``) or as a
    position in mm (``z``, ``x``, ``y``); ``voxels`` replaces all hit keys.

    Raises:
        ValueError: for an unknown key, a non-string branch name, or conflicting keys.
    """
    given = dict(branches or {})
    unknown = sorted(set(given) - set(KEYS[kind]))
    if unknown:
        msg = f"branches=: unknown key(s) {unknown} for {kind}; valid keys: {list(KEYS[kind])}"
        if "nhits" in unknown:
            msg += " (the number of hits per event comes from the jagged hit branches)"
        raise ValueError(msg)
    for key, value in given.items():
        name: object = value  # not trusted: callers may be untyped
        if not isinstance(name, str) or name == "":
            msg = f"branches=: the branch for key {key!r} must be a non-empty string, got {name!r}"
            raise ValueError(msg)
    defaults = DEFAULT_BRANCHES[kind]
    weight = given.pop("weight", None)
    fields: dict[str, str] = {}
    if kind == "traces":
        fields = {key: given.get(key, defaults[key]) for key in KEYS["traces"] if key != "weight"}
    else:
        fields["incident_energy"] = given.get("incident_energy", defaults["incident_energy"])
        if "voxels" in given:
            clash = sorted(set(given) & set(_HIT_KEYS))
            if clash:
                msg = (
                    f"branches=: 'voxels' replaces the hit keys, so {clash} cannot be given with it"
                )
                raise ValueError(msg)
            fields["voxels"] = given["voxels"]
        else:
            for index, position in _COORDINATES:
                if index in given and position in given:
                    msg = (
                        f"branches=: give either {index!r} (cell index) or {position!r} "
                        "(position in mm), not both"
                    )
                    raise ValueError(msg)
                if position in given:
                    fields[position] = given[position]
                else:
                    fields[index] = given.get(index, defaults[index])
            fields["energy"] = given.get("energy", defaults["energy"])
    return BranchMap(
        kind=kind,
        fields=fields,
        weight=weight if weight is not None else defaults["weight"],
        weight_required=weight is not None,
    )


def _names(arrays: Mapping[str, Any] | ak.Array) -> list[str]:
    return ak.fields(arrays) if isinstance(arrays, ak.Array) else list(arrays)


def _per_event(array: Any, branch: str, where: str) -> np.ndarray:
    """One number per event as a 1-d numpy array (a trailing ``[1]`` is dropped)."""
    try:
        values = np.asarray(ak.to_numpy(array, allow_missing=False))
    except (TypeError, ValueError) as err:
        msg = (
            f"{where}: branch {branch!r} must hold one number per event, got type {ak.type(array)}"
        )
        raise ValueError(msg) from err
    if values.ndim > 1 and int(np.prod(values.shape[1:])) == 1:
        values = values.reshape(len(values))
    if values.ndim != 1 or values.dtype.kind not in "biuf":
        msg = (
            f"{where}: branch {branch!r} must hold one number per event, "
            f"got shape {values.shape[1:]} of {values.dtype} per event"
        )
        raise ValueError(msg)
    return values


def _extra(array: Any, branch: str, where: str) -> np.ndarray:
    """An extra branch as numpy: ``(N,)`` for one number per event, ``(N, k)`` for a
    fixed-size array of ``k`` numbers per event."""
    try:
        values = np.asarray(ak.to_numpy(array, allow_missing=False))
    except (TypeError, ValueError) as err:
        msg = (
            f"{where}: extra branch {branch!r} must hold one number or a fixed-size array of "
            f"numbers per event, got type {ak.type(array)}"
        )
        raise ValueError(msg) from err
    if values.ndim not in (1, 2) or values.dtype.kind not in "biuf":
        msg = (
            f"{where}: extra branch {branch!r} must hold one number or a fixed-size array of "
            f"numbers per event, got shape {values.shape[1:]} of {values.dtype} per event"
        )
        raise ValueError(msg)
    return values


def _extra_field(values: np.ndarray) -> ak.Array:
    """An extra field of the events: numbers, or a regular ``k * dtype`` array."""
    return ak.from_numpy(values, regulararray=True)


def _fixed(array: Any, branch: str, where: str, shape: tuple[int, ...], what: str) -> np.ndarray:
    """A fixed-size array per event as numpy ``(N, *shape)``."""
    expected = "[" + "][".join(map(str, shape)) + "]"
    try:
        values = np.asarray(ak.to_numpy(array, allow_missing=False))
    except (TypeError, ValueError) as err:
        msg = (
            f"{where}: branch {branch!r} must hold {what} float{expected} per event, got type "
            f"{ak.type(array)}"
        )
        raise ValueError(msg) from err
    if values.shape[1:] != shape or values.dtype.kind not in "iuf":
        msg = (
            f"{where}: branch {branch!r} must hold {what} float{expected} per event, "
            f"got shape {values.shape[1:]} of {values.dtype}"
        )
        raise ValueError(msg)
    return values


def _jagged(array: Any, branch: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Hits per event ``(N,)`` and the flat values ``(H,)`` of a jagged hit branch."""
    array = array if isinstance(array, ak.Array) else ak.Array(array)
    try:
        counts = np.asarray(ak.to_numpy(ak.num(array, axis=1)))
        flat = np.asarray(ak.to_numpy(ak.flatten(array, axis=1), allow_missing=False))
    except (TypeError, ValueError) as err:
        msg = (
            f"{where}: branch {branch!r} must hold a list of numbers per event (one per hit), got "
            f"type {ak.type(array)}"
        )
        raise ValueError(msg) from err
    if flat.ndim != 1 or flat.dtype.kind not in "iuf":
        msg = (
            f"{where}: branch {branch!r} must hold a list of numbers per event (one per hit), got "
            f"type {ak.type(array)}"
        )
        raise ValueError(msg)
    return counts, flat


def _indices(
    key: str, values: np.ndarray, branch: str, where: str, geometry: Geometry
) -> np.ndarray:
    """Cell indices of hit positions in mm; positions outside the geometry are an error."""
    if key == "z":
        index = geometry.index_layer(values)
        size = geometry.n_layers
        outside = "not near any sensitive layer (Geometry.layer_z)"
    else:
        index = geometry.index_x(values) if key == "x" else geometry.index_y(values)
        size = geometry.n_x if key == "x" else geometry.n_y
        half = 0.5 * size * geometry.cell_size
        outside = f"outside the calorimeter's {key} range [{-half:g}, {half:g}) mm"
    bad = (index < 0) | (index >= size) | ~np.isfinite(values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        msg = (
            f"{where}: branch {branch!r} (hit {key} in mm): {int(bad.sum())} position(s) "
            f"{outside}, first {float(values[first]):g} mm at flat hit index {first}"
        )
        raise ValueError(msg)
    return index


def _showers(
    arrays: Mapping[str, Any] | ak.Array,
    mapping: BranchMap,
    weight: np.ndarray | None,
    geometry: Geometry,
    where: str,
    incident: np.ndarray | None = None,
) -> ak.Array:
    """Showers from the branches; ``incident`` in place of the incident-energy branch."""
    fields = mapping.fields
    if incident is None:
        incident = _per_event(arrays[fields["incident_energy"]], fields["incident_energy"], where)
    if "voxels" in fields:
        dense = _fixed(arrays[fields["voxels"]], fields["voxels"], where, geometry.shape, "voxels")
        return from_voxels(dense, incident, geometry, weight=weight)
    hits: dict[str, np.ndarray] = {}
    reference: tuple[str, np.ndarray] | None = None
    for key in ("layer", "ix", "iy", "energy", "z", "x", "y"):
        if key not in fields:
            continue
        branch = fields[key]
        counts, flat = _jagged(arrays[branch], branch, where)
        if reference is None:
            reference = (branch, counts)
        elif not np.array_equal(counts, reference[1]):
            differ = (
                np.flatnonzero(counts != reference[1]) if len(counts) == len(reference[1]) else [0]
            )
            msg = (
                f"{where}: hit branches {reference[0]!r} and {branch!r} have different numbers "
                f"of hits (first in event {int(differ[0])})"
            )
            raise ValueError(msg)
        index = {"z": "layer", "x": "ix", "y": "iy"}.get(key)
        if index is None:
            hits[key] = flat
        else:
            hits[index] = _indices(key, flat, branch, where, geometry)
    assert reference is not None
    return make_showers(
        incident,
        reference[1],
        hits["layer"],
        hits["ix"],
        hits["iy"],
        hits["energy"],
        weight=weight,
        geometry=geometry,
    )


def _traces(
    arrays: Mapping[str, Any] | ak.Array, mapping: BranchMap, weight: np.ndarray | None, where: str
) -> ak.Array:
    fields = mapping.fields
    scalars = {
        key: _per_event(arrays[fields[key]], fields[key], where)
        for key in ("energy", "core_x", "core_y", "xmax")
    }
    signal = _fixed(arrays[fields["signal"]], fields["signal"], where, SIGNAL_SHAPE, "the signal")
    return make_traces(
        scalars["energy"],
        signal,
        scalars["core_x"],
        scalars["core_y"],
        scalars["xmax"],
        weight=weight,
    )


def from_branches(
    arrays: Mapping[str, Any] | ak.Array,
    kind: Kind,
    branches: Mapping[str, str] | BranchMap | None = None,
    *,
    extra: Sequence[str] = (),
    geometry: Geometry | None = None,
    where: str = "arrays",
) -> ak.Array:
    """Events in the package schema from arrays of branches (one chunk).

    This is the conversion behind :func:`dctrgan.io.read` and
    :func:`dctrgan.io.iterate`; it also turns the output of ``uproot``'s
    ``tree.arrays(...)`` into events.

    Args:
        arrays: branch name -> array (a dict, or an awkward record array), ``N``
            events each.
        kind: ``"showers"`` or ``"traces"``.
        branches: the branch mapping (see :mod:`dctrgan.io`); default: the layout
            :func:`dctrgan.io.write` writes. The weight is taken when its branch is
            among ``arrays``.
        extra: further branches, of one number or a fixed-size array of numbers per
            event, to keep as fields of the same name (``N * k * dtype`` for the arrays).
        geometry: calorimeter of the showers (default: ILD-like).
        where: what the arrays come from, for error messages (e.g. ``"file.root:events"``).

    Returns:
        ``N`` validated events.

    Raises:
        ValueError: naming ``where`` and the branch, for a missing branch, a wrong
            shape, positions outside the geometry, or values the schema rejects
            (non-finite, negative hit energies, indices outside the geometry).
    """
    mapping = branches if isinstance(branches, BranchMap) else resolve(kind, branches)
    if mapping.kind != kind:
        msg = f"{where}: the branch mapping is for {mapping.kind}, not {kind}"
        raise ValueError(msg)
    g = geometry if geometry is not None else DEFAULT_GEOMETRY
    names = _names(arrays)
    required = [*mapping.fields.values(), *extra]
    if mapping.weight_required:
        required.append(mapping.weight)
    missing = [name for name in required if name not in names]
    if missing:
        msg = f"{where}: missing branch(es) {missing} (have {names})"
        raise ValueError(msg)
    weight = None
    if mapping.weight in names:
        weight = _per_event(arrays[mapping.weight], mapping.weight, where)
    if kind == "showers":
        events = _showers(arrays, mapping, weight, g, where)
    else:
        events = _traces(arrays, mapping, weight, where)
    if extra:
        columns = {field: events[field] for field in ak.fields(events)}
        for name in extra:
            if name in columns:
                msg = f"{where}: extra branch {name!r} has the name of a schema field"
                raise ValueError(msg)
            columns[name] = _extra_field(_extra(arrays[name], name, where))
        events = ak.Array(ak.zip(columns, depth_limit=1), behavior=behavior)
    return _validated(events, mapping, g, where)


def _validated(events: ak.Array, mapping: BranchMap, geometry: Geometry, where: str) -> ak.Array:
    """``events`` once :func:`~dctrgan.data.validate` passes; its error names ``where`` and the
    branch."""
    try:
        validate(events, mapping.kind, geometry=geometry)
    except ValueError as err:
        found = re.search(r"field '([\w.]+)'", str(err))
        branch = mapping.schema_branch(found.group(1)) if found else None
        suffix = f" (branch {branch!r})" if branch else ""
        msg = f"{where}: {err}{suffix}"
        raise ValueError(msg) from err
    return events


def field_branches(
    mapping: BranchMap, extra: Sequence[str] = (), weight: bool = True
) -> dict[str, tuple[str, ...]]:
    """The branches each top-level field of the events is made from, in the field order
    of :func:`from_branches`.

    Args:
        mapping: the resolved branch mapping.
        extra: the extra branches (one number or a fixed-size array of numbers per event)
            kept as fields of the same name.
        weight: whether the events get a ``weight`` field from the weight branch.
    """
    fields = mapping.fields
    out: dict[str, tuple[str, ...]] = {}
    if mapping.kind == "showers":
        out["incident_energy"] = (fields["incident_energy"],)
        out["hits"] = tuple(b for key, b in fields.items() if key != "incident_energy")
    else:
        out["energy"] = (fields["energy"],)
        out["signal"] = (fields["signal"],)
        out |= {key: (fields[key],) for key in ("core_x", "core_y", "xmax")}
    if weight:
        out["weight"] = (mapping.weight,)
    return out | {name: (name,) for name in extra}


def field_values(
    arrays: Mapping[str, Any] | ak.Array,
    field: str,
    mapping: BranchMap,
    *,
    length: int,
    geometry: Geometry | None = None,
    where: str = "arrays",
) -> ak.Array:
    """One top-level field of the events of :func:`from_branches`, made from its own
    branches only (see :func:`field_branches`) and validated as there.

    This is the conversion of a column-projected read (:func:`dctrgan.io.read` with
    ``dask=True``), where the branches of the other fields are not read.

    Args:
        arrays: branch name -> array, ``length`` events each, holding at least the
            branches of ``field``.
        field: a schema field or an extra branch name.
        mapping: the resolved branch mapping.
        length: number of events.
        geometry: calorimeter of the showers (default: ILD-like).
        where: what the arrays come from, for error messages.

    Returns:
        The field, of the type and with the parameters :func:`from_branches` gives it.

    Raises:
        ValueError: as :func:`from_branches`.
    """
    g = geometry if geometry is not None else DEFAULT_GEOMETRY
    zeros = np.zeros(length, dtype=np.float32)
    if field == "hits":
        events = _showers(arrays, mapping, None, g, where, incident=zeros)
    elif field == "signal":
        branch = mapping.fields["signal"]
        signal = _fixed(arrays[branch], branch, where, SIGNAL_SHAPE, "the signal")
        events = make_traces(zeros, signal, zeros, zeros, zeros)
    elif field in SCHEMA_FIELDS[mapping.kind]:
        source = mapping.schema_branch(field)
        assert source is not None
        values = _per_event(arrays[source], source, where).astype(np.float32)
        _finite(field, values, source, where)
        return ak.Array(values)
    else:
        return _extra_field(_extra(arrays[field], field, where))
    return _validated(events, mapping, g, where)[field]


def _finite(field: str, values: np.ndarray, branch: str, where: str) -> None:
    """A ValueError naming ``where``, the field and the branch for non-finite values."""
    bad = ~np.isfinite(values)
    if bad.any():
        msg = (
            f"{where}: field {field!r}: {int(bad.sum())} non-finite value(s), first at flat "
            f"index {int(np.flatnonzero(bad)[0])} (branch {branch!r})"
        )
        raise ValueError(msg)
