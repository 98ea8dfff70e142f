"""dctrgan.Hist with replicas of the weighting, chi2 and KS between histograms."""

from __future__ import annotations

import copy
import math
import pickle

import awkward as ak
import hist
import numpy as np
import pytest

from dctrgan import stats
from dctrgan.hist import Hist


def _axis() -> hist.axis.Regular:
    return hist.axis.Regular(8, -4, 4, name="x")


def _with_replicas(rng: np.random.Generator, k: int = 4, n: int = 2000) -> tuple[Hist, ...]:
    x = rng.normal(size=n)
    w = rng.uniform(0.5, 1.5, n)
    replicas = w[:, None] * rng.uniform(0.8, 1.2, (n, k))
    h = Hist(_axis()).fill(x=x, weight=w, replicas=replicas)
    return h, x, w, replicas


def test_replicas_equal_to_the_nominal_have_no_spread(rng: np.random.Generator) -> None:
    x, w = rng.normal(size=500), rng.uniform(0.5, 2.0, 500)
    h = Hist(_axis()).fill(x=x, weight=w, replicas=np.repeat(w[:, None], 5, axis=1))
    assert h.n_replicas == 5
    assert h.replica_values().shape == (5, 8)
    np.testing.assert_allclose(h.replica_values(), np.broadcast_to(h.values(), (5, 8)))
    np.testing.assert_allclose(h.reweighting_uncertainty(), 0.0, atol=1e-12)
    np.testing.assert_allclose(h.statistical_uncertainty(), np.sqrt(h.variances()))
    np.testing.assert_allclose(h.total_uncertainty(), h.statistical_uncertainty(), rtol=1e-12)


def test_alternating_replicas_give_the_known_spread(rng: np.random.Generator) -> None:
    # replicas w (1 + d), w (1 - d), ...: bin values v (1 +- d); k = 6, sample std with ddof=1
    x, w, d, k = rng.normal(size=800), rng.uniform(0.5, 2.0, 800), 0.1, 6
    signs = np.array([1.0, -1.0] * (k // 2))
    h = Hist(_axis()).fill(x=x, weight=w, replicas=w[:, None] * (1 + d * signs))
    expected = d * h.values() * math.sqrt(k / (k - 1))
    np.testing.assert_allclose(h.reweighting_uncertainty(), expected, rtol=1e-12)
    np.testing.assert_allclose(
        h.total_uncertainty(), np.hypot(np.sqrt(h.variances()), expected), rtol=1e-12
    )
    flow = h.reweighting_uncertainty(flow=True)
    assert flow.shape == (10,)


def test_replicas_follow_arithmetic_copies_pickles_slices_projections(
    rng: np.random.Generator,
) -> None:
    h, *_ = _with_replicas(rng)
    g, *_ = _with_replicas(rng)
    before = h.replica_values().copy()
    total = h + g
    np.testing.assert_allclose(total.replica_values(), h.replica_values() + g.replica_values())
    np.testing.assert_allclose(total.values(), h.values() + g.values())
    acc = h.copy()
    acc += g
    np.testing.assert_allclose(acc.replica_values(), total.replica_values())
    np.testing.assert_array_equal(h.replica_values(), before)  # h + g left h alone
    np.testing.assert_allclose((h + 1.0).replica_values(), before + 1)
    np.testing.assert_allclose((h * 2.0).replica_values(), 2 * h.replica_values())
    np.testing.assert_allclose((h / 4.0).replica_values(), h.replica_values() / 4)
    for other in (copy.copy(h), copy.deepcopy(h), pickle.loads(pickle.dumps(h)), Hist(h)):
        assert type(other) is Hist
        np.testing.assert_array_equal(other.replica_values(), h.replica_values())
    # copies are independent
    clone = h.copy()
    clone.fill(x=[0.5], weight=[1.0], replicas=[[1.0] * 4])
    assert clone.replica_values().sum() == pytest.approx(h.replica_values().sum() + 4)
    # slicing and rebinning: the same bins of each replica
    np.testing.assert_allclose(h[2:6].replica_values(), h.replica_values()[:, 2:6])
    rebinned = h[:: hist.rebin(2)].replica_values()
    np.testing.assert_allclose(rebinned, h.replica_values().reshape(4, 4, 2).sum(axis=2))
    np.testing.assert_allclose(h[::2j].replica_values(), rebinned)
    # projections of a 2-D histogram, by name
    h2 = Hist(_axis(), hist.axis.Integer(0, 3, name="n"))
    n = rng.integers(0, 3, 300)
    x, w = rng.normal(size=300), rng.uniform(size=300)
    h2.fill(x=x, n=n, weight=w, replicas=np.stack([w, 2 * w], axis=1))
    np.testing.assert_allclose(h2.project("x").replica_values()[1], 2 * h2.project("x").values())
    np.testing.assert_allclose(h2[:, sum].replica_values(), h2.project("x").replica_values())
    # reset clears both
    assert h.copy().reset().replica_values().sum() == 0


def test_mismatched_replicas_are_refused(rng: np.random.Generator) -> None:
    h, *_ = _with_replicas(rng, k=4)
    g, *_ = _with_replicas(rng, k=3)
    plain = Hist(_axis()).fill(x=rng.normal(size=10))
    with pytest.raises(ValueError, match="4 and 3 replicas"):
        h + g
    with pytest.raises(ValueError, match="4 and 0 replicas"):
        h += plain
    with pytest.raises(ValueError, match="0 and 4 replicas"):
        plain + h
    with pytest.raises(ValueError, match="3 columns, the histogram holds 4"):
        h.fill(x=[0.0], replicas=np.ones((1, 3)))
    with pytest.raises(ValueError, match="pass replicas= with every fill"):
        h.fill(x=[0.0])
    with pytest.raises(ValueError, match="already filled without them"):
        plain.fill(x=[0.0], replicas=np.ones((1, 4)))
    with pytest.raises(ValueError, match=r"\(N, k\)"):
        Hist(_axis()).fill(x=[0.0, 1.0], replicas=np.ones(2))
    with pytest.raises(ValueError, match="non-finite"):
        Hist(_axis()).fill(x=[0.0], replicas=[[np.nan, 1.0]])
    with pytest.raises(ValueError, match="different numbers of events"):
        Hist(_axis()).fill(x=ak.Array([[0.0], [1.0]]), replicas=np.ones((3, 2)))
    with pytest.raises(TypeError, match="numbers only"):
        h * h
    with pytest.raises(TypeError, match="setting bins"):
        h[0] = (1.0, 1.0)
    with pytest.raises(ValueError, match="without replicas"):
        plain.reweighting_uncertainty()
    cats = Hist(hist.axis.StrCategory(["a", "b"], name="c")).fill(c=["a"], replicas=[[1.0, 2.0]])
    with (
        pytest.warns(UserWarning, match="List indexing"),
        pytest.raises(TypeError, match="not supported for the replicas"),
    ):
        cats[{"c": ["b", "a"]}]
    one = Hist(_axis()).fill(x=[0.0], replicas=[[1.0]])
    with pytest.raises(ValueError, match="two replicas"):
        one.total_uncertainty()


def test_jagged_fills_broadcast_the_replicas_like_the_weight() -> None:
    pt = ak.Array([[45.0, 30.0], [], [80.0, 55.0, 21.0]])
    w = np.array([0.5, 2.0, 1.5])
    replicas = np.stack([w, 3 * w], axis=1)
    axis = hist.axis.Regular(10, 0, 100, name="pt")
    h = Hist(axis).fill(pt=pt, weight=w, replicas=ak.Array(replicas))
    np.testing.assert_allclose(h.replica_values()[0], h.values())
    np.testing.assert_allclose(h.replica_values()[1], 3 * h.values())
    assert h.replica_values()[1].sum() == pytest.approx(3 * (2 * 0.5 + 3 * 1.5))
    # entries dropped for a None value drop their replicas too
    lead = Hist(axis).fill(pt=ak.firsts(pt), weight=w, replicas=replicas)
    np.testing.assert_allclose(lead.replica_values().sum(axis=1), [2.0, 6.0])


def test_chi2_matches_a_hand_computation() -> None:
    axis = hist.axis.Regular(3, 0, 3, name="x")
    h1 = Hist(axis).fill(x=[0.5, 0.5, 1.5, 2.5], weight=[1.0, 2.0, 1.0, 1.0])
    h2 = Hist(axis).fill(x=[0.5, 1.5, 1.5], weight=[1.0, 1.0, 2.0])
    # N1 = 5, N2 = 4; bin 3 has entries in h1 only
    n1, s1 = np.array([3.0, 1.0, 1.0]), np.array([5.0, 1.0, 1.0])
    n2, s2 = np.array([1.0, 3.0, 0.0]), np.array([1.0, 5.0, 0.0])
    expected = np.sum((n1 / 5 - n2 / 4) ** 2 / (s1 / 25 + s2 / 16))
    chi2, ndf = h1.chi2(h2)
    assert chi2 == pytest.approx(expected, rel=1e-12)
    assert ndf == 2
    assert (chi2, ndf) == stats.chi2_test(h1, h2)
    assert h1.chi2(h1)[0] == 0.0


def test_chi2_per_ndf_is_one_for_one_distribution() -> None:
    # 200 pairs of weighted samples of one Gaussian, 20 bins, 3000 events each: the mean
    # chi2/ndf is 1 within 0.08 (its standard error is about 0.023)
    rng = np.random.default_rng(7)
    axis = hist.axis.Regular(20, -3, 3, name="x")
    ratios = []
    for _ in range(200):
        h1 = Hist(axis).fill(x=rng.normal(size=3000), weight=rng.uniform(0.5, 1.5, 3000))
        h2 = Hist(axis).fill(x=rng.normal(size=3000))
        chi2, ndf = h1.chi2(h2)
        ratios.append(chi2 / ndf)
    assert abs(np.mean(ratios) - 1) < 0.08
    # a shifted sample is far from it
    h3 = Hist(axis).fill(x=rng.normal(0.2, 1, 3000))
    chi2, ndf = h3.chi2(h2)
    assert chi2 / ndf > 3


def test_ks_distance_and_p_value() -> None:
    axis = hist.axis.Regular(4, 0, 4, name="x")
    h1 = Hist(axis).fill(x=[0.5, 1.5, 2.5, 3.5])
    h2 = Hist(axis).fill(x=[0.5, 0.5, 0.5, 3.5], weight=[1.0, 1.0, 1.0, 1.0])
    result = h1.ks(h2)
    # CDFs (0.25, 0.5, 0.75, 1) and (0.75, 0.75, 0.75, 1): D = 0.5; n = 4 * 4 / 8 = 2
    assert result.distance == pytest.approx(0.5)
    assert result.n_eff == pytest.approx(2.0)
    lam = (math.sqrt(2) + 0.12 + 0.11 / math.sqrt(2)) * 0.5
    series = 2 * sum((-1) ** (j - 1) * math.exp(-2 * j**2 * lam**2) for j in range(1, 101))
    assert result.p_value == pytest.approx(series, rel=1e-9)
    assert result == stats.ks_test(h1, h2)
    rng = np.random.default_rng(3)
    fine = hist.axis.Regular(100, -4, 4, name="x")
    same = Hist(fine).fill(x=rng.normal(size=5000)).ks(Hist(fine).fill(x=rng.normal(size=5000)))
    shifted = (
        Hist(fine).fill(x=rng.normal(size=5000)).ks(Hist(fine).fill(x=rng.normal(0.1, 1, 5000)))
    )
    assert same.p_value > 0.05
    assert shifted.p_value < 1e-3


def test_chi2_and_ks_refuse_mismatched_axes(rng: np.random.Generator) -> None:
    a = Hist(hist.axis.Regular(10, 0, 1, name="x")).fill(x=rng.uniform(size=100))
    b = Hist(hist.axis.Regular(10, 0, 2, name="x")).fill(x=rng.uniform(size=100))
    c = Hist(hist.axis.Regular(10, 0, 1, name="y")).fill(y=rng.uniform(size=100))
    for method in (Hist.chi2, Hist.ks):
        with pytest.raises(ValueError, match="axis 0 edges differ"):
            method(a, b)
        with pytest.raises(ValueError, match="axis 0 names differ"):
            method(a, c)
    two_d = Hist(hist.axis.Regular(2, 0, 1, name="x"), hist.axis.Regular(2, 0, 1, name="y"))
    two_d.fill(x=[0.2, 0.7], y=[0.2, 0.7])
    with pytest.raises(ValueError, match="1-D histograms"):
        two_d.ks(two_d)
    assert two_d.chi2(two_d) == (0.0, 1)


def test_compare_draws_the_reweighting_band(rng: np.random.Generator) -> None:
    from dctrgan import plot

    h, *_ = _with_replicas(rng, k=6, n=5000)
    reference = Hist(_axis()).fill(x=rng.normal(size=5000))
    _, (ax, rax) = plot.compare(reference, h, h.copy().reset().fill(x=[0.0], replicas=[[1.0] * 6]))
    hatched = [p for p in ax.patches if p.get_hatch() == "////"]
    assert len(hatched) == 2
    widths = np.diff(h.axes[0].edges)
    values, _, baseline = hatched[0].get_data()
    expected = h.reweighting_uncertainty() / (h.values().sum() * widths)
    np.testing.assert_allclose((values - baseline) / 2, expected, rtol=1e-9)
    assert len([p for p in rax.patches if p.get_hatch() == "////"]) == 2
    assert "Reweighting uncertainty" in [t.get_text() for t in ax.get_legend().get_texts()]
    _, (plain_ax, _) = plot.compare(reference, Hist(_axis()).fill(x=rng.normal(size=100)))
    assert not [p for p in plain_ax.patches if p.get_hatch() == "////"]
