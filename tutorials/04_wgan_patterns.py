"""
Tutorial 4: generate air-shower footprints for a given energy (Erdmann et al. Figs. 2-4)
========================================================================================

Run it as ``python tutorials/04_wgan_patterns.py`` in an empty folder: it writes
``fig2_generated.png``, ``fig2_data.png``, ``fig3_label_vs_reconstructed.png`` and
``fig4_losses.png`` there (about five minutes on a laptop CPU).

A cosmic-ray observatory sees an air shower as a footprint: the total signal (in
VEM) of each station of a 9 x 9 array. More energetic showers light up more
stations, and more brightly. A Wasserstein GAN learns to draw such footprints from
noise; given an energy label as well, it learns to draw footprints *of that
energy*, because a third network, the constrainer, learns to read the energy off
real footprints and the generator pays for footprints whose energy reads wrong.
"""

from __future__ import annotations

import os

import numpy as np

import dctrgan
from dctrgan import plot
from dctrgan.features import pattern

QUICK = os.environ.get("DCTRGAN_TUTORIAL_QUICK") == "1"  # the test suite's small run
N, STEPS, N_GEN = (1_000, 10, 1_000) if QUICK else (10_000, 600, 5_000)

# %%
# 1. "Measured" showers
# ---------------------
# The data-like variant of the reference simulation, energies flat in 1-100 EeV. The
# WGAN reads their footprints and energies itself.

data = dctrgan.simulate.airshower(N, "data", seed=1)
footprints = pattern(data)  # (N, 9, 9) VEM
median_signal = np.median(footprints.sum(axis=(1, 2)))
print(f"{N} data events, median total signal {median_signal:.3g} VEM")

# %%
# 2. The energy-conditioned WGAN
# ------------------------------
# The paper's networks (at the CPU width), latent 80, 8 critic and constrainer updates
# per generator update. The label is ``data.energy`` (EeV).

wgan = dctrgan.WGAN((9, 9), condition_dim=1, seed=0, progress=not QUICK)
wgan.fit(data, steps=STEPS)

# %%
# 3. Fig. 2: generated footprints
# -------------------------------
# Footprints generated at 10, 30, 70 and 100 EeV, beside data events of about those
# energies.

energies = np.array([10.0, 30.0, 70.0, 100.0])
fig, _ = plot.patterns(wgan.sample(4, condition=energies, seed=2), energies=energies)
fig.savefig("fig2_generated.png", dpi=60)
energy = np.asarray(data.energy)
closest = [int(np.argmin(np.abs(energy - e))) for e in energies]
fig, _ = plot.patterns(data[closest])
fig.savefig("fig2_data.png", dpi=60)

# %%
# 4. Bigger and brighter with energy
# ----------------------------------
# Active stations (>= 115 VEM, the trigger threshold of the simulation) and total
# signal, generated against data.

for e in (10.0, 70.0):
    generated = wgan.sample(500, condition=e, seed=int(e))
    near = footprints[np.abs(energy / e - 1) <= 0.1]
    print(
        f"{e:4.0f} EeV: "
        f"active stations {np.mean((generated >= 115).sum(axis=(1, 2))):5.1f} "
        f"(data {np.mean((near >= 115).sum(axis=(1, 2))):5.1f}), "
        f"median total signal {np.median(generated.sum(axis=(1, 2))):9.3g} VEM "
        f"(data {np.median(near.sum(axis=(1, 2))):9.3g})"
    )

# %%
# 5. Fig. 3: does a footprint generated for energy E read as E?
# -------------------------------------------------------------
# The constrainer reconstructs the energy of generated footprints.

labels = np.random.default_rng(3).uniform(1.0, 100.0, N_GEN)
reconstructed = wgan.reconstruct(wgan.sample(N_GEN, condition=labels, seed=4))
pearson = np.corrcoef(labels, reconstructed)[0, 1]
print(f"Pearson(label, reconstructed energy): {pearson:.3f}")
fig, _ = plot.label_vs_reconstructed(labels, reconstructed, limits=(0.0, 110.0))
fig.savefig("fig3_label_vs_reconstructed.png", dpi=60)

# %%
# 6. Fig. 4: the training curves
# ------------------------------
# The critic's Wasserstein estimate C1 falls as the generated footprints approach the
# data; the constrainer's losses C4 and C3 fall as it learns.

w = np.asarray(wgan.history["wasserstein"])
tenth = max(1, len(w) // 10)
print(
    f"Wasserstein estimate: {w[:tenth].mean():.3f} (first 10 %) "
    f"-> {w[-tenth:].mean():.3f} (last)"
)
fig, _ = plot.losses(wgan, xlabel="Generator update")
fig.savefig("fig4_losses.png", dpi=60)
