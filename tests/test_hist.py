from __future__ import annotations

import copy
import logging
import pickle
import re

import awkward as ak
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


# --- jagged fills (issue 13) -------------------------------------------------------------


def _jets(rng: np.random.Generator, n: int = 300) -> tuple[ak.Array, np.ndarray, np.ndarray]:
    """Jet pT of ``n`` events (0 to ~8 jets each), per-event weights and the counts."""
    counts = rng.poisson(2.5, size=n)
    pt = ak.unflatten(rng.exponential(40.0, size=int(counts.sum())), counts)
    return pt, rng.uniform(0.2, 3.0, size=n), counts


def _pt_hist() -> Hist:
    return Hist(hist.axis.Regular(25, 0, 250, name="pt"))


def _assert_same(h: Hist, expected: Hist) -> None:
    np.testing.assert_array_equal(h.values(flow=True), expected.values(flow=True))
    np.testing.assert_array_equal(h.variances(flow=True), expected.variances(flow=True))


@pytest.mark.parametrize("kind", ["numpy", "awkward", "jagged", "list", "positional"])
def test_jagged_fill_repeats_the_event_weight_for_each_entry(
    rng: np.random.Generator, kind: str
) -> None:
    pt, w, counts = _jets(rng)
    expected = _pt_hist().fill(pt=ak.to_numpy(ak.flatten(pt)), weight=np.repeat(w, counts))
    weight = {
        "numpy": w,
        "awkward": ak.Array(w),
        "jagged": ak.unflatten(np.repeat(w, counts), counts),  # one weight per jet
        "list": w.tolist(),
        "positional": w,
    }[kind]
    h = _pt_hist()
    h.fill(pt, weight=weight) if kind == "positional" else h.fill(pt=pt, weight=weight)
    _assert_same(h, expected)
    assert h.sum(flow=True).value == pytest.approx(float(np.sum(w * counts)), rel=1e-12)


def test_jagged_fill_with_scalar_weight_per_event_axes_and_mean_storage(
    rng: np.random.Generator,
) -> None:
    pt, w, counts = _jets(rng)
    flat = ak.to_numpy(ak.flatten(pt))
    _assert_same(_pt_hist().fill(pt=pt, weight=2.0), _pt_hist().fill(pt=flat, weight=2.0))
    # a per-event axis (the number of jets) beside a jagged one: repeated per jet
    two = Hist(hist.axis.Regular(25, 0, 250, name="pt"), hist.axis.Integer(0, 10, name="n"))
    two.fill(pt=pt, n=ak.num(pt), weight=w)
    manual = Hist(hist.axis.Regular(25, 0, 250, name="pt"), hist.axis.Integer(0, 10, name="n"))
    manual.fill(pt=flat, n=np.repeat(counts, counts), weight=np.repeat(w, counts))
    _assert_same(two, manual)
    # Mean storage: the per-event sample is averaged over the jets
    mean = Hist(hist.axis.Regular(25, 0, 250, name="pt"), storage=hist.storage.Mean())
    mean.fill(pt=pt, sample=w)
    expected = Hist(hist.axis.Regular(25, 0, 250, name="pt"), storage=hist.storage.Mean())
    expected.fill(pt=flat, sample=np.repeat(w, counts))
    np.testing.assert_array_equal(mean.values(), expected.values())
    np.testing.assert_array_equal(mean.counts(), expected.counts())


def test_flat_numpy_fill_is_hists_own(rng: np.random.Generator) -> None:
    x, w = rng.normal(100, 30, size=500), rng.uniform(0.5, 1.5, size=500)
    h = _pt_hist().fill(pt=x, weight=w)
    plain = hist.Hist(hist.axis.Regular(25, 0, 250, name="pt"), storage=hist.storage.Weight())
    plain.fill(pt=x, weight=w)
    np.testing.assert_array_equal(h.values(flow=True), plain.values(flow=True))
    np.testing.assert_array_equal(h.variances(flow=True), plain.variances(flow=True))


def test_none_values_are_dropped_with_their_weights(
    rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    pt, w, counts = _jets(rng)
    # the leading jet: None in events without jets
    lead = ak.firsts(pt)
    has = counts > 0
    expected = _pt_hist().fill(pt=ak.to_numpy(lead[has]), weight=w[has])
    with caplog.at_level(logging.INFO, logger="dctrgan.hist"):
        h = _pt_hist().fill(pt=lead, weight=w)
    _assert_same(h, expected)
    n_none = int((~has).sum())
    assert n_none > 5
    assert f"dropped {n_none} of {len(w)} entries" in caplog.text
    # None inside the lists (masked jets) and a None weight: dropped entry by entry
    masked = ak.mask(pt, pt > 30.0)
    w_jets = ak.unflatten(np.repeat(w, counts), counts)
    w_none = ak.mask(w_jets, ak.local_index(w_jets) != 1)  # the second jet has no weight
    keep = ak.to_numpy(ak.flatten((pt > 30.0) & (ak.local_index(pt) != 1)))
    expected = _pt_hist().fill(
        pt=ak.to_numpy(ak.flatten(pt))[keep], weight=np.repeat(w, counts)[keep]
    )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dctrgan.hist"):
        h = _pt_hist().fill(pt=masked, weight=w_none)
    _assert_same(h, expected)
    assert f"dropped {int((~keep).sum())} of {len(keep)} entries" in caplog.text
    # a missing list (None for a whole event) has no entries
    lists = ak.mask(pt, np.arange(len(pt)) % 2 == 0)
    even = np.arange(len(pt)) % 2 == 0
    expected = _pt_hist().fill(
        pt=ak.to_numpy(ak.flatten(pt[even])), weight=np.repeat(w[even], counts[even])
    )
    _assert_same(_pt_hist().fill(pt=lists, weight=w), expected)


def test_jagged_arguments_must_share_their_lists(rng: np.random.Generator) -> None:
    pt, w, counts = _jets(rng)
    two = Hist(hist.axis.Regular(25, 0, 250, name="pt"), hist.axis.Regular(10, -5, 5, name="eta"))
    eta = ak.unflatten(rng.normal(size=int(counts.sum())), counts)
    two.fill(pt=pt, eta=eta, weight=w)  # the same lists: fine
    assert two.sum().value > 0
    shifted = ak.concatenate([eta[1:], eta[:1]])  # other multiplicities
    first = int(np.argmax(counts != np.roll(counts, -1)))
    with pytest.raises(
        ValueError, match=rf"'pt' and 'eta' have different structures: event {first}"
    ):
        two.fill(pt=pt, eta=shifted)
    with pytest.raises(ValueError, match="'pt' and 'weight' have different structures"):
        _pt_hist().fill(pt=pt, weight=shifted)
    with pytest.raises(ValueError, match="different depths"):
        two.fill(pt=pt, eta=ak.unflatten(pt, 1, axis=1))
    with pytest.raises(
        ValueError, match=r"different numbers of events \{'pt': 300, 'weight': 299\}"
    ):
        _pt_hist().fill(pt=pt, weight=w[1:])
    # a per-jet weight flattened by hand is not a per-event weight
    with pytest.raises(ValueError, match="different numbers of events"):
        _pt_hist().fill(pt=pt, weight=np.repeat(w, counts))


def test_lazy_arrays_get_a_hint(rng: np.random.Generator) -> None:
    dak = pytest.importorskip("dask_awkward")
    pt, _, _ = _jets(rng, n=20)
    with pytest.raises(TypeError, match=r"'pt' is a lazy dask array; pass its \.compute\(\)"):
        _pt_hist().fill(pt=dak.from_awkward(pt, npartitions=2))


# --- comparisons check their axes --------------------------------------------------------


def _pt(edges_or_axis: hist.axis.AxesMixin, x: np.ndarray) -> Hist:
    return Hist(edges_or_axis).fill(x)


def test_every_comparison_refuses_other_edges(rng: np.random.Generator) -> None:
    x = rng.exponential(40.0, size=2000)
    a = _pt(hist.axis.Regular(30, 0, 150, name="pt"), x)
    b = _pt(hist.axis.Regular(30, 0, 300, name="pt"), x)
    comparisons = {
        "separation_power": a.separation_power,
        "histogram_ratio": a.ratio_to,
        "uncertainty_ratio_hist": a.uncertainty_ratio,
        "statistical_floor_hist": a.statistical_floor,
    }
    for who, compare in comparisons.items():
        with pytest.raises(ValueError, match=re.escape(who)) as err:
            compare(b)
        assert "axis 0 edges differ" in str(err.value)
        assert "Regular(30, 0, 150) vs Regular(30, 0, 300)" in str(err.value)
    # before issue 13 this silently gave 0.857
    with pytest.raises(ValueError, match="edge 1: 5 vs 10"):
        stats.separation_power(a, b)


def test_every_comparison_refuses_other_names_and_categories(rng: np.random.Generator) -> None:
    x = rng.normal(size=1000)
    pt = _pt(hist.axis.Regular(20, -4, 4, name="pt"), x)
    eta = _pt(hist.axis.Regular(20, -4, 4, name="eta"), x)
    for compare in (pt.separation_power, pt.ratio_to, pt.uncertainty_ratio, pt.statistical_floor):
        with pytest.raises(ValueError, match="axis 0 names differ: 'pt' vs 'eta'"):
            compare(eta)
    cats = Hist(hist.axis.StrCategory(["a", "b"], name="d"), hist.axis.Regular(20, -4, 4))
    cats.fill("a", x)
    other = Hist(hist.axis.StrCategory(["a", "c"], name="d"), hist.axis.Regular(20, -4, 4))
    other.fill("a", x)
    with pytest.raises(ValueError, match=r"axis 0 categories differ: StrCategory\(\['a', 'b'\]\)"):
        cats.separation_power(other)
    numeric = Hist(hist.axis.Regular(2, 0, 2, name="d"), hist.axis.Regular(20, -4, 4))
    numeric.fill(np.ones(10), np.zeros(10))
    with pytest.raises(ValueError, match="axis 0 types differ: StrCategory"):
        cats.separation_power(numeric)
    with pytest.raises(ValueError, match="the histograms have 2 and 1 axes"):
        cats.separation_power(pt)
    with pytest.raises(ValueError, match=r"different shapes \(25,\) and \(20,\): axis 0 edges"):
        _pt(hist.axis.Regular(25, -4, 4, name="pt"), x).ratio_to(pt)


def test_matching_axes_compare(rng: np.random.Generator) -> None:
    x, y = rng.normal(size=3000), rng.normal(0.1, 1.0, size=3000)
    a = _pt(hist.axis.Regular(20, -4, 4, name="pt"), x)
    same = _pt(hist.axis.Regular(20, -4, 4, name="pt"), y)
    # equal edges are what the numbers depend on: Regular against Variable is fine
    variable = _pt(hist.axis.Variable(np.linspace(-4, 4, 21), name="pt"), y)
    unnamed = bh.Histogram(bh.axis.Regular(20, -4, 4), storage=bh.storage.Weight())
    unnamed.fill(y)
    s2 = a.separation_power(same)
    assert s2 > 0
    for other in (variable, unnamed, _pt(hist.axis.Regular(20, -4, 4), y)):
        assert a.separation_power(other) == pytest.approx(s2, rel=1e-12)
        assert a.statistical_floor(other) == pytest.approx(a.statistical_floor(same), rel=1e-12)
        np.testing.assert_allclose(a.ratio_to(other)[0], a.ratio_to(same)[0], rtol=1e-12)
    assert a.uncertainty_ratio(variable) == pytest.approx(a.uncertainty_ratio(same), rel=1e-12)
    # edges equal up to rounding (1e-12 of the range) match too
    nudged = _pt(hist.axis.Variable(np.linspace(-4, 4, 21) * (1 + 1e-14), name="pt"), y)
    assert a.separation_power(nudged) == pytest.approx(s2, rel=1e-12)


def test_statistical_floor_accessor_is_the_stats_function() -> None:
    edges = np.linspace(0.0, 10.0, 11)
    a = Hist(hist.axis.Variable(edges, name="x")).fill(x=[0.5, 0.5, 1.5, 1.5], weight=[1, 3, 1, 1])
    b = Hist(hist.axis.Variable(edges, name="x")).fill(x=np.repeat([1.5, 2.5], 50))
    # populated bins: 0, 1, 2; n_eff = 6^2 / 12 = 3 and 100
    assert a.statistical_floor(b) == stats.statistical_floor_hist(a, b)
    assert a.statistical_floor(b) == pytest.approx(stats.statistical_floor(3, 3.0, 100.0))
    with pytest.raises(ValueError, match="'h2' has no entries"):
        a.statistical_floor(Hist(hist.axis.Variable(edges, name="x")))
