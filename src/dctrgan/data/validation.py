"""Checking events against the package's schemas (:func:`validate`), telling their kind
(:func:`detect_kind`) and casting them to the schema dtypes (:func:`coerce`).

The schemas: :mod:`dctrgan.data.schema` (showers of square cells, traces, generic
events) and :mod:`dctrgan.data.cylindrical` (showers of a CaloChallenge binning).
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from dctrgan.data.cylindrical import CylindricalGeometry, binning_of, make_cylindrical_showers
from dctrgan.data.schema import (
    KINDS,
    SIGNAL_SHAPE,
    Geometry,
    Kind,
    geometry_of,
    make_showers,
    make_traces,
    short_type,
)

__all__ = ("coerce", "detect_kind", "numeric_type", "validate")

_HIT_FIELDS: dict[str, np.dtype[Any]] = {
    "layer": np.dtype(np.int32),
    "ix": np.dtype(np.int32),
    "iy": np.dtype(np.int32),
    "energy": np.dtype(np.float32),
}
_CYLINDRICAL_HIT_FIELDS: dict[str, np.dtype[Any]] = {
    "layer": np.dtype(np.int32),
    "alpha": np.dtype(np.int32),
    "r": np.dtype(np.int32),
    "energy": np.dtype(np.float32),
}
_TRACE_SCALARS = ("energy", "core_x", "core_y", "xmax")


def detect_kind(events: ak.Array, *, generic: bool = False) -> Kind:
    """Tell showers (a ``hits`` field) from traces (a ``signal`` field).

    Args:
        events: awkward records, one per event.
        generic: take records of other fields as generic ``"events"``, not an error.

    Raises:
        ValueError: if ``events`` has neither field (and not ``generic``) or no records.
    """
    fields = ak.fields(events)
    if "hits" in fields:
        return "showers"
    if "signal" in fields:
        return "traces"
    if generic and fields and events.layout.purelist_depth == 1:
        return "events"
    msg = (
        f"cannot tell the kind of events of type {short_type(events)}: expected records"
        if generic
        else f"cannot tell the kind of events with fields {sorted(fields)}: expected 'hits' "
        "(showers) or 'signal' (traces)"
    )
    raise ValueError(msg)


def numeric_type(item: Any) -> bool:
    """Whether an awkward type holds only numbers (bools too), lists of them and records."""
    if isinstance(item, ak.types.NumpyType):
        return not item.primitive.startswith(("complex", "datetime", "timedelta"))
    if isinstance(item, ak.types.ListType | ak.types.RegularType):
        strings = item.parameter("__array__") in ("string", "bytestring")
        return not strings and numeric_type(item.content)
    if isinstance(item, ak.types.RecordType):
        return not item.is_tuple and all(numeric_type(c) for c in item.contents)
    return False


def _validate_generic(events: ak.Array, strict: bool) -> None:
    fields = ak.fields(events)
    if not fields or events.layout.purelist_depth != 1:
        msg = f"events: expected a record per event, got type {short_type(events)}"
        raise ValueError(msg)
    record = ak.type(events).content
    for name, content in zip(record.fields, record.contents, strict=True):
        if not numeric_type(content):
            got = short_type(events[name], 60)
            msg = f"field {name!r}: generic events hold numbers, lists and records, got {got}"
            raise ValueError(msg)
    if "weight" in fields:
        dtype = _leaf_dtype(events["weight"], "weight", 1)
        _check_dtype("weight", dtype, np.dtype(np.float32), strict)
        _check_finite("weight", np.asarray(ak.to_numpy(events["weight"])))


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        msg = f"kind must be one of {KINDS}, got {kind!r}"
        raise ValueError(msg)


def _leaf_dtype(array: ak.Array, name: str, depth: int) -> np.dtype[Any]:
    """dtype of a numeric field with ``depth - 1`` list levels, or a ValueError.

    Read from the type, so selections (``events[mask]``) and packed arrays alike pass.
    """
    item = ak.type(array).content
    for _ in range(depth - 1):
        if not isinstance(item, ak.types.ListType | ak.types.RegularType):
            break
        item = item.content
    else:
        if isinstance(item, ak.types.NumpyType):
            dtype: np.dtype[Any] = ak.types.numpytype.primitive_to_dtype(item.primitive)
            return dtype
    msg = (
        f"field {name!r}: expected {depth - 1} list level(s) of numbers, got type {ak.type(array)}"
    )
    raise ValueError(msg)


def _flat_numpy(array: ak.Array) -> np.ndarray:
    return np.asarray(ak.to_numpy(ak.flatten(array, axis=None)))


def _check_dtype(name: str, dtype: np.dtype[Any], expected: np.dtype[Any], strict: bool) -> None:
    if strict and dtype != expected:
        msg = (
            f"field {name!r}: expected dtype {expected}, got {dtype} (dctrgan.data.coerce converts)"
        )
        raise ValueError(msg)
    kind = "integer" if expected.kind == "i" else "floating-point"
    if (expected.kind == "i" and dtype.kind not in "iu") or (
        expected.kind == "f" and dtype.kind not in "iuf"
    ):
        msg = f"field {name!r}: expected {kind} values, got dtype {dtype}"
        raise ValueError(msg)


def _check_finite(name: str, values: np.ndarray, *, nonnegative: bool = False) -> None:
    if values.dtype.kind != "f" or values.size == 0:
        return
    # two reductions instead of boolean masks: NaN propagates into min (and max)
    lo, hi = values.min(), values.max()
    if np.isfinite(lo) and np.isfinite(hi) and (lo >= 0 or not nonnegative):
        return
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        msg = f"field {name!r}: {int(bad.sum())} non-finite value(s), first at flat index {first}"
        raise ValueError(msg)
    if nonnegative and (values < 0).any():
        neg = values < 0
        first = int(np.flatnonzero(neg)[0])
        msg = f"field {name!r}: {int(neg.sum())} negative value(s), first at flat index {first}"
        raise ValueError(msg)


def validate(
    events: ak.Array,
    kind: Kind | None = None,
    *,
    geometry: Geometry | CylindricalGeometry | None = None,
    strict: bool = True,
) -> ak.Array:
    """Check that ``events`` follow the package schema.

    Args:
        events: showers, traces or generic events.
        kind: ``"showers"``, ``"traces"`` or ``"events"``; detected from the fields
            (showers or traces) when omitted.
        geometry: for showers, the geometry the hit indices must fit in (default:
            the one attached to the hits, else ILD-like); for hits of (layer, alpha, r)
            bins a :class:`~dctrgan.data.CylindricalGeometry`.
        strict: require the exact schema dtypes (int32 / float32; of generic events, a
            float32 ``weight``); else any integer or floating type passes.

    Returns:
        ``events``, unchanged, so calls can be chained.

    Raises:
        ValueError: naming the missing or malformed field.
    """
    if not isinstance(events, ak.Array):
        msg = f"events must be an awkward Array, got {type(events).__name__}"
        raise TypeError(msg)
    if kind is None:
        kind = detect_kind(events)
    _check_kind(kind)
    if kind == "events":
        _validate_generic(events, strict)
        return events
    fields = ak.fields(events)
    required = (
        ("incident_energy", "hits")
        if kind == "showers"
        else ("energy", "signal", *_TRACE_SCALARS[1:])
    )
    for name in required:
        if name not in fields:
            msg = f"{kind}: missing field {name!r} (have {fields})"
            raise ValueError(msg)
    scalars = ("incident_energy",) if kind == "showers" else _TRACE_SCALARS
    if "weight" in fields:
        scalars = (*scalars, "weight")
    for name in scalars:
        dtype = _leaf_dtype(events[name], name, 1)
        _check_dtype(name, dtype, np.dtype(np.float32), strict)
        _check_finite(name, np.asarray(ak.to_numpy(events[name])))
    if kind == "showers":
        _validate_hits(events["hits"], geometry, strict)
    else:
        _validate_signal(events["signal"], strict)
    return events


def _validate_hits(
    hits: ak.Array, geometry: Geometry | CylindricalGeometry | None, strict: bool
) -> None:
    cylindrical = {"alpha", "r"} <= set(ak.fields(hits))
    schema = _CYLINDRICAL_HIT_FIELDS if cylindrical else _HIT_FIELDS
    if hits.layout.purelist_depth != 2 or ak.fields(hits) == []:
        wanted = ", ".join(schema)
        msg = f"field 'hits': expected var * {{{wanted}}}, got type {ak.type(hits)}"
        raise ValueError(msg)
    for name, expected in schema.items():
        if name not in ak.fields(hits):
            msg = f"showers: missing field 'hits.{name}' (have {ak.fields(hits)})"
            raise ValueError(msg)
        _check_dtype(f"hits.{name}", _leaf_dtype(hits[name], f"hits.{name}", 2), expected, strict)
    _check_finite("hits.energy", _flat_numpy(hits["energy"]), nonnegative=True)
    if cylindrical:
        _check_bins(hits, geometry)
        return
    if isinstance(geometry, CylindricalGeometry):
        msg = "hits of (layer, ix, iy) cells cannot be checked against a cylindrical geometry"
        raise TypeError(msg)
    g = geometry if geometry is not None else geometry_of(hits)
    for name, size in (("layer", g.n_layers), ("ix", g.n_x), ("iy", g.n_y)):
        _check_range(f"hits.{name}", _flat_numpy(hits[name]), size)


def _check_range(name: str, values: np.ndarray, size: int | np.ndarray) -> None:
    """A ValueError unless ``0 <= values < size`` (elementwise for an array ``size``)."""
    if np.ndim(size) == 0 and (values.size == 0 or (values.min() >= 0 and values.max() < size)):
        return
    bad = (values < 0) | (values >= size)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        limit = int(size if np.ndim(size) == 0 else np.asarray(size)[first])
        msg = (
            f"field '{name}': {int(bad.sum())} value(s) outside the geometry "
            f"[0, {limit}), first {int(values[first])} at flat index {first}"
        )
        raise ValueError(msg)


def _check_bins(hits: ak.Array, geometry: Geometry | CylindricalGeometry | None) -> None:
    """Hits of (layer, alpha, r) bins inside their cylindrical geometry."""
    g = binning_of(hits) if geometry is None else geometry
    if not isinstance(g, CylindricalGeometry):
        msg = (
            "hits of (layer, alpha, r) bins need their cylindrical geometry: build them with "
            "dctrgan.data.make_cylindrical_showers, or read them with binning="
        )
        raise ValueError(msg)  # noqa: TRY004 (a missing attachment, not a wrong argument type)
    layer = _flat_numpy(hits["layer"]).astype(np.int64)
    _check_range("hits.layer", layer, g.n_layers)
    n_r = np.array([len(e) - 1 for e in g.r_edges])[layer]
    _check_range(
        "hits.alpha", _flat_numpy(hits["alpha"]), np.where(n_r > 0, np.array(g.n_alpha)[layer], 0)
    )
    _check_range("hits.r", _flat_numpy(hits["r"]), n_r)


def _validate_signal(signal: ak.Array, strict: bool) -> None:
    try:
        dense = np.asarray(ak.to_numpy(signal, allow_missing=False))
    except (TypeError, ValueError) as err:
        msg = (
            f"field 'signal': expected {' * '.join(map(str, SIGNAL_SHAPE))} * float32, got type "
            f"{ak.type(signal)}"
        )
        raise ValueError(msg) from err
    if dense.shape[1:] != SIGNAL_SHAPE:
        msg = (
            f"field 'signal': expected shape (N, {', '.join(map(str, SIGNAL_SHAPE))}), got "
            f"{dense.shape}"
        )
        raise ValueError(msg)
    _check_dtype("signal", dense.dtype, np.dtype(np.float32), strict)
    _check_finite("signal", dense.reshape(-1))


def coerce(events: ak.Array, kind: Kind | None = None) -> ak.Array:
    """Cast events to the exact schema dtypes (int32 indices, float32 values).

    Extra fields are kept (of generic events, all but ``weight``, made float32). Run
    :func:`validate` with ``strict=False`` first for errors naming a malformed field.
    """
    if kind is None:
        kind = detect_kind(events)
    _check_kind(kind)
    validate(events, kind, strict=False)
    if kind == "events" and "weight" not in ak.fields(events):
        return events
    if kind == "events":
        cast = np.asarray(ak.to_numpy(events["weight"]), dtype=np.float32)
        return ak.Array(ak.with_field(events, cast, "weight"), behavior=events.behavior)
    schema = {"hits", "signal", "incident_energy", "weight", *_TRACE_SCALARS}
    extra = {f: events[f] for f in ak.fields(events) if f not in schema}
    weight = ak.to_numpy(events["weight"]) if "weight" in ak.fields(events) else None
    if kind == "showers" and {"alpha", "r"} <= set(ak.fields(events["hits"])):
        hits = events["hits"]
        binning = binning_of(hits)
        assert binning is not None  # validate checked it
        layer, alpha, r, energy = (_flat_numpy(hits[f]) for f in _CYLINDRICAL_HIT_FIELDS)
        out = make_cylindrical_showers(
            ak.to_numpy(events["incident_energy"]),
            ak.to_numpy(ak.num(hits, axis=1)),
            layer,
            alpha,
            r,
            energy,
            binning,
            weight=weight,
        )
    elif kind == "showers":
        hits = events["hits"]
        geometry = geometry_of(hits)
        out = make_showers(
            ak.to_numpy(events["incident_energy"]),
            ak.to_numpy(ak.num(hits, axis=1)),
            *(_flat_numpy(hits[f]) for f in _HIT_FIELDS),
            weight=weight,
            geometry=geometry,
        )
    else:
        out = make_traces(
            ak.to_numpy(events["energy"]),
            ak.to_numpy(events["signal"]),
            ak.to_numpy(events["core_x"]),
            ak.to_numpy(events["core_y"]),
            ak.to_numpy(events["xmax"]),
            weight=weight,
        )
    for name, values in extra.items():
        out = ak.with_field(out, values, name)
    return out
