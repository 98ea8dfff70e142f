"""Scatter-add of hit energies into dense voxel buffers, without ``np.add.at``.

Used by :func:`dctrgan.features.voxelize`.
"""

from __future__ import annotations

import numpy as np

__all__ = ("check_range", "scatter")

#: Bytes of voxels per chunk of events in the general path (about an L2 cache).
_CACHE_BYTES = 1 << 21


def check_range(name: str, values: np.ndarray, size: int) -> None:
    """ValueError unless ``0 <= values < size`` (one pass: negatives wrap to large unsigned)."""
    if values.dtype.kind not in "iu":
        msg = f"field 'hits.{name}': expected integers, got dtype {values.dtype}"
        raise ValueError(msg)
    if values.size == 0:
        return
    if values.dtype.kind == "i":
        if int(values.view(f"u{values.dtype.itemsize}").max()) < size:
            return
    elif values.dtype.kind == "u" and int(values.max()) < size:
        return
    bad = (values < 0) | (values >= size)
    if not bad.any():
        return
    first = int(np.flatnonzero(bad)[0])
    msg = (
        f"field 'hits.{name}': {int(bad.sum())} value(s) outside the geometry [0, {size}), "
        f"first {values[first]} at flat index {first}"
    )
    raise ValueError(msg)


def scatter(
    flat: np.ndarray,
    index: np.ndarray,
    energy: np.ndarray,
    counts: np.ndarray,
    cells_per_event: int,
) -> None:
    """``flat[index] += energy`` for a zeroed float32 ``flat``, summing repeated indices.

    ``index`` is grouped by event (``counts`` hits each, ``(N,)``); event ``n`` owns
    ``flat[n * cells_per_event : (n + 1) * cells_per_event]``.
    """
    if index.size == 0:
        return
    if bool((index[1:] > index[:-1]).all()):
        flat[index] = energy  # strictly increasing: every index once
        return
    # Chunks of events whose voxels fit in cache: assign, then count the nonzero
    # cells while they are still cached. As many as hits means every hit had a cell
    # of its own; otherwise redo the chunk summing repeated cells.
    per_chunk = max(1, _CACHE_BYTES // (4 * cells_per_event))
    n = len(counts)
    events = [*range(0, n, per_chunk), n]
    hits = np.concatenate([[0], np.cumsum(counts)])[events].tolist()
    for i in range(len(events) - 1):
        start, stop = hits[i], hits[i + 1]
        cells, values = index[start:stop], energy[start:stop]
        flat[cells] = values
        region = flat[events[i] * cells_per_event : events[i + 1] * cells_per_event]
        if np.count_nonzero(region.view(np.int32)) != stop - start:
            region.fill(0.0)
            _scatter_repeated(flat, cells, values)


def _scatter_repeated(flat: np.ndarray, index: np.ndarray, energy: np.ndarray) -> None:
    """``flat[index] += energy`` for a zeroed float32 ``flat`` and fewer than 2**31 hits."""
    # One "winner" per cell without sorting: write each hit's position into its cell
    # (the float32 buffer viewed as int32) and read back who is there.
    position = np.arange(index.size, dtype=np.int32)
    ids = flat.view(np.int32)
    ids[index] = position
    winner = ids[index] == position
    flat[index[winner]] = energy[winner]
    rest, rest_energy = index[~winner], energy[~winner].astype(np.float64)
    if rest.size == 0:
        return
    cells, inverse = np.unique(rest, return_inverse=True)
    sums = np.bincount(inverse, weights=rest_energy, minlength=len(cells))
    flat[cells] = (flat[cells] + sums).astype(np.float32)
