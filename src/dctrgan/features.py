"""Shower and trace features: the paper's high-level observables, dense forms.

References:
    DCTRGAN (Diefenbacher et al.), sec. III B: the 33 high-level features.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from dctrgan.data import DEFAULT_GEOMETRY, Geometry, validate

__all__ = ("HIGH_LEVEL_NAMES", "high_level", "layer_energies")

#: Names of the 33 columns of :func:`high_level`, in order. Layers count from 1 as in the paper.
HIGH_LEVEL_NAMES: tuple[str, ...] = (
    "active_cells",
    "longitudinal_centroid",
    "total_energy",
    *(f"energy_layer_{i}" for i in range(1, 31)),
)


def _flat_hits(showers: ak.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event index, layer and energy of every hit, as flat numpy arrays."""
    hits = showers["hits"]
    counts = np.asarray(ak.num(hits, axis=1), dtype=np.int64)
    event = np.repeat(np.arange(len(counts)), counts)
    layer = np.asarray(ak.to_numpy(ak.flatten(hits["layer"])), dtype=np.int64)
    energy = np.asarray(ak.to_numpy(ak.flatten(hits["energy"])), dtype=np.float64)
    return event, layer, energy


def layer_energies(showers: ak.Array, geometry: Geometry = DEFAULT_GEOMETRY) -> np.ndarray:
    """Energy deposited in each layer.

    Args:
        showers: calorimeter showers.
        geometry: gives the number of layers.

    Returns:
        ``(N, n_layers)`` float64 layer energies in MeV.
    """
    event, layer, energy = _flat_hits(showers)
    n, n_layers = len(showers), geometry.n_layers
    flat = np.bincount(event * n_layers + layer, weights=energy, minlength=n * n_layers)
    return flat.reshape(n, n_layers)


def high_level(showers: ak.Array) -> np.ndarray:
    """The 33 high-level features of the DCTRGAN paper.

    Columns (:data:`HIGH_LEVEL_NAMES`): number of active cells, longitudinal
    centroid ``sum_i i E_i / sum_i E_i`` (layers counted from 1; 0 for an empty
    shower), total visible energy (MeV), and the energy in each of the 30 layers (MeV).

    Args:
        showers: calorimeter showers in the package schema, 30 layers.

    Returns:
        ``(N, 33)`` float32 array.

    References:
        DCTRGAN (Diefenbacher et al.), sec. III B.
    """
    validate(showers, "showers", strict=False)
    layers = layer_energies(showers)
    total = layers.sum(axis=1)
    index = np.arange(1, layers.shape[1] + 1)
    centroid = np.divide(layers @ index, total, out=np.zeros_like(total), where=total > 0)
    cells = np.asarray(ak.num(showers["hits"], axis=1), dtype=np.float64)
    return np.column_stack([cells, centroid, total, layers]).astype(np.float32)
