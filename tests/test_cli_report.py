"""``dctrgan report --figures all``: the figures drawn in worker processes while the
numbers are computed, each the figure of plot.comparison, the table that of report.compare."""

from __future__ import annotations

import io as bytes_io
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
from click.testing import CliRunner

import dctrgan
from dctrgan import io, plot
from dctrgan.cli import main

#: Branches of the ntuples: enough figures for two worker processes.
N_BRANCHES = 45


@pytest.mark.slow
def test_report_with_every_figure(tmp_path: Path, rng: np.random.Generator) -> None:
    n = 400
    ref = {f"x{i}": rng.normal(0.0, 1.0 + i / 10, n) for i in range(N_BRANCHES)}
    model = {f"x{i}": rng.normal(0.1, 1.0 + i / 10, n) for i in range(N_BRANCHES)}
    model["x3"] = np.round(model["x3"] * 5)  # an integer-valued one
    ref["x3"] = np.round(ref["x3"] * 5)
    w = rng.uniform(0.5, 1.5, n)
    full_file = io.write(tmp_path / "full.root", ak.Array(ref))
    weighted_file = io.write(tmp_path / "weighted.root", ak.Array(model | {"weight": w}))
    out = tmp_path / "report"
    args = ["report", full_file, weighted_file, "-o", out, "--figures", "all", "--no-progress"]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["report.md", "report.csv", *(f"x{i}.png" for i in range(N_BRANCHES))]
    )
    w = ak.to_numpy(io.read(weighted_file).weight)  # as written: float32
    expected = dctrgan.report.compare(ref, model, w)
    table = (out / "report.csv").read_text(encoding="utf-8")
    assert table.splitlines()[1:] == expected.to_csv().splitlines()[1:]
    for name in ("x0", "x3", f"x{N_BRANCHES - 1}"):
        fig = plot.comparison(
            ref[name],
            model[name],
            w,
            observable=name,
            labels=("Reference", "Model", "Model + DCTR"),
        )
        png = bytes_io.BytesIO()
        fig.savefig(png, format="png", dpi=100, pil_kwargs={"compress_level": 1})
        assert (out / f"{name}.png").read_bytes() == png.getvalue()
