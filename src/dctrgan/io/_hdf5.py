"""Showers from HDF5 files of the CaloGAN / "getting_high" layout (h5py, optional).

The layout: ``30x30/layers``, ``(N, n_layers, n_x, n_y)`` cell energies in MeV in
(layer, ix, iy) order, and ``30x30/energy``, ``(N, 1)`` incident energies in GeV.
Every nonzero cell becomes a hit. h5py is imported at first use; without it the
error says ``pip install "dctrgan[hdf5]"``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from dctrgan.data import DEFAULT_GEOMETRY, Geometry, validate
from dctrgan.features import from_voxels

__all__ = ("ENERGY", "LAYERS", "SUFFIXES", "chunks", "entries", "h5py_module", "open_hdf5")

#: File suffixes that ``dctrgan.read`` takes for HDF5.
SUFFIXES = (".h5", ".hdf5")
#: Dataset of the cell energies (MeV), ``(N, n_layers, n_x, n_y)``.
LAYERS = "30x30/layers"
#: Dataset of the incident energies (GeV), ``(N, 1)``.
ENERGY = "30x30/energy"


def h5py_module() -> Any:
    try:
        import h5py
    except ImportError as err:
        msg = 'reading HDF5 files needs h5py: pip install "dctrgan[hdf5]"'
        raise ImportError(msg) from err
    return h5py


@contextlib.contextmanager
def open_hdf5(path: str) -> Iterator[Any]:
    h5py = h5py_module()
    if not Path(path).exists():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    try:
        file = h5py.File(path, "r")
    except OSError as err:
        msg = f"{path}: not a readable HDF5 file; it may be truncated or corrupt ({err})"
        raise OSError(msg) from err
    with file:
        yield file


def _datasets(file: Any, path: str, geometry: Geometry) -> tuple[Any, Any]:
    """The layers and energy datasets, with their shapes checked."""
    names: list[str] = []
    file.visit(names.append)
    missing = [d for d in (LAYERS, ENERGY) if d not in names]
    if missing:
        msg = f"{path}: no dataset {missing} (the CaloGAN layout); datasets in the file: {names}"
        raise ValueError(msg)
    layers, energy = file[LAYERS], file[ENERGY]
    if layers.ndim != 4 or layers.shape[1:] != geometry.shape:
        expected = ", ".join(map(str, geometry.shape))
        msg = (
            f"{path}: dataset {LAYERS!r} must have shape (N, {expected}) for this geometry, got "
            f"{layers.shape}"
        )
        raise ValueError(msg)
    if energy.shape not in ((layers.shape[0],), (layers.shape[0], 1)):
        msg = (
            f"{path}: dataset {ENERGY!r} must have shape ({layers.shape[0]}, 1), got {energy.shape}"
        )
        raise ValueError(msg)
    return layers, energy


def entries(path: str, geometry: Geometry | None = None) -> int:
    """Number of showers in an HDF5 file, after checking its layout.

    Raises:
        FileNotFoundError, OSError: for a missing or unreadable file.
        ValueError: for a missing dataset or a wrong shape.
    """
    with open_hdf5(path) as file:
        layers, _ = _datasets(file, path, geometry or DEFAULT_GEOMETRY)
        return int(layers.shape[0])


def chunks(
    path: str, start: int, stop: int, step: int | None, geometry: Geometry | None = None
) -> Iterator[tuple[int, ak.Array]]:
    """``(first event, showers)`` of events ``[start, stop)``, ``step`` at a time.

    An empty range gives one empty chunk.
    """
    g = geometry or DEFAULT_GEOMETRY
    step = max(stop - start, 1) if step is None else step
    with open_hdf5(path) as file:
        layers, energy = _datasets(file, path, g)
        for a in range(start, max(stop, start + 1), step):
            b = min(a + step, stop)
            try:
                dense = np.asarray(layers[a:b])
                incident = np.asarray(energy[a:b]).reshape(b - a)
            except (OSError, ValueError, KeyError) as err:
                msg = f"{path}: cannot be read; the file may be truncated or corrupt ({err})"
                raise OSError(msg) from err
            try:
                events = validate(from_voxels(dense, incident, geometry), "showers", geometry=g)
            except ValueError as err:
                found = re.search(r"field '([\w.]+)'", str(err))
                dataset = ENERGY if found and found.group(1) == "incident_energy" else LAYERS
                msg = f"{path}: dataset {dataset!r}: {err}"
                raise ValueError(msg) from err
            yield a, events
