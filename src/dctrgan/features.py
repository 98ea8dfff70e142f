"""Shower and trace features: the paper's observables and the dense (voxel) form.

Calorimeter observables (DCTRGAN Figs. 3-8) are computed from showers in the
package schema or from dense voxels ``(N, n_layers, n_x, n_y)`` in MeV; both give
the same numbers for the same cells. Layers count from 1 in names and in the
longitudinal centroid, as in the paper. Positions are cell centres from the
:class:`~dctrgan.data.Geometry` (mm, grid centred on the calorimeter axis
``x = y = 0``; ``z`` from the calorimeter front).

An energy-weighted mean over no energy (an empty shower, an empty layer) is 0,
never NaN, so every observable can be histogrammed and fed to a classifier.

:func:`voxelize` and :func:`from_voxels` convert between hits and dense voxels;
:func:`pattern` gives the time-integrated 9x9 footprint of air-shower traces;
:func:`total_signal`, :func:`rise_time` and :func:`early_fraction` summarize the
traces (muon-rich traces rise faster and hold more of their signal early than
electromagnetic ones).

References:
    DCTRGAN (Diefenbacher et al.), sec. III B and Figs. 3-8.
    Erdmann, Glombitza, Walz et al., sec. 3-4: time-integrated signal patterns.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Literal, TypeAlias

import awkward as ak
import numpy as np

from dctrgan._scatter import check_range, scatter
from dctrgan._traces import early_fractions, rise_times, signal_array
from dctrgan.data import (
    DEFAULT_GEOMETRY,
    Geometry,
    detect_kind,
    geometry_of,
    make_showers,
    validate,
)

__all__ = (
    "HIGH_LEVEL_NAMES",
    "active_cells",
    "centroid",
    "early_fraction",
    "from_voxels",
    "high_level",
    "layer_differences",
    "layer_energies",
    "observable_unit",
    "observables",
    "pattern",
    "rise_time",
    "second_moments",
    "total_energy",
    "total_signal",
    "voxelize",
)

# Showers in the package schema, or dense voxels ``(N, n_layers, n_x, n_y)`` in MeV.
_Showers: TypeAlias = ak.Array | np.ndarray

#: Names of the 33 columns of :func:`high_level`, in order. Layers count from 1 as in the paper.
HIGH_LEVEL_NAMES: tuple[str, ...] = (
    "active_cells",
    "longitudinal_centroid",
    "total_energy",
    *(f"energy_layer_{i}" for i in range(1, 31)),
)

_UNITS: tuple[tuple[str, str], ...] = (
    (r"active_cells", ""),
    (r"longitudinal_centroid", "layer"),
    (r"total_energy", "MeV"),
    (r"energy_layer_\d+(_minus_\d+)?", "MeV"),
    (r"second_moment_[xy]_layer_\d+", "mm^2"),
    (r"centroid_[xyz]", "mm"),
)


@dataclasses.dataclass(frozen=True)
class _Projections:
    """Energy projected on (layer, x) and (layer, y) per event, and the active cells.

    Every calorimeter observable of this module is a function of these:
    ``ex[n, l, i]`` is the energy (MeV, float64) of event ``n`` in layer ``l`` and
    column ``i``, summed over rows; ``ey[n, l, j]`` the same summed over columns.
    """

    ex: np.ndarray
    ey: np.ndarray
    active: np.ndarray
    geometry: Geometry

    @property
    def layers(self) -> np.ndarray:
        """``(N, n_layers)`` layer energies, MeV."""
        return np.asarray(self.ex.sum(axis=2))

    def moment(self, positions: np.ndarray, power: int, axis: Literal["x", "y"]) -> np.ndarray:
        """``(N, n_layers)`` energy-weighted sums of ``position**power`` per layer."""
        e = self.ex if axis == "x" else self.ey
        return np.asarray(e @ positions**power)


def _geometry(events: _Showers, geometry: Geometry | None) -> Geometry:
    if geometry is not None:
        return geometry
    if isinstance(events, ak.Array) and "hits" in ak.fields(events):
        return geometry_of(events["hits"])
    return DEFAULT_GEOMETRY


def _dense(voxels: Any, geometry: Geometry) -> np.ndarray:
    """``voxels`` as a numpy array of shape ``(N, *geometry.shape)``, or a ValueError."""
    array = np.asarray(voxels)
    if array.ndim != 4 or array.shape[1:] != geometry.shape:
        msg = (
            f"voxels: expected dense voxels of shape (N, {', '.join(map(str, geometry.shape))}) "
            f"for this geometry, got {array.shape}"
        )
        raise ValueError(msg)
    if array.dtype.kind not in "iuf":
        msg = f"voxels: expected numbers, got dtype {array.dtype}"
        raise ValueError(msg)
    return array


def _flat_hits(showers: ak.Array) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Hits per event ``(N,)`` and flat ``layer, ix, iy, energy`` arrays ``(H,)``."""
    if not isinstance(showers, ak.Array) or "hits" not in ak.fields(showers):
        fields = ak.fields(showers) if isinstance(showers, ak.Array) else type(showers).__name__
        msg = f"showers: expected awkward showers with a 'hits' field, got {fields}"
        raise ValueError(msg)
    hits = showers["hits"]
    missing = {"layer", "ix", "iy", "energy"} - set(ak.fields(hits))
    if missing:
        msg = f"showers: missing field(s) {sorted(f'hits.{m}' for m in missing)}"
        raise ValueError(msg)
    counts = np.asarray(ak.to_numpy(ak.num(hits, axis=1)), dtype=np.int64)
    flat = ak.flatten(hits, axis=1)
    columns = {f: np.asarray(ak.to_numpy(flat[f])) for f in ("layer", "ix", "iy", "energy")}
    return counts, columns


def _project(events: _Showers, geometry: Geometry | None) -> _Projections:
    g = _geometry(events, geometry)
    n_layers, n_x, n_y = g.shape
    if not isinstance(events, ak.Array):
        dense = _dense(events, g)
        n = len(dense)
        ex = dense.sum(axis=3, dtype=np.float64)
        ey = dense.sum(axis=2, dtype=np.float64)
        active = np.count_nonzero(dense.reshape(n, -1), axis=1).astype(np.int64)
        return _Projections(ex, ey, active, g)
    validate(events, "showers", geometry=g, strict=False)
    counts, hits = _flat_hits(events)
    n = len(counts)
    base = np.repeat(np.arange(n, dtype=np.int64) * n_layers, counts) + hits["layer"]
    energy = hits["energy"].astype(np.float64)
    ex = np.bincount(base * n_x + hits["ix"], weights=energy, minlength=n * n_layers * n_x)
    ey = np.bincount(base * n_y + hits["iy"], weights=energy, minlength=n * n_layers * n_y)
    return _Projections(ex.reshape(n, n_layers, n_x), ey.reshape(n, n_layers, n_y), counts, g)


def _weighted_mean(numerator: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """``numerator / energy``, 0 where there is no energy."""
    out = np.zeros(np.broadcast_shapes(numerator.shape, energy.shape))
    np.divide(numerator, energy, out=out, where=energy > 0)
    return out


def layer_energies(showers: _Showers, geometry: Geometry | None = None) -> np.ndarray:
    """Energy deposited in each layer.

    Args:
        showers: calorimeter showers, or dense voxels ``(N, n_layers, n_x, n_y)`` in MeV.
        geometry: the calorimeter (default: the one attached to the hits, else ILD-like).

    Returns:
        ``(N, n_layers)`` float64 layer energies in MeV.
    """
    return _project(showers, geometry).layers


def total_energy(showers: _Showers, geometry: Geometry | None = None) -> np.ndarray:
    """Total visible energy of each shower.

    Args:
        showers: calorimeter showers, or dense voxels ``(N, n_layers, n_x, n_y)`` in MeV.
        geometry: the calorimeter (default: the one attached to the hits, else ILD-like).

    Returns:
        ``(N,)`` float64 energies in MeV.
    """
    return np.asarray(layer_energies(showers, geometry).sum(axis=1))


def active_cells(showers: _Showers, geometry: Geometry | None = None) -> np.ndarray:
    """Number of active cells of each shower (DCTRGAN Fig. 3, left).

    For showers this is the number of hits (the schema stores cells above
    threshold only; hits are assumed to be distinct cells); for dense voxels the
    number of nonzero cells.

    Args:
        showers: calorimeter showers, or dense voxels ``(N, n_layers, n_x, n_y)``.
        geometry: the calorimeter (default: the one attached to the hits, else ILD-like).

    Returns:
        ``(N,)`` int64 counts.
    """
    if isinstance(showers, ak.Array):
        validate(showers, "showers", geometry=_geometry(showers, geometry), strict=False)
        return np.asarray(ak.to_numpy(ak.num(showers["hits"], axis=1)), dtype=np.int64)
    dense = _dense(showers, _geometry(showers, geometry))
    return np.asarray(np.count_nonzero(dense.reshape(len(dense), -1), axis=1), dtype=np.int64)


def layer_differences(
    showers: _Showers, step: int = 1, geometry: Geometry | None = None
) -> np.ndarray:
    """Energy differences between layers ``step`` apart (DCTRGAN Fig. 5).

    Column ``j`` (0-based) is ``E_{j+1} - E_{j+1+step}`` with layers counted from
    1: ``step=1`` gives ``E_1 - E_2, ..., E_29 - E_30`` and ``step=4`` gives
    ``E_1 - E_5, ..., E_26 - E_30``.

    Args:
        showers: calorimeter showers, or dense voxels ``(N, n_layers, n_x, n_y)`` in MeV.
        step: layer distance, ``1 <= step < n_layers``.
        geometry: the calorimeter (default: the one attached to the hits, else ILD-like).

    Returns:
        ``(N, n_layers - step)`` float64 differences in MeV.

    Raises:
        ValueError: if ``step`` is out of range.
    """
    layers = layer_energies(showers, geometry)
    if not 1 <= step < layers.shape[1]:
        msg = f"layer_differences: step must be in [1, {layers.shape[1]}), got {step}"
        raise ValueError(msg)
    return np.asarray(layers[:, :-step] - layers[:, step:])


def second_moments(
    showers: _Showers, axis: Literal["x", "y"] = "x", geometry: Geometry | None = None
) -> np.ndarray:
    """Energy-weighted second moment ``<X^2>`` (or ``<Y^2>``) in each layer (DCTRGAN Fig. 6).

    ``<X^2>_l = sum_c E_c x_c^2 / sum_c E_c`` over the cells ``c`` of layer ``l``,
    with ``x_c`` the cell-centre position (:meth:`Geometry.cell_x`), i.e. the moment
    about the calorimeter axis ``x = 0``, not about the shower centroid. A layer
    without energy gives 0.

    Args:
        showers: calorimeter showers, or dense voxels ``(N, n_layers, n_x, n_y)`` in MeV.
        axis: ``"x"`` for ``<X^2>``, ``"y"`` for ``<Y^2>``.
        geometry: the calorimeter (default: the one attached to the hits, else ILD-like).

    Returns:
        ``(N, n_layers)`` float64 moments in mm^2.

    Raises:
        ValueError: if ``axis`` is not ``"x"`` or ``"y"``.
    """
    if axis not in ("x", "y"):
        msg = f"second_moments: axis must be 'x' or 'y', got {axis!r}"
        raise ValueError(msg)
    p = _project(showers, geometry)
    return _second_moments(p, axis)


def _second_moments(p: _Projections, axis: Literal["x", "y"]) -> np.ndarray:
    g = p.geometry
    positions = g.cell_x(np.arange(g.n_x)) if axis == "x" else g.cell_y(np.arange(g.n_y))
    return _weighted_mean(p.moment(positions, 2, axis), p.layers)


def centroid(
    showers: _Showers,
    axis: Literal["x", "y", "z", "layer"] = "layer",
    geometry: Geometry | None = None,
) -> np.ndarray:
    """Energy-weighted centroid of each shower.

    ``<X> = sum_c E_c x_c / sum_c E_c`` over all cells; the same for ``y`` and for
    ``z``, the depth of the cell's sensitive layer (:attr:`Geometry.layer_z`).
    ``axis="layer"`` is the paper's longitudinal centroid ``sum_i i E_i / sum_i E_i``
    with layers counted from 1. An empty shower gives 0.

    Args:
        showers: calorimeter showers, or dense voxels ``(N, n_layers, n_x, n_y)`` in MeV.
        axis: ``"x"``, ``"y"``, ``"z"`` (mm) or ``"layer"`` (layer index from 1).
        geometry: the calorimeter (default: the one attached to the hits, else ILD-like).

    Returns:
        ``(N,)`` float64 centroids, in mm (``x, y, z``) or layers (``"layer"``).

    Raises:
        ValueError: if ``axis`` is not one of the four.

    References:
        DCTRGAN (Diefenbacher et al.), sec. III B (longitudinal centroid).
    """
    if axis not in ("x", "y", "z", "layer"):
        msg = f"centroid: axis must be 'x', 'y', 'z' or 'layer', got {axis!r}"
        raise ValueError(msg)
    return _centroid(_project(showers, geometry), axis)


def _centroid(p: _Projections, axis: Literal["x", "y", "z", "layer"]) -> np.ndarray:
    g = p.geometry
    layers = p.layers
    total = layers.sum(axis=1)
    if axis == "x":
        numerator = p.moment(g.cell_x(np.arange(g.n_x)), 1, "x").sum(axis=1)
    elif axis == "y":
        numerator = p.moment(g.cell_y(np.arange(g.n_y)), 1, "y").sum(axis=1)
    elif axis == "z":
        numerator = layers @ g.layer_z
    else:
        numerator = layers @ np.arange(1, g.n_layers + 1, dtype=np.float64)
    return _weighted_mean(numerator, total)


def high_level(showers: _Showers, geometry: Geometry | None = None) -> np.ndarray:
    """The 33 high-level features of the DCTRGAN paper.

    Columns (:data:`HIGH_LEVEL_NAMES`): number of active cells, longitudinal
    centroid ``sum_i i E_i / sum_i E_i`` (layers counted from 1; 0 for an empty
    shower), total visible energy (MeV), and the energy in each of the 30 layers (MeV).
    With another geometry there are ``3 + n_layers`` columns.

    Args:
        showers: calorimeter showers in the package schema, or dense voxels
            ``(N, n_layers, n_x, n_y)`` in MeV (active cells = nonzero cells).
        geometry: the calorimeter (default: the one attached to the hits, else ILD-like).

    Returns:
        ``(N, 3 + n_layers)`` float32 array, ``(N, 33)`` for the default geometry.

    References:
        DCTRGAN (Diefenbacher et al.), sec. III B.
    """
    p = _project(showers, geometry)
    layers = p.layers
    columns = [p.active.astype(np.float64), _centroid(p, "layer"), layers.sum(axis=1), layers]
    return np.column_stack(columns).astype(np.float32)


def observables(showers: _Showers, geometry: Geometry | None = None) -> dict[str, np.ndarray]:
    """Every calorimeter observable of the DCTRGAN figures, by name.

    Names (layers counted from 1; units from :func:`observable_unit`):

    - the 33 :data:`HIGH_LEVEL_NAMES` (Figs. 3, 4): ``active_cells``,
      ``longitudinal_centroid`` (layer), ``total_energy`` (MeV),
      ``energy_layer_{i}`` (MeV);
    - ``energy_layer_{i}_minus_{i+1}`` and ``energy_layer_{i}_minus_{i+4}`` (MeV, Fig. 5);
    - ``second_moment_x_layer_{i}`` and ``second_moment_y_layer_{i}`` (mm^2, Fig. 6);
    - ``centroid_x``, ``centroid_y``, ``centroid_z`` (mm).

    That is 151 observables for the default 30-layer geometry.

    Args:
        showers: calorimeter showers, or dense voxels ``(N, n_layers, n_x, n_y)`` in MeV.
        geometry: the calorimeter (default: the one attached to the hits, else ILD-like).

    Returns:
        Insertion-ordered ``{name: (N,) float64 array}``.
    """
    p = _project(showers, geometry)
    layers = p.layers
    n_layers = layers.shape[1]
    out: dict[str, np.ndarray] = {
        "active_cells": p.active.astype(np.float64),
        "longitudinal_centroid": _centroid(p, "layer"),
        "total_energy": layers.sum(axis=1),
    }
    for i in range(n_layers):
        out[f"energy_layer_{i + 1}"] = layers[:, i]
    for step in (1, 4):
        for i in range(n_layers - step):
            out[f"energy_layer_{i + 1}_minus_{i + 1 + step}"] = layers[:, i] - layers[:, i + step]
    moments = {"x": _second_moments(p, "x"), "y": _second_moments(p, "y")}
    for axis, values in moments.items():
        for i in range(n_layers):
            out[f"second_moment_{axis}_layer_{i + 1}"] = values[:, i]
    out["centroid_x"] = _centroid(p, "x")
    out["centroid_y"] = _centroid(p, "y")
    out["centroid_z"] = _centroid(p, "z")
    return out


def observable_unit(name: str) -> str:
    """Unit of an observable of :func:`observables`: ``""``, ``"layer"``, ``"MeV"``,
    ``"mm"`` or ``"mm^2"``.

    Raises:
        KeyError: for a name :func:`observables` does not produce.
    """
    for pattern_, unit in _UNITS:
        if re.fullmatch(pattern_, name):
            return unit
    msg = f"unknown observable {name!r}"
    raise KeyError(msg)


def voxelize(
    showers: ak.Array,
    geometry: Geometry | None = None,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Dense voxels of calorimeter showers; hits in the same cell are summed.

    Memory is ``N * n_layers * n_x * n_y * 4`` bytes (108 kB per event for the
    default geometry, 1 GB for 10 000 events). To bound it, convert in chunks into
    one buffer::

        buffer = np.empty((1024, *Geometry().shape), dtype=np.float32)
        for start in range(0, len(showers), 1024):
            part = showers[start : start + 1024]
            dense = voxelize(part, out=buffer[: len(part)])

    Hits that are distinct cells sorted by ``(layer, ix, iy)`` in each event (the
    layout of :func:`from_voxels` and of ``dctrgan.simulate``) are scattered by one
    flat-index assignment. Hits in any other order add a count of the nonzero
    cells per cache-sized chunk of events; a chunk with repeated cells (or zero
    energies) is then redone, summing energies that share a cell. No ``np.add.at``:
    the time is the same on numpy 1.x, where it is slow.

    Args:
        showers: calorimeter showers in the package schema.
        geometry: the calorimeter (default: the one attached to the hits, else ILD-like).
        out: optional C-contiguous float32 array ``(N, n_layers, n_x, n_y)`` to
            fill; it is overwritten.

    Returns:
        ``(N, n_layers, n_x, n_y)`` float32 energies in MeV, indexed
        ``(event, layer, ix, iy)`` (``out`` when given).

    Raises:
        ValueError: for hits outside the geometry, missing fields or a bad ``out``.
    """
    g = _geometry(showers, geometry)
    counts, hits = _flat_hits(showers)
    n, n_layers, n_x, n_y = len(counts), *g.shape
    shape = (n, n_layers, n_x, n_y)
    for name, size in (("layer", n_layers), ("ix", n_x), ("iy", n_y)):
        check_range(name, hits[name], size)
    if out is None:
        out = np.zeros(shape, dtype=np.float32)
    else:
        if out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
            msg = (
                f"voxelize: out must be a C-contiguous float32 array of shape {shape}, "
                f"got {out.dtype} {out.shape}"
            )
            raise ValueError(msg)
        out.fill(0.0)
    n_cells = n_layers * n_x * n_y
    # Cell index within the event in int32 where it fits: half the memory traffic.
    local = np.multiply(hits["layer"], n_x, dtype=np.int32 if n_cells < 2**31 else np.int64)
    local += hits["ix"]
    local *= n_y
    local += hits["iy"]
    index = np.repeat(np.arange(n, dtype=np.int64) * n_cells, counts)
    index += local
    scatter(out.reshape(-1), index, hits["energy"], counts, n_cells)
    return out


def from_voxels(
    voxels: Any,
    incident_energy: Any,
    geometry: Geometry | None = None,
    *,
    threshold: float | None = None,
    weight: Any = None,
) -> ak.Array:
    """Showers in the package schema from dense voxels (the inverse of :func:`voxelize`).

    Every nonzero cell becomes a hit (or, with ``threshold``, every cell with
    energy ``>= threshold``, e.g. ``geometry.threshold`` for generator output);
    hits are sorted by ``(layer, ix, iy)`` in each event. ``from_voxels(voxelize(s),
    ...)`` gives back ``s`` exactly when its hits are distinct cells, sorted, with
    nonzero energy.

    Args:
        voxels: ``(N, n_layers, n_x, n_y)`` energies in MeV (float32 or castable).
        incident_energy: ``(N,)`` incident energies in GeV, or one for all events.
        geometry: the calorimeter the voxels belong to (default: ILD-like); attached
            to the hits when it is not the default.
        threshold: keep cells with energy ``>= threshold`` MeV instead of nonzero cells.
        weight: optional ``(N,)`` event weights.

    Returns:
        Awkward array of ``N`` showers.

    Raises:
        ValueError: if the voxels do not match the geometry, or ``incident_energy``
            does not match ``N``.
    """
    g = geometry if geometry is not None else DEFAULT_GEOMETRY
    dense = _dense(voxels, g)
    n, n_layers, n_x, n_y = dense.shape
    incident = np.asarray(incident_energy, dtype=np.float32)
    if incident.ndim == 0:
        incident = np.full(n, incident, dtype=np.float32)
    elif incident.shape != (n,):
        msg = f"from_voxels: incident_energy must have shape ({n},), got {incident.shape}"
        raise ValueError(msg)
    n_cells = n_layers * n_x * n_y
    flat = dense.reshape(-1)
    index = np.flatnonzero(flat != 0 if threshold is None else flat >= threshold)
    bounds = np.searchsorted(index, np.arange(n + 1, dtype=np.int64) * n_cells)
    counts = np.diff(bounds)
    cell = index - np.repeat(np.arange(n, dtype=np.int64) * n_cells, counts)
    # (layer, ix, iy) of each cell from small lookup tables: cheaper than divisions.
    layer, ix, iy = (
        table.reshape(-1)[cell] for table in np.indices(dense.shape[1:], dtype=np.int32)
    )
    energy = np.asarray(flat[index], dtype=np.float32)
    return make_showers(incident, counts, layer, ix, iy, energy, weight=weight, geometry=g)


def pattern(events: ak.Array | np.ndarray) -> np.ndarray:
    """Time-integrated signal footprints ``sum_t signal[..., t]`` of air-shower events.

    Args:
        events: traces in the package schema (a ``signal`` field), or a plain
            ``(N, 9, 9, 80)`` signal array (any ``(N, n_x, n_y, n_t)`` is accepted).

    Returns:
        ``(N, n_x, n_y)`` float32 total signal per station in VEM, ``(N, 9, 9)``
        for the package schema.

    Raises:
        ValueError: if there is no ``signal`` field or it is not 4-dimensional.

    References:
        Erdmann, Glombitza, Walz et al., sec. 3-4 (time-integrated signal patterns).
    """
    if isinstance(events, ak.Array):
        if detect_kind(events) != "traces":
            msg = f"pattern: expected traces with a 'signal' field, got fields {ak.fields(events)}"
            raise ValueError(msg)
        try:
            signal = np.asarray(ak.to_numpy(events["signal"], allow_missing=False))
        except (TypeError, ValueError) as err:
            msg = (
                f"pattern: field 'signal' is not a regular array, type {ak.type(events['signal'])}"
            )
            raise ValueError(msg) from err
    else:
        signal = np.asarray(events)
    if signal.ndim != 4 or signal.dtype.kind not in "iuf":
        msg = (
            "pattern: expected a numeric signal of shape (N, n_x, n_y, n_t), "
            f"got {signal.dtype} {signal.shape}"
        )
        raise ValueError(msg)
    return np.asarray(signal.sum(axis=-1, dtype=np.float64), dtype=np.float32)


def total_signal(events: ak.Array | np.ndarray) -> np.ndarray:
    """Total signal of each air-shower event in VEM, ``(N,)`` float64 (per station: :func:`pattern`).

    Args:
        events: traces (a ``signal`` field) or a ``(N, n_x, n_y, n_t)`` signal array.
    """
    signal = signal_array(events, "total_signal")
    return np.asarray(signal.reshape(len(signal), -1).sum(axis=1, dtype=np.float64))


def rise_time(
    events: ak.Array | np.ndarray, low: float = 0.1, high: float = 0.5, bin_width: float = 25.0
) -> np.ndarray:
    """Signal rise time of each station: the time from ``low`` to ``high`` of its total.

    The cumulative trace is taken as linear within each bin and the times at which
    it reaches ``low`` and ``high`` of the station total are interpolated within
    the bins where it crosses them (default: the ``t10 -> t50`` rise time).
    Stations without signal (a total of 0: the untriggered stations of the package
    schema) have no rise time and get NaN; select the others with ``np.isfinite``
    or ``pattern(events) > 0``.

    Args:
        events: traces (a ``signal`` field) or a ``(N, n_x, n_y, n_t)`` signal array.
        low: the fraction that starts the rise, in ``(0, 1]``.
        high: the fraction that ends it, in ``[low, 1]``.
        bin_width: time bin width in ns (25 in the package schema).

    Returns:
        ``(N, n_x, n_y)`` float64 rise times in ns, NaN for stations without signal.

    Raises:
        ValueError: for fractions out of range or a bad signal (shape, NaN).
    """
    return rise_times(signal_array(events, "rise_time"), low, high, bin_width)


def early_fraction(events: ak.Array | np.ndarray, bins: int = 16, start: float = 0.1) -> np.ndarray:
    """Fraction of each station's signal in the first ``bins`` time bins after the trace start.

    The trace starts in the bin where the cumulative signal reaches ``start`` of
    the total (the 10 % point: unlike a threshold on single bins, baseline noise
    does not move it); the fraction counts that bin and the ``bins - 1`` after it.
    The default 16 bins (400 ns, about 1.5 times the median ``t10 -> t50`` rise
    time of :func:`dctrgan.simulate.airshower`) hold the muon-dominated front of a
    trace and leave out most of the later electromagnetic tail: the simulator's
    ``"sim"`` (70 % muons) and ``"data"`` (30 %) differ by a separation power of
    about 0.05 there, four times more than with 4 bins. Stations without signal get NaN.

    Args:
        events: traces (a ``signal`` field) or a ``(N, n_x, n_y, n_t)`` signal array.
        bins: window length in time bins, ``>= 1``.
        start: the fraction of the total that marks the trace start, in ``(0, 1]``.

    Returns:
        ``(N, n_x, n_y)`` float64 fractions in ``(0, 1]``, NaN for stations without signal.

    Raises:
        ValueError: for ``bins < 1``, ``start`` out of range or a bad signal.
    """
    return early_fractions(signal_array(events, "early_fraction"), bins, start)
