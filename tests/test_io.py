from __future__ import annotations

import os
import re
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

import awkward as ak
import h5py
import numpy as np
import pytest
import uproot

import dctrgan
from dctrgan import io
from dctrgan.data import SIGNAL_SHAPE, Geometry, make_showers, make_traces
from dctrgan.io import writing

GEOMETRY = Geometry()
CELLS = GEOMETRY.n_layers * GEOMETRY.n_x * GEOMETRY.n_y


def showers_from_cells(
    rng: np.random.Generator, n: int, mean_hits: float = 40.0, weight: bool = True
) -> ak.Array:
    """Showers whose hits are distinct cells sorted by (layer, ix, iy), event 0 without hits."""
    counts = rng.poisson(mean_hits, n)
    counts[0] = 0
    cells = np.concatenate(
        [np.sort(rng.choice(CELLS, size=k, replace=False)) for k in counts] or [np.zeros(0, int)]
    )
    layer, rest = np.divmod(cells, GEOMETRY.n_x * GEOMETRY.n_y)
    ix, iy = np.divmod(rest, GEOMETRY.n_y)
    energy = 0.1 + rng.exponential(2.0, cells.size)
    return make_showers(
        rng.uniform(10.0, 100.0, n),
        counts,
        layer,
        ix,
        iy,
        energy,
        weight=rng.uniform(0.5, 2.0, n) if weight else None,
    )


def make_test_traces(rng: np.random.Generator, n: int, weight: bool = True) -> ak.Array:
    signal = rng.exponential(1.0, (n, *SIGNAL_SHAPE)).astype(np.float32)
    signal[signal < 2.5] = 0.0
    return make_traces(
        rng.uniform(1.0, 100.0, n),
        signal,
        rng.uniform(-750.0, 750.0, n),
        rng.uniform(-750.0, 750.0, n),
        rng.normal(750.0, 30.0, n),
        weight=rng.uniform(0.5, 2.0, n) if weight else None,
    )


def assert_same(got: ak.Array, expected: ak.Array) -> None:
    """Exact equality: values, types (dtypes, record names) and parameters."""
    assert str(got.type) == str(expected.type)
    assert ak.array_equal(got, expected, dtype_exact=True, check_parameters=True)


@pytest.fixture
def showers(rng: np.random.Generator) -> ak.Array:
    return showers_from_cells(rng, 300)


@pytest.fixture
def traces(rng: np.random.Generator) -> ak.Array:
    return make_test_traces(rng, 120)


@pytest.fixture
def shower_file(tmp_path: Path, showers: ak.Array) -> Path:
    return io.write(tmp_path / "showers.root", showers)


# ------------------------------------------------------------------ round trips


def test_showers_round_trip_exact(shower_file: Path, showers: ak.Array) -> None:
    back = dctrgan.read(shower_file)
    assert_same(back, showers)
    assert len(back[0, "hits"]) == 0
    for field in ("layer", "ix", "iy", "energy"):
        expected = ak.to_numpy(ak.flatten(showers["hits", field]))
        got = ak.to_numpy(ak.flatten(back["hits", field]))
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(ak.to_numpy(back["weight"]), ak.to_numpy(showers["weight"]))


def test_traces_round_trip_exact(tmp_path: Path, traces: ak.Array) -> None:
    path = io.write(tmp_path / "traces.root", traces)
    back = dctrgan.read(path)  # kind detected from the 'signal' branch
    assert_same(back, traces)
    np.testing.assert_array_equal(ak.to_numpy(back["signal"]), ak.to_numpy(traces["signal"]))
    assert ak.to_numpy(back["signal"]).shape == (len(traces), *SIGNAL_SHAPE)


@pytest.mark.parametrize("kind", ["showers", "traces"])
def test_zero_events_round_trip(tmp_path: Path, rng: np.random.Generator, kind: str) -> None:
    events = showers_from_cells(rng, 5)[:0] if kind == "showers" else make_test_traces(rng, 3)[:0]
    path = io.write(tmp_path / "empty.root", events)
    back = io.read(path, kind)  # type: ignore[arg-type]
    assert len(back) == 0
    assert_same(back, events)
    assert [len(c) for c in io.iterate(path, kind)] == [0]  # type: ignore[arg-type]


def test_simulated_events_round_trip_exact(tmp_path: Path) -> None:
    full = dctrgan.simulate.calorimeter(40, variant="full", seed=5)
    empty = make_showers([50.0], [0], [], [], [], [])
    showers = ak.concatenate([full[:20], empty, full[20:]])
    assert ak.num(showers["hits"])[20] == 0
    assert_same(io.read(io.write(tmp_path / "full.root", showers), "showers"), showers)
    traces = dctrgan.simulate.airshower(25, variant="sim", seed=6)
    assert_same(io.read(io.write(tmp_path / "sim.root", traces), "traces"), traces)


def test_events_without_hits_round_trip(tmp_path: Path) -> None:
    events = make_showers([50.0, 60.0], [0, 0], [], [], [], [])
    back = io.read(io.write(tmp_path / "nohits.root", events))
    assert_same(back, events)
    assert ak.to_list(ak.num(back["hits"])) == [0, 0]


def test_unweighted_and_extra_fields_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    events = showers_from_cells(rng, 50, weight=False)
    events = ak.with_field(events, np.arange(50, dtype=np.int64) + 1000, "run")
    events = ak.with_field(events, np.arange(50) % 3 == 0, "selected")
    back = io.read(io.write(tmp_path / "extra.root", events))
    assert "weight" not in ak.fields(back)
    assert back["run"].type.content == ak.types.NumpyType("int64")
    assert_same(back, events)


def test_write_casts_to_schema_dtypes(tmp_path: Path, showers: ak.Array) -> None:
    hits = showers["hits"]
    wide = ak.zip(
        {
            "incident_energy": ak.values_astype(showers["incident_energy"], np.float64),
            "hits": ak.zip(
                {
                    f: ak.values_astype(hits[f], np.int64 if f != "energy" else np.float64)
                    for f in ("layer", "ix", "iy", "energy")
                }
            ),
            "weight": showers["weight"],
        },
        depth_limit=1,
    )
    back = io.read(io.write(tmp_path / "wide.root", wide))
    assert_same(back, showers)


def test_written_layout_is_a_ttree(shower_file: Path, tmp_path: Path, traces: ak.Array) -> None:
    with uproot.open(shower_file) as file:
        assert file.classnames() == {"events;1": "TTree"}
        tree = file["events"]
        types = {b.name: b.typename for b in tree.branches}
    assert types == {
        "incident_energy": "float",
        "nhits": "int32_t",
        "hits_layer": "int32_t[]",
        "hits_ix": "int32_t[]",
        "hits_iy": "int32_t[]",
        "hits_energy": "float[]",
        "weight": "float",
    }
    with uproot.open(io.write(tmp_path / "t.root", traces, tree="air")) as file:
        assert file.classnames() == {"air;1": "TTree"}
        assert file["air"]["signal"].typename == "float[9][9][80]"


def test_write_in_chunks_makes_baskets(tmp_path: Path, showers: ak.Array) -> None:
    path = io.write(tmp_path / "chunks.root", showers, step_size=64)
    with uproot.open(path) as file:
        assert file["events"]["hits_energy"].num_baskets == 5  # ceil(300 / 64)
    assert_same(io.read(path), showers)


# ------------------------------------------------------------------ iterate, ranges, files


def test_iterate_chunks(shower_file: Path, showers: ak.Array) -> None:
    chunks = list(io.iterate(shower_file, step_size=70))
    assert [len(c) for c in chunks] == [70, 70, 70, 70, 20]
    assert_same(ak.concatenate(chunks), showers)
    assert_same(chunks[1], showers[70:140])


def test_iterate_by_memory_size(shower_file: Path, showers: ak.Array) -> None:
    # about 16 bytes per hit and 40 hits per event: "50 kB" is ~80 events a chunk
    chunks = list(io.iterate(shower_file, step_size="50 kB"))
    assert 2 <= len(chunks) <= 20
    assert_same(ak.concatenate(chunks), showers)


def test_memory_steps_fit_the_clusters(tmp_path: Path, rng: np.random.Generator) -> None:
    """A step in bytes takes whole clusters of the file, or a cluster in equal parts, so
    that no chunk holds two clusters' baskets; irregular clusters keep uproot's step."""
    events = showers_from_cells(rng, 1000)
    regular, irregular = tmp_path / "regular.root", tmp_path / "irregular.root"
    io.write_chunks(regular, (events[a : a + 100] for a in range(0, 1000, 100)))
    io.write_chunks(irregular, iter([events[:130], events[130:160], events[160:]]))
    branches = ["incident_energy", "hits_layer", "hits_ix", "hits_iy", "hits_energy", "weight"]
    with uproot.open(regular) as file:
        per_event = 1e6 / file["events"].num_entries_for("1 MB", branches)
    for events_per_step, expected in ((70, 50), (30, 25), (250, 200), (5000, 1000)):
        size = f"{int(per_event * events_per_step)} B"
        chunks = list(io.iterate(regular, step_size=size))
        assert {len(c) for c in chunks} == {expected}, size
        assert ak.array_equal(ak.concatenate(chunks), events)
        with uproot.open(irregular) as file:
            step = min(1000, file["events"].num_entries_for(size, branches))
        lengths = [len(c) for c in io.iterate(irregular, step_size=size)]
        assert lengths == [step] * (1000 // step) + ([1000 % step] if 1000 % step else [])


def test_entry_ranges(shower_file: Path, showers: ak.Array) -> None:
    assert_same(io.read(shower_file, entry_start=10, entry_stop=50), showers[10:50])
    assert_same(io.read(shower_file, entry_start=-5), showers[-5:])
    assert_same(io.read(shower_file, entry_stop=1000), showers)
    chunks = list(io.iterate(shower_file, entry_start=25, entry_stop=125, step_size=40))
    assert [len(c) for c in chunks] == [40, 40, 20]
    assert_same(ak.concatenate(chunks), showers[25:125])


def test_lists_and_globs(tmp_path: Path, showers: ak.Array) -> None:
    parts = [showers[:100], showers[100:120], showers[120:]]
    for i, part in enumerate(parts):
        io.write(tmp_path / f"part{i}.root", part)
    assert_same(io.read(str(tmp_path / "part*.root")), showers)
    assert_same(io.read(f"{tmp_path}/part*.root:events"), showers)
    files = [tmp_path / "part2.root", tmp_path / "part0.root"]
    assert_same(io.read(files), ak.concatenate([parts[2], parts[0]]))
    # an entry range over the concatenation crosses the file boundary
    assert_same(
        io.read(str(tmp_path / "part*.root"), entry_start=90, entry_stop=130), showers[90:130]
    )
    chunks = list(io.iterate(str(tmp_path / "part*.root"), step_size=60))
    assert [len(c) for c in chunks] == [60, 40, 20, 60, 60, 60]  # never across files
    assert_same(ak.concatenate(chunks), showers)


def test_tree_name(tmp_path: Path, showers: ak.Array) -> None:
    path = io.write(tmp_path / "named.root", showers, tree="calo")
    assert_same(io.read(f"{path}:calo"), showers)
    assert_same(io.read(path, tree="calo"), showers)
    assert_same(io.read(path), showers)  # the only TTree
    with uproot.update(path) as file:
        file.mktree("other", {"x": np.float32})
    with pytest.raises(ValueError, match=r"2 TTrees \['calo', 'other'\].*tree="):
        io.read(path)
    assert_same(io.read(path, tree="calo"), showers)


# ------------------------------------------------------------------ foreign layouts


def test_foreign_branch_names(tmp_path: Path, showers: ak.Array) -> None:
    hits = showers["hits"]
    cell = ak.zip(
        {
            "l": hits["layer"],
            "i": hits["ix"],
            "j": hits["iy"],
            "scene": ak.values_astype(hits["energy"], np.float64),
        }
    )
    path = tmp_path / "foreign.root"
    with uproot.recreate(path) as file:
        tree = file.mktree("t", {"E0": np.float64, "cell": cell.type.content, "w": np.float32})
        tree.extend(
            {
                "E0": ak.to_numpy(showers["incident_energy"]),
                "cell": cell,
                "w": ak.to_numpy(showers["weight"]),
            }
        )
    mapping = {
        "incident_energy": "E0",
        "layer": "cell_l",
        "ix": "cell_i",
        "iy": "cell_j",
        "energy": "cell_scene",
        "weight": "w",
    }
    assert_same(io.read(path, branches=mapping), showers)
    chunks = list(io.iterate(path, branches=mapping, step_size=100))
    assert_same(ak.concatenate(chunks), showers)


def test_positions_in_mm(tmp_path: Path, rng: np.random.Generator, showers: ak.Array) -> None:
    hits = showers["hits"]
    counts = ak.num(hits)
    flat = {f: ak.to_numpy(ak.flatten(hits[f])) for f in ("layer", "ix", "iy", "energy")}
    n = len(flat["energy"])
    # anywhere inside the cell, and within 0.4 mm of the sensitive layer
    x = GEOMETRY.cell_x(flat["ix"]) + rng.uniform(-0.45, 0.45, n) * GEOMETRY.cell_size
    y = GEOMETRY.cell_y(flat["iy"]) + rng.uniform(-0.45, 0.45, n) * GEOMETRY.cell_size
    z = GEOMETRY.layer_z[flat["layer"]] + rng.uniform(-0.4, 0.4, n)
    hit = ak.unflatten(ak.zip({"x": x, "y": y, "z": z, "e": flat["energy"]}), counts)
    path = tmp_path / "mm.root"
    with uproot.recreate(path) as file:
        file.mktree(
            "hits", {"incident_energy": np.float32, "hit": hit.type.content, "weight": np.float32}
        )
        file["hits"].extend(
            {"incident_energy": showers["incident_energy"], "hit": hit, "weight": showers["weight"]}
        )
    mapping = {"x": "hit_x", "y": "hit_y", "z": "hit_z", "energy": "hit_e"}
    assert_same(io.read(path, branches=mapping), showers)

    # a hit 1 mm beyond the calorimeter edge is an error naming the branch
    x[5] = GEOMETRY.n_x * GEOMETRY.cell_size / 2 + 1.0
    bad = ak.unflatten(ak.zip({"x": x, "y": y, "z": z, "e": flat["energy"]}), counts)
    with uproot.recreate(path) as file:
        file.mktree("hits", {"incident_energy": np.float32, "hit": bad.type.content})
        file["hits"].extend({"incident_energy": showers["incident_energy"], "hit": bad})
    with pytest.raises(ValueError, match=r"mm\.root:hits: branch 'hit_x'.*outside.*77\.32 mm"):
        io.read(path, branches=mapping)


def test_dense_voxel_branch(tmp_path: Path, rng: np.random.Generator) -> None:
    showers = showers_from_cells(rng, 40, weight=False)
    dense = np.zeros((40, *GEOMETRY.shape), dtype=np.float32)
    counts = ak.to_numpy(ak.num(showers["hits"]))
    event = np.repeat(np.arange(40), counts)
    hits = {f: ak.to_numpy(ak.flatten(showers["hits", f])) for f in ("layer", "ix", "iy", "energy")}
    dense[event, hits["layer"], hits["ix"], hits["iy"]] = hits["energy"]
    path = tmp_path / "voxels.root"
    with uproot.recreate(path) as file:
        tree = file.mktree(
            "gan", {"e0": np.float32, "cells": np.dtype((np.float32, GEOMETRY.shape))}
        )
        tree.extend({"e0": ak.to_numpy(showers["incident_energy"]), "cells": dense})
    with uproot.open(path) as file:
        assert file["gan"]["cells"].typename == "float[30][30][30]"
    back = io.read(path, branches={"voxels": "cells", "incident_energy": "e0"})
    assert_same(back, showers)  # every nonzero cell is a hit, in (layer, ix, iy) order


def test_foreign_traces(tmp_path: Path, traces: ak.Array) -> None:
    path = tmp_path / "auger.root"
    data = {
        name: ak.to_numpy(traces[field])
        for name, field in (
            ("E", "energy"),
            ("S", "signal"),
            ("cx", "core_x"),
            ("cy", "core_y"),
            ("X", "xmax"),
        )
    }
    with uproot.recreate(path) as file:
        file.mktree("sd", {k: np.dtype((v.dtype, v.shape[1:])) for k, v in data.items()})
        file["sd"].extend(data)
    mapping = {"energy": "E", "signal": "S", "core_x": "cx", "core_y": "cy", "xmax": "X"}
    back = io.read(path, branches=mapping)  # kind from the trace keys
    assert_same(back, traces[["energy", "signal", "core_x", "core_y", "xmax"]])


def test_from_branches_on_uproot_arrays(shower_file: Path, showers: ak.Array) -> None:
    with uproot.open(shower_file) as file:
        arrays = file["events"].arrays(
            ["incident_energy", "hits_layer", "hits_ix", "hits_iy", "hits_energy", "weight"]
        )
    assert_same(io.from_branches(arrays, "showers"), showers)


# ------------------------------------------------------------------ weights and friends


def test_friend_weights(
    tmp_path: Path, shower_file: Path, showers: ak.Array, rng: np.random.Generator
) -> None:
    factor = rng.uniform(0.1, 3.0, len(showers))
    before = shower_file.read_bytes()
    path = io.write_weights(tmp_path / "weights.root", factor)
    assert shower_file.read_bytes() == before
    with uproot.open(path) as file:
        assert [b.name for b in file["weights"].branches] == ["weight"]
        assert file["weights"].num_entries == len(showers)
    expected = (ak.to_numpy(showers["weight"]) * factor.astype(np.float32)).astype(np.float32)
    back = io.read(shower_file, friend=f"{path}:weights")
    np.testing.assert_array_equal(ak.to_numpy(back["weight"]), expected)
    assert_same(back[["incident_energy", "hits"]], showers[["incident_energy", "hits"]])
    # the same weights, chunk by chunk and on an entry range
    chunks = list(io.iterate(shower_file, friend=path, step_size=70, entry_start=30))
    np.testing.assert_array_equal(ak.to_numpy(ak.concatenate(chunks)["weight"]), expected[30:])
    # with plain uproot: read both trees and zip them
    with uproot.open(shower_file) as main, uproot.open(path) as friend:
        zipped = ak.zip(
            {
                "events": main["events"].arrays(["incident_energy"]),
                "friend": friend["weights"].arrays(),
            },
            depth_limit=1,
        )
    np.testing.assert_array_equal(
        ak.to_numpy(zipped["friend", "weight"]), factor.astype(np.float32)
    )


def test_friend_weights_from_events(tmp_path: Path, rng: np.random.Generator) -> None:
    events = showers_from_cells(rng, 60, weight=False)
    weighted = ak.with_field(events, rng.uniform(0.5, 1.5, 60).astype(np.float32), "weight")
    main = io.write(tmp_path / "main.root", events)
    friend = io.write_weights(tmp_path / "w.root", weighted)
    assert_same(io.read(main, friend=friend), weighted)


def test_friend_errors(tmp_path: Path, shower_file: Path) -> None:
    short = io.write_weights(tmp_path / "short.root", np.ones(10))
    with pytest.raises(
        ValueError, match=r"short\.root:weights has 10 entries but .*showers\.root:events has 300"
    ):
        io.read(shower_file, friend=short)
    with pytest.raises(ValueError, match=r"short\.root:weights has 10 entries"):
        io.iterate(shower_file, friend=short)  # checked before the first chunk
    with pytest.raises(
        ValueError, match=r"noweight\.root:events: no branch 'weight' \(friend weight\)"
    ):
        io.read(shower_file, friend=_no_weight_friend(tmp_path))
    with pytest.raises(ValueError, match="non-finite"):
        io.write_weights(tmp_path / "nan.root", np.array([1.0, np.nan]))


def _no_weight_friend(tmp_path: Path) -> Path:
    path = tmp_path / "noweight.root"
    with uproot.recreate(path) as file:
        file.mktree("events", {"w": np.float32})
        file["events"].extend({"w": np.ones(300, np.float32)})
    return path


# ------------------------------------------------------------------ streaming writes


def test_write_chunks_streams_iterate(
    tmp_path: Path, shower_file: Path, showers: ak.Array, rng: np.random.Generator
) -> None:
    factor = rng.uniform(0.5, 2.0, len(showers)).astype(np.float32)
    seen: list[int] = []

    def changed() -> Any:
        start = 0
        for chunk in io.iterate(shower_file, step_size=70):
            seen.append(len(chunk))
            yield ak.with_field(chunk, factor[start : start + len(chunk)], "factor")
            start += len(chunk)

    path = io.write_chunks(tmp_path / "out.root", changed(), tree="t")
    assert seen == [70, 70, 70, 70, 20]
    with uproot.open(path) as file:
        assert file["t"]["hits_energy"].num_baskets == 5  # one basket per chunk
    expected = ak.with_field(showers, factor, "factor")
    assert_same(io.read(f"{path}:t"), expected)
    # the same file as write() of everything at once
    assert_same(io.read(io.write(tmp_path / "all.root", expected)), io.read(path))


def test_write_chunks_traces_and_empty_chunks(tmp_path: Path, traces: ak.Array) -> None:
    chunks = iter([traces[:0], traces[:50], traces[50:50], traces[50:]])
    assert_same(io.read(io.write_chunks(tmp_path / "t.root", chunks)), traces)
    empty = io.write_chunks(tmp_path / "e.root", iter([traces[:0]]))
    assert_same(io.read(empty), traces[:0])


def test_write_chunks_errors_leave_nothing(
    tmp_path: Path, shower_file: Path, showers: ak.Array, traces: ak.Array
) -> None:
    before = shower_file.read_bytes()
    asked: list[int] = []

    def counted(parts: list[ak.Array]) -> Any:
        for part in parts:
            asked.append(len(part))
            yield part

    with pytest.raises(FileExistsError, match=r"showers\.root: exists"):
        io.write_chunks(shower_file, counted([showers]))
    assert asked == []  # refused before the first chunk is computed
    with pytest.raises(ValueError, match="no chunks to write"):
        io.write_chunks(tmp_path / "none.root", iter([]))
    with pytest.raises(
        ValueError, match=r"chunk 1: traces with fields .* differ from chunk 0's showers"
    ):
        io.write_chunks(shower_file, iter([showers[:10], traces[:10]]), overwrite=True)
    with pytest.raises(
        ValueError, match=r"chunk 2: showers with fields \['incident_energy', 'hits'\]"
    ):
        io.write_chunks(
            shower_file,
            iter([showers[:5], showers[5:9], showers[9:20][["incident_energy", "hits"]]]),
            overwrite=True,
        )
    with pytest.raises(TypeError, match="chunk 1 must be an awkward Array"):
        io.write_chunks(shower_file, iter([showers[:5], np.ones(3)]), overwrite=True)

    def interrupted() -> Any:
        yield showers[:100]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        io.write_chunks(shower_file, interrupted(), overwrite=True)
    assert shower_file.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [shower_file.name]


def test_write_weights_streams(tmp_path: Path, shower_file: Path, showers: ak.Array) -> None:
    weights = [np.full(n, float(i + 1)) for i, n in enumerate((70, 70, 70, 70, 20))]
    path = io.write_weights(tmp_path / "w.root", iter(weights))
    with uproot.open(path) as file:
        assert file["weights"]["weight"].num_baskets == 5
    back = io.read(shower_file, friend=path)
    expected = ak.to_numpy(showers["weight"]) * np.concatenate(weights).astype(np.float32)
    np.testing.assert_array_equal(ak.to_numpy(back["weight"]), expected.astype(np.float32))
    # chunks of events with a weight field, and the event index of a bad weight over all chunks
    friend = io.write_weights(tmp_path / "e.root", iter([showers[:70], showers[70:]]))
    with uproot.open(friend) as file:
        got = file["weights"]["weight"].array(library="np")
    np.testing.assert_array_equal(got, ak.to_numpy(showers["weight"]))
    bad = iter([np.ones(70), np.array([1.0, 2.0, np.inf])])
    with pytest.raises(ValueError, match=r"non-finite value.*first at index 72"):
        io.write_weights(tmp_path / "bad.root", bad)
    with pytest.raises(FileExistsError, match="exists"):
        io.write_weights(path, iter([]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.root", "showers.root", "w.root"]


# ------------------------------------------------------------------ HDF5


def _write_hdf5(path: Path, showers: ak.Array) -> np.ndarray:
    n = len(showers)
    dense = np.zeros((n, *GEOMETRY.shape), dtype=np.float32)
    event = np.repeat(np.arange(n), ak.to_numpy(ak.num(showers["hits"])))
    hits = {f: ak.to_numpy(ak.flatten(showers["hits", f])) for f in ("layer", "ix", "iy", "energy")}
    dense[event, hits["layer"], hits["ix"], hits["iy"]] = hits["energy"]
    with h5py.File(path, "w") as file:
        file.create_dataset("30x30/layers", data=dense, compression="gzip")
        file.create_dataset(
            "30x30/energy", data=ak.to_numpy(showers["incident_energy"]).reshape(n, 1)
        )
    return dense


def test_hdf5_import(tmp_path: Path, rng: np.random.Generator) -> None:
    showers = showers_from_cells(rng, 30, weight=False)
    path = tmp_path / "showers.hdf5"
    _write_hdf5(path, showers)
    assert_same(dctrgan.read(path), showers)
    assert_same(io.read(path, entry_start=5, entry_stop=12), showers[5:12])
    chunks = list(io.iterate(path, step_size=8))
    assert [len(c) for c in chunks] == [8, 8, 8, 6]
    assert_same(ak.concatenate(chunks), showers)
    other = tmp_path / "showers.data"
    shutil.copy(path, other)
    assert_same(io.read_hdf5(other), showers)  # whatever the suffix


def test_hdf5_errors(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("30x30/layers", data=np.zeros((2, 30, 30, 20), np.float32))
    with pytest.raises(ValueError, match=r"bad\.h5: no dataset \['30x30/energy'\]"):
        io.read(path)
    with h5py.File(path, "a") as file:
        file.create_dataset("30x30/energy", data=np.ones((2, 1)))
    with pytest.raises(
        ValueError,
        match=(
            r"bad\.h5: dataset '30x30/layers' must have shape \(N, 30, 30, 30\)"
            r".*\(2, 30, 30, 20\)"
        ),
    ):
        io.read(path)
    with pytest.raises(FileNotFoundError, match=r"missing\.h5"):
        io.read(tmp_path / "missing.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(OSError, match=r"text\.h5: not a readable HDF5 file"):
        io.read(tmp_path / "text.h5")
    good = tmp_path / "good.h5"
    _write_hdf5(good, showers_from_cells(rng, 3, weight=False))
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match=re.escape('pip install "dctrgan[hdf5]"')):
        io.read(good)


# ------------------------------------------------------------------ errors


def test_missing_file_and_glob(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "nope.root"))):
        io.read(tmp_path / "nope.root")
    with pytest.raises(FileNotFoundError, match=r"no files match the pattern .*run\*\.root"):
        io.read(str(tmp_path / "run*.root"))
    with pytest.raises(FileNotFoundError, match=r"nope\.root"):
        io.iterate(str(tmp_path / "nope.root"))  # raised at the call, not at the first chunk


def test_missing_tree(shower_file: Path) -> None:
    with pytest.raises(
        ValueError,
        match=r"showers\.root: no TTree or RNTuple 'showers'; TTrees in the file: \['events'\], "
        r"RNTuples: \[\]",
    ):
        io.read(f"{shower_file}:showers")


def test_rntuple_named_or_found(tmp_path: Path, showers: ak.Array) -> None:
    """An RNTuple is read like a TTree (it used to be refused); a name that is neither
    lists both."""
    path = tmp_path / "rntuple.root"
    with uproot.recreate(path) as file:
        file["events"] = {"incident_energy": ak.to_numpy(showers["incident_energy"])}  # an RNTuple
    back = io.read(path)
    assert ak.fields(back) == ["incident_energy"]
    np.testing.assert_array_equal(back["incident_energy"], showers["incident_energy"])
    with pytest.raises(
        ValueError,
        match=r"no TTree or RNTuple 'other'; TTrees in the file: \[\], RNTuples: \['events'\]",
    ):
        io.read(path, tree="other")


def test_missing_branch(shower_file: Path, traces: ak.Array, tmp_path: Path) -> None:
    with pytest.raises(
        ValueError,
        match=(
            r"showers\.root:events: no branch 'scene' \(energy\); available branches: "
            r"incident_energy, nhits"
        ),
    ):
        io.read(shower_file, branches={"energy": "scene"})
    path = io.write(tmp_path / "traces.root", traces)
    with pytest.raises(ValueError, match=r"traces\.root:events: no branch 'incident_energy'"):
        io.read(path, "showers")
    with pytest.raises(ValueError, match=r"no branch 'w' \(weight\)"):
        io.read(shower_file, branches={"weight": "w"})


def test_bad_mappings(shower_file: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['nhits'\].*jagged hit branches"):
        io.read(shower_file, branches={"nhits": "n"})
    with pytest.raises(ValueError, match=r"either 'ix'.*or 'x'"):
        io.read(shower_file, branches={"ix": "hits_ix", "x": "hits_ix"})
    with pytest.raises(ValueError, match="'voxels' replaces the hit keys"):
        io.read(shower_file, branches={"voxels": "v", "energy": "e"})
    with pytest.raises(ValueError, match="mixes shower keys"):
        io.read(shower_file, branches={"voxels": "v", "signal": "s"})


def test_truncated_and_corrupt_files(tmp_path: Path, shower_file: Path) -> None:
    data = shower_file.read_bytes()
    cut = tmp_path / "cut.root"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError, match=r"cut\.root.*truncated or corrupt"):
        io.read(cut)
    with pytest.raises(OSError, match=r"cut\.root.*truncated or corrupt"):
        list(io.iterate(cut))
    text = tmp_path / "text.root"
    text.write_text("hello, not ROOT" * 20)
    with pytest.raises(OSError, match=r"text\.root: cannot be read"):
        io.read(text)


def test_wrong_shapes(tmp_path: Path) -> None:
    path = tmp_path / "short_traces.root"
    with uproot.recreate(path) as file:
        file.mktree(
            "events",
            {
                "energy": np.float32,
                "signal": np.dtype((np.float32, (9, 9, 40))),
                "core_x": np.float32,
                "core_y": np.float32,
                "xmax": np.float32,
            },
        )
        file["events"].extend(
            {
                "energy": np.ones(3, np.float32),
                "signal": np.zeros((3, 9, 9, 40), np.float32),
                "core_x": np.zeros(3, np.float32),
                "core_y": np.zeros(3, np.float32),
                "xmax": np.zeros(3, np.float32),
            }
        )
    with pytest.raises(
        ValueError,
        match=(
            r"short_traces\.root:events: branch 'signal' must hold the signal "
            r"float\[9\]\[9\]\[80\].*\(9, 9, 40\)"
        ),
    ):
        io.read(path)
    vox = tmp_path / "vox.root"
    with uproot.recreate(vox) as file:
        file.mktree(
            "events", {"incident_energy": np.float32, "cells": np.dtype((np.float32, (10, 10, 10)))}
        )
        file["events"].extend(
            {
                "incident_energy": np.ones(2, np.float32),
                "cells": np.zeros((2, 10, 10, 10), np.float32),
            }
        )
    with pytest.raises(
        ValueError,
        match=(
            r"vox\.root:events: branch 'cells' must hold voxels float\[30\]\[30\]\[30\]"
            r".*\(10, 10, 10\)"
        ),
    ):
        io.read(vox, branches={"voxels": "cells"})


def test_non_finite_values(tmp_path: Path, showers: ak.Array) -> None:
    hits = showers["hits"]
    energy = ak.to_numpy(ak.flatten(hits["energy"])).copy()
    energy[7] = np.nan
    cell = ak.zip(
        {
            "layer": hits["layer"],
            "ix": hits["ix"],
            "iy": hits["iy"],
            "scene": ak.unflatten(energy, ak.num(hits)),
        }
    )
    path = tmp_path / "nan.root"
    with uproot.recreate(path) as file:
        file.mktree("events", {"incident_energy": np.float32, "hits": cell.type.content})
        file["events"].extend({"incident_energy": showers["incident_energy"], "hits": cell})
    with pytest.raises(
        ValueError,
        match=r"nan\.root:events: field 'hits\.energy': 1 non-finite.*\(branch 'hits_scene'\)",
    ):
        io.read(path, branches={"energy": "hits_scene"})


def test_empty_selection(shower_file: Path) -> None:
    with pytest.raises(
        ValueError,
        match=r"empty selection: entry_start=50, entry_stop=10 .* 300 in .*showers\.root:events",
    ):
        io.read(shower_file, entry_start=50, entry_stop=10)
    with pytest.raises(ValueError, match="empty selection"):
        io.read(shower_file, entry_start=300)
    with pytest.raises(ValueError, match="empty selection"):
        io.iterate(shower_file, entry_start=400)


# ------------------------------------------------------------------ writing safely


def test_overwrite_false_refuses(shower_file: Path, showers: ak.Array) -> None:
    before = shower_file.read_bytes()
    with pytest.raises(FileExistsError, match=r"showers\.root: exists; pass overwrite=True"):
        io.write(shower_file, showers[:3])
    with pytest.raises(FileExistsError, match="exists"):
        io.write_weights(shower_file, np.ones(3))
    assert shower_file.read_bytes() == before
    io.write(shower_file, showers[:3], overwrite=True)
    assert len(io.read(shower_file)) == 3


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failing_write_leaves_destination(
    shower_file: Path,
    showers: ak.Array,
    monkeypatch: pytest.MonkeyPatch,
    error: type[BaseException],
) -> None:
    before = shower_file.read_bytes()
    real = writing._branch_data
    calls: list[int] = []

    def fail_midway(chunk: ak.Array, types: Any) -> dict[str, Any]:
        calls.append(len(chunk))
        if len(calls) == 3:
            msg = "disk on fire"
            raise error(msg)
        return real(chunk, types)

    monkeypatch.setattr(writing, "_branch_data", fail_midway)
    with pytest.raises(error, match="disk on fire"):
        io.write(shower_file, showers[::-1], overwrite=True, step_size=50)
    assert calls == [50, 50, 50]
    assert shower_file.read_bytes() == before
    assert [p.name for p in shower_file.parent.iterdir()] == [shower_file.name]
    calls.clear()
    with pytest.raises(error, match="disk on fire"):
        io.write(shower_file.parent / "new.root", showers, step_size=50)
    assert [p.name for p in shower_file.parent.iterdir()] == [shower_file.name]


def test_new_file_permissions(shower_file: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(shower_file.stat().st_mode) == 0o666 & ~umask
    shower_file.chmod(0o640)
    io.write(shower_file, io.read(shower_file)[:2], overwrite=True)
    assert stat.S_IMODE(shower_file.stat().st_mode) == 0o640


def test_unwritable_fields(tmp_path: Path, showers: ak.Array) -> None:
    jagged = ak.with_field(showers, showers["hits", "energy"], "copy")
    with pytest.raises(ValueError, match="field 'copy' cannot be written"):
        io.write(tmp_path / "x.root", jagged)
    with pytest.raises(ValueError, match="field 'nhits' cannot be written"):
        io.write(tmp_path / "x.root", ak.with_field(showers, np.zeros(len(showers)), "nhits"))
    bad = ak.with_field(showers, np.full(len(showers), np.inf, np.float32), "weight")
    with pytest.raises(ValueError, match="field 'weight': 300 non-finite"):
        io.write(tmp_path / "x.root", bad)
    assert list(tmp_path.iterdir()) == []


def test_weighted_and_unweighted_files(tmp_path: Path, showers: ak.Array) -> None:
    io.write(tmp_path / "a.root", showers[["incident_energy", "hits"]][:10])
    io.write(tmp_path / "b.root", showers[10:20])
    with pytest.raises(
        ValueError, match=r"b\.root:events has a 'weight' branch but .*a\.root:events has none"
    ):
        io.read([tmp_path / "a.root", tmp_path / "b.root"])
    with pytest.raises(ValueError, match=r"a\.root:events: no branch 'weight'"):
        io.read([tmp_path / "b.root", tmp_path / "a.root"])
    with pytest.raises(ValueError, match=r"names tree 'x' but tree='events'"):
        io.read(f"{tmp_path / 'a.root'}:x", tree="events")


def test_other_geometry_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    small = Geometry(n_layers=10, n_x=12, n_y=12, absorber=(2.1,) * 10)
    counts = rng.poisson(20, 50)
    total = int(counts.sum())
    events = make_showers(
        rng.uniform(10, 100, 50),
        counts,
        rng.integers(0, 10, total),
        rng.integers(0, 12, total),
        rng.integers(0, 12, total),
        rng.exponential(1.0, total),
        geometry=small,
    )
    path = io.write(tmp_path / "small.root", events)
    back = io.read(path, geometry=small)
    assert_same(back, events)  # the geometry travels as a parameter of the hits
    np.testing.assert_array_equal(
        ak.to_numpy(ak.flatten(back["hits"].x)), ak.to_numpy(ak.flatten(events["hits"].x))
    )
    # read with the default geometry the hits are the same numbers, without the parameter
    default = io.read(path)
    assert ak.array_equal(default, events, check_parameters=False)
    assert not ak.array_equal(default, events, check_parameters=True)
