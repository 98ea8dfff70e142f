"""Models out of Python: ONNX and TorchScript exports reproduce the Python models.

Every exported graph is run (ONNX Runtime, ``torch.jit.load``) on the inputs the
Python model sees and compared with it (:func:`dctrgan.export.check`): the float32
networks differ by the rounding of the two runtimes, the calibration is float64 in
both, so the weights agree to 1e-5 relative (tolerance of the check), TorchScript
to the bit where torch runs the same kernels.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import torch

import dctrgan
from dctrgan import DCTR, WGAN, Refiner, export
from dctrgan.simulate import airshower, calorimeter

FAST: dict[str, Any] = {"batch_size": 256, "epochs": 3, "patience": None, "progress": False}


@pytest.fixture(scope="module")
def showers() -> tuple[ak.Array, ak.Array]:
    return calorimeter(600, energy=20.0, seed=1), calorimeter(600, 20.0, "fast", seed=2)


@pytest.fixture(scope="module")
def mlp(showers: tuple[ak.Array, ak.Array]) -> DCTR:
    return DCTR(**FAST).fit(*showers)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize(
    "options",
    [{}, {"folds": 3}, {"replicas": 3}],
    ids=["nominal", "folds", "replicas"],
)
def test_dctr_mlp_closure(
    showers: tuple[ak.Array, ak.Array], tmp_path: Path, fmt: str, options: dict[str, Any]
) -> None:
    real, fake = showers
    dctr = DCTR(**FAST, **options).fit(real, fake)
    path = dctr.export(tmp_path / f"dctr.{fmt}", fmt)  # type: ignore[arg-type]
    closure = export.check(path, dctr, fake)
    assert closure.passed, closure
    assert closure.events == len(fake)
    got = export.load(path)(*dctr.inputs(fake))
    k = options.get("replicas", 0)
    assert got.shape == ((len(fake), 1 + k) if k else (len(fake),))
    assert got.dtype == np.float32
    if fmt == "torchscript":  # the same torch kernels: the same float32 numbers
        assert closure.max_relative_difference == 0.0


@pytest.mark.parametrize("model", ["deepsets", "cnn3d"])
def test_dctr_low_level_closure(
    showers: tuple[ak.Array, ak.Array], tmp_path: Path, model: str
) -> None:
    real, fake = showers
    options = {"epochs": 1, "width": 4} if model == "cnn3d" else {"epochs": 1}
    dctr = DCTR(model=model, batch_size=128, progress=False, **options).fit(real, fake)  # type: ignore[arg-type]
    path = dctr.export(tmp_path / "dctr.onnx")
    inputs = dctr.inputs(fake[:200])
    if model == "deepsets":
        assert [a.dtype for a in inputs] == [np.float32, np.bool_]
        assert inputs[0].shape[2] == 4
    else:
        assert inputs[0].shape == (200, 30, 30, 30)
    # the deep-sets logit sums float32 terms over hundreds of hits: the two runtimes
    # differ by up to ~1e-5 in the weight, as much as the Python float32 model differs
    # from the same model in float64 (measured: 0.6-0.8e-5)
    closure = export.check(path, dctr, fake[:200], rtol=3e-5 if model == "deepsets" else 1e-5)
    assert closure.passed, closure
    # a batch of a different size and hit count than the recording's
    assert export.load(path)(*dctr.inputs(fake[:7])).shape == (7,)


def test_metadata_read_back(mlp: DCTR, tmp_path: Path) -> None:
    onnx_path = mlp.export(tmp_path / "dctr.onnx")
    ts_path = mlp.export(tmp_path / "dctr.torchscript", "torchscript")
    meta = export.metadata(onnx_path)
    assert meta == export.metadata(ts_path) | {"format": "onnx"}
    assert meta["dctrgan_model"] == "DCTR"
    assert meta["feature_names"] == mlp.feature_names
    assert len(meta["feature_names"]) == 33
    assert meta["dctrgan_version"] == dctrgan.__version__
    assert meta["temperatures"] == mlp.temperatures
    assert meta["offsets"] == mlp.offsets
    assert meta["clip"] == mlp.clip
    assert meta["inputs"] == ["features"]
    assert "exp(" in meta["formula"]
    # the hash is of the model's content: the same after a save and load, another for
    # another model
    mlp.save(tmp_path / "dctr.pt")
    again = DCTR.load(tmp_path / "dctr.pt", progress=False)
    again_meta = export.metadata(again.export(tmp_path / "again.onnx"))
    assert again_meta["model_sha256"] == meta["model_sha256"]
    assert len(meta["model_sha256"]) == 64
    other = DCTR(**{**FAST, "seed": 5}).fit(
        *[calorimeter(300, 20.0, v, seed=3) for v in ("full", "fast")]
    )
    other_meta = export.metadata(other.export(tmp_path / "other.onnx"))
    assert other_meta["model_sha256"] != meta["model_sha256"]
    # ONNX users read the same entries as JSON text
    import onnx

    props = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert json.loads(props["feature_names"]) == mlp.feature_names


def test_features_of_records_and_fill_none(tmp_path: Path, rng: np.random.Generator) -> None:
    """Named fields of ntuple records, with a missing value filled: the graph takes the
    matrix in the model's column order, which inputs() builds."""

    def events(n: int, shift: float) -> ak.Array:
        jets = ak.unflatten(
            rng.exponential(30.0, 2 * n) + shift, rng.multinomial(2 * n, [1 / n] * n)
        )
        met = rng.exponential(20.0 + shift, n)
        return ak.zip({"MET": ak.zip({"pt": met}), "Jet": ak.zip({"pt": jets})}, depth_limit=1)

    real, fake = events(500, 3.0), events(500, 0.0)
    features = {"met": lambda ev: ev.MET.pt, "lead": lambda ev: ak.firsts(ev.Jet.pt)}
    dctr = DCTR(features, fill_none=-1.0, **FAST).fit(real, fake)
    with pytest.warns(UserWarning, match=r"columns \['met', 'lead'\] of your feature functions"):
        path = dctr.export(tmp_path / "dctr.onnx")
    x = dctr.inputs(fake)[0]
    assert x.shape == (500, 2)
    empty = ak.num(fake.Jet.pt) == 0
    assert np.any(empty)
    assert np.all(x[np.asarray(empty), 1] == -1.0)
    assert export.check(path, dctr, fake).passed


def test_wgan_closure_and_latent(tmp_path: Path, rng: np.random.Generator) -> None:
    modes = np.concatenate([rng.normal(-2, 0.3, (600, 2)), rng.normal(2, 0.3, (600, 2))])
    for options in ({"preset": "paper"}, {"clusters": 4}, {"preset": "clusters", "clusters": 4}):
        wgan = WGAN((2,), steps=20, progress=False, **options).fit(modes.astype(np.float32))  # type: ignore[arg-type]
        z, labels = wgan.latent(500, seed=7)
        assert labels is None
        assert np.array_equal(wgan.generate(z), wgan.sample(500, seed=7))
        for fmt in ("onnx", "torchscript"):
            path = wgan.export(tmp_path / f"wgan.{fmt}", fmt, overwrite=True)  # type: ignore[arg-type]
            closure = export.check(path, wgan, (2_000, 3))
            assert closure.passed, closure
        meta = export.metadata(path)
        assert meta["latent"] == wgan.config["latent"]
        assert meta["shape"] == [2]
        if "clusters" in options:  # two modes: the BIC keeps two of the four components
            assert z.shape == (500, wgan.config["latent"] + 4)
            assert np.all(z[:, -4:].sum(axis=1) == 1.0)
            fractions = sorted(meta["cluster_fractions"])
            assert fractions == pytest.approx([0, 0, 0.5, 0.5], abs=0.05)


def test_conditional_wgan_closure(tmp_path: Path) -> None:
    data = airshower(300, "data", seed=1)
    wgan = WGAN((9, 9), condition_dim=1, steps=3, progress=False).fit(data)
    z, labels = wgan.latent(200, condition=np.full(200, 10.0), seed=1)
    assert labels is not None
    assert labels.shape == (200, 1)
    assert np.array_equal(wgan.generate(z, labels), wgan.sample(200, condition=10.0, seed=1))
    path = wgan.export(tmp_path / "wgan.onnx")
    assert export.metadata(path)["inputs"] == ["latent", "condition"]
    closure = export.check(path, wgan, (300, 2))
    assert closure.passed, closure
    latent = wgan.config["latent"]
    with pytest.raises(ValueError, match=rf"z must be \(n, {latent}\), got \(3, 5\)"):
        wgan.generate(np.zeros((3, 5), np.float32), labels[:3])


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_refiner_closure(tmp_path: Path, fmt: str) -> None:
    sim, data = airshower(200, "sim", seed=3), airshower(200, "data", seed=4)
    refiner = Refiner(steps=3, progress=False).fit(sim, data)
    path = refiner.export(tmp_path / f"refiner.{fmt}", fmt)  # type: ignore[arg-type]
    closure = export.check(path, refiner, sim)
    assert closure.passed, closure
    out = export.load(path)(refiner.inputs(sim))
    signal = refiner.inputs(sim)
    # stations without signal stay 0
    empty = signal.max(axis=-1) == 0
    assert np.all(out[empty] == 0.0)


def test_errors_leave_no_file(mlp: DCTR, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(RuntimeError, match="fit"):
        DCTR().export(tmp_path / "unfitted.onnx")
    with pytest.raises(ValueError, match="format must be one of"):
        mlp.export(tmp_path / "x.bin", "pickle")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        mlp.export(tmp_path / "missing" / "dctr.onnx")
    existing = tmp_path / "dctr.onnx"
    existing.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        mlp.export(existing)
    assert existing.read_bytes() == b"keep me"
    mlp.export(existing, overwrite=True)
    assert export.metadata(existing)["dctrgan_model"] == "DCTR"

    def broken(*_: Any, **__: Any) -> None:
        msg = "disk full"
        raise OSError(msg)

    monkeypatch.setattr(torch.jit, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        mlp.export(tmp_path / "half.torchscript", "torchscript")
    # neither the failed writes nor their temporary files are left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dctr.onnx"]


def test_reading_bad_files(mlp: DCTR, tmp_path: Path) -> None:
    not_ours = tmp_path / "plain.onnx"
    not_ours.write_bytes(b"\x08\x07")
    with pytest.raises(ValueError, match="not a model exported by dctrgan"):
        export.metadata(not_ours)
    with pytest.raises(FileNotFoundError):
        export.metadata(tmp_path / "nothing.onnx")
    path = mlp.export(tmp_path / "dctr.torchscript", "torchscript")
    with pytest.raises(ValueError, match=r"expects 1 inputs \['features'\], got 2"):
        export.load(path)(np.zeros((2, 33), np.float32), np.zeros(2, np.float32))
    wgan = WGAN((2,), steps=2, progress=False).fit(np.zeros((64, 2), np.float32) + 1)
    with pytest.raises(ValueError, match="exported from a DCTR, got a WGAN"):
        export.check(path, wgan, 10)


def test_a_closure_that_fails_says_so(
    mlp: DCTR, showers: tuple[ak.Array, ak.Array], tmp_path: Path
) -> None:
    """The check compares with the model given: another model's weights fail it."""
    path = mlp.export(tmp_path / "dctr.torchscript", "torchscript")
    other = DCTR(**{**FAST, "seed": 9}).fit(*showers)
    closure = export.check(path, other, showers[1])
    assert not closure.passed
    assert "FAILED" in str(closure)
    assert closure.max_relative_difference > 1e-3


def test_cli_export_and_check(
    mlp: DCTR, showers: tuple[ak.Array, ak.Array], tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from dctrgan.cli import main

    model = tmp_path / "dctr.pt"
    mlp.save(model)
    fake = dctrgan.write(tmp_path / "fast.root", showers[1])
    runner = CliRunner()
    out = tmp_path / "dctr.onnx"
    result = runner.invoke(
        main, ["export", str(model), str(out), "--check", str(fake), "-n", "300"]
    )
    assert result.exit_code == 0, result.output
    assert "300 events, max relative difference" in result.output
    assert "passed" in result.output
    assert export.metadata(out)["feature_names"] == mlp.feature_names
    again = runner.invoke(main, ["export", str(model), str(out)])
    assert again.exit_code == 1
    assert "exists" in again.output
    result = runner.invoke(main, ["export", str(model), str(tmp_path / "dctr.ts")])
    assert result.exit_code == 0, result.output
    assert export.metadata(tmp_path / "dctr.ts")["format"] == "torchscript"
    result = runner.invoke(main, ["export", str(fake), str(tmp_path / "x.onnx")])
    assert result.exit_code == 1
    assert "not a dctrgan model file" in result.output


def test_callable_feature_warning_says_what_the_graph_takes(
    showers: tuple[ak.Array, ak.Array], tmp_path: Path
) -> None:
    def features(ev: ak.Array) -> np.ndarray:
        return np.stack([ak.to_numpy(ev.incident_energy), ak.to_numpy(ak.num(ev.hits, axis=1))], -1)

    dctr = DCTR(features, **FAST).fit(*showers)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = dctr.export(tmp_path / "dctr.onnx")
    assert any("the (N, d) matrix your features function returns" in str(w.message) for w in caught)
    assert export.metadata(path)["features"] == "callable"
    assert export.check(path, dctr, showers[1]).passed
