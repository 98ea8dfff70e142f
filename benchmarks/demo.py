"""The main job: ``dctrgan demo`` at its default size, its wall time, memory and output.

Runs :func:`dctrgan.demo.demo` in a child process (its second process beside it) and
samples the memory of the whole process tree every 50 ms:

* the peak of the summed PSS (proportional set size: shared pages such as torch's
  libraries split between the processes that map them) -- the memory the demo takes
  (target: <= 1.5 GB);
* the peak of the summed RSS (shared pages counted in every process: an upper bound)
  and each process's own peak RSS.

Also the wall time (target: <= 45 s on 2 cores), the size of every file it writes,
and its figures of merit (median ``<S^2>`` of the 33 inputs and the 118 held-out
observables before and after weighting, ``n_eff/N``, the classifier test's AUC), which
must stay as they were (the same seed gives the same numbers).

    python benchmarks/demo.py [--quick] [--json PATH]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from _common import Row, parse_args, report

TARGET_GB, TARGET_S = 1.5, 45.0

RUN = """
import json, sys
from dctrgan.demo import demo
r = demo(sys.argv[1], events=int(sys.argv[2]), progress=False)
c = r.comparison
def medians(group):
    return [c.median("s2_unweighted", group), c.median("s2_weighted", group)]
print(json.dumps({
    "seconds": r.seconds,
    "s2_inputs": medians("input"),
    "s2_held_out": medians("held-out"),
    "neff_fraction": c.neff_fraction,
    "auc": [c.test_unweighted.auc, c.test_weighted.auc] if c.test_unweighted else None,
}))
"""


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def run(output: Path, events: int) -> dict[str, Any]:
    """One demo in a child process, its memory sampled; its JSON line and the peaks."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", RUN, str(output), str(events)],
        stdout=subprocess.PIPE,
        text=True,
    )
    root = psutil.Process(child.pid)
    peak_pss = peak_rss = 0
    own: dict[int, int] = {}
    while child.poll() is None:
        pss = rss = 0
        for proc in _tree(root):
            try:
                info = proc.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            pss, rss = pss + info.pss, rss + info.rss
            own[proc.pid] = max(own.get(proc.pid, 0), info.rss)
        peak_pss, peak_rss = max(peak_pss, pss), max(peak_rss, rss)
        time.sleep(0.05)
    wall = time.perf_counter() - start
    out, _ = child.communicate()
    if child.returncode:
        msg = f"the demo failed (exit {child.returncode})"
        raise RuntimeError(msg)
    result = json.loads(out.strip().splitlines()[-1])
    result |= {
        "wall": wall,
        "peak_pss_gb": peak_pss / 1e9,
        "peak_rss_gb": peak_rss / 1e9,
        "process_rss_gb": sorted((v / 1e9 for v in own.values()), reverse=True),
        "files_mb": {p.name: p.stat().st_size / 1e6 for p in sorted(output.iterdir())},
    }
    return result


def main() -> None:
    args = parse_args(__doc__ or "")
    events = 4_000 if args.quick else 50_000
    with tempfile.TemporaryDirectory() as tmp:
        r = run(Path(tmp) / "demo", events)
    size = f"{events} + {events} showers"
    full = not args.quick
    rows = [
        Row(
            f"wall time, {size} (child process start included)",
            r["wall"],
            "s",
            f"<= {TARGET_S:g}" if full else "",
            ok=r["wall"] <= TARGET_S if full else None,
        ),
        Row("  of which the demo itself", r["seconds"], "s"),
        Row(
            "peak memory: summed PSS of its processes",
            r["peak_pss_gb"],
            "GB",
            f"<= {TARGET_GB:g}" if full else "",
            ok=r["peak_pss_gb"] <= TARGET_GB if full else None,
        ),
        Row("peak memory: summed RSS (shared pages in each)", r["peak_rss_gb"], "GB"),
        *(Row(f"  peak RSS of process {i}", gb, "GB") for i, gb in enumerate(r["process_rss_gb"])),
        *(Row(f"file {name}", mb, "MB") for name, mb in r["files_mb"].items()),
        Row(
            "ROOT files in all",
            sum(mb for name, mb in r["files_mb"].items() if name.endswith(".root")),
            "MB",
        ),
    ]
    for key, label in (("s2_inputs", "33 inputs"), ("s2_held_out", "118 held-out")):
        before, after = r[key]
        rows += [
            Row(f"median S2 of the {label}, unweighted", before),
            Row(f"median S2 of the {label}, weighted", after),
        ]
    rows.append(Row("n_eff/N", r["neff_fraction"]))
    if r["auc"]:
        rows += [
            Row("classifier test AUC, unweighted", r["auc"][0]),
            Row("classifier test AUC, weighted", r["auc"][1]),
        ]
    report("demo", rows, args, demo=r)


if __name__ == "__main__":
    main()
