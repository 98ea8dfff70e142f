"""The WGAN for points: presets, the mixture's components, the residual generator, the
generator average, old files."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal

from dctrgan.nn.gan import noise
from dctrgan.simulate import GaussianMixture
from dctrgan.training import threads
from dctrgan.wgan import WGAN
from dctrgan.wgan._clusters import fit_clusters


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with threads(1):
        yield


def parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def mlp_parameters(n_in: int, hidden: tuple[int, ...], n_out: int) -> int:
    """Weights and biases of a fully connected net."""
    widths = (n_in, *hidden, n_out)
    return sum(a * b + b for a, b in itertools.pairwise(widths))


def fitted(wgan: WGAN, dim: int) -> WGAN:
    x = np.random.default_rng(0).normal(size=(256, dim))
    return wgan.fit(x, steps=2, batch_size=16)


def test_the_paper_preset_is_the_dctrgan_toy_networks() -> None:
    # DCTRGAN sec. III A: generator 2 x 15, discriminator 2 x 25, latent 5 (1D), 8 (2D)
    one = fitted(WGAN(1, preset="paper", progress=False), 1)
    assert parameters(one.generator) == (5 * 15 + 15) + (15 * 15 + 15) + (15 + 1) == 346
    assert parameters(one.critic) == (25 + 25) + (25 * 25 + 25) + (25 + 1) == 726
    two = fitted(WGAN(2, preset="paper", latent=25, progress=False), 2)
    assert parameters(two.generator) == mlp_parameters(25, (15, 15), 2)
    assert parameters(two.critic) == mlp_parameters(2, (25, 25), 1)
    c = two.config
    paper = (c["clusters"], c["ema"], c["hidden"], c["critic_hidden"])
    assert paper == (0, 0.0, [15, 15], [25, 25])


@pytest.mark.parametrize(
    ("options", "k"), [({}, 50), ({"preset": "clusters"}, 50), ({"clusters": 12}, 12)]
)
def test_the_generator_and_critic_take_the_cluster_code(options: dict[str, Any], k: int) -> None:
    wgan = fitted(WGAN(2, progress=False, **options), 2)
    c = wgan.config
    assert c["clusters"] == k
    n_in = c["latent"] + k
    assert parameters(wgan.generator) == mlp_parameters(n_in, tuple(c["hidden"]), 2)
    assert parameters(wgan.critic) == mlp_parameters(2 + k, tuple(c["critic_hidden"]), 1)


def test_the_defaults_for_points_correct_a_mixture_with_wider_nets() -> None:
    for dim, latent in ((1, 5), (2, 8), (12, 12)):  # the latent holds the d Gaussian draws
        c = WGAN(dim).config
        mixture = (c["clusters"], c["residual"], c["ema"], c["hidden"], c["critic_hidden"])
        assert mixture == (50, True, 0.999, [64, 64], [64, 64])
        assert c["latent"] == latent
        paper = WGAN(dim, preset="paper").config
        differ = ("clusters", "residual", "ema", "hidden", "critic_hidden", "latent")
        assert c | {k: paper[k] for k in differ} == paper
    assert WGAN(3, preset="clusters").config == WGAN(3, residual=False).config
    # 1D defaults: generator 55 -> 64 -> 64 -> 1 (5 noise values and 50 codes)
    one = fitted(WGAN(1, progress=False), 1)
    assert parameters(one.generator) == (55 * 64 + 64) + (64 * 64 + 64) + (64 + 1) == 7809
    assert parameters(one.critic) == mlp_parameters(51, (64, 64), 1) == 7553


def test_the_residual_generator_starts_as_the_mixture() -> None:
    # before any update the generator draws each component's Gaussian: 0 updates is not
    # possible, so an untrained copy gets the fitted buffers
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-5, 0.5, (6000, 1)), rng.normal(5, 1.0, (4000, 1))])
    wgan = WGAN(1, clusters=4, progress=False, seed=1).fit(x, steps=1, batch_size=16)
    fresh = WGAN(1, clusters=4, progress=False, seed=1)._build().generator
    for name in ("centres", "scales", "fractions"):
        fresh.get_buffer(name).copy_(wgan.generator.get_buffer(name))
    fractions = wgan.generator.get_buffer("fractions").numpy()
    assert int((fractions > 0).sum()) == 2  # the BIC's choice, of at most 4
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        z = noise(20_000, 5, fresh.get_buffer("fractions"), generator=generator)
        s = fresh(z).numpy()[:, 0] * x.std() + x.mean()  # standardized -> data units
    left, right = s[s < 0], s[s > 0]
    assert len(left) / len(s) == pytest.approx(0.6, abs=0.015)
    assert (left.mean(), left.std()) == pytest.approx((-5, 0.5), abs=0.03)
    assert (right.mean(), right.std()) == pytest.approx((5, 1.0), abs=0.05)


def test_residual_needs_clusters_and_a_latent_of_d() -> None:
    with pytest.raises(ValueError, match="residual must be True or False"):
        WGAN(4, latent=3)
    with pytest.raises(ValueError, match="residual must be True or False"):
        WGAN(2, clusters=0, residual=True)
    assert WGAN(4, latent=3, residual=False).config["latent"] == 3


def test_clusters_place_the_samples_with_the_data_shares() -> None:
    # two tight, far clusters of unequal mass: with two clusters every sample lies near
    # one of them, in the data's proportions (binomial sd 0.005 for 10k samples)
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-5, 0.1, (7000, 1)), rng.normal(5, 0.1, (3000, 1))])
    wgan = WGAN(1, clusters=2, progress=False, seed=1).fit(x, steps=20)
    fractions = wgan.generator.get_buffer("fractions").numpy()
    assert sorted(fractions.tolist()) == pytest.approx([0.3, 0.7])
    s = wgan.sample(10_000, seed=2)[:, 0]
    assert np.mean(s < 0) == pytest.approx(0.7, abs=0.02)
    assert np.all(np.abs(np.abs(s) - 5) < 2)


def test_conditional_points_have_no_clusters() -> None:
    assert WGAN(2, condition_dim=1, preset="clusters").config["clusters"] == 0
    assert WGAN(2, condition_dim=1).config["residual"] is False
    with pytest.raises(ValueError, match="clusters must be an integer >= 0"):
        WGAN(2, condition_dim=1, clusters=4)


def test_patterns_are_the_same_in_both_presets() -> None:
    assert WGAN((9, 9), device="cpu").config == WGAN((9, 9), device="cpu", preset="paper").config


def test_preset_errors() -> None:
    with pytest.raises(ValueError, match="preset must be one of"):
        WGAN(1, preset="papers")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no WGAN for volumes"):
        WGAN((4, 4, 4), preset="paper")
    with pytest.raises(ValueError, match="preset='clusters' is for points"):
        WGAN((9, 9), preset="clusters")
    with pytest.raises(ValueError, match="clusters must be an integer >= 0"):
        WGAN((9, 9), clusters=4)
    with pytest.raises(ValueError, match="ema must be in"):
        WGAN(1, ema=1.0)
    with pytest.raises(ValueError, match="hidden must be a tuple of positive"):
        WGAN(1, hidden=(8, 0))


def test_noise_draws_the_cluster_code_with_the_fractions() -> None:
    g = torch.Generator().manual_seed(1)
    fractions = torch.tensor([0.1, 0.2, 0.3, 0.4])
    z = noise(40_000, 3, fractions, generator=g)
    assert z.shape == (40_000, 7)
    code = z[:, 3:]
    assert torch.equal(code.sum(1), torch.ones(40_000))
    assert set(code.unique().tolist()) == {0.0, 1.0}
    # binomial sd at most 0.0025 for 40k draws
    assert np.allclose(code.mean(0).numpy(), fractions.numpy(), atol=0.01)
    assert abs(float(z[:, :3].mean())) < 0.02
    assert float(z[:, :3].std()) == pytest.approx(1.0, abs=0.02)
    assert noise(5, 3).shape == (5, 3)
    assert noise(0, 3, fractions).shape == (0, 7)  # no events: no draw


def test_the_mixture_finds_separated_blobs() -> None:
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    x = np.concatenate([rng.normal(c, 0.2, (1000 * (i + 1), 2)) for i, c in enumerate(centres)])
    found = fit_clusters(x.astype(np.float32), 8, seed=0)
    assert found.used == 3  # three components by the BIC, of at most 8
    assert_array_equal(found.fractions[3:].numpy(), 0.0)
    order = np.argsort(found.centres[:3, 0].numpy() * 10 + found.centres[:3, 1].numpy())
    assert_allclose(found.centres[:3].numpy()[order], centres[[0, 2, 1]], atol=0.03)
    assert_allclose(found.scales[:3].numpy()[order], 0.2, atol=0.02)
    # the fractions count every point's label: exact for blobs this far apart
    assert_allclose(found.fractions[:3].numpy()[order], np.array([1, 3, 2]) / 6, atol=1e-6)
    labels = found.labels.numpy()
    blobs = np.repeat([0, 1, 2], [1000, 2000, 3000])
    for blob in range(3):  # every point in its blob's component
        assert len(np.unique(labels[blobs == blob])) == 1
    # fewer points than components: at most one per point, nothing breaks
    few = fit_clusters(x[:3].astype(np.float32), 5, seed=0)
    assert few.used <= 3
    assert float(few.fractions.sum()) == pytest.approx(1.0)
    assert bool((few.scales > 0).all())
    assert bool(torch.isfinite(few.centres).all())


def test_the_average_follows_the_training_without_changing_it() -> None:
    x = np.random.default_rng(0).normal(size=(2000, 2))
    plain = WGAN(2, ema=0.0, progress=False, seed=3).fit(x, steps=30)
    average = WGAN(2, ema=0.9, progress=False, seed=3).fit(x, steps=30)
    # the same critic updates: the average is only read, never trained
    assert plain.history == average.history
    assert not np.array_equal(plain.sample(100, seed=1), average.sample(100, seed=1))


def test_save_load_gives_identical_samples(tmp_path: Path) -> None:
    wgan = fitted(WGAN(2, clusters=7, ema=0.5, hidden=(9, 11), progress=False), 2)
    wgan.save(tmp_path / "m.pt")
    loaded = WGAN.load(tmp_path / "m.pt", progress=False)
    assert loaded.config == wgan.config
    assert_array_equal(loaded.sample(500, seed=4), wgan.sample(500, seed=4))


def test_files_without_the_new_fields_load_as_the_paper_networks(tmp_path: Path) -> None:
    wgan = fitted(WGAN(1, preset="paper", progress=False), 1)
    wgan.save(tmp_path / "new.pt")
    payload = torch.load(tmp_path / "new.pt", weights_only=True)
    config = json.loads(payload["config"])
    for field in ("clusters", "hidden", "critic_hidden", "ema", "residual"):
        del config[field]
    payload["config"] = json.dumps(config, sort_keys=True)
    torch.save(payload, tmp_path / "old.pt")
    loaded = WGAN.load(tmp_path / "old.pt", progress=False)
    assert loaded.config == wgan.config
    assert_array_equal(loaded.sample(50, seed=2), wgan.sample(50, seed=2))


THREE_MODES = GaussianMixture(
    means=[[-3.0], [0.0], [3.0]], sigmas=[0.3, 0.3, 0.3], weights=[0.5, 0.3, 0.2]
)


@pytest.mark.parametrize(
    ("preset", "most_between"), [("default", 0.03), ("clusters", 0.03), ("paper", None)]
)
def test_three_separated_modes_are_covered(preset: str, most_between: float | None) -> None:
    # unequal masses 0.5 / 0.3 / 0.2, ten widths apart: after 400 steps (about 6 s) every
    # mode's share of the samples is within 30 % of its mass (measured: the defaults and
    # the clusters 0.501, 0.296, 0.204; paper nets 0.52, 0.27, 0.22); the defaults and the
    # clusters also leave few points more than three widths from every mode (defaults
    # 0.014, clusters 0.002; the paper nets 0.25, the truth 0.003)
    x = THREE_MODES.sample(20_000, seed=1)
    wgan = WGAN(1, preset=preset, progress=False, seed=0)  # type: ignore[arg-type]
    s = wgan.fit(x, steps=400).sample(20_000, seed=2)
    share = np.bincount(THREE_MODES.assign(s), minlength=3) / len(s)
    mass = np.array([0.5, 0.3, 0.2])
    assert np.all(np.abs(share - mass) <= 0.3 * mass)
    if most_between is not None:
        between = np.min(np.abs(s - np.array([-3.0, 0.0, 3.0])), axis=1) > 3 * 0.3
        assert between.mean() < most_between
