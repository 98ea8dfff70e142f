"""How DCTR's fit grows: time and peak memory against the sample size and the features.

Each fit runs in a fresh process (its peak RSS sampled every 5 ms, so one fit's memory
is not hidden by another's) on a toy whose difficulty does not change with the size:
``d`` correlated Gaussian features, the "fake" sample's means shifted by 0.1 and its
widths 1.1 times the "real" ones'. ``DCTR()`` with its defaults (the 2 x 128 MLP,
early stopping), float32 ``(N, d)`` inputs:

1. against N (10k, 30k, 100k, 300k, 1M events per class; ``--quick``: 2k ... 20k) at
   d = 33: wall time, epochs, time per epoch per event, peak RSS;
2. against d (8, 16, 33, 64, 128; ``--quick``: 8 ... 33) at N = 100k per class
   (``--quick``: 5k).

The growth exponents are the slopes of log(time) and log(memory) against log(N) (and
log(d)) over the scan (target: time per epoch linear in N or better, exponent <= 1.1;
memory no worse than linear).

    python benchmarks/scaling.py [--quick] [--json PATH]
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
from _common import RSS_WATCH, Row, parse_args, report

#: One fit in a fresh process: prints a JSON line with its time, epochs and peak RSS.
FIT = (
    RSS_WATCH
    + """
import json
import numpy as np
from dctrgan import DCTR
n, d, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(seed)
mixing = np.eye(d) + 0.3 * rng.normal(size=(d, d)) / np.sqrt(d)
real = (rng.normal(size=(n, d)) @ mixing).astype(np.float32)
fake = ((0.1 + 1.1 * rng.normal(size=(n, d))) @ mixing).astype(np.float32)
base = psutil.Process().memory_info().rss
start = time.perf_counter()
model = DCTR(progress=False, seed=seed).fit(real, fake)
seconds = time.perf_counter() - start
done.set()
print(json.dumps({"seconds": seconds, "epochs": len(model.history["train_loss"]),
                  "peak_mb": peak[0] / 2**20, "base_mb": base / 2**20}))
"""
)


def fit(n: int, d: int, seed: int = 7) -> dict[str, Any]:
    """One DCTR fit of ``n`` events per class and ``d`` features, in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", FIT, str(n), str(d), str(seed)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result |= {"n": n, "d": d, "per_epoch": result["seconds"] / result["epochs"]}
    print(
        f"  N={n} d={d}: {result['seconds']:.1f} s, {result['epochs']} epochs, "
        f"{result['peak_mb']:.0f} MB",
        file=sys.stderr,
        flush=True,
    )
    return result


def slope(x: list[float], y: list[float]) -> float:
    """The slope of log(y) against log(x)."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def main() -> None:
    args = parse_args(__doc__.splitlines()[0] if __doc__ else "scaling")
    sizes = (2_000, 5_000, 20_000) if args.quick else (10_000, 30_000, 100_000, 300_000, 1_000_000)
    widths = (8, 16, 33) if args.quick else (8, 16, 33, 64, 128)
    n_fixed = 5_000 if args.quick else 100_000
    by_n = [fit(n, 33) for n in sizes]
    by_d = [fit(n_fixed, d) for d in widths]
    rows: list[Row] = []
    for r in by_n:
        rows += [
            Row(f"fit N={r['n']} per class, d=33", r["seconds"], "s"),
            Row(f"  epochs (N={r['n']})", r["epochs"]),
            Row(
                f"  time per epoch per 1k events (N={r['n']})",
                1e3 * r["per_epoch"] / (2 * r["n"]),
                "s",
            ),
            Row(f"  peak RSS (N={r['n']})", r["peak_mb"], "MB"),
        ]
    for r in by_d:
        rows += [
            Row(f"fit d={r['d']}, N={r['n']} per class", r["seconds"], "s"),
            Row(f"  epochs (d={r['d']})", r["epochs"]),
            Row(f"  peak RSS (d={r['d']})", r["peak_mb"], "MB"),
        ]
    n = [float(r["n"]) for r in by_n]
    d = [float(r["d"]) for r in by_d]
    per_epoch = slope(n, [r["per_epoch"] for r in by_n])
    memory = slope(n, [r["peak_mb"] - r["base_mb"] for r in by_n])
    rows += [
        Row("exponent: time per epoch vs N", per_epoch, "", "<= 1.1", ok=per_epoch <= 1.1),
        Row("exponent: total time vs N", slope(n, [r["seconds"] for r in by_n])),
        Row("exponent: memory above start vs N", memory, "", "<= 1.1", ok=memory <= 1.1),
        Row("exponent: time per epoch vs d", slope(d, [r["per_epoch"] for r in by_d])),
        Row("exponent: peak memory vs d", slope(d, [r["peak_mb"] for r in by_d])),
    ]
    report("scaling", rows, args, by_n=by_n, by_d=by_d)


if __name__ == "__main__":
    main()
