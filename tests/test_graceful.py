"""Graceful failure: where the samples barely overlap, DCTR's default weights are no worse
than no weights, and the n_eff they keep is compared with the most that exact weights
could keep (issue 14, item 5)."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch

from dctrgan import DCTR, stats
from dctrgan.dctr.calibration import CLOSURE_FACTORS, closure_factor, truncation

N = 20_000


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


def gaussian_pair(rng: np.random.Generator, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Real N(1, 1) and fake N(0, 1), ``N`` each, and the logit ``scale * (x - 1/2)``:
    the exact log-ratio for ``scale = 1``, an overconfident one above."""
    x = np.concatenate([rng.normal(1.0, 1.0, N), rng.normal(0.0, 1.0, N)])
    return x, scale * (x - 0.5)


IS_REAL = np.arange(2 * N) < N


def s2(reference: np.ndarray, model: np.ndarray, w: np.ndarray | None = None) -> float:
    edges = np.quantile(np.concatenate([reference, model]), np.linspace(0, 1, 31))
    return stats.separation_power(reference, model, edges, weights2=w)


# --- the parts ---------------------------------------------------------------------------


def test_truncation_is_the_root_of_the_effective_entries() -> None:
    assert truncation(np.ones(10_000)) == pytest.approx(100.0)
    w = np.r_[np.ones(300), np.full(100, 3.0)]  # Kish: 600^2 / 1200 = 300
    assert truncation(w) == pytest.approx(math.sqrt(300.0))


def test_closure_keeps_exact_weights_as_fitted() -> None:
    x, z = gaussian_pair(np.random.default_rng(1), 1.0)
    factor, closures = closure_factor(
        z, IS_REAL, np.ones(2 * N), x[:, None], 1.0, None, np.random.default_rng(0)
    )
    assert factor == 1.0
    assert len(closures) == len(CLOSURE_FACTORS)
    # no weights (x1000) are far from the reference: 1 - 1/2 of the S2 of N(1,1) vs N(0,1)
    assert closures[-1] > 20 * closures[0]


def test_closure_softens_an_overconfident_classifier_to_about_its_excess() -> None:
    x, z = gaussian_pair(np.random.default_rng(2), 30.0)  # 30x too sharp
    factor, closures = closure_factor(
        z, IS_REAL, np.ones(2 * N), x[:, None], 1.0, None, np.random.default_rng(0)
    )
    assert factor in (20.0, 50.0)
    assert min(closures) < closures[0] / 10


def test_closure_of_disjoint_samples_is_no_weighting() -> None:
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(0, 1, N), rng.uniform(1, 2, N)])
    factor, _ = closure_factor(
        40 * (1 - x), IS_REAL, np.ones(2 * N), x[:, None], 1.0, None, np.random.default_rng(0)
    )
    assert factor == CLOSURE_FACTORS[-1]


def test_neff_bound_known_answers() -> None:
    rng = np.random.default_rng(4)
    reference, model = rng.normal(0.0, 1.0, 50_000), rng.normal(0.3, 1.1, 50_000)
    # exact weights of N(0.3, 1.1) to N(0, 1): n_eff/N = 1 / E_G[w^2] = 0.924; a histogram
    # of the ratio keeps at least that (Cauchy-Schwarz), up to the samples' noise
    bound = stats.neff_bound(reference, model)
    assert 0.91 < bound < 0.96
    assert stats.neff_bound(reference, reference[::-1]) == pytest.approx(1.0)
    # the tightest column counts; the model's weights are scale-free
    shifted = model[::-1] + 2.0
    both = stats.neff_bound(
        np.column_stack([reference, reference]), np.column_stack([model, shifted])
    )
    assert both == stats.neff_bound(reference, shifted) < 0.5 * bound
    scaled = stats.neff_bound(reference, model, model_weights=np.full(50_000, 7.0))
    assert scaled == pytest.approx(bound)
    # disjoint supports: no weight reaches the reference
    assert stats.neff_bound(rng.uniform(0, 1, 1000), rng.uniform(2, 3, 1000)) == 0.0


def test_neff_bound_errors() -> None:
    x = np.zeros((10, 2))
    with pytest.raises(ValueError, match=r"reference \(10, 2\) and model \(10, 1\) differ"):
        stats.neff_bound(x, np.zeros(10))
    with pytest.raises(ValueError, match="model_weights must be 10 finite, non-negative"):
        stats.neff_bound(x, x, model_weights=-np.ones(10))
    with pytest.raises(ValueError, match="non-finite"):
        stats.neff_bound(np.r_[np.nan, 1.0], np.r_[0.0, 1.0])
    with pytest.raises(ValueError, match="bins must be >= 2"):
        stats.neff_bound(x, x, bins=1)


# --- DCTR at its defaults ----------------------------------------------------------------


def disjoint(rng: np.random.Generator, n: int, fake: bool) -> np.ndarray:
    """x0 on [0, 1] (real) or [1, 2] (fake): no overlap; x1 N(0, 1), shifted by 0.3 for
    the fake events: what a weight of x0 cannot mend."""
    x0 = rng.uniform(1, 2, n) if fake else rng.uniform(0, 1, n)
    return np.column_stack([x0, rng.normal(0.3 if fake else 0.0, 1.0, n)])


def test_defaults_on_disjoint_samples_give_no_weighting_and_say_so() -> None:
    rng = np.random.default_rng(5)
    real, fake, test_r, test_f = (disjoint(rng, 5000, f) for f in (False, True, False, True))
    options = {"epochs": 10, "batch_size": 256, "progress": False, "seed": 3}
    with pytest.warns(RuntimeWarning, match="no closer to the real one than no weights") as seen:
        dctr = DCTR(**options, replicas=2).fit(real, fake)
    # said once (not once per replica), at the caller's line
    assert [r.filename for r in seen if "no closer" in str(r.message)] == [__file__]
    w = dctr.weight(test_f)
    before = s2(test_r[:, 1], test_f[:, 1])
    assert s2(test_r[:, 1], test_f[:, 1], w) < 1.05 * before
    assert np.abs(w - 1).max() < 0.1
    # the loss-calibrated weights without a clip collapse onto the events next to x0 = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sharp = DCTR(**options, calibrate="temperature", clip=None).fit(real, fake)
    assert s2(test_r[:, 1], test_f[:, 1], sharp.weight(test_f)) > 3 * before


def barely(rng: np.random.Generator, n: int, fake: bool) -> np.ndarray:
    """Real x0 N(0, 1) against fake N(2, 0.3): the fake sample barely reaches the real
    one's bulk; x1 N(0, 1) for the real events, N(0, 1) + x0 / 2 for the fake ones."""
    x0 = rng.normal(2.0, 0.3, n) if fake else rng.normal(0.0, 1.0, n)
    return np.column_stack([x0, rng.normal(0.0, 1.0, n) + (0.5 * x0 if fake else 0.0)])


def test_defaults_on_barely_overlapping_samples_help_and_keep_entries() -> None:
    rng = np.random.default_rng(6)
    real, fake, test_r = barely(rng, N, False), barely(rng, N, True), barely(rng, N, False)
    test_f = barely(rng, 100_000, True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the low validation n_eff
        dctr = DCTR(epochs=20, batch_size=256, progress=False, seed=3).fit(real, fake)
        d = dctr.diagnostics(test_r, test_f[:N])
    w = dctr.weight(test_f)
    assert dctr.clip == pytest.approx(math.sqrt(N))
    assert w.max() <= dctr.clip
    for j in range(2):  # held-out S2 better than without weights
        assert s2(test_r[:, j], test_f[:, j], w) < s2(test_r[:, j], test_f[:, j])
    neff = stats.effective_entries(w) / len(w)
    assert neff >= 0.7 * d["neff_bound"]
    assert neff > 0.02  # loss-calibrated, unclipped: 0.002


def test_the_clip_is_saved_and_an_old_file_keeps_its_config_clip(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path))
    rng = np.random.default_rng(7)
    real, fake = rng.normal(1.0, 1.0, (3000, 1)), rng.normal(0.0, 1.0, (3000, 1))
    dctr = DCTR(epochs=2, progress=False).fit(real, fake)
    assert dctr.config["clip"] == "sqrt_n"
    assert dctr.clip == pytest.approx(math.sqrt(3000))
    dctr.save(path / "m.pt")
    loaded = DCTR.load(path / "m.pt", progress=False)
    assert loaded.clip == dctr.clip
    np.testing.assert_array_equal(loaded.weight(fake), dctr.weight(fake))
    # a file written before clip rules: the clip lives in the config alone
    payload = torch.load(path / "m.pt", weights_only=True)
    fitted = json.loads(payload["fitted"])
    del fitted["clip"]
    payload["fitted"] = json.dumps(fitted)
    payload["config"] = json.dumps(json.loads(payload["config"]) | {"clip": 2.0})
    torch.save(payload, path / "old.pt")
    assert DCTR.load(path / "old.pt", progress=False).clip == 2.0
