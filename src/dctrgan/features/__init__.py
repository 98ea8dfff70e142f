"""Features of events: the calorimeter observables, hits <-> dense voxels, trace observables.

Calorimeter observables (DCTRGAN Figs. 3-8) come from showers in the package schema
or from dense voxels ``(N, n_layers, n_x, n_y)`` in MeV (``calorimeter.py``);
:func:`voxelize` and :func:`from_voxels` convert between the two (``voxels.py``);
:func:`pattern`, :func:`total_signal`, :func:`rise_time` and :func:`early_fraction`
summarize air-shower traces (``traces.py``), and :func:`trace_observables` and
:func:`trace_high_level` their events (``airshower.py``); :func:`calochallenge` gives the
high-level features of the Fast Calorimeter Simulation Challenge 2022 for its
cylindrical binnings, :func:`from_cylindrical_voxels` and :func:`voxelize_cylindrical`
convert its dense voxels to showers and back (``cylindrical.py``).
"""

from __future__ import annotations

from dctrgan.features.airshower import (
    HIGH_LEVEL_TRACE_NAMES,
    station_grid,
    trace_high_level,
    trace_observable_unit,
    trace_observables,
)
from dctrgan.features.calorimeter import (
    HIGH_LEVEL_NAMES,
    active_cells,
    centroid,
    high_level,
    layer_differences,
    layer_energies,
    observable_unit,
    observables,
    second_moments,
    total_energy,
)
from dctrgan.features.cylindrical import (
    calochallenge,
    calochallenge_names,
    cartesian_for,
    from_cylindrical_voxels,
    to_cylindrical,
    voxelize_cylindrical,
)
from dctrgan.features.traces import early_fraction, pattern, rise_time, total_signal
from dctrgan.features.voxels import from_voxels, voxelize

__all__ = (
    "HIGH_LEVEL_NAMES",
    "HIGH_LEVEL_TRACE_NAMES",
    "active_cells",
    "calochallenge",
    "calochallenge_names",
    "cartesian_for",
    "centroid",
    "early_fraction",
    "from_cylindrical_voxels",
    "from_voxels",
    "high_level",
    "layer_differences",
    "layer_energies",
    "observable_unit",
    "observables",
    "pattern",
    "rise_time",
    "second_moments",
    "station_grid",
    "to_cylindrical",
    "total_energy",
    "total_signal",
    "trace_high_level",
    "trace_observable_unit",
    "trace_observables",
    "voxelize",
    "voxelize_cylindrical",
)
