"""dctrgan on dask: lazy reads with column projection, lazy weights, writes, a local cluster."""

from __future__ import annotations

import importlib
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import dask
import dask_awkward as dak
import h5py
import numpy as np
import pytest
import torch
import uproot
from distributed import Client, LocalCluster
from numpy.testing import assert_allclose

import dctrgan
from dctrgan import io
from dctrgan.data import SIGNAL_SHAPE, Geometry, make_traces
from dctrgan.dctr import DCTR
from dctrgan.features import voxelize
from dctrgan.simulate import calorimeter
from dctrgan.training import threads

SMALL = Geometry(n_layers=12, n_x=12, n_y=12, absorber=(2.1,) * 12)
FAST: dict[str, Any] = {"batch_size": 256, "epochs": 3, "patience": None, "progress": False}
HIT_BRANCHES = frozenset({"hits_layer", "hits_ix", "hits_iy", "hits_energy"})


def assert_same(got: ak.Array, expected: ak.Array) -> None:
    """Exact equality: values, types (dtypes, record names) and parameters."""
    assert str(got.type) == str(expected.type)
    assert ak.array_equal(got, expected, dtype_exact=True, check_parameters=True)


def columns(collection: Any) -> frozenset[str]:
    """The branches dask-awkward's optimization reads for ``collection`` (one input)."""
    (read,) = dak.report_necessary_columns(collection).values()
    assert read is not None
    return read


def eager_weights(dctr: DCTR, events: ak.Array, divisions: tuple[int, ...]) -> np.ndarray:
    """Weights of the eager events, computed partition by partition as dask does.

    Row ``i`` of a float32 matrix product on the CPU may differ in the last bit with
    the number of rows in the batch (and the number of threads), so weights of the
    same events agree exactly when they are computed in batches of the same events,
    and to ~1e-7 otherwise.
    """
    parts = itertools.pairwise(divisions)
    return np.concatenate([ak.to_numpy(dctr.weight(events[a:b])) for a, b in parts])


def shower_sample(n: int, seed: int) -> ak.Array:
    """Small-geometry showers with a weight and an extra per-event field ``run``."""
    showers = calorimeter(n, energy=20.0, geometry=SMALL, seed=seed)
    rng = np.random.default_rng(seed)
    showers = ak.with_field(showers, rng.uniform(0.5, 2.0, n).astype(np.float32), "weight")
    return ak.with_field(showers, np.arange(n, dtype=np.int64) + 1000 * seed, "run")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], ak.Array]:
    """Two files of showers (130 and 110 events) and the showers read eagerly from both."""
    folder = tmp_path_factory.mktemp("dask")
    paths = [
        io.write(folder / "a.root", shower_sample(130, 1)),
        io.write(folder / "b.root", shower_sample(110, 2)),
    ]
    return paths, io.read(paths, geometry=SMALL)


@pytest.fixture(scope="module")
def dctr(sample: tuple[list[Path], ak.Array]) -> DCTR:
    """High-level DCTR of full against fast showers."""
    _, full = sample
    fast = calorimeter(240, energy=20.0, variant="fast", geometry=SMALL, seed=3)
    return DCTR(**FAST).fit(full, fast)


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """Two worker processes on the loopback interface, each with one thread."""
    start = time.perf_counter()
    with (
        LocalCluster(
            processes=True,
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as c,
    ):
        c.wait_for_workers(2)
        c.run(importlib.import_module, "dctrgan.dctr")  # torch: seconds per process
        print(f"local cluster up in {time.perf_counter() - start:.1f} s")
        yield c


# ----------------------------------------------------------------------------- reading


def test_read_dask_is_lazy_and_equals_eager(sample: tuple[list[Path], ak.Array]) -> None:
    paths, eager = sample
    lazy = dctrgan.read(paths, dask=True, step_size=50, geometry=SMALL)
    assert isinstance(lazy, dak.Array)
    # partitions of at most 50 events, never across files
    assert lazy.divisions == (0, 50, 100, 130, 180, 230, 240)
    assert str(lazy._meta.type.content) == str(eager.type.content)
    got = lazy.compute(scheduler="sync")
    assert_same(got, eager)
    # the behavior comes along: hit positions in mm
    assert ak.array_equal(lazy.hits.x.compute(scheduler="sync"), eager.hits.x)
    # entry ranges over both files, as the eager read
    part = dctrgan.read(paths, dask=True, entry_start=100, entry_stop=-20, step_size=1000)
    assert part.divisions == (0, 30, 120)
    assert_same(part.compute(scheduler="sync"), io.read(paths, entry_start=100, entry_stop=-20))


def test_read_dask_by_memory_size(sample: tuple[list[Path], ak.Array]) -> None:
    paths, eager = sample
    lazy = dctrgan.read(paths[0], dask=True, step_size="40 kB", geometry=SMALL)
    with uproot.open(paths[0]) as file:  # the branches read: all but the counter
        size = sum(b.uncompressed_bytes for b in file["events"].branches if b.name != "nhits")
    per_partition = int(40_000 / (size / 130))
    assert lazy.divisions[1] == per_partition
    assert lazy.npartitions == -(-130 // per_partition) > 2
    assert_same(lazy.compute(scheduler="sync"), eager[:130])


def test_only_needed_branches_are_read(sample: tuple[list[Path], ak.Array], dctr: DCTR) -> None:
    paths, eager = sample
    lazy = dctrgan.read(paths, dask=True, step_size=100, geometry=SMALL)
    assert columns(lazy.incident_energy) == {"incident_energy"}
    assert columns(lazy.hits.energy) == HIT_BRANCHES
    assert columns(dak.num(lazy.hits, axis=1)) == HIT_BRANCHES
    assert columns(lazy.run + 1) == {"run"}
    # the weights read the incident energy and the hits, not the weight or 'run'
    assert columns(dctr.weight(lazy)) == HIT_BRANCHES | {"incident_energy"}
    # attach multiplies into the events' weight
    assert columns(dctr.attach(lazy).weight) == HIT_BRANCHES | {"incident_energy", "weight"}
    # a projected read still converts the fields it reads
    got = lazy.incident_energy.compute(scheduler="sync")
    assert np.array_equal(ak.to_numpy(got), ak.to_numpy(eager.incident_energy))
    weights = ak.to_numpy(dctr.weight(lazy).compute(scheduler="sync"))
    assert np.array_equal(weights, eager_weights(dctr, eager, lazy.divisions))


def trace_sample(rng: np.random.Generator, n: int, scale: float) -> ak.Array:
    signal = rng.exponential(scale, (n, *SIGNAL_SHAPE)) * (rng.random((n, *SIGNAL_SHAPE)) < 0.05)
    return make_traces(
        rng.uniform(1.0, 100.0, n) * scale,
        signal.astype(np.float32),
        rng.uniform(-750.0, 750.0, n),
        rng.uniform(-750.0, 750.0, n),
        rng.normal(750.0, 30.0, n) * scale,
        weight=rng.uniform(0.5, 2.0, n),
    )


def test_traces_weights_read_only_their_features(tmp_path: Path, rng: np.random.Generator) -> None:
    real, fake = trace_sample(rng, 200, 1.0), trace_sample(rng, 200, 1.1)
    path = io.write(tmp_path / "traces.root", fake)
    model = DCTR(["energy", "xmax"], **FAST).fit(real, fake)
    lazy = dctrgan.read(path, dask=True, step_size=64)
    weights = model.weight(lazy)
    assert columns(weights) == {"energy", "xmax"}  # not the 9 x 9 x 80 signal
    eager = io.read(path)
    got = ak.to_numpy(weights.compute(scheduler="sync"))
    assert np.array_equal(got, eager_weights(model, eager, lazy.divisions))
    assert_allclose(got, ak.to_numpy(model.weight(eager)), rtol=1e-6)
    assert_same(lazy.compute(scheduler="sync"), eager)


def test_branch_mapping_positions(tmp_path: Path, rng: np.random.Generator) -> None:
    showers = calorimeter(80, energy=20.0, geometry=SMALL, seed=4)
    hits = showers["hits"]
    flat = {f: ak.to_numpy(ak.flatten(hits[f])) for f in ("layer", "ix", "iy", "energy")}
    n = len(flat["energy"])
    x = SMALL.cell_x(flat["ix"]) + rng.uniform(-0.45, 0.45, n) * SMALL.cell_size
    y = SMALL.cell_y(flat["iy"]) + rng.uniform(-0.45, 0.45, n) * SMALL.cell_size
    z = SMALL.layer_z[flat["layer"]] + rng.uniform(-0.4, 0.4, n)
    hit = ak.unflatten(ak.zip({"x": x, "y": y, "z": z, "e": flat["energy"]}), ak.num(hits))
    path = tmp_path / "mm.root"
    with uproot.recreate(path) as file:
        file.mktree("hits", {"E0": np.float64, "hit": hit.type.content})
        file["hits"].extend({"E0": ak.to_numpy(showers["incident_energy"]), "hit": hit})
    mapping = {"incident_energy": "E0", "x": "hit_x", "y": "hit_y", "z": "hit_z", "energy": "hit_e"}
    lazy = dctrgan.read(path, branches=mapping, geometry=SMALL, dask=True, step_size=30)
    assert columns(lazy.hits.layer) == {"hit_x", "hit_y", "hit_z", "hit_e"}
    assert columns(lazy.incident_energy) == {"E0"}
    assert_same(lazy.compute(scheduler="sync"), showers)


def test_dense_voxel_branch(tmp_path: Path) -> None:
    showers = calorimeter(40, energy=20.0, geometry=SMALL, seed=5)
    dense = voxelize(showers, SMALL)
    path = tmp_path / "voxels.root"
    with uproot.recreate(path) as file:
        tree = file.mktree("gan", {"e0": np.float32, "cells": np.dtype((np.float32, SMALL.shape))})
        tree.extend({"e0": ak.to_numpy(showers["incident_energy"]), "cells": dense})
    mapping = {"voxels": "cells", "incident_energy": "e0"}
    lazy = dctrgan.read(path, branches=mapping, geometry=SMALL, dask=True, step_size=16)
    assert columns(lazy.hits.energy) == {"cells"}
    assert_same(lazy.compute(scheduler="sync"), io.read(path, branches=mapping, geometry=SMALL))


def test_friend_weights(tmp_path: Path, sample: tuple[list[Path], ak.Array]) -> None:
    paths, eager = sample
    friend = np.linspace(0.25, 4.0, len(eager)).astype(np.float32)
    io.write_weights(tmp_path / "friend.root", friend)
    lazy = dctrgan.read(paths, dask=True, friend=tmp_path / "friend.root", step_size=70)
    expected = io.read(paths, friend=tmp_path / "friend.root")
    assert_same(lazy.compute(scheduler="sync"), expected)
    assert np.array_equal(
        ak.to_numpy(expected.weight), (ak.to_numpy(eager.weight) * friend).astype(np.float32)
    )
    # a file without weights gets the friend's alone, read even when nothing else is
    unweighted = io.write(tmp_path / "u.root", ak.without_field(eager, "weight"))
    lazy = dctrgan.read(unweighted, dask=True, friend=tmp_path / "friend.root", step_size=70)
    assert columns(lazy.weight) == frozenset()
    assert np.array_equal(ak.to_numpy(lazy.weight.compute(scheduler="sync")), friend)


def test_errors(tmp_path: Path, sample: tuple[list[Path], ak.Array]) -> None:
    paths, eager = sample
    # the files, trees, branches and the friend are checked at once
    with pytest.raises(ValueError, match=r"no branch 'nope' \(energy\)"):
        dctrgan.read(paths[0], branches={"energy": "nope"}, dask=True)
    io.write_weights(tmp_path / "short.root", np.ones(10))
    with pytest.raises(ValueError, match=r"has 10 entries but .* has 240"):
        dctrgan.read(paths, friend=tmp_path / "short.root", dask=True)
    with pytest.raises(ValueError, match="step_size must be"):
        dctrgan.read(paths, dask=True, step_size="lots")
    h5 = tmp_path / "showers.h5"
    with h5py.File(h5, "w") as file:
        file["30x30/layers"] = np.zeros((2, 30, 30, 30), np.float32)
        file["30x30/energy"] = np.ones((2, 1), np.float32)
    with pytest.raises(ValueError, match=r"showers\.h5: dask=True reads ROOT files"):
        dctrgan.read(h5, dask=True)
    # bad values raise when their partition is computed, naming file, field and branch
    energy = ak.to_numpy(eager.incident_energy[:60]).copy()
    energy[55] = np.inf
    hits = eager.hits[:60]
    cell = ak.zip({f: hits[f] for f in ("layer", "ix", "iy", "energy")})
    bad = tmp_path / "inf.root"
    with uproot.recreate(bad) as file:
        file.mktree("events", {"incident_energy": np.float32, "hits": cell.type.content})
        file["events"].extend({"incident_energy": energy, "hits": cell})
    lazy = dctrgan.read(bad, dask=True, step_size=50, geometry=SMALL)
    assert len(lazy.partitions[0].compute(scheduler="sync")) == 50
    with pytest.raises(
        ValueError,
        match=r"inf\.root:events: field 'incident_energy': 1 non-finite.*'incident_energy'",
    ):
        lazy.compute(scheduler="sync")


# ----------------------------------------------------------------------------- writing


def test_write_one_file_per_partition_or_one(
    tmp_path: Path, sample: tuple[list[Path], ak.Array], dctr: DCTR
) -> None:
    paths, eager = sample
    lazy = dctr.attach(dctrgan.read(paths, dask=True, step_size=100, geometry=SMALL))
    factor = eager_weights(dctr, eager, lazy.divisions)
    w = factor * ak.to_numpy(eager.weight)
    expected = ak.with_field(eager, w.astype(np.float32), "weight")
    expected = ak.with_field(expected, factor, "dctr_weight")  # the DCTR factor alone
    written = dctrgan.write(tmp_path / "w-{i}.root", lazy)
    assert written == [tmp_path / f"w-{i}.root" for i in range(4)]
    parts = [io.read(p, geometry=SMALL) for p in written]
    assert [len(p) for p in parts] == [100, 30, 100, 10]
    assert_same(io.read(written, geometry=SMALL), expected)
    one = dctrgan.write(tmp_path / "w.root", lazy)
    assert one == tmp_path / "w.root"
    assert_same(io.read(one, geometry=SMALL), expected)
    # nothing is computed or written when a target exists
    for i in (0, 1, 3):
        written[i].unlink()
    with pytest.raises(FileExistsError, match=r"w-2\.root"):
        dctrgan.write(tmp_path / "w-{i}.root", lazy)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w-2.root", "w.root"]
    with pytest.raises(FileExistsError, match=r"w\.root"):
        dctrgan.write(tmp_path / "w.root", lazy)
    dctrgan.write(tmp_path / "w.root", lazy[lazy.incident_energy > 0], overwrite=True)
    assert_same(io.read(tmp_path / "w.root", geometry=SMALL), expected)
    with pytest.raises(ValueError, match="cannot tell the kind"):
        dctrgan.write(tmp_path / "x.root", lazy.hits)


# ----------------------------------------------------------------------------- cluster


def test_weights_on_a_local_cluster_equal_eager(
    client: Client, sample: tuple[list[Path], ak.Array], dctr: DCTR, tmp_path: Path
) -> None:
    paths, eager = sample
    start = time.perf_counter()
    lazy = dctrgan.read(paths, dask=True, step_size=60, geometry=SMALL)
    weights = dctr.weight(lazy)
    assert isinstance(weights, dak.Array)
    assert dask.base.get_scheduler() == client.get  # computed by the cluster's workers
    got = ak.to_numpy(weights.compute())
    # each partition's weights come from its events alone: the eager numbers, bit for
    # bit, computed with as many torch threads as a worker has (one: dask's nanny sets
    # OMP_NUM_THREADS to the worker's threads)
    (worker_threads,) = set(client.run(torch.get_num_threads).values())
    with threads(worker_threads):
        expected = eager_weights(dctr, eager, lazy.divisions)
    assert np.array_equal(got, expected)
    assert_allclose(got, ak.to_numpy(dctr.weight(eager)), rtol=1e-6)  # batches of 240
    attached = dctr.attach(lazy)
    weighted = ak.with_field(
        eager, (expected * ak.to_numpy(eager.weight)).astype(np.float32), "weight"
    )
    weighted = ak.with_field(weighted, expected, "dctr_weight")  # the DCTR factor alone
    assert_same(attached.compute(), weighted)
    # weights summed over partitions on the cluster: the weighted event count
    total = dak.sum(attached.weight).compute()
    assert total == pytest.approx(np.sum(ak.to_numpy(weighted.weight), dtype=np.float64))
    written = dctrgan.write(tmp_path / "c-{i}.root", attached)
    assert len(written) == lazy.npartitions
    assert_same(io.read(written, geometry=SMALL), weighted)
    print(f"weights, attach, sum and write on the cluster: {time.perf_counter() - start:.1f} s")
