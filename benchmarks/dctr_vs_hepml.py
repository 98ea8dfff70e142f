"""DCTR-HL against hep_ml's GBReweighter: fit time, closure, dilution and throughput.

Full (``"full"``) against fast (``"fast"``) 50 GeV photon showers of
``dctrgan.simulate.calorimeter``: one training pair and an independent test pair
(100k showers each in the full run), and a second independent full test sample for
the statistical floor of ``<S^2>``. Both reweighters learn fast -> full on the same
training events and the same 33 high-level features:

* DCTR-HL: ``DCTR(features="high_level")`` with its defaults, fitted on the showers
  (the product path, feature extraction included), and the same network fitted on
  the precomputed ``(N, 33)`` features (``DCTR()``; the like-for-like fit time
  against hep_ml, which is handed the precomputed features);
* hep_ml: ``GBReweighter(n_estimators=400, learning_rate=0.1, max_depth=3,
  min_samples_leaf=1000)``, and the scan of its ``n_estimators`` at equal quality: the
  400-tree model's staged predictions give the median test ``<S^2>`` over the 33 inputs
  after 10, 20, ... 400 trees; the cheapest number of trees whose median is <= DCTR's is
  fitted again on its own and timed (the median of its own weights is reported beside
  the staged one), and its fit time over DCTR's (features given, as hep_ml's) is the
  speed ratio at equal quality (target >= 50 at 100k + 100k). Where no number of trees
  reaches DCTR's median: if the median still falls at 400 trees, the 400-tree ratio is
  a lower bound of it, and says so; if it has a minimum before (more trees overfit),
  hep_ml never reaches DCTR's quality with these settings, and the benchmark says so,
  with hep_ml's best median and the time of its best number of trees (fitted again).

Figures: fit wall times (one fit each; target hep_ml / DCTR >= 20), the median
``<S^2>`` of the test fast sample against the test full sample over the 33 inputs
and over the held-out observables of ``dctrgan.features.observables`` (same 30 bins
per observable as ``dctrgan.report``), unweighted, DCTR- and hep_ml-weighted, beside
the floor (two independent full samples; target DCTR <= hep_ml), n_eff/N, the median
``r``, the weight-inference throughput on a precomputed ``(N, 33)`` float32 array
(target >= 3M events/s on 2 cores, or >= 90 % of the bare network's in plain torch,
measured in the same run) and the ROOT -> weights -> ROOT throughput
(``dctrgan.read``, ``DCTR.weight``, then ``dctrgan.io.write_weights`` or
``dctrgan.write`` with a weight branch).

``--hep-ml learning_rate=0.05,max_depth=4,...`` changes hep_ml's settings (the scan
stops at its ``n_estimators``).

    python benchmarks/dctr_vs_hepml.py [--quick] [--json PATH] [--hep-ml KEY=VALUE,...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import torch
from _common import Row, best_time, parse_args, report
from hep_ml.reweight import GBReweighter

import dctrgan
from dctrgan import features, stats
from dctrgan.dctr import DCTR
from dctrgan.report import edges
from dctrgan.simulate import calorimeter

BINS = 30
CHUNK = 10_000
HEP_ML = {"n_estimators": 400, "learning_rate": 0.1, "max_depth": 3, "min_samples_leaf": 1000}
#: The numbers of trees of the scan (staged predictions of the 400-tree model).
TREES = (10, 20, 30, 40, 60, 80, 100, 150, 200, 250, 300, 400)
SEEDS = {"full_train": 101, "fast_train": 102, "full_test": 103, "fast_test": 104, "floor": 105}


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def simulate(n: int, variant: str, seed: int, keep: bool) -> tuple[ak.Array | None, dict[str, Any]]:
    """``n`` showers in chunks: (the showers if ``keep``, their observables as float64 arrays)."""
    rng = np.random.default_rng(seed)
    kept, tables = [], []
    for start in range(0, n, CHUNK):
        chunk = calorimeter(min(CHUNK, n - start), variant=variant, seed=int(rng.integers(2**31)))
        tables.append(features.observables(chunk))
        if keep:
            kept.append(chunk)
    table = {name: np.concatenate([t[name] for t in tables]) for name in tables[0]}
    return (ak.concatenate(kept) if keep else None), table


def hl_matrix(table: dict[str, Any]) -> np.ndarray:
    """The 33 high-level features ``(N, 33)`` float32, as ``features.high_level`` gives them."""
    return np.column_stack([table[n] for n in features.HIGH_LEVEL_NAMES]).astype(np.float32)


def timed(function: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def compare(
    full: dict[str, Any], fast: dict[str, Any], floor: dict[str, Any], weights: dict[str, Any]
) -> list[dict[str, Any]]:
    """Per observable: ``<S^2>`` unweighted, with each set of weights and the floor; ``r``."""
    inputs = set(features.HIGH_LEVEL_NAMES)
    out = []
    for name, x_full in full.items():
        bins = edges(x_full, fast[name], BINS)
        entry: dict[str, Any] = {
            "observable": name,
            "group": "input" if name in inputs else "held-out",
            "s2_unweighted": stats.separation_power(x_full, fast[name], bins),
            "s2_floor": stats.separation_power(x_full, floor[name], bins),
        }
        for label, w in weights.items():
            entry[f"s2_{label}"] = stats.separation_power(x_full, fast[name], bins, weights2=w)
            entry[f"r_{label}"] = stats.uncertainty_ratio(fast[name], w, x_full)
        out.append(entry)
    return out


def median(entries: list[dict[str, Any]], key: str, group: str) -> float:
    return float(np.nanmedian([e[key] for e in entries if e["group"] == group]))


def input_s2(full: dict[str, Any], fast: dict[str, Any], weights: np.ndarray) -> float:
    """Median ``<S^2>`` over the 33 inputs of the weighted fast test sample."""
    values = []
    for name in features.HIGH_LEVEL_NAMES:
        bins = edges(full[name], fast[name], BINS)
        values.append(stats.separation_power(full[name], fast[name], bins, weights2=weights))
    return float(np.nanmedian(values))


def tree_scan(
    hep: GBReweighter,
    x_test: np.ndarray,
    full: dict[str, Any],
    fast: dict[str, Any],
    goal: float,
    x_train: tuple[np.ndarray, np.ndarray],
) -> dict[str, Any]:
    """The median input ``<S^2>`` after each number of :data:`TREES`, and the cheapest
    number that reaches ``goal`` fitted again on its own: its time and trees."""
    staged = {}
    for trees, score in enumerate(hep.gb.staged_decision_function(x_test), start=1):
        if trees in TREES:
            staged[trees] = input_s2(full, fast, np.exp(np.asarray(score, np.float64)))
    reached = [k for k in staged if staged[k] <= goal]
    best = min(staged, key=staged.__getitem__)
    out: dict[str, Any] = {"median_s2_inputs": staged, "trees": None, "seconds": None}
    out["best_trees"], out["best_s2"] = best, staged[best]
    # the cheapest match, else hep_ml's best number of trees (if the curve turned up
    # before the last stage, more trees will not reach DCTR either)
    trees = reached[0] if reached else best
    if reached or best < max(staged):
        refit, seconds = timed(
            lambda: GBReweighter(**{**HEP_ML, "n_estimators": trees}).fit(*x_train)
        )
        w = np.asarray(refit.predict_weights(x_test), np.float64)
        out["median_s2_refit"] = input_s2(full, fast, w)
        out |= {"trees": trees, "seconds": seconds} if reached else {"best_seconds": seconds}
    return out


def end_to_end(model: DCTR, showers: ak.Array, folder: Path, repeat: int) -> dict[str, float]:
    """Best times of ROOT -> weights -> ROOT, as a friend tree and as a weight branch."""
    source = folder / "fast.root"
    dctrgan.write(source, showers, overwrite=True)
    friend, weighted = folder / "weights.root", folder / "fast_weighted.root"

    def as_friend() -> None:
        dctrgan.io.write_weights(friend, model.weight(dctrgan.read(source)), overwrite=True)

    def as_branch() -> None:
        dctrgan.write(weighted, model.attach(dctrgan.read(source)), overwrite=True)

    events = dctrgan.read(source)
    return {
        "friend": best_time(as_friend, repeat),
        "branch": best_time(as_branch, repeat),
        "read": best_time(lambda: dctrgan.read(source), repeat),
        "weight": best_time(lambda: model.weight(events), repeat),
        "features": best_time(lambda: features.high_level(events), repeat),
        "file_mb": source.stat().st_size / 1e6,
    }


def ceiling(x: np.ndarray, repeat: int) -> float:
    """Events/s of the bare 33-128-128-1 ReLU network (plain torch, no input scaling, no
    calibration) over ``x`` in batches of 4096 or 16384, whichever is faster: what the
    matrix products of these cores allow ``DCTR.weight``."""
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 128),
        torch.nn.ReLU(),
        torch.nn.Linear(128, 1),
    ).eval()
    tensor = torch.from_numpy(x)

    def run(batch: int) -> None:
        with torch.inference_mode():
            for start in range(0, len(tensor), batch):
                net(tensor[start : start + batch])

    return max(len(x) / best_time(partial(run, b), repeat) for b in (4096, 16384))


def with_threads(threads: int, function: Any) -> Any:
    """``function()`` with ``threads`` torch intra-op threads, the setting restored after."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return function()
    finally:
        torch.set_num_threads(old)


def hep_ml_settings(text: str) -> dict[str, float]:
    """``"learning_rate=0.05,max_depth=4"``: GBReweighter keywords over :data:`HEP_ML`."""
    out: dict[str, float] = {}
    for item in text.split(","):
        key, _, value = (part.strip() for part in item.partition("="))
        if key not in HEP_ML:
            msg = f"--hep-ml: unknown setting {key!r}; one of {', '.join(HEP_ML)}"
            raise argparse.ArgumentTypeError(msg)
        try:
            number = float(value)
        except ValueError:
            msg = f"--hep-ml: {key}={value!r} is not a number"
            raise argparse.ArgumentTypeError(msg) from None
        out[key] = number if key == "learning_rate" else int(number)
    return out


def main() -> None:
    args = parse_args(
        __doc__.splitlines()[0],
        extra=lambda parser: parser.add_argument(
            "--hep-ml",
            type=hep_ml_settings,
            default={},
            metavar="KEY=VALUE,...",
            help="GBReweighter settings other than the defaults, e.g. learning_rate=0.05",
        ),
    )
    HEP_ML.update(args.hep_ml)  # the scan's refits take these too
    n_train, n_test, n_infer, n_e2e, repeat = (
        (3_000, 3_000, 300_000, 2_000, 2)
        if args.quick
        else (100_000, 100_000, 2_000_000, 20_000, 3)
    )
    threads = torch.get_num_threads()
    load_before = os.getloadavg()

    _log(f"simulating 5 samples ({n_train} train, {n_test} test showers each)")
    full_train, full_train_obs = simulate(n_train, "full", SEEDS["full_train"], keep=True)
    fast_train, fast_train_obs = simulate(n_train, "fast", SEEDS["fast_train"], keep=True)
    _, full_test = simulate(n_test, "full", SEEDS["full_test"], keep=False)
    fast_test_showers, fast_test = simulate(n_test, "fast", SEEDS["fast_test"], keep=True)
    _, floor = simulate(n_test, "full", SEEDS["floor"], keep=False)
    assert full_train is not None
    assert fast_train is not None
    assert fast_test_showers is not None
    x_full, x_fast = hl_matrix(full_train_obs), hl_matrix(fast_train_obs)
    x_test = hl_matrix(fast_test)

    _log(f"fitting DCTR-HL on the showers ({threads} torch threads)")
    dctr, t_showers = timed(
        lambda: DCTR(features="high_level", progress=False).fit(full_train, fast_train)
    )
    _log(f"  {t_showers:.1f} s, {len(dctr.history['train_loss'])} epochs")
    _log(f"fitting DCTR on the precomputed features ({threads} torch threads)")
    dctr_x, t_dctr = timed(lambda: DCTR(progress=False).fit(x_full, x_fast))
    _log(f"  {t_dctr:.1f} s, {len(dctr_x.history['train_loss'])} epochs")
    _log("fitting DCTR on the precomputed features (1 torch thread)")
    dctr_1, t_dctr_1 = timed(
        lambda: with_threads(1, lambda: DCTR(progress=False).fit(x_full, x_fast))
    )
    _log(f"  {t_dctr_1:.1f} s, {len(dctr_1.history['train_loss'])} epochs")
    _log("fitting hep_ml GBReweighter")
    hep_ml = {**HEP_ML, "n_estimators": 200} if args.quick else HEP_ML  # quick: CI's time
    hep, t_hep = timed(lambda: GBReweighter(**hep_ml).fit(x_fast, x_full))
    _log(f"  {t_hep:.1f} s")

    w_dctr = np.asarray(ak.to_numpy(dctr.weight(fast_test_showers)), dtype=np.float64)
    w_hep = np.asarray(hep.predict_weights(x_test), dtype=np.float64)
    # the same network, seed and features: the two DCTR paths must agree
    dlogw = {
        "features": float(np.max(np.abs(np.log(w_dctr) - np.log(dctr_x.weight(x_test))))),
        "features_1_thread": float(np.max(np.abs(np.log(w_dctr) - np.log(dctr_1.weight(x_test))))),
    }

    _log("comparing observables")
    entries = compare(full_test, fast_test, floor, {"dctr": w_dctr, "hep_ml": w_hep})
    _log("scanning hep_ml's number of trees at DCTR's quality")
    goal = median(entries, "s2_dctr", "input")
    scan = tree_scan(hep, x_test, full_test, fast_test, goal, (x_fast, x_full))
    _log(f"  {scan['trees']} trees, {scan['seconds']} s")

    _log("throughput")
    x_infer = np.ascontiguousarray(np.resize(x_test, (n_infer, x_test.shape[1])))
    t_infer = best_time(lambda: dctr_x.weight(x_infer), repeat)
    top = ceiling(x_infer, repeat)
    t_infer_1 = with_threads(1, lambda: best_time(lambda: dctr_x.weight(x_infer), repeat))
    t_hep_infer = best_time(lambda: hep.predict_weights(x_infer), repeat)
    t_features = best_time(lambda: features.high_level(fast_test_showers[:n_e2e]), repeat)
    with tempfile.TemporaryDirectory() as tmp:
        e2e = end_to_end(dctr, fast_test_showers[:n_e2e], Path(tmp), repeat)

    def fit_row(label: str, seconds: float) -> Row:
        ratio = t_hep / seconds
        return Row(label, seconds, "s", "hep_ml/DCTR >= 20", t_hep, ratio, ratio >= 20)

    rows = [
        fit_row(f"fit DCTR-HL, features given, {threads} thr", t_dctr),
        fit_row(f"fit DCTR-HL, showers (+features), {threads} thr", t_showers),
        fit_row("fit DCTR-HL, features given, 1 thread", t_dctr_1),
        Row(
            f"fit hep_ml GBReweighter, {hep_ml['n_estimators']} trees (learning rate "
            f"{hep_ml['learning_rate']:g}, depth {hep_ml['max_depth']}, leaf "
            f"{hep_ml['min_samples_leaf']})",
            t_hep,
            "s",
        ),
        *(
            Row(f"  median S2 inputs after {k} trees", v, target=f"<= DCTR {goal:.3g}")
            for k, v in scan["median_s2_inputs"].items()
        ),
    ]
    if scan["trees"] is None and "best_seconds" in scan:
        # hep_ml's median S2 has a minimum above DCTR's: no number of trees matches it
        best_ratio = scan["best_seconds"] / t_dctr
        rows += [
            Row(
                f"hep_ml's best median S2 (inputs), {scan['best_trees']} trees (refit: "
                f"{scan['median_s2_refit']:.3g}); DCTR's quality never reached",
                scan["best_s2"],
                target=f"<= DCTR {goal:.3g}",
                baseline=goal,
                ratio=scan["best_s2"] / goal,
                ok=False,
            ),
            Row(
                f"fit hep_ml at its best ({scan['best_trees']} trees, still worse) over "
                "DCTR-HL (features given)",
                scan["best_seconds"],
                "s",
                "equal quality not reached",
                baseline=t_dctr,
                ratio=best_ratio,
            ),
        ]
    elif scan["trees"] is None:  # the most trees are the best yet: their time is a lower bound
        bound = t_hep / t_dctr
        rows.append(
            Row(
                f"hep_ml fit at DCTR's quality over DCTR-HL: > {max(scan['median_s2_inputs'])} "
                "trees, ratio >",
                bound,
                "x",
                ">= 50 at 100k",
                baseline=t_dctr,
                ratio=bound,
                ok=bound >= 50,
            )
        )
    else:
        ratio = scan["seconds"] / t_dctr
        rows += [
            Row("hep_ml trees to reach DCTR's median S2 (inputs)", scan["trees"]),
            Row(
                f"fit hep_ml, {scan['trees']} trees, over DCTR-HL (features given)",
                scan["seconds"],
                "s",
                ">= 50 at 100k",
                baseline=t_dctr,
                ratio=ratio,
                ok=ratio >= 50,
            ),
        ]
    for group, label in (("input", "33 inputs"), ("held-out", "held-out")):
        s2_dctr, s2_hep = median(entries, "s2_dctr", group), median(entries, "s2_hep_ml", group)
        rows += [
            Row(f"median S2 {label}, unweighted", median(entries, "s2_unweighted", group)),
            Row(
                f"median S2 {label}, DCTR",
                s2_dctr,
                target="<= hep_ml",
                baseline=s2_hep,
                ratio=s2_dctr / s2_hep,
                ok=s2_dctr <= s2_hep,
            ),
            Row(f"median S2 {label}, hep_ml", s2_hep),
            Row(f"median S2 {label}, floor (full vs full)", median(entries, "s2_floor", group)),
            Row(f"median r {label}, DCTR", median(entries, "r_dctr", group)),
            Row(f"median r {label}, hep_ml", median(entries, "r_hep_ml", group)),
        ]
    rate, rate_1 = n_infer / t_infer, n_infer / t_infer_1
    rows += [
        Row("n_eff/N DCTR (test)", stats.effective_entries(w_dctr) / len(w_dctr)),
        Row("n_eff/N hep_ml (test)", stats.effective_entries(w_hep) / len(w_hep)),
        Row(
            f"DCTR.weight (N, 33) f32, {threads} thr",
            rate,
            "events/s",
            ">= 3e6 or >= 0.9 ceiling",
            baseline=top,
            ratio=rate / top,
            ok=rate >= 3e6 or rate >= 0.9 * top,
        ),
        Row(f"bare 33-128-128-1 network, {threads} thr (ceiling)", top, "events/s"),
        Row("DCTR.weight (N, 33) f32, 1 thread", rate_1, "events/s", ">= 1e6", ok=rate_1 >= 1e6),
        Row("hep_ml predict_weights (N, 33)", n_infer / t_hep_infer, "events/s"),
        Row("features.high_level on showers", n_e2e / t_features, "events/s"),
        Row("ROOT -> weights -> ROOT, friend tree", n_e2e / e2e["friend"], "events/s"),
        Row("ROOT -> weights -> ROOT, weight branch", n_e2e / e2e["branch"], "events/s"),
    ]
    report(
        "dctr_vs_hepml",
        rows,
        args,
        sizes={
            "train_per_class": n_train,
            "test_per_class": n_test,
            "inference": n_infer,
            "end_to_end": n_e2e,
        },
        hep_ml=hep_ml,
        hep_ml_tree_scan=scan,
        dctr_epochs={
            "showers": len(dctr.history["train_loss"]),
            "features": len(dctr_x.history["train_loss"]),
            "features_1_thread": len(dctr_1.history["train_loss"]),
        },
        dctr_max_abs_dlogw_vs_showers_fit=dlogw,
        end_to_end_seconds=e2e,
        torch_threads=threads,
        loadavg_before=load_before,
        loadavg_after=os.getloadavg(),
        observables=entries,
    )


if __name__ == "__main__":
    main()
