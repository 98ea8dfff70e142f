"""Fixed-size extra fields (``N * k * dtype``, such as ``dctr_replicas``) of showers and
traces: written as fixed-size branches (TTree) or fields (RNTuple), read back as regular
fields by ``read``, ``iterate`` and ``read(dask=True)``."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

import dctrgan
from dctrgan import io
from dctrgan.data import SIGNAL_SHAPE, make_showers, make_traces

N = 60
K = 5


def _showers(rng: np.random.Generator, n: int) -> ak.Array:
    counts = rng.poisson(6.0, n)
    total = int(counts.sum())
    return make_showers(
        rng.uniform(10.0, 100.0, n),
        counts,
        rng.integers(0, 30, total),
        rng.integers(0, 30, total),
        rng.integers(0, 30, total),
        0.1 + rng.exponential(2.0, total),
        weight=rng.uniform(0.5, 2.0, n),
    )


def _traces(rng: np.random.Generator, n: int) -> ak.Array:
    signal = rng.exponential(1.0, (n, *SIGNAL_SHAPE)).astype(np.float32)
    return make_traces(
        rng.uniform(1.0, 100.0, n),
        signal,
        rng.uniform(-750.0, 750.0, n),
        rng.uniform(-750.0, 750.0, n),
        rng.normal(750.0, 30.0, n),
        weight=rng.uniform(0.5, 2.0, n),
    )


def _with_replicas(events: ak.Array, rng: np.random.Generator) -> ak.Array:
    replicas = rng.uniform(0.5, 2.0, (len(events), K)).astype(np.float32)
    events = ak.with_field(events, replicas, "dctr_replicas")
    return ak.with_field(events, np.arange(len(events), dtype=np.int64), "run")


@pytest.fixture(params=["showers", "traces"])
def events(request: pytest.FixtureRequest, rng: np.random.Generator) -> ak.Array:
    make = _showers if request.param == "showers" else _traces
    return _with_replicas(make(rng, N), rng)


def assert_same(got: ak.Array, expected: ak.Array) -> None:
    """Exact equality: values, types (dtypes, the regular ``k *``) and parameters."""
    assert str(got.type) == str(expected.type)
    assert ak.array_equal(got, expected, dtype_exact=True, check_parameters=True)
    assert str(ak.type(got["dctr_replicas"])) == f"{len(expected)} * {K} * float32"


@pytest.mark.parametrize("rntuple", [False, True])
def test_eager_round_trip(tmp_path: Path, events: ak.Array, rntuple: bool) -> None:
    path = io.write(tmp_path / "replicas.root", events, rntuple=rntuple, step_size=17)
    assert_same(io.read(path), events)


def test_ttree_branch_is_fixed_size(tmp_path: Path, events: ak.Array) -> None:
    path = io.write(tmp_path / "replicas.root", events)
    with uproot.open(path) as file:
        branch = file["events"]["dctr_replicas"]
        assert branch.interpretation.inner_shape == (K,)
        assert branch.count_branch is None
        values = branch.array(library="np")
    np.testing.assert_array_equal(values, ak.to_numpy(events["dctr_replicas"]))


@pytest.mark.parametrize("rntuple", [False, True])
def test_chunks_round_trip(tmp_path: Path, events: ak.Array, rntuple: bool) -> None:
    source = io.write(tmp_path / "source.root", events)
    chunks = io.iterate(source, step_size=25)
    path = io.write_chunks(tmp_path / "copy.root", chunks, rntuple=rntuple)
    parts = list(io.iterate(path, step_size=25))
    assert [len(p) for p in parts] == [25, 25, 10]
    for part in parts:
        assert str(ak.type(part["dctr_replicas"])) == f"{len(part)} * {K} * float32"
    assert_same(ak.concatenate(parts), events)


def test_dask_round_trip(tmp_path: Path, events: ak.Array) -> None:
    path = io.write(tmp_path / "replicas.root", events)
    lazy = io.read(path, dask=True, step_size=20)
    assert lazy.npartitions == 3
    assert_same(lazy.compute(), events)
    replicas = lazy["dctr_replicas"].compute()  # a projected read of that branch alone
    np.testing.assert_array_equal(ak.to_numpy(replicas), ak.to_numpy(events["dctr_replicas"]))
    assert str(ak.type(replicas)) == f"{N} * {K} * float32"
    # written back from dask, one file and one per partition
    one = io.write(tmp_path / "from_dask.root", lazy)
    assert isinstance(one, Path)
    assert_same(io.read(one), events)
    files = io.write(str(tmp_path / "part-{i}.root"), lazy)
    assert isinstance(files, list)
    assert_same(io.read(files), events)


def test_a_single_replica_stays_regular(tmp_path: Path, rng: np.random.Generator) -> None:
    events = ak.with_field(_showers(rng, 20), np.ones((20, 1), np.float64), "dctr_replicas")
    back = io.read(io.write(tmp_path / "one.root", events))
    assert str(ak.type(back["dctr_replicas"])) == "20 * 1 * float64"
    assert ak.array_equal(back, events, dtype_exact=True, check_parameters=True)


def test_jagged_and_nested_extra_fields_are_refused(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    showers = _showers(rng, 20)
    jagged = ak.with_field(showers, showers["hits", "energy"], "copy")
    with pytest.raises(ValueError, match=r"field 'copy' cannot be written.*var \* float32"):
        io.write(tmp_path / "x.root", jagged)
    nested = ak.with_field(showers, np.zeros((20, 2, 3), np.float32), "deep")
    with pytest.raises(ValueError, match=r"field 'deep' cannot be written.*2 \* 3 \* float32"):
        io.write(tmp_path / "x.root", nested)
    record = ak.with_field(showers, ak.zip({"a": np.zeros(20)}), "rec")
    with pytest.raises(ValueError, match="field 'rec' cannot be written"):
        io.write(tmp_path / "x.root", record, rntuple=True)
    assert not (tmp_path / "x.root").exists()


def test_chunks_with_another_size_are_refused(tmp_path: Path, rng: np.random.Generator) -> None:
    showers = _showers(rng, 20)
    first = ak.with_field(showers[:10], np.ones((10, 3), np.float32), "dctr_replicas")
    second = ak.with_field(showers[10:], np.ones((10, 4), np.float32), "dctr_replicas")
    with pytest.raises(ValueError, match=r"chunk 1: .*dctr_replicas: 4 \* float32"):
        io.write_chunks(tmp_path / "x.root", [first, second])
    assert not (tmp_path / "x.root").exists()


def test_dctr_replicas_attach_write_read(tmp_path: Path) -> None:
    real = dctrgan.simulate.calorimeter(200, seed=1)
    fake = dctrgan.simulate.calorimeter(200, seed=1, variant="fast")
    dctr = dctrgan.DCTR(replicas=2, epochs=1, progress=False).fit(real, fake)
    weighted = dctr.attach(fake)
    assert str(ak.type(weighted["dctr_replicas"])) == "200 * 2 * float32"
    back = dctrgan.read(dctrgan.write(tmp_path / "weighted.root", weighted))
    assert str(ak.type(back["dctr_replicas"])) == "200 * 2 * float32"
    np.testing.assert_array_equal(
        ak.to_numpy(back["dctr_replicas"]), ak.to_numpy(weighted["dctr_replicas"])
    )
    assert ak.array_equal(back, weighted, dtype_exact=True)
