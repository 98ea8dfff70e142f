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

from dctrgan.data import CylindricalGeometry, Geometry, geometry_of

__all__ = ("calochallenge", "calochallenge_names", "cartesian_for", "to_cylindrical")

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


def _centre_and_width(
    x: np.ndarray, energy: np.ndarray, total: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Energy-weighted centre and width of the coordinate ``x`` of a layer's voxels."""
    centre = (energy @ x) / (total + EPSILON)
    second = (energy @ (x * x)) / (total + EPSILON)
    return centre, np.sqrt(np.clip(second - centre**2, 0.0, None))


def calochallenge(
    showers: npt.ArrayLike, geometry: CylindricalGeometry, *, threshold: float = 0.0
) -> dict[str, np.ndarray]:
    """The challenge's high-level features of showers, by name (:func:`calochallenge_names`).

    Args:
        showers: ``(N, V)`` voxel energies in MeV in the challenge's order (the
            ``showers`` dataset of its HDF5 files), ``V = geometry.n_voxels``.
        geometry: the binning.
        threshold: the voxel energy (MeV) above which a voxel counts as hit, for the
            sparsity (the challenge's default: 0).

    Returns:
        ``{name: (N,) float64}``.

    Raises:
        ValueError: for another number of voxels than the geometry's, or non-finite
            energies (naming the first shower).
    """
    e = np.asarray(showers, dtype=np.float64)
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
    out = {"E_tot": e.sum(axis=1)}
    for layer in geometry.relevant_layers:
        energy = e[:, geometry.layer_slice(layer)]
        total = energy.sum(axis=1)
        where = geometry.voxel_coordinates(layer)
        out[f"E_layer_{layer}"] = total
        r = _centre_and_width(where["r_mm"], energy, total)
        out[f"EC_r_{layer}"], out[f"width_r_{layer}"] = r
        if layer in geometry.alpha_binned_layers:
            eta = _centre_and_width(where["eta"], energy, total)
            phi = _centre_and_width(where["phi"], energy, total)
            out[f"EC_eta_{layer}"], out[f"EC_phi_{layer}"] = eta[0], phi[0]
            out[f"width_eta_{layer}"], out[f"width_phi_{layer}"] = eta[1], phi[1]
        out[f"sparsity_{layer}"] = 1.0 - (energy > threshold).mean(axis=1)
    return {name: out[name] for name in calochallenge_names(geometry)}


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
