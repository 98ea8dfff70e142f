"""Calorimeter observables: the DCTRGAN paper's high-level features and more.

Calorimeter observables (DCTRGAN Figs. 3-8) are computed from showers in the
package schema or from dense voxels ``(N, n_layers, n_x, n_y)`` in MeV; both give
the same numbers for the same cells. Layers count from 1 in names and in the
longitudinal centroid, as in the paper. Positions are cell centres from the
:class:`~dctrgan.data.Geometry` (mm, grid centred on the calorimeter axis
``x = y = 0``; ``z`` from the calorimeter front).

An energy-weighted mean over no energy (an empty shower, an empty layer) is 0,
never NaN, so every observable can be histogrammed and fed to a classifier.

References:
    DCTRGAN (Diefenbacher et al.), sec. III B and Figs. 3-8.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable
from typing import Literal, TypeAlias

import awkward as ak
import numpy as np

from dctrgan.data import Geometry, validate
from dctrgan.features.voxels import dense_voxels, flat_hits, shower_geometry

__all__ = (
    "HIGH_LEVEL_NAMES",
    "active_cells",
    "centroid",
    "high_level",
    "layer_differences",
    "layer_energies",
    "observable_unit",
    "observables",
    "second_moments",
    "total_energy",
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


#: Events per ``bincount`` of the projections: each bin belongs to one event, so the
#: sums are those of one ``bincount`` over all events, and the temporaries stay small.
_BLOCK = 1024


@dataclasses.dataclass(frozen=True)
class _Projections:
    """Energy projected on (layer, x) and (layer, y) per event, and the active cells.

    Every calorimeter observable of this module is a function of these:
    ``ex[n, l, i]`` is the energy (MeV, float64) of event ``n`` in layer ``l`` and
    column ``i``, summed over rows; ``ey[n, l, j]`` the same summed over columns.
    Each is computed when first asked for; the layer energies ``ex.sum(axis=2)``
    without ``ex`` as a whole where ``layers`` gives them (the high-level features).
    """

    project_x: Callable[[], np.ndarray]
    project_y: Callable[[], np.ndarray]
    active: np.ndarray
    geometry: Geometry
    project_layers: Callable[[], np.ndarray] | None = None

    @functools.cached_property
    def ex(self) -> np.ndarray:
        """``(N, n_layers, n_x)`` energy per layer and column, MeV."""
        return self.project_x()

    @functools.cached_property
    def ey(self) -> np.ndarray:
        """``(N, n_layers, n_y)`` energy per layer and row, MeV."""
        return self.project_y()

    @functools.cached_property
    def layers(self) -> np.ndarray:
        """``(N, n_layers)`` layer energies, MeV."""
        if self.project_layers is None or "ex" in self.__dict__:
            return np.asarray(self.ex.sum(axis=2))
        return self.project_layers()

    def moment(self, positions: np.ndarray, power: int, axis: Literal["x", "y"]) -> np.ndarray:
        """``(N, n_layers)`` energy-weighted sums of ``position**power`` per layer."""
        e = self.ex if axis == "x" else self.ey
        return np.asarray(e @ positions**power)


def _project(events: _Showers, geometry: Geometry | None) -> _Projections:
    g = shower_geometry(events, geometry)
    n_layers, n_x, n_y = g.shape
    if not isinstance(events, ak.Array):
        dense = dense_voxels(events, g)
        n = len(dense)
        active = np.count_nonzero(dense.reshape(n, -1), axis=1).astype(np.int64)
        return _Projections(
            lambda: dense.sum(axis=3, dtype=np.float64),
            lambda: dense.sum(axis=2, dtype=np.float64),
            active,
            g,
        )
    validate(events, "showers", geometry=g, strict=False)
    counts, hits = flat_hits(events)
    n = len(counts)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])

    def project(index: np.ndarray, size: int, layers: bool = False) -> np.ndarray:
        """``(N, n_layers, size)`` energies per layer and ``index`` (or their sums over
        ``index``, ``(N, n_layers)``), ``_BLOCK`` events at a time."""
        out = np.empty((n, n_layers) if layers else (n, n_layers, size))
        for a in range(0, n, _BLOCK):
            b = min(a + _BLOCK, n)
            lo, hi = offsets[a], offsets[b]
            bins = np.repeat(np.arange(0, (b - a) * n_layers, n_layers), counts[a:b])
            bins += hits["layer"][lo:hi]
            bins *= size
            bins += index[lo:hi]
            energy = hits["energy"][lo:hi].astype(np.float64)
            summed = np.bincount(bins, weights=energy, minlength=(b - a) * n_layers * size)
            summed = summed.reshape(b - a, n_layers, size)
            out[a:b] = summed.sum(axis=2) if layers else summed
        return out

    return _Projections(
        lambda: project(hits["ix"], n_x),
        lambda: project(hits["iy"], n_y),
        counts,
        g,
        lambda: project(hits["ix"], n_x, layers=True),
    )


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
        validate(showers, "showers", geometry=shower_geometry(showers, geometry), strict=False)
        return np.asarray(ak.to_numpy(ak.num(showers["hits"], axis=1)), dtype=np.int64)
    dense = dense_voxels(showers, shower_geometry(showers, geometry))
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
    # the moments first: they project on x as a whole, and the layer energies are its sums
    moments = {"x": _second_moments(p, "x"), "y": _second_moments(p, "y")}
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
