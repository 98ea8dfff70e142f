"""Showers of a CaloChallenge binning as awkward events: the schema and its checks, dense
voxels <-> hits, ``dctrgan.read`` / ``iterate`` / ``write`` with ``binning=`` (HDF5 in the
challenge's layout and ROOT), the features from hits, and DCTR on them."""

from __future__ import annotations

import math
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

import dctrgan
from dctrgan.data import (
    CylindricalGeometry,
    binning_of,
    coerce,
    geometry_of,
    is_cylindrical,
    make_cylindrical_showers,
    validate,
)
from dctrgan.features import (
    calochallenge,
    calochallenge_names,
    from_cylindrical_voxels,
    voxelize_cylindrical,
)
from dctrgan.io import calochallenge as challenge_io

pytest.importorskip("h5py")

BINNINGS = Path(__file__).parent / "data" / "calochallenge"
PHOTONS = BINNINGS / "binning_dataset_1_photons.xml"
PIONS = BINNINGS / "binning_dataset_1_pions.xml"


def _dense(geometry: CylindricalGeometry, n: int, seed: int, scale: float = 1.0) -> np.ndarray:
    """Sparse random voxel energies (MeV, float32): a tenth of the voxels hit."""
    rng = np.random.default_rng(seed)
    hit = rng.random((n, geometry.n_voxels)) < 0.1
    return (scale * rng.exponential(size=hit.shape) * hit).astype(np.float32)


def _incident(n: int, seed: int) -> np.ndarray:
    """Incident energies in MeV (float32), log-uniform over 1 GeV - 1 TeV as dataset 2."""
    return (10 ** np.random.default_rng(seed).uniform(3, 6, n)).astype(np.float32)


@pytest.fixture(scope="module")
def photons() -> CylindricalGeometry:
    return CylindricalGeometry.from_calochallenge(PHOTONS)


@pytest.fixture
def challenge_file(tmp_path: Path, photons: CylindricalGeometry) -> Path:
    """A float32 CaloChallenge file of 300 photon showers."""
    incident = _incident(300, 1).astype(np.float64) / 1000
    showers = challenge_io.ChallengeShowers(incident, _dense(photons, 300, 2), photons)
    return challenge_io.write(tmp_path / "photons.hdf5", showers)


def test_showers_of_bins_follow_their_schema(photons: CylindricalGeometry) -> None:
    # layer 1 of dataset 1 photons: 10 angular and 16 radial bins of 2 mm from 0 mm
    showers = make_cylindrical_showers([10.0, 20.0], [2, 1], [1, 12, 0], [3, 0, 0], [4, 2, 7],
                                       [1.0, 2.0, 3.0], photons)  # fmt: skip
    assert validate(showers) is showers
    assert is_cylindrical(showers)
    assert binning_of(showers["hits"]) == photons
    assert str(ak.type(showers.hits)).startswith("2 * var * CylindricalHit[layer: int32, alpha")
    alpha = -math.pi + (3 + 0.5) * 2 * math.pi / 10
    assert showers.hits.radius[0, 0] == pytest.approx(9.0)
    assert showers.hits.angle[0, 0] == pytest.approx(alpha)
    assert showers.hits.x[0, 0] == pytest.approx(9.0 * math.cos(alpha))
    assert showers.hits.y[0, 0] == pytest.approx(9.0 * math.sin(alpha))
    assert ak.to_list(coerce(showers).hits.energy) == [[1.0, 2.0], [3.0]]
    with pytest.raises(ValueError, match=r"cylindrical .* not in square cells"):
        geometry_of(showers["hits"])


@pytest.mark.parametrize(
    ("layer", "alpha", "r", "field", "bound"),
    [
        (1, 10, 0, "hits.alpha", 10),  # layer 1 has 10 angular bins
        (0, 1, 0, "hits.alpha", 1),  # layer 0 is not binned in alpha
        (12, 0, 5, "hits.r", 5),  # layer 12: 5 radial bins
        (5, 0, 0, "hits.alpha", 0),  # layer 5 has no voxels
        (24, 0, 0, "hits.layer", 24),
    ],
)
def test_bins_outside_the_geometry_are_named(
    photons: CylindricalGeometry, layer: int, alpha: int, r: int, field: str, bound: int
) -> None:
    showers = make_cylindrical_showers([1.0], [1], [layer], [alpha], [r], [1.0], photons)
    with pytest.raises(
        ValueError, match=rf"field '{field}': 1 value\(s\) outside .*\[0, {bound}\)"
    ):
        validate(showers)


def test_hits_of_bins_need_their_geometry() -> None:
    hits = ak.zip({"layer": [[0]], "alpha": [[0]], "r": [[0]], "energy": [[1.0]]})
    showers = ak.zip({"incident_energy": np.float32([1.0]), "hits": hits}, depth_limit=1)
    with pytest.raises(ValueError, match=r"need their cylindrical geometry.*binning="):
        validate(showers, strict=False)


def test_voxels_to_hits_and_back_bit_for_bit(photons: CylindricalGeometry) -> None:
    dense = _dense(photons, 50, 3)
    showers = from_cylindrical_voxels(dense, np.ones(50), photons)
    assert ak.sum(ak.num(showers.hits)) == np.count_nonzero(dense)  # zero voxels dropped
    assert np.array_equal(voxelize_cylindrical(showers), dense)
    assert np.array_equal(voxelize_cylindrical(showers[10:20]), dense[10:20])
    twice = make_cylindrical_showers([1.0], [2], [0, 0], [0, 0], [3, 3], [1.5, 2.0], photons)
    assert voxelize_cylindrical(twice)[0, 3] == 3.5  # hits of one voxel add up
    other = CylindricalGeometry.from_calochallenge(PIONS)
    with pytest.raises(ValueError, match="not the binning the showers carry"):
        voxelize_cylindrical(showers, other)


@pytest.mark.parametrize("name", ["binning_dataset_1_photons.xml", "binning_dataset_2.xml"])
def test_features_of_hits_equal_those_of_voxels(name: str) -> None:
    geometry = CylindricalGeometry.from_calochallenge(BINNINGS / name)
    dense = _dense(geometry, 40, 4)
    showers = from_cylindrical_voxels(dense, np.ones(40), geometry)
    from_hits, from_voxels = calochallenge(showers), calochallenge(dense, geometry)
    assert list(from_hits) == calochallenge_names(geometry) == list(from_voxels)
    for feature, values in from_voxels.items():
        np.testing.assert_allclose(
            from_hits[feature], values, rtol=1e-9, atol=1e-12, err_msg=feature
        )
    half = calochallenge(showers, threshold=0.5)["sparsity_0"]
    layer = dense[:, geometry.layer_slice(0)]
    np.testing.assert_allclose(half, 1 - (layer > 0.5).mean(axis=1), rtol=1e-12)


def test_features_of_square_cells_or_a_negative_threshold_are_refused(
    photons: CylindricalGeometry,
) -> None:
    cells = dctrgan.data.make_showers([1.0], [1], [0], [0], [0], [1.0])
    with pytest.raises(ValueError, match="must be of a cylindrical binning"):
        calochallenge(cells)
    showers = from_cylindrical_voxels(_dense(photons, 2, 5), np.ones(2), photons)
    with pytest.raises(ValueError, match="threshold must be >= 0"):
        calochallenge(showers, threshold=-1.0)
    with pytest.raises(TypeError, match="need their geometry="):
        calochallenge(_dense(photons, 2, 5))


def test_read_gives_showers_of_the_nonzero_voxels(
    challenge_file: Path, photons: CylindricalGeometry
) -> None:
    dense = challenge_io.read(challenge_file, photons)
    showers = dctrgan.read(challenge_file, binning=PHOTONS)
    assert len(showers) == 300
    assert showers.fields == ["incident_energy", "hits", "incident_energy_mev"]
    assert np.array_equal(ak.num(showers.hits), np.count_nonzero(dense.showers, axis=1))
    np.testing.assert_allclose(showers.incident_energy, dense.incident_energy, rtol=1e-7)
    assert np.array_equal(voxelize_cylindrical(showers), dense.showers)
    both = dctrgan.read([challenge_file, challenge_file], binning=photons, entry_start=250,
                        entry_stop=400)  # fmt: skip
    assert np.array_equal(both.incident_energy_mev[:50], showers.incident_energy_mev[250:])
    assert np.array_equal(both.incident_energy_mev[50:], showers.incident_energy_mev[:100])
    chunks = list(dctrgan.iterate(challenge_file, binning=PHOTONS, step_size=128))
    assert [len(c) for c in chunks] == [128, 128, 44]
    by_size = list(dctrgan.iterate(challenge_file, binning=PHOTONS, step_size="0.2 MB"))
    assert len(by_size) > 1  # 368 float32 voxels per shower: 135 showers a chunk
    assert ak.all(ak.concatenate(by_size).hits.energy == showers.hits.energy)


def test_hdf5_round_trip_through_awkward_is_bit_for_bit(
    challenge_file: Path, tmp_path: Path
) -> None:
    h5py = pytest.importorskip("h5py")
    showers = dctrgan.read(challenge_file, binning=PHOTONS)
    # float32 GeV cannot hold every float32 MeV: the MeV field keeps them
    mev = np.asarray(showers.incident_energy_mev, np.float32)
    gev_only = (np.asarray(showers.incident_energy, np.float64) * 1000).astype(np.float32)
    assert (gev_only != mev).any()
    weight = np.random.default_rng(6).random(len(showers)).astype(np.float32)
    out = dctrgan.write(tmp_path / "out.hdf5", ak.with_field(showers, weight, "weight"),
                        binning=PHOTONS)  # fmt: skip
    with h5py.File(challenge_file) as a, h5py.File(out) as b:
        assert sorted(b) == ["incident_energies", "showers", "weight"]
        for name in a:
            assert b[name].dtype == a[name].dtype
            assert np.array_equal(a[name][:], b[name][:]), name
    back = dctrgan.read(out, binning=PHOTONS)
    assert np.array_equal(back.weight, weight)
    # a changed GeV value wins over a stale MeV field
    changed = ak.with_field(showers, showers.incident_energy * 2, "incident_energy")
    dense = challenge_io.ChallengeShowers.from_events(changed)
    np.testing.assert_allclose(dense.incident_energy, 2 * mev.astype(np.float64) / 1000, rtol=1e-7)


def test_root_round_trip_and_streaming(challenge_file: Path, tmp_path: Path) -> None:
    showers = dctrgan.read(challenge_file, binning=PHOTONS)
    path = dctrgan.write(tmp_path / "showers.root", showers)
    with uproot.open(path) as file:
        assert set(file["events"].keys()) == {
            "incident_energy", "nhits", "hits_layer", "hits_alpha", "hits_r", "hits_energy",
            "incident_energy_mev",
        }  # fmt: skip
    back = dctrgan.read(path, binning=PHOTONS)
    assert binning_of(back.hits) == binning_of(showers.hits)
    for field in ("layer", "alpha", "r", "energy"):
        assert ak.all(back.hits[field] == showers.hits[field])
    assert ak.all(back.incident_energy_mev == showers.incident_energy_mev)
    streamed = dctrgan.io.write_chunks(
        tmp_path / "streamed.root", dctrgan.iterate(challenge_file, binning=PHOTONS, step_size=64)
    )
    chunks = list(dctrgan.iterate(streamed, binning=PHOTONS, step_size=100))
    assert [len(c) for c in chunks] == [100, 100, 100]
    assert ak.all(ak.concatenate(chunks).hits.energy == showers.hits.energy)
    plain = dctrgan.read(path)  # without binning=: generic events, which name what they need
    with pytest.raises(ValueError, match="binning="):
        validate(plain)


def test_binned_io_errors_name_the_file_and_leave_nothing(
    challenge_file: Path, tmp_path: Path
) -> None:
    showers = dctrgan.read(challenge_file, binning=PHOTONS)
    with pytest.raises(ValueError, match=r"photons.hdf5: dataset 'showers' has shape \(300, 368\), "
                       r"but the binning .*pions.xml \(pion\) has 533 voxels"):  # fmt: skip
        dctrgan.read(challenge_file, binning=PIONS)
    with pytest.raises(ValueError, match=r"out.hdf5: the showers are not binned in the binning"):
        dctrgan.write(tmp_path / "out.hdf5", showers, binning=PIONS)
    with pytest.raises(ValueError, match="not showers of the binning given"):
        dctrgan.write(tmp_path / "out.root", showers, binning=PIONS)
    cells = dctrgan.data.make_showers([1.0], [1], [0], [0], [0], [1.0])
    with pytest.raises(ValueError, match="HDF5 in the CaloChallenge layout, for showers of a"):
        dctrgan.write(tmp_path / "cells.hdf5", cells)
    root = dctrgan.write(tmp_path / "cells.root", cells)
    with pytest.raises(ValueError, match=r"cells.root: no branch \['hits_alpha', 'hits_r'\]"):
        dctrgan.read(root, binning=PHOTONS)
    with pytest.raises(ValueError, match="dask=True do not apply"):
        dctrgan.read(challenge_file, binning=PHOTONS, dask=True)
    with pytest.raises(ValueError, match="friend= applies to ROOT files"):
        dctrgan.read(challenge_file, binning=PHOTONS, friend=root)
    awkward_field = ak.with_field(showers, showers.hits.energy, "energies")
    with pytest.raises(ValueError, match="field 'energies' cannot be written to a CaloChallenge"):
        dctrgan.write(tmp_path / "jagged.hdf5", awkward_field)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.root", "photons.hdf5"]


def test_dctr_high_level_features_of_binned_showers(photons: CylindricalGeometry) -> None:
    n = 3000
    energies = _incident(2 * n, 7).astype(np.float64) / 1000
    reference = from_cylindrical_voxels(_dense(photons, n, 8), energies[:n], photons)
    model = from_cylindrical_voxels(_dense(photons, n, 9, scale=1.3), energies[n:], photons)
    dctr = dctrgan.DCTR(epochs=4, seed=0, progress=False).fit(reference, model)
    assert dctr.feature_names == ["incident_energy", *calochallenge_names(photons)]
    weights = np.asarray(dctr.weight(model))
    e_tot = calochallenge(model)["E_tot"]
    e_ref = calochallenge(reference)["E_tot"]
    # the model's showers are 1.3x harder: weights pull its mean energy towards the reference
    before = abs(e_tot.mean() - e_ref.mean())
    after = abs(np.average(e_tot, weights=weights) - e_ref.mean())
    assert after < 0.5 * before
    named = dctrgan.DCTR(features=["E_tot", "EC_r_1"], epochs=1, seed=0, progress=False)
    assert named.fit(reference, model).feature_names == ["E_tot", "EC_r_1"]
    with pytest.raises(ValueError, match=r"unknown observable.*calochallenge"):
        dctrgan.DCTR(features=["E_layer_5"], epochs=1, progress=False).fit(reference, model)
