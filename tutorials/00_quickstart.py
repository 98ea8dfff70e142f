"""
Tutorial 0: quickstart on your own ROOT files
=============================================

Run it as ``python tutorials/00_quickstart.py`` in an empty folder (a minute on a
laptop CPU).

Your files will not use dctrgan's branch names. To play both roles here, the first
step writes two ntuples in a layout of its own -- hit positions in mm in branches
``hit_x/hit_y/hit_z``, deposits in ``hit_edep``, the beam energy in ``e0`` -- one from
the "full" simulation (your Geant4 sample) and one from the "fast" one (the fast
simulation or GAN output you want to correct). From step 2 on, this is what you do
with your own files.
"""

from __future__ import annotations

import os

import awkward as ak
import numpy as np
import uproot

import dctrgan

N = 2000 if os.environ.get("DCTRGAN_TUTORIAL_QUICK") == "1" else 20_000


def write_foreign(path: str, showers: ak.Array) -> None:
    """Write showers as somebody else's ntuple: positions in mm, other names."""
    hits = showers.hits
    ntuple = {
        "e0": showers.incident_energy.to_numpy(),
        "hit": ak.zip({"x": hits.x, "y": hits.y, "z": hits.z, "edep": hits.energy}),
    }
    types = {
        k: ak.type(v) if isinstance(v, ak.Array) else v.dtype for k, v in ntuple.items()
    }
    with uproot.recreate(path) as f:
        f.mktree("showers", types)
        f["showers"].extend(ntuple)


# %%
# 1. Stand-ins for your files
# ---------------------------
# A Geant4-like sample and a fast-simulation sample, written in a foreign layout.

write_foreign("geant4.root", dctrgan.simulate.calorimeter(N, variant="full", seed=1))
write_foreign("fastsim.root", dctrgan.simulate.calorimeter(N, variant="fast", seed=2))

# %%
# 2. Read them
# ------------
# ``branches=`` maps your branches onto the schema; positions in mm become cells.

layout = {
    "incident_energy": "e0",
    "x": "hit_x",
    "y": "hit_y",
    "z": "hit_z",
    "energy": "hit_edep",
}
real = dctrgan.read("geant4.root:showers", branches=layout)
fake = dctrgan.read("fastsim.root:showers", branches=layout)
print(f"read {len(real)} + {len(fake)} showers")
print(f"first hit of the first: {real.hits[0, 0].tolist()}")

# %%
# 3. The one line
# ---------------
# Fit on half of each sample, weight the fake showers.

half = len(fake) // 2
dctr = dctrgan.DCTR(progress=False).fit(real[:half], fake[:half])
weights = dctr.weight(fake)

# %%
# 4. Check on the half the classifier never saw
# ---------------------------------------------
# The separation power :math:`S^2` of the visible energy before and after the weights,
# and the effective fraction of events the weights leave.

test_real, test_fake, test_w = real[half:], fake[half:], np.asarray(weights[half:])
energy_real = dctrgan.features.total_energy(test_real)
energy_fake = dctrgan.features.total_energy(test_fake)
bins = np.linspace(*np.percentile(energy_real, [0.5, 99.5]), 31)
before = dctrgan.stats.separation_power(energy_real, energy_fake, bins)
after = dctrgan.stats.separation_power(energy_real, energy_fake, bins, weights2=test_w)
print(f"visible energy: S2 {before:.2e} before, {after:.2e} after weighting")
neff = dctrgan.stats.effective_entries(test_w)
print(f"n_eff/N of the weighted half: {neff / len(test_w):.2f}")

# %%
# 5. Keep everything
# ------------------
# The model, the weights as a friend tree, and a weighted copy of the fast sample.
# Later, or on a batch node: ``dctrgan weight dctr.pt other.root -o
# other_weighted.root``.

dctr.save("dctr.pt")
dctrgan.io.write_weights("fastsim_weights.root", weights, overwrite=True)
dctrgan.write("fastsim_weighted.root", dctr.attach(fake), overwrite=True)
print("wrote dctr.pt, fastsim_weights.root (friend tree), fastsim_weighted.root")
