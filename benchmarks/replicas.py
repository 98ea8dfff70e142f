"""DCTR replicas: the cost of ``DCTR(replicas=10).fit`` over ``DCTR().fit``.

The ten replica MLPs train together as one batched network
(:class:`dctrgan.nn.BatchedMLPClassifier`): one optimizer step updates all of them, so
the per-operation overhead of a small network is paid once, and what remains is the
arithmetic of ten networks. Timed (best of 2; 1 with ``--quick``) on two problems: a
10-d Gaussian toy (real N(0, 1), fake N(0.2, 1.1) per coordinate) and the high-level
features of calorimeter showers (full against fast simulation, the features computed
inside ``fit``), 20k + 20k events each (5k + 5k, and no showers, with ``--quick``).
The target is a cost of at most 3x one fit. Also reported: the same with
``mixed_precision=True`` (bfloat16 matrix products, for processors with bfloat16
instructions), and the mean spread of the replicas' log-weights on held-out fake events.

    python benchmarks/replicas.py [--quick] [--json PATH]
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from _common import Row, parse_args, report

from dctrgan.dctr import DCTR
from dctrgan.simulate import calorimeter

SEED = 20260601
K = 10
TARGET = 3.0


def timed(repeat: int, make: Any, real: Any, fake: Any) -> tuple[float, DCTR]:
    """Smallest wall time of ``repeat`` fits of a fresh ``make()``, and the last model."""
    best, model = np.inf, None
    for _ in range(repeat):
        model = make()
        start = time.perf_counter()
        model.fit(real, fake)
        best = min(best, time.perf_counter() - start)
    assert model is not None
    return best, model


def problems(quick: bool) -> dict[str, tuple[Any, Any, Any]]:
    """Real, fake and held-out fake events of each problem."""
    rng = np.random.default_rng(SEED)
    n = 5_000 if quick else 20_000
    out: dict[str, tuple[Any, Any, Any]] = {
        "gaussian 10-d": (
            rng.normal(0.0, 1.0, (n, 10)),
            rng.normal(0.2, 1.1, (n, 10)),
            rng.normal(0.2, 1.1, (n, 10)),
        )
    }
    if not quick:
        out["showers high-level"] = (
            calorimeter(n, seed=SEED + 1),
            calorimeter(n, variant="fast", seed=SEED + 2),
            calorimeter(n, variant="fast", seed=SEED + 3),
        )
    return out


def main() -> None:
    args = parse_args(__doc__.splitlines()[0] if __doc__ else "replicas")
    repeat = 1 if args.quick else 2
    rows, figures = [], {}
    for name, (real, fake, held_out) in problems(args.quick).items():
        one, _ = timed(repeat, lambda: DCTR(progress=False, seed=SEED), real, fake)
        many, model = timed(repeat, lambda: DCTR(progress=False, seed=SEED, replicas=K), real, fake)
        bf16, _ = timed(
            1,
            lambda: DCTR(progress=False, seed=SEED, replicas=K, mixed_precision=True),
            real,
            fake,
        )
        _, r = model.weight(held_out, replicas=True)
        log_r = np.log(np.asarray(r.to_numpy() if hasattr(r, "to_numpy") else r, np.float64))
        spread = float(np.mean(log_r.std(axis=1, ddof=1)))
        ratio = many / one
        figures[name] = {"one_s": one, "replicas_s": many, "bf16_s": bf16, "spread": spread}
        rows += [
            Row(f"{name}: one fit", one, "s"),
            Row(f"{name}: replicas={K} fit", many, "s"),
            Row(
                f"{name}: cost of {K} replicas",
                ratio,
                "x one fit",
                target=f"<= {TARGET:g}",
                baseline=one,
                ratio=ratio,
                ok=ratio <= TARGET,
            ),
            Row(f"{name}: replicas={K}, mixed_precision=True", bf16 / one, "x one fit"),
            Row(f"{name}: mean spread of log w over replicas", spread),
        ]
    report("replicas", rows, args, timings=figures)


if __name__ == "__main__":
    main()
