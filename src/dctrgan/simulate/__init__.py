"""Reference simulators: fast, vectorized, seeded stand-ins for Geant4, GANs and data.

- :func:`calorimeter`: GFlash-style photon showers in the ILD-like Si-W ECAL, in a
  ``"full"`` (reference) and an imperfect ``"fast"`` variant (DCTRGAN sec. III B);
- :func:`airshower`: parametrized air-shower traces of a 9 x 9 station grid, as
  ``"data"`` or ``"sim"`` (Erdmann et al. sec. 3);
- :data:`bimodal_1d`, :data:`circle_2d`, :data:`grid_2d`: the Gaussian-mixture toys
  of DCTRGAN eqs. 12-14, with exact densities.

Every simulator takes ``seed=`` (an int or a ``numpy.random.Generator``) and gives
identical output for the same seed.
"""

from __future__ import annotations

from dctrgan.simulate.airshower import airshower, station_positions
from dctrgan.simulate.calorimeter import calorimeter
from dctrgan.simulate.gaussians import GaussianMixture, bimodal_1d, circle_2d, grid_2d

__all__ = (
    "GaussianMixture",
    "airshower",
    "bimodal_1d",
    "calorimeter",
    "circle_2d",
    "grid_2d",
    "station_positions",
)


def __dir__() -> tuple[str, ...]:
    return __all__
