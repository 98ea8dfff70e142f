"""Mixed precision (bfloat16 autocast) of the convolutional models: the switch, and that
the forward passes of training really run in bfloat16 when it is on -- exercised on
the CPU, where ``"auto"`` leaves it off."""

from __future__ import annotations

from collections.abc import Iterator

import awkward as ak
import numpy as np
import pytest
import torch
from torch import nn

from dctrgan.data import Geometry
from dctrgan.dctr import DCTR
from dctrgan.refiner import Refiner
from dctrgan.simulate import airshower, calorimeter
from dctrgan.training import autocast, resolve_mixed_precision, threads
from dctrgan.wgan import WGAN

CPU = torch.device("cpu")
SMALL_3D = Geometry(n_layers=6, n_x=6, n_y=6, absorber=(2.1,) * 6)


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    with threads(1):
        yield


class DtypeSpy:
    """Records the output dtypes of every convolution and linear layer while training."""

    def __init__(self) -> None:
        self.seen: set[torch.dtype] = set()

    def hook(self, _module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        if torch.is_grad_enabled():  # training forward passes, not predictions
            self.seen.add(output.dtype)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> DtypeSpy:
    spy = DtypeSpy()
    for layer in (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear):
        original = layer.forward

        def forward(self: nn.Module, x: torch.Tensor, _original: object = original) -> torch.Tensor:
            out: torch.Tensor = _original(self, x)  # type: ignore[operator]
            spy.hook(self, x, out)
            return out

        monkeypatch.setattr(layer, "forward", forward)
    return spy


def test_auto_is_off_on_cpu_and_for_small_models() -> None:
    assert resolve_mixed_precision("auto", CPU, pays=True) is False
    assert resolve_mixed_precision(True, CPU, pays=False) is True
    assert resolve_mixed_precision(False, CPU, pays=True) is False
    with pytest.raises(TypeError, match="mixed_precision"):
        resolve_mixed_precision("yes", CPU, pays=True)
    assert DCTR(model="cnn3d", device="cpu").mixed_precision is False
    assert WGAN((6, 6, 6), device="cpu").mixed_precision is False
    assert Refiner(device="cpu").mixed_precision is False


def test_autocast_runs_matmuls_in_bfloat16_only_when_enabled() -> None:
    a = torch.ones(4, 4)
    with autocast(CPU, True):
        assert (a @ a).dtype == torch.bfloat16
    with autocast(CPU, False):
        assert (a @ a).dtype == torch.float32


def _showers() -> tuple[ak.Array, ak.Array]:
    geometry = Geometry(n_layers=12, n_x=12, n_y=12, absorber=(2.1,) * 12)
    full = calorimeter(32, energy=10.0, geometry=geometry, seed=1)
    fast = calorimeter(32, energy=10.0, variant="fast", geometry=geometry, seed=2)
    return full, fast


@pytest.mark.parametrize("enabled", [True, False])
def test_dctr_cnn3d_trains_in_bfloat16_and_weights_in_float32(spy: DtypeSpy, enabled: bool) -> None:
    full, fast = _showers()
    dctr = DCTR(
        model="cnn3d",
        epochs=2,
        batch_size=16,
        width=4,
        device="cpu",
        progress=False,
        mixed_precision=enabled,
    ).fit(full, fast)
    assert (torch.bfloat16 in spy.seen) is enabled
    values = ak.to_numpy(dctr.weight(fast))
    assert values.dtype == np.float32
    assert np.isfinite(values).all()
    assert (values > 0).all()


@pytest.mark.parametrize("enabled", [True, False])
def test_wgan_volumes_train_in_bfloat16(spy: DtypeSpy, enabled: bool) -> None:
    showers = calorimeter(32, energy=np.linspace(10.0, 50.0, 32), geometry=SMALL_3D, seed=1)
    wgan = WGAN(
        (6, 6, 6),
        condition_dim=1,
        width=4,
        steps=3,
        batch_size=8,
        device="cpu",
        progress=False,
        mixed_precision=enabled,
    ).fit(showers)
    assert (torch.bfloat16 in spy.seen) is enabled
    for name in ("critic_loss", "gradient_penalty", "generator_loss", "constrainer_loss"):
        assert np.isfinite(wgan.history[name]).all(), name
    x = wgan.sample(5, condition=np.full(5, 20.0), seed=1)
    assert x.dtype == np.float32
    assert (x >= 0).all()


@pytest.mark.parametrize("enabled", [True, False])
def test_refiner_trains_in_bfloat16(spy: DtypeSpy, enabled: bool) -> None:
    sim, data = airshower(60, "sim", seed=11), airshower(60, "data", seed=12)
    refiner = Refiner(
        width=4,
        critic_width=4,
        steps=3,
        batch_size=8,
        n_critic=2,
        device="cpu",
        progress=False,
        mixed_precision=enabled,
    ).fit(sim, data)
    assert (torch.bfloat16 in spy.seen) is enabled
    assert np.isfinite(refiner.history["critic_loss"]).all()
    refined = np.asarray(refiner.refine(np.asarray(sim.signal)))
    assert refined.dtype == np.float32
    assert (refined >= 0).all()
