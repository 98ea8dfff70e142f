from __future__ import annotations

import boost_histogram as bh
import hist
import numpy as np
import pytest

from dctrgan import stats


def test_separation_power_identical_is_zero_and_disjoint_is_one() -> None:
    a = np.array([1.0, 4.0, 2.0, 0.0])
    assert stats.separation_power(a, 3 * a) == pytest.approx(0.0, abs=1e-15)
    assert stats.separation_power([1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 5.0, 1.0]) == pytest.approx(1.0)


def test_separation_power_known_value() -> None:
    # p1 = (0.5, 0.5), p2 = (0.25, 0.75): 1/2 * (0.0625/0.75 + 0.0625/1.25)
    expected = 0.5 * (0.0625 / 0.75 + 0.0625 / 1.25)
    assert stats.separation_power([1, 1], [1, 3]) == pytest.approx(expected, rel=1e-12)


def test_separation_power_on_uhi_histograms_is_bin_width_independent() -> None:
    counts1, counts2 = np.array([5.0, 3.0, 2.0]), np.array([2.0, 3.0, 5.0])
    values = []
    for edges in ([0.0, 1.0, 2.0, 3.0], [0.0, 0.1, 2.0, 10.0]):
        h1 = hist.Hist(hist.axis.Variable(edges), storage=hist.storage.Weight())
        h2 = bh.Histogram(bh.axis.Variable(edges))
        h1.fill(np.repeat(np.asarray(edges[:-1]) + 1e-3, counts1.astype(int)))
        h2.fill(np.repeat(np.asarray(edges[:-1]) + 1e-3, counts2.astype(int)))
        values.append(stats.separation_power(h1, h2))
    assert values[0] == pytest.approx(values[1], rel=1e-12)
    assert values[0] == pytest.approx(stats.separation_power(counts1, counts2), rel=1e-12)


def test_separation_power_of_samples_with_weights(rng: np.random.Generator) -> None:
    x = rng.normal(size=10_000)
    bins = np.linspace(-4, 4, 41)
    # weighting a sample by the density ratio N(0.5,1)/N(0,1) reproduces the shifted sample
    w = np.exp(0.5 * x - 0.125)
    shifted = rng.normal(0.5, 1.0, size=10_000)
    s2_raw = stats.separation_power(x, shifted, bins)
    s2_weighted = stats.separation_power(x, shifted, bins, weights1=w)
    assert s2_raw > 0.02
    assert s2_weighted < 0.2 * s2_raw
    # an integer bin count uses common edges for both samples
    assert stats.separation_power(x, x + 100, 10) == pytest.approx(1.0)


def test_separation_power_errors() -> None:
    with pytest.raises(ValueError, match="different shapes"):
        stats.separation_power([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="no \\(positive\\) content"):
        stats.separation_power([0, 0], [1, 2])


def test_effective_entries() -> None:
    assert stats.effective_entries(np.ones(100)) == pytest.approx(100.0)
    # (1 + 3)^2 / (1 + 9)
    assert stats.effective_entries([1.0, 3.0]) == pytest.approx(1.6)
    assert stats.effective_entries([]) == 0.0
