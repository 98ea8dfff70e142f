from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal

from dctrgan.data import Geometry
from dctrgan.dctr import DCTR
from dctrgan.dctr.calibration import neff_fraction
from dctrgan.features import HIGH_LEVEL_NAMES, high_level
from dctrgan.simulate import calorimeter


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    """Tiny nets gain nothing from intra-op threads, and on a busy 2-core machine the
    OpenMP workers of a second thread wait on each other: run these tests on one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# Small, fast settings for the MLP: the paper's net, bigger batches, few epochs.
FAST: dict[str, Any] = {"batch_size": 512, "epochs": 15, "patience": 3, "progress": False}


def fast(**overrides: Any) -> dict[str, Any]:
    """:data:`FAST` with some settings replaced."""
    return FAST | overrides


def log_normal_pdf(x: np.ndarray, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Log density of independent normals, summed over the last axis."""
    z = (x - mean) / sigma
    return np.sum(-0.5 * z**2 - np.log(sigma), axis=-1)


@pytest.fixture(scope="module")
def gaussians() -> tuple[np.ndarray, np.ndarray]:
    """Real N(0, 1) and fake N(0.3, 1.1), 1D, 20k each."""
    rng = np.random.default_rng(7)
    return rng.normal(0.0, 1.0, (20_000, 1)), rng.normal(0.3, 1.1, (20_000, 1))


@pytest.fixture(scope="module")
def fitted(gaussians: tuple[np.ndarray, np.ndarray]) -> DCTR:
    return DCTR(**FAST).fit(*gaussians)


@pytest.fixture(scope="module")
def small_showers() -> tuple[ak.Array, ak.Array]:
    """A few dozen showers of 10 GeV photons in a 12 x 12 x 12 calorimeter."""
    geometry = Geometry(n_layers=12, n_x=12, n_y=12, absorber=(2.1,) * 12)
    full = calorimeter(48, energy=10.0, geometry=geometry, seed=1)
    fast = calorimeter(48, energy=10.0, variant="fast", geometry=geometry, seed=2)
    return full, fast


def test_analytic_closure_1d(fitted: DCTR) -> None:
    # w_true = N(x; 0, 1) / N(x; 0.3, 1.1); 20k events per class give a median error
    # in the central 90 % of the fake density of about 0.02 in log w.
    x = np.random.default_rng(8).normal(0.3, 1.1, (50_000, 1))
    true = log_normal_pdf(x, 0.0, 1.0) - log_normal_pdf(x, 0.3, 1.1)
    lo, hi = np.quantile(x, [0.05, 0.95])
    central = (x[:, 0] > lo) & (x[:, 0] < hi)
    err = np.log(fitted.weight(x)) - true
    assert np.median(np.abs(err[central])) < 0.06
    assert fitted.temperatures[0] == pytest.approx(1.0, abs=0.15)  # a calibrated net: T ~ 1


def test_analytic_closure_2d() -> None:
    rng = np.random.default_rng(9)
    mean, sigma = np.array([0.3, -0.2]), np.array([1.1, 0.9])
    real = rng.normal(0.0, 1.0, (20_000, 2))
    fake = rng.normal(mean, sigma, (20_000, 2))
    dctr = DCTR(**FAST).fit(real, fake)
    x = rng.normal(mean, sigma, (50_000, 2))
    true = log_normal_pdf(x, np.zeros(2), np.ones(2)) - log_normal_pdf(x, mean, sigma)
    central = (true > np.quantile(true, 0.05)) & (true < np.quantile(true, 0.95))
    err = np.log(dctr.weight(x)) - true
    assert np.median(np.abs(err[central])) < 0.08


def test_weights_are_normalized_over_the_fake_sample(
    fitted: DCTR, gaussians: tuple[np.ndarray, np.ndarray]
) -> None:
    # DCTRGAN eq. 10: E_fake[w] = 1, imposed on the validation events (normalize=True);
    # the mean over the whole sample has a statistical spread of about 0.003
    assert fitted.weight(gaussians[1]).mean() == pytest.approx(1.0, abs=0.01)
    assert fitted.offsets[0] != 0.0
    raw = DCTR(**fast(normalize=False)).fit(*gaussians)
    assert raw.offsets == [0.0]


def test_container_in_container_out(fitted: DCTR) -> None:
    x = np.linspace(-2, 2, 7)[:, None]
    w = fitted.weight(x)
    assert isinstance(w, np.ndarray)
    assert w.dtype == np.float32  # as attach() and files store them
    assert w.shape == (7,)
    wt = fitted.weight(torch.tensor(x, dtype=torch.float32))
    assert isinstance(wt, torch.Tensor)
    assert_allclose(wt.numpy(), w)
    records = ak.zip({"x": x[:, 0]})
    fit_records = DCTR(**fast(epochs=1)).fit(records, records[::-1])
    wa = fit_records.weight(records)
    assert isinstance(wa, ak.Array)
    assert wa.ndim == 1
    assert len(wa) == 7
    # a 1D array is one feature
    assert_array_equal(fitted.weight(x[:, 0]), w)


def test_weights_do_not_depend_on_the_batching_or_the_input_buffer(fitted: DCTR) -> None:
    # 10,000 events: batches of consecutive rows (views of the input) and a last short
    # one; the same events in another order, and from a read-only buffer, give the
    # same weights, and the input is left as it was
    x = np.random.default_rng(3).normal(size=(10_000, 1)).astype(np.float32)
    kept = x.copy()
    w = fitted.weight(x)
    order = np.random.default_rng(4).permutation(len(x))
    assert_array_equal(fitted.weight(x[order]), w[order])
    frozen = x.copy()
    frozen.flags.writeable = False
    assert_array_equal(fitted.weight(frozen), w)
    assert_array_equal(x, kept)


def test_attach_multiplies_an_existing_weight(fitted: DCTR) -> None:
    x = np.array([-1.0, 0.0, 1.5])
    events = ak.zip({"x": x, "weight": np.array([2.0, 0.5, 1.0], dtype=np.float32)})
    # fitted on a numpy column: an awkward record with one feature field is the same input
    attached = fitted.attach(events[["x"]])
    w = fitted.weight(x)
    assert_allclose(ak.to_numpy(attached["weight"]), w, rtol=1e-6)
    assert ak.to_numpy(attached["weight"]).dtype == np.float32
    records_model = DCTR(**fast(epochs=1)).fit(events, events)  # weight is not a feature
    assert records_model.feature_names == ["x"]
    w2 = records_model.weight(events)
    again = records_model.attach(events)
    assert_allclose(ak.to_numpy(again["weight"]), [2.0, 0.5, 1.0] * ak.to_numpy(w2), rtol=1e-6)
    named = records_model.attach(events, field="dctr")
    assert_allclose(ak.to_numpy(named["dctr"]), ak.to_numpy(w2), rtol=1e-6)
    assert_array_equal(ak.to_numpy(named["weight"]), ak.to_numpy(events["weight"]))
    with pytest.raises(TypeError, match="awkward records"):
        fitted.attach(x[:, None])  # type: ignore[arg-type]


def test_weight_field_is_the_initial_weight(rng: np.random.Generator) -> None:
    x = rng.normal(size=400)
    w0 = rng.uniform(0.5, 2.0, 400)
    with_field = ak.zip({"x": x, "weight": w0})
    a = DCTR(**fast(epochs=2)).fit(with_field, ak.zip({"x": x[::-1]}))
    b = DCTR(**fast(epochs=2)).fit(ak.zip({"x": x}), ak.zip({"x": x[::-1]}), real_weight=w0)
    assert_array_equal(a.weight(x), b.weight(x))


def test_sample_weights_act_like_the_density_ratio() -> None:
    # fake ~ N(0, 1) weighted by N(0.5,1)/N(0,1) is N(0.5, 1): against real N(0.5, 1)
    # the learned weight must be ~1 everywhere
    rng = np.random.default_rng(10)
    real = rng.normal(0.5, 1.0, (20_000, 1))
    fake = rng.normal(0.0, 1.0, (20_000, 1))
    dctr = DCTR(**FAST).fit(real, fake, fake_weight=np.exp(0.5 * fake[:, 0] - 0.125))
    x = np.linspace(-1.0, 1.5, 11)[:, None]
    assert np.abs(np.log(dctr.weight(x))).max() < 0.1


def test_unequal_sample_sizes_are_balanced() -> None:
    rng = np.random.default_rng(11)
    real = rng.normal(0.0, 1.0, (4_000, 1))
    fake = rng.normal(0.0, 1.0, (20_000, 1))
    dctr = DCTR(**FAST).fit(real, fake)
    # same density: w ~ 1, not the sample-size ratio 0.2
    assert np.median(dctr.weight(fake)) == pytest.approx(1.0, abs=0.1)


def test_save_load_gives_identical_weights(fitted: DCTR, tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    fitted.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary file left
    loaded = DCTR.load(path, progress=False)
    x = np.linspace(-3, 3, 101)[:, None]
    assert_array_equal(loaded.weight(x), fitted.weight(x))
    assert loaded.history == fitted.history
    assert loaded.temperatures == fitted.temperatures
    assert loaded.config == fitted.config
    assert loaded.feature_names is None


def test_save_load_keeps_feature_names_and_checks_them(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    real = ak.zip({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    fake = ak.zip({"a": rng.normal(0.2, 1.0, 300), "b": rng.normal(size=300)})
    dctr = DCTR(**fast(epochs=2)).fit(real, fake)
    dctr.save(tmp_path / "m.pt")
    loaded = DCTR.load(tmp_path / "m.pt")
    assert loaded.feature_names == ["a", "b"]
    # extra fields are ignored, the fitted fields are selected by name
    extra = ak.with_field(fake, np.zeros(300), "c")
    assert_array_equal(loaded.weight(extra), dctr.weight(fake))
    with pytest.raises(ValueError, match=r"no field\(s\) \['b'\]"):
        loaded.weight(fake[["a"]])


def test_callable_features_must_be_given_again_on_load(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    real, fake = rng.normal(size=(300, 2)), rng.normal(0.1, 1.0, (300, 2))

    def features(x: np.ndarray) -> dict[str, np.ndarray]:
        return {"sum": x.sum(1), "diff": x[:, 0] - x[:, 1]}

    dctr = DCTR(features, **fast(epochs=2)).fit(real, fake)
    assert dctr.feature_names == ["sum", "diff"]
    dctr.save(tmp_path / "m.pt")
    with pytest.raises(ValueError, match="features function"):
        DCTR.load(tmp_path / "m.pt")
    loaded = DCTR.load(tmp_path / "m.pt", features=features)
    assert_array_equal(loaded.weight(fake), dctr.weight(fake))


class _Payload:
    """Unpickling this would create a file: the loader must never do it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def test_load_refuses_pickle_payloads_without_running_them(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    plain = tmp_path / "plain.pt"
    plain.write_bytes(pickle.dumps({"format": "dctrgan.DCTR", "x": _Payload(marker)}))
    zipped = tmp_path / "zipped.pt"
    torch.save({"format": "dctrgan.DCTR", "version": 1, "x": _Payload(marker)}, zipped)
    for path in (plain, zipped):
        with pytest.raises(ValueError, match="not a dctrgan model"):
            DCTR.load(path)
    assert not marker.exists()


def test_load_refuses_other_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a model\n")
    with pytest.raises(ValueError, match="not a dctrgan model"):
        DCTR.load(text)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ValueError, match="not a dctrgan DCTR model"):
        DCTR.load(other)
    with pytest.raises(FileNotFoundError, match="no such file"):
        DCTR.load(tmp_path / "missing.pt")


def test_load_refuses_a_newer_format_version(tmp_path: Path, fitted: DCTR) -> None:
    path = tmp_path / "m.pt"
    fitted.save(path)
    payload = torch.load(path, weights_only=True)
    payload["version"] = 99
    torch.save(payload, path)
    with pytest.raises(ValueError, match=r"newer dctrgan.*version 99"):
        DCTR.load(path)


def old_layout(dctr: DCTR) -> dict[str, Any]:
    """The payload of a model file as ``DCTR.save`` wrote it before the shared model-file
    envelope: format tag, version 1, config and fitted values as JSON text with sorted
    keys, the state dicts (on the CPU) in a list."""
    fitted = {
        "feature_names": dctr.feature_names,
        "n_features": dctr._n_features,
        "geometry": None,
        "temperatures": dctr.temperatures,
        "offsets": dctr.offsets,
        "clip": dctr.clip,
        "history": dctr.history,
    }
    return {
        "format": "dctrgan.DCTR",
        "version": 1,
        "config": json.dumps(dctr.config, sort_keys=True),
        "fitted": json.dumps(fitted, sort_keys=True),
        "state": [{k: v.detach().cpu() for k, v in m.state_dict().items()} for m in dctr._models],
    }


def test_models_saved_in_the_old_layout_load_and_the_layout_is_kept(
    tmp_path: Path, fitted: DCTR
) -> None:
    old = old_layout(fitted)
    torch.save(old, tmp_path / "old.pt")
    loaded = DCTR.load(tmp_path / "old.pt", progress=False)
    x = np.linspace(-3, 3, 101)[:, None]
    assert_array_equal(loaded.weight(x), fitted.weight(x))
    assert loaded.config == fitted.config
    assert loaded.history == fitted.history
    assert (loaded.temperatures, loaded.offsets) == (fitted.temperatures, fitted.offsets)
    fitted.save(tmp_path / "new.pt")
    new = torch.load(tmp_path / "new.pt", weights_only=True)
    assert list(new) == list(old)
    assert [new[k] for k in ("format", "version", "config", "fitted")] == [
        old[k] for k in ("format", "version", "config", "fitted")
    ]
    assert len(new["state"]) == len(old["state"]) == 1
    for key, value in old["state"][0].items():
        assert torch.equal(new["state"][0][key], value)


def test_load_refuses_format_version_2_as_newer(tmp_path: Path, fitted: DCTR) -> None:
    payload = old_layout(fitted)
    payload["version"] = 2
    torch.save(payload, tmp_path / "v2.pt")
    with pytest.raises(
        ValueError,
        match=r"v2\.pt' was written by a newer dctrgan \(model format version 2; "
        r"this dctrgan reads up to 1\): upgrade dctrgan",
    ):
        DCTR.load(tmp_path / "v2.pt")


def test_load_refuses_state_dicts_that_do_not_fit(tmp_path: Path, fitted: DCTR) -> None:
    payload = old_layout(fitted)
    state = payload["state"][0]
    name = next(iter(k for k, v in state.items() if v.ndim == 2))
    state[name] = torch.zeros(3, 3)
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"(?s)bad\.pt' is a damaged DCTR model \(.*size mismatch"):
        DCTR.load(tmp_path / "bad.pt")
    payload = old_layout(fitted)
    payload["fitted"] = json.dumps({"feature_names": None})
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=r"is a damaged DCTR model \('n_features'\)"):
        DCTR.load(tmp_path / "bad.pt")


def test_seeded_determinism(gaussians: tuple[np.ndarray, np.ndarray]) -> None:
    real, fake = gaussians[0][:2000], gaussians[1][:2000]
    x = np.linspace(-2, 2, 9)[:, None]
    a = DCTR(**fast(epochs=3, seed=3)).fit(real, fake).weight(x)
    b = DCTR(**fast(epochs=3, seed=3)).fit(real, fake).weight(x)
    c = DCTR(**fast(epochs=3, seed=4)).fit(real, fake).weight(x)
    assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_folds_out_of_fold_and_log_mean(gaussians: tuple[np.ndarray, np.ndarray]) -> None:
    real, fake = gaussians[0][:3000], gaussians[1][:3000]
    dctr = DCTR(**fast(epochs=3, folds=3)).fit(real, fake)
    assert len(dctr.temperatures) == 3
    assert set(dctr.history["fold"]) == {0.0, 1.0, 2.0}
    oof = dctr.training_weights()
    held_out = dctr.heldout_fold
    assert held_out is not None
    assert np.bincount(held_out).tolist() == [1000, 1000, 1000]
    per_fold = np.stack([dctr.log_weight(fake, fold=j) for j in range(3)])
    # each training event's weight is the one of the classifier that did not see it
    # (float32 weights: log w to ~1e-7)
    assert_allclose(np.log(oof), per_fold[held_out, np.arange(3000)], rtol=0, atol=1e-6)
    # and that classifier never had it among its training or validation events
    for j in range(3):
        assert not np.isin(np.flatnonzero(held_out == j) + len(real), dctr._seen[j]).any()
        assert np.isin(np.flatnonzero(held_out != j) + len(real), dctr._seen[j]).all()
    # new events: the geometric mean over the folds
    assert_allclose(np.log(dctr.weight(fake)), per_fold.mean(0), rtol=0, atol=1e-6)


def test_out_of_fold_weights_carry_no_memorization() -> None:
    # real and fake from the same density, a big net trained far too long on few events:
    # in-sample weights of the fake events are pushed well below 1, out-of-fold ones are not
    rng = np.random.default_rng(14)
    real, fake = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    dctr = DCTR(
        hidden=(256, 256),
        epochs=150,
        batch_size=64,
        lr=3e-3,
        validation=0.0,
        calibrate=None,
        folds=2,
        progress=False,
        ema=None,  # the last parameters: averaging would hide part of the memorization
    ).fit(real, fake)
    in_sample = np.concatenate(
        [dctr.log_weight(fake, fold=j)[dctr.heldout_fold != j] for j in range(2)]
    )
    out_of_fold = np.log(dctr.training_weights())
    assert np.median(in_sample) < -1.0
    assert np.median(out_of_fold) > np.median(in_sample) + 1.0


def test_training_weights_need_folds(fitted: DCTR) -> None:
    with pytest.raises(ValueError, match="folds > 1"):
        fitted.training_weights()


def test_clip_is_applied_and_counted(
    gaussians: tuple[np.ndarray, np.ndarray], caplog: pytest.LogCaptureFixture
) -> None:
    real, fake = gaussians[0][:2000], gaussians[1][:2000]
    dctr = DCTR(**fast(epochs=3, clip=1.2)).fit(real, fake)
    with caplog.at_level(logging.INFO, logger="dctrgan.dctr"):
        w = dctr.weight(fake)
    assert w.max() <= 1.2
    n_over = int(np.sum(dctr.log_weight(fake) > np.log(1.2)))
    assert f"clipped {n_over} of 2000 weights" in caplog.text
    d = dctr.diagnostics(real, fake)
    assert d["clipped_fraction"] == pytest.approx(n_over / 2000)
    assert 0 < d["clipped_fraction"] < 1
    assert d["max_weight"] == pytest.approx(1.2)


def test_fit_warns_when_few_events_carry_the_weight() -> None:
    # real N(4, 1) vs fake N(0, 1): w = exp(4x - 8), n_eff/N = exp(-16) for exact weights
    rng = np.random.default_rng(17)
    real, fake = rng.normal(4.0, 1.0, (2000, 1)), rng.normal(0.0, 1.0, (2000, 1))
    with pytest.warns(RuntimeWarning, match=r"n_eff/N = .*a few events carry the weight"):
        DCTR(**fast(epochs=5)).fit(real, fake)
    # the same code path without the warning when the samples overlap (n_eff/N ~ 0.78)
    near = rng.normal(0.5, 1.0, (2000, 1))
    DCTR(**fast(epochs=5)).fit(near, fake)  # warnings are errors in the test suite


def test_neff_fraction_is_scale_free_and_clipped() -> None:
    log_w = np.array([0.0, 0.0, 2000.0, 2000.0])
    assert neff_fraction(log_w, np.ones(4), None) == pytest.approx(0.5)
    assert neff_fraction(log_w, np.ones(4), 1.0) == pytest.approx(1.0)
    assert neff_fraction(np.log([1.0, 3.0]), np.array([3.0, 1.0]), None) == pytest.approx(1.0)


def test_weights_never_overflow() -> None:
    rng = np.random.default_rng(16)
    real, fake = rng.normal(1.0, 1.0, (2000, 1)), rng.normal(0.0, 1.0, (2000, 1))
    # log w ~ x - 1/2 grows without bound; no clip (the default caps at sqrt(N))
    dctr = DCTR(**fast(epochs=3), clip=None).fit(real, fake)
    w = dctr.weight(np.array([[20.0], [-20.0]]))
    assert np.isfinite(w).all()
    assert (w > 0).all()
    with pytest.warns(RuntimeWarning, match="1 weight.*would overflow float32"):
        w = dctr.weight(np.array([[0.0], [1e6]]))
    assert np.isfinite(w).all()
    assert w[1] > 1e37  # float32 weights: the largest is exp(87.7)


def test_diagnostics(fitted: DCTR) -> None:
    rng = np.random.default_rng(15)
    real, fake = rng.normal(0.0, 1.0, (10_000, 1)), rng.normal(0.3, 1.1, (10_000, 1))
    d = fitted.diagnostics(real, fake)
    assert set(d) == {
        "auc",
        "closure_auc",
        "neff_fraction",
        "neff_bound",
        "max_weight",
        "mean_weight",
        "clipped_fraction",
    }
    # true AUC of N(0,1) vs N(0.3,1.1) by the likelihood ratio is about 0.58
    assert 0.55 < d["auc"] < 0.62
    assert abs(d["closure_auc"] - 0.5) < 0.02
    assert 0.5 < d["neff_fraction"] < 1.0
    # exact weights of N(0.3, 1.1) to N(0, 1) keep n_eff/N = 0.924 (1 / E_G[w^2])
    assert d["neff_fraction"] <= d["neff_bound"] + 0.02
    assert 0.8 < d["neff_bound"] < 1.0
    assert d["clipped_fraction"] == 0.0
    assert d["mean_weight"] == pytest.approx(1.0, abs=0.05)


def test_showers_auto_features_are_high_level(small_showers: tuple[ak.Array, ak.Array]) -> None:
    full, fastsim = small_showers
    dctr = DCTR(**fast(epochs=2)).fit(full, fastsim)
    assert dctr.feature_names == [
        *HIGH_LEVEL_NAMES[:3],
        *(f"energy_layer_{i}" for i in range(1, 13)),
    ]
    w = dctr.weight(fastsim)
    assert isinstance(w, ak.Array)
    assert len(w) == 48
    attached = dctr.attach(fastsim)
    assert_allclose(ak.to_numpy(attached["weight"]), ak.to_numpy(w), rtol=1e-6)
    assert ak.fields(attached) == [*ak.fields(fastsim), "weight", "dctr_weight"]
    # the precomputed high-level array gives the showers' weights, and a model fit on
    # such arrays with features="high_level" has the showers' column names
    precomputed = high_level(fastsim)
    assert_allclose(dctr.weight(precomputed), ak.to_numpy(w), rtol=1e-6)
    from_arrays = DCTR("high_level", **fast(epochs=2)).fit(high_level(full), precomputed)
    assert from_arrays.feature_names == dctr.feature_names
    assert_allclose(
        ak.to_numpy(from_arrays.weight(fastsim)), from_arrays.weight(precomputed), rtol=1e-6
    )
    named = DCTR(["total_energy", "centroid_z"], **fast(epochs=2)).fit(full, fastsim)
    assert named.feature_names == ["total_energy", "centroid_z"]
    assert np.isfinite(ak.to_numpy(named.weight(fastsim))).all()


@pytest.mark.parametrize("model", ["deepsets", "cnn3d"])
def test_low_level_models_fit_and_round_trip(
    model: str, small_showers: tuple[ak.Array, ak.Array], tmp_path: Path
) -> None:
    full, fastsim = small_showers
    kind: Any = model
    dctr = DCTR(model=kind, epochs=2, batch_size=16, width=4, progress=False)
    dctr.fit(full, fastsim)
    w = dctr.weight(fastsim)
    assert isinstance(w, ak.Array)
    values = ak.to_numpy(w)
    assert values.shape == (48,)
    assert np.isfinite(values).all()
    assert (values > 0).all()
    assert len(dctr.history["train_loss"]) == 2
    if model == "cnn3d":  # the paper's defaults: tiling, 1 epoch (overridden here), clip 5
        assert dctr.config["clip"] == 5.0
        assert dctr.config["balance"] == "tile"
        assert values.max() <= 5.0
    dctr.save(tmp_path / "ll.pt")
    loaded = DCTR.load(tmp_path / "ll.pt", progress=False)
    assert_array_equal(ak.to_numpy(loaded.weight(fastsim)), values)
    other = calorimeter(3, energy=10.0, seed=3)  # the default 30-layer geometry
    with pytest.raises(ValueError, match="feature mismatch: geometry"):
        loaded.weight(other)


def test_cnn3d_paper_defaults() -> None:
    config = DCTR(model="cnn3d", device="cpu").config
    assert config["epochs"] == 1
    assert config["clip"] == 5.0
    assert config["balance"] == "tile"
    assert config["calibrate"] == "temperature"
    assert config["hidden"] == [64, 256, 256]
    assert DCTR(model="cnn3d", clip=None, epochs=3).config["clip"] is None
    assert DCTR().config["hidden"] == [128, 128]
    assert (DCTR().config["clip"], DCTR().config["calibrate"]) == ("sqrt_n", "closure")


def test_progress_bars_emit_no_warnings(gaussians: tuple[np.ndarray, np.ndarray]) -> None:
    real, fake = gaussians[0][:500], gaussians[1][:500]
    dctr = DCTR(batch_size=256, epochs=1, progress=True).fit(real, fake)
    assert dctr.weight(fake).shape == (500,)


# ---------------------------------------------------------------- errors


def test_error_non_finite_features_say_how_many_and_where() -> None:
    real = ak.zip({"a": np.ones(10), "b": np.ones(10)})
    b = np.ones(10)
    b[[3, 7]] = [np.nan, np.inf]
    fake = ak.zip({"a": np.ones(10), "b": b})
    with pytest.raises(
        ValueError, match=r"fake: 2 non-finite.*2 in feature 'b' \(column 1\), first at event 3"
    ):
        DCTR(**FAST).fit(real, fake)
    x = np.ones((5, 3))
    x[4, 2] = np.nan
    with pytest.raises(ValueError, match=r"real: 1 non-finite.*column 2, first at event 4"):
        DCTR(**FAST).fit(x, np.ones((5, 3)))


def test_error_non_finite_at_weight_time(fitted: DCTR) -> None:
    with pytest.raises(ValueError, match="events: 1 non-finite"):
        fitted.weight(np.array([[0.0], [np.nan]]))


def test_error_empty_sample() -> None:
    with pytest.raises(ValueError, match="fake: empty sample"):
        DCTR(**FAST).fit(np.ones((5, 2)), np.ones((0, 2)))


def test_error_single_class_splits() -> None:
    with pytest.raises(ValueError, match=r"real: 1 event.*both classes"):
        DCTR(**FAST).fit(np.ones((1, 2)), np.ones((50, 2)))
    with pytest.raises(ValueError, match="fake: 2 event"):
        DCTR(**fast(folds=3)).fit(np.ones((50, 2)), np.ones((3, 2)))


def test_error_bad_sample_weights() -> None:
    x = np.ones((4, 1))
    # zero and negative weights are accepted (issue 14: signed NLO weights, see
    # tests/test_signed_weights.py); a sum <= 0 is not
    for bad, text in (
        ([1.0, 0.0, -2.0, 1.0], r"the weights sum to 0 <= 0 \(1 of 4 negative\)"),
        ([1.0, 1.0, 1.0, np.nan], r"1 weight\(s\) not finite, first nan at event 3"),
        ([1.0, 1.0], r"expected shape \(4,\)"),
    ):
        with pytest.raises(ValueError, match=text):
            DCTR(**FAST).fit(x, x, fake_weight=np.array(bad))
    events = ak.zip({"x": np.ones(4), "weight": np.array([-1.0, -1.0, -1.0, -1.0])})
    with pytest.raises(ValueError, match=r"the events' 'weight' field.*all-negative input weights"):
        DCTR(**FAST).fit(events, events)


def test_error_feature_mismatch(fitted: DCTR) -> None:
    with pytest.raises(ValueError, match="feature mismatch: 2 features, the model was fitted on 1"):
        fitted.weight(np.ones((3, 2)))
    with pytest.raises(ValueError, match="fake: feature mismatch"):
        DCTR(**FAST).fit(np.ones((5, 2)), np.ones((5, 3)))
    a = ak.zip({"x": np.ones(5), "y": np.ones(5)})
    b = ak.zip({"x": np.ones(5), "z": np.ones(5)})
    with pytest.raises(ValueError, match="fake: feature mismatch"):
        DCTR(**FAST).fit(a, b)


def test_error_before_fit() -> None:
    dctr = DCTR()
    for call in (
        lambda: dctr.weight(np.ones((2, 1))),
        lambda: dctr.save("never.pt"),
        dctr.training_weights,
    ):
        with pytest.raises(RuntimeError, match=r"not fitted; call fit\(\)"):
            call()


def test_hyperparameters_are_keyword_only_after_features_and_model() -> None:
    assert DCTR("high_level", "mlp", epochs=3).config["epochs"] == 3
    with pytest.raises(TypeError, match="positional argument"):
        DCTR("high_level", "mlp", (64, 64))  # type: ignore[call-arg]


def test_error_bad_arguments() -> None:
    for kwargs, text in (
        ({"model": "bdt"}, "model must be one of"),
        ({"clip": -1.0}, "clip must be"),
        ({"validation": 1.0}, "validation must be"),
        ({"validation": 0.0}, "calibrate='closure' needs held-out events"),
        ({"validation": 0.0, "calibrate": "temperature"}, "'temperature' needs held-out"),
        ({"calibrate": "platt"}, "calibrate must be one of"),
        ({"clip": "sqrt"}, "clip must be None, 'auto', 'sqrt_n' or a positive number"),
        ({"folds": 0}, "folds must be"),
        ({"balance": "maybe"}, "balance must be"),
        ({"model": "deepsets", "features": "high_level"}, "reads the hits"),
        ({"lr": 0.0}, "lr must be"),
    ):
        with pytest.raises(ValueError, match=text):
            DCTR(**kwargs)
    with pytest.raises(ValueError, match=r"needs the \(N, 3 \+ layers\) columns"):
        DCTR("high_level", **FAST).fit(np.ones((5, 2)), np.ones((5, 2)))
    with pytest.raises(ValueError, match="'high_level' needs awkward showers"):
        DCTR("high_level", **FAST).fit(ak.Array({"a": [1.0]}), ak.Array({"a": [2.0]}))
    with pytest.raises(ValueError, match="need awkward records or showers"):
        DCTR(["a"], **FAST).fit(np.ones((5, 2)), np.ones((5, 2)))
    with pytest.raises(ValueError, match="low-level models need awkward showers"):
        DCTR(model="deepsets", progress=False).fit(np.ones((5, 2)), np.ones((5, 2)))


def test_dask_awkward_weights_are_lazy_and_equal() -> None:
    import dask_awkward as dak

    rng = np.random.default_rng(17)
    records = ak.zip({"a": rng.normal(size=600), "b": rng.normal(size=600)})
    dctr = DCTR(**fast(epochs=2)).fit(records, records[::-1])
    events = ak.with_field(records, np.full(600, 2.0, dtype=np.float32), "weight")
    lazy = dak.from_awkward(events, npartitions=3)
    w = dctr.weight(lazy)
    assert isinstance(w, dak.Array)
    # batches of other sizes may round differently in float32: equal to float32 precision
    assert_allclose(ak.to_numpy(w.compute()), ak.to_numpy(dctr.weight(events)), rtol=1e-6)
    attached = dctr.attach(lazy).compute()
    assert_allclose(
        ak.to_numpy(attached["weight"]), 2 * ak.to_numpy(dctr.weight(events)), rtol=1e-6
    )
    # showers: the high-level features are computed per partition
    geometry = Geometry(n_layers=12, n_x=12, n_y=12, absorber=(2.1,) * 12)
    showers = calorimeter(30, energy=10.0, geometry=geometry, seed=5)
    hl = DCTR(**fast(epochs=1)).fit(showers, showers[::-1])
    lazy_showers = dak.from_awkward(showers, npartitions=2)
    assert_allclose(
        ak.to_numpy(hl.weight(lazy_showers).compute()), ak.to_numpy(hl.weight(showers)), rtol=1e-6
    )


def test_log_weight_fold_out_of_range(fitted: DCTR) -> None:
    with pytest.raises(ValueError, match=r"fold must be in \[0, 1\)"):
        fitted.log_weight(np.zeros((2, 1)), fold=1)


def test_tiling_and_class_balance() -> None:
    from dctrgan.dctr._split import balance, tile

    is_real = np.arange(13) < 3  # 3 real events, 10 fake
    rng = np.random.default_rng(18)
    index = tile(np.arange(13), is_real, rng)
    assert np.sum(is_real[index]) == np.sum(~is_real[index]) == 10
    counts = np.bincount(index[is_real[index]], minlength=3)
    assert sorted(counts.tolist()) == [3, 3, 4]  # 3 full copies and a random top-up
    weight = np.linspace(0.5, 2.0, 13)
    balance(weight, index, is_real)
    # each class totals half the (tiled) training set, repeated events counted
    assert np.sum(weight[index][is_real[index]]) == pytest.approx(10.0)
    assert np.sum(weight[index][~is_real[index]]) == pytest.approx(10.0)


def test_unequal_sizes_with_tiling_keep_the_density_ratio() -> None:
    rng = np.random.default_rng(19)
    real = rng.normal(0.0, 1.0, (3_000, 1))
    fake = rng.normal(0.0, 1.0, (15_000, 1))
    dctr = DCTR(**fast(balance="tile")).fit(real, fake)
    assert np.median(dctr.weight(fake)) == pytest.approx(1.0, abs=0.1)
