"""Refiner speed: sparse station batching against running every station.

:meth:`dctrgan.Refiner.refine` pushes only the stations with signal through the
network; ``sparse=False`` runs all 81 stations of every event and zeroes the empty
ones afterwards (the same result). On air showers of
:func:`dctrgan.simulate.airshower` (energies flat in 1-100 EeV, about 6 of 81
stations with signal) both are timed (best of 3, one torch thread) for the CPU width
(16 maps) on 2000 events and the paper's width (64 maps) on 500 (a fifth of that
with ``--quick``); the figure is the speed-up ``dense time / sparse time``, target
>= 3. The refiner is fitted for a single update: the time does not depend on the
weights. The outputs of both paths are compared too.

    python benchmarks/refiner_speed.py [--quick] [--json PATH]
"""

from __future__ import annotations

import awkward as ak
import numpy as np
import torch
from _common import Row, best_time, parse_args, report

from dctrgan.refiner import Refiner
from dctrgan.simulate import airshower

SEED = 20260506
TARGET = 3.0


def main() -> None:
    args = parse_args(__doc__.splitlines()[0] if __doc__ else "refiner_speed")
    torch.set_num_threads(1)
    scale = 5 if args.quick else 1
    events = airshower(2000 // scale, "sim", seed=SEED)
    data = airshower(500, "data", seed=SEED + 1)
    signal = np.asarray(ak.to_numpy(events.signal))
    occupancy = float((signal.sum(axis=-1) > 0).mean())
    rows = [Row("stations with signal", 100 * occupancy, "%")]
    figures = {}
    for width, n in ((16, 2000 // scale), (64, 500 // scale)):
        refiner = Refiner(width=width, steps=1, n_critic=1, batch_size=50, progress=False)
        refiner.fit(events, data)
        x = signal[:n]
        sparse = best_time(lambda x=x, r=refiner: r.refine(x))
        dense = best_time(lambda x=x, r=refiner: r.refine(x, sparse=False))
        a, b = refiner.refine(x), refiner.refine(x, sparse=False)
        difference = float((np.abs(a - b) / (1.0 + np.abs(b))).max())
        speedup = dense / sparse
        figures[f"width_{width}"] = {"events": n, "sparse_s": sparse, "dense_s": dense}
        rows += [
            Row(f"width {width}: sparse refine", 1e3 * sparse / n, "ms / event"),
            Row(f"width {width}: dense refine", 1e3 * dense / n, "ms / event"),
            Row(
                f"width {width}: speed-up dense / sparse",
                speedup,
                "x",
                target=f">= {TARGET:g}",
                ok=speedup >= TARGET,
            ),
            Row(f"width {width}: max |sparse - dense| / (1 VEM + |dense|)", difference),
        ]
    report("refiner_speed", rows, args, occupancy=occupancy, timings=figures)


if __name__ == "__main__":
    main()
