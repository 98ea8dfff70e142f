"""Event schemas, detector geometry and awkward behaviors.

dctrgan works on three kinds of events, all awkward arrays of records:

``"showers"`` (calorimeter showers), one record per event::

    incident_energy: float32                                   # GeV
    hits: var * Hit{layer: int32, ix: int32, iy: int32, energy: float32}   # energy in MeV
    weight: float32                                            # optional; absent means 1

``"traces"`` (air-shower events), one record per event::

    energy: float32                       # EeV, primary energy (the label)
    signal: 9 * 9 * 80 * float32          # VEM per 25 ns bin, 9x9 station grid
    core_x, core_y: float32               # m
    xmax: float32                         # g/cm^2
    weight: float32                       # optional

``"events"`` (generic: NanoAOD, an analysis ntuple, a hit table grouped by event), one
record per event of numbers (bools too), lists and records of them (``Jet: var * {pt,
eta}``, ``MET: {pt, phi}``); a ``weight``, if present, is one finite number per event.

Hits carry ``x, y, z`` (mm) and ``position`` (``vector`` 3D vectors) through the
package-local :data:`behavior`, computed from the :class:`Geometry`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import awkward as ak
import numpy as np
import vector

if TYPE_CHECKING:
    import torch

__all__ = (
    "DEFAULT_GEOMETRY",
    "KINDS",
    "SIGNAL_SHAPE",
    "Events",
    "Geometry",
    "Kind",
    "behavior",
    "coerce",
    "detect_kind",
    "geometry_of",
    "is_dask",
    "make_showers",
    "make_traces",
    "numeric_type",
    "short_type",
    "validate",
)

Kind = Literal["showers", "traces", "events"]
#: Events as the estimators take them: awkward records (showers, traces, generic
#: events) or a plain ``(N, d)`` numpy array or torch tensor; a dask-awkward array of
#: records is accepted too where a docstring says so. Results come back in the same
#: container (awkward in, awkward out).
Events: TypeAlias = "ak.Array | np.ndarray | torch.Tensor"
KINDS: tuple[str, ...] = ("showers", "traces", "events")

#: Shape of the air-shower ``signal`` field: 9x9 stations, 80 time bins of 25 ns.
SIGNAL_SHAPE: tuple[int, int, int] = (9, 9, 80)

_HIT_FIELDS: dict[str, np.dtype[Any]] = {
    "layer": np.dtype(np.int32),
    "ix": np.dtype(np.int32),
    "iy": np.dtype(np.int32),
    "energy": np.dtype(np.float32),
}
_TRACE_SCALARS = ("energy", "core_x", "core_y", "xmax")
_GEOMETRY_PARAMETER = "dctrgan.geometry"


@dataclasses.dataclass(frozen=True)
class Geometry:
    """A sampling calorimeter of square cells in parallel layers.

    The default is the ILD-like silicon-tungsten ECAL of the DCTRGAN paper:
    30 layers of 30 x 30 cells of 5.088 mm, the first 20 layers behind 2.1 mm of
    tungsten and the last 10 behind 4.2 mm, with a MIP threshold of 0.1 MeV.

    Each layer is an absorber plate followed by a sensitive silicon plane; ``gap``
    is the thickness of silicon, readout and air between two plates.

    Args:
        n_layers: number of sensitive layers.
        n_x: cells along x.
        n_y: cells along y.
        cell_size: cell pitch in mm.
        absorber: absorber thickness in front of each layer, mm (one per layer).
        silicon: sensitive thickness per layer, mm.
        gap: non-absorber thickness per layer (silicon included), mm.
        threshold: MIP threshold in MeV; cells below it are not recorded.
        x0: radiation length of the absorber, mm.
        moliere_radius: Moliere radius of the absorber, mm.
        critical_energy: critical energy of the absorber, MeV.
        z_atomic: atomic number of the absorber.
    """

    n_layers: int = 30
    n_x: int = 30
    n_y: int = 30
    cell_size: float = 5.088
    absorber: tuple[float, ...] = (2.1,) * 20 + (4.2,) * 10
    silicon: float = 0.5
    gap: float = 1.75
    threshold: float = 0.1
    x0: float = 3.504
    moliere_radius: float = 9.327
    critical_energy: float = 8.0
    z_atomic: int = 74

    def __post_init__(self) -> None:
        if len(self.absorber) != self.n_layers:
            msg = (
                f"Geometry: absorber has {len(self.absorber)} thicknesses "
                f"but n_layers={self.n_layers}"
            )
            raise ValueError(msg)
        if min(self.n_layers, self.n_x, self.n_y) <= 0 or self.cell_size <= 0:
            msg = "Geometry: n_layers, n_x, n_y and cell_size must be positive"
            raise ValueError(msg)
        object.__setattr__(self, "absorber", tuple(float(a) for a in self.absorber))

    @property
    def shape(self) -> tuple[int, int, int]:
        """Dense shape ``(n_layers, n_x, n_y)``."""
        return (self.n_layers, self.n_x, self.n_y)

    @property
    def layer_z(self) -> np.ndarray:
        """z of the centre of each sensitive layer, mm, from the calorimeter front:
        ``(n_layers,)``."""
        back = np.cumsum(np.asarray(self.absorber) + self.gap)
        return back - self.gap + 0.5 * self.silicon

    @property
    def layer_depth(self) -> np.ndarray:
        """Absorber depth in radiation lengths at each sensitive layer: ``(n_layers,)``."""
        return np.cumsum(np.asarray(self.absorber)) / self.x0

    def cell_x(self, ix: Any) -> Any:
        """Centre x (mm) of cell column ``ix``; the grid is centred on x = 0."""
        return (ix - 0.5 * (self.n_x - 1)) * self.cell_size

    def cell_y(self, iy: Any) -> Any:
        """Centre y (mm) of cell row ``iy``; the grid is centred on y = 0."""
        return (iy - 0.5 * (self.n_y - 1)) * self.cell_size

    def index_x(self, x: np.ndarray) -> np.ndarray:
        """Cell column of positions ``x`` in mm (``-1`` or ``n_x`` outside the grid)."""
        i = np.floor(np.asarray(x, dtype=np.float64) / self.cell_size + 0.5 * self.n_x)
        return np.clip(i, -1, self.n_x).astype(np.int32)

    def index_y(self, y: np.ndarray) -> np.ndarray:
        """Cell row of positions ``y`` in mm (``-1`` or ``n_y`` outside the grid)."""
        i = np.floor(np.asarray(y, dtype=np.float64) / self.cell_size + 0.5 * self.n_y)
        return np.clip(i, -1, self.n_y).astype(np.int32)

    def index_layer(self, z: np.ndarray, tolerance: float | None = None) -> np.ndarray:
        """Layer of positions ``z`` in mm: the nearest sensitive layer, ``-1`` if none
        lies within ``tolerance`` (default: half the thinnest layer pitch)."""
        zs = self.layer_z
        z = np.asarray(z, dtype=np.float64)
        if tolerance is None:
            tolerance = 0.5 * (min(self.absorber) + self.gap)
        nearest = np.clip(np.searchsorted(zs, z), 1, len(zs) - 1)
        left = np.abs(z - zs[nearest - 1]) <= np.abs(z - zs[nearest])
        nearest = np.where(left, nearest - 1, nearest) if len(zs) > 1 else np.zeros_like(nearest)
        ok = np.abs(z - zs[nearest]) <= tolerance
        return np.where(ok, nearest, -1).astype(np.int32)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation (the inverse of :meth:`from_dict`)."""
        d = dataclasses.asdict(self)
        d["absorber"] = list(self.absorber)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Geometry:
        """Build a geometry from :meth:`to_dict` output."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            msg = f"Geometry: unknown fields {sorted(unknown)}"
            raise ValueError(msg)
        kwargs = dict(d)
        if "absorber" in kwargs:
            kwargs["absorber"] = tuple(kwargs["absorber"])
        return cls(**kwargs)


DEFAULT_GEOMETRY = Geometry()

#: Package-local awkward behavior: ``Hit`` records get ``x, y, z`` and ``position``.
behavior: dict[Any, Any] = {}


def geometry_of(array: ak.Array) -> Geometry:
    """The geometry attached to hits (by :func:`make_showers`), else the ILD-like default."""
    param = array.layout.purelist_parameter(_GEOMETRY_PARAMETER)
    if param is None:
        return DEFAULT_GEOMETRY
    return Geometry.from_dict(json.loads(param) if isinstance(param, str) else param)


def _map_leaves(array: ak.Array, function: Any) -> ak.Array:
    """Apply a numpy function to the leaf values of a (possibly jagged) array."""

    def transform(layout: Any, **_: Any) -> Any:
        if layout.is_numpy:
            return ak.contents.NumpyArray(function(layout.data))
        return None

    return ak.transform(transform, array)


@ak.mixin_class(behavior)
class Hit:
    """Behavior of calorimeter hits: cell-centre positions in mm from the geometry."""

    @property
    def x(self) -> ak.Array:
        """Cell-centre x in mm."""
        g = geometry_of(self)
        return _map_leaves(self["ix"], g.cell_x)  # type: ignore[index]

    @property
    def y(self) -> ak.Array:
        """Cell-centre y in mm."""
        g = geometry_of(self)
        return _map_leaves(self["iy"], g.cell_y)  # type: ignore[index]

    @property
    def z(self) -> ak.Array:
        """Centre z of the sensitive layer in mm."""
        zs = geometry_of(self).layer_z
        return _map_leaves(self["layer"], lambda i: zs[i])  # type: ignore[index]

    @property
    def position(self) -> ak.Array:
        """Hit positions as ``vector`` 3D vectors (mm)."""
        return vector.zip({"x": self.x, "y": self.y, "z": self.z})


def make_showers(
    incident_energy: Any,
    counts: Any,
    layer: Any,
    ix: Any,
    iy: Any,
    energy: Any,
    *,
    weight: Any = None,
    geometry: Geometry | None = None,
) -> ak.Array:
    """Build calorimeter showers in the package schema from flat hit arrays.

    Args:
        incident_energy: ``(N,)`` incident energies in GeV.
        counts: ``(N,)`` number of hits per event.
        layer: ``(H,)`` layer index of each hit, ``H = counts.sum()``.
        ix: ``(H,)`` cell column.
        iy: ``(H,)`` cell row.
        energy: ``(H,)`` deposited energy in MeV.
        weight: optional ``(N,)`` event weights.
        geometry: geometry the indices refer to (default: ILD-like).

    Returns:
        Awkward array of ``N`` shower records.
    """
    counts = np.asarray(counts, dtype=np.int64)
    hits = {
        "layer": np.asarray(layer, dtype=np.int32),
        "ix": np.asarray(ix, dtype=np.int32),
        "iy": np.asarray(iy, dtype=np.int32),
        "energy": np.asarray(energy, dtype=np.float32),
    }
    parameters = {}
    if geometry is not None and geometry != DEFAULT_GEOMETRY:
        parameters[_GEOMETRY_PARAMETER] = json.dumps(geometry.to_dict())
    flat = ak.zip(hits, with_name="Hit", parameters=parameters or None)
    fields: dict[str, Any] = {
        "incident_energy": np.asarray(incident_energy, dtype=np.float32),
        "hits": ak.unflatten(flat, counts),
    }
    if weight is not None:
        fields["weight"] = np.asarray(weight, dtype=np.float32)
    return ak.Array(ak.zip(fields, depth_limit=1), behavior=behavior)


def make_traces(
    energy: Any,
    signal: Any,
    core_x: Any,
    core_y: Any,
    xmax: Any,
    *,
    weight: Any = None,
) -> ak.Array:
    """Build air-shower events in the package schema.

    Args:
        energy: ``(N,)`` primary energies in EeV.
        signal: ``(N, 9, 9, 80)`` station traces in VEM per 25 ns bin.
        core_x: ``(N,)`` shower-core x in m.
        core_y: ``(N,)`` shower-core y in m.
        xmax: ``(N,)`` depth of shower maximum in g/cm^2.
        weight: optional ``(N,)`` event weights.

    Returns:
        Awkward array of ``N`` event records.
    """
    signal = np.ascontiguousarray(signal, dtype=np.float32)
    if signal.shape[1:] != SIGNAL_SHAPE:
        msg = f"signal: expected shape (N, {', '.join(map(str, SIGNAL_SHAPE))}), got {signal.shape}"
        raise ValueError(msg)
    fields: dict[str, Any] = {"energy": np.asarray(energy, dtype=np.float32)}
    fields["signal"] = ak.from_numpy(signal, regulararray=True)
    fields["core_x"] = np.asarray(core_x, dtype=np.float32)
    fields["core_y"] = np.asarray(core_y, dtype=np.float32)
    fields["xmax"] = np.asarray(xmax, dtype=np.float32)
    if weight is not None:
        fields["weight"] = np.asarray(weight, dtype=np.float32)
    return ak.Array(ak.zip(fields, depth_limit=1), behavior=behavior)


def is_dask(events: Any) -> bool:
    """True for a dask-awkward array (without importing dask)."""
    return type(events).__module__.split(".")[0] == "dask_awkward"


def short_type(array: Any, limit: int = 120) -> str:
    """The awkward type of ``array`` as one line of at most ``limit`` characters."""
    text = " ".join(str(ak.type(array)).split())
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


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
    if values.dtype.kind != "f":
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
    geometry: Geometry | None = None,
    strict: bool = True,
) -> ak.Array:
    """Check that ``events`` follow the package schema.

    Args:
        events: showers, traces or generic events.
        kind: ``"showers"``, ``"traces"`` or ``"events"``; detected from the fields
            (showers or traces) when omitted.
        geometry: for showers, the geometry the hit indices must fit in (default:
            the one attached to the hits, else ILD-like).
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


def _validate_hits(hits: ak.Array, geometry: Geometry | None, strict: bool) -> None:
    if hits.layout.purelist_depth != 2 or ak.fields(hits) == []:
        msg = f"field 'hits': expected var * {{layer, ix, iy, energy}}, got type {ak.type(hits)}"
        raise ValueError(msg)
    for name, expected in _HIT_FIELDS.items():
        if name not in ak.fields(hits):
            msg = f"showers: missing field 'hits.{name}' (have {ak.fields(hits)})"
            raise ValueError(msg)
        _check_dtype(f"hits.{name}", _leaf_dtype(hits[name], f"hits.{name}", 2), expected, strict)
    _check_finite("hits.energy", _flat_numpy(hits["energy"]), nonnegative=True)
    g = geometry if geometry is not None else geometry_of(hits)
    for name, size in (("layer", g.n_layers), ("ix", g.n_x), ("iy", g.n_y)):
        values = _flat_numpy(hits[name])
        if values.size == 0 or (values.min() >= 0 and values.max() < size):
            continue
        bad = (values < 0) | (values >= size)
        first = int(np.flatnonzero(bad)[0])
        msg = (
            f"field 'hits.{name}': {int(bad.sum())} value(s) outside the geometry "
            f"[0, {size}), first {int(values[first])} at flat index {first}"
        )
        raise ValueError(msg)


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
    if kind == "showers":
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
