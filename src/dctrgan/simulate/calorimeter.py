"""GFlash-style electromagnetic showers in a silicon-tungsten ECAL.

A fast, vectorized stand-in for the Geant4 photon showers of the DCTRGAN paper
(50 GeV photons in the ILD-like ECAL of :class:`~dctrgan.data.Geometry`), and an
imperfect ``"fast"`` variant that plays the part of the paper's GAN.

A photon of energy ``E`` showers as in the GFlash parametrization for homogeneous
media (Grindhammer and Peters), with the absorber's ``Z``, ``X0``, Moliere radius
``R_M`` and critical energy ``E_c`` (``y = E / E_c``):

- longitudinal: ``dE/dt = E (beta t)^(alpha-1) beta exp(-beta t) / Gamma(alpha)``,
  ``t`` in ``X0`` of absorber, ``beta = (alpha - 1) / T``, with per-event correlated
  Gaussian fluctuations of ``ln T`` and ``ln alpha``::

      <ln T> = ln(ln y - 0.812)                  sigma(ln T) = 1 / (-1.4 + 1.26 ln y)
      <ln alpha> = ln(0.81 + (0.458 + 2.26/Z) ln y)
      sigma(ln alpha) = 1 / (-0.58 + 0.86 ln y)  rho = 0.705 - 0.023 ln y

- radial (``r`` in Moliere radii, ``tau = t / T``, ``E`` in GeV)::

      f(r) = p 2 r R_C^2 / (r^2 + R_C^2)^2 + (1 - p) 2 r R_T^2 / (r^2 + R_T^2)^2
      R_C = z1 + z2 tau,  z1 = 0.0251 + 0.00319 ln E,  z2 = 0.1162 - 0.000381 Z
      R_T = k1 (exp(k3 (tau - k2)) + exp(k4 (tau - k2))),
            k1 = 0.659 - 0.00309 Z, k2 = 0.645, k3 = -2.59, k4 = 0.3585 + 0.0421 ln E
      p = p1 exp((p2 - tau) / p3 - exp((p2 - tau) / p3)),
            p1 = 2.632 - 0.00094 Z, p2 = 0.401 + 0.00187 Z, p3 = 1.313 - 0.0686 ln E

- ``93 ln Z E^0.876`` energy spots of equal energy per shower, shared among the
  layers by one multinomial draw per shower: layer ``i`` takes the integral of the
  profile over its absorber plate (Gauss-Legendre quadrature), the rest leaks out of
  the back.

Sampling: a spot in layer ``i`` is seen in the silicon with probability
``q_i = f_i (E / N_spots) / e_mip``, where ``f_i`` is the visible fraction of the
energy (proportional to ``silicon / absorber_i``, so the thick-absorber layers 21-30
see half as much per unit of shower energy) and ``e_mip`` the mean energy a charged
particle leaves in the silicon (``q_i`` is capped at 1, reached only far above
10 TeV). A seen spot is placed at a radius drawn from
``f(r)`` at the layer's mean ``tau`` by inverse CDF (``r = R sqrt(u / (1 - u))``
for the chosen component) and a uniform azimuth, around an impact point uniform
within half a cell of the grid centre, and leaves a Gamma-distributed energy of
mean ``e_mip`` (a stand-in for the Landau spread), so a cell crossed ``m`` times
holds ``Gamma(k m, e_mip / k)``. The mean visible energy ``E sum_i P_i f_i`` does
not depend on ``e_mip``; ``e_mip`` sets the granularity, i.e. the active-cell count.
Lateral distances use the layer's effective Moliere radius,
``R_M (absorber_i + gap) / absorber_i``: particles spread through the low-density
gaps too. Cells below ``geometry.threshold`` (0.1 MeV) are dropped.

Calibration of the ``"full"`` variant at 50 GeV (``benchmarks/simulate.py`` measures
it): about 780 active cells, about 800 MeV visible energy, maximum just past layer 10
(layers counted from 1). The shift of ``T`` (:data:`_DEPTH_SHIFT`) stands in for
GFlash's sampling-calorimeter correction of the depth of maximum (two negative terms,
in the sampling frequency and in ``1 - e/mip``); the visible fraction and ``e_mip``
are tuned to the paper's visible energy and active-cell count.

References:
    G. Grindhammer, S. Peters, "The parameterized simulation of electromagnetic
    showers in homogeneous and sampling calorimeters", hep-ex/0001020.
    DCTRGAN (Diefenbacher et al.), sec. III B.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from typing import Any, Literal

import awkward as ak
import numpy as np
from tqdm.auto import tqdm

from dctrgan.data import Geometry, make_showers
from dctrgan.simulate._common import per_event

__all__ = ("calorimeter",)

log = logging.getLogger(__name__)

Variant = Literal["full", "fast"]

#: Shift of the depth of shower maximum ``exp<ln T>``, X0 (stands in for GFlash's
#: sampling-calorimeter correction; calibrated to a maximum just past layer 10).
_DEPTH_SHIFT = -1.7
#: Visible (silicon) fraction of the shower energy per (silicon / absorber) thickness ratio:
#: the ratio of MIP stopping powers Si/W (0.175) times an effective e/mip, calibrated.
_VISIBLE_PER_RATIO = 0.072
#: Mean energy of a charged particle crossing the silicon, MeV per mm of silicon
#: (Landau MPV about 0.29 keV/um, mean about 1.2 times higher; calibrated to the cell count).
_MIP_PER_MM = 0.38
#: Gamma shape of the energy one crossing deposits (35 % spread, a stand-in for Landau).
_CROSSING_SHAPE = 8.0
#: Smallest alpha of the longitudinal profile (alpha > 1 keeps beta = (alpha-1)/T positive).
_MIN_ALPHA = 1.05
#: Gauss-Legendre nodes per layer for the layer integrals of the profile.
_QUADRATURE_NODES = 8
#: Showers per outer chunk (per-event parameters) and spots per inner block (cache-sized).
_EVENTS_PER_CHUNK = 2048
_SPOTS_PER_BLOCK = 1 << 17


@dataclasses.dataclass(frozen=True)
class _Tuning:
    """How a variant departs from the parametrization.

    Attributes:
        depth: multiplies the mean ``T`` (``< 1``: shallower showers).
        fluctuation: multiplies ``sigma(ln T)`` and ``sigma(ln alpha)``.
        visible: multiplies the energy per silicon crossing (the visible energy).
    """

    depth: float = 1.0
    fluctuation: float = 1.0
    visible: float = 1.0


# "full" is the reference. "fast" is the imperfect generator: 2 % shallower (too much
# energy in the early layers, too little in the late ones), 10 % weaker event-by-event
# fluctuations of the profile (a narrower active-cell distribution) and 0.3 % more energy
# per silicon crossing: with less leakage and more energy in the thin-absorber layers, the
# visible energy comes out about 0.8 % high
# (the paper's GAN is high too; DCTR moves it down). The median separation power over the
# 33 high-level features is about 1e-2 (benchmarks/simulate.py).
_VARIANTS: dict[str, _Tuning] = {
    "full": _Tuning(),
    "fast": _Tuning(depth=0.98, fluctuation=0.9, visible=1.003),
}


def _lgamma(x: np.ndarray) -> np.ndarray:
    return np.array([math.lgamma(v) for v in x.ravel()]).reshape(x.shape)


def _spot_counts(energy: np.ndarray, z: float) -> np.ndarray:
    """Number of spots per shower, ``93 ln Z E^0.876`` (E in GeV)."""
    return np.rint(93.0 * math.log(z) * energy**0.876).astype(np.int64)


def _longitudinal(
    energy: np.ndarray, geometry: Geometry, tuning: _Tuning, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Per-shower depth of maximum ``T`` and layer probabilities.

    Returns:
        ``T`` in X0, ``(n,)``; and ``(n, n_layers + 1)`` probabilities of a spot
        landing in each layer's absorber plate, the last column the leakage.
    """
    z = geometry.z_atomic
    ln_y = np.log(energy * 1000.0 / geometry.critical_energy)
    if ln_y.min() < 1.5:
        msg = (
            f"energy: {energy.min()} GeV is below the range of the parametrization for "
            f"geometry.critical_energy={geometry.critical_energy} MeV (need E / E_c > 4.5)"
        )
        raise ValueError(msg)
    t_hom = ln_y - 0.812
    mean_ln_t = np.log(np.maximum(t_hom + _DEPTH_SHIFT, 0.5) * tuning.depth)
    sigma_ln_t = tuning.fluctuation / (-1.4 + 1.26 * ln_y)
    mean_ln_a = np.log(0.81 + (0.458 + 2.26 / z) * ln_y)
    sigma_ln_a = tuning.fluctuation / (-0.58 + 0.86 * ln_y)
    rho = 0.705 - 0.023 * ln_y
    g = rng.standard_normal((2, len(energy)))
    ln_t = mean_ln_t + sigma_ln_t * g[0]
    ln_a = mean_ln_a + sigma_ln_a * (rho * g[0] + np.sqrt(1.0 - rho**2) * g[1])
    t_max = np.exp(ln_t)
    alpha = np.maximum(np.exp(ln_a), _MIN_ALPHA)
    beta = (alpha - 1.0) / t_max

    edges = np.concatenate([[0.0], geometry.layer_depth])
    x, w = np.polynomial.legendre.leggauss(_QUADRATURE_NODES)
    half = 0.5 * np.diff(edges)
    nodes = (edges[:-1] + half)[:, None] + half[:, None] * x  # (L, m)
    weights = half[:, None] * w  # (L, m)
    a, b = alpha[:, None, None], beta[:, None, None]
    log_f = a * np.log(b) + (a - 1.0) * np.log(nodes) - b * nodes - _lgamma(alpha)[:, None, None]
    inside = (np.exp(log_f) * weights).sum(axis=-1)  # (n, L)
    inside = np.clip(inside, 0.0, None)
    total = inside.sum(axis=1)
    scale = np.where(total > 1.0, 1.0 / total, 1.0)
    inside *= scale[:, None]
    leak = np.clip(1.0 - inside.sum(axis=1), 0.0, 1.0)
    return t_max, np.column_stack([inside, leak])


def _radial(
    energy: np.ndarray, t_max: np.ndarray, geometry: Geometry
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Core fraction ``p`` and radii ``R_C``, ``R_T`` (mm) at each layer: ``(n, n_layers)`` each."""
    z = geometry.z_atomic
    ln_e = np.log(energy)[:, None]
    edges = np.concatenate([[0.0], geometry.layer_depth])
    tau = 0.5 * (edges[1:] + edges[:-1])[None, :] / t_max[:, None]
    r_core = (0.0251 + 0.00319 * ln_e) + (0.1162 - 0.000381 * z) * tau
    k1, k2, k3 = 0.659 - 0.00309 * z, 0.645, -2.59
    k4 = 0.3585 + 0.0421 * ln_e
    r_tail = k1 * (np.exp(k3 * (tau - k2)) + np.exp(k4 * (tau - k2)))
    p1, p2 = 2.632 - 0.00094 * z, 0.401 + 0.00187 * z
    p3 = 1.313 - 0.0686 * ln_e
    s = (p2 - tau) / p3
    p = np.clip(p1 * np.exp(s - np.exp(s)), 0.0, 1.0)
    absorber = np.asarray(geometry.absorber)
    width = geometry.moliere_radius * (absorber + geometry.gap) / absorber
    return p, r_core * width[None, :], r_tail * width[None, :]


def _deposit_block(
    counts: np.ndarray,
    radius: np.ndarray,
    centre: np.ndarray,
    mip: float,
    geometry: Geometry,
    rng: np.random.Generator,
) -> tuple[np.ndarray, ...]:
    """Place the seen spots of a few showers and sum them into cells.

    Args:
        counts: ``(b, L, 2)`` seen spots per shower, layer and radial component.
        radius: ``(b, L, 2)`` component radius in cell units.
        centre: ``(b, 2)`` impact point in cell units from the grid corner.
        mip: mean energy of one silicon crossing, MeV.
        geometry: the calorimeter.
        rng: random generator.

    Returns:
        Number of cells above threshold per shower ``(b,)``; their layer, ix, iy (int32)
        and energy (float32, MeV), sorted by (shower, layer, ix, iy).
    """
    b, n_layers, _ = counts.shape
    nx, ny = geometry.n_x, geometry.n_y
    cells = n_layers * nx * ny
    flat = counts.ravel()
    base = (np.arange(b * n_layers, dtype=np.int32) * (nx * ny)).repeat(2)
    cx = np.broadcast_to(centre[:, None, None, 0], counts.shape).ravel().astype(np.float32)
    cy = np.broadcast_to(centre[:, None, None, 1], counts.shape).ravel().astype(np.float32)
    n_spots = int(flat.sum())

    r = rng.random(n_spots, dtype=np.float32)
    np.divide(r, np.float32(1.0) - r, out=r)
    np.sqrt(r, out=r)
    r *= np.repeat(radius.ravel().astype(np.float32), flat)
    phi = rng.random(n_spots, dtype=np.float32)
    phi *= np.float32(2.0 * np.pi)
    x = np.cos(phi)
    x *= r
    x += np.repeat(cx, flat)
    y = np.sin(phi, out=phi)
    y *= r
    y += np.repeat(cy, flat)
    ok = (x >= 0) & (x < nx) & (y >= 0) & (y < ny)
    key = np.repeat(base, flat)
    key += x.astype(np.int32) * ny
    key += y.astype(np.int32)
    hits = np.bincount(key[ok], minlength=b * cells)

    index = np.flatnonzero(hits)
    n_in_cell = hits[index]
    event, rest = np.divmod(index, cells)
    layer, rest = np.divmod(rest, nx * ny)
    ix, iy = np.divmod(rest, ny)
    energy = rng.gamma(_CROSSING_SHAPE * n_in_cell, mip / _CROSSING_SHAPE).astype(np.float32)
    keep = energy >= geometry.threshold
    return (
        np.bincount(event[keep], minlength=b),
        layer[keep].astype(np.int32),
        ix[keep].astype(np.int32),
        iy[keep].astype(np.int32),
        energy[keep],
    )


def calorimeter(
    n: int,
    energy: Any = 50.0,
    variant: Variant = "full",
    geometry: Geometry | None = None,
    seed: int | np.random.Generator | None = None,
    progress: bool = False,
) -> ak.Array:
    """Simulate photon showers in a silicon-tungsten sampling calorimeter.

    Args:
        n: number of showers.
        energy: incident photon energy in GeV (>= 1), one number or an ``(n,)`` array.
        variant: ``"full"`` (the reference, standing in for Geant4) or ``"fast"``
            (an imperfect generator: too shallow, narrower active-cell distribution,
            slightly too much visible energy, weaker event-by-event fluctuations).
        geometry: the calorimeter (default: the ILD-like ECAL of the paper).
        seed: seed or generator; the same seed gives identical showers.
        progress: show a progress bar.

    Returns:
        ``n`` showers in the package schema (``dctrgan.data.make_showers``): hits
        unique per (layer, ix, iy) and sorted by them, energies in MeV above
        ``geometry.threshold``.

    Raises:
        ValueError: for a negative ``n``, an unknown ``variant`` or energies out of range.

    Example:
        >>> full = calorimeter(1000, seed=1)
        >>> fast = calorimeter(1000, variant="fast", seed=2)
    """
    if n < 0:
        msg = f"n must be non-negative, got {n}"
        raise ValueError(msg)
    if variant not in _VARIANTS:
        msg = f"variant must be one of {tuple(_VARIANTS)}, got {variant!r}"
        raise ValueError(msg)
    geometry = Geometry() if geometry is None else geometry
    tuning = _VARIANTS[variant]
    energies = per_event(n, energy, "energy", minimum=1.0, unit="GeV (GFlash range)")
    rng = np.random.default_rng(seed)
    mip = _MIP_PER_MM * geometry.silicon
    # probability per MeV of spot energy that a spot is seen in the silicon, by layer
    fraction = 1000.0 * _VISIBLE_PER_RATIO * geometry.silicon / np.asarray(geometry.absorber) / mip
    n_cells = geometry.n_layers * geometry.n_x * geometry.n_y
    parts: list[tuple[np.ndarray, ...]] = []
    with tqdm(total=n, disable=not progress, unit="shower", desc=f"calorimeter ({variant})") as bar:
        for start in range(0, n, _EVENTS_PER_CHUNK):
            e = energies[start : start + _EVENTS_PER_CHUNK]
            m = len(e)
            spots = _spot_counts(e, geometry.z_atomic)
            t_max, probabilities = _longitudinal(e, geometry, tuning, rng)
            per_layer = rng.multinomial(spots, probabilities)[:, :-1]
            seen = rng.binomial(per_layer, np.clip(fraction[None, :] * (e / spots)[:, None], 0, 1))
            p_core, r_core, r_tail = _radial(e, t_max, geometry)
            core = rng.binomial(seen, p_core)
            counts = np.stack([core, seen - core], axis=-1)
            radius = np.stack([r_core, r_tail], axis=-1) / geometry.cell_size
            offset = rng.uniform(-0.5, 0.5, size=(m, 2))
            centre = offset + 0.5 * np.array([geometry.n_x, geometry.n_y])
            # inner blocks of a few showers: about _SPOTS_PER_BLOCK spots (cache-sized
            # arrays), and a dense cell histogram of bounded size
            cum = np.cumsum(counts.sum(axis=(1, 2)))
            cuts = np.searchsorted(cum, np.arange(_SPOTS_PER_BLOCK, cum[-1], _SPOTS_PER_BLOCK))
            max_events = max(1, (1 << 24) // n_cells)
            bounds = np.unique(np.concatenate([[0], cuts, np.arange(0, m, max_events), [m]]))
            for lo, hi in itertools.pairwise(bounds):
                parts.append(
                    _deposit_block(
                        counts[lo:hi],
                        radius[lo:hi],
                        centre[lo:hi],
                        mip * tuning.visible,
                        geometry,
                        rng,
                    )
                )
            bar.update(m)
    if parts:
        hit_counts, layer, ix, iy, deposit = (np.concatenate(c) for c in zip(*parts, strict=True))
    else:
        hit_counts = layer = ix = iy = np.zeros(0, dtype=np.int32)
        deposit = np.zeros(0, dtype=np.float32)
    log.debug("calorimeter: %d %s showers, %d hits", n, variant, len(deposit))
    return make_showers(
        energies.astype(np.float32),
        hit_counts,
        layer,
        ix,
        iy,
        deposit,
        geometry=geometry,
    )
