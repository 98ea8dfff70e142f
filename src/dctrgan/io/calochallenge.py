"""Showers in the HDF5 format of the Fast Calorimeter Simulation Challenge 2022.

The challenge's datasets, and the samples its generative models publish, are HDF5
files of two datasets: ``incident_energies`` ``(N, 1)`` and ``showers`` ``(N, V)``,
both in MeV, the ``V`` voxels ordered as the binning XML of the dataset says (layer,
then alpha, then r: :class:`~dctrgan.data.CylindricalGeometry`). Here they are read
into :class:`ChallengeShowers` -- incident energies in GeV as everywhere in dctrgan,
voxel energies in MeV -- streamed in chunks (:func:`iterate`; dataset 3 holds 40,500
voxels per shower, 16 GB per 100k showers), and written back (:func:`write`): a float32
file read and written again is the same bit for bit. Needs h5py (``pip install
"dctrgan[hdf5]"``)::

    from dctrgan.io import calochallenge
    showers = calochallenge.read("dataset_2_1.hdf5", binning="binning_dataset_2.xml")
    features = showers.features()          # the challenge's high-level features
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from dctrgan.data import CylindricalGeometry, Geometry
from dctrgan.features import calochallenge, to_cylindrical
from dctrgan.io._hdf5 import h5py_module, open_hdf5
from dctrgan.io.files import atomic

__all__ = ("ENERGIES", "SHOWERS", "ChallengeShowers", "entries", "iterate", "read", "write")

#: The dataset of the incident energies, ``(N, 1)`` MeV.
ENERGIES = "incident_energies"
#: The dataset of the voxel energies, ``(N, V)`` MeV.
SHOWERS = "showers"
#: MeV per GeV.
_MEV = 1000.0


@dataclasses.dataclass(frozen=True)
class ChallengeShowers:
    """Showers of a CaloChallenge file.

    Attributes:
        incident_energy: ``(N,)`` float64 incident energies in GeV (the file's MeV / 1000:
            written back, the float32 MeV are the same bits).
        showers: ``(N, V)`` voxel energies in MeV, in the binning's order (the file's dtype).
        geometry: the binning.
    """

    incident_energy: np.ndarray
    showers: np.ndarray
    geometry: CylindricalGeometry

    def __post_init__(self) -> None:
        n, v = len(self.incident_energy), self.geometry.n_voxels
        if self.showers.ndim != 2 or self.showers.shape != (n, v):
            msg = (
                f"ChallengeShowers: showers must be ({n}, {v}) for {n} incident energies and "
                f"this binning, got {self.showers.shape}"
            )
            raise ValueError(msg)

    def __len__(self) -> int:
        return len(self.incident_energy)

    def __getitem__(self, index: Any) -> ChallengeShowers:
        """The showers selected by a slice, indices or a boolean mask."""
        return ChallengeShowers(self.incident_energy[index], self.showers[index], self.geometry)

    @classmethod
    def from_showers(
        cls, showers: Any, geometry: CylindricalGeometry, cartesian: Geometry | None = None
    ) -> ChallengeShowers:
        """Showers of square cells (package schema; e.g. from
        :func:`dctrgan.simulate.calorimeter` with the geometry of
        :func:`dctrgan.features.cartesian_for`) binned in ``geometry``
        (:func:`dctrgan.features.to_cylindrical`)."""
        incident = np.asarray(showers["incident_energy"], dtype=np.float64)
        return cls(incident, to_cylindrical(showers, geometry, cartesian), geometry)

    def features(self, threshold: float = 0.0) -> dict[str, np.ndarray]:
        """The challenge's high-level features (:func:`dctrgan.features.calochallenge`)."""
        return calochallenge(self.showers, self.geometry, threshold=threshold)


def _geometry(
    binning: str | os.PathLike[str] | CylindricalGeometry, particle: str | None
) -> CylindricalGeometry:
    if isinstance(binning, CylindricalGeometry):
        return binning
    return CylindricalGeometry.from_calochallenge(binning, particle=particle)


def _datasets(file: Any, path: str, geometry: CylindricalGeometry, binning: Any) -> tuple[Any, Any]:
    """The two datasets, their shapes checked against each other and the binning."""
    missing = [d for d in (ENERGIES, SHOWERS) if d not in file]
    if missing:
        msg = (
            f"{path}: no dataset {missing} (the CaloChallenge layout: {ENERGIES!r} and "
            f"{SHOWERS!r}); datasets in the file: {sorted(file)}"
        )
        raise ValueError(msg)
    energies, showers = file[ENERGIES], file[SHOWERS]
    if showers.ndim != 2 or showers.shape[1] != geometry.n_voxels:
        source = "given" if isinstance(binning, CylindricalGeometry) else os.fspath(binning)
        particle = geometry.particle or "no particle"
        msg = (
            f"{path}: dataset {SHOWERS!r} has shape {showers.shape}, but the binning {source} "
            f"({particle}) has {geometry.n_voxels} voxels: a file of another dataset or particle?"
        )
        raise ValueError(msg)
    if energies.shape not in ((showers.shape[0],), (showers.shape[0], 1)):
        msg = (
            f"{path}: dataset {ENERGIES!r} must have shape ({showers.shape[0]}, 1) for "
            f"{showers.shape[0]} showers, got {energies.shape}"
        )
        raise ValueError(msg)
    return energies, showers


def _chunk(
    path: str, energies: Any, showers: Any, a: int, b: int, geometry: CylindricalGeometry
) -> ChallengeShowers:
    try:
        incident = np.asarray(energies[a:b]).reshape(b - a)
        voxels = np.asarray(showers[a:b])
    except (OSError, ValueError, KeyError) as err:
        msg = f"{path}: cannot be read; the file may be truncated or corrupt ({err})"
        raise OSError(msg) from err
    for name, values in ((ENERGIES, incident), (SHOWERS, voxels)):
        bad = ~np.isfinite(values.reshape(b - a, -1)).all(axis=1)
        if bad.any():
            msg = (
                f"{path}: dataset {name!r}: non-finite values (NaN or inf) in "
                f"{int(bad.sum())} shower(s), first at shower {a + int(np.flatnonzero(bad)[0])}"
            )
            raise ValueError(msg)
    return ChallengeShowers(incident.astype(np.float64) / _MEV, voxels, geometry)


def entries(path: str | os.PathLike[str]) -> int:
    """The number of showers in a CaloChallenge file.

    Raises:
        FileNotFoundError, OSError: for a missing or unreadable file.
        ValueError: without the challenge's datasets.
    """
    with open_hdf5(os.fspath(path)) as file:
        if SHOWERS not in file:
            msg = f"{path}: no dataset {SHOWERS!r}; datasets in the file: {sorted(file)}"
            raise ValueError(msg)
        return int(file[SHOWERS].shape[0])


def iterate(
    path: str | os.PathLike[str],
    binning: str | os.PathLike[str] | CylindricalGeometry,
    *,
    particle: str | None = None,
    step_size: int = 10_000,
    start: int = 0,
    stop: int | None = None,
) -> Iterator[ChallengeShowers]:
    """The showers of a CaloChallenge file, ``step_size`` at a time (bounded memory).

    Args:
        path: the HDF5 file.
        binning: the binning XML (or its :class:`~dctrgan.data.CylindricalGeometry`).
        particle: the particle of the binning (``None``: the XML's only one).
        step_size: showers per chunk.
        start: the first shower.
        stop: one past the last shower (``None``: the end).

    Raises:
        FileNotFoundError, OSError: for a missing or unreadable file.
        ValueError: naming the file and the dataset, for missing datasets, shapes that
            do not fit the binning, or non-finite energies.
    """
    if step_size < 1:
        msg = f"step_size must be positive, got {step_size}"
        raise ValueError(msg)
    geometry = _geometry(binning, particle)
    name = os.fspath(path)
    with open_hdf5(name) as file:
        energies, showers = _datasets(file, name, geometry, binning)
        end = showers.shape[0] if stop is None else min(stop, showers.shape[0])
        for a in range(start, end, step_size):
            yield _chunk(name, energies, showers, a, min(a + step_size, end), geometry)


def read(
    path: str | os.PathLike[str],
    binning: str | os.PathLike[str] | CylindricalGeometry,
    *,
    particle: str | None = None,
    start: int = 0,
    stop: int | None = None,
) -> ChallengeShowers:
    """All showers (or ``[start, stop)``) of a CaloChallenge file; see :func:`iterate`."""
    everything = iterate(
        path, binning, particle=particle, step_size=1 << 62, start=start, stop=stop
    )
    parts = list(everything)
    if parts:
        return parts[0]
    geometry = _geometry(binning, particle)
    return ChallengeShowers(np.zeros(0), np.zeros((0, geometry.n_voxels), np.float32), geometry)


def write(
    path: str | os.PathLike[str],
    showers: ChallengeShowers,
    *,
    overwrite: bool = False,
    compression: str | None = "gzip",
) -> Path:
    """Write showers in the CaloChallenge layout: ``incident_energies`` ``(N, 1)`` and
    ``showers`` ``(N, V)``, both in MeV, in the dtype of ``showers.showers`` (float32
    for anything else but float64).

    Written to a temporary file beside ``path`` and renamed: no half-written file.

    Args:
        path: the HDF5 file.
        showers: the showers.
        overwrite: replace an existing file.
        compression: h5py's compression of the datasets (``"gzip"``, ``"lzf"``, ``None``).

    Raises:
        FileExistsError: ``path`` exists and not ``overwrite``.
        FileNotFoundError: its folder does not exist.
    """
    h5py = h5py_module()
    dtype = np.float64 if showers.showers.dtype == np.float64 else np.float32
    incident = (np.asarray(showers.incident_energy, np.float64) * _MEV).astype(dtype)
    voxels = np.asarray(showers.showers, dtype=dtype)
    options = {} if compression is None else {"compression": compression}
    with atomic(path, overwrite) as temporary, contextlib.closing(h5py.File(temporary, "w")) as f:
        f.create_dataset(ENERGIES, data=incident.reshape(-1, 1), **options)
        f.create_dataset(SHOWERS, data=voxels, **options)
    return Path(path)
