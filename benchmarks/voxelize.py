"""Hits to dense voxels: dctrgan.features.voxelize against plain np.add.at.

Both start from the same awkward showers and return the same float32
``(N, 30, 30, 30)`` array (checked before timing). The baseline is the recipe a
user would write: flatten the hit fields, then ``np.add.at(dense, (event, layer,
ix, iy), energy)``; a second baseline ravels the index with ``np.ravel_multi_index``
and calls the 1-D ``np.add.at``, numpy's fastest unbuffered scatter-add (numpy >= 2;
expect parity with it: most of the time of both goes to the kernel zeroing the fresh
output, 108 kB per event; the target is on the first baseline). Showers
come from ``dctrgan.simulate.calorimeter`` (50 GeV photons, ~780 cells, hits unique
and sorted) where it is available, else from a seeded synthetic sample of the same
size and layout. The same showers with their hits shuffled within each event show
the path for unsorted input. The inverse, ``from_voxels``, is timed on the result.
Calls alternate between the contenders and each figure is the best of 3.

    python benchmarks/voxelize.py [--quick] [--json PATH]
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

import awkward as ak
import numpy as np
from _common import Row, best_time, parse_args, report

from dctrgan.data import Geometry, make_showers
from dctrgan.features import from_voxels, observables, voxelize

TARGET = 1.0  # voxelize hits/s over baseline hits/s
SEED = 20260101


def synthetic_showers(n: int, rng: np.random.Generator) -> ak.Array:
    """~780 distinct cells per event sorted by (layer, ix, iy): a Gamma-like depth
    profile peaking near layer 10 and a narrow lateral core."""
    g = Geometry()
    draws = rng.poisson(1000, n)  # before merging repeated cells
    event = np.repeat(np.arange(n), draws)
    size = len(event)
    layer = np.clip(rng.gamma(4.0, 3.0, size), 0, g.n_layers - 1).astype(np.int64)
    ix = np.clip(np.round(rng.normal(14.5, 3.5, size)), 0, g.n_x - 1).astype(np.int64)
    iy = np.clip(np.round(rng.normal(14.5, 3.5, size)), 0, g.n_y - 1).astype(np.int64)
    key = np.unique(((event * g.n_layers + layer) * g.n_x + ix) * g.n_y + iy)
    event, cell = np.divmod(key, g.n_layers * g.n_x * g.n_y)
    layer, rest = np.divmod(cell, g.n_x * g.n_y)
    ix, iy = np.divmod(rest, g.n_y)
    energy = (0.1 + rng.exponential(1.0, len(key))).astype(np.float32)
    return make_showers(np.full(n, 50.0), np.bincount(event, minlength=n), layer, ix, iy, energy)


def reference_showers(n: int, rng: np.random.Generator) -> tuple[ak.Array, str]:
    """Reference-simulator showers if ``dctrgan.simulate.calorimeter`` works, else synthetic."""
    try:
        module = importlib.import_module("dctrgan.simulate.calorimeter")
        return module.calorimeter(n, seed=int(rng.integers(2**31))), "dctrgan.simulate.calorimeter"
    except Exception as err:  # noqa: BLE001 - fall back to synthetic events, say why
        print(f"calorimeter() unavailable ({err!r}); using synthetic showers", file=sys.stderr)
    return synthetic_showers(n, rng), "synthetic (make_showers)"


def shuffled(showers: ak.Array, rng: np.random.Generator) -> ak.Array:
    """The same showers with the hits of each event in random order."""
    hits = showers["hits"]
    counts = ak.to_numpy(ak.num(hits, axis=1))
    event = np.repeat(np.arange(len(counts)), counts)
    order = np.lexsort((rng.random(len(event)), event))
    flat = {f: ak.to_numpy(ak.flatten(hits[f]))[order] for f in ("layer", "ix", "iy", "energy")}
    return make_showers(ak.to_numpy(showers["incident_energy"]), counts, **flat)


def _flat(showers: ak.Array) -> tuple[np.ndarray, ...]:
    hits = showers["hits"]
    counts = ak.to_numpy(ak.num(hits, axis=1))
    event = np.repeat(np.arange(len(counts)), counts)
    return (event, *(ak.to_numpy(ak.flatten(hits[f])) for f in ("layer", "ix", "iy", "energy")))


def add_at(showers: ak.Array) -> np.ndarray:
    """Baseline: the plain ``np.add.at`` recipe."""
    event, layer, ix, iy, energy = _flat(showers)
    dense = np.zeros((len(showers), *Geometry().shape), dtype=np.float32)
    np.add.at(dense, (event, layer, ix, iy), energy)
    return dense


def add_at_flat(showers: ak.Array) -> np.ndarray:
    """Stronger baseline: raveled index and the 1-D ``np.add.at``."""
    event, layer, ix, iy, energy = _flat(showers)
    dense = np.zeros((len(showers), *Geometry().shape), dtype=np.float32)
    np.add.at(dense.reshape(-1), np.ravel_multi_index((event, layer, ix, iy), dense.shape), energy)
    return dense


def interleaved(functions: dict[str, Callable[[], Any]], repeat: int = 3) -> dict[str, float]:
    """Best wall time (s) of each function, calling them in turn ``repeat`` times."""
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(repeat):
        for name, function in functions.items():
            best[name] = min(best[name], best_time(function, repeat=1))
    return best


def main() -> None:
    args = parse_args(__doc__.splitlines()[0] if __doc__ else "voxelize")
    n = 1000 if args.quick else 4000
    rng = np.random.default_rng(SEED)
    showers, source = reference_showers(n, rng)
    unsorted = shuffled(showers, rng)
    n_hits = int(ak.sum(ak.num(showers["hits"], axis=1)))
    dense = voxelize(showers)
    for name, reference in (("add_at", add_at), ("add_at_flat", add_at_flat)):
        if not np.array_equal(reference(showers), dense):
            msg = f"voxelize and {name} disagree"
            raise RuntimeError(msg)
    if not np.array_equal(voxelize(unsorted), dense):
        msg = "voxelize of the shuffled hits disagrees"
        raise RuntimeError(msg)

    t = interleaved(
        {
            "voxelize": lambda: voxelize(showers),
            "add_at": lambda: add_at(showers),
            "add_at_flat": lambda: add_at_flat(showers),
            "voxelize_unsorted": lambda: voxelize(unsorted),
            "add_at_unsorted": lambda: add_at(unsorted),
            "add_at_flat_unsorted": lambda: add_at_flat(unsorted),
        }
    )
    t_inverse = best_time(lambda: from_voxels(dense, showers["incident_energy"]), repeat=3)
    t_observables = best_time(lambda: observables(showers), repeat=3)

    def rate(key: str) -> float:
        return n_hits / t[key]

    rows = []
    for label, ours, base, target in (
        ("voxelize vs np.add.at", "voxelize", "add_at", True),
        ("voxelize vs 1-D np.add.at", "voxelize", "add_at_flat", False),
        ("voxelize vs np.add.at, shuffled hits", "voxelize_unsorted", "add_at_unsorted", False),
        ("voxelize vs 1-D np.add.at, shuffled", "voxelize_unsorted", "add_at_flat_unsorted", False),
    ):
        ratio = rate(ours) / rate(base)
        rows.append(
            Row(
                label,
                rate(ours),
                "hits/s",
                f"ratio >= {TARGET}" if target else "",
                baseline=rate(base),
                ratio=ratio,
                ok=ratio >= TARGET if target else None,
            )
        )
    rows.append(Row("from_voxels (inverse)", n_hits / t_inverse, "hits/s"))
    rows.append(Row("observables (151 per event)", n / t_observables, "events/s"))
    report(
        "voxelize",
        rows,
        args,
        events=n,
        hits=n_hits,
        hits_per_event=n_hits / n,
        source=source,
        seconds={**t, "from_voxels": t_inverse, "observables": t_observables},
    )


if __name__ == "__main__":
    main()
