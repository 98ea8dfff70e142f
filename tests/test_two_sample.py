"""The independent classifier two-sample test, the weighted AUC and the reliability diagram."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from dctrgan import plot, stats

SMALL = {"hidden": (32,), "epochs": 10}
AUC_1SIGMA = 0.5 * (1 + math.erf(1 / math.sqrt(2) / math.sqrt(2)))  # Phi(1/sqrt 2) = 0.7602


def _jsd_of_unit_gaussians(shift: float) -> float:
    """Jensen-Shannon divergence (nats) of N(0, 1) and N(shift, 1), by quadrature."""
    x = np.linspace(-12, 12 + shift, 200_001)
    p = np.exp(-(x**2) / 2) / math.sqrt(2 * math.pi)
    q = np.exp(-((x - shift) ** 2) / 2) / math.sqrt(2 * math.pi)
    m = (p + q) / 2
    integrand = p * np.log(p / m) + q * np.log(q / m)
    return float(0.5 * np.sum(integrand[1:] + integrand[:-1]) / 2 * (x[1] - x[0]))


def test_weighted_auc_known_answers() -> None:
    # positives score 3, 2, 1; negatives 2, 0: pairs won 2 + 1 (tie: half) + 0.5*... by hand
    scores = [3.0, 2.0, 1.0, 2.0, 0.0]
    labels = [1, 1, 1, 0, 0]
    # unweighted: pairs (3>2, 3>0, 2=2, 2>0, 1<2, 1>0) = 1 + 1 + 0.5 + 1 + 0 + 1 = 4.5 of 6
    assert stats.weighted_auc(scores, labels) == pytest.approx(4.5 / 6)
    # weights 2 on the first positive, -0.5 on the negative at 0 (signed weights)
    w = [2.0, 1.0, 1.0, 1.0, -0.5]
    won = 2 * (1 - 0.5) + 1 * (0.5 - 0.5) + 1 * (0 - 0.5)
    assert stats.weighted_auc(scores, labels, w) == pytest.approx(won / (4 * 0.5))


def test_weighted_auc_equals_the_sum_over_pairs(rng: np.random.Generator) -> None:
    s = rng.integers(0, 6, 300).astype(float)  # many ties
    y = rng.integers(0, 2, 300)
    w = rng.normal(1.0, 0.8, 300)  # some negative
    pos, neg = y == 1, y == 0
    diff = s[pos][:, None] - s[neg][None, :]
    pair = (diff > 0) + 0.5 * (diff == 0)
    brute = (w[pos][:, None] * w[neg][None, :] * pair).sum() / (w[pos].sum() * w[neg].sum())
    assert stats.weighted_auc(s, y, w) == pytest.approx(brute, rel=1e-12)
    counts = rng.poisson(1.0, (3, 300))
    for row, c in zip(stats.weighted_auc(s, y, w, counts=counts), counts, strict=True):
        assert row == pytest.approx(stats.weighted_auc(s, y, w * c), rel=1e-12)


def test_identical_distributions_give_half_and_no_divergence(rng: np.random.Generator) -> None:
    # AUC standard error for 1500 + 1500 events: sqrt(3001 / (12 * 1500^2)) = 0.0106
    result = stats.classifier_test(rng.normal(size=(1500, 2)), rng.normal(size=(1500, 2)), **SMALL)
    assert abs(result.auc - 0.5) < 0.035
    assert result.auc_interval[0] <= 0.5 <= result.auc_interval[1]
    assert abs(result.jsd) < 0.01
    assert result.level == 0.95
    assert (result.n_reference, result.n_model, result.folds) == (1500, 1500, 5)
    assert result.n_eff_model == pytest.approx(1500)


def test_shifted_gaussians_give_the_analytic_auc(rng: np.random.Generator) -> None:
    # N(0, 1) against N(1, 1): the optimal AUC is Phi(1/sqrt 2) = 0.760, the JSD 0.111
    # nats; 3000 events each: AUC standard error 0.007, tolerance 0.025; a trained
    # classifier reaches the JSD bound only approximately (held-out: from below)
    reference, model = rng.normal(0, 1, 3000), rng.normal(1, 1, 3000)
    result = stats.classifier_test(reference, model, **SMALL)
    assert abs(result.auc - AUC_1SIGMA) < 0.025
    assert result.auc_interval[0] < result.auc < result.auc_interval[1]
    assert 0.5 * (result.auc_interval[1] - result.auc_interval[0]) < 0.03
    truth = _jsd_of_unit_gaussians(1.0)
    assert truth == pytest.approx(0.1114, abs=1e-3)
    assert truth - 0.03 < result.jsd < truth + 0.01
    # the exact density ratio p_ref / p_model = exp(1/2 - x) as model weights: back to 0.5
    weighted = stats.classifier_test(reference, model, np.exp(0.5 - model), **SMALL)
    assert weighted.auc_interval[0] <= 0.5 <= weighted.auc_interval[1]
    assert abs(weighted.auc - 0.5) < 0.03
    assert abs(weighted.jsd) < 0.01
    w = np.exp(0.5 - model)
    assert weighted.n_eff_model == pytest.approx(w.sum() ** 2 / (w**2).sum())


def test_signed_weights_independent_of_the_features_change_nothing(
    rng: np.random.Generator,
) -> None:
    # a fifth of the model events at weight -0.5, the rest at 1.5: the weighted density
    # is still N(0, 1), with n_eff well below N
    model = rng.normal(size=1500)
    w = np.where(rng.uniform(size=1500) < 0.2, -0.5, 1.5)
    result = stats.classifier_test(rng.normal(size=1500), model, w, **SMALL)
    assert result.auc_interval[0] <= 0.5 <= result.auc_interval[1]
    assert abs(result.jsd) < 0.01
    assert result.n_eff_model == pytest.approx(w.sum() ** 2 / (w**2).sum())
    assert result.n_eff_model < 0.8 * 1500


def test_interval_coverage_under_the_null() -> None:
    # 20 pairs of 300 + 300 events of one distribution: the 95 % interval covers 0.5 in
    # at least 16 (binomial: fewer has probability 1.6 % for a true 95 %), and the
    # interval's width matches the spread of the AUC over the pairs within a factor 1.6
    aucs, covered, sigmas = [], 0, []
    for seed in range(20):
        rng = np.random.default_rng(500 + seed)
        result = stats.classifier_test(
            rng.normal(size=300), rng.normal(size=300), hidden=(16,), epochs=5, seed=seed
        )
        lo, hi = result.auc_interval
        aucs.append(result.auc)
        covered += lo <= 0.5 <= hi
        sigmas.append((hi - lo) / (2 * 1.96))
    assert covered >= 16
    ratio = np.mean(sigmas) / np.std(aucs, ddof=1)
    assert 1 / 1.6 < ratio < 1.6


def test_inputs_mappings_torch_and_the_seed(rng: np.random.Generator) -> None:
    ref, mod = rng.normal(size=(400, 2)), rng.normal(0.5, 1, size=(400, 2))
    w = rng.uniform(0.5, 1.5, 400)
    settings = {"hidden": (8,), "epochs": 3, "n_bootstrap": 20}
    base = stats.classifier_test(ref, mod, w, **settings)
    as_dict = stats.classifier_test(
        {"a": ref[:, 0], "b": ref[:, 1]}, {"b": mod[:, 1], "a": mod[:, 0]}, w, **settings
    )
    as_torch = stats.classifier_test(torch.from_numpy(ref), torch.from_numpy(mod), w, **settings)
    assert dataclasses.astuple(as_dict) == dataclasses.astuple(base)
    assert dataclasses.astuple(as_torch) == dataclasses.astuple(base)
    other_seed = stats.classifier_test(ref, mod, w, seed=1, **settings)
    assert other_seed.auc != base.auc
    assert "AUC" in str(base)


def test_several_weightings_at_once_are_the_tests_one_by_one(rng: np.random.Generator) -> None:
    """classifier_tests trains the networks of every weighting side by side: the numbers
    are those of one classifier_test per weighting, exactly."""
    ref, mod = rng.normal(size=(600, 3)), rng.normal(0.3, 1, size=(600, 3))
    w = rng.uniform(0.5, 1.5, 600)
    w_ref = rng.uniform(0.8, 1.2, 600)
    settings = {"hidden": (16, 8), "epochs": 3, "n_bootstrap": 30, "folds": 3, "seed": 4}
    together = stats.classifier_tests(ref, mod, [None, w, 2 * w], w_ref, **settings)
    one_by_one = [
        stats.classifier_test(ref, mod, weights, w_ref, **settings) for weights in (None, w, 2 * w)
    ]
    assert [dataclasses.astuple(t) for t in together] == [
        dataclasses.astuple(t) for t in one_by_one
    ]
    assert together[1] == together[2]  # the weights' scale does not enter
    with pytest.raises(ValueError, match="holds no weighting"):
        stats.classifier_tests(ref, mod, [])


@pytest.mark.parametrize("foreach", [True, False])
def test_adam_written_out_is_torchs_to_the_bit(foreach: bool) -> None:
    from dctrgan.stats._adam import Adam

    torch.manual_seed(5)
    ours = [torch.randn(3, 7, 5, requires_grad=True), torch.randn(3, 1, 5, requires_grad=True)]
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    mine, reference = Adam(ours, lr=3e-3), torch.optim.Adam(theirs, lr=3e-3, foreach=foreach)
    x = torch.randn(3, 11, 7)
    for _ in range(25):
        loss = torch.tanh(torch.baddbmm(ours[1], x, ours[0])).square().sum()
        mine.step(torch.autograd.grad(loss, ours))
        reference.zero_grad()
        torch.tanh(torch.baddbmm(theirs[1], x, theirs[0])).square().sum().backward()
        reference.step()
    for a, b in zip(ours, theirs, strict=True):
        assert torch.equal(a, b)


def test_classifier_test_errors(rng: np.random.Generator) -> None:
    x = rng.normal(size=(50, 2))
    with pytest.raises(ValueError, match="reference has 2 features, model 3"):
        stats.classifier_test(x, rng.normal(size=(50, 3)))
    with pytest.raises(ValueError, match="has the features"):
        stats.classifier_test({"a": x[:, 0]}, {"b": x[:, 0]})
    with pytest.raises(TypeError, match="both as mappings"):
        stats.classifier_test({"a": x[:, 0]}, x[:, 0])
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite value"):
        stats.classifier_test(x, bad)
    with pytest.raises(ValueError, match=r"'model_weights' has shape \(49,\)"):
        stats.classifier_test(x, x, np.ones(49))
    with pytest.raises(ValueError, match="positive sum"):
        stats.classifier_test(x, x, reference_weights=-np.ones(50))
    with pytest.raises(ValueError, match="folds=1"):
        stats.classifier_test(x, x, folds=1)
    with pytest.raises(ValueError, match="level=1"):
        stats.classifier_test(x, x, level=1)
    with pytest.raises(ValueError, match="fewer than two per fold"):
        stats.classifier_test(x[:5], x, folds=5)
    with pytest.raises(ValueError, match="class has no events"):
        stats.weighted_auc([0.1, 0.2], [1, 1])


def test_calibration_curve_and_reliability_diagram() -> None:
    # labels drawn with probability equal to the score: perfectly calibrated; 40 000
    # events in 10 bins, so each point is within 3 sigma (about 0.015) of the diagonal
    rng = np.random.default_rng(11)
    scores = rng.uniform(size=40_000)
    labels = (rng.uniform(size=40_000) < scores).astype(int)
    weights = rng.uniform(0.5, 1.5, 40_000)
    curve = stats.calibration_curve(scores, labels, weights, bins=10)
    assert np.all(np.abs(curve.observed - curve.predicted) < 3 * curve.error + 1e-3)
    np.testing.assert_allclose(curve.predicted, np.arange(10) / 10 + 0.05, atol=0.01)
    n = np.histogram(scores, bins=curve.edges, weights=weights)[0]
    n2 = np.histogram(scores, bins=curve.edges, weights=weights**2)[0]
    np.testing.assert_allclose(curve.n_eff, n**2 / n2)
    fig, ax = plot.reliability(scores, labels, weights, bins=10)
    assert ax.figure is fig
    points = ax.containers[0].lines[0].get_xydata()
    np.testing.assert_allclose(points[:, 0], curve.predicted)
    np.testing.assert_allclose(points[:, 1], curve.observed)
    assert np.all(np.abs(points[:, 1] - points[:, 0]) < 0.03)
    # onto a given axes: the same figure comes back
    fig2, ax2 = plot.reliability(scores, labels, ax=ax)
    assert ax2 is ax
    assert fig2 is fig
    with pytest.raises(ValueError, match="probabilities"):
        stats.calibration_curve([1.5], [1])
    with pytest.raises(ValueError, match="0 or 1"):
        stats.calibration_curve([0.5], [2])
