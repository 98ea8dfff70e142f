"""
Tutorial 1: simulate reference showers, write them to ROOT, read them back
==========================================================================

Run it as ``python tutorials/01_simulate_and_read.py`` in an empty folder: it
writes ``full.root`` and ``fast.root`` there.

dctrgan ships fast stand-ins for a Geant4 simulation (``variant="full"``) and an
imperfect fast generator (``variant="fast"``) of 50 GeV photon showers in an ILD-like
silicon-tungsten ECAL. This tutorial looks at how the two differ in the paper's
high-level observables.
"""

from __future__ import annotations

import numpy as np

import dctrgan
from dctrgan.features import HIGH_LEVEL_NAMES
from dctrgan.stats import separation_power

N = 2000

# %%
# 1. Simulate
# -----------
# Seeded: the same seed always gives the same showers.

full = dctrgan.simulate.calorimeter(N, variant="full", seed=1)
fast = dctrgan.simulate.calorimeter(N, variant="fast", seed=2)
print(full.type)

# %%
# 2. Write ROOT files and read them back
# --------------------------------------
# A TTree with ``nhits`` and ``hits_*`` branches.

dctrgan.write("full.root", full, overwrite=True)
dctrgan.write("fast.root", fast, overwrite=True)
full = dctrgan.read("full.root:events", kind="showers")
fast = dctrgan.read("fast.root:events", kind="showers")

# %%
# 3. Hits know where they are
# ---------------------------
# Positions in mm, from the detector geometry.

first = full[0].hits
print(f"first shower: {len(first)} hits, first hit at {first.position[0]}")

# %%
# 4. The high-level features
# --------------------------
# The 33 high-level features of the DCTRGAN paper, and how far fast is from full.

x_full = dctrgan.features.high_level(full)
x_fast = dctrgan.features.high_level(fast)
print(f"{'observable':24s} {'full':>9s} {'fast':>9s}  S^2")
for j in (0, 1, 2, 5, 25):
    both = np.concatenate([x_full[:, j], x_fast[:, j]])
    bins = np.histogram_bin_edges(both, bins=30)
    s2 = separation_power(x_full[:, j], x_fast[:, j], bins)
    name = HIGH_LEVEL_NAMES[j]
    print(f"{name:24s} {x_full[:, j].mean():9.2f} {x_fast[:, j].mean():9.2f}  {s2:.4f}")
