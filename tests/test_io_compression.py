"""The compression of the ROOT files written (``compression=`` of write, write_chunks,
write_weights): the file says the algorithm and level asked for, the events round-trip
exactly, and a bad value is refused before anything is written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from dctrgan import io
from dctrgan.data import make_showers, make_traces


def showers(rng: np.random.Generator, n: int = 60) -> ak.Array:
    counts = rng.poisson(30, n)
    hits = int(counts.sum())
    return make_showers(
        rng.uniform(10.0, 100.0, n),
        counts,
        rng.integers(0, 30, hits),
        rng.integers(0, 30, hits),
        rng.integers(0, 30, hits),
        rng.exponential(2.0, hits),
        weight=rng.uniform(0.5, 2.0, n),
    )


def compression(path: Path) -> tuple[str, int] | None:
    """The algorithm and level the file was written with (None: uncompressed)."""
    with uproot.open(path) as file:
        found = file.file.compression
    return None if found is None else (type(found).__name__, found.level)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("zlib:1", ("ZLIB", 1)),
        ("zlib:6", ("ZLIB", 6)),
        ("LZ4:4", ("LZ4", 4)),
        ("zstd", ("ZSTD", 1)),
        ("zstd:3", ("ZSTD", 3)),
        (uproot.LZMA(2), ("LZMA", 2)),
        (uproot.ZSTD(5), ("ZSTD", 5)),
        ("none", None),
        ("zstd:0", None),
        (None, None),
    ],
)
def test_write_uses_the_compression_and_round_trips(
    tmp_path: Path, rng: np.random.Generator, given: Any, expected: tuple[str, int] | None
) -> None:
    events = showers(rng)
    path = tmp_path / "out.root"
    io.write(path, events, compression=given)
    assert compression(path) == expected
    back = io.read(path)
    assert ak.array_equal(back, events)
    assert ak.to_list(back.hits.energy) == ak.to_list(events.hits.energy)


def test_default_is_zstd_level_1_for_every_writer(tmp_path: Path, rng: np.random.Generator) -> None:
    events = showers(rng)
    io.write(tmp_path / "a.root", events)
    io.write_chunks(tmp_path / "b.root", iter([events[:30], events[30:]]))
    io.write_weights(tmp_path / "c.root", np.ones(len(events), dtype=np.float32))
    for name in ("a.root", "b.root", "c.root"):
        assert compression(tmp_path / name) == ("ZSTD", 1)


def test_write_chunks_and_write_weights_take_it(tmp_path: Path, rng: np.random.Generator) -> None:
    events = showers(rng)
    chunks = tmp_path / "chunks.root"
    io.write_chunks(chunks, iter([events[:20], events[20:]]), compression="lz4:1")
    assert compression(chunks) == ("LZ4", 1)
    assert ak.array_equal(io.read(chunks), events)
    weights = tmp_path / "weights.root"
    w = rng.uniform(0.5, 2.0, len(events)).astype(np.float32)
    io.write_weights(weights, iter([w[:25], w[25:]]), compression=uproot.ZLIB(4))
    assert compression(weights) == ("ZLIB", 4)
    back = io.read(chunks, friend=weights)
    np.testing.assert_array_equal(ak.to_numpy(back.weight), ak.to_numpy(events.weight) * w)


def test_traces_and_rntuples_take_it(tmp_path: Path, rng: np.random.Generator) -> None:
    n = 4
    traces = make_traces(
        rng.uniform(1, 10, n),
        rng.exponential(1.0, (n, 9, 9, 80)),
        rng.normal(0, 100, n),
        rng.normal(0, 100, n),
        rng.normal(750, 30, n),
    )
    for rntuple in (False, True):
        path = tmp_path / f"traces_{rntuple}.root"
        io.write(path, traces, rntuple=rntuple, compression="lz4:2")
        assert compression(path) == ("LZ4", 2)
        assert ak.array_equal(io.read(path), traces)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ("gzip:1", "compression 'gzip:1': unknown algorithm 'gzip'"),
        ("zstd:30", r"compression 'zstd:30': .*between 0 and 22"),
        ("zlib:10", r"compression 'zlib:10': .*between 0 and 9"),
        ("zstd:fast", "compression 'zstd:fast': the level must be a whole number"),
        ("", "compression '': unknown algorithm"),
    ],
)
def test_bad_compression_is_refused_before_anything(
    tmp_path: Path, rng: np.random.Generator, bad: str, match: str
) -> None:
    events = showers(rng)
    asked: list[int] = []

    def stream() -> Iterator[ak.Array]:
        asked.append(0)
        yield events

    with pytest.raises(ValueError, match=match):
        io.write(tmp_path / "a.root", events, compression=bad)
    with pytest.raises(ValueError, match=match):
        io.write_chunks(tmp_path / "b.root", stream(), compression=bad)
    with pytest.raises(ValueError, match=match):
        io.write_weights(tmp_path / "c.root", iter([np.ones(3)]), compression=bad)
    assert asked == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [1, True, 4.5, b"zstd:1"])
def test_compression_of_another_type_is_a_type_error(tmp_path: Path, bad: Any) -> None:
    with pytest.raises(TypeError, match="compression must be an uproot compression"):
        io.write_weights(tmp_path / "w.root", np.ones(3), compression=bad)
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_zstd_basket_is_an_error_not_other_numbers(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """ZSTD frames written with a string carry their checksum: a damaged basket fails to
    decompress (uproot's own ZSTD frames have none, and read back as other numbers)."""
    events = showers(rng, 300)
    good = io.write(tmp_path / "good.root", events, step_size=100)
    with uproot.open(good) as file:
        branch = file["events"]["hits_energy"]
        seek, size = int(branch.member("fBasketSeek")[1]), int(branch.member("fBasketBytes")[1])
    damaged = bytearray(good.read_bytes())
    # without the checksum, this damage reads back as other (here non-finite) energies
    damaged[seek + size // 2 : seek + size // 2 + 16] = bytes(range(1, 17))
    bad = tmp_path / "bad.root"
    bad.write_bytes(bytes(damaged))
    with pytest.raises(OSError, match=r"bad\.root:events: cannot be read"):
        io.read(bad)
