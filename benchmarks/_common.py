"""Shared helpers of the benchmark scripts: arguments, timing, the table and the JSON.

Every script accepts ``--quick`` (a small run for CI) and ``--json PATH``, prints a
table of figures and writes them as JSON::

    {"benchmark": "simulate", "quick": true, "machine": {...},
     "rows": [{"figure": ..., "value": ..., "unit": ..., "target": ...,
               "baseline": ..., "ratio": ..., "ok": ...}, ...]}
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = (
    "HEADER",
    "RSS_WATCH",
    "Row",
    "best_time",
    "format_table",
    "parse_args",
    "report",
    "uproot_compression",
)

#: The start of a script run in a fresh process to measure its peak memory: a thread
#: samples its RSS every 5 ms into ``peak[0]`` until ``done`` is set (``ru_maxrss``
#: would carry the parent's peak over the fork).
RSS_WATCH = """
import sys, threading, time, psutil
peak, done = [0], threading.Event()
def watch():
    me = psutil.Process()
    while not done.is_set():
        peak[0] = max(peak[0], me.memory_info().rss)
        time.sleep(0.005)
threading.Thread(target=watch, daemon=True).start()
"""


@dataclass
class Row:
    """One measured figure.

    ``target`` is a readable condition such as ``">= 1000"``; ``ok`` is whether the
    value meets it (``None`` where there is no target). ``baseline`` and ``ratio``
    hold the same-run baseline a figure is compared with, where there is one.
    """

    figure: str
    value: float
    unit: str = ""
    target: str = ""
    baseline: float | None = None
    ratio: float | None = None
    ok: bool | None = None


def parse_args(
    description: str,
    argv: Sequence[str] | None = None,
    extra: Callable[[argparse.ArgumentParser], Any] | None = None,
) -> argparse.Namespace:
    """The common command line: ``--quick`` and ``--json PATH``, and what ``extra`` adds."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small, fast run (CI)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    if extra is not None:
        extra(parser)
    return parser.parse_args(argv)


def best_time(function: Callable[[], Any], repeat: int = 3) -> float:
    """Smallest wall time in seconds of ``repeat`` calls (the least disturbed run)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def uproot_compression(spec: str) -> Any:
    """The uproot compression of ``"algorithm:level"`` (as dctrgan's ``compression=``
    takes it), for the bare-uproot baselines, which must not import dctrgan."""
    import uproot

    name, _, level = spec.lower().partition(":")
    codecs = {"zlib": uproot.ZLIB, "lz4": uproot.LZ4, "zstd": uproot.ZSTD, "lzma": uproot.LZMA}
    return None if name == "none" else codecs[name](int(level or 1))


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0 or 1e-3 <= abs(x) < 1e6:
        return f"{x:.4g}"
    return f"{x:.3e}"


def _cells(r: Row) -> tuple[str, ...]:
    ok = "-" if r.ok is None else ("yes" if r.ok else "NO")
    return (r.figure, _fmt(r.value), r.unit, r.target or "-", _fmt(r.baseline), _fmt(r.ratio), ok)


HEADER = ("figure", "value", "unit", "target", "baseline", "ratio", "ok")


def format_table(header: Sequence[str], table: Sequence[Sequence[str]]) -> str:
    """Left-aligned text table with a rule under the header."""
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    body = ["  ".join(c.ljust(w) for c, w in zip(t, widths, strict=True)) for t in table]
    return "\n".join([line, "-" * len(line), *body])


def report(
    name: str, rows: Sequence[Row], args: argparse.Namespace, **extra: Any
) -> dict[str, Any]:
    """Print the table of ``rows`` and write them to ``args.json`` if given."""
    print(f"\n{name}{' (quick)' if args.quick else ''}")
    print(format_table(HEADER, [_cells(r) for r in rows]))
    result = {
        "benchmark": name,
        "quick": bool(args.quick),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "rows": [asdict(r) for r in rows],
        **extra,
    }
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result
