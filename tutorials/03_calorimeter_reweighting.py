"""
Tutorial 3: high- and low-level DCTR reweighting of calorimeter showers (Figs. 2-8)
===================================================================================

Run it as ``python tutorials/03_calorimeter_reweighting.py`` in an empty folder: it
writes the figures there (about three minutes on a laptop CPU).

The fast simulation (``variant="fast"``) plays the GAN of the DCTRGAN paper: its showers
start too late and have too narrow a cell-count distribution. Two reweighters learn the
way back to the full simulation: DCTR-HL, a small dense net on the 33 high-level
features, and DCTR-LL, a low-level net on the hits themselves (``model="deepsets"``, a
CPU-sized stand-in for the paper's 3D CNN, which ``model="cnn3d"`` gives on a GPU).
Both are judged on showers they never saw, on observables they never saw: layer
differences, second moments and centroids.
"""

from __future__ import annotations

import os

import numpy as np

import dctrgan
from dctrgan import plot
from dctrgan.report import compare
from dctrgan.simulate import calorimeter

QUICK = os.environ.get("DCTRGAN_TUTORIAL_QUICK") == "1"  # the test suite's small run
N_TRAIN, N_TEST = (1500, 1500) if QUICK else (20_000, 20_000)
LL_EPOCHS = 1 if QUICK else 4

# %%
# 1. Training and test samples
# ----------------------------
# The test pair is never seen by the classifiers.

full, fast = (
    calorimeter(N_TRAIN, variant="full", seed=1),
    calorimeter(N_TRAIN, variant="fast", seed=2),
)
full_test = calorimeter(N_TEST, variant="full", seed=3)
fast_test = calorimeter(N_TEST, variant="fast", seed=4)

# %%
# 2. DCTR-HL and DCTR-LL
# ----------------------
# DCTR-HL is the default model; DCTR-LL reads the hits.

hl = dctrgan.DCTR(progress=False).fit(full, fast)
ll = dctrgan.DCTR(model="deepsets", epochs=LL_EPOCHS, progress=False).fit(full, fast)
w_hl = np.asarray(hl.weight(fast_test))
w_ll = np.asarray(ll.weight(fast_test))

# %%
# 3. Fig. 2: the weights
# ----------------------
# Their distributions, and how far the two models agree event by event.

fig, _ = plot.weights(w_hl, w_ll, labels=["DCTR-HL", "DCTR-LL"])
fig.savefig("fig2_weights.png", dpi=80)
fig, _ = plot.weights_scatter(w_hl, w_ll, labels=("DCTR-HL weight", "DCTR-LL weight"))
fig.savefig("fig2_scatter.png", dpi=80)
rho = np.corrcoef(np.log(w_hl), np.log(w_ll))[0, 1]
print(f"Pearson rho of HL and LL weights: {rho:.2f}")

# %%
# 4. Figs. 3-6: observables with a ratio panel
# --------------------------------------------
# :math:`\langle S^2\rangle` and :math:`r` of each weighted sample in the legend.

obs_full = dctrgan.features.observables(full_test)
obs_fast = dctrgan.features.observables(fast_test)
for name in (
    "active_cells",
    "longitudinal_centroid",
    "energy_layer_3_minus_7",
    "second_moment_x_layer_12",
):
    fig, _ = plot.compare(
        obs_full[name],
        obs_fast[name],
        obs_fast[name],
        obs_fast[name],
        weights=[None, w_hl, w_ll],
        labels=["Full simulation", "Fast", "Fast + DCTR-HL", "Fast + DCTR-LL"],
        observable=name,
        unit=dctrgan.features.observable_unit(name),
    )
    fig.savefig(f"fig3_{name}.png", dpi=80)

# %%
# 5. Fig. 7: correlations
# -----------------------
# What the weights do to the correlations between observables.

names = [
    "active_cells",
    "total_energy",
    "longitudinal_centroid",
    "centroid_x",
    "second_moment_x_layer_12",
]
fig, _ = plot.correlations(
    {n: obs_full[n] for n in names},
    {n: obs_fast[n] for n in names},
    {n: obs_fast[n] for n in names},
    labels=["Full", "Fast", "Fast + DCTR-HL"],
    weights=[None, w_hl],
)
fig.savefig("fig7_correlations.png", dpi=80)

# %%
# 6. Fig. 8 and the numbers
# -------------------------
# :math:`S^2` before and after, and :math:`r`, over all 151 observables.

tables = {
    label: compare(obs_full, obs_fast, w) for label, w in (("HL", w_hl), ("LL", w_ll))
}
fig, _ = plot.summary(*tables.values(), labels=list(tables))
fig.savefig("fig8_summary.png", dpi=80)
for label, table in tables.items():
    for group in table.groups:
        before = table.median("s2_unweighted", group)
        after = table.median("s2_weighted", group)
        r = table.median("r_weighted", group)
        print(
            f"DCTR-{label} {group:9s}: median S2 {before:.2e} -> {after:.2e}, r {r:.2f}"
        )
    print(
        f"DCTR-{label}: n_eff/N {table.neff_fraction:.2f}, "
        f"floor of S2 {table.floor_weighted:.1e}"
    )
