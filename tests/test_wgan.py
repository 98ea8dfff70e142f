from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from torch import nn

from dctrgan.data import Geometry
from dctrgan.features import pattern, voxelize
from dctrgan.nn.gan import build_networks
from dctrgan.simulate import airshower, bimodal_1d, calorimeter
from dctrgan.training import Loader, gradient_penalty, threads, train_steps
from dctrgan.wgan import WGAN
from dctrgan.wgan._inputs import Scaling

SMALL_3D = Geometry(n_layers=6, n_x=6, n_y=6, absorber=(2.1,) * 6)
# Tiny, fast settings: a few steps of small nets on small batches.
TINY: dict[str, Any] = {"progress": False, "device": "cpu", "steps": 3, "batch_size": 8}
SHAPES = [(1,), (2,), (9, 9), (6, 6, 6)]


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with threads(1):
        yield


def value(t: torch.Tensor) -> float:
    return float(t.detach())


def width_for(shape: tuple[int, ...]) -> int:
    return 4 if len(shape) > 1 else 0


def signals(rng: np.random.Generator, n: int, shape: tuple[int, ...]) -> np.ndarray:
    """Non-negative events: sparse exponential signals for images, normals for points."""
    if len(shape) == 1:
        return rng.normal(size=(n, *shape))
    return rng.exponential(100.0, (n, *shape)) * (rng.random((n, *shape)) < 0.3)


# ------------------------------------------------------------------ gradient penalty


class Linear(nn.Module):
    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x: torch.Tensor, shift: torch.Tensor | None = None) -> torch.Tensor:
        out = x.flatten(1) @ self.w
        return out if shift is None else out + shift


def test_gradient_penalty_of_linear_critics() -> None:
    real, fake = torch.randn(64, 3, 4), torch.randn(64, 3, 4)
    unit = torch.randn(12)
    unit /= unit.norm()
    # a linear critic with a unit-norm weight is exactly 1-Lipschitz: no penalty
    assert value(gradient_penalty(Linear(unit), real, fake)) < 1e-10
    # gradient norm 2 everywhere: (2 - 1)^2 = 1; norm 0.5: 0.25; extra critic inputs pass through
    assert value(gradient_penalty(Linear(2 * unit), real, fake)) == pytest.approx(1.0, rel=1e-5)
    shift = torch.ones(64)
    assert value(gradient_penalty(Linear(0.5 * unit), real, fake, shift)) == pytest.approx(0.25)


def test_gradient_penalty_trains_the_critic_only() -> None:
    critic = Linear(torch.full((2,), 3.0))
    fake = torch.randn(16, 2, requires_grad=True)
    gradient_penalty(critic, torch.randn(16, 2), fake).backward()
    assert critic.w.grad is not None
    assert float(critic.w.grad.norm()) > 0
    assert fake.grad is None
    with pytest.raises(ValueError, match="differ"):
        gradient_penalty(critic, torch.randn(4, 2), torch.randn(5, 2))


# ------------------------------------------------------------------ train_steps


def test_train_steps_cycles_batches_and_records_every_step() -> None:
    loader = Loader([torch.arange(10.0)], batch_size=4, drop_last=True)  # 2 batches
    seen: list[float] = []

    def step(batch: tuple[torch.Tensor]) -> dict[str, float]:
        seen.append(float(batch[0][0]))
        return {"loss": float(len(seen))}

    history = train_steps(step, loader, steps=5, progress=False)
    assert history == {"loss": [1.0, 2.0, 3.0, 4.0, 5.0]}
    assert seen == [0.0, 4.0, 0.0, 4.0, 0.0]


def test_train_steps_errors() -> None:
    with pytest.raises(FloatingPointError, match="loss is nan at step 2"):
        train_steps(
            lambda b: {"loss": math.nan if b == 1 else 0.0}, [0, 1], steps=3, progress=False
        )
    with pytest.raises(ValueError, match="no batch"):
        train_steps(lambda _: {}, [], steps=1, progress=False)
    with pytest.raises(ValueError, match="steps must be at least 1"):
        train_steps(lambda _: {}, [0], steps=0, progress=False)


# ------------------------------------------------------------------ networks


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("critic_condition", [False, True])
def test_network_shapes_and_gradients(shape: tuple[int, ...], critic_condition: bool) -> None:
    g, critic, constrainer = build_networks(
        shape,
        latent=7,
        condition_dim=2,
        width=width_for(shape),
        critic_condition=critic_condition,
        dropout=0.25,
    )
    assert constrainer is not None
    z, y = torch.randn(5, 7), torch.randn(5, 2)
    fake = g(z, y)
    assert fake.shape == (5, *shape)
    if len(shape) > 1:
        assert bool((fake >= 0).all())  # ReLU output: non-negative signals
    seen = (y,) if critic_condition else ()
    real = torch.rand(5, *shape)
    score = critic(fake, *seen)
    assert score.shape == (5,)
    assert constrainer(fake).shape == (5, 2)
    loss = (
        score.mean()
        + critic(real, *seen).mean()
        + gradient_penalty(critic, real, fake, *seen)
        + constrainer(fake).pow(2).mean()
    )
    loss.backward()
    for name, module in (("generator", g), ("critic", critic), ("constrainer", constrainer)):
        for pname, p in module.named_parameters():
            assert p.grad is not None, f"{name}.{pname} has no gradient"
            assert bool(torch.isfinite(p.grad).all())
            assert float(p.grad.abs().sum()) > 0, f"{name}.{pname} has a zero gradient"


def test_unconditional_networks_have_no_constrainer() -> None:
    g, _, constrainer = build_networks(
        (9, 9), latent=80, condition_dim=0, width=4, critic_condition=False, dropout=0.0
    )
    assert constrainer is None
    assert g(torch.randn(3, 80)).shape == (3, 9, 9)
    # Table 1: one linear layer, four transposed convolutions, one convolution
    kinds = [type(m).__name__ for m in g.modules()]
    assert kinds.count("ConvTranspose2d") == 4
    assert kinds.count("Conv2d") == 1


# ------------------------------------------------------------------ fit / sample


@pytest.mark.parametrize("shape", SHAPES)
def test_fit_and_sample_every_family(shape: tuple[int, ...], rng: np.random.Generator) -> None:
    x, y = signals(rng, 40, shape), rng.uniform(1.0, 100.0, 40)
    wgan = WGAN(shape, condition_dim=1, width=width_for(shape), **TINY).fit(x, y)
    assert set(wgan.history) == {
        "critic_loss",
        "wasserstein",
        "gradient_penalty",
        "generator_loss",
        "constrainer_loss",
        "constrainer_penalty",
    }
    assert all(len(v) == 3 for v in wgan.history.values())
    # critic loss = -C1 + C2 per step (both are means over the n_critic updates)
    h = wgan.history
    # the loss is summed in float32, the history in float64
    assert_allclose(
        h["critic_loss"], np.subtract(h["gradient_penalty"], h["wasserstein"]), rtol=1e-6
    )
    samples = wgan.sample(25, condition=np.linspace(1, 100, 25), seed=1)
    assert samples.shape == (25, *shape)
    assert samples.dtype == np.float32
    assert np.isfinite(samples).all()
    if len(shape) > 1:
        assert (samples >= 0).all()
    assert wgan.reconstruct(samples).shape == (25,)
    assert wgan.sample(3, seed=1).shape == (3, *shape)  # labels drawn from the training ones
    assert wgan.sample(0).shape == (0, *shape)


def test_same_seed_same_samples_also_after_save_load(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    x, y = signals(rng, 64, (9, 9)), rng.uniform(1.0, 100.0, 64)
    first = WGAN((9, 9), condition_dim=1, width=4, **TINY).fit(x, y)
    second = WGAN((9, 9), condition_dim=1, width=4, **TINY).fit(x, y)
    a = first.sample(50, seed=7)
    assert_array_equal(a, first.sample(50, seed=7))
    assert_array_equal(a, second.sample(50, seed=7))  # same seed: the same training
    assert not np.array_equal(a, first.sample(50, seed=8))
    assert first.history == second.history
    other = WGAN((9, 9), condition_dim=1, width=4, **(TINY | {"seed": 1})).fit(x, y)
    assert not np.array_equal(a, other.sample(50, seed=7))
    path = tmp_path / "wgan.pt"
    first.save(path)
    loaded = WGAN.load(path, device="cpu", progress=False)
    assert_array_equal(a, loaded.sample(50, seed=7))
    assert_array_equal(first.reconstruct(x), loaded.reconstruct(x))
    assert loaded.config == first.config
    assert loaded.history == first.history
    assert repr(loaded) == "WGAN(shape=(9, 9), condition_dim=1, loss='wasserstein', fitted)"


@pytest.mark.parametrize("transform", ["standardize", "log1p", "linear"])
def test_scaling_round_trip(transform: str, rng: np.random.Generator) -> None:
    shape = (3,) if transform == "standardize" else (4, 4)
    x = signals(rng, 200, shape).astype(np.float32)
    x[0] = 1e7 if transform != "standardize" else x[0]  # stations near the core: 1e7 VEM
    scaling = Scaling.fit(x, transform)
    u = scaling.forward(x.copy())
    if transform == "log1p":
        assert u.max() < 20  # seven decades of signal: at most about ten times the mean
        assert (u[x == 0] == 0).all()  # zeros stay exact zeros
    assert_allclose(scaling.inverse(torch.from_numpy(u)).numpy(), x, rtol=1e-5, atol=1e-3)
    assert Scaling.from_dict(scaling.to_dict()) == scaling


def test_conditional_critic_and_decay(rng: np.random.Generator) -> None:
    wgan = WGAN((2,), condition_dim=1, critic_condition=True, decay=0.01, **TINY)
    wgan.fit(rng.normal(size=(50, 2)), rng.normal(size=50))
    assert all(np.isfinite(v).all() for v in wgan.history.values())
    # Keras-style decay: lr / (1 + decay * updates); 5 critic updates per step
    optimizers = wgan._nets.optimizers  # type: ignore[union-attr]
    assert optimizers["critic"].param_groups[0]["lr"] == pytest.approx(1e-3 / (1 + 0.01 * 15))
    assert optimizers["generator"].param_groups[0]["lr"] == pytest.approx(1e-3 / (1 + 0.01 * 3))


def test_input_is_not_modified(rng: np.random.Generator) -> None:
    x = signals(rng, 32, (9, 9)).astype(np.float32)
    copy = x.copy()
    WGAN((9, 9), width=4, **TINY).fit(x)
    assert_array_equal(x, copy)


def test_constrainer_learns_a_label(rng: np.random.Generator) -> None:
    # points x = (y, y^2) + noise: the label is readable from the event
    y = rng.uniform(-1.0, 1.0, 2000)
    x = np.column_stack([y, y**2]) + 0.05 * rng.normal(size=(2000, 2))
    wgan = WGAN((2,), condition_dim=1, progress=False, steps=150, batch_size=64).fit(x, y)
    c4 = np.asarray(wgan.history["constrainer_loss"])
    assert c4[0] > 0.2  # label variance 1/3: an untrained net misses by about that
    assert c4[-20:].mean() < 0.05 * c4[0]
    pred = wgan.reconstruct(x)
    assert np.corrcoef(pred, y)[0, 1] > 0.95


def test_bimodal_toy_modes() -> None:
    # DCTRGAN eq. 12: modes at -1 and +1 of width 0.4, the paper's nets. After one step
    # the samples sit in one narrow peak near 0.3; 400 steps (about 1.5 s) put half of
    # them on each side, with mode means within 0.2 of +-1 and widths within 0.15 of 0.4.
    x = bimodal_1d.sample(10_000, seed=1)
    paper = {"preset": "paper", "progress": False, "seed": 0}
    start = WGAN((1,), steps=1, **paper).fit(x).sample(10_000, seed=2)[:, 0]
    assert (start > 0).mean() > 0.9
    assert start.std() < 0.2
    s = WGAN((1,), steps=400, **paper).fit(x).sample(10_000, seed=2)[:, 0]
    assert 0.4 < (s > 0).mean() < 0.6
    for mode, side in ((-1.0, s[s < 0]), (1.0, s[s > 0])):
        assert side.mean() == pytest.approx(mode, abs=0.2)
        assert side.std() == pytest.approx(0.4, abs=0.15)


def test_vanilla_gan_variant(rng: np.random.Generator) -> None:
    wgan = WGAN((1,), loss="bce", **TINY).fit(rng.normal(size=(64, 1)))
    assert set(wgan.history) == {"critic_loss", "generator_loss"}  # no penalty, no C1
    assert wgan.config["n_critic"] == 1
    assert wgan.config["gp"] == 0.0
    # an untrained discriminator: BCE about 2 log 2 on real + fake
    assert wgan.history["critic_loss"][0] == pytest.approx(2 * math.log(2), abs=0.5)


def test_defaults_per_family() -> None:
    patterns = WGAN((9, 9), device="cpu").config
    assert (patterns["latent"], patterns["n_critic"], patterns["gp"]) == (80, 8, 3.0)
    assert (patterns["kappa"], patterns["lr"], patterns["betas"]) == (1e-3, 5e-4, [0.5, 0.9])
    assert (patterns["batch_size"], patterns["width"]) == (64, 16)
    assert WGAN(1).config["latent"] == 5
    assert WGAN((2,)).config["latent"] == 8
    assert WGAN((30, 30, 30), device="cpu").config["transform"] == "log1p"


# ------------------------------------------------------------------ events


def test_air_shower_events() -> None:
    events = airshower(48, "data", seed=1)
    wgan = WGAN((9, 9), condition_dim=1, width=4, **TINY).fit(events)  # label: events.energy
    assert len(wgan.history["constrainer_loss"]) == 3
    assert wgan.reconstruct(events).shape == (48,)
    assert_array_equal(wgan.reconstruct(events), wgan.reconstruct(pattern(events)))
    # 1e7 VEM stations and 0: the log1p scaling keeps the inputs of order 1
    assert wgan.sample(4, condition=30.0, seed=0).max() < np.inf
    with pytest.raises(ValueError, match="only volumes"):
        wgan.sample_events(3)


def test_calorimeter_showers_to_events(rng: np.random.Generator) -> None:
    energy = rng.uniform(10.0, 50.0, 32)
    showers = calorimeter(32, energy=energy, geometry=SMALL_3D, seed=1)
    wgan = WGAN((6, 6, 6), condition_dim=1, width=4, **TINY).fit(showers)
    fake = wgan.sample_events(20, condition=np.full(20, 25.0), seed=3)
    assert len(fake) == 20
    assert_allclose(np.asarray(fake.incident_energy), 25.0)
    voxels = voxelize(fake)
    assert voxels.shape == (20, 6, 6, 6)
    # hits are the cells at or above the MIP threshold, as in simulated showers
    hits = ak.flatten(fake.hits.energy)
    assert ak.all(hits >= SMALL_3D.threshold)
    dense = wgan.sample(20, condition=np.full(20, 25.0), seed=3)
    assert_allclose(voxels, np.where(dense >= SMALL_3D.threshold, dense, 0.0))
    unconditional = WGAN((6, 6, 6), width=4, **TINY).fit(showers)
    drawn = unconditional.sample_events(10, seed=1)  # energies of the training showers
    assert set(np.asarray(drawn.incident_energy)) <= set(np.asarray(showers.incident_energy))


# ------------------------------------------------------------------ errors


def test_input_errors(rng: np.random.Generator) -> None:
    wgan = WGAN((9, 9), condition_dim=1, width=4, **TINY)
    x, y = signals(rng, 16, (9, 9)), rng.uniform(1, 100, 16)
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 9, 9\)"):
        wgan.fit(x[:, :8], y)
    with pytest.raises(ValueError, match="x: no events"):
        wgan.fit(x[:0], y[:0])
    bad = x.copy()
    bad[3, 1, 1] = np.nan
    with pytest.raises(ValueError, match=r"x: non-finite values.*event 3"):
        wgan.fit(bad, y)
    with pytest.raises(ValueError, match="x: negative values"):
        wgan.fit(-x - 1, y)
    with pytest.raises(ValueError, match=r"condition: expected shape \(16,\)"):
        wgan.fit(x, y[:10])
    with pytest.raises(ValueError, match="condition: non-finite"):
        wgan.fit(x, np.full(16, np.inf))
    with pytest.raises(ValueError, match="condition: required"):
        wgan.fit(x)
    with pytest.raises(ValueError, match="condition: given"):
        WGAN((9, 9), width=4, **TINY).fit(x, y)
    with pytest.raises(ValueError, match="steps must be"):
        wgan.fit(x, y, steps=0)
    with pytest.raises(ValueError, match="do not fit"):
        wgan.fit(calorimeter(4, seed=1))


def test_configuration_and_state_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shape must be"):
        WGAN((2, 3, 4, 5))
    with pytest.raises(ValueError, match="loss must be"):
        WGAN((1,), loss="hinge")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="transform must be"):
        WGAN((1,), transform="log1p")
    with pytest.raises(ValueError, match="gp must be"):
        WGAN((1,), gp=-1.0)
    wgan = WGAN((1,), condition_dim=0, progress=False)
    with pytest.raises(RuntimeError, match="not fitted"):
        wgan.sample(3)
    with pytest.raises(RuntimeError, match="not fitted"):
        wgan.save(tmp_path / "x.pt")
    fitted = WGAN((1,), **TINY).fit(np.zeros((10, 1)) + np.arange(10)[:, None])
    with pytest.raises(ValueError, match="no label"):
        fitted.reconstruct(np.zeros((3, 1)))
    with pytest.raises(ValueError, match="condition: given"):
        fitted.sample(3, condition=1.0)


def test_load_refuses_other_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    with pytest.raises(ValueError, match="not a dctrgan model file"):
        WGAN.load(text)
    other = tmp_path / "other.pt"
    torch.save({"format": "dctrgan.DCTR", "version": 1}, other)
    with pytest.raises(ValueError, match="not a dctrgan WGAN model"):
        WGAN.load(other)
    newer = tmp_path / "newer.pt"
    torch.save({"format": "dctrgan.WGAN", "version": 99}, newer)
    with pytest.raises(ValueError, match="newer dctrgan"):
        WGAN.load(newer)
    damaged = tmp_path / "damaged.pt"
    torch.save({"format": "dctrgan.WGAN", "version": 1, "config": "{}"}, damaged)
    with pytest.raises(ValueError, match="damaged WGAN model"):
        WGAN.load(damaged)
    with pytest.raises(FileNotFoundError):
        WGAN.load(tmp_path / "missing.pt")


def _first_format(wgan: WGAN, version: int = 1) -> dict[str, Any]:
    """The payload as ``WGAN.save`` wrote it before the shared model-file path."""
    assert wgan._scaling is not None
    assert wgan._label_scaling is not None
    fitted = {
        "scaling": wgan._scaling.to_dict(),
        "labels": wgan._label_scaling.to_dict(),
        "geometry": None,
        "history": wgan.history,
    }
    modules = {"generator": wgan.generator, "critic": wgan.critic, "constrainer": wgan.constrainer}
    return {
        "format": "dctrgan.WGAN",
        "version": version,
        "config": json.dumps(wgan.config, sort_keys=True),
        "fitted": json.dumps(fitted, sort_keys=True),
        "state": {
            name: {k: v.detach().cpu() for k, v in module.state_dict().items()}
            for name, module in modules.items()
            if module is not None
        },
        "labels": wgan._labels,
        "energies": wgan._energies,
    }


def test_loads_files_of_the_first_format(tmp_path: Path) -> None:
    events = airshower(48, "data", seed=1)
    wgan = WGAN((9, 9), condition_dim=1, width=4, **TINY).fit(events)
    path = tmp_path / "old.pt"
    torch.save(_first_format(wgan), path)
    loaded = WGAN.load(path, device="cpu", progress=False)
    assert loaded.config == wgan.config
    assert loaded.history == wgan.history
    assert_array_equal(loaded.sample(20, seed=3), wgan.sample(20, seed=3))  # drawn labels too
    assert_array_equal(loaded.reconstruct(events), wgan.reconstruct(events))


def test_a_newer_format_version_is_refused(tmp_path: Path) -> None:
    wgan = WGAN((9, 9), condition_dim=1, width=4, **TINY).fit(airshower(48, "data", seed=1))
    path = tmp_path / "newer.pt"
    torch.save(_first_format(wgan, version=2), path)
    with pytest.raises(ValueError, match=r"newer dctrgan \(model format version 2; .*upgrade"):
        WGAN.load(path)
