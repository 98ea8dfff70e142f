"""ShowerGAN: the profile and hits of showers, their placement, and the model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import dctrgan
from dctrgan import ShowerGAN, features
from dctrgan.data import DEFAULT_GEOMETRY, Geometry, geometry_of, make_showers
from dctrgan.features import voxelize
from dctrgan.simulate import calorimeter
from dctrgan.training import threads
from dctrgan.wgan import showers as showers_module
from dctrgan.wgan._hits import (
    Gaussianized,
    Profiles,
    _displace,
    place,
    profiles,
    training_hits,
)

DATA = Path(__file__).parent / "data"
SMALL = Geometry(n_layers=6, n_x=8, n_y=8, absorber=(2.1,) * 6)
TINY = {"progress": False, "device": "cpu", "profile_steps": 30, "hit_steps": 30}


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with threads(1):
        yield


@pytest.fixture(scope="module")
def showers():
    return calorimeter(64, energy=50.0, geometry=SMALL, variant="full", seed=3)


@pytest.fixture(scope="module")
def fitted(showers) -> ShowerGAN:
    return ShowerGAN(SMALL.shape, seed=1, **TINY).fit(showers)


# ------------------------------------------------------------------ profiles and hits


def test_profiles_of_known_voxels() -> None:
    g = Geometry(n_layers=2, n_x=3, n_y=3, absorber=(2.1, 2.1))
    v = np.zeros((1, 2, 3, 3), dtype=np.float32)
    v[0, 0, 0, 1] = 1.0  # x = -cell, y = 0
    v[0, 1, 2, 1] = 3.0  # x = +cell, y = 0
    v[0, 1, 1, 2] = 2.0  # x = 0, y = +cell
    p = profiles(v, g)
    assert_allclose(p.energy, [[1.0, 5.0]])
    assert_array_equal(p.count, [[1, 2]])
    c = g.cell_size
    assert_allclose(p.centroid, [[(-1 + 3) * c / 6, 2 * c / 6]])
    # the centroid of features.centroid, and the profile vector's layout
    assert_allclose(p.centroid[:, 0], features.centroid(v, "x", g), rtol=1e-6)
    centroid = Gaussianized.fit(np.array([[-1.0, -1.0], [0.0, 0.0], [1.0, 1.0]]))
    mapped = centroid.forward(p.centroid)[0]
    vector = [np.log1p(1), np.log1p(5), np.log1p(1), np.log1p(2), *mapped]
    assert_allclose(p.vector(centroid), [vector], rtol=1e-6)


def test_generated_profiles_are_made_consistent() -> None:
    g = Geometry(n_layers=3, n_x=2, n_y=2, absorber=(2.1,) * 3)
    # layer energies 1.0, 0.05 (below threshold), 0.35; counts 7 (> 4 cells), 2, 9
    u = np.log1p([[1.0, 0.05, 0.35, 7.0, 2.0, 9.0, 0.5, -0.5]])
    u[0, 6:] = [0.0, 10.0]  # the centroid's median; far beyond the largest quantile
    centroid = Gaussianized.fit(np.random.default_rng(1).uniform(-2.0, 2.0, (4000, 2)))
    p = Profiles.from_vector(u, g, centroid)
    assert_array_equal(p.count, [[4, 0, 3]])  # the cells; empty; floor(0.35 / 0.1)
    assert_allclose(p.energy, [[1.0, 0.0, 0.35]])
    assert_allclose(p.centroid, [[0.0, 2.0]], atol=0.02)


def test_gaussianized_columns_are_standard_normal_and_invert() -> None:
    rng = np.random.default_rng(2)
    x = np.stack([rng.uniform(-2.5, 2.5, 20_000), rng.exponential(3.0, 20_000)], axis=1)
    g = Gaussianized.fit(x)
    u = g.forward(x)
    assert_allclose(u.mean(axis=0), 0.0, atol=0.02)
    assert_allclose(u.std(axis=0), 1.0, atol=0.02)
    assert_allclose(g.inverse(u), x, atol=1e-9)
    # no value beyond the training range, and a saved map is the same map
    back = g.inverse(np.array([[-40.0, 40.0]]))
    assert_allclose(back, [[x[:, 0].min(), x[:, 1].max()]], atol=1e-6)
    again = Gaussianized.from_dict(g.to_dict())
    assert_array_equal(again.forward(x[:10]), u[:10])
    with pytest.raises(ValueError, match="knots"):
        Gaussianized.from_dict({"knots": [[0.0], [1.0]]})


def uniform_offsets(seed: int):
    rng = np.random.default_rng(seed)
    return lambda cond: np.arcsinh(rng.uniform(-3.0, 3.0, size=(len(cond), 2)))


def test_place_fills_each_layer_with_its_cells_and_energy() -> None:
    n_layers = 4
    g = Geometry(n_layers=n_layers, n_x=10, n_y=10, absorber=(2.1,) * n_layers)
    energy = np.array([[5.0, 0.0, 20.0, 0.3], [1.0, 2.0, 3.0, 4.0]])
    count = np.array([[3, 0, 12, 3], [1, 5, 2, 8]])
    p = Profiles(energy, count, np.zeros((2, 2)))
    rng = np.random.default_rng(1)
    normal = lambda cond: rng.normal(size=(len(cond), 1))
    placed = place(p, g, uniform_offsets(0), normal, np.random.default_rng(2))
    event = np.repeat(np.arange(2), placed.counts)
    key = np.stack([event, placed.layer, placed.ix, placed.iy], 1)
    assert len(np.unique(key, axis=0)) == len(key)  # distinct cells
    assert (placed.energy >= g.threshold - 1e-9).all()
    per_layer = np.zeros_like(energy)
    np.add.at(per_layer, (event, placed.layer), placed.energy)
    assert_allclose(per_layer, energy, rtol=1e-9)
    counts = np.zeros_like(count)
    np.add.at(counts, (event, placed.layer), 1)
    assert_array_equal(counts, count)  # 6 x 6 cells reachable: every layer is filled
    # sorted by event, layer, ix, iy (the schema's order)
    assert (np.diff(key[:, 0] * 1000 + key[:, 1] * 100 + key[:, 2] * 10 + key[:, 3]) > 0).all()


def test_draws_on_a_taken_cell_move_to_the_nearest_free_one() -> None:
    """Every draw on the centroid's cell: the layer fills the centre, then its 4 nearest
    neighbours, then the 4 diagonal ones, each holding its share of the energy."""
    p = Profiles(np.array([[4.0, 9.0]]), np.array([[1, 9]]), np.zeros((1, 2)))
    g = Geometry(n_layers=2, n_x=5, n_y=5, absorber=(2.1, 2.1))
    at_centre = lambda cond: np.zeros((len(cond), 2))
    placed = place(p, g, at_centre, at_centre, np.random.default_rng(0))
    assert_array_equal(placed.counts, [10])
    assert_array_equal(placed.layer, [0] + [1] * 9)
    assert_array_equal(placed.ix[1:], [1, 1, 1, 2, 2, 2, 3, 3, 3])  # the 3 x 3 around (2, 2)
    assert_array_equal(placed.iy[1:], [1, 2, 3] * 3)
    # drawn energies all 1 MeV: equal shares of the layer's energy
    assert_allclose(placed.energy, [4.0] + [1.0] * 9)


def test_displacement_fills_rings_at_equal_distance_in_every_orientation() -> None:
    """Twelve draws on one cell: the centre, its 4 neighbours, 4 diagonals, then 3 of the
    4 cells two steps away, chosen by the draws' random orientations."""
    g = Geometry(n_layers=1, n_x=7, n_y=7, absorber=(2.1,))
    key = np.full(12, 3 * 7 + 3)
    ix, iy, found = _displace(key, np.full(12, 3), np.full(12, 3), g, np.random.default_rng(1))
    assert found.all()
    r2 = (ix - 3) ** 2 + (iy - 3) ** 2
    assert sorted(r2.tolist()) == [0, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4]
    assert len(set(zip(ix.tolist(), iy.tolist(), strict=True))) == 12
    # a corner cell: neighbours outside the calorimeter are skipped
    ix, iy, found = _displace(
        np.zeros(4, dtype=np.int64),
        np.zeros(4, np.int64),
        np.zeros(4, np.int64),
        g,
        np.random.default_rng(1),
    )
    assert found.all()
    assert sorted(zip(ix.tolist(), iy.tolist(), strict=True)) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_training_hits_are_the_cells_of_the_voxels(showers) -> None:
    v = voxelize(showers)
    p = profiles(v, SMALL)
    hits = training_hits(v, p, SMALL, 10**9, np.random.default_rng(0))
    assert len(hits.energy) == np.count_nonzero(v)
    assert_allclose(np.exp(hits.energy[:, 0]).sum(), v.sum(dtype=np.float64), rtol=1e-5)
    # smeared offsets lie within half a cell of the cell centre's offset
    half_cell = 0.5 * SMALL.cell_size
    centre = np.sinh(hits.radius[:, 0]) * SMALL.cell_size
    offset = np.hypot(*(np.sinh(hits.position.T.astype(np.float64)) * SMALL.cell_size))
    assert (np.abs(offset - centre) <= np.sqrt(2) * half_cell + 1e-3).all()
    few = training_hits(v, p, SMALL, 100, np.random.default_rng(0))
    assert len(few.energy) == 100


# ------------------------------------------------------------------ the model


def test_samples_are_showers_with_cells_above_threshold(fitted: ShowerGAN) -> None:
    v = fitted.sample(20, seed=4)
    assert v.shape == (20, *SMALL.shape)
    assert v.dtype == np.float32
    assert ((v == 0) | (v >= SMALL.threshold * (1 - 1e-6))).all()
    events = fitted.sample_events(20, seed=4)
    assert len(events) == 20
    assert_allclose(voxelize(events), v, rtol=1e-6)
    assert_allclose(np.asarray(events["incident_energy"]), 50.0)
    assert_array_equal(fitted.sample(20, seed=4), v)  # the seed fixes the showers


def test_layer_profile_is_that_of_the_profile_generator(fitted: ShowerGAN) -> None:
    """The layer energies and counts of the showers are stage 1's, made consistent."""
    profile = fitted.parts["profile"]
    z, labels = profile.latent(50, seed=7)
    p = Profiles.from_vector(profile.generate(z, labels), SMALL, fitted._centroid)
    v = fitted.sample(50, seed=7)
    assert_allclose(v.sum(axis=(2, 3), dtype=np.float64), p.energy, rtol=1e-5, atol=1e-6)
    assert (np.count_nonzero(v, axis=(2, 3)) <= p.count).all()


def test_save_load_gives_identical_samples(fitted: ShowerGAN, tmp_path: Path) -> None:
    path = tmp_path / "showers.pt"
    fitted.save(path)
    loaded = ShowerGAN.load(path, device="cpu", progress=False)
    assert loaded.config == fitted.config
    assert_array_equal(loaded.sample(10, seed=3), fitted.sample(10, seed=3))
    assert_allclose(
        np.asarray(loaded.sample_events(10, seed=3)["incident_energy"]),
        np.asarray(fitted.sample_events(10, seed=3)["incident_energy"]),
    )


def test_load_refuses_other_and_damaged_files(fitted: ShowerGAN, tmp_path: Path) -> None:
    path = tmp_path / "wgan.pt"
    fitted.parts["profile"].save(path)
    with pytest.raises(ValueError, match="ShowerGAN"):
        ShowerGAN.load(path)
    good = tmp_path / "showers.pt"
    fitted.save(good)
    data = good.read_bytes()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="ShowerGAN"):
        ShowerGAN.load(bad)


def test_conditioned_on_incident_energy() -> None:
    energies = np.repeat([20.0, 80.0], 40)
    s = calorimeter(80, energy=energies, geometry=SMALL, variant="full", seed=5)
    gan = ShowerGAN(SMALL.shape, condition_dim=1, seed=2, **TINY).fit(s)
    events = gan.sample_events(6, condition=[20.0, 20.0, 20.0, 80.0, 80.0, 80.0], seed=1)
    assert_allclose(np.asarray(events["incident_energy"]), [20.0] * 3 + [80.0] * 3)


def test_errors_name_the_argument(fitted: ShowerGAN, showers) -> None:
    with pytest.raises(RuntimeError, match="fit"):
        ShowerGAN(SMALL.shape, **TINY).sample(3)
    with pytest.raises(ValueError, match="x: showers of a"):
        ShowerGAN(**TINY).fit(showers)  # the default (30, 30, 30) shape
    with pytest.raises(ValueError, match="condition"):
        ShowerGAN(SMALL.shape, **TINY).fit(showers, condition=np.ones(64))
    with pytest.raises(ValueError, match="geometry"):
        ShowerGAN(SMALL.shape, **TINY).fit(voxelize(showers))  # no default of this shape
    with pytest.raises(ValueError, match="hit_steps"):
        ShowerGAN(hit_steps=0)
    with pytest.raises(ValueError, match="n: must be >= 0"):
        fitted.sample(-1)
    with pytest.raises(ValueError, match="energy"):
        ShowerGAN(SMALL.shape, seed=1, **TINY).fit(voxelize(showers), geometry=SMALL).sample_events(
            2
        )


def test_learns_the_showers_layer_energies() -> None:
    """A short fit on 400 showers: mean layer energies within 15 % of the showers' in the
    layers holding 90 % of the energy, total energy within 5 %, the lateral spread of
    the layers' hits (count-weighted) within 25 %."""
    real = voxelize(calorimeter(400, geometry=SMALL, variant="full", seed=9))
    gan = ShowerGAN(
        SMALL.shape, seed=3, progress=False, device="cpu", profile_steps=400, hit_steps=400
    ).fit(real, geometry=SMALL)
    fake = gan.sample(2000, seed=1)
    mean_real = real.sum(axis=(2, 3)).mean(0)
    mean_fake = fake.sum(axis=(2, 3)).mean(0)
    main = mean_real > 0.05 * mean_real.sum()
    assert_allclose(mean_fake[main], mean_real[main], rtol=0.15)
    assert_allclose(mean_fake.sum(), mean_real.sum(), rtol=0.05)

    def spread(v: np.ndarray) -> float:
        _, _, ix, _ = np.nonzero(v)
        return float(np.std(SMALL.cell_x(ix)))

    assert spread(fake) == pytest.approx(spread(real), rel=0.25)


def test_default_shape_is_the_ild_like_calorimeter() -> None:
    assert ShowerGAN(progress=False).shape == DEFAULT_GEOMETRY.shape


def test_chunks_of_showers_and_none(fitted: ShowerGAN, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hits placed in chunks of 7 showers: each layer still holds the profile's energy."""
    monkeypatch.setattr(showers_module, "_CHUNK", 7)
    profile = fitted.parts["profile"]
    z, labels = profile.latent(20, seed=8)
    p = Profiles.from_vector(profile.generate(z, labels), SMALL, fitted._centroid)
    v = fitted.sample(20, seed=8)
    assert_allclose(v.sum(axis=(2, 3), dtype=np.float64), p.energy, rtol=1e-5, atol=1e-6)
    assert fitted.sample(0).shape == (0, *SMALL.shape)
    assert len(fitted.sample_events(0)) == 0


def test_a_geant4_strip_detector(tmp_path: Path) -> None:
    """The Geant4 hit table of ``tests/data`` (3 layers of 110 strips, one cell across:
    see ``test_io_hittable.py``): the ShowerGAN fits its showers and generates showers
    of that detector, with distinct strips at or above the threshold."""
    strips = Geometry(n_layers=3, n_x=110, n_y=1, cell_size=1.0, absorber=(1.0, 1.0, 1.0))
    events = dctrgan.read(f"{DATA / 'uproot-from-geant4.root'}:HitStrips", group_by="Event")
    code = ak.to_numpy(ak.flatten(events.Laystrip))
    real = make_showers(
        np.full(len(events), 1.0),
        ak.to_numpy(ak.num(events.Laystrip, axis=1)),
        code // 1000 - 1,
        code % 1000,
        np.zeros_like(code),
        ak.to_numpy(ak.flatten(events.Energy)),
        geometry=strips,
    )
    gan = ShowerGAN(strips.shape, seed=4, **TINY).fit(real)
    fake = gan.sample_events(50, seed=1)
    assert len(fake) == 50
    assert geometry_of(fake["hits"]) == strips
    v = voxelize(fake)
    assert v.shape == (50, 3, 110, 1)
    assert ((v == 0) | (v >= strips.threshold * (1 - 1e-6))).all()
    path = tmp_path / "strips.pt"
    gan.save(path)
    assert_array_equal(
        ShowerGAN.load(path, progress=False).sample(5, seed=2), gan.sample(5, seed=2)
    )
