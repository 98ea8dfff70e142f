"""Parametrized cosmic-ray air showers seen by a grid of water-Cherenkov stations.

A vectorized stand-in for the parametrized simulation of Erdmann, Glombitza and Walz
used by Erdmann et al. (sec. 3): 9 x 9 stations, 1500 m apart, at 1400 m above sea
level, 80 time bins of 25 ns per station, proton energies flat in 1-100 EeV.

Layout. The stations sit on a triangular (hexagonal) lattice, as in the paper, stored
in axial coordinates: ``signal[:, i, j]`` is the station at
``x = 1500 m ((i - 4) + (j - 4) / 2)``, ``y = 1500 m (sqrt(3) / 2) (j - 4)``
(:func:`station_positions`), so the six neighbours of a station are the same six
array neighbours everywhere and convolutions see a translation-invariant grid. The
shower core is uniform within the hexagonal cell of the central station ``(4, 4)``
(every point closer to it than to any other station, at most 866 m away), and
``core_x, core_y`` are measured from that station.

Signals. A shower of energy ``E`` gives a station at distance ``r`` from the axis
``S0 = 900 (E / 10 EeV)`` VEM, split into muons and electromagnetic particles
(``"data"``: 30 % / 70 %, ``"sim"``: 70 % / 30 %), each with a lateral falloff
``(max(r, 150 m) / 1000 m)^-4.7`` (muons) and ``^-6.1`` (EM) and an atmospheric
attenuation ``(dX / 100 g/cm^2)^-0.1`` (muons) and ``^-0.4`` (EM), capped at 10,
where ``dX`` is the slant depth from the shower maximum to the station. Each event
scales both components by a log-normal shower-to-shower factor (10 % spread).
Particle arrival times after the shower front are log-normal (``sigma = 0.7``) with
medians ``50 + 140 (r / 750 m)^1.4 (1 - 0.2 dX / 1000)`` ns (muons) and
``80 + 200 (r / 750 m)^1.4 (1 - 0.1 dX / 1000)`` ns (EM, later); the particles in
each 25 ns bin are Poisson distributed, one particle giving 1 VEM. Each bin gets
5 % Gaussian signal noise and 1.2 VEM Gaussian baseline noise and is clipped at zero.
A station triggers when its trace holds at least 115 VEM; the others are set to
exactly zero. ``"sim"`` halves the noise and the shower-to-shower fluctuations.

Timing. The shower front is a plane perpendicular to the axis; each station's window
opens 50 ns before the front reaches it (as a station trigger would), so the traces
show the arrival times relative to the front. For the default vertical showers the
front reaches all stations at once.

Matching. Energies, cores, depths, directions and shower-to-shower factors come from
one random stream and the detector response from another, so ``"data"`` and
``"sim"`` with the same seed describe the same showers (as the matched events of
Erdmann et al., Fig. 5).

Stations whose expected signal is below 20 VEM are not sampled and count as
untriggered: with the noise they reach 115 VEM with a probability below 1e-9.
With the default vertical showers and fixed shower maximum every event has at least
one triggered station; inclined showers near 1 EeV may have none.

References:
    M. Erdmann, J. Glombitza, D. Walz, "A deep learning-based reconstruction of
    cosmic ray-induced air showers", Astropart. Phys. 97 (2018) 46.
    M. Erdmann, L. Geiger, J. Glombitza, D. Schmidt, "Generating and refining
    particle detector simulations using the Wasserstein distance in adversarial
    networks", Comput. Softw. Big Sci. 2 (2018) 4, sec. 3.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any, Literal

import awkward as ak
import numpy as np
from tqdm.auto import tqdm

from dctrgan.data import SIGNAL_SHAPE, make_traces
from dctrgan.simulate._common import per_event

__all__ = ("airshower", "station_positions")

log = logging.getLogger(__name__)

Variant = Literal["data", "sim"]

_GRID = SIGNAL_SHAPE[0]
_BINS = SIGNAL_SHAPE[2]
#: Station spacing (m), array altitude (m), time bin (ns), window start before the front (ns).
_SPACING = 1500.0
_HEIGHT = 1400.0
_BIN_WIDTH = 25.0
_PRETRIGGER = 50.0
#: Atmosphere: sea-level vertical depth (g/cm^2) and scale height (m) of an isothermal model.
_SEA_LEVEL_DEPTH = 1033.0
_SCALE_HEIGHT = 8400.0
#: Speed of light, m/ns.
_C = 0.299792458
#: Signal at 1000 m of a 10 EeV shower, VEM; reference energy, EeV.
_S0 = 900.0
_E0 = 10.0
#: Lateral falloff exponents, attenuation exponents (muon, EM), and the attenuation cap.
_LATERAL = np.array([4.7, 6.1])
_ATTENUATION = np.array([0.1, 0.4])
_ATTENUATION_CAP = 10.0
#: Log-normal arrival times: width, and median = a + b (r / 750 m)^1.4 (1 - c dX / 1000).
_TIME_SIGMA = 0.7
_TIME_A = np.array([50.0, 80.0])
_TIME_B = np.array([140.0, 200.0])
_TIME_C = np.array([0.2, 0.1])
#: Trigger threshold (VEM per station) and the expected signal below which no station triggers.
_TRIGGER = 115.0
_SAMPLE_CUT = 20.0
#: Fixed shower maximum (g/cm^2) and the Gumbel option: mode at 10 EeV, elongation rate per
#: decade, scale (mean about 765 and spread about 60 g/cm^2 at 10 EeV, proton-like).
_XMAX = 750.0
_GUMBEL_MODE = 738.0
_GUMBEL_ELONGATION = 55.0
_GUMBEL_SCALE = 47.0
_EVENTS_PER_CHUNK = 1024


@dataclasses.dataclass(frozen=True)
class _Tuning:
    """Muon share of ``S0``, noise (relative and baseline VEM) and shower-to-shower spread."""

    muon_fraction: float
    relative_noise: float
    baseline_noise: float
    fluctuation: float


_VARIANTS: dict[str, _Tuning] = {
    "data": _Tuning(muon_fraction=0.3, relative_noise=0.05, baseline_noise=1.2, fluctuation=0.1),
    "sim": _Tuning(muon_fraction=0.7, relative_noise=0.025, baseline_noise=0.6, fluctuation=0.05),
}


def station_positions(spacing: float = _SPACING) -> np.ndarray:
    """Ground positions of the 9 x 9 stations.

    Args:
        spacing: distance between neighbouring stations, m.

    Returns:
        ``(9, 9, 2)`` array: ``[i, j]`` holds ``(x, y)`` in m of the station whose trace
        is ``signal[:, i, j]``, relative to the central station ``(4, 4)``.
    """
    k = np.arange(_GRID) - _GRID // 2
    i, j = np.meshgrid(k, k, indexing="ij")
    return np.stack([spacing * (i + 0.5 * j), spacing * (math.sqrt(3) / 2) * j], axis=-1)


def _cores(n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, 2)`` core positions uniform in the hexagonal cell of the central station, m."""
    u = np.array([_SPACING, 0.0])
    v = np.array([0.5 * _SPACING, math.sqrt(3) / 2 * _SPACING])
    ab = rng.uniform(-0.5, 0.5, size=(n, 2))
    point = ab[:, :1] * u + ab[:, 1:] * v
    # fold the lattice cell onto the hexagon: subtract the nearest lattice point
    lattice = np.array([(a, b) for a in (-1, 0, 1) for b in (-1, 0, 1)], dtype=np.float64)
    candidates = lattice[:, :1] * u + lattice[:, 1:] * v  # (9, 2)
    d2 = ((point[:, None, :] - candidates[None]) ** 2).sum(axis=-1)
    return np.asarray(point - candidates[np.argmin(d2, axis=1)])


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF via the erf approximation of Abramowitz & Stegun 7.1.26 (|error| <
    2e-7)."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    erf = 1.0 - poly * np.exp(-z * z)
    return np.asarray(0.5 * (1.0 + np.copysign(erf, x)))


def _energies(n: int, energy: Any, rng: np.random.Generator) -> np.ndarray:
    if energy is None:
        return rng.uniform(1.0, 100.0, size=n)
    return per_event(n, energy, "energy", minimum=np.finfo(np.float64).tiny, unit="EeV")


def _showers(
    n: int,
    energy: Any,
    xmax: float | Literal["gumbel"],
    zenith_max: float,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Energies, cores, depths of maximum, directions and the two shower-to-shower normals."""
    e = _energies(n, energy, rng)
    core = _cores(n, rng)
    if xmax == "gumbel":
        mode = _GUMBEL_MODE + _GUMBEL_ELONGATION * np.log10(e / _E0)
        depth = mode + rng.gumbel(0.0, _GUMBEL_SCALE, size=n)
    else:
        depth = np.full(n, float(xmax))
    sin2 = rng.uniform(0.0, math.sin(math.radians(zenith_max)) ** 2, size=n)
    zenith = np.arcsin(np.sqrt(sin2))
    azimuth = rng.uniform(0.0, 2 * math.pi, size=n)
    return {
        "energy": e,
        "core": core,
        "xmax": depth,
        "zenith": zenith,
        "azimuth": azimuth,
        "normal": rng.standard_normal((n, 2)),
    }


def _expected(
    shower: dict[str, np.ndarray], tuning: _Tuning, stations: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Expected signal (VEM) and median arrival time (ns) per event, station and component.

    Returns:
        Two ``(n, 81, 2)`` arrays; the last axis is (muon, EM).
    """
    theta, phi = shower["zenith"], shower["azimuth"]
    axis = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], -1)
    d = stations[None, :, :] - shower["core"][:, None, :]  # (n, 81, 2)
    along = (d * axis[:, None, :2]).sum(axis=-1)  # toward the incoming shower: reached earlier
    r = np.sqrt(np.maximum((d * d).sum(axis=-1) - along**2, 0.0))
    ground = _SEA_LEVEL_DEPTH * math.exp(-_HEIGHT / _SCALE_HEIGHT)
    cos_t = np.cos(theta)[:, None]
    slant = ground * np.exp(-along * cos_t / _SCALE_HEIGHT) / cos_t
    dx = slant - shower["xmax"][:, None]  # (n, 81)

    fractions = np.array([tuning.muon_fraction, 1.0 - tuning.muon_fraction])
    s0 = _S0 * shower["energy"] / _E0
    spread = tuning.fluctuation
    scale = np.exp(spread * shower["normal"] - 0.5 * spread**2)  # (n, 2), mean 1
    lateral = (np.maximum(r, 150.0)[..., None] / 1000.0) ** -_LATERAL
    attenuation = np.minimum(
        (np.maximum(dx, 1e-3)[..., None] / 100.0) ** -_ATTENUATION, _ATTENUATION_CAP
    )
    signal = (s0[:, None] * scale)[:, None, :] * fractions * lateral * attenuation
    growth = (r / 750.0)[..., None] ** 1.4 * (1.0 - _TIME_C * dx[..., None] / 1000.0)
    median = np.maximum(_TIME_A + _TIME_B * growth, 1.0)
    return signal, median


def _traces(
    signal: np.ndarray, median: np.ndarray, tuning: _Tuning, rng: np.random.Generator
) -> np.ndarray:
    """Noisy traces of the sampled stations.

    Args:
        signal: ``(A, 2)`` expected muon and EM signal, VEM.
        median: ``(A, 2)`` median arrival times after the front, ns.
        tuning: the variant.
        rng: detector random stream.

    Returns:
        ``(A, 80)`` float32 traces in VEM per bin, non-negative.
    """
    edges = -_PRETRIGGER + _BIN_WIDTH * np.arange(_BINS + 1)
    log_t = np.log(np.maximum(edges, 1e-9))
    z = (log_t[None, None, :] - np.log(median)[..., None]) / _TIME_SIGMA
    cdf = np.where(edges > 0, _normal_cdf(z), 0.0)
    mean = signal[..., None] * np.maximum(np.diff(cdf, axis=-1), 0.0)  # (A, 2, 80)
    particles = rng.poisson(mean).sum(axis=1).astype(np.float32)
    noise = rng.standard_normal((2, *particles.shape), dtype=np.float32)
    trace: np.ndarray = particles * (1 + np.float32(tuning.relative_noise) * noise[0])
    trace += np.float32(tuning.baseline_noise) * noise[1]
    np.maximum(trace, 0, out=trace)
    return trace


def airshower(
    n: int,
    variant: Variant = "data",
    seed: int | np.random.Generator | None = None,
    *,
    energy: Any = None,
    xmax: float | Literal["gumbel"] = _XMAX,
    zenith_max: float = 0.0,
    progress: bool = False,
) -> ak.Array:
    """Simulate air-shower events: 9 x 9 station traces of 80 bins of 25 ns.

    Args:
        n: number of events.
        variant: ``"data"`` (30 % muons) or ``"sim"`` (70 % muons, half the noise and
            the shower-to-shower fluctuations), as in Erdmann et al. sec. 3.
        seed: seed or generator; the same seed gives identical events, and the same
            showers in ``"data"`` and ``"sim"``.
        energy: primary energies in EeV, a number or an ``(n,)`` array; default
            uniform in 1-100 EeV.
        xmax: depth of shower maximum in g/cm^2 (default 750), or ``"gumbel"`` for a
            proton-like Gumbel distribution (mode ``738 + 55 log10(E / 10 EeV)``,
            scale 47 g/cm^2).
        zenith_max: largest zenith angle in degrees (0 to 60); zenith angles follow an
            isotropic flux on flat ground (``sin^2`` uniform), azimuths are uniform.
        progress: show a progress bar.

    Returns:
        ``n`` events in the package schema (``dctrgan.data.make_traces``): energy
        (EeV), signal ``(9, 9, 80)`` (VEM per bin; untriggered stations exactly zero),
        core_x and core_y (m, from the central station), xmax (g/cm^2).

    Raises:
        ValueError: for a negative ``n``, an unknown ``variant`` or out-of-range options.

    Example:
        >>> data = airshower(1000, "data", seed=1)
        >>> sim = airshower(1000, "sim", seed=1)  # the same showers, simulated
    """
    if n < 0:
        msg = f"n must be non-negative, got {n}"
        raise ValueError(msg)
    if variant not in _VARIANTS:
        msg = f"variant must be one of {tuple(_VARIANTS)}, got {variant!r}"
        raise ValueError(msg)
    if not 0.0 <= zenith_max <= 60.0:
        msg = f"zenith_max must be within [0, 60] degrees, got {zenith_max}"
        raise ValueError(msg)
    if not (xmax == "gumbel" if isinstance(xmax, str) else math.isfinite(xmax)):
        msg = f"xmax must be a depth in g/cm^2 or 'gumbel', got {xmax!r}"
        raise ValueError(msg)
    tuning = _VARIANTS[variant]
    rng = np.random.default_rng(seed)
    shower_rng, detector_rng = (np.random.default_rng(k) for k in rng.integers(0, 2**63, size=2))
    shower = _showers(n, energy, xmax, zenith_max, shower_rng)
    stations = station_positions().reshape(-1, 2)
    signal = np.zeros((n, _GRID * _GRID, _BINS), dtype=np.float32)
    with tqdm(total=n, disable=not progress, unit="event", desc=f"airshower ({variant})") as bar:
        for start in range(0, n, _EVENTS_PER_CHUNK):
            stop = min(start + _EVENTS_PER_CHUNK, n)
            chunk = {k: v[start:stop] for k, v in shower.items()}
            expected, median = _expected(chunk, tuning, stations)
            event, station = np.nonzero(expected.sum(axis=-1) >= _SAMPLE_CUT)
            traces = _traces(expected[event, station], median[event, station], tuning, detector_rng)
            triggered = traces.sum(axis=-1) >= _TRIGGER
            signal[start + event[triggered], station[triggered]] = traces[triggered]
            bar.update(stop - start)
    log.debug("airshower: %d %s events", n, variant)
    return make_traces(
        shower["energy"],
        signal.reshape(n, *SIGNAL_SHAPE),
        shower["core"][:, 0],
        shower["core"][:, 1],
        shower["xmax"],
    )
