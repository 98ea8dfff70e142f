from __future__ import annotations

import copy
import pickle

import boost_histogram as bh
import hist
import numpy as np
import pytest

from dctrgan import stats
from dctrgan.hist import Hist


def _filled(rng: np.random.Generator, n: int = 1000, shift: float = 0.0) -> Hist:
    h = Hist(hist.axis.Regular(20, -4, 4, name="x", label="x [cm]"))
    x = rng.normal(shift, 1.0, size=n)
    h.fill(x=x, weight=rng.uniform(0.5, 1.5, size=n))
    return h


def test_default_storage_is_weight_and_explicit_storage_is_kept() -> None:
    assert Hist(hist.axis.Regular(3, 0, 1)).storage_type is bh.storage.Weight
    assert Hist(hist.axis.Regular(3, 0, 1), storage=hist.storage.Double()).storage_type is (
        bh.storage.Double
    )
    assert Hist(hist.axis.Regular(3, 0, 1), hist.storage.Int64()).storage_type is bh.storage.Int64
    assert Hist(hist.axis.Regular(3, 0, 1), storage="double").storage_type is bh.storage.Double
    # converting a histogram keeps its storage and contents
    plain = hist.Hist(hist.axis.Regular(3, 0, 3))
    plain.fill([0.5, 1.5, 1.5])
    converted = Hist(plain)
    assert converted.storage_type is bh.storage.Double
    np.testing.assert_array_equal(converted.values(), [1.0, 2.0, 0.0])
    # quick construction builds this class
    quick = Hist.new.Reg(4, 0, 1, name="e").Weight()
    assert type(quick) is Hist
    assert quick.storage_type is bh.storage.Weight


def test_slicing_projection_and_arithmetic_keep_the_class(rng: np.random.Generator) -> None:
    h = _filled(rng)
    h2d = Hist(hist.axis.Regular(4, 0, 4, name="a"), hist.axis.Regular(3, 0, 3, name="b"))
    h2d.fill(a=[0.5, 1.5], b=[0.5, 2.5])
    results = [
        h[2:10],
        h[:: hist.rebin(2)],
        h * 2.0,
        h + h,
        h.copy(),
        copy.deepcopy(h),
        pickle.loads(pickle.dumps(h)),
        h2d.project("a"),
        h2d[:, sum],
        h2d[{"b": 0}],
    ]
    for r in results:
        assert type(r) is Hist
    # the axes stay hist axes, with their names and labels
    assert isinstance(h[2:10].axes[0], hist.axis.Regular)
    assert h[2:10].axes[0].label == "x [cm]"
    assert h2d.project("a").axes[0].name == "a"
    assert (h * 2.0).storage_type is bh.storage.Weight
    np.testing.assert_allclose((h + h).variances(), 2 * h.variances())


def test_accessors_equal_the_stats_functions(rng: np.random.Generator) -> None:
    h1, h2 = _filled(rng), _filled(rng, n=3000, shift=0.3)
    assert h1.separation_power(h2) == stats.separation_power(h1, h2)
    assert h1.effective_entries() == stats.effective_entries(h1)
    assert h1.effective_entries(flow=True) == stats.effective_entries(h1, flow=True)
    np.testing.assert_array_equal(h1.effective_counts(), stats.effective_counts(h1))
    assert h1.uncertainty_ratio(h2) == stats.uncertainty_ratio_hist(h1, h2)
    for got, expected in zip(h1.ratio_to(h2), stats.histogram_ratio(h1, h2), strict=True):
        np.testing.assert_array_equal(got, expected)
    # a plain hist.Hist or boost-histogram compares with it
    other = bh.Histogram(bh.axis.Regular(20, -4, 4))
    other.fill(rng.normal(size=500))
    assert 0 < h1.separation_power(other) < 0.1


def test_known_values_through_the_class() -> None:
    edges = [0.0, 1.0, 2.0, 3.0]
    h = Hist(hist.axis.Variable(edges))
    h.fill([0.5, 0.5, 1.5], weight=[1.0, 3.0, 2.0])
    # (1 + 3 + 2)^2 / (1 + 9 + 4); per bin (1 + 3)^2 / (1 + 9), 2^2 / 4, empty
    assert h.effective_entries() == pytest.approx(36 / 14, rel=1e-12)
    np.testing.assert_allclose(h.effective_counts(), [1.6, 1.0, 0.0], rtol=1e-12)
    # S^2: 0 for the same shape, 1 for disjoint histograms
    assert h.separation_power(h * 3.0) == pytest.approx(0.0, abs=1e-15)
    disjoint = Hist(hist.axis.Variable(edges))
    disjoint.fill([2.5])
    assert h.separation_power(disjoint) == pytest.approx(1.0)
    # r: unit weights, same shape, nine times the events -> 1/3 exactly
    ref = Hist(hist.axis.Variable(edges))
    ref.fill([0.5, 1.5, 1.5, 2.5])
    model = Hist(hist.axis.Variable(edges))
    model.fill(np.tile([0.5, 1.5, 1.5, 2.5], 9))
    assert model.uncertainty_ratio(ref) == pytest.approx(1 / 3, rel=1e-12)


def test_separation_power_is_bin_width_independent_on_the_class() -> None:
    values = []
    for edges in ([0.0, 1.0, 2.0, 3.0], [-5.0, 0.5, 0.7, 30.0]):
        a, b = Hist(hist.axis.Variable(edges)), Hist(hist.axis.Variable(edges))
        centers = 0.5 * (np.asarray(edges[1:]) + np.asarray(edges[:-1]))
        a.fill(centers, weight=[5.0, 3.0, 2.0])
        b.fill(centers, weight=[2.0, 3.0, 5.0])
        values.append(a.separation_power(b))
    assert values[0] == pytest.approx(values[1], rel=1e-12)
    assert values[0] == pytest.approx(stats.separation_power([5, 3, 2], [2, 3, 5]), rel=1e-12)


def test_errors_reach_the_caller() -> None:
    a = Hist(hist.axis.Regular(3, 0, 3))
    b = Hist(hist.axis.Regular(4, 0, 3))
    a.fill([0.5])
    b.fill([0.5])
    with pytest.raises(ValueError, match="different shapes"):
        a.separation_power(b)
    with pytest.raises(ValueError, match="no positive content"):
        Hist(hist.axis.Regular(3, 0, 3)).uncertainty_ratio(a)
    doubled = Hist(hist.axis.Regular(3, 0, 3), storage=hist.storage.Double())
    doubled.fill([0.5], weight=[2.0])
    with pytest.raises(ValueError, match="Weight\\(\\) storage"):
        doubled.effective_counts()
