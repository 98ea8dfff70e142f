"""Generic events (any TTree or RNTuple of numeric branches), RNTuples, and the I/O messages.

The third-party files in ``tests/data`` (scikit-hep-testdata, BSD-3-Clause, see
``tests/data/LICENSE-scikit-hep-testdata``) are ntuples nobody here wrote: CMS NanoAOD,
the HZZ and Zmumu tutorial trees. Hit tables are in ``test_io_hittable.py``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

import dctrgan
from dctrgan import io
from dctrgan.data import detect_kind, make_showers, validate

DATA = Path(__file__).parent / "data"
NANO = DATA / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
HZZ = DATA / "uproot-HZZ.root"
ZMUMU = DATA / "uproot-Zmumu.root"


def assert_same(got: ak.Array, expected: ak.Array) -> None:
    """Identical values (NaN equal to NaN), types and dtypes."""
    assert str(got.type) == str(expected.type)
    assert ak.array_equal(got, expected, dtype_exact=True, equal_nan=True)


def generic(rng: np.random.Generator, n: int) -> ak.Array:
    """Generic events of many dtypes: flat, fixed-size, jagged, a collection, a record."""
    counts = rng.integers(0, 5, n)
    hits = int(counts.sum())

    def jagged(values: np.ndarray) -> ak.Array:
        return ak.unflatten(values, counts)

    return ak.Array(
        {
            "run": rng.integers(-5, 5, n).astype(np.int8),
            "lumi": rng.integers(0, 60000, n).astype(np.uint16),
            "event": rng.integers(0, 2**40, n).astype(np.uint64),
            "nvtx": rng.integers(0, 50, n).astype(np.int64),
            "ht": rng.normal(300.0, 50.0, n),
            "trigger": rng.random(n) > 0.5,
            "p4": rng.normal(size=(n, 4)).astype(np.float32),
            "tracks": jagged(rng.normal(size=hits).astype(np.float32)),
            "Jet": ak.zip(
                {
                    "pt": jagged(rng.exponential(30.0, hits)),
                    "flavour": jagged(rng.integers(-5, 6, hits).astype(np.int16)),
                    "tagged": jagged(rng.random(hits) > 0.7),
                    "nconst": jagged(rng.integers(0, 200, hits).astype(np.uint8)),
                }
            ),
            "MET": ak.zip(
                {"pt": rng.exponential(20.0, n).astype(np.float32), "phi": rng.uniform(-3, 3, n)}
            ),
            "weight": rng.uniform(0.5, 2.0, n).astype(np.float32),
            "dctr_weight": rng.uniform(0.5, 2.0, n).astype(np.float32),
        }
    )


@pytest.fixture(scope="module")
def nano() -> ak.Array:
    return dctrgan.read(NANO)


# ------------------------------------------------------------------ third-party ntuples


def test_nanoaod_collections_are_zipped(nano: ak.Array) -> None:
    branches = uproot.open(NANO)["Events"].arrays(["nJet", "Jet_pt", "MET_pt", "Flag_METFilters"])
    assert len(nano) == 200
    assert str(ak.type(nano.Jet.pt)) == "200 * var * float32"
    assert ak.array_equal(nano.Jet.pt, branches["Jet_pt"])
    assert np.array_equal(ak.to_numpy(ak.num(nano.Jet, axis=1)), ak.to_numpy(branches["nJet"]))
    assert "nJet" not in nano.fields  # the counter is ak.num(events.Jet)
    assert "Jet_pt" not in nano.fields
    assert str(ak.type(nano.MET_pt)) == "200 * float32"
    assert str(ak.type(nano.Flag_METFilters)) == "200 * bool"
    assert ak.array_equal(nano.Flag_METFilters, branches["Flag_METFilters"])
    # a jagged branch without an underscore keeps its name (counted by nLHEPdfWeight)
    assert str(ak.type(nano.LHEPdfWeight)) == "200 * var * float32"


def test_nanoaod_in_chunks_and_with_dask(nano: ak.Array) -> None:
    chunks = list(dctrgan.iterate(NANO, step_size=64))
    assert [len(c) for c in chunks] == [64, 64, 64, 8]
    assert_same(ak.concatenate(chunks), nano)
    dak = pytest.importorskip("dask_awkward")
    lazy = dctrgan.read(NANO, dask=True, step_size=64)
    assert lazy.npartitions == 4
    assert_same(lazy.compute(), nano)
    # only what a computation uses is read: a field of a collection reads that branch
    # and the one the collection's offsets come from
    (met,) = dak.report_necessary_columns(lazy.MET_pt).values()
    assert met == frozenset({"MET_pt"})
    (jet,) = dak.report_necessary_columns(lazy.Jet.pt).values()
    assert "Jet_pt" in jet
    assert len(jet) <= 2
    assert all(name.startswith("Jet_") for name in jet)


def test_branch_selection_by_names_and_globs(nano: ak.Array) -> None:
    events = dctrgan.read(NANO, branches=["Jet_*", "nJet", "MET_pt"])
    assert events.fields == ["Jet", "MET_pt"]
    assert_same(events.Jet, nano.Jet)
    counter = dctrgan.read(NANO, branches=["nJet"])  # without the jets, the counter stays
    assert counter.fields == ["nJet"]
    with pytest.raises(ValueError, match=r"Events: no branch 'Jet_nope', 'MET\*x'; available: run"):
        dctrgan.read(NANO, branches=["Jet_pt", "Jet_nope", "MET*x"])
    with pytest.raises(ValueError, match=r"kind='events' is a list of branch names"):
        dctrgan.read(NANO, "events", branches={"energy": "Jet_pt"})


def test_hzz_collections_through_capitalized_counters() -> None:
    events = dctrgan.read(HZZ)
    raw = uproot.open(HZZ)["events"].arrays(["NMuon", "Muon_Px", "Muon_Charge", "EventWeight"])
    assert len(events) == 2421
    assert str(ak.type(events.Muon.Charge)) == "2421 * var * int32"
    assert ak.array_equal(events.Muon.Px, raw["Muon_Px"])
    assert np.array_equal(ak.to_numpy(ak.num(events.Muon, axis=1)), ak.to_numpy(raw["NMuon"]))
    assert not {"NMuon", "NJet", "Muon_Px"} & set(events.fields)
    assert str(ak.type(events.Jet.ID)) == "2421 * var * bool"
    assert ak.array_equal(events.EventWeight, raw["EventWeight"])


def test_zmumu_string_branch_skipped_or_refused(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="dctrgan"):
        events = dctrgan.read(ZMUMU)
    assert "Type" not in events.fields
    assert {"M", "pt1", "Q1"} <= set(events.fields)
    assert len(events) == 2304
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("non-numeric" in m and "Type" in m and "Zmumu.root:events" in m for m in warned)
    with pytest.raises(ValueError, match=r"Zmumu\.root:events: branch 'Type' holds char\*"):
        dctrgan.read(ZMUMU, branches=["M", "Type"])


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("rntuple", [False, True], ids=["ttree", "rntuple"])
def test_generic_round_trip(tmp_path: Path, rng: np.random.Generator, rntuple: bool) -> None:
    events = generic(rng, 200)
    path = io.write(tmp_path / "generic.root", events, rntuple=rntuple)
    back = dctrgan.read(path)
    assert_same(back, events)
    assert ak.to_list(back) == ak.to_list(events)
    assert_same(dctrgan.read(f"{path}:events", "events"), events)
    chunks = list(dctrgan.iterate(path, step_size=64))
    assert [len(c) for c in chunks] == [64, 64, 64, 8]
    again = io.write_chunks(tmp_path / "chunks.root", iter(chunks), rntuple=rntuple)
    assert_same(dctrgan.read(again), events)
    empty = io.write(tmp_path / "empty.root", events[:0], rntuple=rntuple)
    assert_same(dctrgan.read(empty), events[:0])
    assert [len(c) for c in dctrgan.iterate(empty)] == [0]
    selected = io.write(tmp_path / "selected.root", events[events.ht > 300], rntuple=rntuple)
    assert_same(dctrgan.read(selected), events[events.ht > 300])


def test_ttree_layout_of_generic_events(tmp_path: Path, rng: np.random.Generator) -> None:
    path = io.write(tmp_path / "generic.root", generic(rng, 10))
    with uproot.open(path) as file:
        tree = file["events"]
        assert tree.keys() == [
            *("run", "lumi", "event", "nvtx", "ht", "trigger", "p4", "ntracks", "tracks"),
            *("nJet", "Jet_pt", "Jet_flavour", "Jet_tagged", "Jet_nconst"),
            *("MET.pt", "MET.phi", "weight", "dctr_weight"),
        ]
        assert tree["Jet_pt"].count_branch.name == "nJet"
        assert tree["p4"].typename == "float[4]"


def test_generic_dask_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    pytest.importorskip("dask_awkward")
    events = generic(rng, 90)
    for rntuple in (False, True):
        path = io.write(tmp_path / f"g{int(rntuple)}.root", events, rntuple=rntuple)
        lazy = dctrgan.read(path, dask=True, step_size=40)
        assert lazy.npartitions == 3
        assert_same(lazy.compute(), events)
        written = dctrgan.write(tmp_path / f"w{int(rntuple)}-{{i}}.root", lazy)
        assert isinstance(written, list)
        assert_same(dctrgan.read(written), events)


def test_unwritable_generic_fields(tmp_path: Path, rng: np.random.Generator) -> None:
    events = generic(rng, 5)
    nested = ak.with_field(events, ak.Array([[[1.0], []], [], [[2.0]], [], []]), "deep")
    with pytest.raises(ValueError, match=r"field 'deep' cannot be written as a TTree branch.*var"):
        io.write(tmp_path / "x.root", nested)
    # an RNTuple stores any nesting of numbers, lists and records
    back = dctrgan.read(io.write(tmp_path / "deep.root", nested, rntuple=True))
    assert_same(back, nested)
    clash = ak.with_field(events, np.zeros(5, np.int32), "nJet")
    with pytest.raises(ValueError, match=r"fields 'Jet' and 'nJet' would both write the branch"):
        io.write(tmp_path / "x.root", clash)
    dotted = ak.Array({"a.b": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"field 'a\.b' cannot be written: field names"):
        io.write(tmp_path / "x.root", dotted)
    strings = ak.Array({"name": ["a", "b"], "x": [1, 2]})
    with pytest.raises(ValueError, match=r"field 'name': generic events hold numbers"):
        io.write(tmp_path / "x.root", strings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep.root"]


def test_overwrite_protection(tmp_path: Path, rng: np.random.Generator) -> None:
    events = generic(rng, 20)
    for rntuple in (False, True):
        path = tmp_path / f"out{int(rntuple)}.root"
        io.write(path, events, rntuple=rntuple)
        before = path.read_bytes()
        with pytest.raises(FileExistsError, match=r"exists; pass overwrite=True"):
            io.write(path, events[:3], rntuple=rntuple)
        assert path.read_bytes() == before
        io.write(path, events[:3], rntuple=rntuple, overwrite=True)
        assert len(dctrgan.read(path)) == 3


def test_weights_read_back_with_plain_uproot(tmp_path: Path, rng: np.random.Generator) -> None:
    events = generic(rng, 50)
    events = ak.with_field(events, rng.uniform(0.5, 2.0, 50), "weight")  # float64 in
    path = io.write(tmp_path / "weighted.root", events)
    with uproot.open(path) as file:
        arrays = file["events"].arrays(["weight", "dctr_weight"], library="np")
    assert arrays["weight"].dtype == np.float32  # weights are stored as float32
    np.testing.assert_array_equal(arrays["weight"], ak.to_numpy(events.weight).astype(np.float32))
    np.testing.assert_array_equal(arrays["dctr_weight"], ak.to_numpy(events.dctr_weight))
    assert str(ak.type(dctrgan.read(path).weight)) == "50 * float32"


# ------------------------------------------------------------------ RNTuple


def test_friend_of_attached_events_holds_the_dctr_factor(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """A friend of events from DCTR.attach holds dctr_weight: read(friend=) multiplies it
    into the input weight once, not the input weight twice."""
    n = 50
    input_weight = rng.uniform(0.5, 2.0, n).astype(np.float32)
    factor = rng.uniform(0.8, 1.2, n).astype(np.float32)
    events = ak.Array({"x": rng.normal(size=n), "weight": input_weight})
    source = io.write(tmp_path / "in.root", events)
    attached = ak.with_field(events, input_weight * factor, "weight")
    attached = ak.with_field(attached, factor, "dctr_weight")
    friend = io.write_weights(tmp_path / "w.root", attached)
    back = io.read(source, friend=friend)
    np.testing.assert_allclose(ak.to_numpy(back.weight), input_weight * factor, rtol=1e-6)
    # an explicit field is taken as given; plain numbers are written as they are
    io.write_weights(tmp_path / "w2.root", attached, field="weight")
    written = uproot.open(tmp_path / "w2.root")["weights"]["weight"].array(library="np")
    np.testing.assert_allclose(written, input_weight * factor, rtol=1e-6)


def test_rntuple_written_by_uproot(tmp_path: Path, rng: np.random.Generator) -> None:
    events = generic(rng, 30)
    path = tmp_path / "ntuple.root"
    with uproot.recreate(path) as file:
        file.mkrntuple("ntuple", events)
    assert_same(dctrgan.read(path), events)  # the only RNTuple, found
    assert_same(dctrgan.read(f"{path}:ntuple"), events)
    assert_same(dctrgan.read(path, tree="ntuple", branches=["Jet", "M*"]), events[["Jet", "MET"]])
    assert_same(ak.concatenate(list(dctrgan.iterate(path, step_size=7))), events)
    assert_same(dctrgan.read(path, entry_start=5, entry_stop=9), events[5:9])


def test_showers_in_an_rntuple(tmp_path: Path, rng: np.random.Generator) -> None:
    counts = rng.poisson(20, 40)
    total = int(counts.sum())
    showers = make_showers(
        rng.uniform(10, 100, 40),
        counts,
        rng.integers(0, 30, total),
        rng.integers(0, 30, total),
        rng.integers(0, 30, total),
        rng.exponential(1.0, total),
        weight=rng.uniform(0.5, 2.0, 40),
    )
    path = io.write(tmp_path / "showers.root", showers, rntuple=True)
    with uproot.open(path) as file:
        assert file.classnames() == {"events;1": "ROOT::RNTuple"}
    back = dctrgan.read(path)
    assert_same(back, showers)
    validate(back)
    renamed = dctrgan.read(path, branches={"energy": "hits_energy"})  # TTree-style names
    assert_same(renamed, showers)
    with pytest.raises(ValueError, match="dask=True reads showers and traces from TTrees only"):
        dctrgan.read(path, dask=True)


def test_tree_and_rntuple_names_in_messages(tmp_path: Path, rng: np.random.Generator) -> None:
    events = generic(rng, 5)
    path = tmp_path / "both.root"
    with uproot.recreate(path) as file:
        file.mkrntuple("ntuple", events[["ht"]])
        file.mktree("tree", {"ht": np.float64}).extend({"ht": ak.to_numpy(events.ht)})
    with pytest.raises(ValueError, match=r"1 TTrees \['tree'\] and 1 RNTuples \['ntuple'\]; name"):
        dctrgan.read(path)
    with pytest.raises(
        ValueError,
        match=r"no TTree or RNTuple 'nope'; TTrees in the file: \['tree'\], RNTuples: \['ntuple'\]",
    ):
        dctrgan.read(f"{path}:nope")
    tree = dctrgan.read(f"{path}:tree")
    assert_same(tree, dctrgan.read(f"{path}:ntuple"))
    with pytest.raises(ValueError, match="read TTrees and RNTuples separately"):
        dctrgan.read([f"{path}:tree", f"{path}:ntuple"])


# ------------------------------------------------------------------ messages


def test_missing_and_non_root_files(tmp_path: Path) -> None:
    missing = tmp_path / "x.root"
    with pytest.raises(FileNotFoundError) as info:
        dctrgan.read(missing)
    assert str(info.value) == f"no such file: '{missing}'"
    text = tmp_path / "notes.root"
    text.write_text("a text file\nwith lines\n")
    with pytest.raises(OSError, match=r"notes\.root: .*not a ROOT file") as error:
        dctrgan.read(text)
    assert "\n" not in str(error.value)
    cut = tmp_path / "cut.root"
    cut.write_bytes(b"ro")
    with pytest.raises(OSError, match=r"cut\.root: cannot be read; .*truncated or corrupt"):
        dctrgan.read(cut)


def test_write_refuses_other_suffixes(tmp_path: Path, rng: np.random.Generator) -> None:
    events = generic(rng, 5)
    with pytest.raises(ValueError, match=r"out\.txt: write\(\) writes ROOT files.*'\.root'"):
        dctrgan.write(tmp_path / "out.txt", events)
    with pytest.raises(
        ValueError, match=r"out\.h5: write\(\) writes HDF5 in the CaloChallenge layout"
    ):
        dctrgan.write(tmp_path / "out.h5", events)
    with pytest.raises(ValueError, match=r"w\.dat: write\(\) writes ROOT"):
        io.write_weights(tmp_path / "w.dat", np.ones(5))
    assert list(tmp_path.iterdir()) == []


def test_detect_kind_of_generic_events(rng: np.random.Generator) -> None:
    events = generic(rng, 4)
    assert detect_kind(events, generic=True) == "events"
    with pytest.raises(ValueError, match="cannot tell the kind"):
        detect_kind(events)
    with pytest.raises(ValueError, match=r"cannot tell the kind of events of type 4 \* var"):
        detect_kind(events.Jet, generic=True)
    validate(events, "events")
    with pytest.raises(ValueError, match=r"field 'weight': expected dtype float32"):
        validate(ak.with_field(events, np.ones(4), "weight"), "events")
