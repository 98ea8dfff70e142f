"""Fréchet and kernel physics distances with weights: known answers for Gaussians, the
unweighted estimators for unit weights, and weights that move a sample onto another."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from dctrgan.stats import Distance, fpd, kpd
from dctrgan.stats.distances import _frechet, _mmd2


def test_frechet_of_gaussians_is_the_closed_form(rng: np.random.Generator) -> None:
    """For independent Gaussian features the distance is sum (mu1 - mu2)^2 + (s1 - s2)^2."""
    x = rng.normal([0.0, 1.0], [1.0, 2.0], (60_000, 2))
    y = rng.normal([1.0, 1.0], [2.0, 1.0], (60_000, 2))
    expected = 1.0 + 1.0 + 0.0 + 1.0  # means 1 and 0 apart, widths 1 and 1 apart
    d = fpd(x, y, normalise=False, min_samples=20_000, max_samples=60_000, num_batches=4)
    assert isinstance(d, Distance)
    assert d.value == pytest.approx(expected, abs=0.05)
    # unit weights are no weights, to the last bit
    same = fpd(
        x,
        y,
        reference_weights=np.ones(len(x)),
        model_weights=np.ones(len(y)),
        normalise=False,
        min_samples=20_000,
        max_samples=60_000,
        num_batches=4,
    )
    assert same == d


def test_frechet_of_correlated_gaussians_with_the_matrix_formula() -> None:
    """Two small samples whose means and covariances are known: the formula with the
    symmetric square root, against the trace of sqrt of the eigenvalues of S1 S2."""
    x = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0], [2.0, 1.0], [1.0, 3.0]])
    y = np.array([[1.0, 1.0], [3.0, 2.0], [0.0, 2.0], [2.0, 0.0]])
    w = np.ones
    s1, s2 = np.cov(x.T), np.cov(y.T)
    eig = np.linalg.eigvals(s1 @ s2)  # real and non-negative for two covariances
    diff = x.mean(0) - y.mean(0)
    expected = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(eig.real).sum()
    assert _frechet(x, w(5), y, w(4)) == pytest.approx(expected, rel=1e-12)


def test_mmd_is_the_unbiased_estimator_for_unit_weights_and_weighted_pairs(
    rng: np.random.Generator,
) -> None:
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(5, 3)) + 0.5

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return float((a @ b / 3 + 1) ** 3)

    def by_definition(wx: np.ndarray, wy: np.ndarray) -> float:
        xx = sum(wx[i] * wx[j] * k(x[i], x[j]) for i, j in itertools.permutations(range(7), 2))
        yy = sum(wy[i] * wy[j] * k(y[i], y[j]) for i, j in itertools.permutations(range(5), 2))
        xy = sum(wx[i] * wy[j] * k(x[i], y[j]) for i in range(7) for j in range(5))
        pxx = sum(wx[i] * wx[j] for i, j in itertools.permutations(range(7), 2))
        pyy = sum(wy[i] * wy[j] for i, j in itertools.permutations(range(5), 2))
        return xx / pxx + yy / pyy - 2 * xy / (wx.sum() * wy.sum())

    ones_x, ones_y = np.ones(7), np.ones(5)
    assert _mmd2(x, ones_x, y, ones_y) == pytest.approx(by_definition(ones_x, ones_y), rel=1e-12)
    wx, wy = rng.uniform(0.2, 3.0, 7), rng.uniform(0.2, 3.0, 5)
    assert _mmd2(x, wx, y, wy) == pytest.approx(by_definition(wx, wy), rel=1e-12)


def test_weights_that_move_a_sample_close_the_distances(rng: np.random.Generator) -> None:
    """N(0, 1) weighted by exp(mu x - mu^2 / 2) is N(mu, 1): the weighted distances to
    N(mu, 1) vanish within their errors, the unweighted ones do not."""
    mu = 0.5
    reference = rng.normal(mu, 1.0, (20_000, 2))
    model = rng.normal(0.0, 1.0, (20_000, 2))
    weights = np.exp(model @ [mu, mu] - mu**2)
    options = {"min_samples": 8_000, "max_samples": 20_000, "num_batches": 3, "num_points": 4}
    raw = fpd(reference, model, normalise=False, **options)
    weighted = fpd(reference, model, model_weights=weights, normalise=False, **options)
    assert raw.value == pytest.approx(2 * mu**2, rel=0.1)  # means apart by mu in 2 features
    assert abs(weighted.value) < max(0.02, 3 * weighted.error)
    raw_k = kpd(reference, model, batch_size=2_000, num_batches=5)
    weighted_k = kpd(reference, model, model_weights=weights, batch_size=2_000, num_batches=5)
    assert raw_k.value > 5 * max(raw_k.error, 1e-5)
    assert abs(weighted_k.value) < raw_k.value / 10
    assert math.isfinite(weighted_k.error)


def test_same_distribution_gives_kpd_near_zero(rng: np.random.Generator) -> None:
    a, b = rng.normal(size=(6_000, 4)), rng.normal(size=(6_000, 4))
    d = kpd(a, b, batch_size=3_000, num_batches=6)
    assert abs(d.value) < 3 * d.error + 1e-3
    assert str(d).count("±") == 1


def test_a_feature_almost_constant_in_the_reference_cannot_swell_the_distance(
    rng: np.random.Generator,
) -> None:
    # a width of 1e-6 from rounding in the reference, a real spread of a few mm in 1 %
    # of the model's events: scaled by the reference alone this one feature gave 1e10
    reference = np.column_stack([rng.normal(size=4_000), 1e-6 * rng.random(4_000)])
    model = np.column_stack([rng.normal(size=4_000), 4.0 * (rng.random(4_000) < 0.01)])
    d = fpd(reference, model, min_samples=2_000, max_samples=4_000, num_batches=3)
    assert 0.0 < d.value < 0.05  # the second feature's share: 1 % of events at 1 (scaled)
    assert kpd(reference, model, batch_size=2_000, num_batches=4).value < 0.01


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="reference has 2 features, model 3"):
        fpd(np.zeros((10, 2)), np.zeros((10, 3)))
    with pytest.raises(ValueError, match="non-finite value"):
        kpd(np.full((10, 2), np.nan), np.zeros((10, 2)))
    with pytest.raises(ValueError, match="'model_weights' has shape"):
        kpd(np.zeros((10, 2)), np.zeros((10, 2)), model_weights=np.ones(3))
    with pytest.raises(ValueError, match="needs two events per sample"):
        kpd(np.zeros((1, 2)), np.zeros((10, 2)))
