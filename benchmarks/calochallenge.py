"""CaloChallenge format: reading, DCTR on the challenge's features, streaming memory.

Full and fast showers of ``dctrgan.simulate.calorimeter`` (photons, 10-100 GeV log-uniform)
in a square-cell calorimeter of the dataset-2 depth (``features.cartesian_for``), binned
like dataset 2 (45 layers x 16 angular x 9 radial bins, ``features.to_cylindrical``) and
written in the challenge's HDF5 layout (gzip); 50,000 of each (``--quick``: 5,000):

1. Read throughput: ``io.calochallenge.read`` (checks and GeV conversion included)
   against bare h5py reading the two datasets, showers per second; and
   ``dctrgan.read(path, binning=...)``, which also turns the nonzero voxels into hits.
2. ``dctrgan calochallenge``'s analysis (``report.calochallenge``): DCTR with its
   defaults fitted on half of each sample, the other halves compared on the 362
   features (incident energy and the challenge's high-level features): the median
   ``<S^2>`` before and after weighting (target: 5x lower), its statistical floor, the
   classifier test's AUC, ``n_eff / N``, FPD and KPD; DCTR's fit time.
3. Streaming: the peak memory (RSS, in a fresh process) of computing the features of a
   200,000-shower file (``--quick``: 20,000) chunk by chunk with
   ``io.calochallenge.iterate`` (target < 2 GB).

    python benchmarks/calochallenge.py [--quick] [--json PATH]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from _common import RSS_WATCH, Row, best_time, parse_args, report

import dctrgan
from dctrgan.data import CylindricalGeometry
from dctrgan.features import cartesian_for
from dctrgan.io import calochallenge as cc
from dctrgan.report import calochallenge
from dctrgan.simulate import calorimeter

SEED = 20261202
BINNING = Path(__file__).parents[1] / "tests" / "data" / "calochallenge" / "binning_dataset_2.xml"
#: Showers simulated at once (bounded memory while making the files).
CHUNK = 10_000

#: The streaming run, in a fresh process, its RSS sampled.
STREAM = (
    RSS_WATCH
    + """
from dctrgan.io import calochallenge as cc
n = 0
for chunk in cc.iterate(sys.argv[1], sys.argv[2], step_size=10_000):
    chunk.features()
    n += len(chunk)
done.set()
print(n, peak[0] / 2**20)
"""
)


def simulate(n: int, variant: str, seed: int, geometry: CylindricalGeometry) -> cc.ChallengeShowers:
    """``n`` showers binned like dataset 2, made ``CHUNK`` at a time."""
    cartesian = cartesian_for(geometry)
    rng = np.random.default_rng(seed)
    parts = []
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        energy = np.exp(rng.uniform(np.log(10.0), np.log(100.0), m))
        showers = calorimeter(m, energy, variant, geometry=cartesian, seed=rng)  # type: ignore[arg-type]
        parts.append(cc.ChallengeShowers.from_showers(showers, geometry, cartesian))
    return cc.ChallengeShowers(
        np.concatenate([p.incident_energy for p in parts]),
        np.concatenate([p.showers for p in parts]),
        geometry,
    )


def bare_read(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(path) as f:
        return f["incident_energies"][:], f["showers"][:]


def main() -> None:
    args = parse_args(__doc__.splitlines()[0] if __doc__ else "calochallenge")
    n, n_stream = (5_000, 20_000) if args.quick else (50_000, 200_000)
    geometry = CylindricalGeometry.from_calochallenge(BINNING)
    rows: list[Row] = []
    extra: dict[str, Any] = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        full = simulate(n, "full", SEED, geometry)
        fast = simulate(n, "fast", SEED + 1, geometry)
        path = cc.write(folder / "full.hdf5", full)
        cc.write(folder / "fast.hdf5", fast)
        made = time.perf_counter() - start
        print(f"simulated and wrote 2 x {n} showers in {made:.0f} s", file=sys.stderr)
        ours = n / best_time(lambda: cc.read(path, geometry))
        bare = n / best_time(lambda: bare_read(path))
        rows.append(
            Row("read, io.calochallenge.read", ours, "showers/s", baseline=bare, ratio=ours / bare)
        )
        rows.append(Row("read, bare h5py (both datasets)", bare, "showers/s"))
        events = n / best_time(lambda: dctrgan.read(path, binning=BINNING))
        rows.append(
            Row(
                "read as awkward showers, dctrgan.read(binning=)",
                events,
                "showers/s",
                baseline=bare,
                ratio=events / bare,
            )
        )
        rows.append(Row("file size per shower (gzip)", path.stat().st_size / n, "bytes"))

        t = time.perf_counter()
        result, dctr, _ = calochallenge(full, fast, seed=SEED, progress=False)
        f = result.figures()
        c = result.comparison
        rows.append(
            Row("report (fit, weights, comparison, tests, FPD, KPD)", time.perf_counter() - t, "s")
        )
        rows.append(
            Row(f"DCTR epochs (fit on {n // 2} + {n // 2})", len(dctr.history["train_loss"]))
        )
        before, after = f["median_s2_unweighted"], f["median_s2_weighted"]
        target: dict[str, Any] = (
            {"target": "(>= 5 in the full run)"}
            if args.quick
            else {
                "target": ">= 5",
                "ok": before / after >= 5,
            }
        )
        rows.append(Row("median S2 over the 362 features, fast", before))
        rows.append(Row("median S2 over the 362 features, fast + DCTR", after))
        rows.append(Row("median S2 reduction", before / after, "x", baseline=before, **target))
        rows.append(Row("statistical floor of S2, unweighted", c.floor_unweighted))
        rows.append(Row("statistical floor of S2, weighted", c.floor_weighted))
        names = (
            "auc_unweighted",
            "auc_weighted",
            "jsd_unweighted",
            "jsd_weighted",
            "neff_fraction",
        )
        rows.extend(Row(key.replace("_", " "), f[key]) for key in names)
        distances = [
            (k, w, getattr(result, f"{k}_{w}"))
            for k in ("fpd", "kpd")
            for w in ("unweighted", "weighted")
        ]
        rows.extend(Row(f"{k.upper()} {w} (error {d.error:.2g})", d.value) for k, w, d in distances)
        extra["figures"] = f

        big = cc.write(folder / "stream.hdf5", simulate(n_stream, "full", SEED + 2, geometry))
        out = subprocess.run(
            [sys.executable, "-c", STREAM, str(big), str(BINNING)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        peak = float(out[1])
        rows.append(
            Row(
                f"peak RSS streaming {int(out[0])} showers (features, chunks of 10k)",
                peak,
                "MB",
                "< 2000",
                ok=peak < 2000,
            )
        )
    report("calochallenge", rows, args, seconds=time.perf_counter() - start, **extra)


if __name__ == "__main__":
    main()
