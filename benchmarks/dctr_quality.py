"""DCTR quality: analytic closure, and full vs fast showers at high and low level.

1. Analytic closure. Real ``N(0, 1)``, fake ``N(0.3, 1.1)`` in 1D (and a 2D pair with
   independent axes), so the true weight ``p_real / p_fake`` is known: the median of
   ``|log w - log w_true|`` over the central 90 % of a fresh fake sample
   (``DCTR()`` with its defaults; target <= 0.05 in the full run).
2. DCTR-HL on 50 GeV photon showers of ``dctrgan.simulate.calorimeter``: trained on
   ``"full"`` against ``"fast"`` (100k each), evaluated on an independent test pair
   (100k each) with ``dctrgan.report.compare``: 30 equal-width bins between the 0.1
   and 99.9 percentiles of both samples, the same for weighted and unweighted. The
   median ``<S^2>`` over the 33 inputs and over the held-out observables (layer
   differences, second moments, centroids), unweighted and weighted, beside the
   floor measured with a second independent full sample of the test size (and the
   first-order floor ``(B - 1)/4 (1/N + 1/n_eff)`` of the weighted sample). The ratio
   is median unweighted over median weighted (targets: >= 5 inputs, >= 2 held-out);
   the median ``r`` over all observables (``dctrgan.stats.uncertainty_ratio``,
   target <= 2.5); the closure AUC of ``DCTR.diagnostics`` on the test pair (a fresh
   classifier on real vs weighted fake, target <= 0.52).
3. Low level at CPU sizes: ``model="deepsets"`` and ``model="cnn3d"`` with their
   CPU defaults, trained on 20k showers per class (CPU budget), evaluated on the same
   test pair: the median ``<S^2>`` ratio over all observables (target >= 2) and the
   median ``r`` (target <= 1.8), and the Pearson correlation between the HL and LL
   weights of the test fake showers (DCTRGAN Fig. 2). The cnn3d once more with
   ``mixed_precision=True`` (bfloat16, as on a GPU by default): the same figures show
   what training in bfloat16 costs in quality.

``--quick`` runs every step at a tenth of the size or less: its figures sit on the
statistical floor and are not checked against the targets. Stage timings go to
stderr. Torch runs on one thread: the figures here are about quality, which does not
depend on it, and on a shared 2-core machine a second intra-op thread makes these
small nets several times slower (the fit times in the table are single-threaded).

    python benchmarks/dctr_quality.py [--quick] [--json PATH]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import awkward as ak
import numpy as np
import torch
from _common import Row, parse_args, report

from dctrgan import report as comparison
from dctrgan.dctr import DCTR
from dctrgan.features import observables
from dctrgan.simulate import calorimeter

SEED = 20260101
BINS = 30


def stage(message: str, start: float) -> float:
    now = time.perf_counter()
    print(f"[{now - start:7.1f} s] {message}", file=sys.stderr, flush=True)
    return now


def log_normal(x: np.ndarray, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Log density of independent normals, summed over the last axis."""
    z = (x - mean) / sigma
    return np.asarray(np.sum(-0.5 * z**2 - np.log(sigma), axis=-1))


def analytic(n: int, mean: np.ndarray, sigma: np.ndarray, seed: int) -> float:
    """Median ``|log w - log w_true|`` over the central 90 % (in ``log w_true``) of a
    fresh fake sample, real ``N(0, 1)`` against fake ``N(mean, sigma)``."""
    rng = np.random.default_rng(seed)
    d = len(mean)
    real = rng.normal(0.0, 1.0, (n, d))
    fake = rng.normal(mean, sigma, (n, d))
    dctr = DCTR(progress=False, seed=seed).fit(real, fake)
    x = rng.normal(mean, sigma, (n, d))
    true = log_normal(x, np.zeros(d), np.ones(d)) - log_normal(x, mean, sigma)
    if d == 1:  # the central 90 % of the fake density
        lo, hi = np.quantile(x[:, 0], [0.05, 0.95])
        central = (x[:, 0] > lo) & (x[:, 0] < hi)
    else:
        lo, hi = np.quantile(true, [0.05, 0.95])
        central = (true > lo) & (true < hi)
    err = np.log(dctr.weight(x)) - true
    return float(np.median(np.abs(err[central])))


def fit_and_weight(
    dctr: DCTR, full: ak.Array, fast: ak.Array, test: ak.Array
) -> tuple[np.ndarray, float]:
    """Weights of ``test`` ``(N,)`` and the fit wall time in seconds."""
    start = time.perf_counter()
    dctr.fit(full, fast)
    seconds = time.perf_counter() - start
    return np.asarray(ak.to_numpy(dctr.weight(test)), dtype=np.float64), seconds


def medians(c: comparison.Comparison, group: str | None) -> tuple[float, float]:
    """Median ``<S^2>`` unweighted and weighted over a group (None: all observables)."""
    return c.median("s2_unweighted", group), c.median("s2_weighted", group)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0] if __doc__ else "dctr_quality")
    torch.set_num_threads(1)
    quick = args.quick
    n_analytic = 10_000 if quick else 200_000
    n_train, n_test = (10_000, 10_000) if quick else (100_000, 100_000)
    n_low = 3_000 if quick else 20_000
    start = time.perf_counter()
    rows: list[Row] = []
    figures: dict[str, Any] = {}

    def target(text: str, value: float, ok: Callable[[float], bool]) -> dict[str, Any]:
        """Target text and verdict; quick runs are not judged."""
        if quick:
            return {"target": f"({text} in the full run)"}
        return {"target": text, "ok": bool(ok(value))}

    # 1. analytic closure
    err_1d = analytic(n_analytic, np.array([0.3]), np.array([1.1]), SEED)
    err_2d = analytic(n_analytic, np.array([0.3, -0.2]), np.array([1.1, 0.9]), SEED + 1)
    figures["analytic_median_abs_logw_err"] = err_1d
    figures["analytic_median_abs_logw_err_2d"] = err_2d
    rows.append(
        Row(
            "analytic 1D: median |log w - log w_true|, central 90 %",
            err_1d,
            **target("<= 0.05", err_1d, lambda v: v <= 0.05),
        )
    )
    rows.append(Row("analytic 2D: median |log w - log w_true|, central 90 %", err_2d))
    t = stage(f"analytic closure ({n_analytic} events per class)", start)

    # 2. DCTR-HL on showers
    full_train = calorimeter(n_train, variant="full", seed=SEED + 10)
    fast_train = calorimeter(n_train, variant="fast", seed=SEED + 11)
    full_test = calorimeter(n_test, variant="full", seed=SEED + 12)
    fast_test = calorimeter(n_test, variant="fast", seed=SEED + 13)
    full_floor = calorimeter(n_test, variant="full", seed=SEED + 14)
    obs_full, obs_fast = observables(full_test), observables(fast_test)
    floor = comparison.compare(obs_full, observables(full_floor), np.ones(n_test), bins=BINS)
    del full_floor
    t = stage(f"simulated {2 * n_train} training, {3 * n_test} test showers", t)

    hl = DCTR(progress=False, seed=SEED)
    w_hl, fit_hl = fit_and_weight(hl, full_train, fast_train, fast_test)
    t = stage(f"DCTR-HL fit ({fit_hl:.1f} s, {len(hl.history['train_loss'])} epochs)", t)
    c = comparison.compare(obs_full, obs_fast, w_hl, bins=BINS)
    diag = hl.diagnostics(full_test, fast_test)
    t = stage("DCTR-HL diagnostics", t)

    for group, key, goal in (("input", "inputs", 5.0), ("held-out", "heldout", 2.0)):
        unweighted, weighted = medians(c, group)
        ratio = unweighted / weighted
        figures[f"s2_{key}_unweighted"] = unweighted
        figures[f"s2_{key}_weighted"] = weighted
        figures[f"s2_{key}_floor"] = floor.median("s2_unweighted", group)
        figures[f"s2_ratio_{key}"] = ratio
        label = "33 inputs" if key == "inputs" else "held-out observables"
        rows.append(Row(f"HL: median S2 {label}, unweighted", unweighted))
        rows.append(Row(f"HL: median S2 {label}, weighted", weighted))
        rows.append(Row(f"HL: median S2 {label}, floor (full vs full)", figures[f"s2_{key}_floor"]))
        rows.append(
            Row(
                f"HL: S2 reduction, {label}",
                ratio,
                "x",
                baseline=unweighted,
                **target(f">= {goal:g}", ratio, lambda v, g=goal: v >= g),
            )
        )
    figures["s2_floor_weighted_first_order"] = c.floor_weighted
    rows.append(
        Row("HL: S2 floor of the weighted sample, (B-1)/4 (1/N + 1/n_eff)", c.floor_weighted)
    )
    median_r = c.median("r_weighted")
    figures["median_r"] = median_r
    figures["closure_auc"] = diag["closure_auc"]
    figures["auc"] = diag["auc"]
    figures["neff_fraction"] = diag["neff_fraction"]
    figures["max_weight"] = diag["max_weight"]
    figures["fit_seconds_hl"] = fit_hl
    rows.append(
        Row(
            "HL: median r, all observables",
            median_r,
            **target("<= 2.5", median_r, lambda v: v <= 2.5),
        )
    )
    rows.append(
        Row(
            "HL: closure AUC (real vs weighted fake)",
            diag["closure_auc"],
            **target("<= 0.52", diag["closure_auc"], lambda v: v <= 0.52),
        )
    )
    rows.append(Row("HL: classifier AUC (real vs fake)", diag["auc"]))
    rows.append(Row("HL: n_eff / N of the weighted fake", diag["neff_fraction"]))
    rows.append(Row("HL: max weight", diag["max_weight"]))
    rows.append(Row(f"HL: fit time ({n_train} per class)", fit_hl, "s"))

    # 3. low level
    full_low, fast_low = full_train[:n_low], fast_train[:n_low]
    del full_train, fast_train
    figures["low_level_train_events_per_class"] = n_low
    for name, model, mixed in (
        ("deepsets", "deepsets", False),
        ("cnn3d", "cnn3d", False),
        ("cnn3d_bf16", "cnn3d", True),
    ):
        dctr = DCTR(model=model, progress=False, seed=SEED, mixed_precision=mixed)  # type: ignore[arg-type]
        w, seconds = fit_and_weight(dctr, full_low, fast_low, fast_test)
        t = stage(f"DCTR {name} fit ({seconds:.1f} s) and weights", t)
        c_low = comparison.compare(obs_full, obs_fast, w, bins=BINS)
        unweighted, weighted = medians(c_low, None)
        ratio = unweighted / weighted
        r_low = c_low.median("r_weighted")
        rho = float(np.corrcoef(w_hl, w)[0, 1])
        figures[f"s2_ratio_{name}"] = ratio
        figures[f"median_r_{name}"] = r_low
        figures[f"pearson_hl_{name}"] = rho
        figures[f"fit_seconds_{name}"] = seconds
        figures[f"config_{name}"] = dctr.config
        rows.append(
            Row(
                f"{name}: S2 reduction, all observables",
                ratio,
                "x",
                baseline=unweighted,
                **target(">= 2", ratio, lambda v: v >= 2.0),
            )
        )
        rows.append(
            Row(
                f"{name}: median r, all observables",
                r_low,
                **target("<= 1.8", r_low, lambda v: v <= 1.8),
            )
        )
        rows.append(Row(f"{name}: Pearson rho of HL and LL weights", rho))
        rows.append(Row(f"{name}: fit time ({n_low} per class)", seconds, "s"))
    stage("done", start)
    report(
        "dctr_quality",
        rows,
        args,
        **figures,
        sizes={
            "analytic_per_class": n_analytic,
            "train_per_class": n_train,
            "test_per_class": n_test,
            "low_level_train_per_class": n_low,
            "bins": BINS,
        },
        torch_threads=torch.get_num_threads(),
        seconds=time.perf_counter() - start,
    )


if __name__ == "__main__":
    main()
