"""DCTR on generic events: NanoAOD-like records, dotted names, {name: callable} features,
fill_none, the non-flat error, DCTR weights beside input weights, dask, float32 weights.

The third-party files of ``tests/data`` (scikit-hep-testdata, see its README and licence)
are read with plain uproot: this file tests the features, not the reading.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import dask_awkward as dak
import numpy as np
import pytest
import torch
import uproot
from numpy.testing import assert_allclose, assert_array_equal

from dctrgan import DCTR
from dctrgan.dctr.config import Config

DATA = Path(__file__).parent / "data"
NANOAOD = DATA / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
FAST: dict[str, Any] = {"batch_size": 32, "epochs": 50, "progress": False}
BRANCHES = ["nJet", "Jet_pt", "Jet_eta", "nMuon", "Muon_pt", "nElectron", "Electron_pt"]


def lead_pt(ev: Any) -> Any:
    """The leading jet's pt (None without jets)."""
    return ak.firsts(ev.Jet.pt)


#: Per-event features of NanoAOD-like events; the leading jet is missing without jets.
PER_EVENT = {
    "lead_pt": lead_pt,
    "ht": lambda ev: ak.sum(ev.Jet.pt, axis=1),
    "n_jets": lambda ev: ak.num(ev.Jet),
    "n_muons": lambda ev: ak.num(ev.Muon),
    "met": lambda ev: ev.MET.pt,
}


@pytest.fixture(scope="module")
def nano() -> ak.Array:
    """The 200 NanoAOD events: jets, muons, electrons, and MET as a nested record."""
    tree = uproot.open(NANOAOD)["Events"]
    events = tree.arrays(filter_name=[*BRANCHES, "MET_pt", "MET_phi"], how="zip")
    met = ak.zip({"pt": events.MET_pt, "phi": events.MET_phi})
    kept = ["nJet", "nMuon", "nElectron", "Jet", "Muon", "Electron"]
    return ak.with_field(events[kept], met, "MET")


@pytest.fixture(scope="module")
def smeared(nano: ak.Array) -> ak.Array:
    """The same events with every jet pt 30 % too high (200 events: 10 % is hidden by
    the statistical noise)."""
    return ak.with_field(nano, nano.Jet.pt * 1.3, ["Jet", "pt"])


def test_per_event_features_reweight_smeared_jets(nano: ak.Array, smeared: ak.Array) -> None:
    dctr = DCTR(PER_EVENT, fill_none=0.0, **FAST).fit(nano, smeared)
    assert dctr.feature_names == list(PER_EVENT)
    w = dctr.weight(smeared)
    assert isinstance(w, ak.Array)
    values = ak.to_numpy(w)
    assert values.dtype == np.float32
    assert np.isfinite(values).all()
    real = ak.to_numpy(ak.fill_none(lead_pt(nano), 0.0))
    fake = ak.to_numpy(ak.fill_none(lead_pt(smeared), 0.0))
    before = fake.mean() - real.mean()  # 30 % of a ~41 GeV mean
    after = np.average(fake, weights=values) - real.mean()
    # seed 0 gives 1.6 GeV (1.3 and 4.1 GeV with seeds 1, 2): half the shift is plenty
    assert before == pytest.approx(12.3, abs=0.1)
    assert abs(after) < 0.5 * before


def test_missing_values_need_fill_none(nano: ak.Array) -> None:
    n_without_jets = int(np.count_nonzero(ak.to_numpy(ak.num(nano.Jet)) == 0))
    assert n_without_jets > 0
    with pytest.raises(
        ValueError,
        match=rf"real: feature 'lead_pt' is missing \(None\) in {n_without_jets} of 200 events"
        r".*pass fill_none=",
    ):
        DCTR({"lead_pt": lead_pt}, **FAST).fit(nano, nano)
    # a number takes their place: -1 for the events without jets, the same fit as on
    # the filled column given as a numpy array
    settings = FAST | {"epochs": 2}
    dctr = DCTR({"lead_pt": lead_pt}, fill_none=-1.0, **settings).fit(nano, nano[::-1])
    filled = ak.to_numpy(ak.fill_none(lead_pt(nano), -1.0))[:, None]
    same = DCTR(**settings).fit(filled, filled[::-1])
    w = ak.to_numpy(dctr.weight(nano))
    assert_array_equal(w, same.weight(filled))
    no_jets = ak.to_numpy(ak.num(nano.Jet)) == 0
    assert len(np.unique(w[no_jets])) == 1


def test_dotted_names_and_their_errors(nano: ak.Array, smeared: ak.Array) -> None:
    dctr = DCTR(["MET.pt", "nJet"], **FAST | {"epochs": 2}).fit(nano, smeared)
    assert dctr.feature_names == ["MET.pt", "nJet"]
    assert np.isfinite(ak.to_numpy(dctr.weight(nano))).all()
    with pytest.raises(ValueError, match=r"no field\(s\) \['MET\.px'\].*did you mean 'MET\.p"):
        DCTR(["MET.px"], **FAST).fit(nano, nano)
    with pytest.raises(
        ValueError,
        match=r"field 'Jet\.pt' has more than one number per event \(var \* float32\); "
        r"reduce it per event with features=\{name: callable\}",
    ):
        DCTR(["Jet.pt"], **FAST).fit(nano, nano)


def test_non_flat_error_is_short_sorted_and_deterministic() -> None:
    events = uproot.open(NANOAOD)["Events"].arrays(how="zip")  # 947 branches, 21 collections
    shuffled = events[ak.fields(events)[::-1]]
    messages = []
    for real in (events, shuffled, events):
        with pytest.raises(ValueError, match="features='auto'") as error:
            DCTR(**FAST).fit(real, real)
        messages.append(str(error.value))
    assert messages[0] == messages[1] == messages[2]
    text = messages[0]
    assert len(text) < 400
    listed = text[text.index("[") + 1 : text.index(", ...")].replace("'", "").split(", ")
    assert listed == sorted(listed)
    assert listed[0] == "CorrT1METJet"
    assert "(21 in all)" in text
    for way_out in ("features=[", "features={name: callable}", "a callable returning {name:"):
        assert way_out in text
    assert "var *" not in text  # names only, no awkward types


def test_auto_takes_flat_numeric_and_bool_fields_not_weights() -> None:
    rng = np.random.default_rng(3)
    n = 300
    records = ak.zip(
        {
            "x": rng.normal(0.0, 1.0, n),
            "flag": rng.random(n) < 0.5,
            "count": rng.integers(0, 5, n).astype(np.uint8),
            "weight": np.ones(n, dtype=np.float32),
        }
    )
    dctr = DCTR(**FAST | {"epochs": 2}).fit(records, records)
    assert dctr.feature_names == ["x", "flag", "count"]
    nested = ak.with_field(records, ak.zip({"pt": records.x, "phi": records.x}), "MET")
    assert DCTR(**FAST | {"epochs": 2}).fit(nested, nested).feature_names == [
        "x",
        "flag",
        "count",
        "MET.pt",
        "MET.phi",
    ]
    attached = ak.with_field(records, np.ones(n, dtype=np.float32), "dctr_weight")
    model = DCTR(**FAST | {"epochs": 2}).fit(records, attached, fake_weight=np.ones(n))
    assert model.feature_names == ["x", "flag", "count"]  # dctr_weight is no feature


def test_attach_keeps_the_dctr_factor_and_refit_asks_for_weights(
    nano: ak.Array, smeared: ak.Array
) -> None:
    dctr = DCTR(PER_EVENT, fill_none=0.0, **FAST | {"epochs": 3}).fit(nano, smeared)
    w = ak.to_numpy(dctr.weight(smeared))
    input_weight = np.full(len(smeared), 2.0, dtype=np.float32)
    attached = dctr.attach(ak.with_field(smeared, input_weight, "weight"))
    assert ak.to_numpy(attached.weight).dtype == np.float32
    assert ak.to_numpy(attached.dctr_weight).dtype == np.float32
    assert_array_equal(ak.to_numpy(attached.dctr_weight), w)
    assert_allclose(ak.to_numpy(attached.weight), 2.0 * w, rtol=1e-7)
    assert_allclose(ak.to_numpy(attached.weight / attached.dctr_weight), 2.0, rtol=1e-6)
    # attached twice: both fields hold the product, their ratio the input weights still
    twice = dctr.attach(attached)
    assert_allclose(ak.to_numpy(twice.dctr_weight), w.astype(np.float64) ** 2, rtol=1e-6)
    assert_allclose(ak.to_numpy(twice.weight / twice.dctr_weight), 2.0, rtol=1e-6)
    # another field: the factor goes there alone, 'weight' stays the input weight
    other = dctr.attach(smeared, field="w_dctr")
    assert "dctr_weight" not in ak.fields(other)
    # a refit on the attached events does not silently fit on the weighted weights
    with pytest.raises(ValueError, match=r"^fake: field 'dctr_weight' says") as error:
        DCTR(PER_EVENT, fill_none=0.0, **FAST).fit(nano, attached)
    text = str(error.value)
    assert "fake_weight=events['weight'] / events['dctr_weight']" in text
    assert "fake_weight=events['weight'] to refine" in text
    assert len(text) < 400
    with pytest.raises(ValueError, match=r"^real: field 'dctr_weight'.*real_weight="):
        DCTR(PER_EVENT, fill_none=0.0, **FAST).fit(attached, nano)
    again = DCTR(PER_EVENT, fill_none=0.0, **FAST | {"epochs": 3})
    again.fit(nano, attached, fake_weight=attached.weight / attached.dctr_weight)
    assert_allclose(ak.to_numpy(again.weight(attached)), w, rtol=1e-6)  # the same fit


def test_save_load_keep_fill_none_and_dict_names(
    tmp_path: Path, nano: ak.Array, smeared: ak.Array
) -> None:
    dctr = DCTR(PER_EVENT, fill_none=-5.0, **FAST | {"epochs": 2}).fit(nano, smeared)
    path = tmp_path / "events.pt"
    dctr.save(path)
    with pytest.raises(ValueError, match=r"fitted with features=\{name: function\}.*'lead_pt'"):
        DCTR.load(path)
    with pytest.raises(ValueError, match="was fitted on the features"):
        DCTR.load(path, features={"lead_pt": lead_pt})
    loaded = DCTR.load(path, features=PER_EVENT, progress=False)
    assert loaded.config["fill_none"] == -5.0
    assert loaded.config["features"] == "callables"
    assert loaded.feature_names == list(PER_EVENT)
    assert_array_equal(ak.to_numpy(loaded.weight(smeared)), ak.to_numpy(dctr.weight(smeared)))
    # a model file written before fill_none existed reads as fill_none=None
    saved = loaded.config
    del saved["fill_none"]
    assert Config.from_dict(saved).fill_none is None
    with pytest.raises(ValueError, match="fill_none must be None or a finite number"):
        DCTR(fill_none=float("nan"))


def test_written_weights_read_back_with_uproot(
    tmp_path: Path, nano: ak.Array, smeared: ak.Array
) -> None:
    dctr = DCTR(PER_EVENT, fill_none=0.0, **FAST | {"epochs": 2}).fit(nano, smeared)
    attached = dctr.attach(smeared)
    path = tmp_path / "weighted.root"
    columns = {
        "MET_pt": ak.to_numpy(attached.MET.pt),
        "weight": ak.to_numpy(attached.weight),
        "dctr_weight": ak.to_numpy(attached.dctr_weight),
    }
    with uproot.recreate(path) as file:
        file.mktree("Events", {name: values.dtype for name, values in columns.items()})
        file["Events"].extend(columns)
    back = uproot.open(path)["Events"].arrays(library="np")
    assert back["weight"].dtype == np.float32
    assert_array_equal(back["weight"], ak.to_numpy(dctr.weight(smeared)))
    assert_array_equal(back["dctr_weight"], back["weight"])  # no input weight: the factor


def test_hzz_muons_against_zmumu() -> None:
    hzz = uproot.open(DATA / "uproot-HZZ.root")["events"]
    hzz = hzz.arrays(filter_name=["NMuon", "Muon_Px", "Muon_Py"], how="zip")
    zmumu = uproot.open(DATA / "uproot-Zmumu.root")["events"].arrays(["pt1", "pt2"])

    def muon_pts(ev: Any) -> Any:
        """Muon pts, sorted: computed from Px, Py in HZZ, the two given in Zmumu."""
        if "Muon" in ak.fields(ev):
            pt = np.hypot(ev.Muon.Px, ev.Muon.Py)
        else:
            pt = ak.concatenate([ev.pt1[:, None], ev.pt2[:, None]], axis=1)
        return ak.sort(pt, axis=1, ascending=False)

    # one {name: callable} mapping for both layouts; HZZ events with fewer than two muons
    # have no subleading (or leading) muon: fill_none
    features = {
        "lead_pt": lambda ev: ak.firsts(muon_pts(ev)),
        "sublead_pt": lambda ev: ak.firsts(muon_pts(ev)[:, 1:]),
    }
    dctr = DCTR(features, fill_none=0.0, **FAST | {"epochs": 3}).fit(zmumu, hzz)
    w = ak.to_numpy(dctr.weight(hzz))
    assert w.dtype == np.float32
    assert w.shape == (len(hzz),)
    assert np.isfinite(w).all()
    assert (w > 0).all()
    assert np.isfinite(ak.to_numpy(dctr.weight(zmumu))).all()


def test_weights_are_float32_in_every_container(nano: ak.Array, smeared: ak.Array) -> None:
    x = np.random.default_rng(1).normal(0.0, 1.0, (200, 2))
    model = DCTR(**FAST | {"epochs": 2}).fit(x, x + 0.5)
    assert model.weight(x).dtype == np.float32
    assert model.weight(torch.from_numpy(x)).dtype == torch.float32
    dctr = DCTR(["MET.pt", "nJet"], **FAST | {"epochs": 2}).fit(nano, smeared)
    lazy = dctr.weight(dak.from_awkward(nano, npartitions=2))
    assert isinstance(lazy, dak.Array)
    computed = ak.to_numpy(lazy.compute(scheduler="sync"))
    assert computed.dtype == np.float32
    assert_array_equal(computed, ak.to_numpy(dctr.weight(nano)))


def test_fit_on_dask_records_computes_the_feature_columns(
    nano: ak.Array, smeared: ak.Array
) -> None:
    lazy = dak.from_awkward(nano, npartitions=3)
    settings = FAST | {"epochs": 3}
    eager = DCTR(PER_EVENT, fill_none=0.0, **settings).fit(nano, smeared)
    from_dask = DCTR(PER_EVENT, fill_none=0.0, **settings).fit(lazy, smeared)
    assert from_dask.feature_names == eager.feature_names
    assert_array_equal(ak.to_numpy(from_dask.weight(smeared)), ak.to_numpy(eager.weight(smeared)))
    names = DCTR(["MET.pt", "nJet"], **settings)
    assert names.fit(lazy, smeared).feature_names == ["MET.pt", "nJet"]
    flat = nano[["nJet", "nMuon"]]
    auto = DCTR(**settings).fit(dak.from_awkward(flat, npartitions=2), flat[::-1])
    assert auto.feature_names == ["nJet", "nMuon"]
    with pytest.raises(TypeError, match=r"events\.compute\(\) or a subsample events\[:n\]"):
        DCTR(lead_pt, **settings).fit(lazy, smeared)  # a single callable: not on dask
    with pytest.raises(ValueError, match=r"not \['Electron', 'Jet', 'Muon'\]; pass"):
        DCTR(**settings).fit(lazy, smeared)  # "auto" on jagged records: the non-flat error
    # attach on dask is lazy and keeps the factor; a refit asks for the weights, uncomputed
    attached = eager.attach(lazy)
    assert isinstance(attached, dak.Array)
    assert {"weight", "dctr_weight"} <= set(attached.fields)
    with pytest.raises(ValueError, match=r"^fake: field 'dctr_weight'"):
        DCTR(PER_EVENT, fill_none=0.0, **settings).fit(nano, attached)
