"""The command line on ntuples nobody here wrote: feature expressions, fit, weight, report.

The inputs are scikit-hep-testdata files (tests/data, see its README and licence):
``uproot-Zmumu.root`` (flat branches) against a smeared copy, and a NanoAOD file
(jagged ``Jet_*`` collections with ``nJet``) against a modified copy. The copies are
written with plain uproot, the outputs read back with plain uproot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import click
import numpy as np
import pytest
import uproot
from click.testing import CliRunner, Result

import dctrgan
from dctrgan.cli import main
from dctrgan.cli._features import (
    FORMS,
    feature_spec,
    non_flat_fields,
    numeric_fields,
    parse,
    rebuild,
    values,
)
from dctrgan.cli.dctr import load_dctr

DATA = Path(__file__).parent / "data"
ZMUMU = DATA / "uproot-Zmumu.root"
NANO = DATA / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
FIT = ["--epochs", "2", "--seed", "3", "--no-progress"]
JETS = "first(Jet.pt),num(Jet),MET_pt"


def run(*args: Any) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def ok(*args: Any) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


# ------------------------------------------------------------------ expressions


@pytest.fixture
def events() -> ak.Array:
    """Three events: two jets, none, one; a nested MET record and a flat MET_phi."""
    return ak.Array(
        [
            {"Jet": [{"pt": 50.0, "eta": 0.1}, {"pt": 30.0, "eta": -1.0}], "MET": {"pt": 20.0}},
            {"Jet": [], "MET": {"pt": 5.0}},
            {"Jet": [{"pt": 10.0, "eta": 2.0}], "MET": {"pt": 7.5}},
        ]
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("num(Jet)", [2, 0, 1]),
        ("num(Jet.pt)", [2, 0, 1]),
        ("sum(Jet.pt)", [80.0, 0.0, 10.0]),
        ("max(Jet.pt)", [50.0, None, 10.0]),
        ("min(Jet.eta)", [-1.0, None, 2.0]),
        ("first(Jet.pt)", [50.0, None, 10.0]),
        ("first( Jet.eta )", [0.1, None, 2.0]),
        ("MET.pt", [20.0, 5.0, 7.5]),
    ],
)
def test_expressions_known_answers(events: ak.Array, expression: str, expected: list[Any]) -> None:
    assert ak.to_list(parse(expression)(events)) == expected


def test_fill_none_and_flat_fallback(events: ak.Array) -> None:
    events = ak.with_field(events, np.array([0.5, -1.0, 3.0]), "MET_phi")
    table = values(events, ["first(Jet.pt)", "num(Jet)", "MET.phi"], fill_none=-1.0)
    np.testing.assert_array_equal(table["first(Jet.pt)"], [50.0, -1.0, 10.0])
    np.testing.assert_array_equal(table["num(Jet)"], [2, 0, 1])
    np.testing.assert_array_equal(table["MET.phi"], [0.5, -1.0, 3.0])  # the flat MET_phi
    assert all(v.dtype == np.float64 for v in table.values())
    with pytest.raises(ValueError, match=r"'max\(Jet.pt\)' is missing in 1 event.*--fill-none"):
        values(events, ["max(Jet.pt)"], fill_none=None)
    assert non_flat_fields(events) == ["Jet"]  # MET is a record of numbers: flat
    assert numeric_fields(events) == ["MET.pt", "MET_phi"]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("Jet.pt", "not one number per event"),
        ("num(MET.pt)", "not a collection"),
        ("sum(Jet)", r"name one of its fields, e.g. sum\(Jet.pt\)"),
        ("first(Muon.pt)", "no field 'Muon' in the events"),
        ("Jet.phi", "no field 'phi' in Jet"),
    ],
)
def test_expression_errors_name_the_feature(
    events: ak.Array, expression: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        parse(expression)(events)


def test_feature_spec_and_rebuild() -> None:
    assert feature_spec("auto") == "auto"
    assert feature_spec(" pt1, eta1 ,MET.pt") == ["pt1", "eta1", "MET.pt"]
    spec = feature_spec(JETS)
    assert list(spec) == ["first(Jet.pt)", "num(Jet)", "MET_pt"]
    assert all(callable(f) for f in spec.values())
    rebuilt = rebuild(list(spec))
    assert rebuilt == spec  # the saved names give the same features back
    assert rebuild(["pt1", "eta1"]) is None
    assert rebuild(["total_energy"]) is None
    assert rebuild(None) is None


@pytest.mark.parametrize("text", ["max(Jet.pt", "mean(Jet.pt)", "Jet pt", "first()", ",", "a-b"])
def test_bad_syntax_names_the_option_and_the_forms(text: str) -> None:
    with pytest.raises(click.BadParameter) as info:
        feature_spec(text)
    message = info.value.format_message()
    assert "--features" in message
    assert "num(Jet), sum(Jet.pt), max(Jet.pt), min(Jet.pt), first(Jet.pt)" in message
    assert FORMS.split(", or ")[1] in message


# ------------------------------------------------------------------ files


def _copy(source: Path, tree: str, out: Path, change: Any) -> Path:
    """Write ``change(arrays)`` of ``source``'s tree with plain uproot."""
    arrays = change(uproot.open(source)[tree])
    with uproot.recreate(out) as file:
        file[tree] = arrays
    return out


@pytest.fixture(scope="module")
def zmumu(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Z -> mumu events with pt1 and eta1 smeared (the "fake" sample)."""
    rng = np.random.default_rng(7)

    def smear(tree: Any) -> dict[str, np.ndarray]:
        a = tree.arrays(["pt1", "eta1", "pt2", "M"], library="np")
        a["pt1"] = a["pt1"] * rng.normal(1.05, 0.05, len(a["pt1"]))
        a["eta1"] = a["eta1"] + rng.normal(0.0, 0.2, len(a["eta1"]))
        return a

    return _copy(ZMUMU, "events", tmp_path_factory.mktemp("zmumu") / "smeared.root", smear)


@pytest.fixture(scope="module")
def nano(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The NanoAOD events with jets 10 % harder and MET 10 % softer, as NanoAOD writes
    them (nJet, Jet_pt, ...)."""

    def modify(tree: Any) -> dict[str, Any]:
        a = tree.arrays(["Jet_pt", "Jet_eta", "MET_pt"])
        jets = ak.zip({"pt": a.Jet_pt * np.float32(1.1), "eta": a.Jet_eta})
        return {"Jet": jets, "MET_pt": a.MET_pt * np.float32(0.9)}

    return _copy(NANO, "Events", tmp_path_factory.mktemp("nano") / "modified.root", modify)


def test_flat_ntuple_fit_weight_report(tmp_path: Path, zmumu: Path) -> None:
    model, out = tmp_path / "dctr.pt", tmp_path / "weighted.root"
    result = ok("fit", ZMUMU, f"{zmumu}:events", "-o", model, "--features", "pt1,eta1", *FIT)
    assert "mlp on 2 features" in result.output
    assert "on 2304 real and 2304 fake events" in result.output
    ok("weight", model, zmumu, "-o", out, "--no-progress")
    tree = uproot.open(out)["events"]
    assert {"pt1", "eta1", "pt2", "M", "weight"} <= set(tree.keys())
    weights = tree["weight"].array(library="np")
    assert weights.dtype == np.float32
    expected = dctrgan.DCTR.load(model).weight(dctrgan.read(zmumu))
    np.testing.assert_array_equal(weights, np.asarray(expected, dtype=np.float32))
    np.testing.assert_array_equal(
        tree["pt1"].array(library="np"), uproot.open(zmumu)["events"]["pt1"].array(library="np")
    )
    # without a model, every flat numeric branch both files have (the weight left out)
    report = tmp_path / "report"
    ok("report", f"{ZMUMU}:events", out, "-o", report, "--figures", "none", "--no-progress")
    rows = (report / "report.csv").read_text().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["pt1", "eta1", "pt2", "M"]
    # with the model: its features are the classifier inputs
    args = ["--model", model, "--figures", "pt1", "--overwrite", "--no-progress"]
    result = ok("report", ZMUMU, out, "-o", report, *args)
    assert "2 classifier inputs" in result.output
    assert (report / "pt1.png").is_file()


def test_nanoaod_fit_weight_report_with_reductions(tmp_path: Path, nano: Path) -> None:
    model, out = tmp_path / "dctr.pt", tmp_path / "weighted.root"
    args = ["--features", JETS, "--fill-none", "0"]
    result = ok("fit", f"{NANO}:Events", nano, "-o", model, *args, *FIT)
    assert "mlp on 3 features" in result.output
    assert "on 200 real and 200 fake events" in result.output
    dctr = load_dctr(str(model), "cpu")
    assert dctr.feature_names == ["first(Jet.pt)", "num(Jet)", "MET_pt"]
    ok("weight", model, nano, "-o", out, "--step-size", "64", "--no-progress")
    tree = uproot.open(out)["Events"]
    assert {"nJet", "Jet_pt", "Jet_eta", "MET_pt", "weight"} <= set(tree.keys())
    weights = tree["weight"].array(library="np")
    assert weights.dtype == np.float32
    assert len(weights) == 200
    assert np.all(np.isfinite(weights))
    assert np.all(weights > 0)
    expected = dctr.weight(dctrgan.read(nano))
    np.testing.assert_allclose(weights, np.asarray(expected, dtype=np.float32), rtol=1e-6)
    friend = tmp_path / "friend.root"
    ok("weight", model, f"{nano}:Events", "-o", friend, "--friend", "--no-progress")
    np.testing.assert_array_equal(
        uproot.open(friend)["weights"]["weight"].array(library="np"), weights
    )
    report = tmp_path / "report"
    result = ok("report", NANO, out, "-o", report, "--model", model, "--no-progress")
    assert "compared 3 observables of 200 reference and 200 weighted events" in result.output
    assert "3 classifier inputs" in result.output
    rows = (report / "report.csv").read_text().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["first(Jet.pt)", "num(Jet)", "MET_pt"]
    assert sorted(p.name for p in report.glob("*.png")) == sorted(
        ["first(Jet.pt).png", "num(Jet).png", "MET_pt.png"]
    )


def test_nanoaod_auto_features_say_how_to_name_them(tmp_path: Path, nano: Path) -> None:
    result = run("fit", NANO, nano, "-o", tmp_path / "m.pt", *FIT)
    assert result.exit_code == 2, result.output
    assert "--features" in result.output
    assert "Jet" in result.output
    assert "first(Jet.pt)" in result.output
    result = run("fit", NANO, nano, "-o", tmp_path / "m.pt", "--features", "first(Jet.pt)", *FIT)
    assert result.exit_code == 2
    assert "first(Jet.pt) is missing in 14 of 200 events of REAL" in result.output
    assert "--fill-none" in result.output
    assert "fill_none=" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_traces_fit_weight_report_with_default_features(tmp_path: Path) -> None:
    sim = dctrgan.write(tmp_path / "sim.root", dctrgan.simulate.airshower(80, "sim", seed=1))
    data = dctrgan.write(tmp_path / "data.root", dctrgan.simulate.airshower(80, "data", seed=2))
    model, out = tmp_path / "dctr.pt", tmp_path / "weighted.root"
    result = ok("fit", data, sim, "-o", model, *FIT)
    assert "on 80 real and 80 fake events" in result.output
    ok("weight", model, sim, "-o", out, "--no-progress")
    weights = uproot.open(out)["events"]["weight"].array(library="np")
    assert weights.dtype == np.float32
    assert np.all(weights > 0)
    result = ok("report", data, out, "-o", tmp_path / "report", "--model", model, "--no-progress")
    assert "classifier inputs" in result.output


@pytest.mark.parametrize("command", ["fit", "weight", "report"])
def test_help_lists_ntuples_rntuple_and_reductions(command: str) -> None:
    text = " ".join(ok(command, "--help").output.split())
    assert "RNTuple" in text
    assert "ntuple" in text
    if command == "fit":
        assert "num(Jet), sum(Jet.pt), max(Jet.pt), min(Jet.pt), first(Jet.pt)" in text
        assert "--fill-none" in text
