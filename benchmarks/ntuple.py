"""Generic ntuples: read -> DCTR weight -> write throughput against bare uproot.

The input is a NanoAOD-like ROOT file of ``--events`` events (1M; 100k with
``--quick``): the jet, muon and electron collections (``nJet`` + ``Jet_pt``, ...) and
flat event variables of the CMS NanoAOD test file in ``tests/data``, its 200 events
repeated with a jitter on every float, written by plain uproot. A DCTR model is fitted
once on small samples, with per-event features of the collections (leading jet pT,
HT, numbers of objects, missing transverse energy); its quality is not the point here.

The stages stream the same file in chunks of ``--step-size`` (the same value for all:
``"20 MB"``, about 110k events, 9 chunks of the 1M-event input; with ``--quick``
``"5 MB"``, about 28k events, 4 chunks; uproot's estimate of a size gives slightly
smaller chunks) and write every branch they read to a new file:

* ``dctrgan``: ``dctrgan.iterate`` (generic events: collections zipped into records),
  ``DCTR.attach`` (features, the network, a ``weight`` and a ``dctr_weight`` field),
  ``dctrgan.io.write_chunks`` (atomic, NanoAOD layout out). As by default,
  ``write_chunks`` compresses and writes each chunk in a background thread while the
  calling thread reads and weights the next;
* ``dctrgan sequential``: the same with ``write_chunks(..., background=False)``, each
  chunk written before the next is read (for information: no target);
* ``uproot``: the baseline, ``uproot.iterate`` of the same branches with
  ``how="zip"`` and ``uproot.recreate`` + ``mktree`` + ``extend`` of the same arrays,
  same compression -- no weights. It is sequential, as a user writes it with plain
  uproot: the ratio measures dctrgan's pipeline (which uses a second core for the
  compression) against plain sequential uproot, not against an equally threaded
  uproot loop.

The figure is the ratio of the event rates (target: dctrgan >= 0.8x bare uproot);
the stages run in turns ``--repeat`` times and the fastest run of each counts. The
output is checked: as many entries as the input, the input branches unchanged, and
the weights of the first chunk equal to the model applied to it directly.

    python benchmarks/ntuple.py [--quick] [--json PATH] [--events N] [--step-size S]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot
from _common import Row, report

SEED = 20261202
TREE = "Events"
NANOAOD = Path(__file__).parents[1] / "tests" / "data" / "nanoAOD_2015_CMS_Open_Data_ttbar.root"
COLLECTIONS = {
    "Jet": ("pt", "eta", "phi", "mass", "btagCSVV2", "jetId"),
    "Muon": ("pt", "eta", "phi", "mass", "charge", "pfRelIso03_all"),
    "Electron": ("pt", "eta", "phi", "mass", "charge"),
}
FLAT = ("run", "luminosityBlock", "event", "MET_pt", "MET_phi", "MET_sumEt", "PV_npvs")
FEATURES: dict[str, Any] = {
    "lead_jet_pt": lambda ev: ak.firsts(ev.Jet.pt),
    "ht": lambda ev: ak.sum(ev.Jet.pt, axis=1),
    "n_jets": lambda ev: ak.num(ev.Jet),
    "n_leptons": lambda ev: ak.num(ev.Muon) + ak.num(ev.Electron),
    "met": lambda ev: ev.MET_pt,
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``--quick`` and ``--json`` (as every benchmark), the size, the chunk and the repeats."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small, fast run (CI)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    parser.add_argument("--events", type=int, default=None, help="events (1M; 100k with --quick)")
    parser.add_argument(
        "--step-size",
        default=None,
        help='chunk size of every stage: a size ("20 MB") or events ("25000"); '
        'default "20 MB", "5 MB" with --quick',
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each stage (fastest counts)")
    return parser.parse_args(argv)


def step_size(text: str | None, quick: bool) -> int | str:
    """The chunk size of every stage: events for a plain number, else a memory size."""
    if text is None:
        return "5 MB" if quick else "20 MB"
    return int(text) if text.strip().isdigit() else text


def branches() -> list[str]:
    """The branches read and written by both stages."""
    counters = [f"n{name}" for name in COLLECTIONS]
    members = [f"{name}_{field}" for name, fields in COLLECTIONS.items() for field in fields]
    return [*FLAT, *counters, *members]


def make_input(path: Path, n: int) -> None:
    """``n`` events: the NanoAOD file's events repeated, every float jittered by 1 %."""
    with uproot.open(NANOAOD) as file:
        events = file[TREE].arrays(branches(), how="zip")
    rng = np.random.default_rng(SEED)
    with uproot.recreate(path) as out:
        tree = None
        for start in range(0, n, 50_000):
            index = rng.integers(0, len(events), min(50_000, n - start))
            chunk = {field: _jitter(events[field][index], rng) for field in ak.fields(events)}
            if tree is None:
                tree = out.mktree(TREE, {k: ak.type(v) for k, v in chunk.items()})
            tree.extend(chunk)


def _jitter(array: ak.Array, rng: np.random.Generator) -> ak.Array:
    """Floats scaled by N(1, 0.01), other leaves unchanged (records and lists kept)."""

    def scale(layout: Any, **_: Any) -> Any:
        if isinstance(layout, ak.contents.NumpyArray) and layout.dtype.kind == "f":
            values = np.asarray(layout.data)
            factor = rng.normal(1.0, 0.01, values.shape).astype(values.dtype)
            return ak.contents.NumpyArray(values * factor)
        return None

    return ak.transform(scale, array)


def fit_model(path: Path) -> Any:
    """A small DCTR: the file's first events against the same events with harder jets."""
    import dctrgan

    real = dctrgan.read(f"{path}:{TREE}", entry_stop=20_000)
    fake = ak.with_field(real, real.Jet.pt * 1.05, ["Jet", "pt"])
    return dctrgan.DCTR(features=FEATURES, fill_none=0.0, epochs=3, progress=False).fit(real, fake)


def stage_dctrgan(
    model: Any, source: Path, output: Path, step: int | str, background: bool = True
) -> None:
    """iterate, attach, write_chunks (writing in a thread unless not ``background``)."""
    import dctrgan
    from dctrgan.io import write_chunks

    chunks = dctrgan.iterate(f"{source}:{TREE}", kind="events", step_size=step)
    write_chunks(
        output, (model.attach(c) for c in chunks), TREE, overwrite=True, background=background
    )


def stage_uproot(source: Path, output: Path, step: int | str) -> None:
    """The baseline: the same branches read with uproot (zipped) and written back, one
    chunk after the other."""
    size = step.replace(" ", "") if isinstance(step, str) else step
    with uproot.recreate(output) as file:
        tree = None
        parts = uproot.iterate(f"{source}:{TREE}", branches(), step_size=size, how="zip")
        for chunk in parts:
            data = {field: chunk[field] for field in ak.fields(chunk)}
            if tree is None:
                tree = file.mktree(TREE, {k: ak.type(v) for k, v in data.items()})
            tree.extend(data)


def check(model: Any, source: Path, output: Path, n: int) -> None:
    """Same entries, input branches unchanged, weights equal to the model's."""
    with uproot.open(source) as a, uproot.open(output) as b:
        assert b[TREE].num_entries == n, (b[TREE].num_entries, n)
        for name in ("Jet_pt", "MET_pt", "nMuon"):
            assert ak.array_equal(a[TREE][name].array(), b[TREE][name].array()), name
        first = b[TREE]["weight"].array(library="np", entry_stop=1000)
    import dctrgan

    expected = np.asarray(model.weight(dctrgan.read(f"{source}:{TREE}", entry_stop=1000)))
    np.testing.assert_allclose(first, expected, rtol=1e-6)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    n = args.events or (100_000 if args.quick else 1_000_000)
    step = step_size(args.step_size, args.quick)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        source, out_a, out_b = work / "input.root", work / "dctrgan.root", work / "uproot.root"
        out_c = work / "sequential.root"
        make_input(source, n)
        model = fit_model(source)
        stages = {
            "uproot": lambda: stage_uproot(source, out_b, step),
            "dctrgan": lambda: stage_dctrgan(model, source, out_a, step),
            "dctrgan sequential": lambda: stage_dctrgan(model, source, out_c, step, False),
        }
        times: dict[str, list[float]] = {name: [] for name in stages}
        for _ in range(args.repeat):
            for name, run in stages.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
        check(model, source, out_a, n)
        check(model, source, out_c, n)
        size = source.stat().st_size / 1e6
    best = {k: min(v) for k, v in times.items()}
    rate = {k: n / v for k, v in best.items()}
    ratio = rate["dctrgan"] / rate["uproot"]
    sequential = rate["dctrgan sequential"] / rate["uproot"]
    rows = [
        Row("input events", n),
        Row("input file size", size, "MB"),
        step_row(step),
        Row("bare uproot read + write (sequential)", rate["uproot"], "events/s"),
        Row(
            "dctrgan read + weight + write",
            rate["dctrgan"],
            "events/s",
            ">= 0.8x uproot",
            baseline=rate["uproot"],
            ratio=ratio,
            ok=ratio >= 0.8,
        ),
        Row(
            "dctrgan, background=False",
            rate["dctrgan sequential"],
            "events/s",
            baseline=rate["uproot"],
            ratio=sequential,
        ),
    ]
    return report("ntuple", rows, args, seconds=best, step_size=step)


def step_row(step: int | str) -> Row:
    """The chunk size, in events or as a memory size (``"20 MB"``: 20, MB)."""
    if isinstance(step, int):
        return Row("chunk size", step, "events")
    found = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", step)
    return (
        Row("chunk size", float(found[1]), found[2]) if found else Row("chunk size", np.nan, step)
    )


if __name__ == "__main__":
    main()
