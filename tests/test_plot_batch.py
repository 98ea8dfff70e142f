"""Many comparison figures at once: a figure redrawn is the new figure, byte for byte, in
this process and in worker processes (plot.save_comparisons, plot.ComparisonWriter)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from dctrgan import plot
from dctrgan.plot._canvas import ComparisonCanvas, bin_comparison

LABELS = ("Full", "Fast", "Fast + DCTR")
DPI = 30


def _samples(
    rng: np.random.Generator, n: int = 3000
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Four observables (one integer-valued, one on another scale), weights, 3 replicas."""
    ref = {
        "energy": rng.normal(800, 40, n),
        "cells": rng.poisson(700, n).astype(float),
        "width": rng.gamma(4.0, 2.0, n),
        "depth": rng.normal(0.0, 1e-3, n),
    }
    model = {
        "energy": rng.normal(815, 35, n),
        "cells": rng.poisson(690, n).astype(float),
        "width": rng.gamma(4.5, 2.0, n),
        "depth": rng.normal(2e-4, 1.1e-3, n),
    }
    w = rng.uniform(0.5, 1.5, n)
    replicas = w[:, None] * rng.uniform(0.9, 1.1, (n, 3))
    return ref, model, w, replicas


def _png(fig: object) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)  # type: ignore[attr-defined]
    return buffer.getvalue()


def _stairs(fig: object) -> list[tuple[np.ndarray, ...]]:
    return [
        tuple(np.asarray(a, dtype=float) for a in p.get_data())
        for ax in fig.axes  # type: ignore[attr-defined]
        for p in ax.patches
    ]


@pytest.mark.parametrize("with_replicas", [False, True])
def test_a_redrawn_figure_is_the_new_figure(rng: np.random.Generator, with_replicas: bool) -> None:
    ref, model, w, replicas = _samples(rng)
    reps = replicas if with_replicas else None

    def binned(name: str) -> tuple[np.ndarray, list[object]]:
        return bin_comparison(  # type: ignore[return-value]
            ref[name],
            model[name],
            w,
            reference_weights=None,
            bins=30,
            observable=name,
            replicas=reps,
        )

    canvas = ComparisonCanvas(*binned("energy"), LABELS, "energy", "MeV", (0.5, 1.5))
    _png(canvas.figure)  # drawn once: its ticks exist
    for name, unit, labels, ratio_range in (
        ("cells", "", ("A", "B", "C"), (0.8, 1.2)),
        ("depth", "mm", LABELS, (0.5, 1.5)),
    ):
        edges, bins = binned(name)
        canvas.redraw(edges, bins, labels, name, unit, ratio_range)  # type: ignore[arg-type]
        new = plot.comparison(
            ref[name],
            model[name],
            w,
            observable=name,
            unit=unit,
            labels=labels,
            ratio_range=ratio_range,
            replicas=reps,
        )
        # the drawn data: every stairs (values, edges, baseline), legend, labels, limits
        for a, b in zip(_stairs(canvas.figure), _stairs(new), strict=True):
            for x, y in zip(a, b, strict=True):
                np.testing.assert_array_equal(x, y)
        for ax, other in zip(canvas.figure.axes, new.axes, strict=True):
            assert ax.get_xlim() == other.get_xlim()
            assert ax.get_ylim() == other.get_ylim()
            assert ax.get_xlabel() == other.get_xlabel()
        texts = [t.get_text() for t in canvas.axes[0].get_legend().get_texts()]
        assert texts == [t.get_text() for t in new.axes[0].get_legend().get_texts()]
        assert texts[0] == labels[0]
        # and the pixels, byte for byte
        assert _png(canvas.figure) == _png(new)


def test_redraw_refuses_numbers_that_need_other_artists(rng: np.random.Generator) -> None:
    ref, model, w, replicas = _samples(rng, 500)
    args = {"reference_weights": None, "bins": 30, "observable": "energy"}
    with_band = bin_comparison(ref["energy"], model["energy"], w, replicas=replicas, **args)
    without = bin_comparison(ref["energy"], model["energy"], w, replicas=None, **args)
    canvas = ComparisonCanvas(*with_band, LABELS, "energy", "MeV", (0.5, 1.5))
    assert canvas.layout == (2, 1)  # two models, the second with a band
    with pytest.raises(ValueError, match=r"redraw: the figure holds \(2, 1\)"):
        canvas.redraw(*without, LABELS, "energy", "MeV", (0.5, 1.5))


def test_saved_figures_are_those_of_comparison(tmp_path: Path, rng: np.random.Generator) -> None:
    ref, model, w, replicas = _samples(rng, 1000)
    names = ["width", "energy", "cells"]
    units = {"energy": "MeV"}
    paths = plot.save_comparisons(
        tmp_path / "figures",
        ref,
        model,
        w,
        names=names,
        units=units,
        labels=LABELS,
        replicas=replicas,
        dpi=DPI,
        compress_level=None,  # savefig's: the same bytes
    )
    assert paths == [tmp_path / "figures" / f"{n}.png" for n in names]
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == sorted(
        f"{n}.png" for n in names
    )
    for name, path in zip(names, paths, strict=True):
        fig = plot.comparison(
            ref[name],
            model[name],
            w,
            observable=name,
            unit=units.get(name, ""),
            labels=LABELS,
            replicas=replicas,
        )
        fig.savefig(tmp_path / "new.png", dpi=DPI)
        assert path.read_bytes() == (tmp_path / "new.png").read_bytes()


def test_fast_compression_keeps_the_pixels(tmp_path: Path, rng: np.random.Generator) -> None:
    from matplotlib.image import imread

    ref, model, w, _ = _samples(rng, 1000)
    fast = plot.save_comparisons(tmp_path / "fast", ref, model, w, names=["cells"], dpi=DPI)
    plot.comparison(ref["cells"], model["cells"], w, observable="cells").savefig(
        tmp_path / "new.png", dpi=DPI
    )
    np.testing.assert_array_equal(imread(fast[0]), imread(tmp_path / "new.png"))
    assert fast[0].read_bytes() != (tmp_path / "new.png").read_bytes()  # zlib level 1, not 6


def test_worker_processes_save_the_same_files(tmp_path: Path, rng: np.random.Generator) -> None:
    ref, model, w, replicas = _samples(rng, 1000)
    options = {"labels": LABELS, "replicas": replicas, "dpi": DPI}
    progress: list[int] = []
    here = plot.save_comparisons(tmp_path / "here", ref, model, w, workers=1, **options)
    there = plot.save_comparisons(
        tmp_path / "there", ref, model, w, workers=2, progress=progress.append, **options
    )
    assert [p.name for p in here] == [p.name for p in there] == [f"{n}.png" for n in ref]
    for a, b in zip(here, there, strict=True):
        assert a.read_bytes() == b.read_bytes()
    assert sum(progress) == len(ref)
    assert len(progress) == 2  # one task per worker


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_figure_leaves_no_folder(
    tmp_path: Path, rng: np.random.Generator, workers: int
) -> None:
    ref, model, w, _ = _samples(rng, 500)
    w[7] = -1.0
    with pytest.raises(ValueError, match="negative"):
        plot.save_comparisons(tmp_path / "figures", ref, model, w, workers=workers, dpi=DPI)
    assert not (tmp_path / "figures").exists()


def test_writer_arguments(tmp_path: Path, rng: np.random.Generator) -> None:
    ref, model, w, _ = _samples(rng, 500)
    with pytest.raises(ValueError, match="workers must be"):
        plot.ComparisonWriter(tmp_path, workers=0)
    with plot.ComparisonWriter(tmp_path / "figures", dpi=DPI) as writer:
        assert writer.workers(500) == 1
        with pytest.raises(ValueError, match=r"\['other'\] missing"):
            writer.submit(ref, model, w, names=["energy", "other"])
        writer.submit(ref, model, w, names=["energy"])
        with pytest.raises(ValueError, match=r"\['energy'\] submitted twice"):
            writer.submit(ref, model, w, names=["width", "energy"])
        with pytest.raises(ValueError, match="expected three"):
            writer.submit(ref, model, w, names=["width"], labels=("a", "b"))
        writer.submit(ref, model, w, names=["width"])
        assert [p.name for p in writer.wait()] == ["energy.png", "width.png"]
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["energy.png", "width.png"]


def test_auto_workers_pay_for_themselves(tmp_path: Path) -> None:
    with plot.ComparisonWriter(tmp_path, workers="auto") as writer:
        assert writer.workers(10) == 1  # drawn in this process
        assert 1 <= writer.workers(151) <= 4
        assert writer.workers(151) >= writer.workers(40)
