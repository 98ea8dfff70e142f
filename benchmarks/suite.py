"""Run every benchmark script and print one summary table.

Each script runs in its own process with ``--quick`` (or at full size with ``--full``)
and writes its JSON into ``--out``; then the figures of all of them are gathered into
one table and ``summary.json`` (:mod:`summary`). The exit status is non-zero if a
script fails or writes no JSON -- a broken benchmark -- never because a figure misses
its target: timings on a shared machine are not a test. ``nox -s bench`` and CI call
this script.

    python benchmarks/suite.py [--full] [--out DIR] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import summary

HERE = Path(__file__).parent

#: The benchmark scripts, in the order they run (cheap ones first).
BENCHMARKS = (
    "simulate",
    "io",
    "ntuple",
    "voxelize",
    "dctr_quality",
    "dctr_vs_hepml",
    "scaling",
    "replicas",
    "uncertainty",
    "export",
    "report_speed",
    "calochallenge",
    "gan_toys",
    "gan_coverage",
    "wgan_patterns",
    "calo_gan",
    "refiner_speed",
    "refiner",
    "throughput",
    "streaming",
    "demo",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="full size instead of --quick")
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="JSON folder")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    failed, times = [], {}
    for name in args.only or BENCHMARKS:
        result = args.out / f"{name}.json"
        result.unlink(missing_ok=True)
        command = [sys.executable, str(HERE / f"{name}.py"), "--json", str(result)]
        start = time.perf_counter()
        code = subprocess.call([*command, *([] if args.full else ["--quick"])])
        times[name] = time.perf_counter() - start
        if code != 0 or not result.exists():
            failed.append(f"{name} (exit status {code})")
    print("\nwall time per benchmark [s]: " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()))
    status = summary.main([str(args.out), str(args.out / "summary.json")])
    if failed:
        print("broken benchmarks: " + ", ".join(failed), file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
