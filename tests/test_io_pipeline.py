"""write_chunks writing in a background thread: the same file as the sequential path, errors
from either side raised as they were, nothing left behind, at most two chunks alive."""

from __future__ import annotations

import errno
import itertools
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

import dctrgan
from dctrgan import io
from dctrgan.data import make_showers
from dctrgan.io._pipeline import drain

DATA = Path(__file__).parent / "data"
NANOAOD = DATA / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
WRITER = "dctrgan-writer"


def showers(rng: np.random.Generator, n: int) -> ak.Array:
    """Showers with a weight and an extra per-event field; event 0 without hits."""
    counts = rng.poisson(30.0, n)
    counts[0] = 0
    hits = int(counts.sum())
    events = make_showers(
        rng.uniform(10.0, 100.0, n),
        counts,
        rng.integers(0, 3, hits),
        rng.integers(0, 12, hits),
        rng.integers(0, 12, hits),
        rng.exponential(2.0, hits),
        weight=rng.uniform(0.5, 2.0, n),
    )
    return ak.with_field(events, rng.normal(size=n), "factor")


def generic(rng: np.random.Generator, n: int) -> ak.Array:
    """Generic events: flat, fixed-size, jagged, a collection and a record."""
    counts = rng.integers(0, 5, n)
    hits = int(counts.sum())
    return ak.Array(
        {
            "event": rng.integers(0, 2**40, n).astype(np.uint64),
            "ht": rng.normal(300.0, 50.0, n),
            "trigger": rng.random(n) > 0.5,
            "p4": rng.normal(size=(n, 4)).astype(np.float32),
            "Jet": ak.zip(
                {
                    "pt": ak.unflatten(rng.exponential(30.0, hits), counts),
                    "flavour": ak.unflatten(rng.integers(-5, 6, hits).astype(np.int16), counts),
                }
            ),
            "MET": ak.zip({"pt": rng.exponential(20.0, n).astype(np.float32)}),
            "weight": rng.uniform(0.5, 2.0, n).astype(np.float32),
        }
    )


def parts(events: ak.Array, sizes: list[int]) -> list[ak.Array]:
    edges = np.cumsum([0, *sizes])
    assert edges[-1] == len(events)
    return [events[a:b] for a, b in itertools.pairwise(edges)]


def contents(path: Path, tree: str = "events") -> tuple[dict[str, Any], dict[str, ak.Array]]:
    """What plain uproot reads: per branch (TTree) its type name and baskets, and the arrays."""
    with uproot.open(path) as file:
        obj = file[tree]
        if isinstance(obj, uproot.behaviors.TTree.TTree):
            layout = {k: (obj[k].typename, obj[k].num_baskets) for k in obj.keys()}  # noqa: SIM118
        else:
            layout = {"entries": obj.num_entries}
        arrays = obj.arrays(library="ak")
        return layout, {name: arrays[name] for name in ak.fields(arrays)}


def assert_same_file(a: Path, b: Path, tree: str = "events") -> None:
    layout_a, arrays_a = contents(a, tree)
    layout_b, arrays_b = contents(b, tree)
    assert layout_a == layout_b
    assert list(arrays_a) == list(arrays_b)
    for name, values in arrays_a.items():
        assert str(values.type) == str(arrays_b[name].type), name
        assert ak.array_equal(values, arrays_b[name], dtype_exact=True), name


def no_writer_thread() -> bool:
    return not any(t.name == WRITER for t in threading.enumerate())


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------ same output


@pytest.mark.parametrize(
    ("make", "sizes", "rntuple"),
    [
        (showers, [0, 70, 70, 0, 90, 20], False),
        (generic, [64, 64, 0, 64, 8], False),
        (generic, [64, 64, 0, 64, 8], True),
        (generic, [200], False),  # one chunk: nothing to overlap
    ],
    ids=["showers", "generic", "generic-rntuple", "one-chunk"],
)
def test_background_writes_what_sequential_writes(
    tmp_path: Path, rng: np.random.Generator, make: Any, sizes: list[int], rntuple: bool
) -> None:
    events = make(rng, sum(sizes))
    files = {
        background: io.write_chunks(
            tmp_path / f"{background}.root",
            iter(parts(events, sizes)),
            rntuple=rntuple,
            background=background,
        )
        for background in (True, False)
    }
    assert_same_file(files[True], files[False])
    _, arrays = contents(files[True])
    assert len(arrays["weight"]) == len(events)
    if not rntuple:  # one basket per non-empty chunk, in order
        with uproot.open(files[True]) as file:
            assert file["events"]["weight"].num_baskets == sum(1 for s in sizes if s)
    assert ak.array_equal(dctrgan.read(files[True]), events)
    assert no_writer_thread()


def test_background_nanoaod_stream(tmp_path: Path) -> None:
    """NanoAOD read in chunks (collections zipped, bools, counters) and written back."""
    source = f"{NANOAOD}:Events"
    branches = [
        "run",
        "event",
        "MET_pt",
        "Flag_HBHENoiseFilter",
        "nJet",
        "Jet_pt",
        "Jet_eta",
        "nMuon",
    ]
    branches += ["Muon_pt", "Muon_charge", "Electron_convVeto"]
    files = [
        io.write_chunks(
            tmp_path / f"{background}.root",
            dctrgan.iterate(source, "events", step_size=64, branches=branches),
            "Events",
            background=background,
        )
        for background in (True, False)
    ]
    assert_same_file(*files, tree="Events")
    with uproot.open(NANOAOD) as a, uproot.open(files[0]) as b:
        for name in ("Jet_pt", "MET_pt", "nMuon", "Flag_HBHENoiseFilter", "Electron_convVeto"):
            before, after = a["Events"][name].array(), b["Events"][name].array()
            assert ak.array_equal(before, after, dtype_exact=False), name  # counters: int32


# ------------------------------------------------------------------ failures


class Broken(RuntimeError):
    """The producer's own error type."""


@pytest.mark.parametrize("error", [Broken("source went away"), KeyboardInterrupt()])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_producer_error_after_two_chunks_leaves_nothing(
    tmp_path: Path, rng: np.random.Generator, error: BaseException, existing: bool
) -> None:
    events = showers(rng, 150)
    target = tmp_path / "out.root"
    if existing:
        io.write(target, events[:10])
    before = target.read_bytes() if existing else None
    written: list[int] = []
    original = uproot.writing.writable.WritableTree.extend

    def extend(tree: Any, data: Any) -> Any:
        written.append(threading.current_thread().name == WRITER)
        return original(tree, data)

    def stream() -> Iterator[ak.Array]:
        yield events[:50]
        yield events[50:100]
        time.sleep(0.2)  # both chunks reach the writer before the failure
        raise error

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(uproot.writing.writable.WritableTree, "extend", extend)
        with pytest.raises(type(error)) as raised:
            io.write_chunks(target, stream(), overwrite=True)
    assert raised.value is error  # the original exception, not a wrapper
    assert written == [True, True]  # both chunks were written by the thread, then it stopped
    assert listing(tmp_path) == (["out.root"] if existing else [])
    if existing:
        assert target.read_bytes() == before
    assert no_writer_thread()


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_writer_error_stops_the_producer(
    tmp_path: Path, rng: np.random.Generator, existing: bool
) -> None:
    """A full disk while the second chunk is written: the stream is not asked for the
    rest, the OSError comes out with its message, nothing is left."""
    events = generic(rng, 200)
    target = tmp_path / "out.root"
    if existing:
        io.write(target, events[:10])
    before = target.read_bytes() if existing else None
    asked: list[int] = []
    calls: list[str] = []
    original = uproot.writing.writable.WritableTree.extend

    def extend(tree: Any, data: Any) -> Any:
        calls.append(threading.current_thread().name)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(tree, data)

    def stream() -> Iterator[ak.Array]:
        for i in range(20):
            asked.append(i)
            yield events[10 * i : 10 * (i + 1)]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(uproot.writing.writable.WritableTree, "extend", extend)
        with pytest.raises(OSError, match="No space left on device") as raised:
            io.write_chunks(target, stream(), overwrite=True)
    assert raised.value.errno == errno.ENOSPC
    assert calls == [WRITER, WRITER]
    # chunk 1 failed: at most chunk 2 handed over and chunk 3 produced before the stream stopped
    assert len(asked) <= 4
    assert listing(tmp_path) == (["out.root"] if existing else [])
    if existing:
        assert target.read_bytes() == before
    assert no_writer_thread()


def test_chunk_that_differs_is_refused_and_leaves_nothing(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    events = generic(rng, 60)
    target = tmp_path / "out.root"
    io.write(target, events[:5])
    before = target.read_bytes()
    changed = ak.with_field(events[40:], ak.values_astype(events[40:].ht, np.float32), "ht")
    with pytest.raises(ValueError, match=r"chunk 2: events of type .* differ from chunk 0's"):
        io.write_chunks(target, iter([events[:20], events[20:40], changed]), overwrite=True)
    assert target.read_bytes() == before
    assert listing(tmp_path) == ["out.root"]
    assert no_writer_thread()


# ------------------------------------------------------------------ memory bound


class Chunk:
    """An item whose live instances are counted (in ``ALIVE``)."""

    def __init__(self, i: int) -> None:
        self.i = i
        ALIVE.add(self)


ALIVE: weakref.WeakSet[Chunk] = weakref.WeakSet()


@pytest.mark.parametrize(
    ("produce_s", "write_s", "most"), [(0.0, 0.02, 2), (0.02, 0.0, 2)], ids=["slow-writer", "fast"]
)
def test_at_most_two_chunks_alive(produce_s: float, write_s: float, most: int) -> None:
    """A slow writer: one chunk being written, one handed over (or being produced), no
    more; a fast one: the chunk produced and at most the one still being written. In
    order, each once."""
    peak, written = 0, []

    def items() -> Iterator[Chunk]:
        nonlocal peak
        for i in range(12):
            time.sleep(produce_s)
            chunk = Chunk(i)
            peak = max(peak, len(ALIVE))
            yield chunk
            del chunk

    def sink(chunk: Chunk) -> None:
        nonlocal peak
        peak = max(peak, len(ALIVE))
        time.sleep(write_s)
        written.append(chunk.i)

    drain(items(), sink, background=True)
    assert written == list(range(12))
    assert peak == most if produce_s == 0 else 1 <= peak <= most
    assert no_writer_thread()
