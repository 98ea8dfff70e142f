"""How well point WGANs cover separated modes: the paper's toy networks against the options.

Reweighting moves weight only where a generator puts points, so a GAN's coverage of the
truth bounds what DCTR can do. For each toy of ``gan_toys`` (1D bimodal, 2D circle,
5 x 5 grid, and the four unequal modes of ``holes_2d``) and each variant of ``WGAN``,
a GAN is trained on 100k truth points (the toy's steps) with two seeds, and 200k
of its points are scored on the toy's grid of bins (``gan_toys``):

- ``S2``: ``<S^2>`` of the GAN's histogram against the pdf's bin integrals;
- ``bound``: the most ``n_eff / N`` that exact weights ``p_T / p_G`` per bin keep;
- ``holes``: the truth's mass in bins where the GAN has no point;
- ``between``: the fraction of GAN points more than three widths from every mode
  (the truth: 0.3 %), the bridges between the modes;
- ``mode error``: the worst ``|mass - truth| / truth`` over the modes.

Each figure is the mean over the seeds; the ``paper`` variant (``preset="paper"``:
generator 2 x 15, critic 2 x 25, no average, the toys' latent sizes) is the baseline of
the ratios. ``defaults`` are ``WGAN``'s for points: a diagonal Gaussian mixture of the
data (at most 50 components, their number by BIC) whose components condition generator
and critic, a generator that corrects each component's Gaussian draw (residual), 2 x 64
nets, generator average 0.999. ``mixture alone`` is that GAN after one update (its
last layer starts at zero, and the average barely moves): the fitted mixture, what the
adversarial training starts from. ``clusters`` is ``preset="clusters"``, the defaults
with a free generator per component; ``at most 20 components`` the defaults with fewer
components allowed than the grid has modes; ``2 x 64, average`` the wider nets and the
average without a mixture. The GAN alone is what this benchmark scores; what DCTR makes
of each GAN is ``gan_toys`` (docs/performance.md).

Two shapes that are not Gaussian mixtures test what the adversarial correction adds to
the fitted mixture: a ring (radius 1 with a Gaussian width of 0.05, uniform in angle)
and two moons (half circles of radius 1, offset as usual, smeared by 0.05). They have
no closed-form bin integrals, so their GANs (2000 steps, ``paper``, ``defaults``,
``mixture alone`` and ``clusters``) are scored against the histogram of 1M points of
the shape (bins of 0.05 on [-1.5, 2.5] per axis), beside the floor: 200k points of the
shape scored the same way.

``--quick``: one seed, 300 steps, two toys, no shapes; not judged.

    python benchmarks/gan_coverage.py [--quick] [--json PATH]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import Row, parse_args, report
from gan_toys import TOYS, Toy, histogram, mode_error, neff_bound, truth_integrals

from dctrgan import WGAN
from dctrgan.stats import separation_power
from dctrgan.training import threads

SEED = 20260101
N_TRAIN = 100_000
N_SCORE = 200_000
#: variant -> WGAN arguments (``"paper"`` also takes the toy's latent size).
VARIANTS: dict[str, dict[str, Any]] = {
    "paper": {"preset": "paper"},
    "2 x 64, average": {"clusters": 0},
    "defaults": {},
    "mixture alone": {"steps": 1},
    "clusters": {"preset": "clusters"},
    "at most 20 components": {"clusters": 20},
}


#: Variants scored on the shapes.
SHAPE_VARIANTS = ("paper", "defaults", "mixture alone", "clusters")
SHAPE_EDGES = [np.linspace(-1.5, 2.5, 81)] * 2
SHAPE_STEPS = 2000


def ring(n: int, seed: int) -> np.ndarray:
    """``(n, 2)`` points of a ring of radius 1 and width 0.05."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = 1 + 0.05 * rng.standard_normal(n)
    return np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])


def moons(n: int, seed: int) -> np.ndarray:
    """``(n, 2)`` points of two interleaved half circles of radius 1, smeared by 0.05."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, np.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(angle), 1 - np.cos(angle))
    y = np.where(upper, np.sin(angle), 0.5 - np.sin(angle))
    return np.column_stack([x, y]) + 0.05 * rng.standard_normal((n, 2))


SHAPES: dict[str, Callable[[int, int], np.ndarray]] = {"ring": ring, "moons": moons}


def score_shape(
    draw: Callable[[int, int], np.ndarray],
    reference: np.ndarray,
    options: dict[str, Any],
    seed: int,
) -> dict[str, float]:
    """Train one GAN on a shape and score its points against ``reference``, the
    histogram of 1M points of the shape."""
    options = dict(options)
    steps = options.pop("steps", SHAPE_STEPS)
    start = time.perf_counter()
    wgan = WGAN((2,), seed=seed, progress=False, **options)
    wgan.fit(draw(N_TRAIN, seed + 1), steps=steps)
    seconds = time.perf_counter() - start
    counts = np.histogramdd(wgan.sample(N_SCORE, seed=seed + 2), bins=SHAPE_EDGES)[0]
    floor = np.histogramdd(draw(N_SCORE, seed + 3), bins=SHAPE_EDGES)[0]
    bound, holes = neff_bound(reference.ravel() / reference.sum(), counts.ravel())
    return {
        "s2": separation_power(counts, reference),
        "floor": separation_power(floor, reference),
        "bound": bound,
        "holes": holes,
        "seconds": seconds,
    }


def between(toy: Toy, x: np.ndarray) -> float:
    """Fraction of points more than three widths from every mode."""
    means = np.atleast_2d(toy.mixture.means)
    distance = [
        np.linalg.norm(x - m, axis=1) / s for m, s in zip(means, toy.mixture.sigmas, strict=True)
    ]
    return float(np.mean(np.min(distance, axis=0) > 3.0))


def score(toy: Toy, options: dict[str, Any], steps: int, seed: int) -> dict[str, float]:
    """Train one GAN and score its points."""
    options = dict(options)
    if options.get("preset") == "paper":
        options["latent"] = toy.latent
    steps = options.pop("steps", steps)
    start = time.perf_counter()
    wgan = WGAN((toy.mixture.dim,), seed=seed, progress=False, **options)
    wgan.fit(toy.mixture.sample(N_TRAIN, seed=seed + 1), steps=steps)
    seconds = time.perf_counter() - start
    x = wgan.sample(N_SCORE, seed=seed + 2).astype(np.float64)
    p_truth, mode_truth = truth_integrals(toy)
    counts = histogram(toy, x)
    bound, holes = neff_bound(p_truth, counts)
    return {
        "s2": separation_power(counts, p_truth),
        "bound": bound,
        "holes": holes,
        "between": between(toy, x),
        "mode_error": mode_error(toy, x, mode_truth),
        "seconds": seconds,
    }


def main() -> None:
    args = parse_args(__doc__.splitlines()[0] if __doc__ else "gan_coverage")
    quick = args.quick
    seeds = [SEED] if quick else [SEED, SEED + 100]
    toys = [t for t in TOYS if not quick or t.name in ("bimodal_1d", "circle_2d")]
    start = time.perf_counter()
    rows: list[Row] = []
    figures: dict[str, dict[str, dict[str, float]]] = {}
    for toy in toys:
        steps = 300 if quick else toy.steps
        figures[toy.name] = {}
        for name, options in VARIANTS.items():
            with threads(1):
                runs = [score(toy, options, steps, seed) for seed in seeds]
            mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
            figures[toy.name][name] = mean
            elapsed = time.perf_counter() - start
            print(f"[{elapsed:6.0f} s] {toy.name} {name}: {mean}", file=sys.stderr)
        paper = figures[toy.name]["paper"]
        for name, f in figures[toy.name].items():
            for key, label, unit in (
                ("s2", "S2 of the GAN vs pdf", ""),
                ("bound", "n_eff / N bound of exact weights", ""),
                ("holes", "truth mass where the GAN has no point", ""),
                ("between", "GAN points between the modes", ""),
                ("mode_error", "worst mode mass error", ""),
                ("seconds", f"fit ({steps} steps)", "s"),
            ):
                base = paper[key]
                rows.append(
                    Row(
                        f"{toy.name}, {name}: {label}",
                        f[key],
                        unit,
                        baseline=None if name == "paper" else base,
                        ratio=None if name == "paper" or base == 0 else f[key] / base,
                    )
                )
    for shape, draw in ({} if quick else SHAPES).items():
        figures[shape] = {}
        reference = np.histogramdd(draw(1_000_000, 7), bins=SHAPE_EDGES)[0]
        for name in SHAPE_VARIANTS:
            with threads(1):
                runs = [score_shape(draw, reference, VARIANTS[name], seed) for seed in seeds]
            mean = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
            figures[shape][name] = mean
            elapsed = time.perf_counter() - start
            print(f"[{elapsed:6.0f} s] {shape} {name}: {mean}", file=sys.stderr)
            for key, label in (
                ("s2", "S2 of the GAN vs 1M points of the shape"),
                ("floor", "S2 floor (200k points of the shape)"),
                ("bound", "n_eff / N bound of exact weights"),
                ("holes", "shape's mass where the GAN has no point"),
            ):
                rows.append(Row(f"{shape}, {name}: {label}", mean[key]))
            rows.append(Row(f"{shape}, {name}: fit", mean["seconds"], "s"))
    report(
        "gan_coverage",
        rows,
        args,
        toys=figures,
        seeds=seeds,
        sizes={"train": N_TRAIN, "score": N_SCORE},
        seconds=time.perf_counter() - start,
    )


if __name__ == "__main__":
    main()
