"""Streaming: weight a file of simulated showers end to end in bounded memory.

The input is a ROOT file of ``--events`` fast showers (50 GeV photons of
``dctrgan.simulate.calorimeter(variant="fast")``, ~790 hits each, 2M in the full
run, ~8 GB on disk), generated chunk by chunk with ``dctrgan.io.write_chunks``
and cached under ``--workdir``. A DCTR-HL model is fitted on small samples
(its quality is not the point here). Then, each stage in its own process, so
that the peak resident memory (``VmHWM`` of that process) belongs to that stage
alone:

* ``weight``: what ``dctrgan weight MODEL INPUT -o OUTPUT`` does --
  ``dctrgan.iterate`` in chunks of ``--step-size``, ``DCTR.attach``,
  ``dctrgan.io.write_chunks`` -- writing the whole weighted ntuple
  (targets: >= 0.9x the events per second of bare uproot, peak RSS < 1 GB);
* ``friend``: ``dctrgan weight --friend`` -- ``DCTR.weight`` on the same chunks,
  ``dctrgan.io.write_weights`` of the iterator (a friend tree);
* ``uproot``: the baseline, a bare uproot read and write of the same file
  (``uproot.iterate`` with the same step size, ``uproot.recreate`` + ``mktree`` +
  ``extend`` of the same branches, same compression: ``--compression``, by default
  dctrgan's, ``"zstd:1"``, which the input file is written with too);
* ``imports``: a process that only imports dctrgan (the floor of the dctrgan stages).

Rates are events per second of wall time, including reading, decompression,
features, the network, compression and the atomic rename, and events per CPU
second (user + system) of the stage, which a busy machine disturbs less; the
input sits in the page cache (it was just written or read). With ``--repeat``
the stages run in turns and the fastest run of each counts. The outputs are
checked: as many entries as the input, and the weights of the first events
equal to those of the model applied to them directly.

    python benchmarks/streaming.py [--quick] [--json PATH] [--events N]
        [--workdir DIR] [--keep] [--step-size "100 MB"] [--repeat R]
        [--compression zstd:1]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _common import Row, report, uproot_compression

SEED = 20260707
CHUNK = 10_000  # showers per generated chunk (and per basket of the input file)
TARGET_MB = 1000.0  # peak RSS of the weight stage: < 1 GB
TARGET_RATIO = 0.9  # events per second of the weight stage: >= 0.9x bare uproot's
TREE = "events"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``--quick`` and ``--json`` (as every benchmark), the sizes and the cache folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small, fast run (CI)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    parser.add_argument(
        "--events", type=int, default=None, help="showers in the input (2M; 50k with --quick)"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help=(
            "cache folder of the input and model (default: a temporary folder, removed at the end)"
        ),
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder and the outputs"
    )
    parser.add_argument(
        "--step-size", default="100 MB", help="chunk size of the streaming (as dctrgan weight)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each measured stage (the fastest counts)"
    )
    parser.add_argument(
        "--compression",
        default=None,
        help="compression of every file written, 'algorithm:level' (default: dctrgan's)",
    )
    # one stage, run by the main process in a child process
    parser.add_argument("--stage", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--files", nargs="*", type=Path, default=(), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def stage_log(message: str, start: float) -> None:
    print(f"[{time.perf_counter() - start:7.1f} s] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------- stages (child processes)


def generate(output: Path, n: int, compression: str) -> None:
    """Fast showers, ``CHUNK`` at a time, streamed into one file."""
    from dctrgan.io import write_chunks
    from dctrgan.simulate import calorimeter

    def showers() -> Iterator[Any]:
        for i, start in enumerate(range(0, n, CHUNK)):
            yield calorimeter(min(CHUNK, n - start), variant="fast", seed=SEED + 100 + i)

    write_chunks(output, showers(), TREE, overwrite=True, compression=compression)


def weight(model: Path, source: Path, output: Path, step: str, compression: str) -> None:
    """``dctrgan weight``: iterate, attach, write_chunks."""
    import dctrgan
    from dctrgan.io import write_chunks

    dctr = dctrgan.DCTR.load(model, progress=False)
    chunks = dctrgan.iterate(f"{source}:{TREE}", step_size=step)
    weighted = (dctr.attach(c) for c in chunks)
    write_chunks(output, weighted, TREE, overwrite=True, compression=compression)


def friend(model: Path, source: Path, output: Path, step: str, compression: str) -> None:
    """``dctrgan weight --friend``: iterate, weight, write_weights of the iterator."""
    import dctrgan
    from dctrgan.io import write_weights

    dctr = dctrgan.DCTR.load(model, progress=False)
    chunks = dctrgan.iterate(f"{source}:{TREE}", step_size=step)
    write_weights(output, (dctr.weight(c) for c in chunks), overwrite=True, compression=compression)


def bare_uproot(source: Path, output: Path, step: str, compression: str) -> None:
    """The baseline: read every branch with uproot and write it back, chunk by chunk."""
    import awkward as ak
    import uproot

    hit_fields = ("layer", "ix", "iy", "energy")
    with uproot.recreate(output, compression=uproot_compression(compression)) as file:
        tree = None
        for chunk in uproot.iterate(f"{source}:{TREE}", step_size=step.replace(" ", "")):
            data = {
                "incident_energy": ak.to_numpy(chunk["incident_energy"]),
                "hits": ak.zip({f: chunk[f"hits_{f}"] for f in hit_fields}),
            }
            if tree is None:
                types = {
                    "incident_energy": data["incident_energy"].dtype,
                    "hits": data["hits"].type.content,
                }
                tree = file.mktree(TREE, types)
            tree.extend(data)


def imports() -> None:
    """Only the imports: the resident memory every stage starts from."""
    import dctrgan
    import dctrgan.dctr  # noqa: F401


def run_stage(argv: argparse.Namespace) -> None:
    """Run the stage named by ``--stage``; write its wall and CPU time and peak RSS
    to the last file."""
    files = list(argv.files)
    result = files.pop()
    start, cpu = time.perf_counter(), time.process_time()
    codec = argv.compression
    if argv.stage == "generate":
        generate(files[0], int(argv.events), codec)
    elif argv.stage == "weight":
        weight(files[0], files[1], files[2], argv.step_size, codec)
    elif argv.stage == "friend":
        friend(files[0], files[1], files[2], argv.step_size, codec)
    elif argv.stage == "uproot":
        bare_uproot(files[0], files[1], argv.step_size, codec)
    elif argv.stage == "imports":
        imports()
    else:
        msg = f"unknown stage {argv.stage!r}"
        raise ValueError(msg)
    measured = {
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "peak_rss_mb": peak_rss_mb(),
    }
    result.write_text(json.dumps(measured))


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (1e6 bytes), since its ``exec``.

    ``VmHWM`` of ``/proc/self/status``: ``ru_maxrss`` would not do, as Linux carries
    it over ``exec`` from the parent at ``fork``, so a child would report at least
    the parent's peak.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6  # kB (KiB) in /proc
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6


# --------------------------------------------------------------------- the main process


@dataclass
class Stage:
    """What one stage measured: wall and CPU (user + system) seconds, peak RSS in MB."""

    seconds: float
    cpu_seconds: float
    peak_rss_mb: float

    def best(self, other: Stage | None) -> Stage:
        """The fastest of two runs, with the larger peak memory."""
        if other is None:
            return self
        fastest = self if self.seconds <= other.seconds else other
        return Stage(
            fastest.seconds,
            min(self.cpu_seconds, other.cpu_seconds),
            max(self.peak_rss_mb, other.peak_rss_mb),
        )


def child(
    stage: str, files: Sequence[Path], folder: Path, args: argparse.Namespace, n: int
) -> Stage:
    """Run one stage in a fresh process (Python and its imports included in the RSS)."""
    result = folder / f".{stage}.json"
    command = [sys.executable, str(Path(__file__).resolve()), "--stage", stage]
    command += ["--events", str(n), "--step-size", args.step_size]
    command += ["--compression", args.compression, "--files"]
    command += [*map(str, files), str(result)]
    status = subprocess.run(command, check=False).returncode
    if status != 0:
        msg = f"stage {stage} failed with exit status {status}"
        raise RuntimeError(msg)
    measured = json.loads(result.read_text())
    result.unlink()
    return Stage(**measured)


def entries(path: Path) -> int:
    import uproot

    with uproot.open(path) as file:
        return int(file[TREE if TREE in file else "weights"].num_entries)


def model_file(folder: Path, n_train: int) -> Path:
    """A DCTR-HL model fitted on ``n_train`` full and fast showers (cached)."""
    path = folder / f"dctr_hl_{n_train}_{SEED}.pt"
    if not path.exists():
        from dctrgan.dctr import DCTR
        from dctrgan.simulate import calorimeter

        full = calorimeter(n_train, variant="full", seed=SEED + 1)
        fast = calorimeter(n_train, variant="fast", seed=SEED + 2)
        DCTR(epochs=10, progress=False, seed=SEED).fit(full, fast).save(path)
    return path


def check(model: Path, source: Path, weighted: Path, friends: Path, n: int) -> None:
    """Both outputs have ``n`` entries, and their first weights are the model's."""
    import awkward as ak

    import dctrgan

    for path in (weighted, friends):
        if entries(path) != n:
            msg = f"{path}: {entries(path)} entries, expected {n}"
            raise RuntimeError(msg)
    head = min(n, 2000)
    expected = dctrgan.DCTR.load(model, progress=False).weight(
        dctrgan.read(f"{source}:{TREE}", entry_stop=head)
    )
    expected = np.asarray(ak.to_numpy(expected), dtype=np.float32)
    got = ak.to_numpy(dctrgan.read(f"{weighted}:{TREE}", entry_stop=head)["weight"])
    got_friend = dctrgan.read(f"{source}:{TREE}", entry_stop=head, friend=friends)["weight"]
    for name, values in (("weighted ntuple", got), ("friend tree", ak.to_numpy(got_friend))):
        if not np.allclose(values, expected, rtol=1e-5, atol=0.0):
            msg = f"{name}: the streamed weights differ from the model's on the first {head} events"
            raise RuntimeError(msg)


LABELS = {
    "uproot": "bare uproot read + write",
    "weight": "weight (ntuple)",
    "friend": "weight --friend",
}


def rows_of(measured: dict[str, Stage], n: int) -> list[Row]:
    """The table: rates per wall and per CPU second, and peak RSS, against the baseline."""
    base = measured["uproot"]
    rows = [Row("imports only: peak RSS", measured["imports"].peak_rss_mb, "MB")]
    for name, label in LABELS.items():
        m = measured[name]
        is_base, is_target = name == "uproot", name == "weight"

        def versus(value: float, baseline: float, is_base: bool = is_base) -> dict[str, float]:
            return {} if is_base else {"baseline": baseline, "ratio": value / baseline}

        rate, base_rate = n / m.seconds, n / base.seconds
        rows.append(
            Row(
                f"{label}: rate",
                rate,
                "events/s",
                target=f">= {TARGET_RATIO:g}x baseline" if is_target else "",
                ok=rate >= TARGET_RATIO * base_rate if is_target else None,
                **versus(rate, base_rate),
            )
        )
        cpu, base_cpu = n / m.cpu_seconds, n / base.cpu_seconds
        rows.append(Row(f"{label}: rate per CPU second", cpu, "events/s", **versus(cpu, base_cpu)))
        rows.append(
            Row(
                f"{label}: peak RSS",
                m.peak_rss_mb,
                "MB",
                target=f"< {TARGET_MB:g}" if is_target else "",
                ok=m.peak_rss_mb < TARGET_MB if is_target else None,
                **versus(m.peak_rss_mb, base.peak_rss_mb),
            )
        )
    return rows


def default_compression() -> str:
    """dctrgan's default ``compression=`` (the main process passes it on to the stages)."""
    import inspect

    from dctrgan.io import write_chunks

    return str(inspect.signature(write_chunks).parameters["compression"].default)


def main() -> None:
    args = parse_args()
    if args.stage is not None:
        run_stage(args)
        return
    if args.compression is None:
        args.compression = default_compression()
    n = args.events or (50_000 if args.quick else 2_000_000)
    n_train = 5_000 if args.quick else 20_000
    start = time.perf_counter()
    temporary = args.workdir is None
    folder = Path(tempfile.mkdtemp(prefix="dctrgan-streaming-")) if temporary else args.workdir
    folder.mkdir(parents=True, exist_ok=True)
    codec = args.compression.replace(":", "")
    source = folder / f"fast_showers_{n}_{SEED}_{codec}.root"
    outputs = {name: folder / f"{name}_{n}.root" for name in LABELS}
    rows: list[Row] = []
    extra: dict[str, Any] = {"events": n, "step_size": args.step_size, "train_per_class": n_train}
    extra["compression"] = args.compression
    measured: dict[str, Stage] = {}
    try:
        if source.exists() and entries(source) == n:
            stage_log(f"cached input {source}", start)
            extra["generate"] = "cached"
        else:  # the write is atomic: an existing file at this path is complete
            generated = child("generate", [source], folder, args, n)
            extra["generate"] = asdict(generated)
            rows.append(Row("generate: simulate + write_chunks", n / generated.seconds, "events/s"))
            rows.append(Row("generate: peak RSS", generated.peak_rss_mb, "MB"))
            stage_log(f"generated {n} fast showers ({generated.seconds:.0f} s)", start)
        size = source.stat().st_size
        rows.append(Row("input file size", size / 1e9, "GB"))
        model = model_file(folder, n_train)
        stage_log(f"model {model.name}", start)
        measured["imports"] = child("imports", [], folder, args, n)
        inputs = {"uproot": [source], "weight": [model, source], "friend": [model, source]}
        for _ in range(args.repeat):  # interleaved: load on the machine hits all alike
            for name, label in LABELS.items():
                run = child(name, [*inputs[name], outputs[name]], folder, args, n)
                measured[name] = run.best(measured.get(name))
                stage_log(f"{label}: {run.seconds:.0f} s, {run.peak_rss_mb:.0f} MB", start)
        check(model, source, outputs["weight"], outputs["friend"], n)
        stage_log("outputs checked", start)
    finally:
        if temporary and not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        elif not args.keep:
            for path in outputs.values():
                path.unlink(missing_ok=True)

    rows += rows_of(measured, n)
    extra |= {name: asdict(m) for name, m in measured.items()}
    extra["input_bytes"] = size
    extra["seconds"] = time.perf_counter() - start
    stage_log("done", start)
    report("streaming", rows, args, **extra)


if __name__ == "__main__":
    main()
