from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from dctrgan.data import Geometry, make_showers, make_traces
from dctrgan.features import (
    HIGH_LEVEL_NAMES,
    active_cells,
    centroid,
    from_voxels,
    high_level,
    layer_differences,
    layer_energies,
    observable_unit,
    observables,
    pattern,
    second_moments,
    total_energy,
    voxelize,
)

PITCH = 5.088  # mm, default cell size
RTOL = 1e-12  # float64 observables of exactly representable float32 energies
RTOL32 = 1e-6  # float32 outputs / float32 sums


def x_of(i: int) -> float:
    """Cell-centre x (or y) in mm of the default 30-cell grid, centred on 0."""
    return (i - 14.5) * PITCH


def z_of(layer: int) -> float:
    """Centre z (mm) of the silicon of 1-based ``layer`` in the default geometry:
    absorber (2.1 mm for layers 1-20, 4.2 mm after) + 1.75 mm gap per layer, silicon
    0.5 mm at the start of the gap."""
    front = 3.85 * min(layer, 20) + 5.95 * max(layer - 20, 0)
    return front - 1.75 + 0.25


@pytest.fixture
def hand_showers() -> ak.Array:
    """Three showers: four hits, empty, one hit. Energies exact in float32."""
    return make_showers(
        incident_energy=[50.0, 20.0, 10.0],
        counts=[4, 0, 1],
        layer=[0, 0, 2, 29, 5],
        ix=[14, 15, 10, 0, 29],
        iy=[15, 15, 20, 29, 0],
        energy=[2.0, 1.0, 3.0, 4.0, 0.5],
    )


def random_showers(
    rng: np.random.Generator,
    n: int,
    hits_per_event: int,
    geometry: Geometry | None = None,
    *,
    shuffle: bool = False,
    duplicates: float = 0.0,
) -> ak.Array:
    """Showers of distinct cells sorted by (layer, ix, iy); optionally shuffled within
    each event, and with a fraction ``duplicates`` of hits repeated (new energies)."""
    g = geometry or Geometry()
    cells = g.n_layers * g.n_x * g.n_y
    event = np.repeat(np.arange(n), rng.poisson(hits_per_event, n))
    key = np.unique(event * cells + rng.integers(0, cells, len(event)))
    if duplicates:
        repeated = rng.choice(key, int(duplicates * len(key)))
        key = np.sort(np.concatenate([key, repeated]))
    event, cell = np.divmod(key, cells)
    if shuffle:
        order = np.lexsort((rng.random(len(key)), event))
        event, cell = event[order], cell[order]
    layer, rest = np.divmod(cell, g.n_x * g.n_y)
    ix, iy = np.divmod(rest, g.n_y)
    energy = rng.exponential(1.0, len(key)).astype(np.float32) + np.float32(0.1)
    counts = np.bincount(event, minlength=n)
    return make_showers(rng.uniform(1, 100, n), counts, layer, ix, iy, energy, geometry=geometry)


def add_at_reference(showers: ak.Array, geometry: Geometry | None = None) -> np.ndarray:
    """Dense voxels by the plain np.add.at recipe."""
    g = geometry or Geometry()
    hits = showers["hits"]
    event = np.repeat(np.arange(len(showers)), ak.to_numpy(ak.num(hits, axis=1)))
    out = np.zeros((len(showers), *g.shape), dtype=np.float32)
    index = tuple(ak.to_numpy(ak.flatten(hits[f])) for f in ("layer", "ix", "iy"))
    np.add.at(out, (event, *index), ak.to_numpy(ak.flatten(hits["energy"])))
    return out


# --- observables against hand computation ---------------------------------------------


def test_high_level_hand_computed(hand_showers: ak.Array) -> None:
    features = high_level(hand_showers)
    assert features.shape == (3, 33)
    assert features.dtype == np.float32
    assert len(HIGH_LEVEL_NAMES) == 33
    expected = np.zeros((3, 33))
    expected[0, :3] = [4, (1 * 3.0 + 3 * 3.0 + 30 * 4.0) / 10.0, 10.0]
    expected[0, 3 + 0], expected[0, 3 + 2], expected[0, 3 + 29] = 3.0, 3.0, 4.0
    expected[2, :3] = [1, 6.0, 0.5]
    expected[2, 3 + 5] = 0.5
    assert_allclose(features, expected, rtol=RTOL32, atol=0)


def test_layer_energies_total_and_active(hand_showers: ak.Array) -> None:
    layers = layer_energies(hand_showers)
    assert layers.shape == (3, 30)
    assert layers.dtype == np.float64
    expected = np.zeros((3, 30))
    expected[0, [0, 2, 29]] = [3.0, 3.0, 4.0]
    expected[2, 5] = 0.5
    assert_allclose(layers, expected, rtol=RTOL, atol=0)
    assert_allclose(total_energy(hand_showers), [10.0, 0.0, 0.5], rtol=RTOL, atol=0)
    cells = active_cells(hand_showers)
    assert cells.dtype == np.int64
    assert_array_equal(cells, [4, 0, 1])


def test_second_moments_hand_computed(hand_showers: ak.Array) -> None:
    x2 = second_moments(hand_showers, "x")
    y2 = second_moments(hand_showers, "y")
    assert x2.shape == y2.shape == (3, 30)
    assert x2.dtype == np.float64
    ex = np.zeros((3, 30))
    ey = np.zeros((3, 30))
    ex[0, 0] = (2.0 * x_of(14) ** 2 + 1.0 * x_of(15) ** 2) / 3.0
    ey[0, 0] = x_of(15) ** 2
    ex[0, 2], ey[0, 2] = x_of(10) ** 2, x_of(20) ** 2
    ex[0, 29], ey[0, 29] = x_of(0) ** 2, x_of(29) ** 2
    ex[2, 5], ey[2, 5] = x_of(29) ** 2, x_of(0) ** 2
    # empty layers (and the empty shower) are 0, not NaN
    assert_allclose(x2, ex, rtol=RTOL, atol=1e-12)
    assert_allclose(y2, ey, rtol=RTOL, atol=1e-12)
    assert ex[0, 0] == pytest.approx(PITCH**2 / 4, rel=1e-12)  # both columns at +-pitch/2
    with pytest.raises(ValueError, match="axis"):
        second_moments(hand_showers, "z")  # type: ignore[arg-type]


def test_layer_differences_hand_computed(hand_showers: ak.Array) -> None:
    d1 = layer_differences(hand_showers, 1)
    d4 = layer_differences(hand_showers, 4)
    assert d1.shape == (3, 29)
    assert d4.shape == (3, 26)
    e1 = np.zeros((3, 29))
    e1[0, [0, 1, 2, 28]] = [3.0, -3.0, 3.0, -4.0]  # E1-E2, E2-E3, E3-E4, E29-E30
    e1[2, [4, 5]] = [-0.5, 0.5]  # E5-E6, E6-E7
    e4 = np.zeros((3, 26))
    e4[0, [0, 2, 25]] = [3.0, 3.0, -4.0]  # E1-E5, E3-E7, E26-E30
    e4[2, [1, 5]] = [-0.5, 0.5]  # E2-E6, E6-E10
    assert_allclose(d1, e1, rtol=RTOL, atol=0)
    assert_allclose(d4, e4, rtol=RTOL, atol=0)
    for step in (0, 30):
        with pytest.raises(ValueError, match="step"):
            layer_differences(hand_showers, step)


def test_centroids_hand_computed(hand_showers: ak.Array) -> None:
    energies = np.array([2.0, 1.0, 3.0, 4.0])
    cx = (energies @ [x_of(14), x_of(15), x_of(10), x_of(0)]) / 10.0
    cy = (energies @ [x_of(15), x_of(15), x_of(20), x_of(29)]) / 10.0
    cz = (energies @ [z_of(1), z_of(1), z_of(3), z_of(30)]) / 10.0
    assert cx == pytest.approx(-36.6336, rel=1e-12)
    assert cz == pytest.approx(57.72, rel=1e-12)
    expected = {
        "x": [cx, 0.0, x_of(29)],
        "y": [cy, 0.0, x_of(0)],
        "z": [cz, 0.0, z_of(6)],
        "layer": [13.2, 0.0, 6.0],  # 1-based layers
    }
    for axis, values in expected.items():
        got = centroid(hand_showers, axis)  # type: ignore[arg-type]
        assert got.shape == (3,)
        assert got.dtype == np.float64
        assert_allclose(got, values, rtol=RTOL, atol=1e-12)
    with pytest.raises(ValueError, match="axis"):
        centroid(hand_showers, "r")  # type: ignore[arg-type]


def test_empty_showers_give_zeros() -> None:
    empty = make_showers([50.0, 60.0], [0, 0], [], [], [], [])
    table = observables(empty)
    for name, values in table.items():
        assert values.shape == (2,), name
        assert_array_equal(values, 0.0)
    assert_array_equal(high_level(empty), 0.0)
    assert_array_equal(voxelize(empty), 0.0)
    none = make_showers([], [], [], [], [], [])
    assert high_level(none).shape == (0, 33)
    assert voxelize(none).shape == (0, 30, 30, 30)


def test_observables_table(hand_showers: ak.Array) -> None:
    table = observables(hand_showers)
    names = list(table)
    assert len(names) == 33 + 29 + 26 + 30 + 30 + 3
    assert len(set(names)) == len(names)
    assert tuple(names[:33]) == HIGH_LEVEL_NAMES
    for name, values in table.items():
        assert values.shape == (3,), name
        assert values.dtype == np.float64, name
    assert_allclose(np.column_stack([table[n] for n in HIGH_LEVEL_NAMES]), high_level(hand_showers))
    d1, d4 = layer_differences(hand_showers, 1), layer_differences(hand_showers, 4)
    x2, y2 = second_moments(hand_showers, "x"), second_moments(hand_showers, "y")
    assert_array_equal(table["energy_layer_5_minus_6"], d1[:, 4])
    assert_array_equal(table["energy_layer_20_minus_24"], d4[:, 19])
    assert_array_equal(table["second_moment_x_layer_30"], x2[:, 29])
    assert_array_equal(table["second_moment_y_layer_1"], y2[:, 0])
    for axis in ("x", "y", "z"):
        assert_array_equal(table[f"centroid_{axis}"], centroid(hand_showers, axis))
    units = {observable_unit(n) for n in names}
    assert units == {"", "layer", "MeV", "mm", "mm^2"}
    assert observable_unit("second_moment_y_layer_7") == "mm^2"
    assert observable_unit("energy_layer_3_minus_7") == "MeV"
    assert observable_unit("centroid_z") == "mm"
    with pytest.raises(KeyError, match="unknown observable"):
        observable_unit("energy")


def test_dense_input_gives_the_same_observables(rng: np.random.Generator) -> None:
    showers = random_showers(rng, 40, 300)
    dense = voxelize(showers)
    from_hits, from_dense = observables(showers), observables(dense)
    assert list(from_hits) == list(from_dense)
    for name in from_hits:
        assert_allclose(from_dense[name], from_hits[name], rtol=1e-9, atol=1e-9, err_msg=name)
    assert_allclose(high_level(dense), high_level(showers), rtol=RTOL32)
    assert_array_equal(active_cells(dense), active_cells(showers))
    with pytest.raises(ValueError, match=r"expected dense voxels of shape \(N, 30, 30, 30\)"):
        layer_energies(np.zeros((2, 30, 30)))


def test_each_event_alone_gives_its_own_bits(rng: np.random.Generator) -> None:
    """The projections are computed in blocks of events: the features of a slice, across a
    block boundary, are those of the whole sample, bit for bit, with energies of ten
    decades (whose sums depend on the order they are taken in)."""
    n = 2600  # more than two blocks
    counts = rng.integers(0, 60, n)
    hits = int(counts.sum())
    energy = 10.0 ** rng.uniform(-6.0, 4.0, hits)
    cells = [rng.integers(0, 30, hits) for _ in range(3)]
    showers = make_showers(rng.uniform(1.0, 100.0, n), counts, *cells, energy)
    whole, every = high_level(showers), observables(showers)
    for part in (slice(1000, 1100), slice(2040, 2600), slice(7, 8)):
        assert high_level(showers[part]).tobytes() == whole[part].tobytes()
        sliced = observables(showers[part])
        assert list(sliced) == list(every)
        for name, values in sliced.items():
            assert values.tobytes() == every[name][part].tobytes(), name
    assert layer_energies(showers).tobytes() == every_layer(every, n).tobytes()


def every_layer(table: dict[str, np.ndarray], n: int) -> np.ndarray:
    return np.column_stack([table[f"energy_layer_{i}"] for i in range(1, 31)]).reshape(n, 30)


def test_non_square_geometry_keeps_x_and_y_apart() -> None:
    g = Geometry(n_layers=2, n_x=3, n_y=5, cell_size=10.0, absorber=(2.1, 4.2))
    showers = make_showers([1.0], [2], [0, 1], [0, 2], [4, 1], [1.0, 3.0], geometry=g)
    # x: columns 0, 2 -> -10, +10 mm; y: rows 4, 1 -> +20, -10 mm
    assert_allclose(second_moments(showers, "x"), [[100.0, 100.0]], rtol=RTOL)
    assert_allclose(second_moments(showers, "y"), [[400.0, 100.0]], rtol=RTOL)
    assert_allclose(centroid(showers, "x"), [(-10.0 + 30.0) / 4], rtol=RTOL)
    assert_allclose(centroid(showers, "y"), [(20.0 - 30.0) / 4], rtol=RTOL)
    assert_allclose(centroid(showers, "z"), [(1 * 2.35 + 3 * (3.85 + 5.95 - 1.5)) / 4], rtol=RTOL)
    dense = voxelize(showers)  # the geometry comes with the hits
    assert dense.shape == (1, 2, 3, 5)
    assert dense[0, 0, 0, 4] == 1.0
    assert dense[0, 1, 2, 1] == 3.0
    back = from_voxels(dense, 1.0, g)
    assert ak.to_list(back["hits"]) == ak.to_list(showers["hits"])
    assert_array_equal(back["hits"].x, showers["hits"].x)
    assert high_level(showers).shape == (1, 5)
    assert len(observables(showers)) == 3 + 2 + 1 + 0 + 2 + 2 + 3


# --- voxelize / from_voxels -----------------------------------------------------------


def test_voxelize_hand_computed(hand_showers: ak.Array) -> None:
    dense = voxelize(hand_showers)
    assert dense.shape == (3, 30, 30, 30)
    assert dense.dtype == np.float32
    assert dense.flags.c_contiguous
    expected = np.zeros_like(dense)
    expected[0, 0, 14, 15] = 2.0
    expected[0, 0, 15, 15] = 1.0
    expected[0, 2, 10, 20] = 3.0
    expected[0, 29, 0, 29] = 4.0
    expected[2, 5, 29, 0] = 0.5
    assert_array_equal(dense, expected)


def test_round_trip_is_exact(rng: np.random.Generator) -> None:
    showers = random_showers(rng, 50, 400)
    dense = voxelize(showers)
    back = from_voxels(dense, showers["incident_energy"])
    for field in ("layer", "ix", "iy", "energy"):
        got, want = back["hits"][field], showers["hits"][field]
        assert_array_equal(ak.to_numpy(ak.num(got)), ak.to_numpy(ak.num(want)))
        assert_array_equal(ak.to_numpy(ak.flatten(got)), ak.to_numpy(ak.flatten(want)))
        assert ak.to_numpy(ak.flatten(got)).dtype == ak.to_numpy(ak.flatten(want)).dtype
    assert_array_equal(back["incident_energy"], showers["incident_energy"])
    assert_array_equal(voxelize(back), dense)
    # and the other way: sparse dense voxels survive hits and back
    sparse = np.where(rng.random((5, 30, 30, 30)) < 0.03, rng.random((5, 30, 30, 30)), 0)
    sparse = sparse.astype(np.float32)
    assert_array_equal(voxelize(from_voxels(sparse, 10.0)), sparse)


def test_from_voxels_threshold_order_and_errors(rng: np.random.Generator) -> None:
    dense = np.zeros((2, 30, 30, 30), dtype=np.float32)
    dense[0, 3, 1, 2] = 0.05
    dense[0, 1, 7, 9] = 0.2
    dense[0, 1, 7, 8] = 0.1
    dense[1, 0, 0, 0] = 1.5
    showers = from_voxels(dense, [50.0, 60.0], weight=[1.0, 2.0])
    assert ak.to_list(showers["hits"]) == [
        [
            {"layer": 1, "ix": 7, "iy": 8, "energy": pytest.approx(0.1)},
            {"layer": 1, "ix": 7, "iy": 9, "energy": pytest.approx(0.2)},
            {"layer": 3, "ix": 1, "iy": 2, "energy": pytest.approx(0.05)},
        ],
        [{"layer": 0, "ix": 0, "iy": 0, "energy": 1.5}],
    ]
    assert ak.to_list(showers["weight"]) == [1.0, 2.0]
    kept = from_voxels(dense, 50.0, threshold=0.1)  # >= threshold, the scalar broadcasts
    assert ak.to_list(ak.num(kept["hits"])) == [2, 1]
    assert ak.to_list(kept["incident_energy"]) == [50.0, 50.0]
    with pytest.raises(ValueError, match=r"incident_energy must have shape \(2,\)"):
        from_voxels(dense, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="expected dense voxels"):
        from_voxels(dense[:, :10], 1.0)
    assert len(from_voxels(rng.random((0, 30, 30, 30)), 1.0)) == 0


@pytest.mark.parametrize(
    ("shuffle", "duplicates"), [(False, 0.0), (True, 0.0), (False, 0.2), (True, 0.2)]
)
def test_voxelize_matches_add_at(
    rng: np.random.Generator, shuffle: bool, duplicates: float
) -> None:
    # 60 events: several cache-sized chunks on the unsorted path
    showers = random_showers(rng, 60, 500, shuffle=shuffle, duplicates=duplicates)
    got, want = voxelize(showers), add_at_reference(showers)
    if duplicates:
        assert_allclose(got, want, rtol=RTOL32, atol=0)  # float32 sums, other order
    else:
        assert_array_equal(got, want)


def test_duplicates_are_summed() -> None:
    showers = make_showers(
        [50.0, 50.0],
        [4, 2],
        layer=[3, 1, 3, 3, 0, 0],
        ix=[4, 2, 4, 4, 1, 1],
        iy=[5, 2, 5, 5, 1, 1],
        energy=[1.0, 2.0, 0.5, 0.25, 0.0, 0.75],
    )
    dense = voxelize(showers)
    assert dense[0, 3, 4, 5] == 1.75
    assert dense[0, 1, 2, 2] == 2.0
    assert dense[1, 0, 1, 1] == 0.75  # a zero-energy hit repeated
    assert np.count_nonzero(dense) == 3
    back = from_voxels(dense, 50.0)
    assert ak.to_list(ak.num(back["hits"])) == [2, 1]


def test_voxelize_out_and_errors(hand_showers: ak.Array) -> None:
    out = np.full((3, 30, 30, 30), np.nan, dtype=np.float32)
    result = voxelize(hand_showers, out=out)
    assert result is out
    assert_array_equal(out, voxelize(hand_showers))
    for bad in (np.zeros((3, 30, 30, 30)), np.zeros((2, 30, 30, 30), np.float32)):
        with pytest.raises(ValueError, match="out must be"):
            voxelize(hand_showers, out=bad)
    outside = make_showers([1.0], [2], [0, 1], [3, -1], [0, 0], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"hits\.ix.*outside the geometry \[0, 30\), first -1"):
        voxelize(outside)
    with pytest.raises(ValueError, match=r"hits\.layer.*\[0, 2\)"):
        voxelize(hand_showers, Geometry(n_layers=2, absorber=(1.0, 1.0)))
    floats = ak.with_field(hand_showers, hand_showers["hits", "ix"] * 1.0, ("hits", "ix"))
    with pytest.raises(ValueError, match=r"hits\.ix.*expected integers"):
        voxelize(floats)
    traces = make_traces([1.0], np.zeros((1, 9, 9, 80)), [0.0], [0.0], [700.0])
    with pytest.raises(ValueError, match="'hits'"):
        voxelize(traces)


# --- air-shower footprints ------------------------------------------------------------


def test_pattern_is_the_time_sum(rng: np.random.Generator) -> None:
    signal = rng.exponential(3.0, (4, 9, 9, 80)).astype(np.float32)
    expected = np.zeros((4, 9, 9))
    for t in range(80):
        expected += signal[..., t]
    traces = make_traces(
        rng.uniform(1, 100, 4), signal, np.zeros(4), np.zeros(4), np.full(4, 750.0)
    )
    for events in (traces, signal):
        footprint = pattern(events)
        assert footprint.shape == (4, 9, 9)
        assert footprint.dtype == np.float32
        assert_allclose(footprint, expected, rtol=RTOL32, atol=0)
    assert_allclose(
        pattern(signal[..., :10].astype(np.float64)).sum(), signal[..., :10].sum(), rtol=1e-5
    )
    with pytest.raises(ValueError, match="signal"):
        pattern(make_showers([1.0], [0], [], [], [], []))
    with pytest.raises(ValueError, match="shape"):
        pattern(signal[0])
