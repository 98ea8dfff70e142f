"""Event schemas, detector geometry and awkward behaviors.

dctrgan works on three kinds of events, all awkward arrays of records:

``"showers"`` (calorimeter showers), one record per event::

    incident_energy: float32                                   # GeV
    hits: var * Hit{layer: int32, ix: int32, iy: int32, energy: float32}   # energy in MeV
    weight: float32                                            # optional; absent means 1

Showers binned like the Fast Calorimeter Simulation Challenge's datasets (cylindrical
layers of angular and radial bins, :mod:`dctrgan.data.cylindrical`) have hits
``CylindricalHit{layer, alpha, r: int32, energy: float32}`` of bin indices instead.

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
package-local :data:`behavior`, computed from the :class:`Geometry`. Checking and
casting events to these schemas: :mod:`dctrgan.data.validation`.
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
    "GEOMETRY_PARAMETER",
    "KINDS",
    "SIGNAL_SHAPE",
    "Events",
    "Geometry",
    "Kind",
    "behavior",
    "geometry_of",
    "is_dask",
    "make_showers",
    "make_traces",
    "short_type",
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

#: The parameter of the hits that holds their geometry (JSON).
GEOMETRY_PARAMETER = "dctrgan.geometry"


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
        """Absorber depth in radiation lengths at each sensitive layer, ``(n_layers,)``."""
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
    """The geometry attached to hits (by :func:`make_showers`), else the ILD-like default.

    Raises:
        ValueError: for showers of a cylindrical geometry
            (:func:`dctrgan.data.binning_of` gives theirs).
    """
    param = array.layout.purelist_parameter(GEOMETRY_PARAMETER)
    if param is None:
        return DEFAULT_GEOMETRY
    fields = json.loads(param) if isinstance(param, str) else param
    if fields.get("kind") == "cylindrical":
        msg = (
            "these showers are binned in a cylindrical (layer, alpha, r) geometry "
            "(CaloChallenge), not in square cells: this needs showers of a Geometry"
        )
        raise ValueError(msg)
    return Geometry.from_dict(fields)


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
        parameters[GEOMETRY_PARAMETER] = json.dumps(geometry.to_dict())
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
