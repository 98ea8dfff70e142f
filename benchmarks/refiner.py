"""Refiner: energy reconstruction trained on refined simulation (Erdmann et al. Figs. 5-7).

Samples of :func:`dctrgan.simulate.airshower` (energies flat in 1-100 EeV):
``"data"`` and ``"sim"`` training samples of ``--events`` each (20 000 in the full
run, 4000 with ``--quick``; different seeds, so unpaired), a held-out ``"data"`` test
sample of ``--test`` events (5000; 2000 quick) and the ``"sim"`` events of the same
showers (same seed: the matched events of Fig. 5).

1. A :class:`dctrgan.Refiner` is trained on the sim and data training traces (no
   labels) for ``--steps`` refiner updates, with the paper's n_critic, lambda, Adam
   betas and batch size, the CPU width (16 maps) and a learning rate of 3e-4: the
   paper's 1e-4 is for its 10 000 updates, and in 700 (300 quick) it leaves the
   refinement short (full run: gap recovered 0.58 in bias and 0.80 in resolution
   against 0.86 and 0.87 at 3e-4; quick 0.07 and 0.43 against 0.62 and 0.75).
2. Three :class:`dctrgan.Regressor` (defaults) are trained on (a) the data, (b) the
   sim and (c) the refined sim training samples, and all three reconstruct the
   held-out data (Fig. 6).
3. Figures: bias and resolution overall and in bins of true energy (1-3-10-30-100
   EeV). The *bias figure* is the event-count-weighted mean of ``|bias|`` over the
   energy bins: the bias of a regressor trained on sim is far from linear in the
   energy (positive at low, negative at high energies) and its overall mean cancels
   to near zero, which would make a ratio of overall means meaningless. With ``b``
   that figure and ``s`` the overall resolution (standard deviation of
   ``(E_rec - E) / E``) of (a), (b), (c):
   ``gap_recovered_bias = (b_b - b_c) / (b_b - b_a)`` and
   ``gap_recovered_resolution = (s_b - s_c) / (s_b - s_a)`` (1: refined simulation as
   good as data, 0: no better than raw simulation); targets >= 0.5 in the full run,
   >= 0.3 in ``--quick``.
4. How small the refinement is: ``sum |s' - s| / sum s`` over the refined test traces
   (and the median of that ratio over the stations with signal), beside the same
   figure for the matched data and sim traces of the test showers (how far apart
   simulation and data are on this measure). The separation power ``S^2`` of the
   station rise time (10-50 %) and early fraction (16 bins), per station with signal,
   of the test sim and refined test sim against the test data, beside the floor (test
   data against the data training sample); 40 equal-width bins between the 0.5 and
   99.5 percentiles of the data.

``--plots DIR`` writes ``fig5_traces.png`` (the matched test event nearest 69 EeV:
data, sim and refined traces of the station with the largest signal and its
strongest neighbour), ``fig7_losses.png`` (critic loss, Wasserstein estimate,
penalty and refiner loss per refiner update) and ``fig6_energy.png``
(reconstructed against true energy of the three regressors on the test data).
``--cache DIR`` keeps the trained models there and reuses them (the file names
hold the sizes and settings). ``--width``, ``--critic-width``, ``--n-critic`` and
``--lr`` change the refiner's settings (``--width 64`` is the paper's size). Stage
timings go to stderr; torch runs on one thread.

    python benchmarks/refiner.py [--quick] [--json PATH] [--plots DIR] [--cache DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import torch
from _common import Row, format_table, report

from dctrgan.features import early_fraction, rise_time
from dctrgan.refiner import Refiner
from dctrgan.regression import BiasResolution, Regressor, bias_resolution
from dctrgan.simulate import airshower
from dctrgan.stats import separation_power

SEED = 20260505
EDGES = (1.0, 3.0, 10.0, 30.0, 100.0)
S2_BINS = 40
FIG5_ENERGY = 69.0  # EeV, the event of Erdmann et al. Fig. 5
SIZES = {  # events per training sample, test events, refiner updates
    "full": (20_000, 5000, 700),
    "quick": (4000, 2000, 300),
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``--quick`` and ``--json`` (as every benchmark), sizes, figures and a model cache."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small, fast run (CI)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    parser.add_argument("--plots", type=Path, default=None, help="write the figures (PNG) here")
    parser.add_argument("--cache", type=Path, default=None, help="keep and reuse trained models")
    parser.add_argument("--events", type=int, default=None, help="events per training sample")
    parser.add_argument("--test", type=int, default=None, help="held-out data events")
    parser.add_argument("--steps", type=int, default=None, help="refiner updates")
    parser.add_argument("--width", type=int, default=None, help="refiner width (CPU default 16)")
    parser.add_argument("--critic-width", type=int, default=None, help="critic width")
    parser.add_argument("--n-critic", type=int, default=10, help="critic updates per step")
    parser.add_argument("--lr", type=float, default=3e-4, help="Adam learning rate (3e-4)")
    return parser.parse_args(argv)


def stage(message: str, start: float) -> float:
    now = time.perf_counter()
    print(f"[{now - start:7.1f} s] {message}", file=sys.stderr, flush=True)
    return now


def cached(path: Path | None, load: Callable[[Path], Any], train: Callable[[], Any]) -> Any:
    """``load(path)`` if the file exists, else ``train()`` (saved to ``path`` if given)."""
    if path is not None and path.is_file():
        return load(path)
    model = train()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
    return model


def bias_figure(score: BiasResolution) -> float:
    """Event-count-weighted mean of ``|bias|`` over the energy bins."""
    assert score.bin_bias is not None
    assert score.bin_count is not None
    filled = score.bin_count > 0
    return float(np.average(np.abs(score.bin_bias[filled]), weights=score.bin_count[filled]))


def gap(b: float, c: float, a: float) -> float:
    """``(b - c) / (b - a)``: the fraction of the gap between (b) and (a) that (c) closes."""
    return (b - c) / (b - a)


def refinement_size(changed: np.ndarray, original: np.ndarray) -> tuple[float, float]:
    """``sum |s' - s| / sum s`` over all bins, and the median over the stations with signal
    in ``original`` of the same ratio per station."""
    difference = np.abs(changed - original)
    total = original.sum(axis=-1)
    per_station = difference.sum(axis=-1)[total > 0] / total[total > 0]
    return float(difference.sum() / original.sum()), float(np.median(per_station))


def station_values(values: np.ndarray) -> np.ndarray:
    """The finite per-station values of an ``(N, n_x, n_y)`` observable."""
    flat = values.ravel()
    return flat[np.isfinite(flat)]


def s2_rows(
    name: str, unit: str, data: np.ndarray, sim: np.ndarray, refined: np.ndarray, floor: np.ndarray
) -> tuple[list[Row], dict[str, float]]:
    """``S^2`` of sim and refined sim against data, and the floor."""
    edges = np.linspace(*np.percentile(data, [0.5, 99.5]), S2_BINS + 1)
    s2 = {
        "sim": separation_power(sim, data, edges),
        "refined": separation_power(refined, data, edges),
        "floor": separation_power(floor, data, edges),
    }
    rows = [
        Row(f"S2 {name}, sim vs data", s2["sim"], baseline=s2["floor"]),
        Row(
            f"S2 {name}, refined vs data",
            s2["refined"],
            target="< sim",
            baseline=s2["sim"],
            ratio=s2["refined"] / s2["sim"],
            ok=s2["refined"] < s2["sim"],
        ),
    ]
    means = {"data": float(np.mean(data)), "sim": float(np.mean(sim))}
    means["refined"] = float(np.mean(refined))
    rows += [
        Row(
            f"mean {name}, {k} (baseline: data)",
            means[k],
            unit,
            baseline=means["data"],
            ratio=means[k] / means["data"],
        )
        for k in ("sim", "refined")
    ]
    return rows, {
        **{f"s2_{k}": v for k, v in s2.items()},
        **{f"mean_{k}": v for k, v in means.items()},
    }


def plots(
    folder: Path,
    refiner: Refiner,
    tests: dict[str, ak.Array],
    true: np.ndarray,
    predictions: dict[str, np.ndarray],
) -> None:
    from dctrgan import plot

    folder.mkdir(parents=True, exist_ok=True)
    event = int(np.argmin(np.abs(true - FIG5_ENERGY)))
    fig, _ = plot.traces(tests["data"], tests["sim"], tests["refined"], event=event)
    fig.savefig(folder / "fig5_traces.png", dpi=80)
    fig, _ = plot.losses(refiner, xlabel="Refiner update")
    fig.savefig(folder / "fig7_losses.png", dpi=80)
    fig, _ = plot.energy_reconstruction(
        true,
        *predictions.values(),
        labels=[f"trained on {k}, tested on data" for k in predictions],
    )
    fig.savefig(folder / "fig6_energy.png", dpi=80)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)
    n, n_test, steps = SIZES["quick" if args.quick else "full"]
    n, n_test, steps = args.events or n, args.test or n_test, args.steps or steps
    start = time.perf_counter()
    quick = args.quick

    def target(goal: float, value: float) -> dict[str, Any]:
        return {"target": f">= {goal}", "ok": bool(value >= goal)}

    data = airshower(n, "data", seed=SEED)
    sim = airshower(n, "sim", seed=SEED + 1)
    test = airshower(n_test, "data", seed=SEED + 2)
    test_sim = airshower(n_test, "sim", seed=SEED + 2)  # the same showers as `test`
    true = np.asarray(ak.to_numpy(test.energy), dtype=np.float64)
    t = stage(f"simulated {n} data + {n} sim training, {n_test} + {n_test} test events", start)

    def path(name: str) -> Path | None:
        return None if args.cache is None else args.cache / f"{name}-{n}-{SEED}.pt"

    fit_start = time.perf_counter()
    settings = {
        "width": args.width,
        "critic_width": args.critic_width,
        "n_critic": args.n_critic,
        "lr": args.lr,
        "steps": steps,
    }
    tag = "-".join(f"{v}" for v in settings.values())
    refiner = cached(
        path(f"refiner-{tag}"),
        lambda p: Refiner.load(p, progress=False),
        lambda: Refiner(**settings, seed=SEED, progress=False).fit(sim, data),
    )
    fit_seconds = time.perf_counter() - fit_start
    t = stage(f"refiner: {steps} updates ({fit_seconds:.0f} s)", t)
    refine_start = time.perf_counter()
    refined = refiner.refine(sim)
    refine_seconds = time.perf_counter() - refine_start
    refined_test = refiner.refine(test_sim)
    t = stage(f"refined {n} sim events ({refine_seconds:.1f} s)", t)

    predictions: dict[str, np.ndarray] = {}
    scores: dict[str, BiasResolution] = {}
    for key, sample in (("data", data), ("sim", sim), (f"refined-{tag}", refined)):
        reg = cached(
            path(f"regressor-{key}"),
            lambda p: Regressor.load(p, progress=False),
            lambda sample=sample: Regressor(seed=SEED, progress=False).fit(sample),
        )
        label = key.split("-")[0]
        predictions[label] = reg.predict(test)
        scores[label] = bias_resolution(predictions[label], true, bins=EDGES)
        t = stage(f"regressor trained on {label}", t)

    b = {k: bias_figure(s) for k, s in scores.items()}
    s = {k: s.resolution for k, s in scores.items()}
    gap_bias = gap(b["sim"], b["refined"], b["data"])
    gap_resolution = gap(s["sim"], s["refined"], s["data"])
    goal = 0.3 if quick else 0.5
    rows = [
        Row("gap_recovered_bias", gap_bias, **target(goal, gap_bias)),
        Row("gap_recovered_resolution", gap_resolution, **target(goal, gap_resolution)),
    ]
    rows += [Row(f"bias figure (mean |bin bias|), trained on {k}", v) for k, v in b.items()]
    rows += [Row(f"resolution, trained on {k}", v) for k, v in s.items()]
    rows += [Row(f"overall mean bias, trained on {k}", v.bias) for k, v in scores.items()]

    s0, s1, sd = (
        np.asarray(ak.to_numpy(x.signal), dtype=np.float64) for x in (test_sim, refined_test, test)
    )
    change, station_change = refinement_size(s1, s0)
    matched, station_matched = refinement_size(sd, s0)
    rows += [
        Row(
            "refinement size: sum |s' - s| / sum s (baseline: data - sim, same showers)",
            change,
            baseline=matched,
            ratio=change / matched,
        ),
        Row(
            "refinement size: median over stations (baseline: data - sim)",
            station_change,
            baseline=station_matched,
            ratio=station_change / station_matched,
        ),
    ]
    figures: dict[str, Any] = {
        "refinement_change": change,
        "refinement_change_station_median": station_change,
        "data_sim_difference": matched,
        "data_sim_difference_station_median": station_matched,
    }
    for name, unit, observable in (
        ("rise time", "ns", rise_time),
        ("early fraction", "", early_fraction),
    ):
        values = [station_values(observable(x)) for x in (test, test_sim, refined_test, data)]
        more, stats = s2_rows(name, unit, *values)
        rows += more
        figures[name.replace(" ", "_")] = stats
    rows.append(Row("refiner fit", fit_seconds / steps, "s / update"))
    rows.append(Row("refine", 1e3 * refine_seconds / n, "ms / event"))
    t = stage("observables", t)

    bins_table = [
        (
            k,
            f"{EDGES[i]:g}-{EDGES[i + 1]:g}",
            f"{score.bin_bias[i]:+.4f}",
            f"{score.bin_resolution[i]:.4f}",
            str(int(score.bin_count[i])),
        )
        for k, score in scores.items()
        if score.bin_bias is not None
        and score.bin_resolution is not None
        and score.bin_count is not None
        for i in range(len(EDGES) - 1)
    ]
    if args.plots is not None:
        plots(
            args.plots,
            refiner,
            {"data": test, "sim": test_sim, "refined": refined_test},
            true,
            predictions,
        )
        t = stage(f"figures in {args.plots}", t)
    report(
        "refiner",
        rows,
        args,
        sizes={"train_events_per_sample": n, "test_events": n_test, "refiner_updates": steps},
        refiner_config=refiner.config,
        bias_figure_definition=(
            "event-count-weighted mean of |relative bias| over true-energy bins "
            f"{list(EDGES)} EeV; resolution: overall std of (E_rec - E) / E"
        ),
        scores={k: v.to_dict() for k, v in scores.items()},
        figures=figures,
        history=refiner.history,
    )
    print("\nper energy bin (EeV), regressors evaluated on held-out data")
    print(format_table(("trained on", "bin", "bias", "resolution", "events"), bins_table))
    stage("done", start)


if __name__ == "__main__":
    main()
