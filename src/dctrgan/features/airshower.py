"""Air-shower event observables: a high-level summary of the 9 x 9 station traces.

The observables the Erdmann et al. figures look at, one number per event: the total
signal and the size of the footprint (Fig. 2: large signals at the shower centre, a
pattern that grows with energy), the hottest station and its trace (Fig. 5a), and
the shape of the traces, which the muon share sets (sec. 5: muon-rich simulated
traces rise faster than the data's). They are the ``"auto"`` features of
:class:`dctrgan.DCTR` on traces, as the DCTRGAN high-level features are on showers.

Over the stations of an event the trace shapes are summarized by signal-weighted
means over the active stations (those with a positive total: the triggered ones of
the package schema), which the large, well-measured signals dominate. An event
without active stations gets 0 for every observable, never NaN; one with a single
active station gets that station's values and a footprint radius of 0.

References:
    Erdmann, Glombitza, Walz et al., secs. 3-5 and Figs. 2, 5.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dctrgan.features.traces import early_fractions, rise_times, signal_array

__all__ = (
    "HIGH_LEVEL_TRACE_NAMES",
    "station_grid",
    "trace_high_level",
    "trace_observable_unit",
    "trace_observables",
)

#: Names of the columns of :func:`trace_high_level`, in order: the signals as logarithms
#: (they span six decades: a core next to a station), the rest as they are.
HIGH_LEVEL_TRACE_NAMES: tuple[str, ...] = (
    "log_total_signal",
    "active_stations",
    "log_max_station_signal",
    "max_station_fraction",
    "rise_time",
    "early_fraction",
    "max_station_rise_time",
    "max_station_early_fraction",
    "centroid_x",
    "centroid_y",
    "footprint_radius",
)

_UNITS: dict[str, str] = {
    "total_signal": "VEM",
    "log_total_signal": "",
    "active_stations": "",
    "max_station_signal": "VEM",
    "log_max_station_signal": "",
    "max_station_fraction": "",
    "rise_time": "ns",
    "early_fraction": "",
    "max_station_rise_time": "ns",
    "max_station_early_fraction": "",
    "centroid_x": "m",
    "centroid_y": "m",
    "footprint_radius": "m",
}


def station_grid(n_x: int = 9, n_y: int = 9, spacing: float = 1500.0) -> np.ndarray:
    """Ground positions of the stations of the triangular grid of the package schema.

    The same positions as :func:`dctrgan.simulate.airshower.station_positions`:
    station ``[i, j]`` is at ``spacing * (i' + j' / 2, j' sqrt(3) / 2)`` with
    ``i' = i - n_x // 2``, ``j' = j - n_y // 2`` (the central station at the origin).

    Args:
        n_x: stations along the first axis of the signal.
        n_y: stations along the second axis.
        spacing: distance between neighbouring stations, m.

    Returns:
        ``(n_x, n_y, 2)`` float64 ``(x, y)`` in m.
    """
    i, j = np.meshgrid(np.arange(n_x) - n_x // 2, np.arange(n_y) - n_y // 2, indexing="ij")
    return np.stack([spacing * (i + 0.5 * j), spacing * (math.sqrt(3) / 2) * j], axis=-1)


def _mean(values: np.ndarray, weights: np.ndarray, norm: np.ndarray) -> np.ndarray:
    """``sum(weights * values) / norm`` per event (NaN values carry no weight), 0 for
    ``norm == 0``."""
    numerator = np.sum(weights * np.nan_to_num(values), axis=1)
    out = np.zeros(len(values))
    np.divide(numerator, norm, out=out, where=norm > 0)
    return out


def trace_observables(
    events: Any,
    *,
    spacing: float = 1500.0,
    bin_width: float = 25.0,
    rise: tuple[float, float] = (0.1, 0.5),
    early_bins: int = 16,
) -> dict[str, np.ndarray]:
    """The high-level observables of air-shower events, by name.

    Names (units from :func:`trace_observable_unit`; the 11
    :data:`HIGH_LEVEL_TRACE_NAMES` are among them):

    - ``total_signal``: sum of every trace bin (VEM, :func:`dctrgan.features.total_signal`),
      and ``log_total_signal``: ``log10(1 + total_signal / VEM)``;
    - ``active_stations``: stations with a positive total (triggered);
    - ``max_station_signal``: the largest station total (VEM),
      ``log_max_station_signal`` its ``log10(1 + S / VEM)``, and
      ``max_station_fraction`` its share of the active stations' signal;
    - ``rise_time``, ``early_fraction``: signal-weighted means over the active
      stations of :func:`dctrgan.features.rise_time` (ns) and
      :func:`dctrgan.features.early_fraction`;
    - ``max_station_rise_time``, ``max_station_early_fraction``: those of the
      station with the largest signal (Erdmann et al. Fig. 5a);
    - ``centroid_x``, ``centroid_y``: signal-weighted mean station position (m,
      :func:`station_grid`), and ``footprint_radius``: the signal-weighted RMS
      distance of the active stations from it (m).

    Args:
        events: traces (a ``signal`` field) or a ``(N, n_x, n_y, n_t)`` signal array.
        spacing: station spacing, m.
        bin_width: time bin width, ns.
        rise: the fractions of a station total between which its rise time runs.
        early_bins: the window of the early fraction, in time bins.

    Returns:
        Insertion-ordered ``{name: (N,) float64 array}``; 0 (not NaN) where an event
        has no active station.

    Raises:
        ValueError: for a bad signal (shape, dtype, NaN) or bad options.
    """
    signal = signal_array(events, "trace_observables")
    n, n_x, n_y = signal.shape[:3]
    totals = signal.sum(axis=-1, dtype=np.float64).reshape(n, -1)
    weights = np.where(totals > 0, totals, 0.0)
    norm = weights.sum(axis=1)
    rows = np.arange(n)
    hottest = np.argmax(weights, axis=1)
    largest = weights[rows, hottest]
    rise_time = rise_times(signal, *rise, bin_width).reshape(n, -1)
    early = early_fractions(signal, early_bins, rise[0]).reshape(n, -1)
    grid = station_grid(n_x, n_y, spacing).reshape(-1, 2)
    cx, cy = (
        _mean(np.broadcast_to(grid[:, 0], weights.shape), weights, norm),
        _mean(np.broadcast_to(grid[:, 1], weights.shape), weights, norm),
    )
    squared = (grid[None, :, 0] - cx[:, None]) ** 2 + (grid[None, :, 1] - cy[:, None]) ** 2
    fraction = np.zeros(n)
    np.divide(largest, norm, out=fraction, where=norm > 0)
    total = totals.sum(axis=1)
    return {
        "total_signal": total,
        "log_total_signal": np.log10(1.0 + np.maximum(total, 0.0)),
        "active_stations": np.count_nonzero(weights, axis=1).astype(np.float64),
        "max_station_signal": largest,
        "log_max_station_signal": np.log10(1.0 + largest),
        "max_station_fraction": fraction,
        "rise_time": _mean(rise_time, weights, norm),
        "early_fraction": _mean(early, weights, norm),
        "max_station_rise_time": np.nan_to_num(rise_time[rows, hottest]),
        "max_station_early_fraction": np.nan_to_num(early[rows, hottest]),
        "centroid_x": cx,
        "centroid_y": cy,
        "footprint_radius": np.sqrt(_mean(squared, weights, norm)),
    }


def trace_high_level(events: Any) -> np.ndarray:
    """The high-level features of air-shower events: the :data:`HIGH_LEVEL_TRACE_NAMES`
    of :func:`trace_observables` as columns (the inputs of :class:`dctrgan.DCTR` on
    traces with ``features="auto"``).

    Args:
        events: traces (a ``signal`` field) or a ``(N, n_x, n_y, n_t)`` signal array.

    Returns:
        ``(N, 11)`` float32 array, columns :data:`HIGH_LEVEL_TRACE_NAMES`.
    """
    table = trace_observables(events)
    return np.column_stack([table[name] for name in HIGH_LEVEL_TRACE_NAMES]).astype(np.float32)


def trace_observable_unit(name: str) -> str:
    """Unit of an observable of :func:`trace_observables`: ``""``, ``"VEM"``, ``"ns"`` or
    ``"m"``.

    Raises:
        KeyError: for a name :func:`trace_observables` does not produce.
    """
    if name not in _UNITS:
        msg = f"unknown trace observable {name!r}"
        raise KeyError(msg)
    return _UNITS[name]
