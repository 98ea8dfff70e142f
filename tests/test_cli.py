from __future__ import annotations

from pathlib import Path

import awkward as ak
from click.testing import CliRunner

import dctrgan
from dctrgan.cli import main


def test_simulate_writes_a_readable_file(tmp_path: Path) -> None:
    out = tmp_path / "fast.root"
    args = [
        "simulate",
        "calorimeter",
        "-n",
        "20",
        "--variant",
        "fast",
        "--seed",
        "3",
        "-o",
        str(out),
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "wrote 20 calorimeter events" in result.output
    events = dctrgan.read(f"{out}:events", kind="showers")
    expected = dctrgan.simulate.calorimeter(20, variant="fast", seed=3)
    assert ak.array_equal(events.hits, expected.hits)


def test_simulate_airshower(tmp_path: Path) -> None:
    out = tmp_path / "data.root"
    result = CliRunner().invoke(
        main, ["simulate", "airshower", "-n", "5", "--seed", "1", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert len(dctrgan.read(out, kind="traces")) == 5


def test_existing_output_is_one_clear_line_and_untouched(tmp_path: Path) -> None:
    out = tmp_path / "keep.root"
    out.write_bytes(b"precious")
    result = CliRunner().invoke(main, ["simulate", "airshower", "-n", "2", "-o", str(out)])
    assert result.exit_code == 1
    assert result.output.startswith("dctrgan: error:")
    assert str(out) in result.output
    assert "Traceback" not in result.output
    assert out.read_bytes() == b"precious"


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(main, ["simulate", "--help"])
    assert result.exit_code == 0
    assert "dctrgan simulate calorimeter" in result.output


def test_wrong_variant_is_a_usage_error(tmp_path: Path) -> None:
    out = tmp_path / "x.root"
    args = ["simulate", "airshower", "--variant", "fast", "-o", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "airshower variant must be data or sim" in result.output
    assert not out.exists()
