"""The training loops of the package: :func:`train` by epochs, :func:`train_steps` by
adversarial steps, with batching (:class:`Loader`) and progress.

Epoch-based trainers (DCTR, the regressor) run :func:`train`: it iterates a
:class:`Loader` epoch by epoch, calls a ``step`` function on each batch, records the
losses the step returns, shows a progress bar, and stops early on a validation metric
with the best state restored. A trainer only writes its ``step`` (one optimizer
update, returning ``{name: loss}``) and, where it has one, an ``evaluate``
(validation metrics)::

    step = classifier_step(model, torch.optim.Adam(model.parameters(), lr=1e-3))
    with seeded(0) as generator:
        loader = Loader((x, y, w), batch_size=128, shuffle=True, generator=generator)
        history = train(step, loader, epochs=50, evaluate=lambda: {...}, patience=5,
                        modules=[model])

Batches are tensors, tuples of tensors, or whatever a collate function builds from
an index array (padded hit clouds, voxels), so large samples are converted batch
by batch, never all at once.

Adversarial training (the WGAN, the refiner) counts generator updates, not epochs:
:func:`train_steps` runs a step a fixed number of times over a cycled :class:`Loader`
and keeps every loss; :func:`gradient_penalty` is the WGAN-GP term of the critic loss
and :func:`frozen` keeps the critic's parameters out of the generator update.
"""

from __future__ import annotations

import copy
import logging
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from dctrgan.training.chores import autocast, to_device

__all__ = (
    "ClassifierLoss",
    "Loader",
    "averaged",
    "classifier_step",
    "evaluate_classifier",
    "gradient_penalty",
    "predict",
    "train",
    "train_steps",
    "weighted_loss",
)

log = logging.getLogger(__name__)

#: A step: one update on one batch, returning ``{name: loss}``: plain floats, or scalar
#: tensors (read by :func:`train_steps` a few at a time, not one GPU sync per step).
Step = Callable[[Any], Mapping[str, float | torch.Tensor]]
#: Longest time, in seconds, the losses shown by :func:`train_steps` lag behind training.
LOSS_AGE = 0.25


class _Plateau(Protocol):
    def step(self, metrics: float) -> None: ...


class _Sized(Protocol):
    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...


class Loader:
    """Minibatches over a set of events.

    ``data`` is either a sequence of tensors with the events along the first axis
    (a batch is the tuple of their rows), or a collate function that builds the
    batch for an ``int64`` numpy array of event indices (padded hits, voxels: built
    per batch). ``index`` selects the events the loader covers and may repeat them
    (tiling a smaller sample); by default all ``size`` events.

    Args:
        data: tensors of equal length, or ``collate(indices) -> batch``.
        batch_size: events per batch.
        index: ``(M,)`` event indices to iterate (default ``arange(size)``).
        size: number of events when ``data`` is a collate function and ``index``
            is not given.
        shuffle: a new random order every epoch (from ``generator``).
        generator: the CPU generator for shuffling (see :func:`seeded`).
        device: batches are moved to this device.
        drop_last: drop a last, smaller batch.

    Raises:
        ValueError: for a non-positive batch size, tensors of different lengths or a
            collate function without ``size`` or ``index``.
    """

    def __init__(
        self,
        data: Sequence[torch.Tensor] | Callable[[np.ndarray], Any],
        *,
        batch_size: int,
        index: np.ndarray | None = None,
        size: int | None = None,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
        drop_last: bool = False,
    ) -> None:
        if batch_size <= 0:
            msg = f"batch_size must be positive, got {batch_size}"
            raise ValueError(msg)
        if callable(data):
            self._collate: Callable[[np.ndarray], Any] = data
            if index is None and size is None:
                msg = "Loader: a collate function needs size= or index="
                raise ValueError(msg)
            n = size
        else:
            tensors = tuple(data)
            lengths = {len(t) for t in tensors}
            if len(lengths) != 1:
                msg = f"Loader: tensors of different lengths {sorted(lengths)}"
                raise ValueError(msg)
            n = lengths.pop()
            self._collate = lambda i: tuple(t[torch.from_numpy(i)] for t in tensors)
        if index is not None:
            self.index = np.asarray(index, dtype=np.int64)
        else:
            self.index = np.arange(n or 0, dtype=np.int64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.device = torch.device(device)
        self.drop_last = drop_last

    def __len__(self) -> int:
        n = len(self.index)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.index)
        if self.shuffle:
            order = self.index[torch.randperm(n, generator=self.generator).numpy()]
        else:
            order = self.index
        for b in range(len(self)):
            yield to_device(
                self._collate(order[b * self.batch_size : (b + 1) * self.batch_size]), self.device
            )


def _state(modules: Sequence[nn.Module]) -> list[dict[str, torch.Tensor]]:
    return [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in modules]


def train(
    step: Step,
    loader: _Sized,
    *,
    epochs: int,
    evaluate: Callable[[], Mapping[str, float]] | None = None,
    monitor: str = "val_loss",
    patience: int | None = None,
    min_delta: float = 0.0,
    modules: Sequence[nn.Module] = (),
    scheduler: _Plateau | None = None,
    progress: bool = True,
    desc: str = "training",
) -> dict[str, list[float]]:
    """Run ``step`` over ``loader`` for ``epochs`` epochs; return the per-epoch history.

    Each batch goes to ``step``, which updates the model(s) and returns named
    losses; the history holds the mean of each over the epoch's batches, plus
    whatever ``evaluate`` returns after the epoch. With ``evaluate``, the state of
    ``modules`` at the epoch with the lowest ``monitor`` is restored at the end, and
    with ``patience`` training stops once ``monitor`` has not improved by more than
    ``min_delta`` for that many epochs.

    Args:
        step: ``step(batch) -> {name: float}``: one optimizer update.
        loader: an iterable of batches with ``len`` (a :class:`Loader`).
        epochs: maximum number of epochs.
        evaluate: called after every epoch, returns validation metrics.
        monitor: the key of ``evaluate``'s result to minimize.
        patience: epochs without improvement before stopping (``None``: never stop).
        min_delta: smallest decrease that counts as an improvement.
        modules: the networks whose best state is restored.
        scheduler: stepped with ``monitor`` after each epoch, e.g.
            :class:`torch.optim.lr_scheduler.ReduceLROnPlateau` (needs ``evaluate``).
        progress: show a progress bar (``tqdm.auto``).
        desc: label of the progress bar.

    Returns:
        ``{name: [value per epoch]}`` for every loss and metric.

    Raises:
        ValueError: for ``epochs < 1``, or if ``evaluate`` does not return ``monitor``.
        FloatingPointError: if a step returns a non-finite loss (training diverged).
    """
    if epochs < 1:
        msg = f"epochs must be at least 1, got {epochs}"
        raise ValueError(msg)
    history: dict[str, list[float]] = {}
    best, best_epoch, waited = math.inf, -1, 0
    best_state: list[dict[str, torch.Tensor]] | None = None
    n_batches = len(loader)
    with tqdm(total=epochs * n_batches, disable=not progress, desc=desc, unit="batch") as bar:
        for epoch in range(epochs):
            sums: dict[str, float] = {}
            count = 0
            for batch in loader:
                losses = {k: float(v) for k, v in step(batch).items()}
                for name, value in losses.items():
                    if not math.isfinite(value):
                        msg = (
                            f"{desc}: {name} is {value} at epoch {epoch + 1}, batch {count + 1}: "
                            "training diverged (try a smaller lr)"
                        )
                        raise FloatingPointError(msg)
                    sums[name] = sums.get(name, 0.0) + value
                count += 1
                bar.update()
            for name, total in sums.items():
                history.setdefault(name, []).append(total / max(count, 1))
            if evaluate is not None:
                metrics = evaluate()
                if monitor not in metrics:
                    msg = (
                        f"train: evaluate() returned {sorted(metrics)}, without monitor={monitor!r}"
                    )
                    raise ValueError(msg)
                for name, value in metrics.items():
                    history.setdefault(name, []).append(float(value))
            last = {k: f"{v[-1]:.4g}" for k, v in history.items()}
            bar.set_postfix(epoch=epoch + 1, **last, refresh=False)
            log.debug("%s: epoch %d %s", desc, epoch + 1, last)
            if evaluate is None:
                continue
            value = history[monitor][-1]
            if scheduler is not None:
                scheduler.step(value)
            if value < best - min_delta or best_state is None:
                best, best_epoch, waited = value, epoch, 0
                best_state = _state(modules)
            else:
                waited += 1
                if patience is not None and waited >= patience:
                    log.info(
                        "%s: stopped after epoch %d; best %s %.5g at epoch %d",
                        desc,
                        epoch + 1,
                        monitor,
                        best,
                        best_epoch + 1,
                    )
                    break
        if bar.n < bar.total:  # stopped early: end the bar at 100 %, not at a partial count
            bar.total = bar.n
            bar.refresh()
    if best_state is not None:
        for module, state in zip(modules, best_state, strict=True):
            module.load_state_dict(state)
    return history


def _call(model: nn.Module, inputs: Any) -> torch.Tensor:
    out: torch.Tensor = model(*inputs) if isinstance(inputs, tuple | list) else model(inputs)
    return out


#: The losses of :func:`classifier_step` and :func:`evaluate_classifier`.
ClassifierLoss = Literal["auto", "bce", "brier"]


def _check_loss(loss: str, who: str) -> None:
    if loss not in ("auto", "bce", "brier"):
        msg = f"{who}: loss must be 'auto', 'bce' or 'brier', got {loss!r}"
        raise ValueError(msg)


def weighted_loss(
    logit: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, loss: str
) -> torch.Tensor:
    """Per-event weighted loss of a binary classifier, ``(B,)``: ``w * BCE(logit, y)``
    (``"bce"``) or ``w * (y - sigmoid(logit))^2`` (``"brier"``).

    Both are proper scoring rules: over events of (signed) densities ``p`` (real,
    ``y = 1``) and ``q`` (fake, ``y = 0``) their expectation is smallest at
    ``h = p / (p + q)`` wherever ``p + q > 0``. With negative weights only the Brier
    loss stays bounded below per event: a negative-weight event adds
    ``-|w| log h`` to BCE, which a flexible network sends to ``-inf`` by driving its
    own ``h`` to 0 or 1, while ``(y - h)^2`` stays in ``[0, 1]``.
    """
    if loss == "brier":
        return weight * (target - torch.sigmoid(logit)) ** 2
    return F.binary_cross_entropy_with_logits(logit, target, reduction="none") * weight


def classifier_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    mixed_precision: bool = False,
    loss: ClassifierLoss = "auto",
) -> Step:
    """The step of a binary classifier trained with a weighted proper loss.

    Batches are ``(inputs, target, weight)``: ``inputs`` a tensor or a tuple of the
    model's arguments, ``target`` ``(B,)`` in {0, 1}, ``weight`` ``(B,)``. The loss
    is ``mean(weight * l(logit, target))`` (:func:`weighted_loss`): with weights
    normalized to mean 1 over the training set, each batch is an unbiased estimate
    of the weighted loss. With ``mixed_precision`` the forward pass runs under
    :func:`autocast`.

    Args:
        model: the classifier, ``model(inputs) -> (B,)`` logits; ``optimizer`` its optimizer.
        mixed_precision: run the forward pass in bfloat16 mixed precision.
        loss: ``"bce"`` (binary cross entropy), ``"brier"`` (squared error of
            ``sigmoid(logit)``: bounded with negative weights), or ``"auto"``: BCE
            while every weight seen is non-negative (bit-identical to ``"bce"``
            then), Brier from the first batch that carries a negative weight on. A
            sample with a fraction ``f`` of negative weights shows one in its first
            batch with probability ``1 - (1 - f)^B``; BCE steps before it only
            initialize the network, as both losses have the same minimizer.

    Returns:
        ``step(batch) -> {"train_loss": float}``.

    Raises:
        ValueError: for an unknown ``loss``.
    """
    _check_loss(loss, "classifier_step")
    current = "bce" if loss == "auto" else loss

    def step(batch: tuple[Any, torch.Tensor, torch.Tensor]) -> dict[str, float]:
        nonlocal current
        inputs, target, weight = batch
        if current == "bce" and loss == "auto" and bool((weight < 0).any()):
            log.info("classifier_step: negative weights: the Brier loss from here on")
            current = "brier"
        if not model.training:  # Module.train() walks every submodule: not on each step
            model.train()
        with autocast(target.device, mixed_precision):
            logit = _call(model, inputs).float()
            value = weighted_loss(logit, target, weight, current).mean()
        optimizer.zero_grad(set_to_none=True)
        value.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        return {"train_loss": float(value.detach())}

    return step


def averaged(step: Step, model: nn.Module, decay: float) -> tuple[Step, nn.Module]:
    """``step`` followed by an update of an exponential moving average of ``model``.

    After update ``n`` the average is ``a <- d a + (1 - d) theta`` with
    ``d = min(decay, (1 + n) / (10 + n))``: over a long training it covers the last
    ~``1 / (1 - decay)`` steps, over a short one the last ~10 % of them. It smooths
    out the noise of the final minibatch updates (Polyak averaging): for DCTR it
    leaves a much smoother likelihood ratio than the last parameters, at no extra
    training cost. Validate and keep the averaged copy; buffers are copied.

    Args:
        step: the optimizer step on ``model``.
        model: the trained network.
        decay: the largest decay per step, in ``(0, 1)``.

    Returns:
        ``(new step, averaged copy of model)``.
    """
    if not 0 < decay < 1:
        msg = f"averaged: decay must be in (0, 1), got {decay}"
        raise ValueError(msg)
    average = copy.deepcopy(model).requires_grad_(False)
    kept_params: list[torch.Tensor] = list(average.parameters())
    params: list[torch.Tensor] = list(model.parameters())
    buffers = list(zip(average.buffers(), model.buffers(), strict=True))
    updates = 0

    def averaged_step(batch: Any) -> Mapping[str, float | torch.Tensor]:
        nonlocal updates
        losses = step(batch)
        d = min(decay, (1 + updates) / (10 + updates))
        updates += 1
        with torch.no_grad():
            # one call for all parameters: per-tensor calls cost more than the arithmetic
            torch._foreach_lerp_(kept_params, params, 1.0 - d)
            for kept, current in buffers:
                kept.copy_(current)
        return losses

    return averaged_step, average


def predict(
    model: nn.Module,
    batches: Iterable[Any],
    *,
    progress: bool = False,
    total: int | None = None,
    desc: str = "predicting",
) -> torch.Tensor:
    """Concatenated outputs of ``model`` in eval mode over ``batches`` of inputs, on CPU.

    Each batch is the model's input tensor or a tuple of its arguments (a batch of
    the form ``(inputs, target, weight)`` is not: pass the inputs).

    Args:
        model: the network.
        batches: its inputs, batch by batch.
        progress: show a progress bar of events on stderr.
        total: the number of events, for the bar's total and time left.
        desc: label of the bar.
    """
    outputs: list[torch.Tensor] = []
    was_training = model.training
    model.eval()
    with (
        torch.inference_mode(),
        tqdm(total=total, desc=desc, unit=" events", disable=not progress, file=sys.stderr) as bar,
    ):
        for inputs in batches:
            outputs.append(_call(model, inputs).float().cpu())
            bar.update(len(outputs[-1]))
    model.train(was_training)
    return torch.cat(outputs) if outputs else torch.zeros(0)


def evaluate_classifier(
    model: nn.Module, batches: Iterable[Any], *, loss: ClassifierLoss = "auto"
) -> tuple[float, torch.Tensor]:
    """Weighted loss and the logits of a classifier over ``(inputs, target, weight)``
    batches.

    Args:
        model: the classifier; ``batches`` its ``(inputs, target, weight)`` batches.
        loss: ``"bce"``, ``"brier"`` (:func:`weighted_loss`), or ``"auto"``: Brier if
            any weight is negative (BCE can reward an overconfident network on
            negative-weight events), else BCE.

    Returns:
        ``(sum(w * l) / sum(w), logits (M,) on CPU)``.

    Raises:
        ValueError: for an unknown ``loss``.
    """
    _check_loss(loss, "evaluate_classifier")
    totals = {"bce": 0.0, "brier": 0.0}
    norm, negative = 0.0, False
    logits = []
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for inputs, target, weight in batches:
            logit = _call(model, inputs)
            for name in totals:
                if loss in ("auto", name):
                    totals[name] += float(weighted_loss(logit, target, weight, name).sum())
            norm += float(weight.sum())
            negative = negative or bool((weight < 0).any())
            logits.append(logit.float().cpu())
    model.train(was_training)
    chosen = loss if loss != "auto" else ("brier" if negative else "bce")
    return totals[chosen] / max(norm, 1e-300), torch.cat(logits) if logits else torch.zeros(0)


def train_steps(
    step: Step,
    batches: Iterable[Any],
    *,
    steps: int,
    progress: bool = True,
    desc: str = "training",
) -> dict[str, list[float]]:
    """Run ``step`` for a fixed number of steps, cycling through ``batches``; return every loss.

    The loop of adversarial training, which counts generator updates rather than
    epochs: each step takes the next batch (a :class:`Loader` is iterated again,
    reshuffled, when it runs out) and returns named losses, all of which are kept.
    Losses returned as tensors are read in groups, at most ``LOSS_AGE`` seconds
    apart (one device sync per group, not per step); the bar shows the latest ones.

    Args:
        step: ``step(batch) -> {name: float}``: one update (for a GAN: the critic
            updates and one generator update).
        batches: an iterable of batches, iterated as often as needed.
        steps: number of steps.
        progress: show a progress bar (``tqdm.auto``).
        desc: label of the progress bar.

    Returns:
        ``{name: [value per step]}``.

    Raises:
        ValueError: for ``steps < 1``, or ``batches`` without a batch.
        FloatingPointError: if a step returns a non-finite loss (training diverged).
    """
    if steps < 1:
        msg = f"steps must be at least 1, got {steps}"
        raise ValueError(msg)
    history: dict[str, list[float]] = {}
    pending: list[Mapping[str, float | torch.Tensor]] = []
    read_at = time.monotonic()
    iterator = iter(batches)
    with tqdm(total=steps, disable=not progress, desc=desc, unit="step") as bar:
        for i in range(steps):
            try:
                batch = next(iterator)
            except StopIteration:
                iterator = iter(batches)
                try:
                    batch = next(iterator)
                except StopIteration:
                    msg = f"{desc}: batches yields no batch"
                    raise ValueError(msg) from None
            pending.append(step(batch))
            now = time.monotonic()
            lazy = any(isinstance(v, torch.Tensor) for v in pending[-1].values())
            if not lazy or now - read_at >= LOSS_AGE or i == steps - 1:
                latest = _record(pending, history, i + 1 - len(pending), desc)
                pending.clear()
                read_at = now
                if progress and latest:
                    bar.set_postfix({k: f"{v:.4g}" for k, v in latest.items()}, refresh=False)
            bar.update()
    log.debug("%s: %d steps, last %s", desc, steps, {k: v[-1] for k, v in history.items()})
    return history


def _record(
    pending: Sequence[Mapping[str, float | torch.Tensor]],
    history: dict[str, list[float]],
    first: int,
    desc: str,
) -> dict[str, float]:
    """Append the losses of steps ``first, first + 1, ...`` to ``history`` (tensors read in
    one transfer) and return the last step's; a FloatingPointError for a non-finite one."""
    tensors = [
        v.detach().double().reshape(())
        for d in pending
        for v in d.values()
        if isinstance(v, torch.Tensor)
    ]
    host = iter(torch.stack(tensors).cpu().tolist() if tensors else [])
    latest: dict[str, float] = {}
    for j, losses in enumerate(pending):
        latest = {
            k: next(host) if isinstance(v, torch.Tensor) else float(v) for k, v in losses.items()
        }
        for name, value in latest.items():
            if not math.isfinite(value):
                msg = (
                    f"{desc}: {name} is {value} at step {first + j + 1}: training diverged "
                    "(try a smaller lr)"
                )
                raise FloatingPointError(msg)
            history.setdefault(name, []).append(value)
    return latest


def gradient_penalty(
    critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, *args: Any
) -> torch.Tensor:
    """The WGAN-GP gradient penalty ``E[(||grad_u f(u)||_2 - 1)^2]``, unscaled.

    ``u = eps * real + (1 - eps) * fake`` with ``eps ~ U[0, 1]`` drawn per event
    (torch's global generator), the norm taken over all but the batch axis. The
    graph is kept (``create_graph``), so the penalty trains the critic; multiply
    by ``lambda`` for eq. (4). A tiny constant under the square root keeps the
    gradient of the norm finite where the critic's gradient vanishes.

    Args:
        critic: ``critic(u, *args) -> (B,)`` or ``(B, 1)`` scores.
        real: ``(B, ...)`` real events.
        fake: ``(B, ...)`` generated events (detached or not; the penalty does not
            reach the generator).
        *args: further critic inputs, passed unchanged (a condition).

    Returns:
        Scalar tensor.

    References:
        Gulrajani et al., "Improved Training of Wasserstein GANs", arXiv:1704.00028;
        Erdmann et al., eqs. (4, 5).
    """
    if real.shape != fake.shape:
        msg = f"gradient_penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} differ"
        raise ValueError(msg)
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device)
    u = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    score = critic(u, *args)
    (grad,) = torch.autograd.grad(score.sum(), u, create_graph=True)
    norm = torch.sqrt(grad.flatten(1).pow(2).sum(1) + 1e-12)
    return ((norm - 1.0) ** 2).mean()
