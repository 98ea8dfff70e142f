"""The closure diagnostics of :meth:`dctrgan.DCTR.diagnostics`.

Private helper of :mod:`dctrgan.dctr`: an independent small classifier, trained on half
of the real events against half of the weighted fake ones, tells how well the weights
close; histograms of the features and of the log-weight tell how much ``n_eff`` any
exact reweighting could keep (:func:`dctrgan.stats.neff_bound`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from dctrgan.data import Events
from dctrgan.dctr._features import FeatureSpec
from dctrgan.dctr._inputs import sample_weight, take, weighted_auc
from dctrgan.dctr.calibration import weights_from_log
from dctrgan.dctr.config import Config
from dctrgan.stats import effective_entries, neff_bound

__all__ = ("diagnostics",)


def diagnostics(
    dctr: Any,
    c: Config,
    features: FeatureSpec,
    real: Events,
    fake: Events,
    real_weight: npt.ArrayLike | None,
    fake_weight: npt.ArrayLike | None,
    inputs: Callable[[Events], tuple[Any, int]],
) -> dict[str, float]:
    """:meth:`dctrgan.DCTR.diagnostics` of the fitted ``dctr`` (config ``c``, ``features=``
    as given, ``inputs``: its network inputs of events); the closure classifier is a new
    instance of ``dctr``'s class."""
    log_r, log_f = dctr.log_weight(real), dctr.log_weight(fake)
    wr = sample_weight(real, real_weight, len(log_r), "real_weight")
    wf = sample_weight(fake, fake_weight, len(log_f), "fake_weight")
    w, clipped = weights_from_log(log_f, dctr.clip)
    total = wf * w
    closure = type(dctr)(
        features=features if c.model == "mlp" else "high_level",
        hidden=(64, 64),
        epochs=20,
        batch_size=256,
        calibrate=None,
        clip=None,
        device=dctr.device,
        seed=c.seed + 7919,
        progress=False,
        patience=3,
        fill_none=c.fill_none,
    )
    rng = np.random.default_rng(c.seed + 7919)
    half_r, half_f = rng.random(len(log_r)) < 0.5, rng.random(len(log_f)) < 0.5
    with warnings.catch_warnings():  # its own validation n_eff says nothing here
        warnings.simplefilter("ignore", RuntimeWarning)
        closure.fit(take(real, half_r), take(fake, half_f), wr[half_r], total[half_f])
    closure_auc = weighted_auc(
        closure.log_weight(take(real, ~half_r)),
        closure.log_weight(take(fake, ~half_f)),
        wr[~half_r],
        total[~half_f],
    )
    projections = [log_r[:, None], log_f[:, None]]
    if c.model == "mlp":  # the features, beside the log-weight
        for j, events in enumerate((real, fake)):
            read, n = inputs(events)
            x = read(np.arange(n, dtype=np.int64)).numpy()
            projections[j] = np.column_stack([x, projections[j]])
    positive = (wr >= 0).all() and (wf >= 0).all()
    bound = neff_bound(*projections, reference_weights=wr, model_weights=wf) if positive else np.nan
    return {
        "auc": weighted_auc(log_r, log_f, wr, wf),
        "closure_auc": closure_auc,
        "neff_fraction": effective_entries(total) / len(total),
        "neff_bound": bound * effective_entries(wf) / len(wf),
        "max_weight": float(w.max()),
        "mean_weight": float(np.average(w, weights=wf)),
        "clipped_fraction": clipped / len(w),
    }
