from __future__ import annotations

import re

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


def _weighted_hist(x: np.ndarray, w: np.ndarray | None, edges: np.ndarray) -> hist.Hist:
    h = hist.Hist(hist.axis.Variable(edges), storage=hist.storage.Weight())
    h.fill(x, weight=w)
    return h


def test_effective_entries_of_a_weight_histogram() -> None:
    h = _weighted_hist(np.array([0.5, 0.5, 1.5]), np.array([1.0, 3.0, 2.0]), np.array([0.0, 1, 2]))
    # (1 + 3 + 2)^2 / (1 + 9 + 4)
    assert stats.effective_entries(h) == pytest.approx(36 / 14, rel=1e-12)
    # an overflow entry counts only with flow=True
    h.fill([5.0], weight=[2.0])
    assert stats.effective_entries(h) == pytest.approx(36 / 14, rel=1e-12)
    assert stats.effective_entries(h, flow=True) == pytest.approx(64 / 18, rel=1e-12)
    # an unweighted count storage: the number of entries
    plain = hist.Hist(hist.axis.Regular(3, 0, 3))
    plain.fill([0.5, 1.5, 1.5, 2.5])
    assert stats.effective_entries(plain) == pytest.approx(4.0)


def test_effective_counts_per_bin_differ_from_counts() -> None:
    h = _weighted_hist(
        np.array([0.5, 0.5, 1.5, 2.5, 2.5]),
        np.array([1.0, 3.0, 2.0, 0.5, 0.5]),
        np.array([0.0, 1, 2, 3, 4]),
    )
    # bins: (1+3)^2/(1+9), 2^2/4, (0.5+0.5)^2/(0.25+0.25), empty
    np.testing.assert_allclose(stats.effective_counts(h), [1.6, 1.0, 2.0, 0.0], rtol=1e-12)
    np.testing.assert_allclose(h.counts(), [4.0, 2.0, 1.0, 0.0])  # hist's counts() is sum w
    assert stats.effective_counts(h, flow=True).shape == (6,)


def test_histogram_statistics_need_the_sum_of_squared_weights() -> None:
    h = hist.Hist(hist.axis.Regular(2, 0, 2))  # Double storage
    h.fill([0.5, 1.5], weight=[2.0, 3.0])
    with pytest.raises(ValueError, match="Weight\\(\\) storage"):
        stats.effective_entries(h)
    with pytest.raises(ValueError, match="Weight\\(\\) storage"):
        stats.effective_counts(h)
    profile = hist.Hist(hist.axis.Regular(2, 0, 2), storage=hist.storage.Mean())
    with pytest.raises(ValueError, match="profile"):
        stats.effective_counts(profile)
    with pytest.raises(TypeError, match="expected a uhi histogram"):
        stats.effective_counts(np.ones(3))


def test_uncertainty_ratio_unit_weights_is_sqrt_of_size_ratio(rng: np.random.Generator) -> None:
    x_model, x_ref = rng.normal(size=40_000), rng.normal(size=10_000)
    # the sample standard deviations fluctuate by ~0.7 % (N_ref = 10k): 3 % is > 4 sigma
    assert stats.uncertainty_ratio(x_model, None, x_ref) == pytest.approx(0.5, rel=0.03)
    assert stats.uncertainty_ratio(x_model, np.ones(40_000), x_ref, np.ones(10_000)) == (
        stats.uncertainty_ratio(x_model, None, x_ref)
    )
    # equal samples: exactly 1; the weights' normalization drops out exactly
    w = rng.uniform(0.5, 2.0, size=40_000)
    assert stats.uncertainty_ratio(x_model, None, x_model) == pytest.approx(1.0, rel=1e-12)
    assert stats.uncertainty_ratio(x_model, 7.0 * w, x_ref) == pytest.approx(
        stats.uncertainty_ratio(x_model, w, x_ref), rel=1e-12
    )


def test_uncertainty_ratio_follows_eq_9_for_exact_density_ratio_weights(
    rng: np.random.Generator,
) -> None:
    # model N(0, 1) weighted by W = N(0, s^2)/N(0, 1) to the reference N(0, s^2), f = x.
    # Eq. 9 at N_G = N_T: r^2 = int p_T W x^2 / int p_T x^2 = a^(-3/2) / s^4, a = 2/s^2 - 1.
    s, n = 0.8, 200_000
    a = 2 / s**2 - 1
    expected = np.sqrt(a**-1.5 / s**4)  # 0.888: down-weighted tails make the mean more precise
    x_model, x_ref = rng.normal(size=n), rng.normal(0.0, s, size=n)
    w = np.exp(-0.5 * x_model**2 * (1 / s**2 - 1)) / s
    # sampling fluctuations ~0.3 %: 2 % tolerance
    assert stats.uncertainty_ratio(x_model, w, x_ref) == pytest.approx(expected, rel=0.02)
    # a weight far from 1 where x is large dilutes the sample: r grows
    wide = np.where(np.abs(x_model) > 2, 10.0, 1.0)
    assert stats.uncertainty_ratio(x_model, wide, x_model) > 1.5


def test_uncertainty_ratio_hist_exact_for_unit_weights_and_same_shape() -> None:
    edges = np.linspace(0.0, 5.0, 6)
    x = np.repeat(edges[:-1] + 0.5, [3, 10, 20, 7, 1])
    h_ref = _weighted_hist(x, None, edges)
    h_model = _weighted_hist(np.tile(x, 4), None, edges)
    assert stats.uncertainty_ratio_hist(h_model, h_ref) == pytest.approx(0.5, rel=1e-12)
    assert stats.uncertainty_ratio_hist(h_ref, h_model) == pytest.approx(2.0, rel=1e-12)
    # unweighted Double storage knows its variances as well
    plain = hist.Hist(hist.axis.Variable(edges))
    plain.fill(np.tile(x, 9))
    assert stats.uncertainty_ratio_hist(plain, h_ref) == pytest.approx(1 / 3, rel=1e-12)


def test_uncertainty_ratio_hist_approximates_the_event_level_ratio(
    rng: np.random.Generator,
) -> None:
    x_model, x_ref = rng.normal(size=50_000), rng.normal(size=20_000)
    w = np.exp(0.3 * x_model)
    edges = np.linspace(-7.0, 7.0, 281)  # bin width 0.05: within-bin spread is negligible
    r_events = stats.uncertainty_ratio(x_model, w, x_ref)
    r_hist = stats.uncertainty_ratio_hist(
        _weighted_hist(x_model, w, edges), _weighted_hist(x_ref, None, edges)
    )
    assert r_hist == pytest.approx(r_events, rel=1e-3)


def test_uncertainty_ratio_degenerate_and_errors() -> None:
    assert np.isnan(stats.uncertainty_ratio([1.0, 2.0], None, [3.0, 3.0]))
    with pytest.raises(ValueError, match="'x_ref' is empty"):
        stats.uncertainty_ratio([1.0], None, [])
    with pytest.raises(ValueError, match=r"'w_model' has shape \(2,\), expected \(3,\)"):
        stats.uncertainty_ratio([1.0, 2.0, 3.0], [1.0, 1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="1 non-finite value"):
        stats.uncertainty_ratio([1.0, np.nan], None, [1.0, 2.0])
    with pytest.raises(ValueError, match="non-finite weight"):
        stats.uncertainty_ratio([1.0, 2.0], [1.0, np.inf], [1.0, 2.0])
    with pytest.raises(ValueError, match="positive sum"):
        stats.uncertainty_ratio([1.0, 2.0], [1.0, -1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="must be 1-D"):
        stats.uncertainty_ratio(np.ones((3, 2)), None, [1.0, 2.0])
    h2d = hist.Hist(hist.axis.Regular(2, 0, 1), hist.axis.Regular(2, 0, 1))
    h1d = _weighted_hist(np.array([0.5]), None, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="1-D histogram, it has 2 axes"):
        stats.uncertainty_ratio_hist(h2d, h1d)
    with pytest.raises(ValueError, match="no positive content"):
        stats.uncertainty_ratio_hist(h1d, _weighted_hist(np.array([]), None, np.array([0.0, 1])))
    cat = hist.Hist(hist.axis.StrCategory(["a", "b"]), storage=hist.storage.Weight())
    with pytest.raises(ValueError, match="category axis"):
        stats.uncertainty_ratio_hist(cat, h1d)


def test_weighted_mean_and_variance_known_values() -> None:
    x, w = np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 2.0])
    # mean (1 + 2 + 6)/4; variance (1.5625 + 0.0625 + 2 * 0.5625)/4
    assert stats.weighted_mean(x, w) == pytest.approx(2.25, rel=1e-12)
    assert stats.weighted_variance(x, w) == pytest.approx(0.6875, rel=1e-12)
    assert isinstance(stats.weighted_mean(x, w), float)
    two = np.stack([x, 10 * x], axis=1)  # (3, 2)
    np.testing.assert_allclose(stats.weighted_mean(two, w), [2.25, 22.5], rtol=1e-12)
    np.testing.assert_allclose(stats.weighted_variance(two.T, w, axis=1), [0.6875, 68.75])
    # unit weights are numpy's mean and (ddof=0) variance
    np.testing.assert_allclose(stats.weighted_mean(two), two.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.weighted_variance(two), two.var(axis=0), rtol=1e-12)
    with pytest.raises(ValueError, match="'w' has shape"):
        stats.weighted_mean(two, w, axis=1)
    with pytest.raises(ValueError, match="empty"):
        stats.weighted_variance(np.empty((0, 3)))


def test_weighted_correlation_of_a_known_covariance(rng: np.random.Generator) -> None:
    corr = np.array([[1.0, 0.6, -0.3], [0.6, 1.0, 0.0], [-0.3, 0.0, 1.0]])
    sd = np.array([1.0, 5.0, 0.1])
    x = rng.multivariate_normal([1.0, -2.0, 0.0], corr * np.outer(sd, sd), size=50_000)
    # standard error of a sample correlation ~ (1 - rho^2)/sqrt(N) < 0.005: tolerance 0.02
    np.testing.assert_allclose(stats.weighted_correlation(x), corr, atol=0.02)
    np.testing.assert_allclose(stats.weighted_correlation(x), np.corrcoef(x.T), atol=1e-12)
    # integer weights equal repeating events
    k = rng.integers(1, 4, size=x.shape[0])
    np.testing.assert_allclose(
        stats.weighted_correlation(x, k), np.corrcoef(np.repeat(x, k, axis=0).T), atol=1e-12
    )

    # weighting a correlated Gaussian (rho = 0.5) by the density ratio to one with rho = 0.2
    # (n_eff ~ 40k of 50k, sampling error ~0.005) gives rho = 0.2 within 0.02
    sigma, target = np.array([[1.0, 0.5], [0.5, 1.0]]), np.array([[1.0, 0.2], [0.2, 1.0]])
    y = rng.multivariate_normal([0.0, 0.0], sigma, size=50_000)
    inv = np.linalg.inv(sigma) - np.linalg.inv(target)
    log_w = 0.5 * np.einsum("ni,ij,nj->n", y, inv, y)
    weighted = stats.weighted_correlation(y, np.exp(log_w - log_w.max()))
    np.testing.assert_allclose(weighted, target, atol=0.02)


def test_weighted_correlation_edge_cases() -> None:
    x = np.array([[1.0, 2.0, 5.0], [2.0, 4.0, 5.0], [3.0, 7.0, 5.0]])
    c = stats.weighted_correlation(x)
    assert c[0, 1] == pytest.approx(np.corrcoef(x[:, 0], x[:, 1])[0, 1], rel=1e-12)
    assert np.isnan(c[2]).all()
    assert np.isnan(c[:, 2]).all()
    with pytest.raises(ValueError, match="must be 2-D"):
        stats.weighted_correlation(np.ones(4))
    with pytest.raises(ValueError, match="3 non-finite"):
        stats.weighted_correlation(np.full((3, 1), np.inf))


def test_histogram_ratio_known_values() -> None:
    edges = np.array([0.0, 1.0, 2.0, 3.0])
    num = _weighted_hist(np.array([0.5, 1.5, 1.5]), np.array([2.0, 1.0, 1.0]), edges)
    den = _weighted_hist(np.array([0.5, 1.5, 2.5, 2.5]), None, edges)
    ratio, err = stats.histogram_ratio(num, den, normalize=False)
    np.testing.assert_allclose(ratio[:2], [2.0, 2.0])
    # bin 0: 2 * sqrt(4/4 + 1/1); bin 1: 2 * sqrt(2/4 + 1/1)
    np.testing.assert_allclose(err[:2], [2 * np.sqrt(2.0), 2 * np.sqrt(1.5)], rtol=1e-12)
    assert ratio[2] == 0.0
    assert np.isnan(err[2])
    ratio_n, _ = stats.histogram_ratio(num, den)
    np.testing.assert_allclose(ratio_n[:2], [2.0, 2.0])  # both sums are 4
    with pytest.raises(ValueError, match="different shapes"):
        stats.histogram_ratio(num, _weighted_hist(np.array([0.5]), None, edges[:3]))


# --- axes of compared histograms, statistical floor (issue 13) ----------------------------


def test_histogram_comparisons_check_the_axes() -> None:
    def filled(axis: hist.axis.AxesMixin) -> hist.Hist:
        h = hist.Hist(axis, storage=hist.storage.Weight())
        h.fill(np.linspace(1.0, 140.0, 50))
        return h

    a = filled(hist.axis.Regular(30, 0, 150))
    wide = filled(hist.axis.Regular(30, 0, 300))
    functions = (
        stats.separation_power,
        stats.histogram_ratio,
        stats.uncertainty_ratio_hist,
        stats.statistical_floor_hist,
    )
    for function in functions:
        message = f"{function.__name__}: axis 0 edges differ (edge 1: 5 vs 10): "
        message += "Regular(30, 0, 150) vs Regular(30, 0, 300)"
        with pytest.raises(ValueError, match=re.escape(message)):
            function(a, wide)
    # names are compared where both axes have one; boost-histogram's have none
    named = filled(hist.axis.Regular(30, 0, 150, name="pt"))
    with pytest.raises(ValueError, match="axis 0 names differ: 'pt' vs 'eta'"):
        stats.separation_power(named, filled(hist.axis.Regular(30, 0, 150, name="eta")))
    plain = bh.Histogram(bh.axis.Regular(30, 0, 150))
    plain.fill(np.linspace(1.0, 140.0, 50))
    assert stats.separation_power(named, plain) == pytest.approx(0.0, abs=1e-15)
    assert stats.separation_power(named, a) == pytest.approx(0.0, abs=1e-15)
    # a log-transformed axis with the same range has other edges
    log_axis = filled(hist.axis.Regular(30, 1, 150, transform=hist.axis.transform.log))
    with pytest.raises(ValueError, match=r"transform=log"):
        stats.separation_power(filled(hist.axis.Regular(30, 1, 150)), log_axis)
    # two Variable axes differing in one inner edge: the edge is named
    v1 = filled(hist.axis.Variable([0.0, 10.0, 50.0, 150.0]))
    v2 = filled(hist.axis.Variable([0.0, 10.0, 60.0, 150.0]))
    with pytest.raises(ValueError, match=re.escape("(edge 2: 50 vs 60): Variable([0, 10, 50")):
        stats.histogram_ratio(v1, v2)
    # plain arrays of contents have no axes: only their shapes are compared
    assert stats.separation_power(a.values(), wide.values()) > 0.3


def test_statistical_floor_known_values() -> None:
    assert stats.statistical_floor(30, 1000, 1000) == pytest.approx(29 / 4 * 2 / 1000, rel=1e-15)
    assert stats.statistical_floor(30, 1000, 1000) == pytest.approx(0.0145, rel=1e-12)
    assert stats.statistical_floor(10, 100.0, 400.0) == pytest.approx(9 / 4 * 0.0125, rel=1e-15)
    assert stats.statistical_floor(np.int64(5), np.float32(50.0), 50) == pytest.approx(0.04)
    assert stats.statistical_floor(1, 10, 10) == 0.0  # one bin: shapes always agree


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((0, 100, 100), "bins"),
        ((-3, 100, 100), "bins"),
        ((2.5, 100, 100), "bins"),
        ((30.0, 100, 100), "bins"),
        ((True, 100, 100), "bins"),
        ((np.nan, 100, 100), "bins"),
        ((30, 0, 100), "n1"),
        ((30, -100, 100), "n1"),
        ((30, np.nan, 100), "n1"),
        ((30, np.inf, 100), "n1"),
        ((30, "100", 100), "n1"),
        ((30, 100, 0.0), "n2"),
        ((30, 100, -1e-3), "n2"),
        ((30, 100, np.nan), "n2"),
        ((30, 100, None), "n2"),
    ],
)
def test_statistical_floor_validates_its_arguments(args: tuple[object, ...], name: str) -> None:
    with pytest.raises(ValueError, match=f"statistical_floor: '{name}' must be a positive"):
        stats.statistical_floor(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n1", "n2", "weighted"), [(2000, 2000, False), (1000, 4000, False), (3000, 3000, True)]
)
def test_statistical_floor_is_the_mean_s2_of_two_samples_of_one_distribution(
    rng: np.random.Generator, n1: int, n2: int, weighted: bool
) -> None:
    # 30 bins of a normal distribution (the tails hold few entries) over 300 pairs of
    # samples: one S^2 fluctuates by ~sqrt(2/29) = 26 %, the mean of 300 by ~1.5 %
    edges = np.linspace(-2.5, 2.5, 31)
    values, floors = [], []
    for _ in range(300):
        x1, x2 = rng.normal(size=n1), rng.normal(size=n2)
        # weights that do not depend on x: n_eff = N / 2 for exponential weights
        w1 = rng.exponential(size=n1) if weighted else None
        w2 = rng.exponential(size=n2) if weighted else None
        h1, h2 = _weighted_hist(x1, w1, edges), _weighted_hist(x2, w2, edges)
        values.append(stats.separation_power(h1, h2))
        floors.append(stats.statistical_floor_hist(h1, h2))
    # the histograms hold the 98.76 % of events within 2.5 sigma; exponential weights
    # halve the effective entries, doubling the floor
    floor = float(np.mean(floors))
    expected = stats.statistical_floor(30, 0.9876 * n1, 0.9876 * n2) * (2 if weighted else 1)
    assert floor == pytest.approx(expected, rel=0.01 if not weighted else 0.05)
    assert np.mean(values) == pytest.approx(floor, rel=0.06)


def test_statistical_floor_hist_counts_the_populated_bins() -> None:
    edges = np.linspace(0.0, 10.0, 11)
    h1 = _weighted_hist(np.repeat([0.5, 3.5], 20), None, edges)
    h2 = _weighted_hist(np.repeat([3.5, 7.5], [10, 30]), np.full(40, 0.5), edges)
    # bins 0, 3, 7 hold entries; n_eff 40 and 40
    assert stats.statistical_floor_hist(h1, h2) == pytest.approx(
        stats.statistical_floor(3, 40, 40), rel=1e-12
    )
    with pytest.raises(ValueError, match="'h1' has no entries"):
        stats.statistical_floor_hist(_weighted_hist(np.array([]), None, edges), h2)
    doubled = hist.Hist(hist.axis.Variable(edges))
    doubled.fill([0.5], weight=[2.0])
    with pytest.raises(ValueError, match="Weight\\(\\) storage"):
        stats.statistical_floor_hist(doubled, h2)
