"""
Tutorial 6: an analysis in the coffea style, with DCTR weights
==============================================================

Run it as ``python tutorials/06_analysis.py`` in an empty folder (a minute on a
laptop CPU).

A columnar analysis reads events chunk by chunk, computes its observables with
awkward, fills weighted ``hist`` histograms and writes a slimmed, weighted ntuple. With
a fast simulation in place of Geant4, the DCTR weights go into every fill -- here as
one factor of the event weight, next to an analysis weight of its own -- and the
histograms carry the sum of squared weights, so the statistical cost of the weights is
visible (effective entries). The processor below has the shape of a coffea
``ProcessorABC`` (``process(events) -> accumulator``, accumulators summed over
chunks); in coffea, ``weights.add("dctr", dctr.weight(events))`` does the same.
"""

from __future__ import annotations

import os

import awkward as ak
import hist
import numpy as np
import uproot

import dctrgan

N = 3000 if os.environ.get("DCTRGAN_TUTORIAL_QUICK") == "1" else 50_000

# %%
# 0. Inputs
# ---------
# A reference (full) sample to learn from, and the fast sample to analyse.

full = dctrgan.simulate.calorimeter(N, variant="full", seed=1)
fast = dctrgan.simulate.calorimeter(N, variant="fast", seed=2)
dctrgan.write("full.root", full, overwrite=True)
dctrgan.write("fast.root", fast, overwrite=True)
dctr = dctrgan.DCTR(progress=False).fit(
    dctrgan.read("full.root:events"), dctrgan.read("fast.root:events")
)
dctr.save("dctr.pt")

# %%
# The processor
# -------------
# Per chunk: select showers, weight them, fill histograms, keep a slim ntuple.


class ShowerProcessor:
    """Per chunk: select showers, weight them, fill histograms, keep a slim ntuple."""

    def __init__(self, model: dctrgan.DCTR) -> None:
        self.model = model

    @staticmethod
    def histograms() -> dict[str, dctrgan.Hist]:
        energy = hist.axis.Regular(36, 780, 870, name="e", label="Visible energy [MeV]")
        depth = hist.axis.Regular(
            40, 6, 20, name="z", label="Longitudinal centroid [layer]"
        )
        return {"energy": dctrgan.Hist(energy), "depth": dctrgan.Hist(depth)}

    def process(self, events: ak.Array) -> tuple[dict[str, dctrgan.Hist], ak.Array]:
        energy = dctrgan.features.total_energy(events)
        depth = dctrgan.features.centroid(events, "layer")
        selected = energy > 790.0  # an analysis cut
        # the event weight: an analysis factor (here a made-up efficiency) times DCTR
        efficiency = np.where(depth > 12.0, 0.95, 1.0)
        weight = efficiency * np.asarray(self.model.weight(events))
        out = self.histograms()
        out["energy"].fill(e=energy[selected], weight=weight[selected])
        out["depth"].fill(z=depth[selected], weight=weight[selected])
        slim = ak.zip({"total_energy": energy, "depth": depth, "weight": weight})
        return out, slim[selected]


# %%
# 1. Run over the file in chunks
# ------------------------------
# The histograms of the chunks are summed (coffea's accumulate).

processor = ShowerProcessor(dctrgan.DCTR.load("dctr.pt", progress=False))
totals = processor.histograms()
slims = []
for chunk in dctrgan.iterate("fast.root:events", step_size=1000):
    hists, slim = processor.process(chunk)
    for name, h in hists.items():
        totals[name] += h
    slims.append(slim)

# %%
# 2. The weighted results, with their effective entries
# -----------------------------------------------------

h = totals["energy"]
print(
    f"selected: {h.sum().value:.0f} weighted events "
    f"({h.effective_entries():.0f} effective entries)"
)
full_energy = dctrgan.features.total_energy(dctrgan.read("full.root:events"))
# the reference, with the same cut
reference = dctrgan.Hist(h.axes[0]).fill(e=full_energy[full_energy > 790.0])
print(f"energy: S2 to the full simulation {h.separation_power(reference):.2e}")

# %%
# 3. A weighted ntuple out
# ------------------------
# Readable by ROOT or uproot: one flat tree.

slim = ak.concatenate(slims)
columns = {name: ak.to_numpy(slim[name]) for name in ak.fields(slim)}
with uproot.recreate("analysis.root") as f:
    f.mktree("selected", {name: column.dtype for name, column in columns.items()})
    f["selected"].extend(columns)
print(f"wrote analysis.root: {len(slim)} selected showers with their weights")

# %%
# 4. Draw it
# ----------
# This needs the ``plot`` extra.

fig, _ = dctrgan.plot.compare(
    reference,
    h,
    labels=["Full simulation", "Fast + DCTR"],
    observable="total_energy",
    unit="MeV",
)
fig.savefig("energy.png", dpi=80)
