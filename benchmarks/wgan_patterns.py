"""Erdmann et al. sec. 4: energy-conditioned WGAN of 9 x 9 air-shower footprints.

``dctrgan.WGAN((9, 9), condition_dim=1)`` (the paper's Tables 1-2 nets at the CPU
width 16, latent 80, n_critic 8, lambda 3, kappa 1e-3, Adam 5e-4 (0.5, 0.9), decay
1e-4, batch 64) is trained on the time-integrated signal patterns (VEM per station)
of ``dctrgan.simulate.airshower(variant="data")`` events, energy flat in 1-100 EeV,
with their energy as the label. Figures:

* ``label_correlation``: Pearson correlation between the label given to the
  generator (5,000 labels uniform in 1-100 EeV) and the energy the constrainer
  reconstructs from the generated pattern (paper Fig. 3; target >= 0.9, >= 0.8 with
  ``--quick``), beside the constrainer's own correlation on 5,000 held-out data events;
* ``s2_total_signal``: ``<S^2>`` of the distribution of ``log10`` of the total signal
  (VEM, at least 1) of 5,000 generated events, labelled with the energies of 5,000
  held-out data events, against those data events: 30 bins over the data's range,
  generated values outside it counted in the edge bins (target <= 0.05), beside the
  floor (a second independent data sample of the same size);
* ``w_first``, ``w_last``: the critic's Wasserstein estimate ``C1`` averaged over the
  first and the last 10 % of the generator updates (paper Fig. 4a; it must fall);
* patterns grow and brighten with energy (paper Fig. 2): mean number of active
  stations (signal >= 115 VEM, the data's trigger threshold) and mean total signal of
  2,000 events generated at 10 EeV and at 70 EeV, beside data events within 10 % of
  those energies (both must increase from 10 to 70 EeV).

Size (CPU): 10,000 training events and 600 generator updates (4,800 critic updates,
about 30 epochs of the training set); ``--quick``: 5,000 events and 150 updates.
The fit time is in the table (about 0.3 s per update on one idle core).

    python benchmarks/wgan_patterns.py [--quick] [--json PATH]
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
from _common import Row, parse_args, report

from dctrgan import WGAN
from dctrgan.features import pattern
from dctrgan.simulate import airshower
from dctrgan.stats import separation_power

SEED = 20260101
N_TEST = 5_000
N_LEVEL = 2_000
BINS = 30
#: Signal (VEM) from which a station counts as active: the simulation's trigger threshold.
ACTIVE = 115.0
LOW, HIGH = 10.0, 70.0


def stage(message: str, start: float) -> float:
    now = time.perf_counter()
    print(f"[{now - start:7.1f} s] {message}", file=sys.stderr, flush=True)
    return now


def simulate(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 9, 9)`` patterns (VEM) and ``(n,)`` energies (EeV) of ``"data"`` events."""
    events = airshower(n, "data", seed=seed)
    return pattern(events), np.asarray(events["energy"], dtype=np.float64)


def log_total(patterns: np.ndarray) -> np.ndarray:
    """``log10`` of the total signal (VEM, at least 1) of ``(N, 9, 9)`` patterns."""
    total = patterns.reshape(len(patterns), -1).sum(axis=1, dtype=np.float64)
    return np.asarray(np.log10(np.maximum(total, 1.0)))


def active(patterns: np.ndarray) -> np.ndarray:
    """Number of active stations of each pattern, ``(N,)``."""
    return np.asarray((patterns.reshape(len(patterns), -1) >= ACTIVE).sum(axis=1))


def s2_on_data_range(data: np.ndarray, model: np.ndarray) -> float:
    """``<S^2>`` in :data:`BINS` bins over the range of ``data``; ``model`` clipped into it."""
    edges = np.linspace(data.min(), data.max(), BINS + 1)
    return separation_power(data, np.clip(model, edges[0], edges[-1]), edges)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0] if __doc__ else "wgan_patterns")
    quick = args.quick
    n_train, steps = (5_000, 150) if quick else (10_000, 600)
    start = time.perf_counter()
    rows: list[Row] = []

    x_train, e_train = simulate(n_train, SEED + 1)
    x_test, e_test = simulate(N_TEST, SEED + 2)
    x_floor, e_floor = simulate(N_TEST, SEED + 3)
    t = stage(f"simulated {n_train} training and {2 * N_TEST} test events", start)

    wgan = WGAN((9, 9), condition_dim=1, seed=SEED, progress=False)
    wgan.fit(x_train, condition=e_train, steps=steps)
    fit_seconds = time.perf_counter() - t
    t = stage(f"WGAN fit, {steps} steps ({fit_seconds:.1f} s)", t)

    # Fig. 3: label against the constrainer's energy of generated patterns
    labels = np.random.default_rng(SEED + 4).uniform(1.0, 100.0, N_TEST)
    generated = wgan.sample(N_TEST, condition=labels, seed=SEED + 5)
    label_correlation = float(np.corrcoef(labels, wgan.reconstruct(generated))[0, 1])
    data_correlation = float(np.corrcoef(e_test, wgan.reconstruct(x_test))[0, 1])
    goal = 0.8 if quick else 0.9
    rows.append(
        Row(
            "Pearson(label, constrainer energy), 5000 generated",
            label_correlation,
            target=f">= {goal:g}",
            baseline=data_correlation,
            ok=label_correlation >= goal,
        )
    )
    rows.append(Row("Pearson(energy, constrainer energy), 5000 data", data_correlation))

    # total signal, generated with the labels of held-out data events
    like_test = wgan.sample(N_TEST, condition=e_test, seed=SEED + 6)
    data_total, gen_total = log_total(x_test), log_total(like_test)
    s2_total = s2_on_data_range(data_total, gen_total)
    s2_floor = s2_on_data_range(data_total, log_total(x_floor))
    rows.append(
        Row(
            "S2 log10 total signal, generated vs data",
            s2_total,
            target="<= 0.05",
            baseline=s2_floor,
            ok=s2_total <= 0.05,
        )
    )
    rows.append(Row("S2 log10 total signal, floor (data vs data)", s2_floor))
    offset = float(np.mean(gen_total) - np.mean(data_total))
    rows.append(Row("mean log10 total signal, generated - data", offset, "dex"))

    # Fig. 4a: the Wasserstein estimate early and late
    w = np.asarray(wgan.history["wasserstein"])
    tenth = max(1, len(w) // 10)
    w_first, w_last = float(w[:tenth].mean()), float(w[-tenth:].mean())
    rows.append(Row("Wasserstein estimate, first 10 % of steps", w_first))
    rows.append(
        Row(
            "Wasserstein estimate, last 10 % of steps",
            w_last,
            target="< first",
            baseline=w_first,
            ratio=w_last / w_first if w_first else None,
            ok=w_last < w_first,
        )
    )
    t = stage("correlation, total signal, Wasserstein", t)

    # Fig. 2: larger and brighter with energy
    pooled_x, pooled_e = np.concatenate([x_test, x_floor]), np.concatenate([e_test, e_floor])
    level: dict[str, Any] = {}
    for energy, seed in ((LOW, SEED + 7), (HIGH, SEED + 8)):
        gen = wgan.sample(N_LEVEL, condition=np.full(N_LEVEL, energy), seed=seed)
        near = np.abs(pooled_e / energy - 1.0) <= 0.1
        level[f"{energy:g}"] = {
            "active_generated": float(active(gen).mean()),
            "active_data": float(active(pooled_x[near]).mean()),
            "total_generated": float(10 ** log_total(gen).mean()),
            "total_data": float(10 ** log_total(pooled_x[near]).mean()),
            "data_events": int(near.sum()),
        }
    lo, hi = level[f"{LOW:g}"], level[f"{HIGH:g}"]
    for key, what, unit in (
        ("active", "active stations (>= 115 VEM)", ""),
        ("total", "total signal (geometric mean)", "VEM"),
    ):
        for name, figures in ((f"{LOW:g} EeV", lo), (f"{HIGH:g} EeV", hi)):
            rows.append(
                Row(
                    f"{what} at {name}, generated",
                    figures[f"{key}_generated"],
                    unit,
                    baseline=figures[f"{key}_data"],
                    ratio=figures[f"{key}_generated"] / figures[f"{key}_data"],
                    **(
                        {
                            "target": f"> at {LOW:g} EeV",
                            "ok": hi[f"{key}_generated"] > lo[f"{key}_generated"],
                        }
                        if figures is hi
                        else {}
                    ),
                )
            )
    rows.append(Row(f"WGAN fit ({n_train} events, {steps} steps)", fit_seconds, "s"))
    rows.append(Row("WGAN fit per generator update", fit_seconds / steps, "s"))
    stage("done", start)
    report(
        "wgan_patterns",
        rows,
        args,
        label_correlation=label_correlation,
        data_correlation=data_correlation,
        s2_total_signal=s2_total,
        s2_total_signal_floor=s2_floor,
        w_first=w_first,
        w_last=w_last,
        by_energy=level,
        sizes={"train": n_train, "steps": steps, "test": N_TEST, "per_energy": N_LEVEL},
        config=wgan.config,
        fit_seconds=fit_seconds,
        seconds=time.perf_counter() - start,
    )


if __name__ == "__main__":
    main()
