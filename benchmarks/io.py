"""ROOT I/O: dctrgan.write / dctrgan.read against bare uproot on the same arrays, and
the compression algorithms on showers.

The baseline writes the same branches with ``mktree`` + one ``extend`` and reads
them back with ``tree.arrays()``; dctrgan adds validation, chunking, the atomic
rename and the conversion to the package schema. Same compression (dctrgan's
default, ``compression="zstd:1"``), same file system, same events, best of a few runs.

The compression section writes the same fast showers
(``dctrgan.simulate.calorimeter(n, 50.0, variant="fast", seed=1)``, 50k; 2k with
``--quick``) with ``dctrgan.write(..., compression=)`` for each algorithm and level
of ``--codecs`` and reads them back with ``dctrgan.read``: file size, write and
read time (best of a few runs), one line per codec.

    python benchmarks/io.py [--quick] [--json PATH] [--codecs zlib:1 zstd:1 ...]
"""

from __future__ import annotations

import inspect
import sys
import tempfile
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
from _common import Row, best_time, format_table, parse_args, report, uproot_compression

import dctrgan
from dctrgan.data import make_showers, make_traces

TARGET = 1.3
#: dctrgan's default compression, which the baseline uses too.
COMPRESSION = str(inspect.signature(dctrgan.write).parameters["compression"].default)
CODECS = ("zlib:1", "zlib:4", "lz4:1", "zstd:1", "zstd:3")


def synthetic_showers(n: int, rng: np.random.Generator) -> ak.Array:
    """Showers with the paper's ~780 active cells per 50 GeV photon, a shower
    maximum near layer 10 and a narrow lateral spread; hits are distinct cells."""
    counts = np.clip(rng.normal(780, 60, n), 0, None).astype(np.int64)
    total = int(counts.sum())
    layer = np.clip(rng.gamma(4.0, 2.8, total), 0, 29).astype(np.int32)
    ix = np.clip(np.round(rng.standard_cauchy(total) * 1.2 + 14.5), 0, 29).astype(np.int32)
    iy = np.clip(np.round(rng.standard_cauchy(total) * 1.2 + 14.5), 0, 29).astype(np.int32)
    energy = (0.1 + rng.exponential(1.0, total)).astype(np.float32)
    weight = rng.uniform(0.5, 2.0, n).astype(np.float32)
    return make_showers(np.full(n, 50.0), counts, layer, ix, iy, energy, weight=weight)


def synthetic_traces(n: int, rng: np.random.Generator) -> ak.Array:
    """Air-shower-like traces: 12 triggered stations with a rising and decaying
    pulse on a noise baseline, the other stations zero."""
    signal = np.zeros((n, 9, 9, 80), dtype=np.float32)
    t = np.arange(80, dtype=np.float32)
    for k in range(12):
        i, j = 3 + k % 4, 3 + k // 4
        amplitude = rng.lognormal(3.0, 1.0, (n, 1)).astype(np.float32)
        onset = rng.uniform(5, 30, (n, 1)).astype(np.float32)
        pulse = np.where(t >= onset, np.exp(-(t - onset) / 8.0), 0.0).astype(np.float32)
        noise = rng.normal(0.0, 1.2, (n, 80)).astype(np.float32)
        signal[:, i, j] = np.clip(amplitude * pulse + noise, 0, None)
    return make_traces(
        rng.uniform(1, 100, n),
        signal,
        rng.uniform(-750, 750, n),
        rng.uniform(-750, 750, n),
        rng.normal(750, 30, n),
        weight=rng.uniform(0.5, 2.0, n),
    )


def _simulated(name: str, n: int, rng: np.random.Generator) -> ak.Array | None:
    """Events of ``dctrgan.simulate.<name>`` with a weight field, or None if it is missing or
    fails."""
    simulator = getattr(dctrgan.simulate, name, None)
    if simulator is None:
        return None
    try:
        events = simulator(n, seed=int(rng.integers(2**31)))
    except Exception as err:  # noqa: BLE001 - fall back to synthetic events, and say why
        print(f"{name}() failed ({err!r}); using synthetic events", file=sys.stderr)
        return None
    return ak.with_field(events, rng.uniform(0.5, 2.0, n).astype(np.float32), "weight")


def showers(n: int, rng: np.random.Generator) -> tuple[ak.Array, str]:
    """Reference-simulator showers if ``dctrgan.simulate.calorimeter`` works, else synthetic
    ones."""
    events = _simulated("calorimeter", n, rng)
    if events is not None:
        return events, "dctrgan.simulate.calorimeter"
    return synthetic_showers(n, rng), "synthetic (make_showers)"


def traces(n: int, rng: np.random.Generator) -> tuple[ak.Array, str]:
    """Reference-simulator traces if ``dctrgan.simulate.airshower`` works, else synthetic ones."""
    events = _simulated("airshower", n, rng)
    if events is not None:
        return events, "dctrgan.simulate.airshower"
    return synthetic_traces(n, rng), "synthetic (make_traces)"


def uproot_write(path: Path, events: ak.Array) -> None:
    """The baseline: the same branches with bare uproot, one extend."""
    data: dict[str, Any] = {}
    for name in ak.fields(events):
        column = events[name]
        data[name] = column if name == "hits" else ak.to_numpy(column)
    types = {
        k: v.type.content if isinstance(v, ak.Array) else np.dtype((v.dtype, v.shape[1:]))
        for k, v in data.items()
    }
    with uproot.recreate(path, compression=uproot_compression(COMPRESSION)) as file:
        file.mktree("events", types)
        file["events"].extend(data)


def uproot_read(path: Path) -> Any:
    with uproot.open(path) as file:
        return file["events"].arrays()


def measure(name: str, events: ak.Array, folder: Path, repeat: int) -> list[Row]:
    """Best-of-``repeat`` times, dctrgan and uproot interleaved so that load on the
    machine drifts into both alike."""
    mine, base = folder / f"{name}_dctrgan.root", folder / f"{name}_uproot.root"
    runs: dict[str, list[float]] = {"write": [], "write0": [], "read": [], "read0": []}
    for _ in range(repeat):
        runs["write"].append(best_time(lambda: dctrgan.write(mine, events, overwrite=True), 1))
        runs["write0"].append(best_time(lambda: uproot_write(base, events), 1))
        runs["read"].append(best_time(lambda: dctrgan.read(mine), 1))
        runs["read0"].append(best_time(lambda: uproot_read(base), 1))
    write, write0, read, read0 = (min(runs[k]) for k in ("write", "write0", "read", "read0"))
    back = dctrgan.read(mine)
    if not ak.array_equal(back, events):
        msg = f"{name}: read(write(events)) differs from events"
        raise RuntimeError(msg)
    size, size0 = mine.stat().st_size, base.stat().st_size
    both, both0 = write + read, write0 + read0
    return [
        Row(f"{name}: write", write, "s", baseline=write0, ratio=write / write0),
        Row(f"{name}: read", read, "s", baseline=read0, ratio=read / read0),
        Row(
            f"{name}: write+read (ratio)",
            both / both0,
            "x uproot",
            target=f"<= {TARGET}",
            baseline=both0,
            ratio=both / both0,
            ok=both / both0 <= TARGET,
        ),
        Row(f"{name}: file size", size / 1e6, "MB", baseline=size0 / 1e6, ratio=size / size0),
        Row(f"{name}: read rate", len(events) / read, "events/s"),
    ]


def compression(
    codecs: list[str], n: int, folder: Path, repeat: int
) -> tuple[list[Row], list[dict[str, Any]]]:
    """File size, write and read time of ``n`` fast showers per codec (best of ``repeat``)."""
    events = dctrgan.simulate.calorimeter(n, 50.0, variant="fast", seed=1)
    rows, table = [], []
    for codec in codecs:
        path = folder / f"showers_{codec.replace(':', '')}.root"

        def write(path: Path = path, codec: str = codec) -> None:
            dctrgan.write(path, events, overwrite=True, compression=codec)

        seconds = best_time(write, repeat)
        read = best_time(lambda path=path: dctrgan.read(path), repeat)
        size = path.stat().st_size / 1e6
        default = " (default)" if codec == COMPRESSION else ""
        rows.append(Row(f"compression {codec}{default}: file size", size, "MB"))
        rows.append(Row(f"compression {codec}{default}: write", seconds, "s"))
        rows.append(Row(f"compression {codec}{default}: read", read, "s"))
        table.append({"codec": codec, "size_mb": size, "write_s": seconds, "read_s": read})
        path.unlink()
    cells = [
        (t["codec"], f"{t['size_mb']:.1f}", f"{t['write_s']:.2f}", f"{t['read_s']:.2f}")
        for t in table
    ]
    print(f"\ncompression: {n} fast showers, {events.layout.nbytes / 1e6:.0f} MB in memory")
    print(format_table(("codec", "size MB", "write s", "read s"), cells))
    return rows, table


def main() -> None:
    args = parse_args(
        __doc__.splitlines()[0],
        extra=lambda p: p.add_argument(
            "--codecs", nargs="+", default=list(CODECS), help="'algorithm:level' to compare"
        ),
    )
    rng = np.random.default_rng(7)
    n_showers, n_traces, repeat = (1500, 1500, 3) if args.quick else (10000, 5000, 5)
    n_codec, codec_repeat = (2000, 2) if args.quick else (50_000, 3)
    shower_events, source = showers(n_showers, rng)
    trace_events, trace_source = traces(n_traces, rng)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = measure("showers", shower_events, folder, repeat)
        rows += measure("traces", trace_events, folder, repeat)
        codec_rows, codecs = compression(args.codecs, n_codec, folder, codec_repeat)
    hits = float(np.mean(ak.to_numpy(ak.num(shower_events["hits"], axis=1))))
    report(
        "io",
        rows + codec_rows,
        args,
        showers=source,
        traces=trace_source,
        n_showers=n_showers,
        mean_hits=hits,
        n_traces=n_traces,
        uproot=uproot.__version__,
        compression=COMPRESSION,
        codecs=codecs,
        codec_showers=n_codec,
    )


if __name__ == "__main__":
    main()
