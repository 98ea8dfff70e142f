"""Showers as a profile and hits, and back: the numpy half of :class:`dctrgan.ShowerGAN`.

A shower of ``L`` layers becomes

- its **profile** ``(2 L + 2,)``: ``log1p`` of each layer's energy (MeV) and active-cell
  count, then the energy-weighted centroid ``(x, y)`` in mm, mapped onto a standard
  normal through its quantiles (:class:`Gaussianized`: the impact points fill a cell
  with sharp edges, which a Gaussian mixture would round off);
- its **hits**: each active cell's offset from the centroid and its energy, with the
  cell's layer summary (:func:`hit_conditions`) as the condition.

:func:`place` turns a generated profile and the hit generators back into hits: each
layer draws its count of positions (one taken twice moves to the nearest free cell),
then energies at those cells, scaled so that the layer holds its energy with every cell
at or above the threshold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from statistics import NormalDist
from typing import Any

import numpy as np

from dctrgan.data import Geometry
from dctrgan.features import centroid as shower_centroid

__all__ = (
    "Gaussianized",
    "Hits",
    "Profiles",
    "hit_conditions",
    "place",
    "profiles",
    "training_hits",
)

#: Spare position draws per layer beyond its count and a quarter (for draws that land
#: outside the calorimeter).
_SPARE = 4
#: Smallest energy share of a cell before the scaling (keeps every share positive).
_MIN_SHARE = 1e-3
#: Quantiles of :class:`Gaussianized`, and the standard normal's at their probabilities.
_LEVELS = 257
_NORMAL = np.array([NormalDist().inv_cdf((k + 0.5) / _LEVELS) for k in range(_LEVELS)])


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
        """``(N, k)`` values to ``(N, k)`` standard normal ones."""
        columns = range(x.shape[1])
        return np.stack([np.interp(x[:, j], self.knots[:, j], _NORMAL) for j in columns], 1)

    def inverse(self, u: np.ndarray) -> np.ndarray:
        """``(N, k)`` standard normal values back to the columns' units."""
        columns = range(u.shape[1])
        return np.stack([np.interp(u[:, j], _NORMAL, self.knots[:, j]) for j in columns], 1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready knots."""
        return {"knots": self.knots.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Gaussianized:
        """The map of :meth:`to_dict` output.

        Raises:
            ValueError: for knots of another number of levels.
        """
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

    def select(self, index: slice) -> Profiles:
        """The profiles of some showers."""
        return Profiles(self.energy[index], self.count[index], self.centroid[index])

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
    xy = [shower_centroid(voxels, axis, geometry) for axis in ("x", "y")]
    return Profiles(energy, count, np.stack(xy, axis=1))


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

    @classmethod
    def concatenate(cls, pieces: list[Placed], n: int) -> Placed:
        """The hits of consecutive chunks of showers, ``n`` showers in all."""
        if not pieces:
            empty = np.zeros(0, dtype=np.int64)
            return cls(np.zeros(n, dtype=np.int64), empty, empty, empty, np.zeros(0))
        fields = [f.name for f in dataclasses.fields(cls)]
        return cls(*(np.concatenate([getattr(q, f) for q in pieces]) for f in fields))


def _rings(reach: int) -> np.ndarray:
    """``(k, 2)`` cell offsets within ``reach`` cells, by distance (no ``(0, 0)``)."""
    d = np.arange(-reach, reach + 1)
    ox, oy = (a.reshape(-1) for a in np.meshgrid(d, d, indexing="ij"))
    order = np.lexsort((oy, ox, ox**2 + oy**2))[1:]
    return np.stack([ox[order], oy[order]], axis=1)


#: Where a drawn cell that is taken moves: the nearest free cell within 4 cells.
_RINGS = _rings(4)


def _displace(
    key: np.ndarray, ix: np.ndarray, iy: np.ndarray, g: Geometry, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hits drawn on a cell taken before move to the nearest free cell of their layer.

    ``key`` is ``layer_id * n_cells + cell`` of each hit in the order drawn. Returns
    the new ``(ix, iy)`` and which hits found a cell (the rest: none free within
    :data:`_RINGS`). Offsets at equal distance are tried in a random orientation
    per hit (one of the square's 8 symmetries).
    """
    ix, iy = ix.copy(), iy.copy()
    n_cells = g.n_x * g.n_y
    layer_id = key // n_cells
    _, first = np.unique(key, return_index=True)
    placed = np.zeros(len(key), dtype=bool)
    placed[first] = True
    taken = np.sort(key[first])
    pending = np.flatnonzero(~placed)
    flip = rng.integers(0, 2, size=(len(pending), 3)).astype(bool)  # x sign, y sign, swap
    for ox, oy in _RINGS:
        if len(pending) == 0:
            break
        dx = np.where(flip[:, 2], oy, ox) * np.where(flip[:, 0], -1, 1)
        dy = np.where(flip[:, 2], ox, oy) * np.where(flip[:, 1], -1, 1)
        cx, cy = ix[pending] + dx, iy[pending] + dy
        ok = (cx >= 0) & (cx < g.n_x) & (cy >= 0) & (cy < g.n_y)
        candidate = layer_id[pending] * n_cells + cx * g.n_y + cy
        where = np.searchsorted(taken, candidate).clip(max=len(taken) - 1)
        ok &= taken[where] != candidate
        # two hits asking for one free cell: the first drawn takes it
        free = np.flatnonzero(ok)
        _, winner = np.unique(candidate[free], return_index=True)
        win = free[winner]
        hits = pending[win]
        ix[hits], iy[hits], placed[hits] = cx[win], cy[win], True
        taken = np.sort(np.concatenate([taken, candidate[win]]))
        keep = np.ones(len(pending), dtype=bool)
        keep[win] = False
        pending, flip = pending[keep], flip[keep]
    return ix, iy, placed


def place(
    p: Profiles,
    geometry: Geometry,
    positions: Sampler,
    energies: Sampler,
    rng: np.random.Generator,
) -> Placed:
    """The hits of generated profiles.

    Each layer with ``n`` cells draws ``n`` positions around the shower centroid
    (``positions``; draws outside the calorimeter are replaced by spare ones). A draw
    on a cell taken by an earlier draw of its layer moves to the nearest free cell
    (:func:`_displace`): a layer's cells are distinct, as in a shower, and the dense
    core of a layer stays filled instead of pushing draws out to the halo. Each
    cell's energy is drawn given its distance from the centroid (``energies``) and
    scaled to ``threshold + (E - k threshold) s / sum(s)`` with ``s`` the drawn
    energy above the threshold: the ``k`` cells hold the layer's energy ``E`` and
    each reaches the threshold.
    """
    n, n_layers = p.count.shape
    g, cell = geometry, geometry.cell_size
    count = p.count.reshape(-1)
    draws = np.where(count > 0, count + count // 4 + _SPARE, 0)
    layer_id = np.repeat(np.arange(n * n_layers), draws)  # event * L + layer
    condition = hit_conditions(
        layer_id % n_layers, p.energy.reshape(-1)[layer_id], count[layer_id], n_layers
    )
    offset = np.sinh(np.asarray(positions(condition), dtype=np.float64)) * cell
    event = layer_id // n_layers
    ix = np.rint((p.centroid[event, 0] + offset[:, 0] - g.cell_x(0)) / cell).astype(np.int64)
    iy = np.rint((p.centroid[event, 1] + offset[:, 1] - g.cell_y(0)) / cell).astype(np.int64)
    draw = np.flatnonzero((ix >= 0) & (ix < g.n_x) & (iy >= 0) & (iy < g.n_y))
    # the first n draws inside of each layer (draws are grouped by layer)
    rank = np.arange(len(draw)) - np.searchsorted(layer_id[draw], layer_id[draw])
    draw = draw[rank < count[layer_id[draw]]]
    key = (layer_id[draw] * g.n_x + ix[draw]) * g.n_y + iy[draw]
    ix, iy, found = _displace(key, ix[draw], iy[draw], g, rng)
    draw, ix, iy = draw[found], ix[found], iy[found]
    kept_layer, event = layer_id[draw], event[draw]
    dx = g.cell_x(ix) - p.centroid[event, 0]
    dy = g.cell_y(iy) - p.centroid[event, 1]
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
    order = np.lexsort((iy, ix, kept_layer))  # event, layer, ix, iy
    return Placed(
        counts=np.bincount(event, minlength=n),
        layer=kept_layer[order] % n_layers,
        ix=ix[order],
        iy=iy[order],
        energy=energy[order],
    )
