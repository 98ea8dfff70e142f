"""Exported models: weights per second through ONNX Runtime against torch, and closure.

1. Throughput: a DCTR-HL (the paper's 33-128-128-1 MLP, 50k + 50k showers of
   ``dctrgan.simulate.calorimeter``; ``--quick`` 5k + 5k) weights 1M events of its 33
   features, float32 (the features of fast showers, tiled; ``--quick`` 200k), three
   ways on this machine's threads, best of three:

   * ``DCTR.weight`` on the ``(N, 33)`` matrix: the Python model (torch, batches of
     the package's prediction size, float64 calibration) -- the baseline;
   * the ONNX file in ONNX Runtime (``dctrgan.export.load``, batches of 4096 events);
   * the TorchScript file with ``torch.jit.load`` (the same batches).

   Target: ONNX Runtime at least as fast as torch (ratio >= 1).
2. Closure (``dctrgan.export.check``) of each exported model, ONNX and TorchScript:
   DCTR mlp (nominal, 3 folds, 3 replicas), deepsets and cnn3d (small), a points WGAN
   with clusters, the conditional 9 x 9 WGAN, the refiner; the largest relative
   difference of the outputs on 2,000 events (``--quick`` 500). Target <= 1e-5.

    python benchmarks/export.py [--quick] [--json PATH]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _common import Row, best_time, parse_args, report

from dctrgan import DCTR, WGAN, Refiner, export
from dctrgan.simulate import airshower, calorimeter

SEED = 20261202


def throughput(args: Any, folder: Path) -> list[Row]:
    n_fit, n_weight = (5_000, 200_000) if args.quick else (50_000, 1_000_000)
    full = calorimeter(n_fit, seed=SEED)
    fast = calorimeter(n_fit, variant="fast", seed=SEED + 1)
    start = time.perf_counter()
    dctr = DCTR(progress=False, seed=SEED).fit(full, fast)
    print(f"DCTR-HL fitted on {n_fit} + {n_fit} in {time.perf_counter() - start:.0f} s")
    (x,) = dctr.inputs(fast)
    x = np.ascontiguousarray(np.resize(x, (n_weight, x.shape[1])))
    onnx_file = export.load(dctr.export(folder / "dctr.onnx"))
    script_file = export.load(dctr.export(folder / "dctr.torchscript", "torchscript"))
    threads = torch.get_num_threads()
    ways: dict[str, Callable[[], Any]] = {
        "DCTR.weight (torch)": lambda: dctr.weight(x),
        "ONNX Runtime": lambda: onnx_file(x),
        "TorchScript file": lambda: script_file(x),
    }
    rate = {name: n_weight / best_time(f) for name, f in ways.items()}
    base = rate["DCTR.weight (torch)"]
    same = np.max(np.abs(onnx_file(x) / np.asarray(dctr.weight(x)) - 1))
    rows = [
        Row(f"weights/s, {name}, {n_weight} x 33, {threads} threads", rate[name], "1/s")
        for name in ways
    ]
    rows[0].baseline = base
    ort = rate["ONNX Runtime"]
    rows.append(
        Row("ONNX Runtime over torch", ort / base, "x", ">= 1", base, ort / base, ort >= base)
    )
    rows.append(
        Row(
            f"max relative difference on the {n_weight} events",
            float(same),
            "",
            "<= 1e-5",
            ok=bool(same <= 1e-5),
        )
    )
    return rows


def _closures(name: str, model: Any, x: Any, folder: Path) -> list[Row]:
    rows = []
    for fmt in export.FORMATS:
        path = model.export(folder / f"{name.replace(' ', '_')}.{fmt}", fmt, overwrite=True)
        closure = export.check(path, model, x)
        figure = f"closure {name}, {fmt}"
        rows.append(
            Row(figure, closure.max_relative_difference, "rel", "<= 1e-5", ok=closure.passed)
        )
    return rows


def closure(args: Any, folder: Path) -> list[Row]:
    n = 500 if args.quick else 2_000
    full = calorimeter(2_000, energy=20.0, seed=SEED + 2)
    fast = calorimeter(2_000, energy=20.0, variant="fast", seed=SEED + 3)
    small = {"epochs": 2, "progress": False, "seed": SEED}
    models: list[tuple[str, Any, Any]] = [
        ("DCTR mlp", DCTR(**small).fit(full, fast), fast[:n]),
        ("DCTR mlp 3 folds", DCTR(folds=3, **small).fit(full, fast), fast[:n]),
        ("DCTR mlp 3 replicas", DCTR(replicas=3, **small).fit(full, fast), fast[:n]),
        ("DCTR deepsets", DCTR(model="deepsets", **small).fit(full, fast), fast[:n]),
        ("DCTR cnn3d", DCTR(model="cnn3d", width=4, **small).fit(full, fast), fast[:n]),
    ]
    rng = np.random.default_rng(SEED)
    points = np.concatenate([rng.normal(-2, 0.3, (2_000, 2)), rng.normal(2, 0.3, (2_000, 2))])
    wgan = WGAN((2,), preset="clusters", steps=100, progress=False, seed=SEED)
    models.append(("WGAN points, clusters", wgan.fit(points.astype(np.float32)), (n, SEED)))
    data = airshower(1_000, "data", seed=SEED)
    patterns = WGAN((9, 9), condition_dim=1, steps=10, progress=False, seed=SEED).fit(data)
    models.append(("WGAN 9x9, energy label", patterns, (n, SEED)))
    sim = airshower(1_000, "sim", seed=SEED + 1)
    refiner = Refiner(steps=10, progress=False, seed=SEED).fit(sim, data)
    models.append(("Refiner", refiner, sim[: min(n, 1_000)]))
    return [row for name, model, x in models for row in _closures(name, model, x, folder)]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0] if __doc__ else "", argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = throughput(args, Path(tmp)) + closure(args, Path(tmp))
    report("export", rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
