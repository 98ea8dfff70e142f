"""Gather the JSON files of the benchmark scripts into one table and one JSON file.

Usage: ``python benchmarks/summary.py RESULTS_DIR [SUMMARY_JSON]``. Exits non-zero if
a benchmark's JSON is missing or unreadable (a broken script), never on timing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from _common import HEADER, Row, _cells, format_table


def main(argv: list[str]) -> int:
    folder = Path(argv[0])
    rows: list[tuple[str, Row]] = []
    files = sorted(p for p in folder.glob("*.json") if p.name != "summary.json")
    if not files:
        print(f"no benchmark results in {folder}", file=sys.stderr)
        return 1
    for path in files:
        data = json.loads(path.read_text())
        rows.extend((data["benchmark"], Row(**r)) for r in data["rows"])
    table = [(b, *_cells(r)) for b, r in rows]
    print("\nbenchmark summary")
    print(format_table(("benchmark", *HEADER), table))
    if len(argv) > 1:
        summary = [{"benchmark": b, **r.__dict__} for b, r in rows]
        Path(argv[1]).write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
