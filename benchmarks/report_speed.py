"""Report speed: ``dctrgan report --figures all`` on 20k + 20k showers, and where its time goes.

1. Inputs: 20,000 full and 20,000 fast showers of ``dctrgan.simulate.calorimeter``
   (50 GeV; ``--quick`` 2,000 each), the fast ones weighted by a DCTR-HL with 5
   replicas fitted on 10,000 + 10,000 other showers (3 epochs: the quality of the
   weights is not the point), written as ``full.root`` and ``fast_weighted.root``.
2. The command as a user runs it, in a fresh process: ``dctrgan report full.root
   fast_weighted.root -o OUT --figures all`` (151 observables and figures, the
   classifier test on). Wall time, the fastest of ``--repeat`` runs (default 2; 1
   with ``--quick``), with the machine's load average before each. Target: <= 15 s at
   20k + 20k.
3. Its parts, in this process, one after the other: reading both files, the 151
   observables of each, ``report.compare`` without the classifier test, the two
   classifier tests, and the figures: a new figure per observable
   (``plot.comparison`` + ``savefig``, as the command drew them before) against one
   figure redrawn (``plot.save_comparisons``, ``workers=1``) with ``savefig``'s PNG
   compression and with zlib's fastest level (the command's), per figure, on the
   first 40 observables (15 with ``--quick``); then all 151 in worker processes
   (``workers="auto"``; not with ``--quick``).
4. Checks: the redrawn figures are the PNG files of new figures, byte for byte, and
   those at zlib level 1 have their pixels.

The command draws its figures in worker processes while it computes the numbers, so
its wall time is less than the sum of the parts on a machine with two CPUs or more.

    python benchmarks/report_speed.py [--quick] [--json PATH] [--repeat R]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
from _common import Row, parse_args, report

import dctrgan
from dctrgan import DCTR, features, io, plot
from dctrgan.simulate import calorimeter

SEED = 20261203
TARGET_S = 15.0
LABELS = ("Reference", "Model", "Model + DCTR")


def make_inputs(folder: Path, n: int) -> tuple[Path, Path]:
    """``full.root`` and ``fast_weighted.root``: ``n`` showers each, the fast ones weighted."""
    start = time.perf_counter()
    full = calorimeter(n, 50.0, seed=SEED)
    fast = calorimeter(n, 50.0, variant="fast", seed=SEED + 1)
    train_full = calorimeter(n // 2, 50.0, seed=SEED + 2)
    train_fast = calorimeter(n // 2, 50.0, variant="fast", seed=SEED + 3)
    dctr = DCTR(features="high_level", replicas=5, epochs=3, progress=False, seed=SEED)
    dctr.fit(train_full, train_fast)
    paths = folder / "full.root", folder / "fast_weighted.root"
    io.write(paths[0], full)
    io.write(paths[1], dctr.attach(fast))
    print(f"inputs: {n} + {n} showers in {time.perf_counter() - start:.0f} s")
    return paths


def run_command(full: Path, weighted: Path, out: Path, repeat: int) -> tuple[float, list[float]]:
    """The fastest wall time of ``dctrgan report ... --figures all`` in a fresh process,
    and the 1-minute load average before each run."""
    command = [sys.executable, "-m", "dctrgan", "report", str(full), str(weighted)]
    command += ["-o", str(out), "--figures", "all", "--no-progress", "--overwrite"]
    times, loads = [], []
    for _ in range(repeat):
        loads.append(os.getloadavg()[0])
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
        print(f"dctrgan report: {times[-1]:.1f} s (load average before: {loads[-1]:.2f})")
    return min(times), loads


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def parts(full: Path, weighted: Path, folder: Path, quick: bool) -> tuple[list[Row], bool]:
    """The command's steps one by one, and whether redrawn figures equal new ones."""
    (ref, model), t_read = timed(lambda: (io.read(full), io.read(weighted)))
    (ref_obs, model_obs), t_obs = timed(
        lambda: (features.observables(ref), features.observables(model))
    )
    w = np.asarray(ak.to_numpy(model.weight), dtype=np.float64)
    before = w / np.asarray(ak.to_numpy(model.dctr_weight), dtype=np.float64)
    replicas = before[:, None] * np.asarray(ak.to_numpy(model.dctr_replicas), dtype=np.float64)
    options = {"replicas": replicas}
    _, t_compare = timed(lambda: dctrgan.report.compare(ref_obs, model_obs, w, **options))
    _, t_tests = timed(lambda: dctrgan.report.compare(ref_obs, model_obs, w, test=True, **options))
    t_tests -= t_compare
    rows = [
        Row("read both files", t_read, "s"),
        Row(f"observables of both ({len(ref_obs)} each)", t_obs, "s"),
        Row("report.compare: S2 and r, 5 replicas", t_compare, "s"),
        Row("report.compare: the two classifier tests", t_tests, "s"),
    ]
    names = list(ref_obs)[: 15 if quick else 40]
    figure_rows, same = figures(ref_obs, model_obs, w, replicas, names, folder)
    rows += figure_rows
    if not quick:
        every = {"labels": LABELS, "replicas": replicas}
        with plot.ComparisonWriter(folder / "workers", workers="auto") as writer:
            start = time.perf_counter()
            writer.submit(ref_obs, model_obs, w, **every)
            writer.wait()
            t_workers = time.perf_counter() - start
            workers = writer.workers(len(ref_obs))
        what = f"all {len(ref_obs)} figures in {workers} worker processes, wall"
        rows.append(Row(what, t_workers, "s"))
    return rows, same


def figures(
    ref_obs: dict[str, np.ndarray],
    model_obs: dict[str, np.ndarray],
    w: np.ndarray,
    replicas: np.ndarray,
    names: list[str],
    folder: Path,
) -> tuple[list[Row], bool]:
    """Per figure: new figures (before), one figure redrawn, and redrawn with the PNG
    at zlib level 1; whether the files are the new ones (bytes, pixels)."""
    from matplotlib.image import imread

    units = {n: dctrgan.report.observable_unit(n) for n in names}
    (folder / "new").mkdir()

    def new_figures() -> None:
        for name in names:
            fig = plot.comparison(
                ref_obs[name],
                model_obs[name],
                w,
                observable=name,
                unit=units[name],
                labels=LABELS,
                replicas=replicas,
            )
            fig.savefig(folder / "new" / f"{name}.png", dpi=100)

    _, t_new = timed(new_figures)
    common = {"names": names, "units": units, "labels": LABELS, "replicas": replicas}
    _, t_redrawn = timed(
        lambda: plot.save_comparisons(
            folder / "redrawn", ref_obs, model_obs, w, compress_level=None, **common
        )
    )
    _, t_fast = timed(
        lambda: plot.save_comparisons(folder / "fast", ref_obs, model_obs, w, **common)
    )
    new = [(folder / "new" / f"{n}.png") for n in names]
    same_bytes = all(p.read_bytes() == (folder / "redrawn" / p.name).read_bytes() for p in new)
    same_pixels = all(np.array_equal(imread(p), imread(folder / "fast" / p.name)) for p in new)
    per = 1e3 / len(names)
    rows = [
        Row("figure: new figure + savefig (before)", t_new * per, "ms"),
        Row("figure: one figure redrawn + savefig", t_redrawn * per, "ms"),
        Row("figure: redrawn, PNG at zlib level 1", t_fast * per, "ms"),
        Row("redrawn figures = new figures (PNG bytes)", float(same_bytes), ok=same_bytes),
        Row("level-1 PNGs = new figures (pixels)", float(same_pixels), ok=same_pixels),
    ]
    for row, t in zip(rows[1:3], (t_redrawn, t_fast), strict=True):
        row.baseline, row.ratio = t_new * per, t_new / t
    return rows, same_bytes and same_pixels


def main() -> int:
    args = parse_args(
        __doc__.splitlines()[0] if __doc__ else "report_speed",
        extra=lambda p: p.add_argument(
            "--repeat", type=int, default=None, help="runs of the command (2; 1 with --quick)"
        ),
    )
    n = 2_000 if args.quick else 20_000
    repeat = args.repeat or (1 if args.quick else 2)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        full, weighted = make_inputs(folder, n)
        wall, loads = run_command(full, weighted, folder / "report", repeat)
        rows, same = parts(full, weighted, folder, args.quick)
    command = f"dctrgan report --figures all, {n // 1000}k + {n // 1000}k showers, wall"
    target = TARGET_S if not args.quick else None
    rows.insert(
        0,
        Row(
            command,
            wall,
            "s",
            target=f"<= {TARGET_S:g}" if target else "",
            ok=None if target is None else wall <= target,
        ),
    )
    report("report_speed", rows, args, load_average=loads, showers=n)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
