"""The high-level features of the Fast Calorimeter Simulation Challenge 2022.

The challenge evaluates generated showers on per-layer features of the voxel
energies ``E`` (MeV) of a :class:`~dctrgan.data.CylindricalGeometry`, with the voxel
centres ``r`` (mm), ``eta = r cos(alpha)`` and ``phi = r sin(alpha)``, per relevant
layer ``l`` (a layer with voxels):

- ``E_tot``: the energy of all voxels; ``E_layer_l``: of layer ``l``;
- ``EC_r_l`` ``= sum r E / (sum E + 1e-16)`` and ``width_r_l`` ``= sqrt(max(sum r^2 E /
  (sum E + 1e-16) - EC_r^2, 0))``;
- for layers binned in alpha, ``EC_eta_l``, ``EC_phi_l``, ``width_eta_l``,
  ``width_phi_l`` the same in ``eta`` and ``phi``;
- ``sparsity_l`` ``= 1 -`` the fraction of the layer's voxels above ``threshold`` (0).

The names are the challenge's (``HighLevelFeatures``: ``E_tot``, ``E_layers``,
``EC_etas``, ``EC_phis``, ``width_etas``, ``width_phis``, ``EC_r``, ``width_r``,
``sparsity``), one column per layer.

References:
    Fast Calorimeter Simulation Challenge 2022, github.com/CaloChallenge/homepage,
    ``code/HighLevelFeatures.py`` (the definitions).
"""

from __future__ import annotations

import math
from typing import Any

import awkward as ak
import numpy as np
import numpy.typing as npt

from dctrgan.data import (
    CylindricalGeometry,
    Geometry,
    binning_of,
    geometry_of,
    is_cylindrical,
    make_cylindrical_showers,
    validate,
)

__all__ = (
    "calochallenge",
    "calochallenge_names",
    "cartesian_for",
    "from_cylindrical_voxels",
    "to_cylindrical",
    "voxelize_cylindrical",
)

#: Added to energy sums in the denominators, as the challenge does.
EPSILON = 1e-16


def calochallenge_names(geometry: CylindricalGeometry) -> list[str]:
    """The names of :func:`calochallenge`'s features for ``geometry``, in order."""
    names = ["E_tot"]
    for layer in geometry.relevant_layers:
        names += [f"E_layer_{layer}", f"EC_r_{layer}", f"width_r_{layer}"]
        if layer in geometry.alpha_binned_layers:
            names += [
                f"EC_eta_{layer}",
                f"EC_phi_{layer}",
                f"width_eta_{layer}",
                f"width_phi_{layer}",
            ]
        names.append(f"sparsity_{layer}")
    return names


#: The per-layer energy moments the features are made of: energy-weighted sums of 1,
#: r, r^2, eta, eta^2, phi, phi^2, and the count of voxels above the threshold.
_MOMENTS = ("E", "r", "r2", "eta", "eta2", "phi", "phi2", "hits")
#: Showers per block of the dense computation (bounds the float64 copy).
_BLOCK = 8192


def _coordinates(geometry: CylindricalGeometry, layer: int) -> dict[str, np.ndarray]:
    """Per voxel of ``layer``: the moments' coordinates (r, r^2, eta, ...)."""
    where = geometry.voxel_coordinates(layer)
    r, eta, phi = where["r_mm"], where["eta"], where["phi"]
    return {"r": r, "r2": r * r, "eta": eta, "eta2": eta * eta, "phi": phi, "phi2": phi * phi}


def _dense_moments(
    e: np.ndarray, geometry: CylindricalGeometry, threshold: float
) -> dict[str, np.ndarray]:
    """``{moment: (N, n_layers)}`` of dense ``(N, V)`` voxel energies."""
    out = {m: np.zeros((len(e), geometry.n_layers)) for m in _MOMENTS}
    for layer in geometry.relevant_layers:
        coords = _coordinates(geometry, layer)
        for a in range(0, len(e), _BLOCK):
            energy = np.asarray(e[a : a + _BLOCK, geometry.layer_slice(layer)], np.float64)
            out["E"][a : a + _BLOCK, layer] = energy.sum(axis=1)
            out["hits"][a : a + _BLOCK, layer] = (energy > threshold).sum(axis=1)
            for name, x in coords.items():
                out[name][a : a + _BLOCK, layer] = energy @ x
    return out


def _sparse_moments(
    showers: ak.Array, geometry: CylindricalGeometry, threshold: float
) -> dict[str, np.ndarray]:
    """``{moment: (N, n_layers)}`` of showers whose hits are (layer, alpha, r) bins."""
    hits = showers["hits"]
    n, n_layers = len(showers), geometry.n_layers
    counts = np.asarray(ak.num(hits, axis=1))
    layer = np.asarray(ak.flatten(hits["layer"]), dtype=np.int64)
    voxel = geometry.voxel_index(layer, ak.flatten(hits["alpha"]), ak.flatten(hits["r"]))
    energy = np.asarray(ak.flatten(hits["energy"]), dtype=np.float64)
    key = np.repeat(np.arange(n), counts) * n_layers + layer
    per_voxel = np.zeros((len(_MOMENTS) - 2, geometry.n_voxels))
    for layer_index in geometry.relevant_layers:
        columns = _coordinates(geometry, layer_index).values()
        per_voxel[:, geometry.layer_slice(layer_index)] = np.stack(list(columns))

    def sums(values: np.ndarray) -> np.ndarray:
        return np.bincount(key, weights=values, minlength=n * n_layers).reshape(n, n_layers)

    out = {"E": sums(energy), "hits": sums((energy > threshold).astype(np.float64))}
    for name, x in zip(_MOMENTS[1:-1], per_voxel, strict=True):
        out[name] = sums(energy * x[voxel])
    return out


def _centre_and_width(
    moments: dict[str, np.ndarray], x: str, layer: int
) -> tuple[np.ndarray, np.ndarray]:
    """Energy-weighted centre and width of the coordinate ``x`` in ``layer``."""
    total = moments["E"][:, layer] + EPSILON
    centre = moments[x][:, layer] / total
    second = moments[f"{x}2"][:, layer] / total
    return centre, np.sqrt(np.clip(second - centre**2, 0.0, None))


def calochallenge(
    showers: Any, geometry: CylindricalGeometry | None = None, *, threshold: float = 0.0
) -> dict[str, np.ndarray]:
    """The challenge's high-level features of showers, by name (:func:`calochallenge_names`).

    Args:
        showers: ``(N, V)`` voxel energies in MeV in the challenge's order (the
            ``showers`` dataset of its HDF5 files), ``V = geometry.n_voxels``; or awkward
            showers of a cylindrical binning (``dctrgan.read("file.hdf5", binning=...)``,
            :func:`dctrgan.data.make_cylindrical_showers`), whose hits are its nonzero
            voxels.
        geometry: the binning (of awkward showers: their own when omitted, and it must
            be theirs when given).
        threshold: the voxel energy (MeV, ``>= 0``) above which a voxel counts as hit,
            for the sparsity (the challenge's default: 0).

    Returns:
        ``{name: (N,) float64}``.

    Raises:
        ValueError: for another number of voxels than the geometry's, non-finite
            energies (naming the first shower), awkward showers of square cells or of
            another binning, or a negative threshold.
    """
    if threshold < 0:
        msg = f"threshold must be >= 0 (dropped zero voxels count as not hit), got {threshold}"
        raise ValueError(msg)
    if isinstance(showers, ak.Array):
        moments, geometry = _awkward_moments(showers, geometry, threshold)
    else:
        if geometry is None:
            msg = "calochallenge: dense (N, V) voxel energies need their geometry="
            raise TypeError(msg)
        moments = _dense_moments(_checked(showers, geometry), geometry, threshold)
    out = {"E_tot": moments["E"].sum(axis=1)}
    for layer in geometry.relevant_layers:
        out[f"E_layer_{layer}"] = moments["E"][:, layer]
        out[f"EC_r_{layer}"], out[f"width_r_{layer}"] = _centre_and_width(moments, "r", layer)
        if layer in geometry.alpha_binned_layers:
            eta = _centre_and_width(moments, "eta", layer)
            phi = _centre_and_width(moments, "phi", layer)
            out[f"EC_eta_{layer}"], out[f"EC_phi_{layer}"] = eta[0], phi[0]
            out[f"width_eta_{layer}"], out[f"width_phi_{layer}"] = eta[1], phi[1]
        voxels = geometry.voxels_per_layer[layer]
        out[f"sparsity_{layer}"] = 1.0 - moments["hits"][:, layer] / voxels
    return {name: out[name] for name in calochallenge_names(geometry)}


def _checked(showers: npt.ArrayLike, geometry: CylindricalGeometry) -> np.ndarray:
    """Dense voxel energies of the geometry's width, finite."""
    e = np.asarray(showers)
    if e.ndim != 2 or e.shape[1] != geometry.n_voxels:
        msg = (
            f"showers: expected (N, {geometry.n_voxels}) voxel energies for this binning "
            f"({geometry.particle or 'cylindrical'}, {len(geometry.relevant_layers)} layers), "
            f"got shape {e.shape}"
        )
        raise ValueError(msg)
    bad = ~np.isfinite(e).all(axis=1)
    if bad.any():
        msg = f"showers: non-finite voxel energies, first in shower {int(np.flatnonzero(bad)[0])}"
        raise ValueError(msg)
    return e


def _awkward_moments(
    showers: ak.Array, geometry: CylindricalGeometry | None, threshold: float
) -> tuple[dict[str, np.ndarray], CylindricalGeometry]:
    """The moments of awkward showers, and their binning (checked against ``geometry``)."""
    if not is_cylindrical(showers):
        msg = (
            "calochallenge: awkward showers must be of a cylindrical binning (hits of layer, "
            "alpha, r): read them with binning=, or bin square cells with to_cylindrical"
        )
        raise ValueError(msg)
    validate(showers, "showers", strict=False)
    own = binning_of(showers["hits"])
    if own is None or (geometry is not None and geometry != own):
        msg = "calochallenge: geometry= is not the binning the showers carry"
        raise ValueError(msg)
    return _sparse_moments(showers, own, threshold), own


def cartesian_for(
    geometry: CylindricalGeometry, *, cells_per_bin: float = 2.0, absorber: float = 1.4
) -> Geometry:
    """A square-cell calorimeter to simulate showers in, for :func:`to_cylindrical`: as
    many layers as ``geometry``, cells ``cells_per_bin`` times finer than its narrowest
    radial bin (at most 400 per side), the grid covering its largest radius.

    Args:
        geometry: the cylindrical binning.
        cells_per_bin: cells across the narrowest radial bin.
        absorber: tungsten before each layer, mm (datasets 2 and 3: 1.4 mm W, 0.3 mm Si).
    """
    widths = [np.diff(r).min() for r in geometry.r_edges if len(r) > 1]
    radius = max(r[-1] for r in geometry.r_edges)
    cell = float(min(widths)) / cells_per_bin
    side = min(2 * math.ceil(radius / cell), 400)
    cell = max(cell, 2 * radius / side)
    return Geometry(
        n_layers=geometry.n_layers,
        n_x=side,
        n_y=side,
        cell_size=cell,
        absorber=(absorber,) * geometry.n_layers,
        silicon=0.3,
    )


def to_cylindrical(
    showers: Any, geometry: CylindricalGeometry, cartesian: Geometry | None = None
) -> np.ndarray:
    """Showers of square cells binned in the cylindrical ``geometry``: ``(N, V)`` float32
    voxel energies in MeV in the challenge's order.

    Each hit's energy goes to the (alpha, r) bin of its cell centre, in its layer
    (``r`` and ``alpha = atan2(y, x)`` about the grid's centre, the shower axis); hits
    beyond the last radial edge, or in layers without voxels, are outside the binning
    and dropped, as the challenge's voxelization drops them.

    Args:
        showers: showers in the package schema.
        geometry: the cylindrical binning.
        cartesian: the square-cell calorimeter of the hits (default: the showers' own).
    """
    g = geometry_of(showers) if cartesian is None else cartesian
    hits = showers["hits"]
    counts = np.asarray(ak.num(hits, axis=1))
    event = np.repeat(np.arange(len(counts)), counts)
    layer = np.asarray(ak.flatten(hits["layer"]), dtype=np.int64)
    x = g.cell_x(np.asarray(ak.flatten(hits["ix"]), dtype=np.float64))
    y = g.cell_y(np.asarray(ak.flatten(hits["iy"]), dtype=np.float64))
    energy = np.asarray(ak.flatten(hits["energy"]), dtype=np.float64)
    n_r = np.array([len(r) - 1 for r in geometry.r_edges] + [0])
    n_alpha = np.array([*geometry.n_alpha, 1])
    offsets = np.array(geometry.layer_offsets)
    layer = np.where((layer >= 0) & (layer < geometry.n_layers), layer, geometry.n_layers)
    r = np.hypot(x, y)
    r_bin = np.full(len(r), -1)
    for index in geometry.relevant_layers:
        mine = layer == index
        r_bin[mine] = np.searchsorted(geometry.r_edges[index], r[mine], side="right") - 1
    inside = (r_bin >= 0) & (r_bin < n_r[layer])
    alpha = np.arctan2(y, x)
    a_bin = np.minimum(
        ((alpha + math.pi) / (2 * math.pi) * n_alpha[layer]).astype(np.int64), n_alpha[layer] - 1
    )
    voxel = offsets[np.minimum(layer, geometry.n_layers - 1)] + a_bin * n_r[layer] + r_bin
    flat = event[inside] * geometry.n_voxels + voxel[inside]
    out = np.bincount(flat, weights=energy[inside], minlength=len(counts) * geometry.n_voxels)
    return out.reshape(len(counts), geometry.n_voxels).astype(np.float32)


def from_cylindrical_voxels(
    voxels: npt.ArrayLike,
    incident_energy: npt.ArrayLike,
    geometry: CylindricalGeometry,
    *,
    weight: npt.ArrayLike | None = None,
) -> ak.Array:
    """Showers of dense voxel energies in a cylindrical binning: every nonzero voxel a hit.

    Args:
        voxels: ``(N, V)`` voxel energies in MeV in the challenge's order.
        incident_energy: ``(N,)`` incident energies in GeV.
        geometry: the binning.
        weight: optional ``(N,)`` shower weights.

    Returns:
        Showers with hits ``{layer, alpha, r, energy}``
        (:func:`dctrgan.data.make_cylindrical_showers`); float32 voxel energies are kept
        bit for bit.

    Raises:
        ValueError: for another number of voxels than the geometry's, or non-finite
            energies.
    """
    dense = _checked(voxels, geometry)
    event, voxel = np.nonzero(dense)
    layer, alpha, r = (index[voxel] for index in geometry.voxel_bins)
    return make_cylindrical_showers(
        incident_energy,
        np.bincount(event, minlength=len(dense)),
        layer,
        alpha,
        r,
        dense[event, voxel],
        geometry,
        weight=weight,
    )


def voxelize_cylindrical(
    showers: ak.Array, geometry: CylindricalGeometry | None = None
) -> np.ndarray:
    """Dense ``(N, V)`` float32 voxel energies (MeV, the challenge's order) of showers of a
    cylindrical binning: the inverse of :func:`from_cylindrical_voxels` (hits in the same
    voxel add up).

    Args:
        showers: awkward showers whose hits are (layer, alpha, r) bins.
        geometry: their binning (default: their own; when given, it must be theirs).
    """
    _, g = _awkward_moments(showers[:0], geometry, 0.0)
    hits = showers["hits"]
    counts = np.asarray(ak.num(hits, axis=1))
    voxel = g.voxel_index(
        ak.flatten(hits["layer"]), ak.flatten(hits["alpha"]), ak.flatten(hits["r"])
    )
    out = np.zeros((len(showers), g.n_voxels), dtype=np.float32)
    flat = np.repeat(np.arange(len(showers)), counts) * g.n_voxels + voxel
    np.add.at(out.reshape(-1), flat, np.asarray(ak.flatten(hits["energy"]), dtype=np.float32))
    return out
