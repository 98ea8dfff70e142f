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

import numpy as np
import numpy.typing as npt

from dctrgan.data import CylindricalGeometry

__all__ = ("calochallenge", "calochallenge_names")

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
