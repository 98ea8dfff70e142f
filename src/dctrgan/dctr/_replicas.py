"""Replicas of the DCTR classifier: copies trained like the nominal one, whose spread is
the uncertainty of the weights.

Private helper of :mod:`dctrgan.dctr`. Replica ``r`` is trained on the nominal
classifier's training and validation events with a seed of its own and, for
``replica_method="bootstrap"``, Poisson(1) event counts on both samples (a bootstrap of
the whole fit: training, early stopping and calibration). The ``k`` MLPs train together
as one :class:`~dctrgan.nn.BatchedMLPClassifier` (:func:`fit_batched`: one optimizer
step updates all of them); the low-level models train one after the other with the
nominal fit's :func:`~dctrgan.dctr._fit.fit_fold` (``k`` times its cost).

References:
    B. Efron, "Bootstrap methods: another look at the jackknife", Ann. Statist. 7
    (1979) 1; the Poisson bootstrap: N. Hanley, B. MacGibbon, "Creating non-parametric
    bootstrap samples using Poisson frequencies", Comput. Methods Programs Biomed. 83
    (2006) 57. B. Lakshminarayanan et al., "Simple and scalable predictive uncertainty
    estimation using deep ensembles", NeurIPS 2017.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import awkward as ak
import numpy as np
import torch
from torch import nn

from dctrgan.data import Geometry
from dctrgan.dctr._fit import (
    PREDICT_BATCH,
    Run,
    build_classifier,
    calibrate_fold,
    checked,
    fit_fold,
    predict_logits,
)
from dctrgan.dctr._inputs import Container, Sample, as_container
from dctrgan.dctr._split import balance, tile
from dctrgan.dctr.calibration import weights_from_log
from dctrgan.dctr.config import Config
from dctrgan.modelfile import cpu_state
from dctrgan.nn import BatchedMLPClassifier, MLPClassifier, fit_standardize
from dctrgan.training import (
    Step,
    autocast,
    averaged,
    cpu_threads,
    seeded,
    threads,
    weighted_loss,
)

__all__ = (
    "REPLICA_FIELD",
    "ReplicaAdam",
    "Replicas",
    "fit_replicas",
    "load_replicas",
    "replica_log_weight",
    "replica_meta",
    "replica_weights",
    "replicas_as",
    "require_replicas",
)

log = logging.getLogger(__name__)

#: The field of :meth:`dctrgan.DCTR.attach` with the replicas' DCTR factors.
REPLICA_FIELD = "dctr_replicas"
#: Poisson draws tried for a replica before giving up on a split too small to keep
#: an event of each class in its training and validation events.
DRAWS = 100
#: Adam's defaults, as :class:`torch.optim.Adam`: betas and eps.
BETAS, EPS = (0.9, 0.999), 1e-8


@dataclasses.dataclass(frozen=True)
class Replicas:
    """The replica classifiers of a fit: ``log w_r = logit_r / T_r + b_r``.

    Attributes:
        models: one :class:`~dctrgan.nn.BatchedMLPClassifier` holding all ``k``
            (``model="mlp"``), or ``k`` classifiers.
        temperatures: ``T_r`` of each replica, fitted on its validation events.
        offsets: ``b_r`` of each replica (``normalize``).
    """

    models: list[nn.Module]
    temperatures: list[float]
    offsets: list[float]

    def saved(self, fitted: dict[str, Any]) -> dict[str, Any]:
        """Add the temperatures and offsets to a model file's ``fitted`` values; return
        the file's further entries: ``{"replicas": state dicts on the CPU}``."""
        fitted["replica_temperatures"] = self.temperatures
        fitted["replica_offsets"] = self.offsets
        return {"replicas": [cpu_state(m) for m in self.models]}


def _seed(c: Config, r: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([c.seed, r + 1])


def _counts(c: Config, sample: Sample, split: tuple[np.ndarray, np.ndarray], r: int) -> np.ndarray:
    """Event counts ``(N,)`` of replica ``r``: Poisson(1) draws (``"bootstrap"``) that
    leave each class a positive total in the training and the validation events, or
    ones (``"ensemble"``)."""
    n = len(sample.is_real)
    if c.replica_method == "ensemble":
        return np.ones(n)
    rng = np.random.default_rng(_seed(c, r))
    for _ in range(DRAWS):
        counts = rng.poisson(1.0, n).astype(np.float64)
        kept = [
            (sample.weight[events] * counts[events]).sum() > 0
            for index in split
            if len(index)
            for events in (index[sample.is_real[index]], index[~sample.is_real[index]])
        ]
        if all(kept):
            return counts
    msg = (
        f"replicas: a Poisson bootstrap of {n} events leaves a class without events in the "
        f"training or validation split {DRAWS} times in a row; use more events, or "
        "replica_method='ensemble'"
    )
    raise ValueError(msg)


def fit_replicas(
    c: Config, sample: Sample, split: tuple[np.ndarray, np.ndarray], run: Run
) -> Replicas:
    """Train and calibrate the ``c.replicas`` replicas on the nominal split
    ``(train_index, val_index)``: batched for the MLP, one after the other else."""
    counts = [_counts(c, sample, split, r) for r in range(c.replicas)]
    seeds = [int(_seed(c, r).generate_state(1)[0]) for r in range(c.replicas)]
    if c.model == "mlp":
        return fit_batched(c, sample, split, counts, seeds, run)
    train_index, val_index = split
    fits = []
    for r, (n, seed) in enumerate(zip(counts, seeds, strict=True)):
        # a bootstrap sample: the events drawn 0 times are not in it
        keep = n > 0
        replica = dataclasses.replace(sample, weight=sample.weight * n)
        label = f" replica {r + 1}/{c.replicas}"
        fits.append(
            fit_fold(
                c,
                replica,
                train_index[keep[train_index]],
                val_index[keep[val_index]],
                np.random.default_rng(seed),
                dataclasses.replace(run, desc=run.desc + label, seed=seed),
                warn=False,
            )
        )
    return Replicas(
        [f.model for f in fits], [f.temperature for f in fits], [f.offset for f in fits]
    )


class ReplicaAdam:
    """:class:`torch.optim.Adam` (its defaults, no weight decay) with a learning rate per
    replica: the leading axis of every parameter (Kingma & Ba, ICLR 2015, Algorithm 1)."""

    def __init__(self, params: Sequence[torch.Tensor], lr: torch.Tensor) -> None:
        self.params, self.lr, self.t = list(params), lr, 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        (b1, b2), t = BETAS, self.t
        size = self.lr / (1 - b1**t)
        grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in self.params]
        # one call per operation over all parameters (torch's foreach Adam)
        torch._foreach_lerp_(self.m, grads, 1 - b1)
        torch._foreach_mul_(self.v, b2)
        torch._foreach_addcmul_(self.v, grads, grads, 1 - b2)
        denominator = torch._foreach_sqrt(self.v)
        torch._foreach_div_(denominator, math.sqrt(1 - b2**t))
        torch._foreach_add_(denominator, EPS)
        update = torch._foreach_div(self.m, denominator)
        torch._foreach_mul_(update, [size.view(-1, *([1] * (p.dim() - 1))) for p in self.params])
        torch._foreach_sub_(self.params, update)


def _scaled(
    c: Config,
    sample: Sample,
    split: tuple[np.ndarray, np.ndarray],
    counts: Sequence[np.ndarray],
    seeds: Sequence[int],
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The replicas' sample weights ``(k, N)`` (input weights times counts), the same
    class-balanced over the training and over the validation events, and the training
    events of each (tiled with ``balance="tile"``: as many for every replica)."""
    train_index, val_index = split
    weight = sample.weight[None, :] * np.stack(counts)
    scaled = weight.copy()
    trains = []
    for r, seed in enumerate(seeds):
        index = train_index
        if c.balance == "tile":
            index = tile(train_index, sample.is_real, np.random.default_rng(seed))
        trains.append(index)
        for events in (index, val_index):
            balance(scaled[r], events, sample.is_real)
    return weight, scaled, trains


def _logits(model: nn.Module, x: torch.Tensor, index: np.ndarray) -> torch.Tensor:
    """Logits ``(len(index), k)`` of the batched ``model`` for the events ``index`` of ``x``."""
    batch = PREDICT_BATCH["mlp"]
    with torch.no_grad():
        out = [
            model(x[torch.from_numpy(index[i : i + batch]).to(x.device)]).float()
            for i in range(0, len(index), batch)
        ]
    return torch.cat(out)


def fit_batched(
    c: Config,
    sample: Sample,
    split: tuple[np.ndarray, np.ndarray],
    counts: Sequence[np.ndarray],
    seeds: Sequence[int],
    run: Run,
) -> Replicas:
    """Train ``k`` MLPs as one :class:`~dctrgan.nn.BatchedMLPClassifier`.

    Every replica has what the nominal fit has, on its own: the initialization and
    the order of its training events from its seed, its weights in the loss (the
    loss summed over the replicas keeps their gradients apart), Adam's moments and
    learning rate (divided by 10 when its validation loss stalls for 2 epochs), the
    parameter average (``ema``), early stopping (a stopped replica's learning rate
    is 0) with its best epoch restored, its temperature and offset. What they share
    is the step count: training ends once every replica has stopped, or after
    ``epochs``.
    """
    val_index = split[1]
    k, device = len(seeds), run.device
    weight, scaled, trains = _scaled(c, sample, split, counts, seeds)
    x_cpu = sample.inputs(np.arange(len(sample.is_real), dtype=np.int64))
    x, target = x_cpu.to(device), sample.target.to(device)
    w = torch.from_numpy(scaled.astype(np.float32)).to(device)
    # BCE while every weight is >= 0 (as the nominal fit), the bounded Brier loss with signed ones
    kind = "brier" if bool((w < 0).any()) else "bce"
    # one thread, as the nominal MLP: on 2 cores a second thread made 10 replicas cost 3.4
    # fits instead of 5.4 while the other core was idle, and 13 instead of 5 while another
    # job held it (each product waits for the descheduled thread)
    with threads(cpu_threads(device, small=True)):
        nets = []
        for r, seed in enumerate(seeds):
            with seeded(seed, device):
                net = MLPClassifier(sample.n_features, c.hidden)  # as build_classifier
            fitted = fit_standardize(x_cpu[trains[r]], torch.from_numpy(scaled[r][trains[r]]))
            net.standardize.load_state_dict(fitted.state_dict())
            nets.append(net)
        model = BatchedMLPClassifier.stack(nets).to(device)
        optimizer = ReplicaAdam(list(model.parameters()), torch.full((k,), c.lr, device=device))

        def batched_step(
            batch: tuple[torch.Tensor | None, torch.Tensor],
        ) -> Mapping[str, float | torch.Tensor]:
            active, index = batch  # the replicas still training (None: all), their events
            with autocast(target.device, run.mixed_precision):
                logit = model(x[index], active).float().T
            weight = w.gather(1, index) if active is None else w[active[:, None], index]
            losses = weighted_loss(logit, target[index], weight, kind).mean(1)
            optimizer.zero_grad()
            losses.sum().backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            return {"train_loss": losses.detach()}

        step: Step = batched_step
        kept: nn.Module = model  # what is validated, kept and calibrated
        if c.ema:
            step, kept = averaged(step, model, c.ema)
        _train(c, step, trains, kept, optimizer, x, target, w, kind, val_index, seeds, run)
    if kept is not model:
        model.load_state_dict(kept.state_dict())
    temperatures, offsets = [1.0] * k, [0.0] * k
    if len(val_index) and (c.calibrate is not None or c.normalize):
        logit = _logits(model, x, val_index).cpu()
        for r in range(k):
            drawn = counts[r][val_index] > 0
            replica = dataclasses.replace(sample, weight=weight[r])
            temperatures[r], offsets[r], _ = calibrate_fold(
                c, replica, val_index[drawn], scaled[r], logit[drawn, r], warn=False
            )
    log.info("%s: replica temperatures %s", run.desc, np.round(temperatures, 4).tolist())
    return Replicas([model.eval()], temperatures, offsets)


def _train(
    c: Config,
    step: Step,
    trains: Sequence[np.ndarray],
    kept: nn.Module,
    optimizer: ReplicaAdam,
    x: torch.Tensor,
    target: torch.Tensor,
    w: torch.Tensor,
    kind: str,
    val_index: np.ndarray,
    seeds: Sequence[int],
    run: Run,
) -> None:
    """The epochs of :func:`fit_batched`: each replica's events in its own order, and per
    replica the learning-rate plateaus, early stopping and the best state."""
    k, device = len(seeds), x.device
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    index = torch.from_numpy(np.stack(trains))
    n_train = index.shape[1]
    val = torch.from_numpy(val_index).to(device)
    val_w = w[:, val]
    lr = np.full(k, c.lr)
    best, waited = np.full(k, np.inf), np.zeros(k, dtype=np.int64)
    plateau, stalled = np.full(k, np.inf), np.zeros(k, dtype=np.int64)
    stopped = np.zeros(k, dtype=bool)
    best_state = [p.detach().clone() for p in kept.parameters()]
    for epoch in range(c.epochs):
        # the replicas that stopped early are left out of the computation
        running = np.flatnonzero(~stopped)
        active = None if len(running) == k else torch.from_numpy(running).to(device)
        order = torch.stack(
            [index[r, torch.randperm(n_train, generator=generators[r])] for r in running]
        ).to(device)
        total = torch.zeros(len(running), device=device)
        for start in range(0, n_train, c.batch_size):
            total += step((active, order[:, start : start + c.batch_size]))["train_loss"]
        if not bool(torch.isfinite(total).all()):
            msg = (
                f"{run.desc} replicas: train_loss is not finite at epoch {epoch + 1}: "
                "training diverged (try a smaller lr)"
            )
            raise FloatingPointError(msg)
        if not len(val_index):
            continue
        logit = _logits(kept, x, val_index)
        per_event = weighted_loss(logit.T, target[val].expand(k, -1), val_w, kind)
        losses = (per_event.sum(1) / val_w.sum(1)).double().cpu().numpy()
        for r in np.flatnonzero(~stopped):
            # ReduceLROnPlateau(factor=0.1, patience=2, min_lr=lr / 100), as the nominal fit
            if losses[r] < plateau[r] * (1 - 1e-4):
                plateau[r], stalled[r] = losses[r], 0
            else:
                stalled[r] += 1
                if stalled[r] > 2:
                    lr[r], stalled[r] = max(lr[r] * 0.1, c.lr / 100), 0
            if losses[r] < best[r]:
                best[r], waited[r] = losses[r], 0
                with torch.no_grad():
                    for saved, p in zip(best_state, kept.parameters(), strict=True):
                        saved[r] = p[r]
            else:
                waited[r] += 1
                if c.patience is not None and waited[r] >= c.patience:
                    stopped[r], lr[r] = True, 0.0
        optimizer.lr = torch.from_numpy(lr).to(device=device, dtype=torch.float32)
        if stopped.all():
            break
    log.info("%s replicas: %d epochs, validation losses %s", run.desc, epoch + 1, best)
    if len(val_index):
        with torch.no_grad():
            for saved, p in zip(best_state, kept.parameters(), strict=True):
                p.copy_(saved)


def replica_log_weight(
    replicas: Replicas, inputs: Callable[[np.ndarray], Any], n: int, kind: str, run: Run
) -> np.ndarray:
    """Log-weights ``(n, k)`` float64 of each replica for the events ``inputs`` describes."""
    index = np.arange(n, dtype=np.int64)
    k = len(replicas.temperatures)
    desc = "DCTR replica weights"
    if isinstance(replicas.models[0], BatchedMLPClassifier):
        model = replicas.models[0]
        logit = predict_logits(model, inputs, index, kind, run.device, run.progress, desc)
    else:
        logit = np.stack(
            [
                predict_logits(m, inputs, index, kind, run.device, run.progress, desc)
                for m in replicas.models
            ],
            axis=-1,
        )
    logit = logit.reshape(n, k)
    return checked(logit / np.asarray(replicas.temperatures) + np.asarray(replicas.offsets))


def load_replicas(
    c: Config,
    states: Any,
    fitted: dict[str, Any],
    n_features: int,
    geometry: Geometry | None,
    device: torch.device,
) -> Replicas | None:
    """The replicas of a model file (``None`` for a file without any).

    Raises:
        ValueError, KeyError, TypeError, RuntimeError: for a damaged file (no replica
            states, or states or temperatures that do not fit the config).
    """
    if not c.replicas:
        return None
    temperatures = [float(t) for t in fitted["replica_temperatures"]]
    offsets = [float(b) for b in fitted["replica_offsets"]]
    models: list[nn.Module] = []
    for state in states:
        model = (
            BatchedMLPClassifier(c.replicas, n_features, c.hidden)
            if c.model == "mlp"
            else build_classifier(c, n_features, geometry)
        )
        model.load_state_dict(state)
        models.append(model.to(device).eval())
    expected = 1 if c.model == "mlp" else c.replicas
    if len(models) != expected or not len(temperatures) == len(offsets) == c.replicas:
        msg = (
            f"replicas={c.replicas}: {len(models)} replica network(s), "
            f"{len(temperatures)} temperatures"
        )
        raise ValueError(msg)
    return Replicas(models, temperatures, offsets)


def replicas_as(weights: np.ndarray, kind: Container, like: Any = None) -> Any:
    """``(N, k)`` replica weights as float32 in a numpy array, an awkward array of type
    ``N * k * float32`` (regular) or a torch tensor (on the device of ``like``)."""
    weights = np.asarray(weights, dtype=np.float32)
    if kind == "awkward":
        return ak.from_numpy(weights, regulararray=True)
    if kind == "torch":
        device = like.device if isinstance(like, torch.Tensor) else "cpu"
        return torch.from_numpy(weights).to(device)
    return weights


def replica_meta(k: int) -> ak.Array:
    """A typetracer of records ``{nominal: float32, replicas: k * float32}`` of unknown
    length (the meta of lazy weights with replicas)."""
    empty = ak.zip(
        {
            "nominal": np.zeros(0, dtype=np.float32),
            "replicas": ak.from_numpy(np.zeros((0, k), dtype=np.float32), regulararray=True),
        },
        depth_limit=1,
    )
    return ak.Array(empty.layout.to_typetracer(forget_length=True))


def require_replicas(replicas: Replicas | None, method: str) -> Replicas:
    """``replicas``, or the ValueError of a model fitted without them."""
    if replicas is None:
        msg = (
            f"DCTR.{method}: replicas=True needs a model fitted with replicas=k > 0 "
            "(DCTR(replicas=10)); this one has none"
        )
        raise ValueError(msg)
    return replicas


def replica_weights(
    log_w: np.ndarray, log_r: np.ndarray, clip: float | None, kind: Container | None, like: Any
) -> Any:
    """Nominal ``(N,)`` and replica ``(N, k)`` float32 weights of the log-weights: a pair
    in the container ``kind`` (as ``like``), or (``kind=None``) awkward records
    ``{nominal, replicas}``."""
    w, _ = weights_from_log(log_w, clip)
    r = np.stack([weights_from_log(column, clip)[0] for column in log_r.T], axis=-1)
    if kind is not None:
        return as_container(w, kind, like), replicas_as(r, kind, like)
    fields = {"nominal": as_container(w, "awkward"), "replicas": replicas_as(r, "awkward")}
    return ak.zip(fields, depth_limit=1)
