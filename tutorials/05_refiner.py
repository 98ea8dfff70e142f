"""
Tutorial 5: refine simulated air-shower traces towards data (Erdmann et al. Figs. 5, 7)
=======================================================================================

Run it as ``python tutorials/05_refiner.py`` in an empty folder (a few minutes on a
laptop CPU): it writes ``refiner.pt``, ``traces.png`` and ``losses.png`` there.

The air-shower simulator of dctrgan has a ``"data"`` variant (30 % of the signal
from muons) and a ``"sim"`` variant whose showers carry too many muons (70 %), and
half the noise: its time traces rise too fast. Real data come without labels, so
the refiner of Erdmann et al. (sec. 2.4) learns from the traces alone -- a residual
network that nudges every simulated station trace, trained against a critic that
tries to tell refined simulation from data. An energy regressor trained on the
refined simulation then reconstructs data better than one trained on the raw
simulation (their Fig. 6; ``python benchmarks/refiner.py`` measures it).
"""

from __future__ import annotations

import os

import numpy as np

import dctrgan
from dctrgan.features import early_fraction, rise_time
from dctrgan.refiner import Refiner
from dctrgan.stats import separation_power

QUICK = os.environ.get("DCTRGAN_TUTORIAL_QUICK") == "1"  # the test suite's small run
N, STEPS = (400, 8) if QUICK else (5000, 300)

# %%
# 1. Unpaired samples
# -------------------
# Simulation and (unlabeled) data, different showers. Held out: data and the
# simulation of the *same* showers (the same seed), for Fig. 5.

sim = dctrgan.simulate.airshower(N, "sim", seed=1)
data = dctrgan.simulate.airshower(N, "data", seed=2)
test_data = dctrgan.simulate.airshower(N // 2, "data", seed=3)
test_sim = dctrgan.simulate.airshower(N // 2, "sim", seed=3)
print(f"{N} sim + {N} data traces of shape {test_sim.signal.type.content}")

# %%
# 2. Train
# --------
# The defaults are the paper's (n_critic 10, lambda 5, Adam 1e-4, batch 100); on a CPU
# the refiner has 16 feature maps instead of 64. Each update costs about a second on
# one core: the paper trains 10 000 of them on a GPU, we train a few hundred, with a
# three times larger learning rate to get as far.
#
# The critic's estimate of the Wasserstein distance between data and refined
# simulation rises while the critic learns, then falls as the refiner catches up
# (Fig. 7).

if QUICK:
    refiner = Refiner(
        steps=STEPS, batch_size=32, width=8, critic_width=8, progress=False
    )
else:
    refiner = Refiner(steps=STEPS, lr=3e-4)
refiner.fit(sim, data)
w = np.asarray(refiner.history["wasserstein"])
tenth = max(len(w) // 10, 1)
print(
    f"Wasserstein estimate: peak {w.max():.3f}, "
    f"over the last tenth {w[-tenth:].mean():.3f}"
)

# %%
# 3. Refine
# ---------
# The same events come back, with a refined signal and nothing else changed.

refined = refiner.refine(test_sim)
assert np.array_equal(refined.energy, test_sim.energy)
before = np.asarray(test_sim.signal, dtype=np.float64)
after = np.asarray(refined.signal, dtype=np.float64)
truth = np.asarray(test_data.signal, dtype=np.float64)  # the same showers as data
change = np.abs(after - before).sum() / before.sum()
difference = np.abs(truth - before).sum() / before.sum()
print(
    f"refinement: sum |s' - s| / sum s = {change:.3f} "
    f"(data and sim of the same showers: {difference:.3f})"
)

# %%
# 4. Did the traces move towards data?
# ------------------------------------
# Rise time and early fraction per station.

observables = {"rise time [ns]": rise_time, "early fraction": early_fraction}
for name, observable in observables.items():
    values = [observable(x).ravel() for x in (test_data, test_sim, refined)]
    values = [v[np.isfinite(v)] for v in values]
    bins = np.linspace(*np.percentile(values[0], [0.5, 99.5]), 41)
    s2 = [separation_power(v, values[0], bins) for v in values[1:]]
    means = ", ".join(
        f"{k} {np.mean(v):.3g}"
        for k, v in zip(("data", "sim", "refined"), values, strict=True)
    )
    print(f"{name:15s} mean: {means};")
    print(f"{'':15s} S2 to data: sim {s2[0]:.4f}, refined {s2[1]:.4f}")

# %%
# 5. Keep the model, and draw Figs. 5 and 7
# -----------------------------------------
# One shower (data, simulated, refined) and the training curves.

refiner.save("refiner.pt")
refiner = Refiner.load("refiner.pt")
event = int(np.argmax(test_data.energy))
refined = refiner.refine(test_sim)
fig, _ = dctrgan.plot.traces(test_data, test_sim, refined, event=event)
fig.savefig("traces.png", dpi=80)
fig, _ = dctrgan.plot.losses(refiner, xlabel="Refiner update")
fig.savefig("losses.png", dpi=80)
print("wrote refiner.pt, traces.png, losses.png")
