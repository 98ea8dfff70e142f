"""Training one DCTR classifier: the network, its input scaling, the loop, the calibration.

Private helper of :mod:`dctrgan.dctr`; the loop itself is :func:`dctrgan.training.train`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from dctrgan.dctr.config import Config
from dctrgan.dctr._inputs import HitInputs, fit_offset, fit_temperature
from dctrgan.dctr._split import balance, tile
from dctrgan.data import Geometry
from dctrgan.nn import (
    Conv3dClassifier,
    DeepSetsClassifier,
    MLPClassifier,
    fit_hit_scaling,
    fit_standardize,
)
from dctrgan.stats import effective_entries
from dctrgan.training import (
    Loader,
    averaged,
    classifier_step,
    evaluate_classifier,
    predict,
    seeded,
    threads,
    train,
)

__all__ = (
    "MAX_LOG_WEIGHT",
    "Fold",
    "Sample",
    "build_classifier",
    "fit_fold",
    "neff_fraction",
    "predict_logits",
    "weights_from_log",
)

log = logging.getLogger(__name__)

#: Events per batch when predicting (and validating), per model.
PREDICT_BATCH = {"mlp": 1 << 15, "deepsets": 256, "cnn3d": 64}
#: Training events used to set the input scaling of the low-level models.
SCALING_EVENTS = 20_000
#: Largest log-weight whose exp is a finite float64 (with a margin).
MAX_LOG_WEIGHT = math.log(np.finfo(np.float64).max) - 1.0


@dataclasses.dataclass(frozen=True)
class Sample:
    """The real and fake events of a fit in one index space, the real ones first.

    Attributes:
        inputs: ``inputs(index)`` builds the network's input batch for events ``index``.
        target: ``(N,)`` float32 labels, 1 real, 0 fake.
        weight: ``(N,)`` float64 sample weights as given (positive).
        is_real: ``(N,)`` bool.
    """

    inputs: Callable[[np.ndarray], Any]
    target: torch.Tensor
    weight: np.ndarray
    is_real: np.ndarray


@dataclasses.dataclass(frozen=True)
class Fold:
    """A trained, calibrated classifier: ``log w = logit / temperature + offset``."""

    model: nn.Module
    temperature: float
    offset: float
    history: dict[str, list[float]]
    #: n_eff / N of the (clipped) weights of the fake validation events, when computed.
    neff_fraction: float | None = None


def build_classifier(c: Config, n_features: int, geometry: Geometry | None) -> nn.Module:
    """A fresh classifier for the config (``n_features`` for the MLP, ``geometry`` for
    the low-level models)."""
    if c.model == "mlp":
        return MLPClassifier(n_features, c.hidden)
    shape = geometry.shape if geometry is not None else (30, 30, 30)
    if c.model == "cnn3d":
        return Conv3dClassifier(shape, c.width, c.hidden)
    return DeepSetsClassifier(shape, (c.width, c.width), c.hidden)


def fit_fold(
    build: Callable[[], nn.Module],
    c: Config,
    sample: Sample,
    train_index: np.ndarray,
    val_index: np.ndarray,
    rng: np.random.Generator,
    *,
    seed: int,
    device: torch.device,
    mixed_precision: bool = False,
    progress: bool,
    desc: str,
) -> Fold:
    """Train, calibrate and normalize one classifier on ``train_index``, validating on
    ``val_index`` (early stopping, temperature, offset).

    The classes are balanced separately in the training and in the validation events
    (after tiling the smaller class with ``balance="tile"``), so both the loss and the
    calibration see equal class totals.
    """
    if c.balance == "tile":
        train_index = tile(train_index, sample.is_real, rng)
    scaled = sample.weight.copy()
    for index in (train_index, val_index):
        balance(scaled, index, sample.is_real)
    w = torch.from_numpy(scaled.astype(np.float32))

    def batch(i: np.ndarray) -> tuple[Any, torch.Tensor, torch.Tensor]:
        t = torch.from_numpy(i)
        return sample.inputs(i), sample.target[t], w[t]

    # The MLP is too small to gain from intra-op threads: one trains it fastest on CPU.
    one_thread = 1 if c.model == "mlp" and device.type == "cpu" else None
    with seeded(seed, device) as generator, threads(one_thread):
        model = build()
        _fit_scaling(model, sample.inputs, train_index, scaled, rng)
        model.to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=c.lr, fused=True)
        loader = Loader(
            batch,
            index=train_index,
            batch_size=c.batch_size,
            shuffle=True,
            generator=generator,
            device=device,
        )
        val_loader = Loader(
            batch, index=val_index, batch_size=PREDICT_BATCH[c.model], device=device
        )
        step = classifier_step(model, optimizer, mixed_precision=mixed_precision)
        target = model  # what is validated, kept and calibrated
        if c.ema:
            step, target = averaged(step, model, c.ema)
        evaluate = None
        if len(val_index):

            def evaluate() -> dict[str, float]:
                return {"val_loss": evaluate_classifier(target, val_loader)[0]}

        # the lr is divided by 10 when the validation loss stalls
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=0.1, patience=2, min_lr=c.lr / 100
        )
        history = train(
            step,
            loader,
            epochs=c.epochs,
            evaluate=evaluate,
            patience=c.patience,
            modules=[target],
            scheduler=scheduler,
            progress=progress,
            desc=desc,
        )
    if target is not model:
        model.load_state_dict(target.state_dict())
    temperature, offset, neff = 1.0, 0.0, None
    if len(val_index) and (c.calibrate == "temperature" or c.normalize):
        _, logit = evaluate_classifier(model, val_loader)
        z = logit.numpy().astype(np.float64)
        fake = ~sample.is_real[val_index]
        if c.calibrate == "temperature":
            labels = sample.target[torch.from_numpy(val_index)].numpy()
            temperature = fit_temperature(z, labels, scaled[val_index])
        if c.normalize:
            offset = fit_offset(z[fake], temperature, sample.weight[val_index][fake])
        neff = neff_fraction(z[fake] / temperature + offset, sample.weight[val_index][fake], c.clip)
        log.info(
            "%s: temperature %.4g, log-weight offset %.4g, validation n_eff/N %.3g",
            desc,
            temperature,
            offset,
            neff,
        )
    model.eval()
    return Fold(model, temperature, offset, history, neff)


def weights_from_log(log_w: np.ndarray, clip: float | None) -> tuple[np.ndarray, int]:
    """Weights ``exp(log_w)`` clipped at ``clip``, and how many were clipped.

    ``exp(logit / T)``, not ``h / (1 - h)``: in float32 the sigmoid rounds to exactly 1
    once the logit passes ~17 (a division by zero) and to 0 below ~-88 (0/0), while
    ``exp`` of a float64 log-weight is exact and finite up to ~709. Beyond that a
    weight is set to the largest finite one, with a warning.
    """
    clipped = 0
    if clip is not None:
        over = log_w > math.log(clip)
        clipped = int(over.sum())
        log_w = np.where(over, math.log(clip), log_w)
        if clipped:
            log.info(
                "DCTR: clipped %d of %d weights (%.3g%%) at %g",
                clipped,
                len(log_w),
                100 * clipped / len(log_w),
                clip,
            )
    huge = log_w > MAX_LOG_WEIGHT
    if huge.any():
        warnings.warn(
            f"DCTR: {int(huge.sum())} weight(s) would overflow float64 (first at event "
            f"{int(np.flatnonzero(huge)[0])}); set to {math.exp(MAX_LOG_WEIGHT):.3g}: "
            "the samples barely overlap there, consider clip=",
            RuntimeWarning,
            stacklevel=3,
        )
        log_w = np.minimum(log_w, MAX_LOG_WEIGHT)
    return np.exp(log_w), clipped


def neff_fraction(log_w: np.ndarray, weight: np.ndarray, clip: float | None) -> float:
    """``n_eff / N`` of the weights ``weight * exp(log_w)`` (clipped at ``clip``), which
    is unchanged by a common factor: computed without overflow for any ``log_w``."""
    if len(log_w) == 0:
        return 1.0
    if clip is not None:
        log_w = np.minimum(log_w, math.log(clip))
    return effective_entries(weight * np.exp(log_w - log_w.max())) / len(log_w)


def _fit_scaling(
    model: nn.Module,
    inputs: Callable[[np.ndarray], Any],
    train_index: np.ndarray,
    weight: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Set the input-scaling buffers of ``model`` from (a subset of) its training events."""
    if isinstance(model, MLPClassifier):
        fitted = fit_standardize(inputs(train_index), torch.from_numpy(weight[train_index]))
        model.standardize.load_state_dict(fitted.state_dict())
        return
    if not isinstance(inputs, HitInputs) or not isinstance(
        model, Conv3dClassifier | DeepSetsClassifier
    ):
        msg = f"DCTR: no input scaling for {type(model).__name__}"
        raise TypeError(msg)
    unique = np.unique(train_index)
    subset = np.sort(rng.choice(unique, min(len(unique), SCALING_EVENTS), replace=False))
    hits, mask = inputs.padded(subset)
    fit_hit_scaling(model, mask.sum(1), hits[..., 3][mask])


def predict_logits(
    model: nn.Module,
    inputs: Callable[[np.ndarray], Any],
    index: np.ndarray,
    kind: str,
    device: torch.device,
    progress: bool,
    desc: str,
) -> np.ndarray:
    """Logits ``(len(index),)`` float64 of ``model`` for the events ``index`` (a progress
    bar for the low-level models, whose inference takes a while)."""
    loader = Loader(inputs, index=index, batch_size=PREDICT_BATCH[kind], device=device)
    batches: Any = loader
    if progress and kind != "mlp":
        from tqdm.auto import tqdm

        batches = tqdm(loader, desc=desc, unit="batch")
    return predict(model, batches).numpy().astype(np.float64)
