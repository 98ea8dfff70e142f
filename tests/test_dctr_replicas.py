"""DCTR replicas: the batched network, the training, weights with replicas in every
container, attach / write / read, save / load, coffea's Weights, and the errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import awkward as ak
import dask
import dask_awkward as dak
import numpy as np
import pytest
import torch
from coffea import processor
from coffea.analysis_tools import Weights
from coffea.nanoevents import BaseSchema, NanoEventsFactory
from numpy.testing import assert_allclose, assert_array_equal

import dctrgan
from dctrgan.data import Geometry
from dctrgan.dctr import DCTR
from dctrgan.dctr._replicas import ReplicaAdam
from dctrgan.modelfile import read_model, write_model
from dctrgan.nn import BatchedMLPClassifier, MLPClassifier, fit_standardize
from dctrgan.simulate import calorimeter

FAST: dict[str, Any] = {"batch_size": 512, "epochs": 15, "patience": 3, "progress": False}
K = 4


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    """Small nets on one intra-op thread (see tests/test_dctr.py)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def log_ratio(x: np.ndarray) -> np.ndarray:
    """The true log-weight of N(0, 1) over N(0.3, 1.1), 1D."""
    z_real, z_fake = x[:, 0], (x[:, 0] - 0.3) / 1.1
    return -0.5 * z_real**2 + 0.5 * z_fake**2 + np.log(1.1)


def gaussians(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Real N(0, 1) and fake N(0.3, 1.1), 1D, ``n`` each."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.0, (n, 1)), rng.normal(0.3, 1.1, (n, 1))


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    return gaussians(20_000, 7)


@pytest.fixture(scope="module")
def bootstrap(pair: tuple[np.ndarray, np.ndarray]) -> DCTR:
    return DCTR(**FAST, replicas=K).fit(*pair)


@pytest.fixture(scope="module")
def test_events() -> np.ndarray:
    return np.random.default_rng(8).normal(0.3, 1.1, (20_000, 1))


# ---------------------------------------------------------------- the batched network


def test_batched_mlp_computes_what_its_copies_compute(rng: np.random.Generator) -> None:
    x = torch.from_numpy(rng.exponential(2.0, (64, 5)).astype(np.float32))
    copies = []
    for seed in range(3):
        torch.manual_seed(seed)
        c = MLPClassifier(5, (16, 8))
        c.standardize.load_state_dict(fit_standardize(x[seed::3]).state_dict())
        copies.append(c)
    batched = BatchedMLPClassifier.stack(copies)
    expected = torch.stack([c(x) for c in copies], dim=1)
    assert batched(x).shape == (64, 3)
    assert_allclose(batched(x).detach(), expected.detach(), rtol=1e-5, atol=1e-6)
    # each copy its own events, and a subset of the copies
    per_copy = torch.stack([x, x.flip(0), x.roll(1, 0)])
    out = batched(per_copy[[0, 2]], torch.tensor([0, 2])).detach()
    assert_allclose(out[:, 1], copies[2](x.roll(1, 0)).detach(), rtol=1e-5, atol=1e-6)
    for original, back in zip(copies, batched.unstack(), strict=True):
        for (name, a), b in zip(
            original.state_dict().items(), back.state_dict().values(), strict=True
        ):
            assert torch.equal(a, b), name


def test_replica_adam_is_torch_adam_per_replica() -> None:
    # three replicas, the last with a learning rate of 0: the first two follow
    # torch.optim.Adam exactly (to float32 rounding), the last stays put
    torch.manual_seed(0)
    theta = torch.randn(3, 4, 5, requires_grad=True)
    reference = [theta[i].detach().clone().requires_grad_() for i in range(2)]
    ours = ReplicaAdam([theta], torch.tensor([1e-2, 1e-2, 0.0]))
    theirs = torch.optim.Adam(reference, lr=1e-2)
    start = theta.detach().clone()
    for step in range(5):
        target = torch.randn(4, 5, generator=torch.Generator().manual_seed(step))
        ours.zero_grad()
        ((theta - target) ** 2 * (1 + step)).sum().backward()
        ours.step()
        theirs.zero_grad()
        sum(((r - target) ** 2 * (1 + step)).sum() for r in reference).backward()
        theirs.step()
    for i in range(2):
        assert_allclose(theta[i].detach(), reference[i].detach(), rtol=1e-5, atol=1e-6)
    assert torch.equal(theta[2].detach(), start[2])


# ---------------------------------------------------------------- weights and their spread


def test_replicas_zero_is_todays_model(
    pair: tuple[np.ndarray, np.ndarray], bootstrap: DCTR
) -> None:
    plain = DCTR(**FAST).fit(*pair)
    zero = DCTR(**FAST, replicas=0).fit(*pair)
    x = pair[1][:2000]
    assert_array_equal(zero.weight(x), plain.weight(x))
    # the nominal of a model with replicas is trained exactly as without them
    assert_array_equal(bootstrap.weight(x), plain.weight(x))
    assert zero.config["replicas"] == 0
    assert zero.replica_temperatures == []


def test_shapes_and_dtypes_per_container(bootstrap: DCTR, test_events: np.ndarray) -> None:
    x = test_events[:500]
    w, r = bootstrap.weight(x, replicas=True)
    assert w.shape == (500,)
    assert w.dtype == np.float32
    assert r.shape == (500, K)
    assert r.dtype == np.float32
    assert np.isfinite(r).all()
    assert (r > 0).all()
    assert_array_equal(w, bootstrap.weight(x))

    wt, rt = bootstrap.weight(torch.from_numpy(x), replicas=True)
    assert isinstance(wt, torch.Tensor)
    assert isinstance(rt, torch.Tensor)
    assert rt.shape == (500, K)
    assert rt.dtype == torch.float32
    assert_array_equal(rt.numpy(), r)

    records = ak.zip({"x": x[:, 0]})
    dctr = DCTR(["x"], **FAST, replicas=2).fit(
        ak.zip({"x": gaussians(4000, 3)[0][:, 0]}), ak.zip({"x": gaussians(4000, 3)[1][:, 0]})
    )
    wa, ra = dctr.weight(records, replicas=True)
    assert str(ak.type(wa)) == "500 * float32"
    assert str(ak.type(ra)) == "500 * 2 * float32"

    lazy = dak.from_awkward(records, npartitions=3)
    wl, rl = dctr.weight(lazy, replicas=True)
    assert isinstance(wl, dak.Array)
    assert isinstance(rl, dak.Array)
    assert set(dak.report_necessary_columns(rl).popitem()[1]) == {"x"}
    wc, rc = dask.compute(wl, rl)
    # partitions of other sizes than one batch of 500: the same to float32 rounding
    assert_allclose(ak.to_numpy(wc), ak.to_numpy(wa), rtol=1e-6)
    assert_allclose(ak.to_numpy(rc), ak.to_numpy(ra), rtol=1e-6)


def test_replicas_scatter_around_the_nominal(bootstrap: DCTR, test_events: np.ndarray) -> None:
    # on the central 90 % of the fake density, 20k events per class: the replicas'
    # log-weights spread by ~0.03 (median standard deviation per event) and differ from
    # the nominal's by 0.01-0.04; their mean is ~0.02 from the nominal's (bound 0.04)
    # and ~0.025 from the true log-ratio (nominal: ~0.017; bound 0.06 as in test_dctr.py)
    x = test_events
    lo, hi = np.quantile(x, [0.05, 0.95])
    central = (x[:, 0] > lo) & (x[:, 0] < hi)
    w, r = bootstrap.weight(x, replicas=True)
    log_w, log_r = np.log(w.astype(np.float64))[central], np.log(r.astype(np.float64))[central]
    spread = log_r.std(axis=1, ddof=1)
    assert 0.003 < np.median(spread) < 0.1
    for i in range(K):
        assert np.median(np.abs(log_r[:, i] - log_w)) > 1e-3
        for j in range(i):
            assert np.median(np.abs(log_r[:, i] - log_r[:, j])) > 1e-3
    assert np.median(np.abs(log_r.mean(axis=1) - log_w)) < 0.04
    truth = log_ratio(x[central])
    assert np.median(np.abs(log_r.mean(axis=1) - truth)) < 0.06
    assert np.median(np.abs(log_w - truth)) < 0.06
    assert len(bootstrap.replica_temperatures) == K
    assert all(0.7 < t < 1.4 for t in bootstrap.replica_temperatures)


def test_bootstrap_spreads_more_than_ensemble() -> None:
    # 2000 events per class: the bootstrap adds the statistical fluctuation of the
    # training samples to the seeds' (observed: median spread of log w 0.042 against
    # 0.025 for the ensemble on the central 90 %)
    real, fake = gaussians(2000, 11)
    x = np.random.default_rng(12).normal(0.3, 1.1, (5000, 1))
    lo, hi = np.quantile(x, [0.05, 0.95])
    central = (x[:, 0] > lo) & (x[:, 0] < hi)
    spreads = {}
    for method in ("bootstrap", "ensemble"):
        dctr = DCTR(**FAST, replicas=6, replica_method=method).fit(real, fake)
        _, r = dctr.weight(x[central], replicas=True)
        spreads[method] = float(np.median(np.log(r).std(axis=1, ddof=1)))
    assert spreads["ensemble"] > 0.005
    assert spreads["bootstrap"] > 1.2 * spreads["ensemble"]


def test_low_level_replicas_train_one_after_the_other() -> None:
    geometry = Geometry(n_layers=12, n_x=12, n_y=12, absorber=(2.1,) * 12)
    full = calorimeter(48, energy=10.0, geometry=geometry, seed=1)
    fast = calorimeter(48, energy=10.0, variant="fast", geometry=geometry, seed=2)
    dctr = DCTR(model="deepsets", epochs=1, batch_size=16, width=8, hidden=(16,), progress=False)
    plain = dctr.fit(full, fast).weight(fast)
    replicated = DCTR(
        model="deepsets", epochs=1, batch_size=16, width=8, hidden=(16,), progress=False, replicas=2
    ).fit(full, fast)
    w, r = replicated.weight(fast, replicas=True)
    assert_array_equal(ak.to_numpy(w), ak.to_numpy(plain))
    assert str(ak.type(r)) == "48 * 2 * float32"
    assert not np.array_equal(ak.to_numpy(r)[:, 0], ak.to_numpy(r)[:, 1])


# ---------------------------------------------------------------- attach, files


def test_attach_write_read_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    real = ak.zip({"x": rng.normal(0.0, 1.0, 3000), "y": rng.normal(0.0, 1.0, 3000)})
    fake = ak.zip({"x": rng.normal(0.2, 1.0, 3000), "y": rng.normal(0.0, 1.2, 3000)})
    dctr = DCTR(["x", "y"], **FAST, replicas=3).fit(real, fake)
    given = rng.uniform(0.5, 2.0, 3000).astype(np.float32)
    events = dctr.attach(ak.with_field(fake, given, "weight"))
    assert str(ak.type(events.dctr_replicas)) == "3000 * 3 * float32"
    w, r = dctr.weight(fake, replicas=True)
    # the DCTR factors alone, not multiplied by the input weights
    assert_array_equal(ak.to_numpy(events.dctr_replicas), ak.to_numpy(r))
    full = np.asarray(events.weight / events.dctr_weight)[:, None] * ak.to_numpy(
        events.dctr_replicas
    )
    assert_allclose(full, given[:, None].astype(np.float64) * ak.to_numpy(r), rtol=1e-6)
    for rntuple in (False, True):
        path = dctrgan.write(tmp_path / f"weighted{int(rntuple)}.root", events, rntuple=rntuple)
        back = dctrgan.read(path)
        assert str(ak.type(back.dctr_replicas)) == "3000 * 3 * float32"
        assert_array_equal(ak.to_numpy(back.dctr_replicas), ak.to_numpy(events.dctr_replicas))
        assert_array_equal(ak.to_numpy(back.weight), ak.to_numpy(events.weight))
    # an earlier DCTR factor without replicas multiplies every replica
    earlier = DCTR(["x", "y"], **FAST).fit(real, fake)
    twice = dctr.attach(earlier.attach(ak.with_field(fake, given, "weight")))
    expected = ak.to_numpy(earlier.weight(fake)).astype(np.float64)[:, None] * ak.to_numpy(r)
    assert_allclose(ak.to_numpy(twice.dctr_replicas), expected, rtol=1e-6)
    assert_allclose(ak.to_numpy(twice.dctr_weight), expected[:, 0] / ak.to_numpy(r)[:, 0] * w)
    lazy = dctr.attach(dak.from_awkward(ak.with_field(fake, given, "weight"), npartitions=2))
    assert_array_equal(ak.to_numpy(lazy.dctr_replicas.compute()), ak.to_numpy(r))


def test_attach_weights_computed_elsewhere_is_attach() -> None:
    rng = np.random.default_rng(6)
    real = ak.zip({"x": rng.normal(0.0, 1.0, 2000)})
    fake = ak.zip({"x": rng.normal(0.3, 1.0, 2000)})
    dctr = DCTR(["x"], **FAST, replicas=2).fit(real, fake)
    given = ak.with_field(fake, rng.uniform(0.5, 2.0, 2000).astype(np.float32), "weight")
    w, r = dctr.weight(given, replicas=True)
    for attached in (
        dctrgan.dctr.attach_weights(given, ak.to_numpy(w), ak.to_numpy(r)),
        dctrgan.dctr.attach_weights(given, w, r),
    ):
        assert ak.array_equal(attached, dctr.attach(given))
        assert str(ak.type(attached)) == str(ak.type(dctr.attach(given)))
    plain = dctrgan.dctr.attach_weights(fake, ak.to_numpy(w), field="dctr")
    assert ak.fields(plain) == ["x", "dctr"]
    with pytest.raises(ValueError, match=r"weights of shape \(1999,\) for 2000 events"):
        dctrgan.dctr.attach_weights(fake, ak.to_numpy(w)[1:])
    with pytest.raises(ValueError, match=r"replicas of shape \(2000,\) for 2000 events"):
        dctrgan.dctr.attach_weights(fake, w, ak.to_numpy(r)[:, 0])
    with pytest.raises(TypeError, match="needs awkward records"):
        dctrgan.dctr.attach_weights(np.zeros(2000), w)


def test_save_load_round_trip(bootstrap: DCTR, tmp_path: Path, test_events: np.ndarray) -> None:
    path = tmp_path / "replicas.pt"
    bootstrap.save(path)
    loaded = DCTR.load(path, progress=False)
    x = test_events[:3000]
    w, r = bootstrap.weight(x, replicas=True)
    wl, rl = loaded.weight(x, replicas=True)
    assert_array_equal(wl, w)
    assert_array_equal(rl, r)
    assert loaded.replica_temperatures == bootstrap.replica_temperatures
    assert loaded.config["replicas"] == K
    assert loaded.config["replica_method"] == "bootstrap"


def test_files_from_before_replicas_load(
    pair: tuple[np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    plain = DCTR(**FAST).fit(*pair)
    path = tmp_path / "old.pt"
    plain.save(path)
    payload = read_model(path, "DCTR", "dctrgan.DCTR", 1)
    config = json.loads(payload["config"])
    del config["replicas"], config["replica_method"]
    payload["config"] = json.dumps(config)
    write_model(path, payload)
    loaded = DCTR.load(path, progress=False)
    assert loaded.config["replicas"] == 0
    assert_array_equal(loaded.weight(pair[1][:100]), plain.weight(pair[1][:100]))
    with pytest.raises(ValueError, match="replicas=True needs a model fitted with replicas"):
        loaded.weight(pair[1][:100], replicas=True)


def test_damaged_replica_file(bootstrap: DCTR, tmp_path: Path) -> None:
    path = tmp_path / "damaged.pt"
    bootstrap.save(path)
    payload = read_model(path, "DCTR", "dctrgan.DCTR", 1)
    del payload["replicas"]
    write_model(path, payload)
    with pytest.raises(ValueError, match="damaged DCTR model"):
        DCTR.load(path)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("value", [-1, 1.5, True, "3"])
def test_bad_replicas(value: Any) -> None:
    with pytest.raises(ValueError, match="replicas must be a non-negative int"):
        DCTR(replicas=value)


def test_bad_replica_method() -> None:
    with pytest.raises(ValueError, match="replica_method must be one of"):
        DCTR(replicas=2, replica_method="jackknife")  # type: ignore[arg-type]


def test_replicas_with_folds_are_refused() -> None:
    with pytest.raises(ValueError, match=r"replicas=3 with folds=2"):
        DCTR(replicas=3, folds=2)


def test_replicas_of_unfitted_or_plain_models(pair: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        DCTR(replicas=2).weight(pair[1], replicas=True)
    plain = DCTR(**(FAST | {"epochs": 1})).fit(*pair)
    with pytest.raises(ValueError, match="replicas=True needs a model fitted with replicas"):
        plain.weight(pair[1], replicas=True)
    with pytest.raises(ValueError, match="variations='replicas' needs a model fitted"):
        plain.add_to(Weights(len(pair[1])), pair[1], variations="replicas")


def test_add_to_errors(bootstrap: DCTR, pair: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="variations must be one of"):
        bootstrap.add_to(Weights(100), pair[1][:100], variations="all")  # type: ignore[arg-type]
    one = DCTR(**(FAST | {"epochs": 1}), replicas=1).fit(*pair)
    with pytest.raises(ValueError, match="k >= 2 for the envelope"):
        one.add_to(Weights(100), pair[1][:100], variations="envelope")
    with pytest.raises(ValueError, match="Avoid using 'Up' and 'Down'"):  # coffea's rule
        bootstrap.add_to(Weights(100), pair[1][:100], name="dctrUp")


# ---------------------------------------------------------------- coffea


class ReplicaProcessor(processor.ProcessorABC):  # type: ignore[misc]
    """Adds the DCTR weights and their variations to coffea's Weights."""

    def __init__(self, dctr: DCTR, variations: str) -> None:
        self.dctr, self.variations = dctr, variations

    def process(self, events: Any) -> dict[str, Any]:
        lazy = isinstance(events, dak.Array)
        weights = Weights(None if lazy else len(events))
        self.dctr.add_to(weights, events, variations=self.variations)  # type: ignore[arg-type]
        return {m: weights.weight(m) for m in [None, *sorted(weights.variations)]}

    def postprocess(self, accumulator: Any) -> Any:
        return accumulator


@pytest.fixture(scope="module")
def toy_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DCTR]:
    rng = np.random.default_rng(21)
    real = ak.zip({"x": rng.normal(0.0, 1.0, 4000)})
    fake = ak.zip({"x": rng.normal(0.3, 1.1, 4000)})
    path = dctrgan.write(tmp_path_factory.mktemp("coffea") / "toy.root", fake[:300])
    return path, DCTR(["x"], **FAST, replicas=3).fit(real, fake)


@pytest.mark.parametrize("mode", ["eager", "dask"])
def test_coffea_processor_replicas(toy_file: tuple[Path, DCTR], mode: str) -> None:
    path, dctr = toy_file
    events = NanoEventsFactory.from_root(
        {str(path): "events"}, schemaclass=BaseSchema, mode=mode
    ).events()
    out = ReplicaProcessor(dctr, "replicas").process(events)
    if mode == "dask":
        (out,) = dask.compute(out)
    w, r = dctr.weight(dctrgan.read(path), replicas=True)
    w, r = ak.to_numpy(w), ak.to_numpy(r)
    # float32: the dask graph evaluates other batch sizes, one ulp apart at most
    assert_allclose(np.asarray(out[None]), w, rtol=3e-7)
    names = {f"dctr_replica{i}{s}" for i in range(3) for s in ("Up", "Down")}
    assert set(out) - {None} == names
    for i in range(3):
        assert_allclose(np.asarray(out[f"dctr_replica{i}Up"]), r[:, i], rtol=1e-12)
        # coffea's Down of a replica: its mirror about the nominal
        assert_allclose(
            np.asarray(out[f"dctr_replica{i}Down"]), w.astype(np.float64) ** 2 / r[:, i], rtol=1e-6
        )


@pytest.mark.parametrize("mode", ["eager", "dask"])
def test_coffea_processor_envelope(toy_file: tuple[Path, DCTR], mode: str) -> None:
    path, dctr = toy_file
    events = NanoEventsFactory.from_root(
        {str(path): "events"}, schemaclass=BaseSchema, mode=mode
    ).events()
    out = ReplicaProcessor(dctr, "envelope").process(events)
    if mode == "dask":
        (out,) = dask.compute(out)
    w, r = dctr.weight(dctrgan.read(path), replicas=True)
    w, r = ak.to_numpy(w).astype(np.float64), ak.to_numpy(r).astype(np.float64)
    spread = np.log(r).std(axis=1, ddof=1)
    assert set(out) == {None, "dctrUp", "dctrDown"}
    assert_allclose(np.asarray(out[None]), w, rtol=3e-7)  # float32, as above
    assert_allclose(np.asarray(out["dctrUp"]), w * np.exp(spread), rtol=1e-6)
    assert_allclose(np.asarray(out["dctrDown"]), w * np.exp(-spread), rtol=1e-6)
