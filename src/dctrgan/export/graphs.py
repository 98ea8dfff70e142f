"""The functions that exported models compute, as torch modules with tensors in and out.

Each wraps fitted networks with what the Python model does around them, so that the
exported graph computes the same numbers from the same arrays:

- :class:`WeightGraph`: DCTR, from the classifier inputs to the weights -- the
  networks (with their input scaling), the temperature and offset of each fold, the
  mean over the folds, the clip, and the replicas beside the nominal;
- :class:`SampleGraph`: a WGAN generator, from noise and labels to events in physical
  units;
- :class:`RefineGraph`: a refiner, from simulated traces to refined ones.

The calibration runs in float64, as in :meth:`dctrgan.DCTR.weight`, so the weights of
an exported model differ from the Python ones by the rounding of the network alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from dctrgan.nn.traces import TraceRefiner, from_scaled, to_scaled

__all__ = ("RefineGraph", "SampleGraph", "WeightGraph")


class WeightGraph(nn.Module):
    """DCTR weights ``w = exp(min(mean_j(logit_j / T_j + b_j), log_clip))`` of classifier inputs.

    Args:
        folds: the fold classifiers (one without folds), each ``inputs -> (B,)`` logits.
        temperatures: ``T_j`` of each fold.
        offsets: ``b_j`` of each fold.
        log_clip: the log of the largest weight (the clip, or the float32 limit).
        replicas: the replicas' classifiers: one module giving ``(B, k)`` logits (the
            batched MLP), or ``k`` modules giving ``(B,)`` each; ``None``: no replicas.
        replica_temperatures: ``T`` of each replica.
        replica_offsets: ``b`` of each replica.

    Shape:
        The inputs of the classifiers (``(B, d)`` features; ``(B, L, X, Y)`` voxels;
        ``(B, H, 4)`` hits and ``(B, H)`` mask) to ``(B,)`` float32 weights, or
        ``(B, 1 + k)`` with replicas (column 0 the nominal).
    """

    temperature: torch.Tensor
    offset: torch.Tensor
    replica_temperature: torch.Tensor
    replica_offset: torch.Tensor

    def __init__(
        self,
        folds: Sequence[nn.Module],
        temperatures: Sequence[float],
        offsets: Sequence[float],
        log_clip: float,
        replicas: nn.Module | Sequence[nn.Module] | None = None,
        replica_temperatures: Sequence[float] = (),
        replica_offsets: Sequence[float] = (),
    ) -> None:
        super().__init__()
        self.folds = nn.ModuleList(folds)
        f64 = torch.float64
        self.register_buffer("temperature", torch.tensor(list(temperatures), dtype=f64))
        self.register_buffer("offset", torch.tensor(list(offsets), dtype=f64))
        self.log_clip = float(log_clip)
        self.batched = isinstance(replicas, nn.Module)
        if replicas is None:
            replicas = []
        self.replicas = nn.ModuleList([replicas] if isinstance(replicas, nn.Module) else replicas)
        self.register_buffer(
            "replica_temperature", torch.tensor(list(replica_temperatures), dtype=f64)
        )
        self.register_buffer("replica_offset", torch.tensor(list(replica_offsets), dtype=f64))

    def _weights(
        self, logits: torch.Tensor, temperature: torch.Tensor, offset: torch.Tensor
    ) -> torch.Tensor:
        return logits.to(torch.float64) / temperature + offset

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        inputs = (x,) if mask is None else (x, mask)
        logits = torch.stack([m(*inputs) for m in self.folds], -1)
        log_w = self._weights(logits, self.temperature, self.offset).mean(-1)
        w = torch.exp(torch.clamp(log_w, max=self.log_clip)).to(torch.float32)
        if len(self.replicas) == 0:
            return w
        if self.batched:
            r_logits = self.replicas[0](*inputs)
        else:
            r_logits = torch.stack([m(*inputs) for m in self.replicas], -1)
        log_r = self._weights(r_logits, self.replica_temperature, self.replica_offset)
        r = torch.exp(torch.clamp(log_r, max=self.log_clip)).to(torch.float32)
        return torch.cat([w.unsqueeze(-1), r], -1)


class SampleGraph(nn.Module):
    """A WGAN generator: noise ``z`` (and labels) to events in physical units.

    Args:
        generator: the generator, ``(z, scaled labels) -> (B, prod(shape))`` or ``(B, *shape)``.
        shape: the event shape.
        inverse: the scaling from network outputs ``(B, *shape)`` to physical units.
        label_mean: the labels' mean (``None``: an unconditional generator).
        label_std: the labels' standard deviation.

    Shape:
        ``z (B, latent)`` [and ``condition (B, c)`` float64 in physical units,
        standardized in float64 as the Python model does] to ``(B, *shape)``.
    """

    label_mean: torch.Tensor
    label_std: torch.Tensor

    def __init__(
        self,
        generator: nn.Module,
        shape: Sequence[int],
        inverse: Callable[[torch.Tensor], torch.Tensor],
        label_mean: Sequence[float] | None = None,
        label_std: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.generator = generator
        self.shape = tuple(int(s) for s in shape)
        self.inverse = inverse
        self.conditional = label_mean is not None
        mean = torch.tensor(list(label_mean or []), dtype=torch.float64)
        std = torch.tensor(list(label_std or []), dtype=torch.float64)
        self.register_buffer("label_mean", mean)
        self.register_buffer("label_std", std)

    def forward(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        if self.conditional:
            assert condition is not None
            y = ((condition.to(torch.float64) - self.label_mean) / self.label_std).float()
        else:
            y = z.new_zeros(z.shape[0], 0)
        u = self.generator(z, y).reshape(-1, *self.shape)
        return self.inverse(u)


class RefineGraph(nn.Module):
    """A refiner: simulated traces ``(B, X, Y, T)`` in VEM to refined ones, stations
    without signal left at 0 (every station through the network, then masked).

    Args:
        refiner: a :class:`dctrgan.nn.traces.TraceRefiner`.
    """

    def __init__(self, refiner: TraceRefiner) -> None:
        super().__init__()
        self.refiner = refiner

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        unit, scale = self.refiner.unit, self.refiner.scale
        u = to_scaled(signal, unit, scale)
        return from_scaled(self.refiner(u, dense=True), unit, scale)
