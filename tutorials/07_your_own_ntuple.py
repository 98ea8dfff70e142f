"""
Tutorial 7: your own ntuple -- DCTR on CMS NanoAOD in a coffea processor
========================================================================

Run it as ``python tutorials/07_your_own_ntuple.py`` in an empty folder (a minute on a
laptop CPU). It needs the ``coffea`` package besides dctrgan's ``plot`` extra.

The input is a real CMS NanoAOD file (2015 open data, ttbar, 200 events; any NanoAOD
file works, name it in ``DCTRGAN_NTUPLE``). To have two samples, step 0 repeats the
file's events, each copy with every jet's transverse momentum smeared by 15 % (the
"real" sample) or scaled up by 10 % and smeared by 15 % (its "fast simulation"), and
writes both back as NanoAOD files with ``dctrgan.write`` (the collections keep their
``nJet`` + ``Jet_pt`` layout, so coffea reads the copies as it reads the original).
With 200 distinct events this shows the workflow, not a measurement.

From step 1 on, this is what you do with your own two samples: fit DCTR on per-event
features of NanoEvents (the leading jet, the missing energy, HT, the number of jets),
then fill weighted histograms of *jagged* quantities (every jet's pT) in a processor,
the per-event DCTR weight given to each jet, and quote the separation power S², the
effective number of events and the uncertainty ratio r before and after the weights.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import awkward as ak
import hist
import numpy as np
import uproot
from coffea import processor
from coffea.analysis_tools import Weights
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

import dctrgan

QUICK = os.environ.get("DCTRGAN_TUTORIAL_QUICK") == "1"
COPIES = 5 if QUICK else 40
TEST_DATA = "tests/data/nanoAOD_2015_CMS_Open_Data_ttbar.root"
DATA = os.environ.get("DCTRGAN_NTUPLE") or str(Path(__file__).parents[1] / TEST_DATA)
# NanoAOD schema notes on a 2015 file
warnings.filterwarnings("ignore", module="coffea")

# %%
# 0. Two NanoAOD files
# --------------------
# The "real" sample and its "fast simulation". ``dctrgan.read`` gives the file's
# events as records: ``Jet``, ``Muon``, ... are collections.

branches = ["run", "luminosityBlock", "event", "nJet", "Jet_*", "nMuon", "Muon_*"]
original = dctrgan.read(f"{DATA}:Events", branches=[*branches, "MET_*"])
rng = np.random.default_rng(7)


def copies(events: ak.Array, scale: float, smear: float) -> ak.Array:
    """``COPIES`` copies of the events, each jet's pT scaled and smeared."""
    out = []
    for _ in range(COPIES):
        jets = events.Jet
        factor = rng.normal(scale, smear, len(ak.flatten(jets.pt))).astype(np.float32)
        pt = jets.pt * ak.unflatten(factor, ak.num(jets))
        out.append(ak.with_field(events, pt, ["Jet", "pt"]))
    return ak.concatenate(out)


dctrgan.write("real.root", copies(original, 1.0, 0.15), tree="Events", overwrite=True)
dctrgan.write("fast.root", copies(original, 1.1, 0.15), tree="Events", overwrite=True)


def nanoevents(path: str) -> ak.Array:
    """NanoEvents of a file, eagerly (``mode="dask"`` and ``.compute()`` alike)."""
    factory = NanoEventsFactory.from_root(
        {path: "Events"}, schemaclass=NanoAODSchema, mode="eager"
    )
    return factory.events()


# %%
# 1. DCTR on per-event features of NanoEvents
# -------------------------------------------
# A leading jet can be missing: ``fill_none``.

FEATURES = {
    "lead_jet_pt": lambda ev: ak.firsts(ev.Jet.pt),
    "ht": lambda ev: ak.sum(ev.Jet.pt, axis=1),
    "n_jets": lambda ev: ak.num(ev.Jet),
    "met": lambda ev: ev.MET.pt,
}
real, fast = nanoevents("real.root"), nanoevents("fast.root")
dctr = dctrgan.DCTR(
    features=FEATURES, fill_none=0.0, epochs=10 if QUICK else 30, progress=False
)
dctr.fit(real, fast)
print(f"DCTR fitted on {len(real)} + {len(fast)} events")
print(f"features {dctr.feature_names}")


# %%
# 2. A processor
# --------------
# DCTR weights into coffea's ``Weights``, weighted fills of every jet.

Histograms = dict[str, dctrgan.Hist]


class JetProcessor(processor.ProcessorABC):  # type: ignore[misc]
    """Fills every jet's pT and the HT, weighted by DCTR (or not, for the reference)."""

    def __init__(self, model: dctrgan.DCTR | None) -> None:
        self.model = model

    def process(self, events: ak.Array) -> Histograms:
        weights = Weights(len(events))
        if self.model is not None:
            weights.add("dctr", self.model.weight(events))
        pt_axis = hist.axis.Regular(25, 20, 220, name="pt", label="Jet $p_T$ [GeV]")
        ht_axis = hist.axis.Regular(20, 0, 800, name="ht", label="$H_T$ [GeV]")
        jet_pt, ht = dctrgan.Hist(pt_axis), dctrgan.Hist(ht_axis)
        jets = events.Jet[events.Jet.pt > 20]
        # jagged: one weight per event, given to each of its jets
        jet_pt.fill(pt=jets.pt, weight=weights.weight())
        ht.fill(ht=ak.sum(jets.pt, axis=1), weight=weights.weight())
        return {"jet_pt": jet_pt, "ht": ht}

    def postprocess(self, accumulator: Histograms) -> Histograms:
        return accumulator


reference = JetProcessor(None).process(real)
before = JetProcessor(None).process(fast)
after = JetProcessor(dctr).process(fast)

# %%
# 3. S², effective entries and r, before and after the weights
# ------------------------------------------------------------

for name in reference:
    ref, raw, weighted = reference[name], before[name], after[name]
    floor = weighted.statistical_floor(ref)
    print(
        f"{name:7s} S2 {raw.separation_power(ref):.4f} "
        f"-> {weighted.separation_power(ref):.4f} (floor {floor:.4f}), "
        f"n_eff {raw.effective_entries():.0f} -> {weighted.effective_entries():.0f}, "
        f"r {weighted.uncertainty_ratio(ref):.2f}"
    )

# %%
# 4. The weights beside the untouched input
# -----------------------------------------
# A friend tree: one weight per event, in order.

dctrgan.io.write_weights("fast_dctr.root", dctr.weight(fast), overwrite=True)
friend = uproot.open("fast_dctr.root")["weights"].arrays(library="np")["weight"]
print(
    f"wrote fast_dctr.root: {len(friend)} weights ({friend.dtype}), "
    f"mean {friend.mean():.3f}"
)

# %%
# 5. Draw the jagged quantity
# ---------------------------
# This needs the ``plot`` extra.

fig, _ = dctrgan.plot.compare(
    reference["jet_pt"],
    before["jet_pt"],
    after["jet_pt"],
    labels=["Real", "Fast", "Fast + DCTR"],
    observable="jet_pt",
    unit="GeV",
)
fig.savefig("jet_pt.png", dpi=80)
