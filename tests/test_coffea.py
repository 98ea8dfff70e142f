"""dctrgan inside coffea: DCTR weights of NanoEvents read with BaseSchema, in a processor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import dask
import dask_awkward as dak
import hist
import hist.dask
import numpy as np
import pytest
from coffea import processor
from coffea.analysis_tools import Weights
from coffea.nanoevents import BaseSchema, NanoEventsFactory
from numpy.testing import assert_allclose

import dctrgan
from dctrgan.data import SIGNAL_SHAPE, make_traces
from dctrgan.dctr import DCTR
from dctrgan.simulate import calorimeter

FAST: dict[str, Any] = {"batch_size": 256, "epochs": 3, "patience": None, "progress": False}
SHOWER_COLUMNS = {"incident_energy", "hits_layer", "hits_ix", "hits_iy", "hits_energy"}


class DctrProcessor(processor.ProcessorABC):  # type: ignore[misc]
    """Weights each event by DCTR and fills its visible energy, weighted, into a histogram."""

    def __init__(self, dctr: DCTR) -> None:
        self.dctr = dctr

    def process(self, events: Any) -> dict[str, Any]:
        lazy = isinstance(events, dak.Array)
        weights = Weights(None if lazy else len(events))
        weights.add("dctr", self.dctr.weight(events))
        histogram = hist.dask.Hist if lazy else hist.Hist
        visible = histogram.new.Reg(20, 0.0, 2.0e4, name="visible", label="MeV").Weight()
        visible.fill(visible=ak.sum(events.hits_energy, axis=1), weight=weights.weight())
        return {"visible": visible, "weight": weights.weight()}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DCTR]:
    """300 full showers written by dctrgan (with a weight branch) and a DCTR of full vs fast."""
    full = calorimeter(300, energy=20.0, seed=11)
    rng = np.random.default_rng(11)
    full = ak.with_field(full, rng.uniform(0.5, 2.0, 300).astype(np.float32), "weight")
    path = dctrgan.write(tmp_path_factory.mktemp("coffea") / "full.root", full)
    fast = calorimeter(300, energy=20.0, variant="fast", seed=12)
    return path, DCTR(**FAST).fit(full, fast)


def expected_histogram(events: ak.Array, weights: np.ndarray) -> hist.Hist:
    visible = hist.Hist.new.Reg(20, 0.0, 2.0e4, name="visible", label="MeV").Weight()
    return visible.fill(visible=ak.sum(events.hits.energy, axis=1), weight=weights)


@pytest.mark.parametrize("mode", ["eager", "virtual", "dask"])
def test_processor_weights_nanoevents(sample: tuple[Path, DCTR], mode: str) -> None:
    path, dctr = sample
    events = NanoEventsFactory.from_root(
        {str(path): "events"}, schemaclass=BaseSchema, mode=mode
    ).events()
    out = DctrProcessor(dctr).process(events)
    if mode == "dask":
        # the weights read the shower branches only: not 'weight', not the counter
        assert set(dak.report_necessary_columns(out["weight"]).popitem()[1]) == SHOWER_COLUMNS
        (out,) = dask.compute(out)
    showers = dctrgan.read(path)
    expected = ak.to_numpy(dctr.weight(showers))
    # one batch of the same 300 events in every mode: the same numbers
    assert np.array_equal(np.asarray(out["weight"]), expected)
    reference = expected_histogram(showers, expected)
    assert_allclose(out["visible"].values(), reference.values(), rtol=1e-12)
    assert_allclose(out["visible"].variances(), reference.variances(), rtol=1e-12)
    # float32 weights, summed in float64 as the histogram does
    assert out["visible"].sum().value == pytest.approx(expected.sum(dtype=np.float64), rel=1e-12)


def test_runner_with_chunks(sample: tuple[Path, DCTR]) -> None:
    path, dctr = sample
    run = processor.Runner(processor.IterativeExecutor(), schema=BaseSchema, chunksize=100)
    out = run({"full": {"files": {str(path): "events"}}}, DctrProcessor(dctr), treename="events")
    showers = dctrgan.read(path)
    # three chunks of 100 events, each weighted on its own
    expected = np.concatenate(
        [ak.to_numpy(dctr.weight(chunk)) for chunk in dctrgan.iterate(path, step_size=100)]
    )
    # the runner adds up the outputs of the chunks: arrays elementwise
    summed = expected.reshape(3, 100).sum(axis=0, dtype=np.float64)  # float32 weights
    assert_allclose(out["weight"], summed, rtol=1e-12)
    reference = expected_histogram(showers, expected)
    assert_allclose(out["visible"].values(), reference.values(), rtol=1e-12)
    assert_allclose(out["visible"].variances(), reference.variances(), rtol=1e-12)


def test_trace_records(tmp_path: Path, rng: np.random.Generator) -> None:
    def traces(n: int, scale: float) -> ak.Array:
        signal = rng.exponential(scale, (n, *SIGNAL_SHAPE)) * (
            rng.random((n, *SIGNAL_SHAPE)) < 0.05
        )
        return make_traces(
            rng.uniform(1.0, 100.0, n) * scale,
            signal.astype(np.float32),
            rng.uniform(-750.0, 750.0, n),
            rng.uniform(-750.0, 750.0, n),
            rng.normal(750.0, 30.0, n) * scale,
        )

    real, fake = traces(150, 1.0), traces(150, 1.02)  # overlapping: no n_eff warning
    path = dctrgan.write(tmp_path / "traces.root", fake)
    dctr = DCTR(["energy", "xmax"], **FAST).fit(real, fake)
    events = NanoEventsFactory.from_root(
        {str(path): "events"}, schemaclass=BaseSchema, mode="dask"
    ).events()
    weights = dctr.weight(events)
    assert set(dak.report_necessary_columns(weights).popitem()[1]) == {"energy", "xmax"}
    got = ak.to_numpy(weights.compute())
    assert np.array_equal(got, ak.to_numpy(dctr.weight(dctrgan.read(path))))
