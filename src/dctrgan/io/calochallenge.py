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

:meth:`ChallengeShowers.to_events` turns them into awkward showers whose hits are the
nonzero voxels (what ``dctrgan.read("file.hdf5", binning=xml)`` gives), and
:meth:`ChallengeShowers.from_events` back; the awkward showers keep the file's
incident energies in MeV as the field ``incident_energy_mev`` beside the GeV of
``incident_energy`` (float32 GeV cannot hold every float32 MeV value), so that a file
read and written through them is the same bit for bit too. Datasets of one number
per shower beside the two (a ``weight``) are read as fields and written back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from dctrgan.data import CylindricalGeometry, Geometry, binning_of, is_cylindrical
from dctrgan.features import (
    calochallenge,
    from_cylindrical_voxels,
    to_cylindrical,
    voxelize_cylindrical,
)
from dctrgan.io._hdf5 import h5py_module, open_hdf5
from dctrgan.io.files import atomic

__all__ = (
    "ENERGIES",
    "INCIDENT_MEV",
    "SHOWERS",
    "ChallengeShowers",
    "binning_geometry",
    "entries",
    "iterate",
    "read",
    "write",
)

#: The dataset of the incident energies, ``(N, 1)`` MeV.
ENERGIES = "incident_energies"
#: The dataset of the voxel energies, ``(N, V)`` MeV.
SHOWERS = "showers"
#: The field of awkward showers that keeps the file's incident energies in MeV.
INCIDENT_MEV = "incident_energy_mev"
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
        extra: further datasets of the file with one number per shower (a ``weight``),
            by name, ``(N,)`` each.
    """

    incident_energy: np.ndarray
    showers: np.ndarray
    geometry: CylindricalGeometry
    extra: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        n, v = len(self.incident_energy), self.geometry.n_voxels
        if self.showers.ndim != 2 or self.showers.shape != (n, v):
            msg = (
                f"ChallengeShowers: showers must be ({n}, {v}) for {n} incident energies and "
                f"this binning, got {self.showers.shape}"
            )
            raise ValueError(msg)
        for name, values in self.extra.items():
            if name in (ENERGIES, SHOWERS) or np.shape(values) != (n,):
                msg = (
                    f"ChallengeShowers: extra dataset {name!r} must be named apart from the "
                    f"two and hold one number per shower ({n},), got shape {np.shape(values)}"
                )
                raise ValueError(msg)

    def __len__(self) -> int:
        return len(self.incident_energy)

    def __getitem__(self, index: Any) -> ChallengeShowers:
        """The showers selected by a slice, indices or a boolean mask."""
        extra = {name: values[index] for name, values in self.extra.items()}
        return ChallengeShowers(
            self.incident_energy[index], self.showers[index], self.geometry, extra
        )

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

    def to_events(self) -> ak.Array:
        """Awkward showers: hits ``{layer, alpha, r, energy}`` for the nonzero voxels
        (:func:`dctrgan.features.from_cylindrical_voxels`), ``incident_energy`` in GeV,
        the file's MeV as ``incident_energy_mev``, the extra datasets as fields."""
        events = from_cylindrical_voxels(
            self.showers, self.incident_energy, self.geometry, weight=self.extra.get("weight")
        )
        events = ak.with_field(events, self.incident_energy * _MEV, INCIDENT_MEV)
        for name, values in self.extra.items():
            if name != "weight":
                events = ak.with_field(events, values, name)
        return events

    @classmethod
    def from_events(
        cls, events: ak.Array, geometry: CylindricalGeometry | None = None
    ) -> ChallengeShowers:
        """The dense showers of awkward showers of a cylindrical binning: the inverse of
        :meth:`to_events`.

        The incident energy is ``incident_energy_mev`` / 1000 where that field agrees
        with ``incident_energy`` (to float32), else ``incident_energy``; every other
        field of one number per shower (``weight``) becomes an extra dataset.

        Args:
            events: the showers (hits of layer, alpha, r bins).
            geometry: their binning (default: their own; when given, it must be theirs).

        Raises:
            ValueError: for showers of square cells, another binning, or a field that
                is not one number per shower (it could not be written).
        """
        if not is_cylindrical(events):
            msg = (
                "showers of square cells (hits of layer, ix, iy) are not in a CaloChallenge "
                "binning: bin them first (ChallengeShowers.from_showers)"
            )
            raise ValueError(msg)
        voxels = voxelize_cylindrical(events, geometry)
        own = binning_of(events["hits"])
        assert own is not None  # voxelize_cylindrical checked it
        incident = np.asarray(events["incident_energy"], dtype=np.float64)
        extra: dict[str, np.ndarray] = {}
        for name in ak.fields(events):
            if name in ("hits", "incident_energy"):
                continue
            values = events[name]
            if values.ndim != 1 or not isinstance(ak.type(values).content, ak.types.NumpyType):
                msg = (
                    f"field {name!r} cannot be written to a CaloChallenge file: only fields of "
                    f"one number per shower are, got type {ak.type(values)}"
                )
                raise ValueError(msg)
            extra[name] = np.asarray(ak.to_numpy(values))
        mev = extra.pop(INCIDENT_MEV, None)
        if mev is not None:
            kept = (mev / _MEV).astype(np.float32) == incident.astype(np.float32)
            incident = np.where(kept, mev / _MEV, incident)
        return cls(incident, voxels, own, extra)


def binning_geometry(
    binning: str | os.PathLike[str] | CylindricalGeometry, particle: str | None = None
) -> CylindricalGeometry:
    """The geometry of a binning XML (:meth:`CylindricalGeometry.from_calochallenge`), or
    ``binning`` itself if it is a geometry."""
    if isinstance(binning, CylindricalGeometry):
        return binning
    return CylindricalGeometry.from_calochallenge(binning, particle=particle)


def _datasets(
    file: Any, path: str, geometry: CylindricalGeometry, binning: Any
) -> tuple[Any, Any, dict[str, Any]]:
    """The two datasets, their shapes checked against each other and the binning, and
    the datasets of one number per shower beside them."""
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
    extra = {
        name: item
        for name, item in file.items()
        if name not in (ENERGIES, SHOWERS)
        and getattr(item, "shape", None) == (showers.shape[0],)
        and item.dtype.kind in "biuf"
    }
    return energies, showers, extra


def _chunk(
    path: str,
    datasets: tuple[Any, Any, dict[str, Any]],
    a: int,
    b: int,
    geometry: CylindricalGeometry,
) -> ChallengeShowers:
    energies, showers, others = datasets
    try:
        incident = np.asarray(energies[a:b]).reshape(b - a)
        voxels = np.asarray(showers[a:b])
        extra = {name: np.asarray(item[a:b]) for name, item in others.items()}
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
    return ChallengeShowers(incident.astype(np.float64) / _MEV, voxels, geometry, extra)


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
    geometry = binning_geometry(binning, particle)
    name = os.fspath(path)
    with open_hdf5(name) as file:
        datasets = _datasets(file, name, geometry, binning)
        total = datasets[1].shape[0]
        end = total if stop is None else min(stop, total)
        for a in range(start, end, step_size):
            yield _chunk(name, datasets, a, min(a + step_size, end), geometry)


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
    geometry = binning_geometry(binning, particle)
    return ChallengeShowers(np.zeros(0), np.zeros((0, geometry.n_voxels), np.float32), geometry)


def write(
    path: str | os.PathLike[str],
    showers: ChallengeShowers | ak.Array,
    *,
    binning: str | os.PathLike[str] | CylindricalGeometry | None = None,
    particle: str | None = None,
    overwrite: bool = False,
    compression: str | None = "gzip",
) -> Path:
    """Write showers in the CaloChallenge layout: ``incident_energies`` ``(N, 1)`` and
    ``showers`` ``(N, V)``, both in MeV, in the dtype of the voxel energies (float32 for
    anything else but float64), and each extra dataset (a ``weight``) as ``(N,)``.

    Written to a temporary file beside ``path`` and renamed: no half-written file.

    Args:
        path: the HDF5 file.
        showers: the showers: :class:`ChallengeShowers`, or awkward showers of a
            cylindrical binning (:meth:`ChallengeShowers.from_events`).
        binning: the binning XML (or geometry) the file is for; when given, it must be
            the showers' own.
        particle: the particle of the binning XML (``None``: its only one).
        overwrite: replace an existing file.
        compression: h5py's compression of the datasets (``"gzip"``, ``"lzf"``, ``None``).

    Raises:
        FileExistsError: ``path`` exists and not ``overwrite``.
        FileNotFoundError: its folder does not exist.
        ValueError: for showers of square cells or of another binning than ``binning``,
            or awkward fields that are not one number per shower.
    """
    h5py = h5py_module()
    if isinstance(showers, ak.Array):
        showers = ChallengeShowers.from_events(showers)
    if binning is not None and binning_geometry(binning, particle) != showers.geometry:
        source = "given" if isinstance(binning, CylindricalGeometry) else os.fspath(binning)
        msg = f"{path}: the showers are not binned in the binning {source}"
        raise ValueError(msg)
    dtype = np.float64 if showers.showers.dtype == np.float64 else np.float32
    incident = (np.asarray(showers.incident_energy, np.float64) * _MEV).astype(dtype)
    voxels = np.asarray(showers.showers, dtype=dtype)
    options = {} if compression is None else {"compression": compression}
    with atomic(path, overwrite) as temporary, contextlib.closing(h5py.File(temporary, "w")) as f:
        f.create_dataset(ENERGIES, data=incident.reshape(-1, 1), **options)
        f.create_dataset(SHOWERS, data=voxels, **options)
        for name, values in showers.extra.items():
            f.create_dataset(name, data=np.asarray(values), **options)
    return Path(path)
