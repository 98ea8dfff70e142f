"""Signed (negative) input weights, as NLO generators produce them: DCTR's fit, its loss
and calibration, and every statistic (issue 14, item 4)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import hist
import numpy as np
import pytest
import torch
from torch import nn

from dctrgan import stats
from dctrgan.dctr import DCTR
from dctrgan.dctr._inputs import sample_weight, training_sample
from dctrgan.dctr.calibration import fit_offset, fit_temperature
from dctrgan.training.loop import (
    ClassifierLoss,
    classifier_step,
    evaluate_classifier,
    weighted_loss,
)

# f(x) = (1 + A) N(x; 0, 1) - A N(x; 0, S) >= 0 (A <= S / (1 - S)): a density written as
# a difference of two positive ones, sampled with weights +1 and -1 (A / (1 + 2 A) = 25 %
# negative); the reference is g = N(0, 1), so the exact weight is g / f.
A, S = 0.5, 0.5


def normal_pdf(x: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    return np.exp(-0.5 * (x / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


def signed_density(x: np.ndarray) -> np.ndarray:
    return (1 + A) * normal_pdf(x) - A * normal_pdf(x, S)


def signed_sample(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` events of the mixture ``((1 + A) N(0, 1) + A N(0, S)) / (1 + 2 A)``, the
    second component with weight -1: the weighted sample has density ``f``."""
    negative = rng.random(n) < A / (1 + 2 * A)
    x = np.where(negative, rng.normal(0.0, S, n), rng.normal(0.0, 1.0, n))
    return x, np.where(negative, -1.0, 1.0)


def weighted_hist(x: np.ndarray, w: np.ndarray | None, edges: np.ndarray) -> Any:
    return hist.Hist(hist.axis.Variable(edges), storage=hist.storage.Weight()).fill(x, weight=w)


# --- DCTR: known answer ------------------------------------------------------------------


@pytest.fixture(scope="module")
def signed_fit() -> tuple[DCTR, np.random.Generator]:
    """DCTR of the signed sample to N(0, 1): 50 000 events each, seed 0, at most 15 epochs
    (early stopping, patience 3), batches of 512, a (64, 64) MLP: ~5 s on one core."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    x_fake, w_fake = signed_sample(50_000, rng)
    x_real = rng.normal(0.0, 1.0, 50_000)
    dctr = DCTR(hidden=(64, 64), batch_size=512, epochs=15, patience=3, progress=False, seed=0)
    return dctr.fit(x_real[:, None], x_fake[:, None], fake_weight=w_fake), rng


def test_signed_weights_give_the_exact_ratio(
    signed_fit: tuple[DCTR, np.random.Generator],
) -> None:
    dctr, rng = signed_fit
    x = rng.normal(0.0, 1.0, 100_000)
    x = x[np.abs(x) < 1.6449]  # the central 90 % of the reference
    exact = np.log(normal_pdf(x) / signed_density(x))
    learned = np.log(dctr.weight(x[:, None]).astype(np.float64))
    # measured 0.025 (seeds 0-5 of this setting: 0.013-0.025)
    assert np.median(np.abs(learned - exact)) < 0.05
    # the test can fail: dropping the signs (|w|) learns N(0, 1) / mixture, far off
    mixture = ((1 + A) * normal_pdf(x) + A * normal_pdf(x, S)) / (1 + 2 * A)
    assert np.median(np.abs(np.log(normal_pdf(x) / mixture) - exact)) > 0.5


def test_signed_weighted_histogram_matches_the_reference(
    signed_fit: tuple[DCTR, np.random.Generator],
) -> None:
    dctr, rng = signed_fit
    x_fake, w_fake = signed_sample(50_000, rng)
    x_real = rng.normal(0.0, 1.0, 50_000)
    edges = np.linspace(-3.0, 3.0, 31)
    reference = weighted_hist(x_real, None, edges)
    weighted = weighted_hist(x_fake, w_fake * dctr.weight(x_fake[:, None]), edges)
    before = weighted_hist(x_fake, w_fake, edges)
    floor = stats.statistical_floor_hist(weighted, reference, method="bins")
    assert stats.separation_power(before, reference) > 30 * floor
    assert stats.separation_power(weighted, reference) < 3 * floor  # measured 1.0-2.3


def test_fit_keeps_every_event_and_its_signed_weight() -> None:
    w = np.array([1.0, -0.5, 0.0, 2.0])
    sample = training_sample(np.ones((3, 1)), np.ones((4, 1)), None, w, "mlp", "auto")
    assert len(sample.weight) == 7
    np.testing.assert_array_equal(sample.weight[3:], w)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([1.0, 1.0], r"fake_weight: expected shape \(4,\) \(one weight per event\)"),
        ([1.0, np.nan, 1.0, 1.0], r"1 weight\(s\) not finite, first nan at event 1"),
        ([1.0, 1.0, np.inf, -np.inf], r"2 weight\(s\) not finite, first inf at event 2"),
        ([-1.0, -2.0, -0.5, -1.0], "all-negative input weights: all 4 weights are <= 0"),
        ([0.0, 0.0, 0.0, 0.0], "no positive weight: all 4 weights are <= 0"),
        ([1.0, -2.0, 0.5, -0.5], r"the weights sum to -1 <= 0 \(2 of 4 negative\)"),
    ],
)
def test_bad_signed_weights_are_refused(weights: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DCTR(epochs=1, progress=False).fit(np.ones((4, 1)), np.ones((4, 1)), fake_weight=weights)


def test_sample_weight_accepts_any_sign_with_a_positive_sum() -> None:
    w = sample_weight(None, [2.0, -1.0, 0.0], 3, "real_weight")
    np.testing.assert_array_equal(w, [2.0, -1.0, 0.0])


# --- the loss ----------------------------------------------------------------------------


class FreeLogits(nn.Module):
    """One free logit per input index: a network that can isolate every event."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.logit = nn.Parameter(torch.zeros(n))

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        return self.logit[index]


def _run(
    model: nn.Module, batch: tuple[torch.Tensor, ...], loss: ClassifierLoss, steps: int
) -> list[float]:
    step = classifier_step(model, torch.optim.Adam(model.parameters(), lr=0.1), loss=loss)
    return [float(step(batch)["train_loss"]) for _ in range(steps)]


def test_bce_is_unbounded_below_with_a_negative_weight_and_brier_is_not() -> None:
    # a real event, a fake one, and a fake one of weight -0.5 the network can isolate
    batch = (torch.arange(3), torch.tensor([1.0, 0.0, 0.0]), torch.tensor([1.0, 1.0, -0.5]))
    bce = _run(FreeLogits(3), batch, "bce", 300)
    brier = _run(FreeLogits(3), batch, "brier", 300)
    assert bce[-1] < -5.0  # -0.5 * log(1 / (1 - h)) / 3 without end: h -> 1, w -> inf
    assert min(brier) >= -0.5 / 3 - 1e-6  # w (y - h)^2 >= -|w| per event


def test_brier_minimizer_is_the_signed_density_ratio() -> None:
    # all events at one point: real weights sum to 1.5, fake to 0.75: h = 1.5 / 2.25
    index = torch.zeros(5, dtype=torch.int64)
    target = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0])
    weight = torch.tensor([1.0, 1.0, -0.5, 1.0, -0.25])
    model = FreeLogits(1)
    _run(model, (index, target, weight), "brier", 400)
    assert torch.sigmoid(model.logit).item() == pytest.approx(2 / 3, abs=1e-4)


def _batches(n: int, negative: bool) -> Iterator[tuple[torch.Tensor, ...]]:
    generator = torch.Generator().manual_seed(3)
    for _ in range(5):
        x = torch.randn(n, 2, generator=generator)
        w = torch.rand(n, generator=generator) + 0.1
        if negative:
            w[::4] *= -1
        yield x, (x[:, 0] > 0).float(), w


@pytest.mark.parametrize(("negative", "same_as"), [(False, "bce"), (True, "brier")])
def test_auto_loss_is_bce_without_negative_weights(negative: bool, same_as: ClassifierLoss) -> None:
    params = []
    losses: tuple[ClassifierLoss, ClassifierLoss] = ("auto", same_as)
    for loss in losses:
        torch.manual_seed(0)
        model = nn.Linear(2, 1)
        net = nn.Sequential(model, nn.Flatten(0))
        step = classifier_step(net, torch.optim.Adam(net.parameters(), lr=0.01), loss=loss)
        for batch in _batches(64, negative):
            step(batch)
        params.append(torch.cat([p.detach().ravel() for p in net.parameters()]))
    assert torch.equal(params[0], params[1])  # bit-identical


def test_validation_loss_is_brier_with_negative_weights() -> None:
    linear = nn.Linear(1, 1)
    with torch.no_grad():
        linear.weight.fill_(0.0)
        linear.bias.fill_(math.log(3.0))  # h = 3/4 everywhere
    net = nn.Sequential(linear, nn.Flatten(0))
    x = torch.zeros(3, 1)
    target, weight = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([2.0, 1.0, -1.0])
    loss, _ = evaluate_classifier(net, [(x, target, weight)])
    # (2 (1/4)^2 + 1 (3/4)^2 - 1 (3/4)^2) / (2 + 1 - 1) = 1/16
    assert loss == pytest.approx(1 / 16, rel=1e-6)
    bce, _ = evaluate_classifier(net, [(x, target, weight.abs())])
    assert bce == pytest.approx((2 * math.log(4 / 3) + 2 * math.log(4)) / 4, rel=1e-6)
    per_event = weighted_loss(torch.zeros(2), torch.tensor([1.0, 0.0]), torch.ones(2), "brier")
    np.testing.assert_allclose(per_event.numpy(), [0.25, 0.25])
    with pytest.raises(ValueError, match="loss must be 'auto', 'bce' or 'brier'"):
        evaluate_classifier(net, [], loss="mse")  # type: ignore[arg-type]


# --- calibration -------------------------------------------------------------------------


def test_temperature_with_cancelling_signed_events_is_unchanged() -> None:
    rng = np.random.default_rng(5)
    s = rng.normal(0.0, 2.0, 20_000)  # calibrated logits: labels ~ Bernoulli(sigmoid(s))
    y = (rng.random(len(s)) < 1 / (1 + np.exp(-s))).astype(float)
    z, w = 2.0 * s, np.ones(len(s))  # an overconfident classifier: T = 2
    t_plain = fit_temperature(z, y, w, loss="brier")
    assert t_plain == pytest.approx(2.0, rel=0.05)
    # pairs of events with weights +w and -w cancel in every sum: the same temperature
    extra = rng.normal(0.0, 3.0, 5_000)
    labels = (rng.random(5_000) < 0.5).astype(float)
    z2 = np.concatenate([z, extra, extra])
    y2 = np.concatenate([y, labels, labels])
    w2 = np.concatenate([w, np.full(5_000, 1.5), np.full(5_000, -1.5)])
    assert fit_temperature(z2, y2, w2) == pytest.approx(t_plain, rel=1e-6)


def test_offset_normalizes_the_signed_total() -> None:
    # sum w0 exp(z + b) = sum w0: (2 - 2 + 3) e^b = 2
    z, w0 = np.log([1.0, 2.0, 3.0]), np.array([2.0, -1.0, 1.0])
    assert fit_offset(z, 1.0, w0) == pytest.approx(math.log(2 / 3), rel=1e-12)
    # positive weights (and a zero one) as before: the weighted mean of the weights is 1
    assert fit_offset(z, 1.0, np.array([1.0, 0.0, 1.0])) == pytest.approx(math.log(2 / 4))
    with pytest.raises(ValueError, match="no positive total to normalize"):
        fit_offset(np.array([0.0, 1.0]), 1.0, np.array([1.0, -1.0]))


# --- statistics: hand-computed known answers ---------------------------------------------


def test_effective_entries_and_counts_with_signed_weights() -> None:
    assert stats.effective_entries([1.0, 1.0, -1.0]) == pytest.approx(1 / 3)
    assert stats.effective_entries([2.0, -1.0]) == pytest.approx(1 / 5)
    # bin 0: +1 +1 -1 (sum 1, squares 3); bin 1: -2 +1 (sum -1, squares 5); bin 2: empty
    h = weighted_hist(
        np.array([0.5, 0.5, 0.5, 1.5, 1.5]),
        np.array([1.0, 1.0, -1.0, -2.0, 1.0]),
        np.array([0.0, 1.0, 2.0, 3.0]),
    )
    np.testing.assert_allclose(stats.effective_counts(h), [1 / 3, 1 / 5, 0.0])
    assert stats.effective_entries(h) == 0.0  # sum w = 0 over the histogram


def test_separation_power_with_signed_weights() -> None:
    # signed bins [1 + 1 - 1, 2] = [1, 2] against [1, 1]: 1/2 ((1/6)^2 / (5/6) + (1/6)^2 / (7/6))
    x, w = np.array([0.5, 0.5, 0.5, 1.5]), np.array([1.0, 1.0, -1.0, 2.0])
    edges = np.array([0.0, 1.0, 2.0])
    s2 = stats.separation_power(x, np.array([0.5, 1.5]), edges, weights1=w)
    assert s2 == pytest.approx(1 / 35, rel=1e-12)
    # bins empty in both (p1 + p2 = 0) add nothing; disjoint is still 1
    assert stats.separation_power([1.0, 0.0, 1.0], [1.0, 0.0, 1.0]) == 0.0
    assert stats.separation_power([2.0, 0.0, 0.0], [0.0, 0.0, 2.0]) == pytest.approx(1.0)
    # cancelling weights summed to exact zero count as empty, not negative
    assert stats.separation_power([0.1 + 0.2 - 0.3, 1.0], [0.0, 1.0]) == pytest.approx(0.0)


def test_separation_power_refuses_negative_bins() -> None:
    with pytest.raises(ValueError, match=r"h2 has 1 bin\(s\) with negative content"):
        stats.separation_power([1.0, 1.0, 1.0], [2.0, -0.5, 1.0])
    h = weighted_hist(np.array([0.5, 1.5, 1.5]), np.array([3.0, -2.0, 1.0]), np.arange(3.0))
    with pytest.raises(ValueError, match=r"h1 has 1 bin\(s\) .* first bin 1: -0\.5"):
        stats.separation_power(h, weighted_hist(np.array([0.5, 1.5]), None, np.arange(3.0)))
    with pytest.raises(ValueError, match=r"statistical_floor_hist: h1 has 1 bin\(s\)"):
        stats.statistical_floor_hist(h, h, method="bins")


def test_uncertainty_ratio_with_signed_weights() -> None:
    # model: mean (0 - 1 + 4) / 2 = 3/2, sum w^2 dx^2 = 9/4 + 1/4 + 4/4 = 7/2, sigma = sqrt(7/2) / 2
    # reference: sigma = sqrt(1/2) / 2: r = sqrt(7)
    r = stats.uncertainty_ratio([0.0, 1.0, 2.0], [1.0, -1.0, 2.0], [0.0, 1.0])
    assert r == pytest.approx(math.sqrt(7), rel=1e-12)
    edges = np.array([-0.5, 0.5, 1.5, 2.5])
    h_model = weighted_hist(np.array([0.0, 1.0, 2.0]), np.array([1.0, -1.0, 2.0]), edges)
    h_ref = weighted_hist(np.array([0.0, 1.0]), None, edges)
    assert stats.uncertainty_ratio_hist(h_model, h_ref) == pytest.approx(math.sqrt(7))


def test_statistical_floor_hist_with_signed_weights() -> None:
    # h1: bin 0 +2 -1 (S 1, V 5), bin 1 +1 (S 1, V 1); h2: one entry per bin
    edges = np.array([0.0, 1.0, 2.0])
    h1 = weighted_hist(np.array([0.5, 0.5, 1.5]), np.array([2.0, -1.0, 1.0]), edges)
    h2 = weighted_hist(np.array([0.5, 1.5]), None, edges)
    # n_eff: n1 = 4 / 6, n2 = 2: (2 - 1) / 4 (3/2 + 1/2) = 1/2
    assert stats.statistical_floor_hist(h1, h2) == pytest.approx(0.5)
    # bins: Var p1 = (1/4 * 5 + 1/4 * 1) / 4 = 3/8 per bin, Var p2 = 1/8: 1/2 (1/2 + 1/2)
    assert stats.statistical_floor_hist(h1, h2, method="bins") == pytest.approx(0.5)
    with pytest.raises(ValueError, match="method must be 'n_eff' or 'bins'"):
        stats.statistical_floor_hist(h1, h2, method="exact")


def test_statistical_floor_by_bins_is_the_mean_separation_of_signed_samples() -> None:
    # +-1 weights times the exact ratio to N(0, 1): weights that depend on x. 300 pairs
    # of 20 000 events: the mean S^2 is known to ~2 %; "bins" is within 10 %, "n_eff"
    # (global effective entries) is ~70 % high here
    rng = np.random.default_rng(8)
    edges = np.linspace(-3.0, 3.0, 31)
    found = []
    for _ in range(300):
        x, sign = signed_sample(20_000, rng)
        h1 = weighted_hist(x, sign * normal_pdf(x) / signed_density(x), edges)
        h2 = weighted_hist(rng.normal(0.0, 1.0, 20_000), None, edges)
        found.append(
            (
                stats.separation_power(h1, h2),
                stats.statistical_floor_hist(h1, h2, method="bins"),
                stats.statistical_floor_hist(h1, h2),
            )
        )
    s2, by_bins, by_neff = np.mean(found, axis=0)
    assert by_bins == pytest.approx(s2, rel=0.1)
    assert by_neff > 1.4 * s2


def test_weighted_moments_with_signed_weights() -> None:
    x, w = np.array([0.0, 1.0, 2.0]), np.array([1.0, -1.0, 2.0])
    assert stats.weighted_mean(x, w) == pytest.approx(1.5)
    # (1 * 9/4 - 1 * 1/4 + 2 * 1/4) / 2
    assert stats.weighted_variance(x, w) == pytest.approx(1.25)
    # a = [0, 1, 2, 3], b = [0, 1, 3, 2], w = [2, -1, 1, 2]: means 7/4, 3/2; variances
    # 35/16, 7/4; covariance 13/8: correlation 13 / sqrt(245)
    ab = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 3.0], [3.0, 2.0]])
    corr = stats.weighted_correlation(ab, [2.0, -1.0, 1.0, 2.0])
    np.testing.assert_allclose(corr, [[1.0, 13 / 245**0.5], [13 / 245**0.5, 1.0]], rtol=1e-12)


def test_weighted_moments_refuse_what_signed_weights_leave_meaningless() -> None:
    # mean 1, sum w dx^2 = -1 + 0 - 1: a negative variance
    with pytest.raises(ValueError, match=r"weighted_variance: the signed weights give a negative"):
        stats.weighted_variance([0.0, 1.0, 2.0], [-1.0, 3.0, -1.0])
    # variances 5/4 and 1/4, covariance 3/4: a correlation of 1.34
    ab = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match=r"correlation 1\.342 of columns 0 and 1, beyond"):
        stats.weighted_correlation(ab, [1.0, -1.0, 2.0])
    with pytest.raises(ValueError, match=r"'w' do not have a positive sum \(all-negative"):
        stats.weighted_mean([1.0, 2.0], [-1.0, -1.0])
    with pytest.raises(ValueError, match=r"'w' do not have a positive sum \(-1\.0\)"):
        stats.weighted_mean([1.0, 2.0], [1.0, -2.0])
    with pytest.raises(ValueError, match="1 non-finite weight"):
        stats.weighted_mean([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(ValueError, match=r"'w' has shape \(1,\), expected \(2,\)"):
        stats.weighted_mean([1.0, 2.0], [1.0])
