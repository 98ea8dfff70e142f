"""Hit tables (one row per hit) grouped into events: ``read``/``iterate`` with ``group_by=``.

``uproot-from-geant4.root`` (scikit-hep-testdata, BSD-3-Clause, see
``tests/data/LICENSE-scikit-hep-testdata``) holds a Geant4 application's ``HitStrips``
tree: ``Event``, ``Laystrip`` (layer * 1000 + strip) and ``Energy`` per hit.
"""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

import dctrgan
from dctrgan.data import Geometry, make_showers
from dctrgan.features import high_level, observables

G4 = f"{Path(__file__).parent / 'data' / 'uproot-from-geant4.root'}:HitStrips"
#: The strip detector of the Geant4 file: 3 layers of up to 109 strips, one cell across.
STRIPS = Geometry(n_layers=3, n_x=110, n_y=1, cell_size=1.0, absorber=(1.0, 1.0, 1.0))


@pytest.fixture(scope="module")
def table() -> dict[str, np.ndarray]:
    with uproot.open(G4) as tree:
        return tree.arrays(library="np")  # type: ignore[no-any-return]


def test_geant4_hits_grouped_into_events(table: dict[str, np.ndarray]) -> None:
    events = dctrgan.read(G4, group_by="Event")
    values, counts = np.unique(table["Event"], return_counts=True)
    assert len(events) == len(values) == 453
    assert str(ak.type(events)) == (
        "453 * {Event: int32, Laystrip: var * int32, Energy: var * float32}"
    )
    # events in order of first appearance, each with its own hits, in row order
    _, first = np.unique(table["Event"], return_index=True)
    np.testing.assert_array_equal(ak.to_numpy(events.Event), table["Event"][np.sort(first)])
    order = np.argsort(ak.to_numpy(events.Event))
    np.testing.assert_array_equal(ak.to_numpy(ak.num(events.Energy, axis=1))[order], counts)
    np.testing.assert_allclose(float(ak.sum(events.Energy)), table["Energy"].sum(), rtol=1e-6)
    k = 17
    rows = table["Event"] == ak.to_numpy(events.Event)[k]
    np.testing.assert_array_equal(ak.to_numpy(events.Laystrip[k]), table["Laystrip"][rows])


def test_geant4_hits_grouped_in_chunks() -> None:
    eager = dctrgan.read(G4, group_by="Event")
    chunks = list(dctrgan.iterate(G4, group_by="Event", step_size=500))
    assert len(chunks) > 5
    assert ak.array_equal(ak.concatenate(chunks), eager)  # no event split across chunks
    sliced = dctrgan.read(G4, group_by="Event", entry_stop=100)
    assert int(ak.sum(ak.num(sliced.Energy, axis=1))) == 100


def _table(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """A hit table of ``n`` events, rows in event order; event ids are not sorted."""
    counts = rng.integers(1, 12, n)
    ids = rng.permutation(10 * n)[:n].astype(np.int64)
    hits = int(counts.sum())
    incident = rng.uniform(10, 100, n).astype(np.float32)
    return {
        "event": np.repeat(ids, counts),
        "layer": rng.integers(0, 30, hits).astype(np.int32),
        "e": rng.exponential(1.0, hits).astype(np.float32),
        "e0": np.repeat(incident, counts),
    }


def _write(path: Path, table: dict[str, np.ndarray]) -> Path:
    with uproot.recreate(path) as file:
        file.mktree("hits", {k: v.dtype for k, v in table.items()}).extend(table)
    return path


def test_non_contiguous_table(tmp_path: Path, rng: np.random.Generator) -> None:
    ordered = _table(rng, 60)
    perm = rng.permutation(len(ordered["event"]))
    shuffled = {k: v[perm] for k, v in ordered.items()}
    path = _write(tmp_path / "shuffled.root", shuffled)
    events = dctrgan.read(path, group_by="event")
    _, first = np.unique(shuffled["event"], return_index=True)
    np.testing.assert_array_equal(ak.to_numpy(events.event), shuffled["event"][np.sort(first)])
    for k in (0, 11, 59):
        rows = shuffled["event"] == ak.to_numpy(events.event)[k]
        np.testing.assert_array_equal(ak.to_numpy(events.e[k]), shuffled["e"][rows])
    with pytest.raises(ValueError, match=r"rows of the event event=\d+ are not contiguous"):
        list(dctrgan.iterate(path, group_by="event", step_size=50))
    # rows in event order stream fine, and as read() groups them
    contiguous = _write(tmp_path / "ordered.root", ordered)
    chunks = list(dctrgan.iterate(contiguous, group_by="event", step_size=37))
    assert ak.array_equal(ak.concatenate(chunks), dctrgan.read(contiguous, group_by="event"))
    assert len(ak.concatenate(chunks)) == 60


def test_hit_table_into_showers(tmp_path: Path, rng: np.random.Generator) -> None:
    table = _table(rng, 40)
    path = _write(tmp_path / "hits.root", table)
    mapping = {"layer": "layer", "ix": 0, "iy": 15, "energy": "e", "incident_energy": "e0"}
    showers = dctrgan.read(path, "showers", group_by="event", branches=mapping)
    assert showers.fields == ["incident_energy", "hits", "event"]
    assert str(ak.type(showers.hits)) == (
        "40 * var * Hit[layer: int32, ix: int32, iy: int32, energy: float32]"
    )
    assert set(ak.to_numpy(ak.flatten(showers.hits.iy))) == {15}
    np.testing.assert_allclose(float(ak.sum(showers.hits.energy)), table["e"].sum(), rtol=1e-6)
    _, first = np.unique(table["event"], return_index=True)
    np.testing.assert_array_equal(ak.to_numpy(showers.incident_energy), table["e0"][np.sort(first)])
    assert high_level(showers).shape == (40, 33)
    constant = dctrgan.read(path, group_by="event", branches={**mapping, "incident_energy": 50})
    assert set(ak.to_numpy(constant.incident_energy)) == {50.0}
    streamed = dctrgan.iterate(path, "showers", group_by="event", branches=mapping, step_size=64)
    assert ak.array_equal(ak.concatenate(list(streamed)), showers)
    varying = {**table, "e0": rng.uniform(10, 100, len(table["e0"])).astype(np.float32)}
    bad = _write(tmp_path / "bad.root", varying)
    with pytest.raises(ValueError, match=r"branch 'e0' must be the same on every row of an event"):
        dctrgan.read(bad, group_by="event", branches=mapping)
    with pytest.raises(ValueError, match=r"key 'energy' must name a branch"):
        dctrgan.read(path, group_by="event", branches={**mapping, "energy": 1.0})
    with pytest.raises(ValueError, match=r"needs 'ix' or 'x'"):
        dctrgan.read(path, group_by="event", branches={"layer": "layer", "iy": 0, "energy": "e"})


def test_group_by_errors(tmp_path: Path, rng: np.random.Generator) -> None:
    path = _write(tmp_path / "hits.root", _table(rng, 5))
    with pytest.raises(ValueError, match=r"hits\.root:hits: no branch 'Event'"):
        dctrgan.read(path, group_by="Event", branches=["e"])
    with pytest.raises(ValueError, match=r"no flat branch 'Event' to group by"):
        dctrgan.read(path, group_by="Event")
    with pytest.raises(ValueError, match="not traces"):
        dctrgan.read(path, "traces", group_by="event")
    with pytest.raises(ValueError, match="group_by= does not apply with dask=True"):
        dctrgan.read(path, group_by="event", dask=True)
    with pytest.raises(TypeError, match="group_by must be a branch name"):
        dctrgan.read(path, group_by=3)  # type: ignore[arg-type]


def test_geant4_strips_give_the_paper_features() -> None:
    """The documented recipe: group, decode ``Laystrip`` with awkward, build showers."""
    events = dctrgan.read(G4, group_by="Event")
    code = events.Laystrip
    counts = ak.to_numpy(ak.num(code, axis=1))
    flat = ak.to_numpy(ak.flatten(code))
    showers = make_showers(
        np.full(len(events), 1.0),  # incident energy unknown here: a placeholder of 1 GeV
        counts,
        flat // 1000 - 1,  # layer 1..3 -> index 0..2
        flat % 1000,  # strip
        np.zeros_like(flat),  # one cell across
        ak.to_numpy(ak.flatten(events.Energy)),  # assumed MeV, Geant4's energy unit
        geometry=STRIPS,
    )
    features = high_level(showers)
    assert features.shape == (453, 6)
    np.testing.assert_allclose(
        features[:, 2], ak.to_numpy(ak.sum(events.Energy, axis=1)), rtol=1e-5
    )
    np.testing.assert_allclose(features[:, 3:].sum(axis=1), features[:, 2], rtol=1e-5)
    assert np.all((features[:, 1] >= 1) & (features[:, 1] <= 3))  # centroid in layers 1..3
    found = observables(showers)
    assert found["active_cells"].shape == (453,)
