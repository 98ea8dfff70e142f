"""
Tutorial 2: a small GAN of the Gaussian toys, made precise by DCTR weights (Fig. 1)
===================================================================================

Run it as ``python tutorials/02_gan_toys.py`` in an empty folder: it writes
``fig1_<toy>.png`` there (two to three minutes on a laptop CPU).

The three toys of the DCTRGAN paper -- two Gaussians in 1D, eight on a circle, 25
on a 5 x 5 grid -- are hard for a small generator (two hidden layers of 15 units):
it blurs the modes, bridges them and gives some of them too many events. DCTR
learns the ratio ``p_truth / p_GAN`` from a classifier of truth against GAN points
and weights the GAN's points by it. Because the toys' densities are known exactly,
we can see how far the weighted GAN gets: mode by mode, and bin by bin against the
integral of the true density.

``WGAN``'s defaults for points (a Gaussian mixture of the data that the generator
corrects) cover these modes with their masses and leave far less for the weights to
do (``benchmarks/gan_coverage.py``, ``benchmarks/gan_toys.py``); this tutorial keeps
the paper's small generator, ``preset="paper"``, to show what the weights repair.
"""

from __future__ import annotations

import os

import numpy as np

import dctrgan
from dctrgan import plot
from dctrgan.simulate import bimodal_1d, circle_2d, grid_2d
from dctrgan.stats import effective_entries, separation_power

QUICK = os.environ.get("DCTRGAN_TUTORIAL_QUICK") == "1"  # the test suite's small run
N = 5_000 if QUICK else 100_000
SEED = 20260101  # the seeds of benchmarks/gan_toys.py

# %%
# The toys
# --------
# Each toy with its generator's latent size (the paper's) and training length: the
# generators stop while their points still cover every mode, since DCTR can only
# reweight where the GAN puts points.

TOYS = {
    "bimodal_1d": (bimodal_1d, 5, 2000),
    "circle_2d": (circle_2d, 8, 1000),
    "grid_2d": (grid_2d, 25, 2000),
}

# %%
# GAN, DCTR and Fig. 1, toy by toy
# --------------------------------
# For each toy:
#
# 1. train the GAN on points of the truth (a WGAN with the paper's toy networks);
# 2. fit DCTR, a classifier of fresh truth points (label 1) against GAN points
#    (label 0), with the paper's three hidden layers;
# 3. weight GAN points the classifier never saw;
# 4. compare each mode's share of the points (assigned to the nearest mode) with the
#    truth's 1/K;
# 5. compute :math:`S^2` against the exact density: the pdf at the bin centres times
#    the bin area approximates its integral over each bin (bins of half a mode width);
# 6. draw Fig. 1: the true density, the GAN's, and the GAN's with the DCTR weights.

for k, (name, (toy, latent, full_steps)) in enumerate(TOYS.items()):
    # 1. Train the GAN.
    seed = SEED + 10 * k
    steps = 300 if QUICK else full_steps
    wgan = dctrgan.WGAN(
        (toy.dim,), preset="paper", latent=latent, seed=seed, progress=False
    )
    wgan.fit(toy.sample(N, seed=seed + 1), steps=steps)

    # 2. DCTR: truth (label 1) against GAN points (0).
    hidden = (20, 20, 20) if toy.dim == 1 else (64, 128, 256)
    epochs = 5 if QUICK else 100
    dctr = dctrgan.DCTR(hidden=hidden, epochs=epochs, progress=False, seed=seed + 4)
    dctr.fit(toy.sample(N, seed=seed + 2), wgan.sample(N, seed=seed + 3))

    # 3. Weight GAN points the classifier never saw.
    x = wgan.sample(2 * N, seed=seed + 5)
    w = dctr.weight(x)

    # 4. Each mode's share of the points: 1/K for the truth.
    modes = toy.assign(x)
    share_gan = np.bincount(modes, minlength=toy.n_modes) / len(x)
    share_dctr = np.bincount(modes, weights=w, minlength=toy.n_modes) / w.sum()
    truth = 1.0 / toy.n_modes
    neff = effective_entries(w) / len(w)
    print(f"{name}: {steps} GAN steps, n_eff/N of the weights {neff:.2f}")
    print(
        f"  worst mode share off by {np.max(np.abs(share_gan / truth - 1)):.0%} (GAN), "
        f"{np.max(np.abs(share_dctr / truth - 1)):.0%} (DCTRGAN)"
    )

    # 5. <S^2> against the exact density.
    low = np.asarray(toy.means).min() - 5 * np.max(toy.sigmas)
    high = np.asarray(toy.means).max() + 5 * np.max(toy.sigmas)
    edges = np.arange(low, high, np.max(toy.sigmas) / 2)
    centres = 0.5 * (edges[1:] + edges[:-1])
    grid = np.stack(np.meshgrid(*[centres] * toy.dim, indexing="ij"), axis=-1)
    p_truth = toy.pdf(grid.reshape(-1, toy.dim)).reshape(grid.shape[:-1])
    bins = [edges] * toy.dim
    h_gan, _ = np.histogramdd(x, bins=bins)
    h_dctr, _ = np.histogramdd(x, bins=bins, weights=w)
    h_truth, _ = np.histogramdd(toy.sample(2 * N, seed=seed + 6), bins=bins)
    print(
        f"  S2 against the pdf: GAN {separation_power(h_gan, p_truth):.4f}, "
        f"DCTRGAN {separation_power(h_dctr, p_truth):.4f}, "
        f"a truth sample of the same size {separation_power(h_truth, p_truth):.4f}"
    )

    # 6. Fig. 1: truth, GAN, GAN with the DCTR weights.
    fig, _ = plot.density(toy, x, w)
    fig.savefig(f"fig1_{name}.png", dpi=60)
