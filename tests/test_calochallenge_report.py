"""The CaloChallenge chain: simulated showers binned like dataset 2, written in the
challenge's format, reweighted and reported on (report.calochallenge, the CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dctrgan.cli import main
from dctrgan.data import CylindricalGeometry
from dctrgan.features import cartesian_for
from dctrgan.io import calochallenge as cc
from dctrgan.report import calochallenge
from dctrgan.simulate import calorimeter

BINNING = Path(__file__).parent / "data" / "calochallenge" / "binning_dataset_2.xml"


@pytest.fixture(scope="module")
def samples() -> tuple[cc.ChallengeShowers, cc.ChallengeShowers]:
    """2,000 full showers of 20 GeV binned like dataset 2, and a 'model': other full showers
    whose voxel energies are 2 % low (a miscalibrated generator; the total energy's
    spread is 2.4 %, so the samples overlap)."""
    g = CylindricalGeometry.from_calochallenge(BINNING)
    c = cartesian_for(g)
    reference = cc.ChallengeShowers.from_showers(calorimeter(2000, 20.0, geometry=c, seed=1), g, c)
    model = cc.ChallengeShowers.from_showers(calorimeter(2000, 20.0, geometry=c, seed=2), g, c)
    return reference, cc.ChallengeShowers(model.incident_energy, model.showers * 0.98, g)


def test_binning_keeps_the_energy(samples: tuple[cc.ChallengeShowers, cc.ChallengeShowers]) -> None:
    reference, _ = samples
    g = reference.geometry
    c = cartesian_for(g)
    showers = calorimeter(50, 20.0, geometry=c, seed=1)
    binned = cc.ChallengeShowers.from_showers(showers, g, c)
    total = np.array([float(np.sum(e)) for e in showers.hits.energy])
    # the radial bins reach 41.85 mm: more than 98 % of the visible energy is inside
    assert np.all(binned.showers.sum(axis=1) <= total * (1 + 1e-6))
    assert np.median(binned.showers.sum(axis=1) / total) > 0.98
    again = cc.ChallengeShowers.from_showers(calorimeter(50, 20.0, geometry=c, seed=1), g, c)
    np.testing.assert_array_equal(binned.showers, again.showers)
    assert reference.showers.dtype == np.float32


def test_report_on_held_out_showers(
    samples: tuple[cc.ChallengeShowers, cc.ChallengeShowers], tmp_path: Path
) -> None:
    reference, model = samples
    report, _, weights = calochallenge(
        reference,
        model,
        seed=3,
        inputs=["incident_energy", "E_tot"],
        progress=False,
        test_options={"epochs": 3},
    )
    sizes = report.sizes
    assert sizes == {
        "fit_reference": 1000,
        "fit_model": 1000,
        "test_reference": 1000,
        "test_model": 1000,
    }
    assert len(weights) == 1000
    assert len(np.unique(report.held_out[0])) == 1000
    f = report.figures()
    names = [e.observable for e in report.comparison.entries]
    assert names[:2] == ["incident_energy", "E_tot"]
    assert len(names) == 1 + 1 + 45 * 8
    # a 2 % energy scale: DCTR on the total energy closes it
    e_tot = report.comparison["E_tot"]
    assert e_tot.s2_unweighted > 0.1
    assert e_tot.s2_weighted < e_tot.s2_unweighted / 2
    assert all(np.isfinite(f[k]) for k in ("fpd_unweighted", "fpd_weighted", "kpd_weighted"))
    assert 0.0 <= f["auc_weighted"] <= 1.0
    assert f["jsd_unweighted"] <= np.log(2)
    assert 0.0 < f["neff_fraction"] <= 1.0
    written = report.write(tmp_path)
    assert sorted(p.name for p in written) == ["report.csv", "report.md", "summary.json"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["figures"]["median_s2_unweighted"] == pytest.approx(f["median_s2_unweighted"])
    assert "FPD:" in (tmp_path / "report.md").read_text()
    assert report.comparison["E_layer_3"].group == "held-out"
    with pytest.raises(ValueError, match="fit_fraction must be in"):
        calochallenge(reference, model, fit_fraction=1.0, progress=False)
    with pytest.raises(ValueError, match=r"inputs \['E_layer_99'\] are not features"):
        calochallenge(reference, model, inputs=["E_layer_99"], progress=False)


def test_cli(samples: tuple[cc.ChallengeShowers, cc.ChallengeShowers], tmp_path: Path) -> None:
    reference, model = samples
    ref_file = cc.write(tmp_path / "reference.hdf5", reference[:200])
    model_file = cc.write(tmp_path / "model.hdf5", model[:200])
    out = tmp_path / "report"
    args = [
        "calochallenge",
        str(ref_file),
        str(model_file),
        "--binning",
        str(BINNING),
        "-o",
        str(out),
        "--no-progress",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "median S2 over 362 features" in result.output
    written = sorted(p.name for p in out.iterdir())
    features = [name for name in written if name.startswith("feature_")]
    assert [name for name in written if name not in features] == [
        "average_shower.png",
        "profile.png",
        "report.csv",
        "report.md",
        "summary.json",
    ]
    # the six features of the largest S^2 without weights: the energies of a 2 % scale
    assert len(features) == 6
    assert "feature_E_tot.png" in features
    for name in written:
        assert name in result.output
        if name.endswith(".png"):
            assert name in (out / "report.md").read_text()
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1
    assert "pass --overwrite" in again.output
    # the feature figures vary with the samples: any of them stops a second run too
    for name in written:
        if name != features[0]:
            (out / name).unlink()
    once_more = CliRunner().invoke(main, args)
    assert once_more.exit_code == 1
    assert f"{features[0]} exist(s)" in once_more.output
    photons = BINNING.parent / "binning_dataset_1_photons.xml"
    wrong = CliRunner().invoke(
        main, [*args[:4], str(photons), "-o", str(tmp_path / "x"), "--no-progress"]
    )
    assert wrong.exit_code == 1
    assert "has 368 voxels" in wrong.output
