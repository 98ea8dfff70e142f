"""An exported DCTR in a coffea processor: DCTRWrapper on CMS NanoAOD, eager and dask.

The file is the 200-event CMS NanoAOD of ``tests/data`` (scikit-hep-testdata, BSD-3);
DCTR is fitted on its first 100 events against the last 100 (a reweighting with no
physics meaning, but real NanoEvents: nested records, jagged jets, missing leading
jets), exported as TorchScript, and the wrapper's weights of every event must equal
``DCTR.weight``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import awkward as ak
import dask
import dask_awkward as dak
import numpy as np
import pytest
from coffea import processor
from coffea.analysis_tools import Weights
from coffea.nanoevents import NanoAODSchema, NanoEventsFactory

from dctrgan import DCTR
from dctrgan.dctr.coffea import DCTRWrapper

NANOAOD = Path(__file__).parent / "data" / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
FAST: dict[str, Any] = {"batch_size": 64, "epochs": 3, "patience": None, "progress": False}
FEATURES = ["MET.pt", "MET.sumEt", "PV.npvs", "fixedGridRhoFastjetAll"]
COLUMNS = {"MET_pt", "MET_sumEt", "PV_npvs", "fixedGridRhoFastjetAll"}


def nanoevents(mode: str) -> Any:
    with warnings.catch_warnings():
        # this file lacks some cross-references coffea's schema looks for
        warnings.simplefilter("ignore", RuntimeWarning)
        return NanoEventsFactory.from_root(
            {str(NANOAOD): "Events"}, schemaclass=NanoAODSchema, mode=mode
        ).events()


class WeightProcessor(processor.ProcessorABC):  # type: ignore[misc]
    """Weights the events with the exported DCTR and sums the weighted MET."""

    def __init__(self, path: Path) -> None:
        self.dctr = DCTRWrapper(path)

    def process(self, events: Any) -> dict[str, Any]:
        lazy = isinstance(events, dak.Array)
        weights = Weights(None if lazy else len(events))
        weights.add("dctr", self.dctr(events))
        return {"weight": weights.weight(), "met": ak.sum(events.MET.pt * weights.weight())}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DCTR, np.ndarray]:
    events = nanoevents("eager")
    dctr = DCTR(FEATURES, **FAST).fit(events[:100], events[100:])
    path = dctr.export(tmp_path_factory.mktemp("coffea") / "dctr.torchscript", "torchscript")
    return path, dctr, np.asarray(dctr.weight(events))


@pytest.mark.parametrize("mode", ["eager", "virtual", "dask"])
def test_wrapper_in_a_processor(exported: tuple[Path, DCTR, np.ndarray], mode: str) -> None:
    path, _, expected = exported
    events = nanoevents(mode)
    out = WeightProcessor(path).process(events)
    if mode == "dask":
        # the weights read the four feature branches and nothing else
        assert set(dak.report_necessary_columns(out["weight"]).popitem()[1]) == COLUMNS
        (out,) = dask.compute(out)
    np.testing.assert_allclose(np.asarray(out["weight"]), expected, rtol=1e-6)
    met = ak.to_numpy(nanoevents("eager").MET.pt)
    assert out["met"] == pytest.approx(float(np.sum(met * expected.astype(np.float64))), rel=1e-5)


def test_wrapper_with_feature_functions_and_replicas(tmp_path: Path) -> None:
    events = nanoevents("eager")
    features = {
        "ht": lambda ev: ak.sum(ev.Jet.pt, axis=1),
        "lead": lambda ev: ak.firsts(ev.Jet.pt),
        "met": lambda ev: ev.MET.pt,
    }
    dctr = DCTR(features, fill_none=0.0, replicas=2, **FAST).fit(events[:100], events[100:])
    with pytest.warns(UserWarning, match="functions themselves are not exported"):
        path = dctr.export(tmp_path / "dctr.torchscript", "torchscript")
    with pytest.raises(ValueError, match="pass the function"):
        DCTRWrapper(path)
    wrapper = DCTRWrapper(path, features=features)
    nominal, replicas = dctr.weight(events, replicas=True)
    got = ak.to_numpy(wrapper(events))
    assert got.shape == (200, 3)
    np.testing.assert_allclose(got[:, 0], ak.to_numpy(nominal), rtol=1e-6)
    np.testing.assert_allclose(got[:, 1:], ak.to_numpy(replicas), rtol=1e-6)


def test_wrapper_refuses_what_it_cannot_run(
    exported: tuple[Path, DCTR, np.ndarray], tmp_path: Path
) -> None:
    _, dctr, _ = exported
    onnx_path = dctr.export(tmp_path / "dctr.onnx")
    with pytest.raises(ValueError, match="format='torchscript'"):
        DCTRWrapper(onnx_path)
