"""Training throughput of the convolutional models at the papers' sizes, float32 against
bfloat16 mixed precision, on ``device="auto"`` (a GPU where torch sees one).

The three models that train in mixed precision on a GPU (``mixed_precision="auto"``):

- DCTR ``"cnn3d"``: the paper's classifier (width 128, dense 64-256-256) on 30 x 30 x 30
  voxels, batches of 128, one :func:`dctrgan.training.classifier_step` per batch;
- the 3D WGAN of showers (width 32, the CUDA default) on 30 x 30 x 30 voxels with an
  energy label, batches of 32, five critic updates with gradient penalty per
  generator update (``WGAN.fit``);
- the Refiner at the paper's size (64 maps, critic 32) on 9 x 9 x 80 air-shower
  traces, batches of 100, ten critic updates per refiner update (``Refiner.fit``).

Each is timed over ``--steps`` updates (20; 2 with ``--quick``, which also divides the
batches by 16 so that a CPU gets through) after one warm-up update, once with
``mixed_precision=False`` and once with ``True``; the figures are events per second
(events of the batch per update; for the GANs the critic's batches count once) and the
speed-up of mixed precision over float32. The GPU figures are the point of the
script; on a CPU ``"auto"`` leaves mixed precision off, and the speed-up there depends
on the processor's bfloat16 instructions (AVX512-BF16, AMX): on a 2-core AMD EPYC with
AVX512-BF16 (``--steps 3``, full batches) the paper's cnn3d trains 1.9x faster with
``mixed_precision=True``, the 3D WGAN 1.8x, the refiner 1.6x; at the quick batches
(2-8 events) the gain is smaller or a loss.

    python benchmarks/throughput.py [--quick] [--json PATH] [--steps N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from _common import Row, report

from dctrgan import WGAN, Refiner
from dctrgan.nn import Conv3dClassifier
from dctrgan.simulate import airshower
from dctrgan.training import classifier_step, resolve_device

SEED = 20261130
SHAPE = (30, 30, 30)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="small, fast run (CI)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    parser.add_argument("--steps", type=int, default=None, help="timed updates (20; quick 2)")
    return parser.parse_args()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(run: Callable[[int], None], steps: int, device: torch.device) -> float:
    """Seconds per update of ``run(steps)``, after ``run(1)`` as warm-up."""
    run(1)
    sync(device)
    start = time.perf_counter()
    run(steps)
    sync(device)
    return (time.perf_counter() - start) / steps


def voxels(n: int, rng: np.random.Generator) -> np.ndarray:
    """Sparse non-negative showers-like voxels (MeV), float32."""
    x = rng.exponential(5.0, (n, *SHAPE)) * (rng.random((n, *SHAPE)) < 0.05)
    return x.astype(np.float32)


def dctr_cnn3d(batch: int, device: torch.device, mixed: bool) -> Callable[[int], None]:
    rng = np.random.default_rng(SEED)
    x = torch.from_numpy(voxels(4 * batch, rng)).to(device)
    target = torch.from_numpy((rng.random(4 * batch) < 0.5).astype(np.float32)).to(device)
    weight = torch.ones(4 * batch, device=device)
    torch.manual_seed(SEED)
    model = Conv3dClassifier(SHAPE, 128, (64, 256, 256)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    step = classifier_step(model, optimizer, mixed_precision=mixed)

    def run(steps: int) -> None:
        for k in range(steps):
            part = slice((k % 4) * batch, (k % 4 + 1) * batch)
            step((x[part], target[part], weight[part]))

    return run


def wgan_3d(batch: int, device: torch.device, mixed: bool) -> Callable[[int], None]:
    rng = np.random.default_rng(SEED + 1)
    x = voxels(8 * batch, rng)
    energy = rng.uniform(10.0, 100.0, len(x))

    def run(steps: int) -> None:
        wgan = WGAN(
            SHAPE, condition_dim=1, width=32, device=device, progress=False, mixed_precision=mixed
        )
        wgan.fit(x, energy, steps=steps, batch_size=batch)

    return run


def refiner(batch: int, device: torch.device, mixed: bool) -> Callable[[int], None]:
    sim = np.asarray(airshower(10 * batch + 50, "sim", seed=SEED).signal)
    data = np.asarray(airshower(10 * batch + 50, "data", seed=SEED + 1).signal)

    def run(steps: int) -> None:
        model = Refiner(
            width=64, critic_width=32, device=device, progress=False, mixed_precision=mixed
        )
        model.fit(sim, data, steps=steps, batch_size=batch)

    return run


MODELS = {
    "DCTR cnn3d (width 128)": (dctr_cnn3d, 128),
    "WGAN 3D (width 32)": (wgan_3d, 32),
    "Refiner (width 64)": (refiner, 100),
}


def main() -> None:
    args = parse()
    device = resolve_device("auto")
    steps = args.steps or (2 if args.quick else 20)
    divide = 16 if args.quick else 1
    rows = [Row(f"device: {device}", float(device.type == "cuda"), "1 = CUDA")]
    figures: dict[str, dict[str, float]] = {}
    for name, (build, full_batch) in MODELS.items():
        batch = max(full_batch // divide, 2)
        seconds = {}
        for mixed in (False, True):
            seconds[mixed] = timed(build(batch, device, mixed), steps, device)
            print(f"{name}, mixed {mixed}: {seconds[mixed]:.3g} s/update", file=sys.stderr)
        speedup = seconds[False] / seconds[True]
        figures[name] = {"batch": batch, "float32_s": seconds[False], "mixed_s": seconds[True]}
        rows += [
            Row(f"{name}: float32", batch / seconds[False], "events/s"),
            Row(f"{name}: bfloat16 mixed", batch / seconds[True], "events/s"),
            Row(f"{name}: speed-up of mixed precision", speedup, "x"),
        ]
    report("throughput", rows, args, device=str(device), steps=steps, timings=figures)


if __name__ == "__main__":
    main()
