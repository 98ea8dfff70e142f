"""The whole DCTRGAN chain on calorimeter showers: a generator, then DCTR weights.

1. A generator is trained on 50 GeV photon showers of
   ``dctrgan.simulate.calorimeter(variant="full")``, one of (``--generator``):

   * ``showers`` (the default): ``dctrgan.ShowerGAN`` at its defaults -- the layer
     profile (energies, active cells, centroid) from a points WGAN on a fitted
     Gaussian mixture, then each layer's cells from two conditional hit WGANs;
   * ``voxels``: ``dctrgan.WGAN((30, 30, 30))``, a CPU-sized 3D WGAN: ``width=4``
     (maps 4, 8, 16 of the 3D convolutions), batch 16, Adam lr 5e-4 (the family's
     1e-4 is too slow for a few hundred updates), the family's other defaults
     (latent 64, n_critic 5, lambda 10, betas (0.5, 0.9)).
2. ``sample_events`` gives showers in the package schema (hits above the 0.1 MeV
   threshold), and DCTR-HL (the 33 high-level features) is
   fitted on fresh full showers against GAN showers, twice:

   * ``DCTR(epochs=1, calibrate=None, clip=5)``: one epoch, weights clipped at 5 --
     the DCTRGAN recipe for its low-level classifier, whose longer training learns
     the generator's artifacts;
   * ``DCTR()`` with its defaults (up to 50 epochs, the closure temperature, the
     ``sqrt(N)`` clip). The 3D WGAN at this size is far from the showers: a fully
     trained classifier separates the two samples almost perfectly, and the
     temperature of its validation loss is the sharpest allowed (1/20): its weights
     put the sample on a handful of events, worse than none (the defaults before
     the guards). The closure temperature softens them until the weighted
     validation events are closest to the real ones;
   * each guard alone (the loss temperature with the clip, the closure temperature
     without it) and neither, to measure what each does.
3. A fresh GAN sample is weighted and compared with held-out full showers by
   ``dctrgan.report.compare`` (30 bins between the 0.1 and 99.9 percentiles of both
   samples): the median ``<S^2>`` over the 33 high-level features (the DCTR inputs)
   and over the held-out observables (layer differences, second moments,
   centroids), unweighted and weighted, beside the floor of two independent full
   samples of the test size. Beside ``n_eff / N`` stands the most that exact weights
   could keep (:func:`dctrgan.stats.neff_bound` of the 33 features and a reweighter's
   log-weight on the test samples, the smallest over the reweighters). Targets: the
   GAN's median over the 33 features ``<= 0.10``; the weighted GAN closer than the
   unweighted one (median over the 33 features, the one-epoch reweighter and the
   defaults; the held-out observables with the defaults), the defaults' ``n_eff / N
   >= 0.1`` and ``>= 0.7 x`` the bound, without a collapse warning; the defaults'
   reduction of the 33 features' median is reported beside the floor.
4. Two figures frame that reduction: the GAN's median over the floor, the most any
   weights could cut it; and a null test, DCTR at its defaults fitted between two
   independent full samples and its weights applied to a third (weights that learnt
   noise would lift the median above the floor and lower ``n_eff / N``).

Sizes (full run, about ten minutes on one core): 4,000 training showers; the
ShowerGAN at its defaults (2,000 profile updates, 3,000 updates of each hit
WGAN on at most 10^6 hits), the 3D WGAN 600 generator updates (3,000 critic updates
of 16, twelve epochs); 10,000 showers per class for DCTR and for the test.
``--quick``: 1,000 training showers, 40 updates of each WGAN, 2,000 per class; not
checked against the targets. Torch runs on one thread: on a busy 2-core machine a
second intra-op thread makes the 3D convolutions several times slower.

``--per-class N`` sets the showers per class (DCTR, test, floor): with more, the floor
drops below what the ShowerGAN gets wrong (``docs/performance.md``), and the chain
outgrows its ten minutes.

    python benchmarks/calo_gan.py [--quick] [--generator showers|voxels] [--per-class N]
                                  [--json PATH]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from typing import Any

import awkward as ak
import numpy as np
from _common import Row, parse_args, report

from dctrgan import DCTR, WGAN, ShowerGAN, features
from dctrgan import report as comparison
from dctrgan.features import voxelize
from dctrgan.simulate import calorimeter
from dctrgan.stats import neff_bound
from dctrgan.training import threads

SEED = 20260101
BINS = 30
#: The CPU-sized 3D WGAN (``--generator voxels``).
GAN = {"width": 4, "batch_size": 16, "lr": 5e-4}
#: Generator updates of the full run: the 3D WGAN's, and the ShowerGAN's defaults.
STEPS = {"voxels": 600, "showers": None}
#: Showers generated at once (about 110 MB of voxels per 1,000).
CHUNK = 2_000
#: The two reweighters: name -> DCTR arguments.
REWEIGHTERS: dict[str, dict[str, Any]] = {
    "one epoch, clip 5": {"epochs": 1, "calibrate": None, "clip": 5.0},
    "defaults": {},
    "loss temperature, no clip": {"calibrate": "temperature", "clip": None},
    "loss temperature, sqrt(N) clip": {"calibrate": "temperature"},
    "closure temperature, no clip": {"clip": None},
}
#: The reweighters whose weighted GAN must be closer to the showers than the GAN.
JUDGED = ("one epoch, clip 5", "defaults")
#: The observables of each group (33 features, held-out) the GAN gets most wrong whose
#: S2 with DCTR's defaults is shown.
WORST = 3
#: What DCTR's warnings of collapsed weights say.
COLLAPSE = "a few events carry the weight"


def stage(message: str, start: float) -> float:
    now = time.perf_counter()
    print(f"[{now - start:7.1f} s] {message}", file=sys.stderr, flush=True)
    return now


def sample(wgan: WGAN | ShowerGAN, n: int, seed: int) -> ak.Array:
    """``n`` GAN showers of 50 GeV, generated in chunks of :data:`CHUNK` (bounded memory)."""
    chunks = [
        wgan.sample_events(min(CHUNK, n - i), seed=seed + i, energy=50.0)
        for i in range(0, n, CHUNK)
    ]
    return ak.concatenate(chunks)


def defaults_rows(
    rows: list[Row],
    c: comparison.Comparison,
    figures: dict[str, Any],
    n: int,
    collapses: int,
    quick: bool,
) -> None:
    """The targets of DCTR's defaults: the reduction of the 33 features' median ``S2``
    (and of its excess over the floor), ``n_eff / N`` and no collapse warning."""
    unweighted = c.median("s2_unweighted", "input")
    weighted = c.median("s2_weighted", "input")
    floor = figures["s2_high_level_floor"]
    reduction = figures["defaults_reduction_high_level"] = unweighted / weighted
    excess = figures["defaults_excess_reduction_high_level"] = (
        (unweighted - floor) / (weighted - floor) if weighted > floor else math.inf
    )
    neff = c.neff_model / n
    checks = (
        ("DCTR-HL defaults: reduction of the 33 features' median S2", reduction, ">= 2"),
        ("DCTR-HL defaults: n_eff / N", neff, ">= 0.1"),
        ("DCTR-HL defaults: collapse warnings", float(collapses), "== 0"),
    )
    ok = (reduction >= 2.0, neff >= 0.1, collapses == 0)
    for (figure, value, target), good in zip(checks, ok, strict=True):
        judged = (
            {"target": f"({target} in the full run)"} if quick else {"target": target, "ok": good}
        )
        rows.append(Row(figure, value, **judged))
    rows.append(Row("DCTR-HL defaults: reduction of the median's excess over the floor", excess))
    for group in ("input", "held-out"):
        entries = [e for e in c.entries if e.group == group]
        for e in sorted(entries, key=lambda e: e.s2_unweighted, reverse=True)[:WORST]:
            figures[f"defaults_s2_{e.observable}"] = [e.s2_unweighted, e.s2_weighted]
            rows.append(
                Row(
                    f"  {e.observable} ({group}; among the GAN's worst), weighted",
                    e.s2_weighted,
                    baseline=e.s2_unweighted,
                    ratio=e.s2_weighted / e.s2_unweighted,
                )
            )


def null_rows(
    rows: list[Row],
    figures: dict[str, Any],
    real_train: ak.Array,
    real_floor: ak.Array,
    real_test: ak.Array,
    n: int,
) -> None:
    """The null test and the cap. DCTR at its defaults fitted between two independent
    full samples (nothing to correct), its weights on a third full sample, compared with
    the test showers: weights that only add noise would raise the median above the
    floor. And the GAN's median over the floor: the most any weights could cut it."""
    real_null = calorimeter(n, variant="full", seed=SEED + 7)
    dctr = DCTR(progress=False, seed=SEED, **REWEIGHTERS["defaults"]).fit(real_train, real_floor)
    null = comparison.compare(real_test, real_null, dctr.weight(real_null), bins=BINS)
    unweighted = null.median("s2_unweighted", "input")
    weighted = figures["null_s2_high_level_weighted"] = null.median("s2_weighted", "input")
    neff = figures["null_neff_fraction"] = null.neff_model / n
    cap = figures["gan_over_floor_high_level"] = (
        figures["s2_high_level_unweighted"] / figures["s2_high_level_floor"]
    )
    rows += [
        Row(
            "null: median S2 33 features, full vs full weighted by DCTR-HL defaults "
            "fitted on two other full samples",
            weighted,
            baseline=unweighted,
            ratio=weighted / unweighted,
        ),
        Row("null: DCTR-HL defaults' n_eff / N", neff),
        Row("median S2 33 features, GAN over the floor (the most any weights could cut)", cap),
    ]


def train(generator: str, quick: bool, n_gan: int) -> tuple[WGAN | ShowerGAN, int | None]:
    """The trained generator and its number of updates (``None``: the ShowerGAN's
    defaults)."""
    showers = calorimeter(n_gan, variant="full", seed=SEED + 1)
    steps = 40 if quick else STEPS[generator]
    with threads(1):
        if generator == "showers":
            quick_steps = {} if steps is None else {"profile_steps": steps, "hit_steps": steps}
            return ShowerGAN(seed=SEED, progress=False, **quick_steps).fit(showers), steps
        voxels = voxelize(showers)
        del showers
        return WGAN((30, 30, 30), seed=SEED, progress=False, **GAN).fit(voxels, steps=steps), steps


def arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's own options: the generator and the showers per class."""
    parser.add_argument(
        "--generator",
        choices=("showers", "voxels"),
        default="showers",
        help="ShowerGAN (default) or the 3D WGAN",
    )
    parser.add_argument(
        "--per-class",
        type=int,
        default=None,
        metavar="N",
        help="showers per class for DCTR, for the test and for the floor "
        "(default 10,000; --quick 2,000)",
    )


def main() -> None:
    args = parse_args(__doc__.splitlines()[0] if __doc__ else "calo_gan", extra=arguments)
    quick = args.quick
    n_gan, n = (1_000, 2_000) if quick else (4_000, 10_000)
    n = args.per_class or n
    start = time.perf_counter()
    rows: list[Row] = []
    figures: dict[str, Any] = {"generator": args.generator}

    t = stage(f"training the {args.generator} generator on {n_gan} showers", start)
    wgan, steps = train(args.generator, quick, n_gan)
    fit_gan = time.perf_counter() - t
    t = stage(f"generator fit ({fit_gan:.1f} s)", t)

    real_train = calorimeter(n, variant="full", seed=SEED + 2)
    real_test = calorimeter(n, variant="full", seed=SEED + 3)
    real_floor = calorimeter(n, variant="full", seed=SEED + 4)
    with threads(1):
        gan_train = sample(wgan, n, SEED + 5)
        gan_test = sample(wgan, n, SEED + 6)
    floor = comparison.compare(real_test, real_floor, np.ones(n), bins=BINS)
    t = stage(f"simulated 3 x {n} full showers, sampled 2 x {n} GAN showers", t)

    for group, key, label in (
        ("input", "high_level", "33 high-level features"),
        ("held-out", "heldout", "held-out observables"),
    ):
        figures[f"s2_{key}_floor"] = floor.median("s2_unweighted", group)
        rows.append(Row(f"median S2 {label}, floor (full vs full)", figures[f"s2_{key}_floor"]))

    bounds, neffs, collapses = [], {}, {}
    for name, options in REWEIGHTERS.items():
        # the collapse warnings (the unguarded fits' low validation n_eff) are counted
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            dctr = DCTR(progress=False, seed=SEED, **options).fit(real_train, gan_train)
            fit_dctr = time.perf_counter() - t
            w = np.asarray(dctr.weight(gan_test), dtype=np.float64)
            bounds.append(dctr.diagnostics(real_test, gan_test)["neff_bound"])
        collapses[name] = sum(COLLAPSE in str(warning.message) for warning in caught)
        c = comparison.compare(real_test, gan_test, w, bins=BINS)
        t = stage(f"DCTR-HL {name} ({fit_dctr:.1f} s, {len(dctr.history['train_loss'])} epochs)", t)
        main_one = name == next(iter(REWEIGHTERS))
        prefix = "" if main_one else name.replace(" ", "_").replace(",", "") + "_"
        for group, key, label in (
            ("input", "high_level", "33 high-level features"),
            ("held-out", "heldout", "held-out observables"),
        ):
            unweighted = c.median("s2_unweighted", group)
            weighted = c.median("s2_weighted", group)
            figures[f"s2_{key}_unweighted"] = unweighted
            figures[f"{prefix}s2_{key}_weighted"] = weighted
            judged: dict[str, Any] = {}
            if name in JUDGED and (key == "high_level" or name == "defaults"):
                judged = (
                    {"target": "(< GAN in the full run)"}
                    if quick
                    else {"target": "< GAN", "ok": weighted < unweighted}
                )
            if main_one:
                gan_target: dict[str, Any] = {}
                if key == "high_level":
                    gan_target = (
                        {"target": "(<= 0.10 in the full run)"}
                        if quick
                        else {"target": "<= 0.10", "ok": unweighted <= 0.10}
                    )
                rows.append(Row(f"median S2 {label}, GAN", unweighted, **gan_target))
            rows.append(
                Row(
                    f"median S2 {label}, GAN + DCTR-HL {name}",
                    weighted,
                    baseline=unweighted,
                    ratio=weighted / unweighted,
                    **judged,
                )
            )
        neffs[name] = figures[f"{prefix}neff_fraction"] = c.neff_model / n
        figures[f"{prefix}max_weight"] = float(w.max())
        figures[f"{prefix}fit_seconds_dctr"] = fit_dctr
        figures[f"{prefix}collapse_warnings"] = collapses[name]
        if name == "defaults":
            defaults_rows(rows, c, figures, n, collapses[name], quick)
        else:
            rows.append(Row(f"DCTR-HL {name}: n_eff / N", c.neff_model / n))
        rows.append(
            Row(f"DCTR-HL {name}: S2 floor of the weighted sample (first order)", c.floor_weighted)
        )
        rows.append(Row(f"DCTR-HL {name}: max weight", float(w.max())))
        rows.append(Row(f"DCTR-HL {name}: fit ({n} per class)", fit_dctr, "s"))
    bound = figures["neff_bound"] = min(bounds)
    rows.append(Row("n_eff / N bound of exact weights (smallest over the reweighters)", bound))
    marginals = figures["neff_bound_marginals"] = neff_bound(
        features.high_level(real_test), features.high_level(gan_test)
    )
    rows.append(Row("n_eff / N bound of weights exact in each of the 33 features", marginals))
    for name, of in (("the bound", bound), ("the marginals' bound", marginals)):
        ratio = neffs["defaults"] / of if of > 0 else math.inf
        target: dict[str, Any] = {"target": "(>= 0.7 in the full run)"}
        if not quick:
            target = {"target": ">= 0.7", "ok": ratio >= 0.7}
        rows.append(Row(f"DCTR-HL defaults: n_eff / N over {name}", ratio, **target))
    rows.append(Row(f"{type(wgan).__name__} fit ({n_gan} showers)", fit_gan, "s"))
    if steps is not None and args.generator == "voxels":
        rows.append(Row("WGAN fit per generator update", fit_gan / steps, "s"))
    seconds = time.perf_counter() - start
    budget: dict[str, Any] = {"target": "(<= 600 in the full run)"}
    if not quick:
        budget = {"target": "<= 600", "ok": seconds <= 600}
    rows.append(Row("the whole chain (generator, samples, five DCTR fits)", seconds, "s", **budget))
    null_rows(rows, figures, real_train, real_floor, real_test, n)
    stage("done", start)
    report(
        "calo_gan",
        rows,
        args,
        **figures,
        sizes={"gan_train": n_gan, "steps": steps, "per_class": n, "bins": BINS},
        config=wgan.config,
        fit_seconds_gan=fit_gan,
        seconds=seconds,
    )


if __name__ == "__main__":
    main()
