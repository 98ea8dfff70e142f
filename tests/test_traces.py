"""Trace observables of dctrgan.features: total signal, rise time, early fraction."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from dctrgan.data import make_traces
from dctrgan.features import early_fraction, pattern, rise_time, total_signal
from dctrgan.simulate import airshower


def _traces(*stations: tuple[int, int, np.ndarray]) -> np.ndarray:
    """One event ``(1, 9, 9, 80)`` with the given ``(i, j, trace)`` stations, zero elsewhere."""
    signal = np.zeros((1, 9, 9, 80), dtype=np.float32)
    for i, j, trace in stations:
        signal[0, i, j, : len(trace)] = trace
    return signal


def _step() -> np.ndarray:
    """0 before bin 10, 2 VEM in each of the 70 bins from bin 10 on."""
    trace = np.zeros(80, dtype=np.float32)
    trace[10:] = 2.0
    return trace


def _pulse() -> np.ndarray:
    """All 5 VEM in bin 10."""
    trace = np.zeros(80, dtype=np.float32)
    trace[10] = 5.0
    return trace


_RAMP = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)  # linear ramp in bins 0-3, total 10


def test_total_signal_known_values() -> None:
    signal = _traces((4, 4, _step()), (0, 8, _RAMP))
    assert total_signal(signal) == pytest.approx([140.0 + 10.0])
    np.testing.assert_allclose(pattern(signal).sum(axis=(1, 2)), total_signal(signal))


def test_rise_time_known_values() -> None:
    signal = _traces((4, 4, _step()), (3, 4, _pulse()), (0, 8, _RAMP))
    rise = rise_time(signal)
    assert rise.shape == (1, 9, 9)
    assert rise.dtype == np.float64
    # step: the cumulative signal grows linearly over 70 bins; 10 % -> 50 % is 0.4 * 70 bins
    assert rise[0, 4, 4] == pytest.approx(0.4 * 70 * 25.0)
    # a single bin: 10 % -> 50 % of that bin, interpolated within it
    assert rise[0, 3, 4] == pytest.approx(0.4 * 25.0)
    # ramp 1, 2, 3, 4: C = 0, 1, 3, 6, 10 at the edges; 1 VEM at 25 ns, 5 VEM at 50 + 2/3 * 25 ns
    assert rise[0, 0, 8] == pytest.approx(50.0 + 2.0 / 3.0 * 25.0 - 25.0)
    # other fractions and bin widths: the ramp reaches 60 % (6 VEM) at the end of bin 2
    assert rise_time(signal, low=0.1, high=0.6, bin_width=10.0)[0, 0, 8] == pytest.approx(20.0)
    assert rise_time(signal, low=0.5, high=0.5)[0, 0, 8] == 0.0


def test_rise_time_is_nan_without_signal() -> None:
    rise = rise_time(_traces((4, 4, _step())))
    assert np.isfinite(rise).sum() == 1
    assert np.isnan(rise[0, 0, 0])
    assert np.isnan(rise_time(np.zeros((2, 9, 9, 80), dtype=np.float32))).all()


def test_early_fraction_known_values() -> None:
    signal = _traces((4, 4, _step()), (3, 4, _pulse()), (0, 8, _RAMP))
    # step: 10 % (7 bins of 70) is reached at the end of bin 16; bins 16..31 hold 16 of 70 bins
    assert early_fraction(signal)[0, 4, 4] == pytest.approx(16 / 70)
    assert early_fraction(signal, bins=1)[0, 3, 4] == pytest.approx(1.0)
    # ramp: 10 % is reached in bin 0; bins 0-1 hold 1 + 2 of 10
    assert early_fraction(signal, bins=2)[0, 0, 8] == pytest.approx(0.3)
    # from the 50 % point (in bin 2): bin 2 holds 3 of 10, bins 2-3 hold 7 of 10
    assert early_fraction(signal, bins=1, start=0.5)[0, 0, 8] == pytest.approx(0.3)
    assert early_fraction(signal, bins=200, start=0.5)[0, 0, 8] == pytest.approx(0.7)
    assert np.isnan(early_fraction(signal)[0, 0, 0])


def test_awkward_events_equal_arrays() -> None:
    events = airshower(20, "data", seed=3)
    signal = ak.to_numpy(events.signal)
    np.testing.assert_array_equal(rise_time(events), rise_time(signal))
    np.testing.assert_array_equal(early_fraction(events), early_fraction(signal))
    np.testing.assert_array_equal(total_signal(events), total_signal(signal))
    # stations with signal are exactly those with a rise time and an early fraction
    triggered = pattern(events) > 0
    np.testing.assert_array_equal(np.isfinite(rise_time(events)), triggered)
    fraction = early_fraction(events)[triggered]
    assert ((fraction > 0) & (fraction <= 1)).all()


def test_muon_rich_traces_rise_faster() -> None:
    """The simulator's "sim" (70 % muons) traces are shorter and more front-loaded than its
    "data" (30 % muons): medians differ by about 25 ns and 0.035, their seed-to-seed spread
    for 200 events is about 3 ns and 0.004."""
    data = airshower(200, "data", seed=11)
    sim = airshower(200, "sim", seed=12)
    assert np.nanmedian(rise_time(sim)) < np.nanmedian(rise_time(data)) - 10.0
    assert np.nanmedian(early_fraction(sim)) > np.nanmedian(early_fraction(data)) + 0.015


def test_errors() -> None:
    good = _traces((4, 4, _step()))
    with pytest.raises(ValueError, match="shape"):
        rise_time(np.zeros((2, 9, 80)))
    bad = good.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        early_fraction(bad)
    with pytest.raises(ValueError, match="low"):
        rise_time(good, low=0.0)
    with pytest.raises(ValueError, match="high"):
        rise_time(good, low=0.5, high=0.1)
    with pytest.raises(ValueError, match="bin_width"):
        rise_time(good, bin_width=-1.0)
    with pytest.raises(ValueError, match="bins"):
        early_fraction(good, bins=0)
    with pytest.raises(ValueError, match="start"):
        early_fraction(good, start=1.5)
    with pytest.raises(ValueError, match="signal"):
        total_signal(ak.Array([{"incident_energy": 1.0, "hits": []}]))
    events = make_traces(np.ones(1), good, np.zeros(1), np.zeros(1), np.full(1, 750.0))
    assert total_signal(events) == pytest.approx([140.0])
