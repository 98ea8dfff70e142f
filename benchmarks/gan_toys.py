"""DCTRGAN Fig. 1: GANs of the Gaussian toys, reweighted by DCTR, scored on the exact pdf.

For each toy of ``dctrgan.simulate.gaussians`` (1D bimodal, 2D circle, 2D 5 x 5 grid):

1. train ``dctrgan.WGAN`` at its defaults for points (a Gaussian mixture of the data,
   its number of components by BIC, that a 2 x 64 generator corrects; ``--preset paper``:
   the paper's toy networks, generator 2 x 15, critic 2 x 25, the paper's latent 5, 8
   and 25) on 100k truth points (``benchmarks/gan_coverage.py`` compares the presets);
2. fit ``DCTR`` on 1M fresh truth points per class against GAN points, with the
   paper's reweighters: hidden layers 3 x 20 (1D) and 64-128-256 (2D), up to 100
   epochs (early stopping on the validation loss), batches of 1024 (the paper's 128
   would take eight times the updates per epoch; the other arguments DCTR's defaults);
3. score a fresh GAN sample, unweighted and DCTR-weighted, against the *exact* pdf:
   ``<S^2>`` (``dctrgan.stats.separation_power``) between the sample's histogram and
   the pdf's integral over each bin of a fine grid (bins of 0.1 in 1D, a quarter of
   the modes' width; 0.05 in 2D, half of it; each integral by 4-point Gauss-Legendre
   per axis), and each mode's mass: the points are assigned to their nearest mode
   and the truth's mass per mode is the pdf integrated over the same regions (the
   same quadrature). The mode error is ``|mass - truth| / truth``, its worst over
   the modes is reported.

A fourth toy is a generator that leaves holes: four modes of unequal mass (0.5, 0.25,
0.15, 0.1; widths 0.3, 0.3, 0.2, 0.4), the paper's toy ``WGAN`` (``preset="paper"``)
after 3000 steps, DCTR at its defaults
(``(128, 128)``, up to 50 epochs). How well that GAN covers the modes depends on its
seed: over six seeds the bound of exact weights on ``n_eff / N`` ranged from 0.03 to
0.21 (with 0.9-7.7 % of the truth's mass where the GAN has no point). The benchmark
trains the one of seed 11, the worst (bound 0.03): the case where the weights must
fail gracefully. Its DCTR is fitted four ways, to measure each guard of the defaults:
the temperature of the validation loss alone and no clip (the defaults before the
guards), with the ``sqrt(N)`` clip, with the closure temperature, and with both (the
defaults).

Targets (full run): weighting cuts ``<S^2>`` by >= 3x on the three paper toys, every
mode's mass within 20 % of the truth after weighting, ``n_eff / N >= 0.3``; on every
toy, ``n_eff / N >= 0.7 x`` the bound of exact weights and ``<S^2>`` after weighting no
worse than before. Beside the mode errors stands that of the exact weights of the
histogram (``p_T / p_G`` per bin), the best a reweighting of this GAN can do where it
leaves holes. Beside each ``<S^2>``
stands its statistical floor, measured: the ``<S^2>`` of a truth sample of the same
size against the pdf (and of a truth sample of ``n_eff`` points, the floor of the
weighted sample). Beside ``n_eff / N`` stands the most that *exact* weights
``p_T / p_G`` could give for this GAN: by Cauchy-Schwarz in every bin,
``N / n_eff = E_G[w^2] / E_G[w]^2 >= sum_b P_T(b)^2 / P_G(b) / (1 - holes)^2``, with
``P_T`` the pdf's bin integrals, ``P_G`` the GAN sample's bin fractions and ``holes``
the pdf's mass in bins the GAN leaves empty (no weight can fill them; reported too).
A reweighting that reproduced the truth exactly where the GAN has points could not
have a larger ``n_eff``.

The generators are trained for 2000, 1000, 2000 and 3000 steps. With one generator
for all the points (the paper's 2 x 15 nets, and also 2 x 64, 2 x 128 or 3 x 128 nets,
lambda 1 or 10, batch 512, n_critic 10, the vanilla GAN, a mixture code in the noise,
the generator average, Fourier features in the critic, learning rates 1e-4 to 1e-3, or
the non-saturating GAN with an R1 penalty, at 500 to 10,000 steps) the 5 x 5 grid's
GAN lays its points along the square's edges and spreads the rest over the square
between the modes: no reweighting of it reaches ``n_eff / N = 0.3`` (bound 0.14-0.19).
The defaults cover every mode with its mass; the GAN alone is then within a few times
the statistical floor, and what DCTR removes is that remainder
(``docs/performance.md``).

The sizes are what lets a reduction be measured at all. The GANs at their defaults
are closer to the pdf than their own 100k training points are (the grid's GAN has
``<S^2>`` 0.006 against 2M points; a 100k truth sample has 0.011), so a classifier
trained on samples of that size cannot resolve what is left: DCTR on 100k per class
cut the grid's ``<S^2>`` by 1.1x, on 400k by 1.4x (batches of 128) to 2.5x (1024), on
1M by 3.1x (1.9x with every seed changed: the grid is the marginal toy). And no
weighting brings a sample below the floor of the scored points: scored on 500k points
the grid's GAN was 2.9x its floor, so a 3x reduction could not be shown there; on 2M
points it is 7.4x. The reweighting thus gets ten times the GAN's truth points: what
it measures is whether DCTR removes the GAN's defects where the data resolve them.
The fourth toy keeps 100k per class and DCTR's batch of 128 (its guards are about
weights that collapse, not about resolution).

``--quick`` trains the same GANs for a quarter of the steps, fits DCTR on 20k points
per class (batches of 128) for at most 20 epochs, the fourth toy's at its defaults
only, and scores 100k points; its figures are not checked against the targets.
Stage timings go to stderr. Both models train on one thread (their own choice on CPU).

    python benchmarks/gan_toys.py [--quick] [--json PATH] [--preset default|paper|clusters]
"""

from __future__ import annotations

import dataclasses
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from _common import Row, parse_args, report

from dctrgan import DCTR, WGAN
from dctrgan.simulate import GaussianMixture, bimodal_1d, circle_2d, grid_2d
from dctrgan.stats import effective_entries, separation_power

SEED = 20260101
#: Gauss-Legendre nodes per bin and axis of the pdf's bin integrals.
NODES = 4
#: Truth points the GANs are trained on.
N_GAN_TRAIN = 100_000


@dataclasses.dataclass(frozen=True)
class Sizes:
    """DCTR's truth (and GAN) points per class, the points scored, DCTR's most epochs
    and its batch size, and whether the toy with ``guards`` fits each guard on and off."""

    dctr: int
    score: int
    epochs: int
    batch_size: int
    guards: bool


#: The full run (DCTRGAN sec. III A: 100 epochs; early stopping ends most sooner).
FULL = Sizes(dctr=1_000_000, score=2_000_000, epochs=100, batch_size=1024, guards=True)
QUICK = Sizes(dctr=20_000, score=100_000, epochs=20, batch_size=128, guards=False)
#: The fourth toy's DCTR: at most this many points per class, DCTR's default batch.
GUARDED = {"dctr": 100_000, "batch_size": 128}


@dataclasses.dataclass(frozen=True)
class Toy:
    """A toy, its GAN (the paper's latent size, steps), its scoring grid (``bins`` of
    ``[low, high]`` per axis) and the hidden layers of its reweighter."""

    name: str
    mixture: GaussianMixture
    latent: int
    steps: int
    low: float
    high: float
    bins: int
    hidden: tuple[int, ...] | None = None
    #: DCTR's ``epochs`` (``None``: the run's).
    epochs: int | None = None
    #: fit DCTR with each guard on and off, beside the defaults, at the sizes of
    #: :data:`GUARDED`
    guards: bool = False
    #: the WGAN's seed (``None``: the toy's seed in the benchmark)
    gan_seed: int | None = None
    #: the WGAN's preset (``"paper"``: the toys' 2 x 15 generator)
    preset: Literal["default", "paper", "clusters"] = "default"

    def edges(self) -> list[np.ndarray]:
        """Bin edges of every axis."""
        return [np.linspace(self.low, self.high, self.bins + 1)] * self.mixture.dim


TOYS = (
    Toy("bimodal_1d", bimodal_1d, 5, 2000, low=-3.0, high=3.0, bins=60, hidden=(20, 20, 20)),
    Toy("circle_2d", circle_2d, 8, 1000, low=-1.5, high=1.5, bins=60, hidden=(64, 128, 256)),
    Toy("grid_2d", grid_2d, 25, 2000, low=0.6, high=5.6, bins=100, hidden=(64, 128, 256)),
    Toy(
        "holes_2d",
        GaussianMixture(
            means=[[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5], [0.0, -2.5]],
            sigmas=[0.3, 0.3, 0.2, 0.4],
            weights=[0.5, 0.25, 0.15, 0.1],
        ),
        8,
        3000,
        low=-4.0,
        high=4.0,
        bins=80,
        epochs=50,
        guards=True,
        gan_seed=11,
        preset="paper",
    ),
)
#: The DCTR variants of a toy with ``guards``: name -> arguments besides the defaults.
GUARDS: dict[str, dict[str, Any]] = {
    "loss temperature, no clip": {"calibrate": "temperature", "clip": None},
    "loss temperature, sqrt(N) clip": {"calibrate": "temperature"},
    "closure temperature, no clip": {"clip": None},
}


def stage(message: str, start: float) -> float:
    now = time.perf_counter()
    print(f"[{now - start:7.1f} s] {message}", file=sys.stderr, flush=True)
    return now


def truth_integrals(toy: Toy) -> tuple[np.ndarray, np.ndarray]:
    """The pdf integrated over every bin, and over the region of every mode.

    Gauss-Legendre quadrature with :data:`NODES` nodes per bin and axis; a node
    counts for the mode it is nearest to (``GaussianMixture.assign``).

    Returns:
        ``(bins,) * d`` bin integrals and ``(K,)`` mode masses, both normalized to
        unit sum over the grid (the pdf's mass outside it is below 1e-6).
    """
    d = toy.mixture.dim
    t, u = np.polynomial.legendre.leggauss(NODES)
    edges = toy.edges()[0]
    centre, half = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
    nodes = (centre[:, None] + half[:, None] * t).ravel()  # (bins * NODES,)
    weights = (half[:, None] * u).ravel()
    axes = np.meshgrid(*[nodes] * d, indexing="ij")
    points = np.stack([a.ravel() for a in axes], axis=-1)
    volume = np.ones(1)
    for _ in range(d):
        volume = np.multiply.outer(volume, weights)
    mass = toy.mixture.pdf(points) * volume.ravel()
    per_bin = mass.reshape([toy.bins, NODES] * d).sum(axis=tuple(range(1, 2 * d, 2)))
    per_mode = np.bincount(toy.mixture.assign(points), weights=mass, minlength=toy.mixture.n_modes)
    total = per_bin.sum()
    return per_bin / total, per_mode / total


def histogram(toy: Toy, x: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """``(bins,) * d`` (weighted) counts of points ``x`` ``(N, d)`` on the scoring grid."""
    counts, _ = np.histogramdd(x, bins=toy.edges(), weights=w)
    return np.asarray(counts)


def mode_error(toy: Toy, x: np.ndarray, truth: np.ndarray, w: np.ndarray | None = None) -> float:
    """Worst ``|mass - truth| / truth`` over the modes, points assigned to the nearest mode."""
    masses = np.bincount(toy.mixture.assign(x), weights=w, minlength=toy.mixture.n_modes)
    masses = masses / masses.sum()
    return float(np.max(np.abs(masses - truth) / truth))


def neff_bound(p_truth: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """The largest ``n_eff / N`` of exact weights, and the truth's mass where the GAN has none.

    Weights ``w`` that reproduce the truth in the bins the GAN sample reaches have
    ``E_G[w] = 1 - holes`` and ``E_G[w^2] >= sum_b P_T(b)^2 / P_G(b)`` over those bins
    (Cauchy-Schwarz per bin), so ``n_eff / N = E_G[w]^2 / E_G[w^2]`` is at most
    ``(1 - holes)^2 / sum_b P_T(b)^2 / P_G(b)``; 0 where no reached bin has truth mass.
    """
    reached = counts > 0
    holes = float(p_truth[~reached].sum())
    p_gan = counts[reached] / counts.sum()
    second_moment = float(np.sum(p_truth[reached] ** 2 / p_gan))
    if second_moment == 0:  # no GAN point where the truth has mass: no weights help
        return 0.0, holes
    return (1.0 - holes) ** 2 / second_moment, holes


def exact_weights(toy: Toy, x: np.ndarray, p_truth: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``P_T(b) / P_G(b)`` of each point's bin (0 where the GAN sample has no point)."""
    cell = tuple(
        np.clip(np.searchsorted(edges, x[:, j], side="right") - 1, 0, toy.bins - 1)
        for j, edges in enumerate(toy.edges())
    )
    p_gan = counts / counts.sum()
    return np.divide(p_truth, p_gan, out=np.zeros_like(p_truth), where=p_gan > 0)[cell]


def scored(
    toy: Toy, x: np.ndarray, w: np.ndarray, p_truth: np.ndarray, mode_truth: np.ndarray
) -> dict[str, float]:
    """``<S^2>`` against the pdf, worst mode error and ``n_eff / N`` of weights ``w``."""
    return {
        "s2_weighted": separation_power(histogram(toy, x, w), p_truth),
        "worst_mode_error_weighted": mode_error(toy, x, mode_truth, w),
        "neff_fraction": effective_entries(w) / len(w),
        "max_weight": float(np.max(w)),
    }


def run_toy(
    toy: Toy,
    steps: int,
    sizes: Sizes,
    seed: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Train the GAN for ``steps``, reweight and score one toy; the figures as a dict."""
    mixture = toy.mixture
    p_truth, mode_truth = truth_integrals(toy)
    start = time.perf_counter()
    gan_seed = seed if toy.gan_seed is None else toy.gan_seed
    latent = toy.latent if toy.preset == "paper" else None
    wgan = WGAN((mixture.dim,), latent=latent, seed=gan_seed, preset=toy.preset, progress=False)
    wgan.fit(mixture.sample(N_GAN_TRAIN, seed=gan_seed + 1), steps=steps)
    gan_seconds = time.perf_counter() - start
    log(f"{toy.name}: WGAN, {steps} steps ({gan_seconds:.1f} s)")

    if toy.guards:
        sizes = dataclasses.replace(
            sizes, dctr=min(sizes.dctr, GUARDED["dctr"]), batch_size=GUARDED["batch_size"]
        )
    n_score = sizes.score
    real = mixture.sample(sizes.dctr, seed=seed + 2)
    fake = wgan.sample(sizes.dctr, seed=seed + 3).astype(np.float64)
    x = wgan.sample(n_score, seed=seed + 5).astype(np.float64)
    n_epochs = sizes.epochs if toy.epochs is None else min(toy.epochs, sizes.epochs)
    guards: dict[str, dict[str, float]] = {}
    variants = GUARDS if toy.guards and sizes.guards else {}
    for name, options in ({"defaults": {}} | variants).items():
        start = time.perf_counter()
        with warnings.catch_warnings():  # the low validation n_eff of the unguarded fits
            warnings.simplefilter("ignore", RuntimeWarning)
            dctr = DCTR(
                hidden=toy.hidden,
                epochs=n_epochs,
                batch_size=sizes.batch_size,
                progress=False,
                seed=seed + 4,
                **options,
            ).fit(real, fake)
            w = dctr.weight(x)
        dctr_seconds = time.perf_counter() - start
        n_trained = len(dctr.history["train_loss"])
        log(f"{toy.name}: DCTR {name}, {n_trained} epochs ({dctr_seconds:.1f} s)")
        guards[name] = scored(toy, x, w, p_truth, mode_truth) | {"seconds": dctr_seconds}
    f = guards.pop("defaults")
    counts = histogram(toy, x)
    s2_gan = separation_power(counts, p_truth)
    reference = mixture.sample(n_score, seed=seed + 6)
    floor = separation_power(histogram(toy, reference), p_truth)
    neff = f["neff_fraction"] * n_score
    floor_neff = separation_power(histogram(toy, reference[: round(neff)]), p_truth)
    bound, holes = neff_bound(p_truth, counts)
    exact = exact_weights(toy, x, p_truth, counts)
    return {
        "s2_gan": s2_gan,
        "s2_weighted": f["s2_weighted"],
        "s2_reduction": s2_gan / f["s2_weighted"],
        "s2_floor": floor,
        "s2_floor_neff": floor_neff,
        "s2_largest_reduction": s2_gan / floor,
        "worst_mode_error_gan": mode_error(toy, x, mode_truth),
        "worst_mode_error_weighted": f["worst_mode_error_weighted"],
        "worst_mode_error_exact_weights": mode_error(toy, x, mode_truth, exact),
        "neff_fraction": f["neff_fraction"],
        "neff_fraction_exact_bound": bound,
        "neff_to_bound": f["neff_fraction"] / bound,
        "truth_mass_in_empty_bins": holes,
        "max_weight": f["max_weight"],
        "guards": guards,
        "gan_steps": steps,
        "gan_seconds": gan_seconds,
        "dctr_seconds": f["seconds"],
        "dctr_per_class": sizes.dctr,
        "dctr_batch_size": sizes.batch_size,
        "bins": toy.bins**mixture.dim,
    }


def main() -> None:
    args = parse_args(
        __doc__.splitlines()[0] if __doc__ else "gan_toys",
        extra=lambda parser: parser.add_argument(
            "--preset",
            choices=("default", "paper", "clusters"),
            default="default",
            help="the WGAN preset of the three paper toys (default: the defaults)",
        ),
    )
    quick = args.quick
    sizes = QUICK if quick else FULL
    start = time.perf_counter()
    t = start

    def log(message: str) -> None:
        nonlocal t
        t = stage(message, t)

    def judged(text: str, ok: bool) -> dict[str, Any]:
        """Target text and verdict; quick runs are not judged."""
        if quick:
            return {"target": f"({text} in the full run)"}
        return {"target": text, "ok": ok}

    rows: list[Row] = []
    toys: dict[str, dict[str, Any]] = {}
    toys_run = [t if t.guards else dataclasses.replace(t, preset=args.preset) for t in TOYS]
    for k, toy in enumerate(toys_run):
        steps = toy.steps // 4 if quick else toy.steps
        f = run_toy(toy, steps, sizes, SEED + 10 * k, log)
        toys[toy.name] = f
        n = toy.name
        paper = not toy.guards  # the paper's toys carry the paper's targets
        rows.append(Row(f"{n}: S2 GAN vs pdf", f["s2_gan"]))
        rows.append(
            Row(
                f"{n}: S2 DCTR-weighted GAN vs pdf",
                f["s2_weighted"],
                baseline=f["s2_gan"],
                ratio=f["s2_weighted"] / f["s2_gan"],
                **judged("<= GAN", f["s2_weighted"] <= f["s2_gan"]),
            )
        )
        rows.append(Row(f"{n}: S2 floor (truth sample of N vs pdf)", f["s2_floor"]))
        rows.append(Row(f"{n}: S2 floor at n_eff (truth sample of n_eff)", f["s2_floor_neff"]))
        rows.append(
            Row(
                f"{n}: S2 GAN over the floor (the most any weights could cut)",
                f["s2_largest_reduction"],
                "x",
            )
        )
        rows.append(
            Row(
                f"{n}: S2 reduction",
                f["s2_reduction"],
                "x",
                baseline=f["s2_gan"],
                **(judged(">= 3", f["s2_reduction"] >= 3.0) if paper else {}),
            )
        )
        rows.append(Row(f"{n}: worst mode mass error, GAN", f["worst_mode_error_gan"]))
        rows.append(
            Row(
                f"{n}: worst mode mass error, weighted",
                f["worst_mode_error_weighted"],
                **(judged("<= 0.2", f["worst_mode_error_weighted"] <= 0.2) if paper else {}),
            )
        )
        rows.append(
            Row(
                f"{n}: worst mode mass error, exact weights of the histogram",
                f["worst_mode_error_exact_weights"],
            )
        )
        rows.append(
            Row(
                f"{n}: n_eff / N",
                f["neff_fraction"],
                **(judged(">= 0.3", f["neff_fraction"] >= 0.3) if paper else {}),
            )
        )
        rows.append(Row(f"{n}: n_eff / N bound of exact weights", f["neff_fraction_exact_bound"]))
        rows.append(
            Row(
                f"{n}: n_eff / N over the bound",
                f["neff_to_bound"],
                **judged(">= 0.7", f["neff_to_bound"] >= 0.7),
            )
        )
        rows.append(
            Row(f"{n}: truth mass where the GAN has no point", f["truth_mass_in_empty_bins"])
        )
        for name, g in f["guards"].items():
            rows.append(Row(f"{n}, {name}: S2 weighted vs pdf", g["s2_weighted"]))
            rows.append(Row(f"{n}, {name}: n_eff / N", g["neff_fraction"]))
            rows.append(Row(f"{n}, {name}: worst mode mass error", g["worst_mode_error_weighted"]))
        rows.append(Row(f"{n}: WGAN fit ({steps} steps)", f["gan_seconds"], "s"))
        rows.append(Row(f"{n}: DCTR fit ({f['dctr_per_class']} per class)", f["dctr_seconds"], "s"))
    stage("done", start)
    report(
        "gan_toys",
        rows,
        args,
        toys=toys,
        sizes={"gan_train": N_GAN_TRAIN} | dataclasses.asdict(sizes),
        preset=args.preset,
        seconds=time.perf_counter() - start,
    )


if __name__ == "__main__":
    main()
