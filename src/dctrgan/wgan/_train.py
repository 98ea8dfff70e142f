"""One training step of :class:`dctrgan.WGAN`: ``n_critic`` critic (and constrainer)
updates, then one generator update (Erdmann et al. sec. 2.1-2.2).

Private helper of :mod:`dctrgan.wgan`; the loop is :func:`dctrgan.training.train_steps`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dctrgan.nn.gan import noise, one_hot
from dctrgan.training import Step, autocast, frozen, gradient_penalty
from dctrgan.wgan.config import Config

__all__ = ("Networks", "adversarial_step")


@dataclasses.dataclass
class Networks:
    """The three networks of a WGAN and their optimizers (the constrainer's only with a
    condition), with the learning-rate schedules of ``decay``."""

    generator: nn.Module
    critic: nn.Module
    constrainer: nn.Module | None
    optimizers: dict[str, torch.optim.Optimizer] = dataclasses.field(default_factory=dict)
    schedules: dict[str, torch.optim.lr_scheduler.LRScheduler] = dataclasses.field(
        default_factory=dict
    )

    def modules(self) -> dict[str, nn.Module]:
        """``{"generator": ..., "critic": ..., "constrainer": ...}`` (those that exist)."""
        named = {"generator": self.generator, "critic": self.critic}
        if self.constrainer is not None:
            named["constrainer"] = self.constrainer
        return named

    def prepare(self, c: Config) -> None:
        """Adam for each network (``c.lr``, ``c.betas``), and Keras-style decay
        ``lr / (1 + decay * updates)`` where ``c.decay > 0``."""
        betas = c.betas if c.loss == "wasserstein" else (0.9, 0.999)
        decay = c.decay
        for name, module in self.modules().items():
            optimizer = torch.optim.Adam(module.parameters(), lr=c.lr, betas=betas)
            self.optimizers[name] = optimizer
            if decay > 0:
                self.schedules[name] = torch.optim.lr_scheduler.LambdaLR(
                    optimizer, lambda t: 1.0 / (1.0 + decay * t)
                )

    def update(self, name: str, loss: torch.Tensor) -> None:
        """Backpropagate ``loss`` and step the optimizer (and schedule) of ``name``."""
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        if name in self.schedules:
            self.schedules[name].step()


def _chunks(batch: tuple[torch.Tensor, ...], size: int, n: int) -> Iterator[tuple[Any, ...]]:
    for k in range(n):
        yield tuple(t[k * size : (k + 1) * size] for t in batch)


def adversarial_step(
    nets: Networks,
    c: Config,
    label_std: torch.Tensor | None,
    device: torch.device,
    *,
    mixed_precision: bool = False,
) -> Step:
    """The step of :func:`dctrgan.training.train_steps` for a WGAN.

    A batch is ``(x,)``, ``(x, y)`` or, with clusters, ``(x, k)`` with
    ``n_critic * batch_size`` real events (network inputs), standardized labels or the
    events' clusters: the generated events of a slice have the clusters of its real
    ones, and the critic sees the cluster code beside the event. Each of the
    ``n_critic`` slices updates the critic on ``-C1 + C2`` (eqs. 3-5; with
    ``loss="bce"`` the binary cross entropy of real against generated events, plus
    ``C2`` if ``gp > 0``) and then the constrainer on ``C4`` (eq. 8); the generator is
    updated once on ``-E[f(g(z, y))] + C3`` (eq. 7; ``-log D`` for ``"bce"``), with the
    labels (clusters) of the last slice. ``C3`` and ``C4`` are in the label's own units
    (``label_std``).

    Returns:
        ``step(batch) -> {name: scalar tensor}`` (detached, on the device: read by
        :func:`~dctrgan.training.train_steps` without a sync per step) with the means
        over the critic updates of
        ``critic_loss``, ``wasserstein`` (``C1``, ``"wasserstein"`` only),
        ``gradient_penalty`` (``C2``, scaled by ``gp``; if ``gp > 0``) and
        ``constrainer_loss`` (``C4``), and the generator's ``generator_loss`` (all
        terms) and ``constrainer_penalty`` (``C3``, scaled by ``kappa``).
        With ``mixed_precision`` the forward passes and losses (the penalty's
        gradient too) run under :func:`~dctrgan.training.autocast`.
    """
    g, critic, constrainer = nets.generator, nets.critic, nets.constrainer
    wasserstein = c.loss == "wasserstein"
    conditional = c.condition_dim > 0
    squared = label_std**2 if label_std is not None else None

    def amp() -> contextlib.AbstractContextManager[Any]:
        return autocast(device, mixed_precision)

    def label_error(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``mean_events sum_labels (y - a)^2`` in label units."""
        assert squared is not None
        return ((pred - y) ** 2 * squared).sum(-1).mean()

    def step(batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        sums: dict[str, torch.Tensor] = {}

        def record(name: str, value: torch.Tensor) -> None:
            part = value.detach().double() / c.n_critic
            sums[name] = sums[name] + part if name in sums else part

        y: torch.Tensor | None = None
        seen: tuple[torch.Tensor, ...] = ()
        for part in _chunks(batch, c.batch_size, c.n_critic):
            x = part[0]
            y = part[1] if conditional else None
            seen = (y,) if c.critic_condition and y is not None else ()
            z = noise(len(x), c.latent, device=device)
            if c.clusters:  # the real events' clusters, for the generator and the critic
                seen = (one_hot(part[1], c.clusters),)
                z = torch.cat([z, *seen], -1)
            with amp():
                with torch.no_grad():
                    fake = g(z, y).float()
                real_score = critic(x, *seen).float()
                fake_score = critic(fake, *seen).float()
                if wasserstein:
                    distance = real_score.mean() - fake_score.mean()
                    loss = -distance
                    record("wasserstein", distance)
                else:
                    loss = F.binary_cross_entropy_with_logits(
                        real_score, torch.ones_like(real_score)
                    ) + F.binary_cross_entropy_with_logits(fake_score, torch.zeros_like(fake_score))
                if c.gp > 0:
                    penalty = c.gp * gradient_penalty(critic, x, fake, *seen).float()
                    loss = loss + penalty
                    record("gradient_penalty", penalty)
            nets.update("critic", loss)
            record("critic_loss", loss)
            if constrainer is not None and y is not None:
                with amp():
                    pred = constrainer(x).float()
                    constrainer_loss = F.mse_loss(pred, y)
                nets.update("constrainer", constrainer_loss)
                record("constrainer_loss", label_error(pred.detach(), y))
        z = noise(c.batch_size, c.latent, device=device)
        if c.clusters:
            z = torch.cat([z, *seen], -1)
        with frozen(critic, constrainer):
            with amp():
                fake = g(z, y).float()
                score = critic(fake, *seen).float()
                if wasserstein:
                    loss = -score.mean()
                else:
                    loss = F.binary_cross_entropy_with_logits(score, torch.ones_like(score))
                if constrainer is not None and y is not None:
                    penalty = c.kappa * label_error(constrainer(fake).float(), y)
                    loss = loss + penalty
                    sums["constrainer_penalty"] = penalty.detach().float()
            nets.update("generator", loss)
        sums["generator_loss"] = loss.detach().float()
        return sums

    return step
