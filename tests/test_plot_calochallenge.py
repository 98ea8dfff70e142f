"""The CaloChallenge figures: the mean energy per layer and the average shower per layer."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from dctrgan import plot
from dctrgan.data import CylindricalGeometry
from dctrgan.io.calochallenge import ChallengeShowers

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DATA = Path(__file__).parent / "data" / "calochallenge"


@pytest.fixture(scope="module")
def dataset_2() -> CylindricalGeometry:
    """45 layers x 16 alpha x 9 r."""
    return CylindricalGeometry.from_calochallenge(DATA / "binning_dataset_2.xml")


@pytest.fixture(scope="module")
def photons() -> CylindricalGeometry:
    """Dataset 1 photons: layers 0, 1, 2, 3, 12; layers 0 and 3 without angular bins."""
    return CylindricalGeometry.from_calochallenge(DATA / "binning_dataset_1_photons.xml")


def _showers(geometry: CylindricalGeometry, seed: int, n: int = 50) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.exponential(size=(n, geometry.n_voxels)).astype(np.float32)


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=30)  # no warnings (pytest turns them into errors)
    return buffer.getvalue()


def test_layer_profile_draws_the_weighted_mean_per_layer(dataset_2: CylindricalGeometry) -> None:
    reference, model = _showers(dataset_2, 0), _showers(dataset_2, 1) * 1.2
    w = np.random.default_rng(2).uniform(0.2, 3.0, len(model))
    showers = ChallengeShowers(np.full(len(model), 20.0), model, dataset_2)
    fig, axes = plot.layer_profile(reference, showers, model, geometry=dataset_2, weights=[None, w])
    assert axes.shape == (2,)
    top, ratio = axes
    layers = np.array(dataset_2.relevant_layers)

    def per_layer(x: np.ndarray) -> np.ndarray:
        return np.stack(
            [x[:, dataset_2.layer_slice(i)].sum(axis=1, dtype=np.float64) for i in layers], 1
        )

    expected_ref = per_layer(reference).mean(axis=0)
    expected_w = np.average(per_layer(model), axis=0, weights=w)
    ref_line, unweighted, weighted = top.lines
    np.testing.assert_array_equal(weighted.get_xdata(), layers)
    np.testing.assert_allclose(ref_line.get_ydata(), expected_ref, rtol=1e-10)
    np.testing.assert_allclose(unweighted.get_ydata(), per_layer(model).mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(weighted.get_ydata(), expected_w, rtol=1e-10)
    # the unit line, then one ratio per model
    np.testing.assert_allclose(ratio.lines[2].get_ydata(), expected_w / expected_ref, rtol=1e-10)
    assert top.get_yscale() == "log"
    assert [t.get_text() for t in top.get_legend().get_texts()] == [
        "Reference",
        "Model 1",
        "Model 2",
    ]
    assert _png(fig).startswith(b"\x89PNG")


def test_average_shower_colours_the_mean_of_every_voxel(dataset_2: CylindricalGeometry) -> None:
    reference, model = _showers(dataset_2, 0), _showers(dataset_2, 1)
    w = np.random.default_rng(2).uniform(0.2, 3.0, len(model))
    fig, axes = plot.average_shower(
        [reference, model, model],
        dataset_2,
        weights=[None, None, w],
        layers=[0, 20],
        labels=["Reference", "Model", "Model, weighted"],
        log=False,
    )
    assert axes.shape == (3, 2)
    assert all(ax.name == "polar" for ax in axes.flat)
    assert [ax.get_title() for ax in axes[0]] == ["layer 0", "layer 20"]
    # one colorbar besides the panels
    assert len(fig.axes) == 3 * 2 + 1
    expected = np.average(model[:, dataset_2.layer_slice(20)], axis=0, weights=w).reshape(16, 9)
    mesh = np.asarray(axes[2, 1].collections[0].get_array())
    # each angular bin is drawn as equal thinner quads
    steps = mesh.shape[0] // 16
    assert mesh.shape == (16 * steps, 9)
    np.testing.assert_allclose(mesh, np.repeat(expected, steps, axis=0), rtol=1e-10)
    _, default = plot.average_shower(reference, dataset_2)
    assert default.shape == (1, 6)
    titles = [ax.get_title() for ax in default[0]]
    assert titles == [f"layer {k}" for k in (0, 9, 18, 26, 35, 44)]


def test_average_shower_draws_rings_and_zeros_at_the_floor(photons: CylindricalGeometry) -> None:
    x = _showers(photons, 3)
    x[:, photons.layer_slice(12)] = 0.0
    fig, axes = plot.average_shower(
        ChallengeShowers(np.full(len(x), 1.0), x, photons), photons, labels=["G4"]
    )
    assert axes.shape == (1, len(photons.relevant_layers)) == (1, 5)
    assert all(ax.name == "polar" for ax in axes.flat)
    top = float(x.mean(axis=0, dtype=np.float64).max())
    ring = np.asarray(axes[0, 0].collections[0].get_array())  # layer 0: one angular bin
    n_r = len(photons.r_edges[0]) - 1
    assert photons.n_alpha[0] == 1
    assert ring.shape[1] == n_r
    assert ring.shape[0] > 1  # the ring is drawn as many quads, so that it looks round
    np.testing.assert_allclose(ring[0], x[:, photons.layer_slice(0)].mean(axis=0), rtol=1e-6)
    mesh = axes[0, -1].collections[0]
    assert mesh.norm.vmin == pytest.approx(1e-4 * top)
    np.testing.assert_allclose(np.asarray(mesh.get_array()), 1e-4 * top)
    assert _png(fig).startswith(b"\x89PNG")


def test_errors_name_the_argument(
    dataset_2: CylindricalGeometry, photons: CylindricalGeometry
) -> None:
    x = _showers(dataset_2, 0, n=10)
    other = _showers(photons, 0, n=10)
    with pytest.raises(ValueError, match=r"models\[0\]: expected \(N, 6480\) voxel energies"):
        plot.layer_profile(x, other, geometry=dataset_2)
    with pytest.raises(ValueError, match=r"showers\[1\]: expected \(N, 6480\)"):
        plot.average_shower([x, other], dataset_2)
    with pytest.raises(ValueError, match="weights: expected one entry per model"):
        plot.layer_profile(x, x, x, geometry=dataset_2, weights=[None])
    with pytest.raises(ValueError, match=r"weights for models\[1\]: expected 10 non-negative"):
        plot.layer_profile(x, x, x, geometry=dataset_2, weights=[None, np.ones(9)])
    with pytest.raises(ValueError, match=r"weights for showers: expected 10 non-negative"):
        plot.average_shower(x, dataset_2, weights=-np.ones(10))
    with pytest.raises(ValueError, match=r"layers: expected layers with voxels .* got \[0, 5\]"):
        plot.average_shower(other, photons, layers=[0, 5])
    bad = x.copy()
    bad[3, 7] = np.nan
    with pytest.raises(ValueError, match="reference: expected showers with finite voxel energies"):
        plot.layer_profile(bad, x, geometry=dataset_2)
    with pytest.raises(ValueError, match="binned differently"):
        plot.average_shower(ChallengeShowers(np.ones(10), other, photons), dataset_2)
    with pytest.raises(ValueError, match="at least one model"):
        plot.layer_profile(x, geometry=dataset_2)
    with pytest.raises(ValueError, match="labels: expected 2 labels"):
        plot.average_shower([x, x], dataset_2, labels=["one"])
