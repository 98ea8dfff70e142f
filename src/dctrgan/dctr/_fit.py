"""Training the DCTR classifiers: the folds, the network, its input scaling, the loop.

Private helper of :mod:`dctrgan.dctr`: :func:`fit_folds` trains one calibrated
classifier per fold (:func:`fit_fold`) on a :class:`~dctrgan.dctr._inputs.Sample`;
the loop itself is :func:`dctrgan.training.train`, the calibration
:mod:`dctrgan.dctr.calibration`.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from dctrgan.data import Geometry
from dctrgan.dctr._hits import HitInputs
from dctrgan.dctr._inputs import Sample
from dctrgan.dctr._split import balance, fold_labels, split, tile
from dctrgan.dctr.calibration import (
    CLOSURE_FACTORS,
    closure_factor,
    fit_offset,
    fit_temperature,
    neff_fraction,
    truncation,
)
from dctrgan.dctr.config import Config
from dctrgan.nn import (
    Conv3dClassifier,
    DeepSetsClassifier,
    MLPClassifier,
    fit_hit_scaling,
    fit_standardize,
)
from dctrgan.training import (
    Loader,
    averaged,
    classifier_step,
    cpu_threads,
    evaluate_classifier,
    predict,
    seeded,
    threads,
    train,
)

__all__ = (
    "NEFF_WARNING",
    "Fold",
    "Folds",
    "Run",
    "build_classifier",
    "calibrate_fold",
    "checked",
    "clip_value",
    "fit_fold",
    "fit_folds",
    "fold_log_weight",
    "load_folds",
    "predict_logits",
    "resolved",
)

log = logging.getLogger(__name__)

#: Events per batch when predicting (and validating), per model.
PREDICT_BATCH = {"mlp": 4096, "deepsets": 256, "cnn3d": 64}
#: Training events used to set the input scaling of the low-level models.
SCALING_EVENTS = 20_000
#: fit warns when the weights of the fake validation events keep less than this
#: fraction of them as effective entries: a few events carry all the weight.
NEFF_WARNING = 0.05


@dataclasses.dataclass(frozen=True)
class Run:
    """How a classifier is trained, beside its hyperparameters.

    Attributes:
        device: where it trains.
        mixed_precision: train in bfloat16 mixed precision.
        progress: show progress bars.
        desc: the progress bars' and log messages' label (``"DCTR mlp fold 1/3"``).
        seed: seed of the initialization, shuffling and augmentation.
    """

    device: torch.device
    mixed_precision: bool
    progress: bool
    desc: str
    seed: int


@dataclasses.dataclass(frozen=True)
class Fold:
    """A trained, calibrated classifier: ``log w = logit / temperature + offset``."""

    model: nn.Module
    temperature: float
    offset: float
    history: dict[str, list[float]]
    #: n_eff / N of the (clipped) weights of the fake validation events, when computed.
    neff_fraction: float | None = None


@dataclasses.dataclass(frozen=True)
class Folds:
    """The classifiers of a fit, one per fold, and what the fit learnt beside them.

    Attributes:
        models: the trained classifiers.
        temperatures: their temperatures.
        offsets: their log-weight offsets.
        history: the losses per epoch, the folds one after the other (and ``"fold"``
            with ``folds > 1``).
        seen: the training and validation events of each fold (sorted indices).
        splits: the training and validation events of each fold, apart.
        heldout_fold: with ``folds > 1``, the fold each fake event was held out of.
        oof_log_weight: with ``folds > 1``, the out-of-fold log-weights of the fake events.
    """

    models: list[nn.Module]
    temperatures: list[float]
    offsets: list[float]
    history: dict[str, list[float]]
    seen: list[np.ndarray]
    heldout_fold: np.ndarray | None
    oof_log_weight: np.ndarray | None
    splits: list[tuple[np.ndarray, np.ndarray]] = dataclasses.field(default_factory=list)


def build_classifier(c: Config, n_features: int, geometry: Geometry | None) -> nn.Module:
    """A fresh classifier for the config (``n_features`` for the MLP, ``geometry`` for
    the low-level models)."""
    if c.model == "mlp":
        return MLPClassifier(n_features, c.hidden)
    shape = geometry.shape if geometry is not None else (30, 30, 30)
    if c.model == "cnn3d":
        return Conv3dClassifier(shape, c.width, c.hidden)
    return DeepSetsClassifier(shape, (c.width, c.width), c.hidden)


def load_folds(
    c: Config, states: Any, n_features: int, geometry: Geometry | None, device: torch.device
) -> list[nn.Module]:
    """The fold classifiers of a model file's state dicts, on ``device`` in eval mode.

    Raises:
        TypeError, RuntimeError, ...: for states that do not fit the config.
    """
    models = []
    for state in states:
        model = build_classifier(c, n_features, geometry)
        model.load_state_dict(state)
        models.append(model.to(device).eval())
    return models


def fit_folds(c: Config, sample: Sample, run: Run) -> Folds:
    """Train ``c.folds`` calibrated classifiers on ``sample`` (:func:`fit_fold`).

    With ``folds > 1`` each class is split into balanced folds and classifier ``j``
    is trained on all folds but ``j`` (seed ``run.seed + j``); the fake events of
    fold ``j`` then get their out-of-fold log-weights from it. Only a fit whose folds
    all trained returns: an interrupted or failed one leaves no half-fitted model.

    Warns:
        RuntimeWarning: for a fold whose weights of the fake validation events keep
            fewer than :data:`NEFF_WARNING` of them as effective entries.
    """
    rng = np.random.default_rng(c.seed)
    is_real = sample.is_real
    n_real = int(np.count_nonzero(is_real))
    n_fake = len(is_real) - n_real
    fold = np.concatenate([fold_labels(n_real, c.folds, rng), fold_labels(n_fake, c.folds, rng)])
    fits: list[Fold] = []
    seen: list[np.ndarray] = []
    splits: list[tuple[np.ndarray, np.ndarray]] = []
    history: dict[str, list[float]] = {}
    for j in range(c.folds):
        pool = np.flatnonzero(fold != j) if c.folds > 1 else np.arange(len(fold))
        train_index, val_index = split(pool, is_real, c.validation, c.folds, rng)
        seen.append(np.union1d(train_index, val_index))
        splits.append((train_index, val_index))
        label = f" fold {j + 1}/{c.folds}" if c.folds > 1 else ""
        fold_run = dataclasses.replace(run, desc=run.desc + label, seed=run.seed + j)
        result = fit_fold(c, sample, train_index, val_index, rng, fold_run)
        if result.neff_fraction is not None and result.neff_fraction < NEFF_WARNING:
            warnings.warn(
                f"{fold_run.desc}: the weights of the fake validation events have n_eff/N = "
                f"{result.neff_fraction:.2g}: a few events carry the weight, so the "
                "classifier separates the samples almost completely. Weighted "
                "distributions will be noisy; consider calibrate='closure', clip='sqrt_n', a "
                "smaller model or a generator closer to the real events",
                RuntimeWarning,
                stacklevel=3,  # the caller of DCTR.fit
            )
        fits.append(result)
        for key, values in result.history.items():
            history.setdefault(key, []).extend(values)
        if c.folds > 1:
            n_epochs = len(result.history["train_loss"])
            history.setdefault("fold", []).extend([float(j)] * n_epochs)
    heldout_fold, oof = None, None
    if c.folds > 1:
        heldout_fold, oof = fold[n_real:], np.empty(n_fake)
        for j, result in enumerate(fits):
            index = np.flatnonzero((fold == j) & ~is_real)
            desc = f"DCTR out-of-fold {j + 1}/{c.folds}"
            logit = predict_logits(
                result.model, sample.inputs, index, c.model, run.device, run.progress, desc
            )
            oof[index - n_real] = logit / result.temperature + result.offset
    return Folds(
        models=[f.model for f in fits],
        temperatures=[f.temperature for f in fits],
        offsets=[f.offset for f in fits],
        history=history,
        seen=seen,
        heldout_fold=heldout_fold,
        oof_log_weight=oof,
        splits=splits,
    )


def fit_fold(
    c: Config,
    sample: Sample,
    train_index: np.ndarray,
    val_index: np.ndarray,
    rng: np.random.Generator,
    run: Run,
    warn: bool = True,
) -> Fold:
    """Train, calibrate and normalize one classifier on ``train_index``, validating on
    ``val_index`` (early stopping, temperature, offset; ``warn``: as
    :func:`calibrate_fold`).

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
        return (
            sample.inputs(i),
            torch.index_select(sample.target, 0, t),
            torch.index_select(w, 0, t),
        )

    device = run.device
    n_threads = cpu_threads(device, small=c.model == "mlp")
    with seeded(run.seed, device) as generator, threads(n_threads):
        model = build_classifier(c, sample.n_features, sample.geometry)
        _set_input_scaling(model, sample.inputs, train_index, scaled, rng)
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
        step = classifier_step(model, optimizer, mixed_precision=run.mixed_precision)
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
            progress=run.progress,
            desc=run.desc,
        )
    if target is not model:
        model.load_state_dict(target.state_dict())
    temperature, offset, neff = 1.0, 0.0, None
    if len(val_index) and (c.calibrate is not None or c.normalize):
        _, logit = evaluate_classifier(model, val_loader)
        temperature, offset, neff = calibrate_fold(c, sample, val_index, scaled, logit, warn)
        log.info(
            "%s: temperature %.4g, log-weight offset %.4g, validation n_eff/N %.3g",
            run.desc,
            temperature,
            offset,
            neff,
        )
    model.eval()
    return Fold(model, temperature, offset, history, neff)


def calibrate_fold(
    c: Config,
    sample: Sample,
    val_index: np.ndarray,
    scaled: np.ndarray,
    logit: torch.Tensor,
    warn: bool = True,
) -> tuple[float, float, float]:
    """Temperature, log-weight offset and ``n_eff / N`` of the fake events of a fold's
    validation events ``val_index`` (``scaled``: their class-balanced weights).

    ``c`` is :func:`resolved`: its clip is a number or ``None``. ``warn``: warn when
    the closure softens the weights to about 1 (the nominal fit; not its replicas).
    """
    z = logit.numpy().astype(np.float64)
    is_real = sample.is_real[val_index]
    weight = sample.weight[val_index][~is_real]
    temperature, offset = 1.0, 0.0
    clip = clip_value(c)
    if c.calibrate is not None:
        labels = sample.target[torch.from_numpy(val_index)].numpy()
        temperature = fit_temperature(z, labels, scaled[val_index])
    if c.calibrate == "closure":
        x = sample.inputs(val_index).numpy() if sample.n_features else None
        rng = np.random.default_rng(c.seed)
        w0 = sample.weight[val_index]
        factor, closures = closure_factor(z, is_real, w0, x, temperature, clip, rng)
        log.info(
            "DCTR: temperature %.4g x %g chosen on the validation closure (mean S2 %.4g; "
            "%.4g at x1, %.4g at x%g)",
            temperature,
            factor,
            min(closures),
            closures[0],
            closures[-1],
            CLOSURE_FACTORS[-1],
        )
        temperature *= factor
        if warn and factor == CLOSURE_FACTORS[-1]:
            warnings.warn(
                f"DCTR: on the validation events the weights bring the fake sample no "
                f"closer to the real one than no weights (mean S2 {closures[0]:.3g} as "
                f"fitted, {closures[-1]:.3g} with weights about 1): the temperature is "
                f"softened {factor:g}x and the weights stay near 1. The samples barely "
                "overlap or the classifier learnt noise: check the features and the generator",
                RuntimeWarning,
                stacklevel=5,  # the caller of DCTR.fit (via fit_folds, fit_fold)
            )
    if c.normalize:
        offset = fit_offset(z[~is_real], temperature, weight)
    return temperature, offset, neff_fraction(z[~is_real] / temperature + offset, weight, clip)


def resolved(c: Config, sample: Sample) -> Config:
    """``c`` with a clip rule (``"sqrt_n"``) replaced by its value for ``sample``: the
    square root of the effective number of its fake events (:func:`truncation`)."""
    if c.clip == "sqrt_n":
        return dataclasses.replace(c, clip=truncation(sample.weight[~sample.is_real]))
    return c


def clip_value(c: Config) -> float | None:
    """The clip of a :func:`resolved` config."""
    if isinstance(c.clip, str):
        msg = f"DCTR: clip rule {c.clip!r} not resolved (internal)"
        raise TypeError(msg)
    return c.clip


def _set_input_scaling(
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
    bar in events, with total and ETA, for the low-level models, whose inference takes
    a while)."""
    batch_size = PREDICT_BATCH[kind]
    loader = Loader(inputs, index=index, batch_size=batch_size, device=device)
    if not (progress and kind != "mlp"):
        return predict(model, loader).numpy().astype(np.float64)
    from tqdm.auto import tqdm

    with tqdm(total=len(index), desc=desc, unit="event", dynamic_ncols=True) as bar:

        def counted() -> Iterator[Any]:
            for start, batch in zip(range(0, len(index), batch_size), loader, strict=True):
                yield batch
                bar.update(min(batch_size, len(index) - start))

        return predict(model, counted()).numpy().astype(np.float64)


def checked(log_w: np.ndarray) -> np.ndarray:
    """``log_w`` (log-weights ``(N,)`` or ``(N, k)``), or a ValueError naming the first
    event with a non-finite one."""
    bad = ~np.isfinite(log_w)
    if bad.any():
        first = int(np.flatnonzero(bad.reshape(len(bad), -1).any(axis=1))[0])
        msg = (
            f"events: the classifier gave {int(bad.sum())} non-finite output(s), first at "
            f"event {first}; inputs far outside the float32 range?"
        )
        raise ValueError(msg)
    return log_w


def fold_log_weight(
    models: Sequence[nn.Module],
    calibration: Sequence[tuple[float, float]],
    inputs: Callable[[np.ndarray], Any],
    n: int,
    kind: str,
    run: Run,
    fold: int | None = None,
) -> np.ndarray:
    """Log-weights ``(n,)`` float64 of the events ``inputs`` describes: the mean over the
    fold classifiers ``models`` of ``logit / T + b`` (``calibration``: their ``(T, b)``),
    or fold ``fold``'s alone (:meth:`dctrgan.DCTR.log_weight`)."""
    index = np.arange(n, dtype=np.int64)
    k = len(models)
    total = np.zeros(n)
    for j in range(k) if fold is None else [fold]:
        desc = f"DCTR weights {j + 1}/{k}"
        logit = predict_logits(models[j], inputs, index, kind, run.device, run.progress, desc)
        temperature, offset = calibration[j]
        total += logit / temperature + offset
    return checked(total / (k if fold is None else 1))
