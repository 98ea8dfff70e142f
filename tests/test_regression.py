"""Energy regressor on air-shower traces and bias_resolution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import torch

from dctrgan.nn.traces import AixNet
from dctrgan.regression import Regressor, bias_resolution
from dctrgan.simulate import airshower

# ---------------------------------------------------------------- bias_resolution


def test_bias_resolution_known_values() -> None:
    # r = (pred - true) / true = 0.1, -0.1, 0.1
    score = bias_resolution([1.1, 0.9, 2.2], [1.0, 1.0, 2.0])
    assert score.bias == pytest.approx(0.1 / 3)
    assert score.resolution == pytest.approx(
        np.sqrt(2 * (0.2 / 3) ** 2 + (0.4 / 3) ** 2) / np.sqrt(3)
    )
    assert score.count == 3
    assert score.edges is None
    assert score.bin_bias is None


def test_bias_resolution_exact_and_scaled() -> None:
    true = np.array([1.0, 3.0, 10.0, 50.0])
    assert bias_resolution(true, true).bias == 0.0
    assert bias_resolution(true, true).resolution == 0.0
    scaled = bias_resolution(1.2 * true, true)
    assert scaled.bias == pytest.approx(0.2)
    assert scaled.resolution == pytest.approx(0.0, abs=1e-12)


def test_bias_resolution_in_bins() -> None:
    pred = [1.1, 0.9, 2.2, 5.0, 7.0]
    true = [1.0, 1.0, 2.0, 5.0, 3.5]  # 3.5 is the upper edge: in the last bin
    score = bias_resolution(pred, true, bins=[0.5, 1.5, 2.5, 3.0, 3.5])
    np.testing.assert_array_equal(score.edges, [0.5, 1.5, 2.5, 3.0, 3.5])
    np.testing.assert_array_equal(score.bin_count, [2, 1, 0, 1])
    np.testing.assert_allclose(score.bin_bias, [0.0, 0.1, np.nan, 1.0], atol=1e-12)
    np.testing.assert_allclose(score.bin_resolution, [0.1, 0.0, np.nan, 0.0], atol=1e-12)
    # the event at 5.0 (outside the edges) counts overall only
    assert score.count == 5
    r = np.array([0.1, -0.1, 0.1, 0.0, 1.0])
    assert score.bias == pytest.approx(r.mean())
    assert score.resolution == pytest.approx(r.std())
    d = score.to_dict()
    assert d["bin_bias"][2] is None
    assert d["bin_count"] == [2, 1, 0, 1]


def test_bias_resolution_errors() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        bias_resolution([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="pred has 1 non-finite"):
        bias_resolution([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="true must be positive"):
        bias_resolution([1.0, 2.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="no events"):
        bias_resolution([], [])
    with pytest.raises(ValueError, match="increasing"):
        bias_resolution([1.0], [1.0], bins=[2.0, 1.0])
    with pytest.raises(ValueError, match="1D"):
        bias_resolution([[1.0]], [[1.0]])


# ---------------------------------------------------------------- network


def test_aixnet_shapes_and_gradients() -> None:
    signal = torch.from_numpy(ak.to_numpy(airshower(4, seed=1).signal))
    signal[0] = 0.0  # an event without signal passes too
    net = AixNet((9, 9, 80), width=4)
    out = net(signal)
    assert out.shape == (4,)
    assert out.dtype == torch.float32
    out.square().sum().backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name
    assert net(torch.zeros(2, 9, 9, 80)).shape == (2,)


def test_aixnet_sparse_equals_dense() -> None:
    """Only stations with signal go through the trace encoder; the result equals encoding
    every station and zeroing the features of the empty ones."""
    signal = torch.from_numpy(ak.to_numpy(airshower(3, seed=2).signal))
    net = AixNet((9, 9, 80), width=4).eval()
    flat = signal.reshape(-1, 80)
    total = flat.sum(1)
    hit = total > 0
    assert hit.any()
    assert not hit.all()
    with torch.no_grad():
        encoded = net.encoder(torch.log1p(flat) * net.trace_scale) * hit[:, None]
        station = torch.cat(
            [encoded, (torch.log1p(total) * net.total_scale)[:, None], hit[:, None].float()], 1
        )
        grid = station.reshape(3, 9, 9, -1).permute(0, 3, 1, 2)
        dense = net.head(net.grid(grid).flatten(1)).squeeze(1)
        torch.testing.assert_close(net(signal), dense)


# ---------------------------------------------------------------- Regressor


_TINY: dict[str, Any] = {"epochs": 8, "width": 8, "lr": 3e-3, "batch_size": 32, "progress": False}


@pytest.fixture(scope="module")
def samples() -> tuple[ak.Array, ak.Array]:
    return airshower(800, "data", seed=1), airshower(300, "data", seed=2)


@pytest.fixture(scope="module")
def fitted(samples: tuple[ak.Array, ak.Array]) -> Regressor:
    return Regressor(**_TINY).fit(samples[0])


def test_tiny_fit_learns(fitted: Regressor, samples: tuple[ak.Array, ak.Array]) -> None:
    """Measured: the validation loss falls from 0.55 to 0.04 and the held-out resolution
    is 0.15 (a constant energy gives 3.3)."""
    val = fitted.history["val_loss"]
    assert len(val) == len(fitted.history["train_loss"]) == 8
    assert min(val) < 0.2 * val[0]
    train, test = samples
    true = ak.to_numpy(test.energy)
    pred = fitted.predict(test)
    assert pred.shape == (300,)
    assert pred.dtype == np.float64
    assert (pred > 0).all()
    constant = np.full(len(true), np.exp(np.log(ak.to_numpy(train.energy)).mean()))
    score = bias_resolution(pred, true)
    assert score.resolution < 0.3
    assert score.resolution < 0.2 * bias_resolution(constant, true).resolution
    assert abs(score.bias) < 0.15


def test_save_load_identical(
    fitted: Regressor, samples: tuple[ak.Array, ak.Array], tmp_path: Path
) -> None:
    path = tmp_path / "regressor.pt"
    fitted.save(path)
    loaded = Regressor.load(path, progress=False)
    np.testing.assert_array_equal(loaded.predict(samples[1]), fitted.predict(samples[1]))
    assert loaded.config == fitted.config
    assert loaded.history == fitted.history
    assert not list(tmp_path.glob(".*tmp"))


def test_load_refuses_other_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Regressor.load(tmp_path / "missing.pt")
    other = tmp_path / "other.pt"
    torch.save({"format": "dctrgan.DCTR", "version": 1}, other)
    with pytest.raises(ValueError, match="not a dctrgan Regressor model"):
        Regressor.load(other)
    newer = tmp_path / "newer.pt"
    torch.save({"format": "dctrgan.Regressor", "version": 99}, newer)
    with pytest.raises(ValueError, match="upgrade"):
        Regressor.load(newer)
    text = tmp_path / "text.pt"
    text.write_text("not a model")
    with pytest.raises(ValueError, match="not a dctrgan model file"):
        Regressor.load(text)
    damaged = tmp_path / "damaged.pt"
    torch.save({"format": "dctrgan.Regressor", "version": 1, "config": "{}"}, damaged)
    with pytest.raises(ValueError, match="is a damaged Regressor model"):
        Regressor.load(damaged)


def _first_format(regressor: Regressor, version: int = 1) -> dict[str, Any]:
    """The payload as ``Regressor.save`` wrote it before the shared model-file path."""
    return {
        "format": "dctrgan.Regressor",
        "version": version,
        "config": json.dumps(regressor.config, sort_keys=True),
        "fitted": json.dumps({"shape": [9, 9, 80], "history": regressor.history}),
        "state": {k: v.detach().cpu() for k, v in regressor.model.state_dict().items()},
    }


def test_loads_files_of_the_first_format(
    fitted: Regressor, samples: tuple[ak.Array, ak.Array], tmp_path: Path
) -> None:
    path = tmp_path / "old.pt"
    torch.save(_first_format(fitted), path)
    loaded = Regressor.load(path, progress=False)
    assert loaded.config == fitted.config
    assert loaded.history == fitted.history
    np.testing.assert_array_equal(loaded.predict(samples[1]), fitted.predict(samples[1]))


def test_a_newer_format_version_is_refused(fitted: Regressor, tmp_path: Path) -> None:
    path = tmp_path / "newer.pt"
    torch.save(_first_format(fitted, version=2), path)
    with pytest.raises(ValueError, match=r"newer dctrgan \(model format version 2; .*upgrade"):
        Regressor.load(path)


def test_arrays_with_y_equal_events() -> None:
    events = airshower(200, "data", seed=3)
    small = {**_TINY, "epochs": 2}
    a = Regressor(**small).fit(events)
    b = Regressor(**small).fit(ak.to_numpy(events.signal), ak.to_numpy(events.energy))
    np.testing.assert_array_equal(a.predict(events), b.predict(ak.to_numpy(events.signal)))
    # no validation split: a fixed number of epochs, no validation loss
    c = Regressor(**{**small, "validation": 0.0}).fit(events, epochs=1)
    assert set(c.history) == {"train_loss"}
    assert len(c.history["train_loss"]) == 1


def test_errors(fitted: Regressor) -> None:
    events = airshower(20, "data", seed=4)
    signal = ak.to_numpy(events.signal)
    with pytest.raises(ValueError, match="y is needed"):
        Regressor(progress=False).fit(signal)
    with pytest.raises(ValueError, match="shape"):
        Regressor(progress=False).fit(signal, np.ones(3))
    with pytest.raises(ValueError, match="positive"):
        Regressor(progress=False).fit(signal, np.zeros(20))
    bad = signal.copy()
    bad[0, 4, 4, 10] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        Regressor(progress=False).fit(bad, np.ones(20))
    with pytest.raises(ValueError, match="non-finite"):
        fitted.predict(bad)
    with pytest.raises(ValueError, match="trained on"):
        fitted.predict(signal[..., :40])
    with pytest.raises(ValueError, match="no training or validation"):
        Regressor(progress=False).fit(signal[:2], np.ones(2))
    with pytest.raises(RuntimeError, match="not fitted"):
        Regressor().predict(events)
    with pytest.raises(ValueError, match="width"):
        Regressor(width=0)
    with pytest.raises(ValueError, match="validation"):
        Regressor(validation=1.0)
