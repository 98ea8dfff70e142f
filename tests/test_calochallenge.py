"""CaloChallenge binnings and high-level features: the four binning files of the challenge
(copies in tests/data/calochallenge, source in its README) and hand-computed features."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dctrgan.data import CylindricalGeometry
from dctrgan.features import calochallenge, calochallenge_names

BINNINGS = Path(__file__).parent / "data" / "calochallenge"


@pytest.mark.parametrize(
    ("name", "particle", "voxels", "relevant", "alpha_binned"),
    [
        ("binning_dataset_1_photons.xml", "photon", 368, (0, 1, 2, 3, 12), (1, 2)),
        ("binning_dataset_1_pions.xml", "pion", 533, (0, 1, 2, 3, 12, 13, 14), (1, 2, 12, 13)),
        ("binning_dataset_2.xml", "electron", 45 * 16 * 9, tuple(range(45)), tuple(range(45))),
        ("binning_dataset_3.xml", "electron", 45 * 50 * 18, tuple(range(45)), tuple(range(45))),
    ],
)
def test_the_challenge_binnings(
    name: str,
    particle: str,
    voxels: int,
    relevant: tuple[int, ...],
    alpha_binned: tuple[int, ...],
) -> None:
    g = CylindricalGeometry.from_calochallenge(BINNINGS / name, particle=particle)
    assert g.particle == particle
    assert g.n_voxels == voxels
    assert g.relevant_layers == relevant
    assert g.alpha_binned_layers == alpha_binned
    assert g.layer_offsets[-1] == voxels
    assert CylindricalGeometry.from_calochallenge(BINNINGS / name) == g  # the only binning
    assert CylindricalGeometry.from_dict(g.to_dict()) == g


def test_voxel_order_is_layer_then_alpha_then_r() -> None:
    g = CylindricalGeometry.from_calochallenge(BINNINGS / "binning_dataset_1_photons.xml")
    # layer 0: 8 radial bins, 1 angular; layer 1: 16 radial bins, 10 angular
    assert g.layer_slice(1) == slice(8, 168)
    where = g.voxel_coordinates(1)
    assert where["alpha"][:17].tolist() == [0] * 16 + [1]
    assert where["r"][:17].tolist() == [*range(16), 0]
    assert where["r_mm"][0] == 1.0  # centre of [0, 2]
    assert where["alpha_rad"][0] == pytest.approx(-math.pi + math.pi / 10)
    np.testing.assert_allclose(where["eta"], where["r_mm"] * np.cos(where["alpha_rad"]))
    assert g.voxel_coordinates(5)["r"].size == 0  # a layer without voxels


def test_bad_binning_files(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError,
        match=r"binning_dataset_2.xml: a binning for \['electron'\], not for particle='photon'",
    ):
        CylindricalGeometry.from_calochallenge(
            BINNINGS / "binning_dataset_2.xml", particle="photon"
        )
    with pytest.raises(FileNotFoundError, match="no such binning file"):
        CylindricalGeometry.from_calochallenge(tmp_path / "missing.xml")
    broken = tmp_path / "broken.xml"
    broken.write_text('<Bins><Bin name="photon"><Layer id="0" n_bin_alpha="1"/></Bin></Bins>')
    with pytest.raises(ValueError, match=r"broken.xml: <Layer> number 0: 'r_edges'"):
        CylindricalGeometry.from_calochallenge(broken)
    backwards = tmp_path / "backwards.xml"
    backwards.write_text(
        '<Bins><Bin name="photon"><Layer id="0" r_edges="0,5,3" n_bin_alpha="1"/></Bin></Bins>'
    )
    with pytest.raises(ValueError, match=r"backwards.xml: .*layer 0: r_edges must increase"):
        CylindricalGeometry.from_calochallenge(backwards)
    other = tmp_path / "other.xml"
    other.write_text("<root><item/></root>")
    with pytest.raises(ValueError, match="not a CaloChallenge binning file"):
        CylindricalGeometry.from_calochallenge(other)
    text = tmp_path / "text.xml"
    text.write_text("r_edges = 0, 1, 2")
    with pytest.raises(ValueError, match="not an XML file"):
        CylindricalGeometry.from_calochallenge(text)


#: Layer 0: radial edges 0, 1, 3 (centres 0.5, 2), one angular bin; layer 1: one radial
#: bin [0, 2] (centre 1), four angular bins (centres -3pi/4, -pi/4, pi/4, 3pi/4).
SMALL = CylindricalGeometry(((0.0, 1.0, 3.0), (0.0, 2.0)), (1, 4), particle="toy")


def test_features_against_hand_computation() -> None:
    showers = np.array(
        [
            [2.0, 6.0, 1.0, 0.0, 3.0, 0.0],  # layer 0: 2, 6 MeV; layer 1: 1 and 3 MeV
            [0.0] * 6,  # an empty shower
        ]
    )
    f = calochallenge(showers, SMALL)
    assert list(f) == calochallenge_names(SMALL)
    assert list(f) == [
        "E_tot",
        "E_layer_0",
        "EC_r_0",
        "width_r_0",
        "sparsity_0",
        "E_layer_1",
        "EC_r_1",
        "width_r_1",
        "EC_eta_1",
        "EC_phi_1",
        "width_eta_1",
        "width_phi_1",
        "sparsity_1",
    ]
    expected_first = {
        "E_tot": 12.0,
        "E_layer_0": 8.0,
        "EC_r_0": (0.5 * 2 + 2 * 6) / 8,  # 1.625
        "width_r_0": math.sqrt((0.25 * 2 + 4 * 6) / 8 - 1.625**2),
        "sparsity_0": 0.0,
        "E_layer_1": 4.0,
        "EC_r_1": 1.0,
        "width_r_1": 0.0,
        "EC_eta_1": (-math.sqrt(0.5) * 1 + math.sqrt(0.5) * 3) / 4,
        "EC_phi_1": (-math.sqrt(0.5) * 1 + math.sqrt(0.5) * 3) / 4,
        "width_eta_1": math.sqrt(0.5 - 0.125),
        "width_phi_1": math.sqrt(0.5 - 0.125),
        "sparsity_1": 0.5,
    }
    for name, value in expected_first.items():
        assert f[name][0] == pytest.approx(value, rel=1e-12, abs=1e-12), name
    # an empty shower: energies 0, centres and widths 0 (the 1e-16 of the denominators),
    # every voxel empty
    for name, values in f.items():
        assert values[1] == (1.0 if name.startswith("sparsity") else 0.0), name


def test_sparsity_threshold_and_bad_input() -> None:
    showers = np.array([[0.05, 6.0, 1.0, 0.0, 3.0, 0.2]])
    assert calochallenge(showers, SMALL)["sparsity_0"][0] == 0.0
    assert calochallenge(showers, SMALL, threshold=0.1)["sparsity_0"][0] == 0.5
    with pytest.raises(
        ValueError,
        match=r"expected \(N, 6\) voxel energies for this binning \(toy, 2 layers\), "
        r"got shape \(1, 5\)",
    ):
        calochallenge(showers[:, :5], SMALL)
    showers[0, 2] = np.nan
    with pytest.raises(ValueError, match="non-finite voxel energies, first in shower 0"):
        calochallenge(showers, SMALL)


def test_dataset_2_feature_count() -> None:
    g = CylindricalGeometry.from_calochallenge(BINNINGS / "binning_dataset_2.xml")
    rng = np.random.default_rng(3)
    showers = rng.exponential(1.0, (5, g.n_voxels)) * (rng.random((5, g.n_voxels)) < 0.3)
    f = calochallenge(showers, g)
    # E_tot, then per layer E, EC_r, width_r, EC_eta, EC_phi, width_eta, width_phi, sparsity
    assert len(f) == 1 + 45 * 8
    np.testing.assert_allclose(sum(f[f"E_layer_{i}"] for i in range(45)), f["E_tot"], rtol=1e-12)
    assert np.all((f["sparsity_0"] > 0.5) & (f["sparsity_0"] < 0.9))


def _challenge_file(path: Path, n: int, voxels: int, rng: np.random.Generator) -> Path:
    """A file in the challenge layout, as its datasets hold them: float32 MeV."""
    import h5py

    energies = (1000.0 * 2.0 ** rng.integers(8, 20, (n, 1))).astype(np.float32)
    showers = (rng.exponential(3.0, (n, voxels)) * (rng.random((n, voxels)) < 0.2)).astype(
        np.float32
    )
    with h5py.File(path, "w") as f:
        f.create_dataset("incident_energies", data=energies)
        f.create_dataset("showers", data=showers)
    return path


def test_read_iterate_write_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    import h5py

    from dctrgan.io import calochallenge as cc

    xml = BINNINGS / "binning_dataset_1_photons.xml"
    source = _challenge_file(tmp_path / "in.hdf5", 250, 368, rng)
    showers = cc.read(source, xml)
    assert len(showers) == 250 == cc.entries(source)
    assert showers.showers.dtype == np.float32
    with h5py.File(source) as f:
        raw_e, raw_s = f["incident_energies"][:], f["showers"][:]
    np.testing.assert_array_equal(showers.incident_energy, raw_e[:, 0].astype(np.float64) / 1000)
    chunks = list(cc.iterate(source, xml, step_size=100))
    assert [len(c) for c in chunks] == [100, 100, 50]
    np.testing.assert_array_equal(np.concatenate([c.showers for c in chunks]), raw_s)
    out = cc.write(tmp_path / "out.hdf5", showers)
    with h5py.File(out) as f:
        assert f["incident_energies"].dtype == np.float32
        assert f["incident_energies"].shape == (250, 1)
        # the same bits: GeV in float64 and back to float32 MeV is exact
        assert f["incident_energies"][:].tobytes() == raw_e.tobytes()
        assert f["showers"][:].tobytes() == raw_s.tobytes()
    with pytest.raises(FileExistsError):
        cc.write(out, showers)
    part = cc.read(source, xml, start=10, stop=20)
    np.testing.assert_array_equal(part.showers, raw_s[10:20])
    features = showers.features()
    np.testing.assert_allclose(features["E_tot"], raw_s.astype(np.float64).sum(axis=1))


def test_bad_challenge_files(tmp_path: Path, rng: np.random.Generator) -> None:
    import h5py

    from dctrgan.io import calochallenge as cc

    photons = BINNINGS / "binning_dataset_1_photons.xml"
    pions = _challenge_file(tmp_path / "pions.hdf5", 20, 533, rng)
    with pytest.raises(
        ValueError,
        match=r"pions.hdf5: dataset 'showers' has shape \(20, 533\), but the binning "
        r".*binning_dataset_1_photons.xml \(photon\) has 368 voxels",
    ):
        cc.read(pions, photons)
    assert len(cc.read(pions, BINNINGS / "binning_dataset_1_pions.xml")) == 20
    nan = _challenge_file(tmp_path / "nan.hdf5", 20, 368, rng)
    with h5py.File(nan, "r+") as f:
        f["showers"][7, 3] = np.nan
    with pytest.raises(
        ValueError, match=r"nan.hdf5: dataset 'showers': non-finite values .* first at shower 7"
    ):
        cc.read(nan, photons)
    missing = tmp_path / "missing.hdf5"
    with h5py.File(missing, "w") as f:
        f.create_dataset("showers", data=np.zeros((3, 368), np.float32))
    with pytest.raises(ValueError, match=r"missing.hdf5: no dataset \['incident_energies'\]"):
        cc.read(missing, photons)
    short = tmp_path / "short.hdf5"
    with h5py.File(short, "w") as f:
        f.create_dataset("showers", data=np.zeros((3, 368), np.float32))
        f.create_dataset("incident_energies", data=np.ones((2, 1), np.float32))
    with pytest.raises(ValueError, match=r"'incident_energies' must have shape \(3, 1\)"):
        cc.read(short, photons)
    with pytest.raises(FileNotFoundError):
        cc.read(tmp_path / "nothing.hdf5", photons)
