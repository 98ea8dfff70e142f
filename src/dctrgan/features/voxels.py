"""Showers as hits and as dense voxels: :func:`voxelize` and its inverse :func:`from_voxels`.

Dense voxels are ``(N, n_layers, n_x, n_y)`` float32 energies in MeV, indexed
``(event, layer, ix, iy)``; hits are the package schema's cells above threshold.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from dctrgan.data import DEFAULT_GEOMETRY, Geometry, geometry_of, make_showers
from dctrgan.features._scatter import check_range, scatter

__all__ = ("dense_voxels", "flat_hits", "from_voxels", "shower_geometry", "voxelize")


def shower_geometry(events: ak.Array | np.ndarray, geometry: Geometry | None) -> Geometry:
    if geometry is not None:
        return geometry
    if isinstance(events, ak.Array) and "hits" in ak.fields(events):
        return geometry_of(events["hits"])
    return DEFAULT_GEOMETRY


def dense_voxels(voxels: Any, geometry: Geometry) -> np.ndarray:
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


def flat_hits(showers: ak.Array) -> tuple[np.ndarray, dict[str, np.ndarray]]:
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
    g = shower_geometry(showers, geometry)
    counts, hits = flat_hits(showers)
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
    dense = dense_voxels(voxels, g)
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
