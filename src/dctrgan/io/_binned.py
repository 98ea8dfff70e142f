"""``read`` and ``iterate`` with ``binning=``: showers of a cylindrical (CaloChallenge)
binning, from the challenge's HDF5 files or from ROOT files that :func:`dctrgan.write`
wrote them to (``incident_energy``, ``nhits``, ``hits_layer``, ``hits_alpha``,
``hits_r``, ``hits_energy``, and any branch of one number per shower).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import awkward as ak
import numpy as np

from dctrgan.data import CylindricalGeometry, make_cylindrical_showers, validate
from dctrgan.io import calochallenge
from dctrgan.io._hdf5 import SUFFIXES
from dctrgan.io._open import entry_range, expand
from dctrgan.io._plan import Files, steps

__all__ = ("Binning", "from_generic", "hdf5_files", "iterate_challenge", "read_challenge")

Binning = str | os.PathLike[str] | CylindricalGeometry
_HIT_KEYS = ("layer", "alpha", "r", "energy")


def hdf5_files(files: Files, tree: str | None) -> list[str] | None:
    """The HDF5 files of ``files`` (globs expanded), or None for ROOT files.

    Raises:
        ValueError: for HDF5 and ROOT files together, or a tree named for HDF5.
    """
    specs = expand(files, tree)
    hdf5 = [path.lower().endswith(SUFFIXES) for path, _ in specs]
    if any(hdf5) and not all(hdf5):
        msg = f"cannot read HDF5 and ROOT files together: {[p for p, _ in specs]}"
        raise ValueError(msg)
    if any(hdf5) and any(t is not None for _, t in specs):
        msg = f"{specs[0][0]}: a CaloChallenge HDF5 file has no trees; tree= does not apply"
        raise ValueError(msg)
    return [path for path, _ in specs] if all(hdf5) else None


def _ranges(
    paths: list[str], entry_start: int | None, entry_stop: int | None
) -> list[tuple[str, int, int]]:
    """``(path, start, stop)`` of each file within the global entry range."""
    sizes = [calochallenge.entries(p) for p in paths]
    where = paths[0] if len(paths) == 1 else f"{len(paths)} files ({paths[0]}, ...)"
    lo, hi = entry_range(entry_start, entry_stop, sum(sizes), where)
    out, offset = [], 0
    for path, size in zip(paths, sizes, strict=True):
        a, b = max(lo - offset, 0), min(hi - offset, size)
        if a < b:
            out.append((path, a, b))
        offset += size
    return out


def read_challenge(
    paths: list[str], binning: Binning, entry_start: int | None, entry_stop: int | None
) -> ak.Array:
    """Showers of CaloChallenge files, ``[entry_start, entry_stop)`` of all together."""
    parts = [
        calochallenge.read(path, binning, start=a, stop=b).to_events()
        for path, a, b in _ranges(paths, entry_start, entry_stop)
    ]
    if not parts:  # files without showers: one typed empty array
        return calochallenge.read(paths[0], binning, stop=0).to_events()
    return parts[0] if len(parts) == 1 else ak.concatenate(parts)


def iterate_challenge(
    paths: list[str],
    binning: Binning,
    step_size: int | str,
    entry_start: int | None,
    entry_stop: int | None,
) -> Iterator[ak.Array]:
    """Showers of CaloChallenge files, a chunk of ``step_size`` at a time (events, or
    the size of the float32 voxels of a chunk)."""
    voxels = calochallenge.binning_geometry(binning).n_voxels
    step = steps(step_size, 4.0 * voxels)
    for path, a, b in _ranges(paths, entry_start, entry_stop):
        for chunk in calochallenge.iterate(path, binning, step_size=step, start=a, stop=b):
            yield chunk.to_events()


def from_generic(events: ak.Array, geometry: CylindricalGeometry, where: str) -> ak.Array:
    """Showers of generic events read from ROOT: ``incident_energy`` and a ``hits``
    collection of layer, alpha, r and energy; every other field of one number per
    shower is kept.

    Raises:
        ValueError: naming ``where``, for missing fields or bins outside ``geometry``.
    """
    fields = ak.fields(events)
    hits = events["hits"] if "hits" in fields else None
    missing = [] if "incident_energy" in fields else ["incident_energy"]
    missing += [f"hits_{k}" for k in _HIT_KEYS if hits is None or k not in ak.fields(hits)]
    if missing:
        msg = (
            f"{where}: no branch {missing} for showers of a cylindrical binning (written by "
            "dctrgan.write: incident_energy, nhits, hits_layer, hits_alpha, hits_r, "
            f"hits_energy); fields read: {fields}"
        )
        raise ValueError(msg)
    assert hits is not None
    try:
        layer, alpha, r, energy = (np.asarray(ak.flatten(hits[k])) for k in _HIT_KEYS)
        out = make_cylindrical_showers(
            np.asarray(events["incident_energy"]),
            np.asarray(ak.num(hits, axis=1)),
            layer,
            alpha,
            r,
            energy,
            geometry,
            weight=np.asarray(events["weight"]) if "weight" in fields else None,
        )
        validate(out, "showers")
    except ValueError as err:
        msg = f"{where}: {err}"
        raise ValueError(msg) from err
    for name in fields:
        if name not in ("incident_energy", "hits", "weight") and events[name].ndim == 1:
            out = ak.with_field(out, events[name], name)
    return out
