"""Showers as a profile and hits, and back: the numpy half of :class:`dctrgan.ShowerGAN`.

A shower of ``L`` layers becomes

- its **profile** ``(2 L + 2,)``: ``log1p`` of each layer's energy (MeV) and active-cell
  count, then the energy-weighted centroid ``(x, y)`` in mm, mapped onto a standard
  normal through its quantiles (:class:`Gaussianized`: the impact points fill a cell
  with sharp edges, which a Gaussian mixture would round off);
- its **hits**: each active cell's offset from the centroid and its energy, with the
  cell's layer summary (:func:`hit_conditions`) as the condition.

:func:`place` turns a generated profile and a hit generator back into hits: each layer
draws positions until it has its count of distinct cells, then energies at those cells,
scaled so that the layer holds its energy with every cell at or above the threshold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from statistics import NormalDist
from typing import Any

import numpy as np

from dctrgan.data import Geometry

__all__ = (
    "Gaussianized",
    "Hits",
    "Profiles",
    "hit_conditions",
    "place",
    "profiles",
    "training_hits",
)

#: Extra position draws per layer beyond twice its count: draws land on cells taken
#: before (the core is drawn again and again) or outside the calorimeter.
_SPARE = 10
#: Smallest energy share of a cell before the scaling (keeps every share positive).
_MIN_SHARE = 1e-3
#: Quantiles of :class:`Gaussianized`.
_LEVELS = 257


@dataclasses.dataclass(frozen=True)
class Gaussianized:
    """A monotone map of columns onto a standard normal through their quantiles.

    ``forward`` interpolates between the quantiles at ``_LEVELS`` probabilities
    ``(k + 1/2) / _LEVELS`` (the first and last replaced by the smallest and largest
    value) and the normal's quantiles at the same probabilities; ``inverse`` goes back,
    clamping at the smallest and largest value (none outside the training range).

    Attributes:
        knots: ``(levels, k)`` increasing quantiles of each column.
    """

    knots: np.ndarray

    @staticmethod
    def _normal() -> np.ndarray:
        p = (np.arange(_LEVELS) + 0.5) / _LEVELS
        return np.array([NormalDist().inv_cdf(q) for q in p])

    @classmethod
    def fit(cls, x: np.ndarray) -> Gaussianized:
        """The quantiles of the columns of ``x`` ``(N, k)`` (made strictly increasing)."""
        x = np.asarray(x, dtype=np.float64)
        p = (np.arange(_LEVELS) + 0.5) / _LEVELS
        knots = np.quantile(x, p, axis=0)
        knots[0], knots[-1] = x.min(axis=0), x.max(axis=0)  # the ends: the whole range
        knots = np.maximum.accumulate(knots, axis=0) + 1e-9 * np.arange(_LEVELS)[:, None]
        return cls(knots)

    def forward(self, x: np.ndarray) -> np.ndarray:
        z = self._normal()
        return np.stack(
            [np.interp(x[:, j], self.knots[:, j], z) for j in range(x.shape[1])], axis=1
        )

    def inverse(self, u: np.ndarray) -> np.ndarray:
        z = self._normal()
        return np.stack(
            [np.interp(u[:, j], z, self.knots[:, j]) for j in range(u.shape[1])], axis=1
        )

    def to_dict(self) -> dict[str, Any]:
        return {"knots": self.knots.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Gaussianized:
        knots = np.asarray(d["knots"], dtype=np.float64)
        if knots.ndim != 2 or len(knots) != _LEVELS:
            msg = f"Gaussianized: expected ({_LEVELS}, k) knots, got shape {knots.shape}"
            raise ValueError(msg)
        return cls(knots)


@dataclasses.dataclass(frozen=True)
class Profiles:
    """Per-shower layer summaries.

    Attributes:
        energy: ``(N, L)`` layer energies, MeV.
        count: ``(N, L)`` active cells per layer.
        centroid: ``(N, 2)`` energy-weighted ``(x, y)`` of the shower, mm (0 when empty).
    """

    energy: np.ndarray
    count: np.ndarray
    centroid: np.ndarray

    def vector(self, centroid: Gaussianized) -> np.ndarray:
        """The ``(N, 2 L + 2)`` float32 profile the first generator learns, the centroid
        mapped by ``centroid``."""
        columns = [np.log1p(self.energy), np.log1p(self.count), centroid.forward(self.centroid)]
        return np.concatenate(columns, axis=1).astype(np.float32)

    @classmethod
    def from_vector(cls, u: np.ndarray, geometry: Geometry, centroid: Gaussianized) -> Profiles:
        """Profiles from generated vectors, made consistent: counts are whole and at most
        the layer's cells and ``energy / threshold``; a layer below the threshold or
        without a cell is empty."""
        n_layers = geometry.n_layers
        u = np.asarray(u, dtype=np.float64)
        energy = np.clip(np.expm1(u[:, :n_layers]), 0.0, None)
        count = np.rint(np.clip(np.expm1(u[:, n_layers : 2 * n_layers]), 0.0, None))
        count = np.minimum(count, np.floor(energy / geometry.threshold))
        count = np.minimum(count, geometry.n_x * geometry.n_y).astype(np.int64)
        energy = np.where(count > 0, energy, 0.0)
        return cls(energy, count, centroid.inverse(u[:, 2 * n_layers :]))


def profiles(voxels: np.ndarray, geometry: Geometry) -> Profiles:
    """The profiles of dense voxels ``(N, L, H, W)`` in MeV."""
    energy = voxels.sum(axis=(2, 3), dtype=np.float64)
    count = np.count_nonzero(voxels, axis=(2, 3))
    total = energy.sum(axis=1)
    safe = np.where(total > 0, total, 1.0)
    projected_x = voxels.sum(axis=(1, 3), dtype=np.float64)
    projected_y = voxels.sum(axis=(1, 2), dtype=np.float64)
    x = projected_x @ geometry.cell_x(np.arange(geometry.n_x)) / safe
    y = projected_y @ geometry.cell_y(np.arange(geometry.n_y)) / safe
    return Profiles(energy, count, np.stack([x, y], axis=1))


def hit_conditions(
    layer: np.ndarray, energy: np.ndarray, count: np.ndarray, n_layers: int
) -> np.ndarray:
    """``(H, 3)`` float32 conditions of hits: layer in ``[0, 1]``, ``log1p`` of the
    layer's energy and count."""
    scaled = layer / max(n_layers - 1, 1)
    return np.stack([scaled, np.log1p(energy), np.log1p(count)], axis=1).astype(np.float32)


def _radius(dx: np.ndarray, dy: np.ndarray, cell: float) -> np.ndarray:
    return np.asarray(np.arcsinh(np.hypot(dx, dy) / cell))[:, None]


@dataclasses.dataclass(frozen=True)
class Hits:
    """Training hits of the two hit generators.

    Attributes:
        position: ``(H, 2)`` ``asinh`` of the offset from the shower centroid in cells,
            the cell position smeared uniformly over the cell.
        condition: ``(H, 3)`` :func:`hit_conditions` of the hit's layer.
        energy: ``(H, 1)`` log of the hit energy (MeV).
        radius: ``(H, 1)`` ``asinh`` of the cell centre's distance from the centroid,
            in cells (the energy generator's fourth condition).
    """

    position: np.ndarray
    condition: np.ndarray
    energy: np.ndarray
    radius: np.ndarray


def training_hits(
    voxels: np.ndarray, p: Profiles, geometry: Geometry, limit: int, rng: np.random.Generator
) -> Hits:
    """At most ``limit`` hits of the voxels, drawn at random without replacement."""
    event, layer, ix, iy = np.nonzero(voxels)
    if len(event) > limit:
        pick = np.sort(rng.choice(len(event), size=limit, replace=False))
        event, layer, ix, iy = event[pick], layer[pick], ix[pick], iy[pick]
    energy = voxels[event, layer, ix, iy].astype(np.float64)
    cell = geometry.cell_size
    dx = geometry.cell_x(ix) - p.centroid[event, 0]
    dy = geometry.cell_y(iy) - p.centroid[event, 1]
    smear = rng.uniform(-0.5, 0.5, size=(2, len(event))) * cell
    position = np.arcsinh(np.stack([dx + smear[0], dy + smear[1]], axis=1) / cell)
    condition = hit_conditions(
        layer, p.energy[event, layer], p.count[event, layer], geometry.n_layers
    )
    return Hits(
        position.astype(np.float32),
        condition,
        np.log(energy)[:, None].astype(np.float32),
        _radius(dx, dy, cell).astype(np.float32),
    )


#: ``(conditions (H, c) float32) -> (H, k)`` samples of a hit generator.
Sampler = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class Placed:
    """Generated hits, sorted by event and cell.

    Attributes:
        counts: ``(N,)`` hits per shower.
        layer, ix, iy: ``(H,)`` cell of each hit.
        energy: ``(H,)`` MeV.
    """

    counts: np.ndarray
    layer: np.ndarray
    ix: np.ndarray
    iy: np.ndarray
    energy: np.ndarray


def place(p: Profiles, geometry: Geometry, positions: Sampler, energies: Sampler) -> Placed:
    """The hits of generated profiles.

    Each layer with ``n`` cells draws ``2 n + 10`` positions around the shower
    centroid (``positions``), keeps the first ``n`` distinct cells inside the
    calorimeter in the order drawn, and draws each kept cell's energy given its
    distance from the centroid (``energies``); the energies are then scaled to
    ``threshold + (E - k threshold) s / sum(s)`` with ``s`` the drawn energy above
    the threshold: the ``k`` cells hold the layer's energy ``E`` and each reaches
    the threshold. A layer that finds fewer than ``n`` cells keeps those it found.
    """
    n, n_layers = p.count.shape
    g, cell = geometry, geometry.cell_size
    draws = np.where(p.count > 0, 2 * p.count + _SPARE, 0).reshape(-1)
    layer_id = np.repeat(np.arange(n * n_layers), draws)  # event * L + layer
    event, layer = np.divmod(layer_id, n_layers)
    condition = hit_conditions(
        layer, p.energy.reshape(-1)[layer_id], p.count.reshape(-1)[layer_id], n_layers
    )
    offset = np.sinh(np.asarray(positions(condition), dtype=np.float64)) * cell
    ix = np.rint((p.centroid[event, 0] + offset[:, 0] - g.cell_x(0)) / cell).astype(np.int64)
    iy = np.rint((p.centroid[event, 1] + offset[:, 1] - g.cell_y(0)) / cell).astype(np.int64)
    inside = np.flatnonzero((ix >= 0) & (ix < g.n_x) & (iy >= 0) & (iy < g.n_y))
    key = (layer_id[inside] * g.n_x + ix[inside]) * g.n_y + iy[inside]
    # the first draw of each distinct cell, in the order drawn
    _, first = np.unique(key, return_index=True)
    draw = inside[np.sort(first)]
    kept_layer = layer_id[draw]  # non-decreasing: draws are grouped by layer
    rank = np.arange(len(draw)) - np.searchsorted(kept_layer, kept_layer)
    draw = draw[rank < p.count.reshape(-1)[kept_layer]]
    kept_layer = layer_id[draw]
    dx = g.cell_x(ix[draw]) - p.centroid[event[draw], 0]
    dy = g.cell_y(iy[draw]) - p.centroid[event[draw], 1]
    drawn = np.asarray(
        energies(np.concatenate([condition[draw], _radius(dx, dy, cell)], axis=1)),
        dtype=np.float64,
    )[:, 0]
    share = np.maximum(np.exp(drawn) - g.threshold, _MIN_SHARE)
    size = n * n_layers
    k = np.bincount(kept_layer, minlength=size)
    total = np.bincount(kept_layer, weights=share, minlength=size)
    above = p.energy.reshape(-1) - k * g.threshold
    energy = g.threshold + above[kept_layer] * share / total[kept_layer]
    order = np.lexsort((iy[draw], ix[draw], kept_layer))  # event, layer, ix, iy
    draw = draw[order]
    return Placed(
        counts=np.bincount(event[draw], minlength=n),
        layer=layer[draw],
        ix=ix[draw],
        iy=iy[draw],
        energy=energy[order],
    )
