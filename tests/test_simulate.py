from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest

from dctrgan.data import Geometry, validate
from dctrgan.features import high_level
from dctrgan.simulate import (
    GaussianMixture,
    airshower,
    bimodal_1d,
    calorimeter,
    circle_2d,
    grid_2d,
    station_positions,
)
from dctrgan.stats import separation_power

N_SHOWERS = 3000
N_EVENTS = 1500
BINS = 30


def _median_s2(a: np.ndarray, b: np.ndarray) -> float:
    """Median over columns of the separation power, both samples in the same 30 bins."""
    values = []
    for j in range(a.shape[1]):
        edges = np.histogram_bin_edges(np.concatenate([a[:, j], b[:, j]]), bins=BINS)
        values.append(separation_power(a[:, j], b[:, j], bins=edges))
    return float(np.median(values))


# --- Gaussian toys ---------------------------------------------------------------


def test_toy_modes() -> None:
    np.testing.assert_allclose(bimodal_1d.means[:, 0], [-1.0, 1.0])
    np.testing.assert_allclose(bimodal_1d.sigmas, 0.4)
    np.testing.assert_allclose(bimodal_1d.weights, 0.5)
    assert circle_2d.n_modes == 8
    assert circle_2d.dim == 2
    np.testing.assert_allclose(np.hypot(*circle_2d.means.T), 1.0)
    np.testing.assert_allclose(circle_2d.sigmas, 0.1)
    assert grid_2d.n_modes == 25
    np.testing.assert_allclose(np.unique(grid_2d.means[:, 0]), np.arange(1, 6) + 0.1)
    np.testing.assert_allclose(np.unique(grid_2d.means[:, 1]), np.arange(1, 6) + 0.1)
    np.testing.assert_allclose(grid_2d.weights, 1 / 25)
    with pytest.raises(ValueError, match="read-only"):
        grid_2d.means[0, 0] = 3.0


def test_toy_pdf_known_values() -> None:
    # p(0) = N(0; 1, 0.4) for the symmetric bimodal mixture
    expected = math.exp(-0.5 / 0.16) / (0.4 * math.sqrt(2 * math.pi))
    np.testing.assert_allclose(bimodal_1d.pdf(np.array([0.0])), expected, rtol=1e-12)
    # at a circle mode the density is dominated by that mode: 1/8 / (2 pi 0.01)
    peak = circle_2d.pdf(circle_2d.means[:1])
    np.testing.assert_allclose(peak, 1 / 8 / (2 * math.pi * 0.01), rtol=1e-6)
    np.testing.assert_allclose(np.log(grid_2d.pdf(grid_2d.means)), grid_2d.log_pdf(grid_2d.means))


@pytest.mark.parametrize(
    ("toy", "low", "high", "step"),
    [(bimodal_1d, -5.0, 5.0, 1e-3), (circle_2d, -2.0, 2.0, 0.01), (grid_2d, 0.0, 7.0, 0.01)],
)
def test_toy_pdf_integrates_to_one(
    toy: GaussianMixture, low: float, high: float, step: float
) -> None:
    axis = np.arange(low, high + step / 2, step)
    if toy.dim == 1:
        integral = np.trapezoid(toy.pdf(axis), axis)
    else:
        xx, yy = np.meshgrid(axis, axis, indexing="ij")
        density = toy.pdf(np.column_stack([xx.ravel(), yy.ravel()])).reshape(xx.shape)
        integral = np.trapezoid(np.trapezoid(density, axis, axis=1), axis)
    assert integral == pytest.approx(1.0, abs=1e-6)


def test_toy_sample_histogram_matches_pdf() -> None:
    n = 200_000
    x = bimodal_1d.sample(n, seed=3)
    assert x.shape == (n, 1)
    edges = np.linspace(-2.5, 2.5, 51)
    counts, _ = np.histogram(x[:, 0], bins=edges)
    fine = np.linspace(-2.5, 2.5, 50 * 40 + 1)
    density = bimodal_1d.pdf(fine)
    cells = 0.5 * (density[1:] + density[:-1]) * np.diff(fine)
    expected = n * cells.reshape(50, 40).sum(axis=1)
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    assert chi2 / 50 < 1.6  # chi2/ndf; the 99.9 % quantile for 50 dof is 1.68


@pytest.mark.parametrize("toy", [circle_2d, grid_2d])
def test_toy_sample_modes(toy: GaussianMixture) -> None:
    n = 50_000
    x = toy.sample(n, seed=4)
    assert x.shape == (n, 2)
    mode = toy.assign(x)
    fractions = np.bincount(mode, minlength=toy.n_modes) / n
    p = 1 / toy.n_modes
    assert np.all(np.abs(fractions - p) < 5 * math.sqrt(p * (1 - p) / n))
    spread = x - toy.means[mode]
    np.testing.assert_allclose(spread.std(axis=0), 0.1, rtol=0.02)
    np.testing.assert_allclose(spread.mean(axis=0), 0.0, atol=0.002)


def test_toy_seeds() -> None:
    a, b = grid_2d.sample(100, seed=7), grid_2d.sample(100, seed=7)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, grid_2d.sample(100, seed=8))
    np.testing.assert_array_equal(
        grid_2d.sample(10, seed=np.random.default_rng(1)), grid_2d.sample(10, seed=1)
    )


def test_toy_errors() -> None:
    with pytest.raises(ValueError, match="sigmas"):
        GaussianMixture(np.zeros((2, 2)), -1.0)
    with pytest.raises(ValueError, match="weights"):
        GaussianMixture(np.zeros((2, 2)), 1.0, np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        circle_2d.pdf(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="non-negative"):
        circle_2d.sample(-1)


# --- calorimeter -------------------------------------------------------------------


@pytest.fixture(scope="module")
def showers() -> dict[str, ak.Array]:
    return {
        "full": calorimeter(N_SHOWERS, seed=1),
        "full2": calorimeter(N_SHOWERS, seed=2),
        "fast": calorimeter(N_SHOWERS, variant="fast", seed=3),
    }


@pytest.fixture(scope="module")
def features(showers: dict[str, ak.Array]) -> dict[str, np.ndarray]:
    return {name: high_level(s).astype(np.float64) for name, s in showers.items()}


def test_calorimeter_seeds() -> None:
    a, b = calorimeter(20, seed=5), calorimeter(20, seed=5)
    assert ak.array_equal(a, b)
    assert not ak.array_equal(a, calorimeter(20, seed=6))
    assert ak.array_equal(
        calorimeter(5, variant="fast", seed=np.random.default_rng(9)),
        calorimeter(5, variant="fast", seed=9),
    )


def test_calorimeter_schema(showers: dict[str, ak.Array]) -> None:
    for events in showers.values():
        validate(events, "showers")
        assert len(events) == N_SHOWERS
        np.testing.assert_array_equal(ak.to_numpy(events.incident_energy), 50.0)
        hits = events.hits
        assert ak.min(hits.energy) >= Geometry().threshold
        # unique and sorted by (layer, ix, iy) in each event
        key = hits.layer * 900 + hits.ix * 30 + hits.iy
        assert ak.all(key[:, 1:] > key[:, :-1])


def test_calorimeter_calibration(features: dict[str, np.ndarray]) -> None:
    f = features["full"]
    assert 650 <= f[:, 0].mean() <= 900  # active cells, paper: about 780
    assert 600 <= f[:, 2].mean() <= 1000  # visible energy, MeV
    shower_max = np.argmax(f[:, 3:], axis=1) + 1
    assert 9 <= shower_max.mean() <= 14  # paper: just past layer 10
    assert 0.02 < f[:, 2].std() / f[:, 2].mean() < 0.1


def test_calorimeter_energy_array() -> None:
    energy = np.repeat([10.0, 80.0], 100)
    events = calorimeter(200, energy=energy, seed=11, geometry=Geometry())
    np.testing.assert_array_equal(ak.to_numpy(events.incident_energy), energy.astype(np.float32))
    visible = ak.to_numpy(ak.sum(events.hits.energy, axis=1))
    low, high = visible[:100].mean(), visible[100:].mean()
    assert 6.5 < high / low < 8.5  # about linear (leakage grows with energy)
    with pytest.raises(ValueError, match="energy"):
        calorimeter(3, energy=np.array([50.0, 0.5, 50.0]))
    with pytest.raises(ValueError, match="shape"):
        calorimeter(3, energy=np.ones(4) * 50)
    with pytest.raises(ValueError, match="variant"):
        calorimeter(3, variant="gan")  # type: ignore[arg-type]
    assert len(calorimeter(0, seed=1)) == 0


def test_progress_bars(capsys: pytest.CaptureFixture[str]) -> None:
    calorimeter(3, seed=1)
    airshower(3, seed=1)
    assert capsys.readouterr().err == ""
    calorimeter(3, seed=1, progress=True)
    airshower(3, seed=1, progress=True)
    err = capsys.readouterr().err
    assert "calorimeter (full)" in err
    assert "airshower (data)" in err


def test_calorimeter_custom_geometry() -> None:
    g = Geometry(n_layers=10, n_x=12, n_y=12, absorber=(3.0,) * 10, threshold=0.2)
    events = calorimeter(50, energy=20.0, geometry=g, seed=3)
    validate(events, "showers", geometry=g)
    assert ak.min(events.hits.energy) >= 0.2
    assert ak.max(events.hits.layer) <= 9


def test_fast_differs_in_stated_directions(features: dict[str, np.ndarray]) -> None:
    full, fast = features["full"], features["fast"]
    layers_full, layers_fast = full[:, 3:].mean(axis=0), fast[:, 3:].mean(axis=0)
    # shallower: more energy in the early layers, less in the late ones
    assert np.all(layers_fast[2:9] > layers_full[2:9])  # layers 3-9 (1, 2 hold almost nothing)
    assert np.all(layers_fast[18:] < layers_full[18:])
    assert fast[:, 1].mean() < full[:, 1].mean() - 0.1  # longitudinal centroid
    # narrower active-cell distribution, weaker fluctuations of the centroid
    assert fast[:, 0].std() < 0.95 * full[:, 0].std()
    assert fast[:, 1].std() < 0.95 * full[:, 1].std()
    # slightly off total energy: a shift of several standard errors (0.07 %), below 2 %
    assert 0.003 < abs(fast[:, 2].mean() / full[:, 2].mean() - 1) < 0.02


def test_fast_separation_power(features: dict[str, np.ndarray]) -> None:
    floor = _median_s2(features["full"], features["full2"])
    s2 = _median_s2(features["full"], features["fast"])
    assert floor == pytest.approx(BINS / (2 * N_SHOWERS), rel=0.5)
    assert 1e-3 <= s2 <= 5e-2
    assert s2 > 2 * floor
    # total energy alone: visible above the floor, yet overlapping (far from disjoint)
    edges = np.histogram_bin_edges(
        np.concatenate([features["full"][:, 2], features["fast"][:, 2]]), bins=BINS
    )
    s2_energy = separation_power(features["full"][:, 2], features["fast"][:, 2], bins=edges)
    assert 2 * floor < s2_energy < 0.1


# --- air showers -------------------------------------------------------------------


@pytest.fixture(scope="module")
def traces() -> dict[str, ak.Array]:
    return {v: airshower(N_EVENTS, v, seed=21) for v in ("data", "sim")}


def _signal(events: ak.Array) -> np.ndarray:
    return np.asarray(ak.to_numpy(events.signal))


def test_station_positions() -> None:
    pos = station_positions()
    assert pos.shape == (9, 9, 2)
    np.testing.assert_allclose(pos[4, 4], 0.0)
    for di, dj in [(1, 0), (0, 1), (-1, 1), (-1, 0), (0, -1), (1, -1)]:
        np.testing.assert_allclose(np.hypot(*(pos[4 + di, 4 + dj] - pos[4, 4])), 1500.0)


def test_airshower_schema(traces: dict[str, ak.Array]) -> None:
    for events in traces.values():
        validate(events, "traces")
        signal = _signal(events)
        assert signal.shape == (N_EVENTS, 9, 9, 80)
        assert signal.dtype == np.float32
        assert signal.min() >= 0
        energy = ak.to_numpy(events.energy)
        assert energy.min() >= 1.0
        assert energy.max() <= 100.0
        np.testing.assert_array_equal(ak.to_numpy(events.xmax), 750.0)


def test_airshower_core_in_central_cell(traces: dict[str, ak.Array]) -> None:
    events = traces["data"]
    core = np.column_stack([ak.to_numpy(events.core_x), ak.to_numpy(events.core_y)])
    stations = station_positions().reshape(-1, 2)
    nearest = np.argmin(((core[:, None] - stations[None]) ** 2).sum(axis=-1), axis=1)
    assert np.all(nearest == 40)  # the central station (4, 4)
    assert np.hypot(*core.T).max() <= 1500 / math.sqrt(3) + 1e-3
    assert abs(core[:, 0].mean()) < 30
    assert abs(core[:, 1].mean()) < 30


def test_airshower_trigger(traces: dict[str, ak.Array]) -> None:
    for events in traces.values():
        total = _signal(events).sum(axis=-1)
        triggered = total > 0
        assert np.all(total[triggered] >= 115.0)
        assert np.all(triggered.sum(axis=(1, 2)) >= 1)  # documented for vertical showers
        # untriggered stations are exactly zero in every bin
        assert np.all(_signal(events)[~triggered] == 0.0)


def test_airshower_seeds() -> None:
    a, b = airshower(30, "sim", seed=4), airshower(30, "sim", seed=4)
    assert ak.array_equal(a, b)
    assert not ak.array_equal(a, airshower(30, "sim", seed=5))


def test_airshower_matched_showers(traces: dict[str, ak.Array]) -> None:
    data, sim = traces["data"], traces["sim"]
    for field in ("energy", "core_x", "core_y", "xmax"):
        np.testing.assert_array_equal(ak.to_numpy(data[field]), ak.to_numpy(sim[field]))
    assert not np.array_equal(_signal(data), _signal(sim))


def test_airshower_signal_grows_with_energy() -> None:
    low = _signal(airshower(300, seed=8, energy=3.0)).sum(axis=(1, 2, 3))
    high = _signal(airshower(300, seed=8, energy=30.0)).sum(axis=(1, 2, 3))
    ratio = high / low
    assert np.mean(ratio > 1) > 0.99
    assert 7 < np.median(ratio) < 13  # S0 is proportional to E


def test_airshower_muons_arrive_earlier_in_sim(traces: dict[str, ak.Array]) -> None:
    def rise_and_width(events: ak.Array) -> tuple[float, float]:
        s = _signal(events).reshape(-1, 80)
        s = s[s.sum(axis=1) > 0]
        cum = np.cumsum(s, axis=1) / s.sum(axis=1, keepdims=True)
        t10 = np.argmax(cum >= 0.1, axis=1)
        t50 = np.argmax(cum >= 0.5, axis=1)
        t90 = np.argmax(cum >= 0.9, axis=1)
        return float(t50.mean()), float((t90 - t10).mean())

    t50_data, width_data = rise_and_width(traces["data"])
    t50_sim, width_sim = rise_and_width(traces["sim"])
    assert t50_sim < t50_data - 0.5  # bins of 25 ns
    assert width_sim < width_data


def test_airshower_sim_noise_is_lower(traces: dict[str, ak.Array]) -> None:
    def pre_front(events: ak.Array) -> np.ndarray:
        s = _signal(events).reshape(-1, 80)
        return s[s.sum(axis=1) > 0][:, :2]  # the 50 ns before the front: noise only

    data, sim = pre_front(traces["data"]), pre_front(traces["sim"])
    # clipped Gaussian noise: mean sigma / sqrt(2 pi)
    assert data.mean() == pytest.approx(1.2 / math.sqrt(2 * math.pi), rel=0.1)
    assert sim.mean() / data.mean() == pytest.approx(0.5, rel=0.1)


def test_airshower_options() -> None:
    events = airshower(2000, seed=2, energy=10.0, xmax="gumbel", zenith_max=60.0)
    validate(events, "traces")
    xmax = ak.to_numpy(events.xmax)
    assert xmax.mean() == pytest.approx(738 + 0.5772 * 47, abs=5)
    assert xmax.std() == pytest.approx(47 * math.pi / math.sqrt(6), rel=0.1)
    signal = _signal(events)
    total = signal.sum(axis=-1)
    assert np.all(signal[total == 0] == 0)
    assert np.all(total[total > 0] >= 115)
    with pytest.raises(ValueError, match="zenith_max"):
        airshower(2, zenith_max=75.0)
    with pytest.raises(ValueError, match="variant"):
        airshower(2, "mc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="xmax"):
        airshower(2, xmax="fixed")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="energy"):
        airshower(2, energy=np.array([1.0, -2.0]))
