"""Reference simulators: throughput and the calibration of the calorimeter showers.

Throughput of ``dctrgan.simulate.calorimeter`` (50 GeV photons, hit level, awkward
output, one process) and ``dctrgan.simulate.airshower`` (9 x 9 x 80 traces), best of
a few runs; the calibration of the ``"full"`` showers against the DCTRGAN paper
(active cells, visible energy, shower maximum); and the median separation power over
the 33 high-level features between ``"full"`` and ``"fast"``, beside its statistical
floor measured with two independent ``"full"`` samples (same 30 bins per feature,
spanning both samples).

    python benchmarks/simulate.py [--quick] [--json PATH]
"""

from __future__ import annotations

import awkward as ak
import numpy as np
from _common import Row, best_time, parse_args, report

from dctrgan.features import high_level
from dctrgan.simulate import airshower, calorimeter
from dctrgan.stats import separation_power

BINS = 30


def separation_powers(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Separation power of each column, both samples in the same bins."""
    values = []
    for j in range(a.shape[1]):
        edges = np.histogram_bin_edges(np.concatenate([a[:, j], b[:, j]]), bins=BINS)
        values.append(separation_power(a[:, j], b[:, j], bins=edges))
    return np.array(values)


def within(value: float, low: float, high: float) -> bool:
    return bool(low <= value <= high)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    n_speed, n_traces, n_calib, repeat = (
        (1000, 2000, 3000, 2) if args.quick else (4000, 8000, 20000, 3)
    )

    showers_time = best_time(lambda: calorimeter(n_speed, seed=1), repeat)
    fast_time = best_time(lambda: calorimeter(n_speed, variant="fast", seed=1), repeat)
    data_time = best_time(lambda: airshower(n_traces, "data", seed=1), repeat)
    sim_time = best_time(lambda: airshower(n_traces, "sim", seed=1), repeat)

    full = high_level(calorimeter(n_calib, seed=11)).astype(np.float64)
    full2 = high_level(calorimeter(n_calib, seed=12)).astype(np.float64)
    fast = high_level(calorimeter(n_calib, variant="fast", seed=13)).astype(np.float64)
    s2 = separation_powers(full, fast)
    floor = separation_powers(full, full2)
    s2_median, floor_median = float(np.median(s2)), float(np.median(floor))
    cells, visible = float(full[:, 0].mean()), float(full[:, 2].mean())
    shower_max = float((np.argmax(full[:, 3:], axis=1) + 1).mean())

    events = airshower(n_traces, "data", seed=2)
    sim = airshower(n_traces, "sim", seed=2)
    triggered = np.asarray(ak.to_numpy(events.signal)).sum(axis=-1) > 0

    rows = [
        Row(
            "calorimeter full, 50 GeV",
            n_speed / showers_time,
            "showers/s",
            ">= 1000",
            ok=n_speed / showers_time >= 1000,
        ),
        Row("calorimeter fast, 50 GeV", n_speed / fast_time, "showers/s"),
        Row(
            "airshower data",
            n_traces / data_time,
            "events/s",
            ">= 2000",
            ok=n_traces / data_time >= 2000,
        ),
        Row("airshower sim", n_traces / sim_time, "events/s"),
        Row(
            "full: mean active cells",
            cells,
            "cells",
            "650-900 (paper ~780)",
            ok=within(cells, 650, 900),
        ),
        Row(
            "fast: std active cells (baseline full)",
            fast[:, 0].std(),
            "cells",
            "< full (narrower)",
            baseline=full[:, 0].std(),
            ratio=fast[:, 0].std() / full[:, 0].std(),
            ok=bool(fast[:, 0].std() < full[:, 0].std()),
        ),
        Row("full: mean visible energy", visible, "MeV", "600-1000", ok=within(visible, 600, 1000)),
        Row(
            "fast: mean visible energy (baseline full)",
            fast[:, 2].mean(),
            "MeV",
            baseline=visible,
            ratio=fast[:, 2].mean() / visible,
        ),
        Row(
            "full: mean shower-max layer",
            shower_max,
            "layer",
            "9-14 (paper: just past 10)",
            ok=within(shower_max, 9, 14),
        ),
        Row(
            "fast: mean longitudinal centroid (baseline full)",
            fast[:, 1].mean(),
            "layer",
            "< full (shallower)",
            baseline=full[:, 1].mean(),
            ratio=fast[:, 1].mean() / full[:, 1].mean(),
            ok=bool(fast[:, 1].mean() < full[:, 1].mean()),
        ),
        Row(
            "median S2 full vs fast (33 HL)",
            s2_median,
            "",
            "1e-3 - 5e-2, > 2 x floor",
            baseline=floor_median,
            ratio=s2_median / floor_median,
            ok=within(s2_median, 1e-3, 5e-2) and s2_median > 2 * floor_median,
        ),
        Row(
            "median S2 floor full vs full", floor_median, "", f"~ B/2N = {BINS / (2 * n_calib):.2g}"
        ),
        Row(
            "max S2 full vs fast (33 HL)",
            float(s2.max()),
            "",
            "< 0.2 (overlapping)",
            ok=bool(s2.max() < 0.2),
        ),
        Row(
            "airshower data: triggered stations",
            float(triggered.sum(axis=(1, 2)).mean()),
            "per event",
        ),
        Row(
            "airshower: events without trigger",
            float((triggered.sum(axis=(1, 2)) == 0).mean()),
            "fraction",
            "0",
            ok=bool(triggered.any(axis=(1, 2)).all()),
        ),
    ]
    signal_sim = np.asarray(ak.to_numpy(sim.signal)).reshape(-1, 80)
    signal_data = np.asarray(ak.to_numpy(events.signal)).reshape(-1, 80)
    rows.append(
        Row(
            "airshower sim/data pre-front noise",
            float(
                signal_sim[signal_sim.sum(axis=1) > 0, :2].mean()
                / signal_data[signal_data.sum(axis=1) > 0, :2].mean()
            ),
            "ratio",
            "~ 0.5",
        )
    )
    report(
        "simulate",
        rows,
        args,
        n_speed=n_speed,
        n_traces=n_traces,
        n_calibration=n_calib,
        bins=BINS,
        s2_per_feature=s2.tolist(),
        floor_per_feature=floor.tolist(),
    )


if __name__ == "__main__":
    main()
