"""Hits of calorimeter showers as the low-level DCTR models read them.

Private helpers of :mod:`dctrgan.dctr`: the flat hit table of a sample of showers,
from which the batches of the low-level models are built, for their events only:
padded hit clouds (``"deepsets"``) or dense voxels (``"cnn3d"``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import awkward as ak
import numpy as np
import torch

from dctrgan.data import Geometry, geometry_of, make_showers, validate
from dctrgan.features import voxelize

__all__ = ("HitInputs", "HitTable", "is_showers", "padded", "voxels")


def is_showers(events: Any) -> bool:
    """True for awkward calorimeter showers (records with a ``hits`` field)."""
    return isinstance(events, ak.Array) and "hits" in ak.fields(events)


@dataclasses.dataclass(frozen=True)
class HitTable:
    """Flat hits of calorimeter showers, for building batches of padded hits or voxels.

    Attributes:
        counts: ``(N,)`` hits per event.
        starts: ``(N,)`` index of each event's first hit.
        hits: ``(H, 4)`` float32 ``(layer, ix, iy, energy in MeV)``.
        incident_energy: ``(N,)`` GeV.
        geometry: the calorimeter.
    """

    counts: np.ndarray
    starts: np.ndarray
    hits: np.ndarray
    incident_energy: np.ndarray
    geometry: Geometry

    @classmethod
    def from_showers(cls, events: Any, what: str) -> HitTable:
        """The hit table of awkward showers (validated: finite, in-range hits).

        Raises:
            ValueError: if ``events`` are not showers or fail validation.
        """
        if not is_showers(events):
            kind = ak.fields(events) if isinstance(events, ak.Array) else type(events).__name__
            msg = f"{what}: the low-level models need awkward showers (a 'hits' field), got {kind}"
            raise ValueError(msg)
        try:
            validate(events, "showers", strict=False)
        except ValueError as err:
            msg = f"{what}: {err}"
            raise ValueError(msg) from err
        hits = events["hits"]
        counts = np.asarray(ak.to_numpy(ak.num(hits, axis=1)), dtype=np.int64)
        flat = ak.flatten(hits, axis=1)
        table = np.empty((int(counts.sum()), 4), dtype=np.float32)
        for i, field in enumerate(("layer", "ix", "iy", "energy")):
            table[:, i] = ak.to_numpy(flat[field])
        starts = np.cumsum(counts) - counts
        incident = np.asarray(ak.to_numpy(events["incident_energy"]), dtype=np.float32)
        return cls(counts, starts, table, incident, geometry_of(hits))

    def __len__(self) -> int:
        return len(self.counts)

    def rows(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hit counts ``(B,)`` and row numbers into :attr:`hits` of the events ``index``."""
        counts = self.counts[index]
        total = int(counts.sum())
        offsets = np.repeat(self.starts[index] - (np.cumsum(counts) - counts), counts)
        return counts, np.arange(total, dtype=np.int64) + offsets


def padded(
    tables: Sequence[HitTable], parts: Sequence[np.ndarray]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded hits ``(B, H, 4)`` and mask ``(B, H)`` of ``parts[k]`` of ``tables[k]``, in order."""
    counts = []
    rows = []
    for table, index in zip(tables, parts, strict=True):
        c, r = table.rows(index)
        counts.append(c)
        rows.append(table.hits[r])
    count = np.concatenate(counts)
    n, width = len(count), int(count.max()) if len(count) else 0
    out = np.zeros((n, max(width, 1), 4), dtype=np.float32)
    mask = np.arange(max(width, 1))[None, :] < count[:, None]
    out[mask] = np.concatenate(rows) if rows else np.zeros((0, 4), np.float32)
    return torch.from_numpy(out), torch.from_numpy(mask)


def voxels(
    tables: Sequence[HitTable], parts: Sequence[np.ndarray], buffer: np.ndarray | None = None
) -> torch.Tensor:
    """Dense voxels ``(B, n_layers, n_x, n_y)`` MeV of ``parts[k]`` of ``tables[k]``, in order.

    Built with :func:`dctrgan.features.voxelize` for this batch only.
    """
    counts, rows, incident = [], [], []
    for table, index in zip(tables, parts, strict=True):
        c, r = table.rows(index)
        counts.append(c)
        rows.append(table.hits[r])
        incident.append(table.incident_energy[index])
    hits = np.concatenate(rows)
    g = tables[0].geometry
    showers = make_showers(
        np.concatenate(incident),
        np.concatenate(counts),
        hits[:, 0],
        hits[:, 1],
        hits[:, 2],
        hits[:, 3],
        geometry=g,
    )
    n = len(showers)
    out = None if buffer is None or len(buffer) < n else buffer[:n]
    return torch.from_numpy(voxelize(showers, g, out=out))


class HitInputs:
    """Batch inputs of the low-level models: padded hits (deepsets) or voxels (cnn3d).

    Events ``[0, n_first)`` are those of ``tables[0]``, the next ones of ``tables[1]``
    (the real then the fake sample); a batch is built for its events only.

    Args:
        model: ``"deepsets"`` or ``"cnn3d"``.
        tables: one or two hit tables.
        n_first: events in ``tables[0]``.
    """

    def __init__(self, model: str, tables: Sequence[HitTable], n_first: int) -> None:
        self.model = model
        self.tables = tuple(tables)
        self.n_first = n_first
        self._buffer: np.ndarray | None = None

    def _parts(self, index: np.ndarray) -> tuple[list[np.ndarray], torch.Tensor]:
        """The events of each table and the permutation back to the order of ``index``."""
        if len(self.tables) == 1:
            return [index], torch.arange(len(index))
        first = index < self.n_first
        order = np.concatenate([np.flatnonzero(first), np.flatnonzero(~first)])
        return [index[first], index[~first] - self.n_first], torch.from_numpy(np.argsort(order))

    def padded(self, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded hits ``(B, H, 4)`` and mask ``(B, H)`` of the events ``index``, in order."""
        parts, back = self._parts(index)
        hits, mask = padded(self.tables, parts)
        return hits[back], mask[back]

    def __call__(self, index: np.ndarray) -> Any:
        if self.model == "deepsets":
            return self.padded(index)
        parts, back = self._parts(index)
        shape = self.tables[0].geometry.shape
        if self._buffer is None or len(self._buffer) < len(index):
            self._buffer = np.empty((len(index), *shape), dtype=np.float32)
        # indexing copies the batch out of the reused buffer
        return voxels(self.tables, parts, self._buffer)[back]
