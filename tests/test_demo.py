from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
from click.testing import CliRunner

import dctrgan
from dctrgan import demo, report
from dctrgan.cli import main
from dctrgan.dctr import DCTR

N = 300  # showers per sample: 150 to train, 150 to test
EXPECTED = {
    "full.root",
    "fast.root",
    "fast_weighted.root",
    "fast_weights.root",
    "dctr_hl.pt",
    "report.md",
    "report.csv",
    "active_cells.png",
    "total_energy.png",
    "longitudinal_centroid.png",
}


def _run(out: Path, *extra: str) -> Any:
    args = ["demo", "--output", str(out), "--events", str(N), "--seed", "5", *extra]
    return CliRunner().invoke(main, args)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """One demo run at a tiny size, shared by the checks below."""
    out = tmp_path_factory.mktemp("demo") / "out"
    return out, _run(out)


def test_demo_writes_every_file_and_a_summary(demo_run: tuple[Path, Any]) -> None:
    out, result = demo_run
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == EXPECTED
    assert [p.name for p in out.parent.iterdir()] == ["out"]  # no staging folder left
    umask = os.umask(0o022)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # a normal folder, not mkdtemp's 0o700
    # step messages and bars went to stderr, the summary to stdout
    assert "[4/4" in result.stderr
    assert "DCTR mlp" in result.stderr
    assert "simulate, write, read back" in result.stderr
    assert "33 classifier inputs" in result.stdout
    assert "118 held-out observables" in result.stdout
    assert "statistical floor of S2" in result.stdout
    assert f"files in {out}" in result.stdout
    for name in ("active_cells.png", "total_energy.png", "longitudinal_centroid.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG")


def test_weights_read_back_from_the_branch_and_the_friend_tree(
    demo_run: tuple[Path, Any],
) -> None:
    out, _ = demo_run
    fast = dctrgan.read(f"{out / 'fast.root'}:events", kind="showers")
    weighted = dctrgan.read(f"{out / 'fast_weighted.root'}:events", kind="showers")
    assert len(fast) == len(weighted) == N
    assert "weight" not in ak.fields(fast)
    assert ak.array_equal(weighted.hits, fast.hits)
    w = ak.to_numpy(weighted.weight)
    assert w.dtype == np.float32
    assert np.all(np.isfinite(w))
    assert np.all(w > 0)
    assert np.std(w) > 0  # the weights do something
    friend = dctrgan.read(f"{out / 'fast.root'}:events", friend=out / "fast_weights.root")
    np.testing.assert_array_equal(ak.to_numpy(friend.weight), w)
    # the saved model gives the same weights again
    model = DCTR.load(out / "dctr_hl.pt", progress=False)
    again = ak.to_numpy(model.weight(fast))
    np.testing.assert_allclose(again, w, rtol=1e-6)  # float32 in the file


def test_report_is_on_the_test_split(demo_run: tuple[Path, Any]) -> None:
    out, _ = demo_run
    with (out / "report.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 151
    assert sum(r["group"] == "input" for r in rows) == 33
    # recompute from the files: the last N/2 entries, weights from the weight branch
    full = dctrgan.read(f"{out / 'full.root'}:events", kind="showers", entry_start=N // 2)
    weighted = dctrgan.read(
        f"{out / 'fast_weighted.root'}:events", kind="showers", entry_start=N // 2
    )
    expected = report.compare(full, weighted)
    assert expected.n_model == N // 2
    for row, entry in zip(rows, expected.entries, strict=True):
        assert row["observable"] == entry.observable
        assert float(row["s2_unweighted"]) == pytest.approx(entry.s2_unweighted, rel=1e-9)
        assert float(row["s2_weighted"]) == pytest.approx(entry.s2_weighted, rel=1e-9)
        assert float(row["r_weighted"]) == pytest.approx(entry.r_weighted, rel=1e-9)
    text = (out / "report.md").read_text(encoding="utf-8")
    assert f"Evaluated on: the test split, entries {N // 2}-{N - 1}" in text
    assert "Statistical floor of S²" in text
    assert "![total_energy](total_energy.png)" in text


def test_second_run_is_refused_then_overwrites(demo_run: tuple[Path, Any]) -> None:
    out, _ = demo_run
    before = (out / "report.csv").read_bytes()
    stamp = (out / "fast.root").stat().st_mtime_ns
    result = _run(out)
    assert result.exit_code == 1
    assert result.output.startswith("dctrgan: error:")
    assert "not empty" in result.output
    assert "--overwrite" in result.output
    assert (out / "fast.root").stat().st_mtime_ns == stamp
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    result = _run(out, "--overwrite", "--no-progress")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"  # other files stay
    assert {p.name for p in out.iterdir()} == {*EXPECTED, "notes.txt"}
    assert (out / "fast.root").stat().st_mtime_ns != stamp
    # the same seed gives the same samples and, on CPU, the same weights and table
    assert (out / "report.csv").read_bytes() == before
    (out / "notes.txt").unlink()


def test_failure_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: Any, **_kwargs: Any) -> None:
        msg = "training failed"
        raise RuntimeError(msg)

    monkeypatch.setattr(DCTR, "fit", boom)
    with pytest.raises(RuntimeError, match="training failed"):
        demo.demo(tmp_path / "out", events=40, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_arguments_are_checked_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="need at least 10 showers"):
        demo.demo(tmp_path / "out", events=15, progress=False)
    with pytest.raises(ValueError, match="test_fraction=1"):
        demo.demo(tmp_path / "out", events=100, test_fraction=1, progress=False)
    file = tmp_path / "file"
    file.write_text("x", encoding="utf-8")
    with pytest.raises(FileExistsError, match="is not a folder"):
        demo.demo(file, events=100, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_missing_plot_extra_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        msg = 'plotting needs matplotlib and mplhep: pip install "dctrgan[plot]"'
        raise ModuleNotFoundError(msg)

    monkeypatch.setattr(dctrgan.plot, "require", missing)
    result = _run(tmp_path / "out")
    assert result.exit_code == 1
    assert 'pip install "dctrgan[plot]"' in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_refusal_names_the_argument_in_python_and_the_option_on_the_command_line(
    demo_run: tuple[Path, Any],
) -> None:
    out, _ = demo_run
    with pytest.raises(FileExistsError, match="not empty") as info:
        demo.demo(out, events=N, progress=False)
    assert "pass overwrite=True" in str(info.value)
    assert "--overwrite" not in str(info.value)
    result = _run(out)
    assert result.exit_code == 1
    assert "pass --overwrite" in result.stderr
    assert "overwrite=True" not in result.stderr


def test_second_process_errors_reach_the_main_one() -> None:
    """The helper process: an error in it is raised in the main process, with its
    traceback as the cause; a helper that dies is an error, not a wait without end."""
    with demo._Helper() as helper:
        helper.submit(int, "not a number")
        with pytest.raises(ValueError, match="invalid literal") as info:
            helper.wait()
        assert "in the demo's second process" in str(info.value.__cause__)
        helper.submit(divmod, 7, 2)
        assert helper.wait() == (3, 1)  # still serving after an error
        helper.submit(os._exit, 3)
        with pytest.raises(RuntimeError, match=r"second process died \(exit code 3\)"):
            helper.wait()
