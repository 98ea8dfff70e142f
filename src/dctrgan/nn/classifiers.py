"""The DCTR classifiers: one logit per event from features, voxels or hits.

Every class here is an :class:`torch.nn.Module` with ``forward`` only; training
lives in :mod:`dctrgan.training`, the user-facing methods in :mod:`dctrgan.dctr`.
Input scaling is part of each network (buffers, saved with the ``state_dict``), so
a saved model carries it and users never preprocess: :func:`fit_standardize` and
:func:`fit_hit_scaling` set those buffers from training data.

Classifiers return one logit per event, shape ``(B,)``; the sigmoid lives in the
loss (``binary_cross_entropy_with_logits``) and the weight is ``exp(logit / T)``.

- :class:`MLP`, :class:`Standardize`, :class:`MLPClassifier` -- the high-level net
  (DCTRGAN sec. III B: 2 x 128 ReLU on the 33 shower features);
- :class:`Conv3dClassifier` -- the paper's low-level net on ``30 x 30 x 30`` voxels;
- :class:`DeepSetsClassifier` -- a permutation-invariant net on the hit cloud.

References:
    DCTRGAN (Diefenbacher et al.), sec. III B.
    M. Zaheer et al., "Deep Sets", NeurIPS 2017 (sum/mean pooling of per-element features).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from dctrgan.nn.layers import MIN_STD, MLP, Standardize, fit_standardize

__all__ = (
    "Conv3dClassifier",
    "DeepSetsClassifier",
    "MLPClassifier",
    "fit_hit_scaling",
)


class MLPClassifier(nn.Module):
    """The DCTR high-level classifier: :class:`Standardize` then an :class:`MLP` to one logit.

    Defaults are the paper's: two hidden layers of 128 ReLU units.

    Args:
        n_features: input features ``d`` (33 for the paper's shower features).
        hidden: hidden widths.

    Shape:
        ``(B, d)`` features to ``(B,)`` logits.

    References:
        DCTRGAN (Diefenbacher et al.), sec. III B.
    """

    def __init__(self, n_features: int, hidden: Sequence[int] = (128, 128)) -> None:
        super().__init__()
        self.standardize = Standardize(n_features)
        self.net = MLP(n_features, hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(self.standardize(x))
        return out.squeeze(-1)


def _random_flip(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Flip each event of ``x`` along ``dim`` with probability 1/2 (global torch RNG)."""
    flip = torch.rand(x.shape[0], device=x.device) < 0.5
    return torch.where(flip.view(-1, *([1] * (x.dim() - 1))), x.flip(dim), x)


def _conv_size(n: int, stride: int, padding: int, kernel: int = 3) -> int:
    return (n + 2 * padding - kernel) // stride + 1


class Conv3dClassifier(nn.Module):
    """The DCTRGAN low-level classifier on dense voxels.

    In training mode each shower is flipped along x and along y, each with
    probability 1/2 (the showers are symmetric under both; the flips hide generator
    artifacts from the classifier). Energies enter as ``log1p(E / energy_scale)``
    (a buffer, set by :func:`fit_hit_scaling`). Then three ``Conv3d(width, k=3)``
    with strides 2, 2, 1 and padding 1, 1, 0, a layer norm after the first two
    (over channels and positions, ``GroupNorm(1, width)``, with a per-channel scale
    and shift), and fully connected layers ``hidden`` (paper: 64, 256, 256) to one
    logit; ``LeakyReLU(0.01)`` after every layer but the last.

    Args:
        shape: ``(n_layers, n_x, n_y)`` of the voxels (paper: 30 x 30 x 30).
        width: output channels of each convolution (paper: 128; CPU-sized: 8-16).
        hidden: fully connected widths after the convolutions.
        negative_slope: LeakyReLU slope.
        flip: random x/y flips in training mode.

    Shape:
        ``(B, n_layers, n_x, n_y)`` energies in MeV to ``(B,)`` logits.

    References:
        DCTRGAN (Diefenbacher et al.), sec. III B.
    """

    energy_scale: torch.Tensor

    def __init__(
        self,
        shape: Sequence[int] = (30, 30, 30),
        width: int = 128,
        hidden: Sequence[int] = (64, 256, 256),
        *,
        negative_slope: float = 0.01,
        flip: bool = True,
    ) -> None:
        super().__init__()
        self.flip = flip
        self.register_buffer("energy_scale", torch.ones(()))
        self.features = nn.Sequential(
            nn.Conv3d(1, width, 3, stride=2, padding=1),
            nn.LeakyReLU(negative_slope),
            nn.GroupNorm(1, width),
            nn.Conv3d(width, width, 3, stride=2, padding=1),
            nn.LeakyReLU(negative_slope),
            nn.GroupNorm(1, width),
            nn.Conv3d(width, width, 3, stride=1, padding=0),
            nn.LeakyReLU(negative_slope),
            nn.Flatten(),
        )
        size = [_conv_size(_conv_size(_conv_size(s, 2, 1), 2, 1), 1, 0) for s in shape]
        if min(size) < 1:
            msg = f"Conv3dClassifier: shape {tuple(shape)} is too small for the three convolutions"
            raise ValueError(msg)
        self.head = MLP(width * math.prod(size), hidden, 1, negative_slope=negative_slope)

    def forward(self, voxels: torch.Tensor) -> torch.Tensor:
        x = torch.log1p(torch.clamp(voxels, min=0.0) / self.energy_scale)
        if self.training and self.flip:
            x = _random_flip(_random_flip(x, -2), -1)
        out: torch.Tensor = self.head(self.features(x.unsqueeze(1)))
        return out.squeeze(-1)


class DeepSetsClassifier(nn.Module):
    """A permutation-invariant classifier on the hit cloud of a shower.

    Each hit ``(layer, ix, iy, energy)`` is scaled inside the module (indices to
    ``[-1, 1]`` about the grid centre, ``log E`` standardized and ``E`` over its mean,
    so sums of energies are linear in the inputs; buffers set by
    :func:`fit_hit_scaling`) and mapped by a per-hit MLP ``phi``; the features are
    pooled over the real hits of the event (the padding ``mask``) as a sum (divided
    by the typical hit count) and a mean; the event MLP ``rho`` sees the pooled
    features and two standardized event-level inputs, the log of the number of
    hits and of the total energy. In training mode the hits are flipped along x and
    y, each with probability 1/2 per event, as for :class:`Conv3dClassifier`.

    Args:
        shape: ``(n_layers, n_x, n_y)`` of the calorimeter the indices refer to.
        hit_hidden: widths of ``phi``; its last width is the pooled feature size.
        hidden: hidden widths of ``rho``.
        flip: random x/y flips in training mode.

    Shape:
        ``hits (B, H, 4)`` float (layer, ix, iy, energy in MeV) and ``mask (B, H)``
        bool (True for real hits) to ``(B,)`` logits.

    References:
        M. Zaheer et al., "Deep Sets", NeurIPS 2017.
    """

    hit_mean: torch.Tensor
    hit_std: torch.Tensor
    energy_scale: torch.Tensor
    count_scale: torch.Tensor
    centre: torch.Tensor
    half_width: torch.Tensor

    def __init__(
        self,
        shape: Sequence[int] = (30, 30, 30),
        hit_hidden: Sequence[int] = (64, 64),
        hidden: Sequence[int] = (128, 128),
        *,
        flip: bool = True,
    ) -> None:
        super().__init__()
        if len(hit_hidden) == 0:
            msg = "DeepSetsClassifier: hit_hidden needs at least one width"
            raise ValueError(msg)
        self.flip = flip
        extent = torch.tensor([float(s - 1) for s in shape])
        self.register_buffer("centre", 0.5 * extent)
        self.register_buffer("half_width", torch.clamp(0.5 * extent, min=0.5))
        self.register_buffer("hit_mean", torch.zeros(()))
        self.register_buffer("hit_std", torch.ones(()))
        self.register_buffer("energy_scale", torch.ones(()))
        self.register_buffer("count_scale", torch.ones(()))
        self.event = Standardize(2)
        self.phi = nn.Sequential(MLP(5, hit_hidden[:-1], hit_hidden[-1]), nn.ReLU())
        self.rho = MLP(2 * hit_hidden[-1] + 2, hidden, 1)

    def forward(self, hits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        index = hits[..., :3]
        energy = hits[..., 3]
        position = (index - self.centre) / self.half_width
        if self.training and self.flip:
            sign = torch.where(torch.rand(hits.shape[0], 2, device=hits.device) < 0.5, -1.0, 1.0)
            position = torch.cat([position[..., :1], position[..., 1:] * sign[:, None, :]], -1)
        real = mask.to(hits.dtype)
        log_e = (torch.log(torch.clamp(energy, min=1e-6)) - self.hit_mean) / self.hit_std
        x = torch.cat(
            [position, log_e.unsqueeze(-1), (energy / self.energy_scale).unsqueeze(-1)], -1
        )
        h = self.phi(x) * real.unsqueeze(-1)
        count = real.sum(1)
        pooled_sum = h.sum(1) / self.count_scale
        pooled_mean = h.sum(1) / torch.clamp(count, min=1.0).unsqueeze(-1)
        total = (energy * real).sum(1)
        event = torch.stack([torch.log1p(count), torch.log1p(total)], -1)
        z = torch.cat([pooled_sum, pooled_mean, self.event(event)], -1)
        out: torch.Tensor = self.rho(z)
        return out.squeeze(-1)


def fit_hit_scaling(
    model: Conv3dClassifier | DeepSetsClassifier,
    counts: torch.Tensor,
    energy: torch.Tensor,
) -> None:
    """Set the input-scaling buffers of a low-level classifier from training hits.

    Args:
        model: the classifier; its buffers are overwritten.
        counts: ``(N,)`` hits per training event.
        energy: ``(H,)`` energies in MeV of the hits of those events, event by event
            (``H = counts.sum()``).
    """
    energy = energy.to(torch.float64)
    with torch.no_grad():
        if isinstance(model, Conv3dClassifier):
            positive = energy[energy > 0]
            scale = positive.mean() if len(positive) else torch.ones((), dtype=torch.float64)
            model.energy_scale.fill_(float(scale))
            return
        log_e = torch.log(torch.clamp(energy, min=1e-6))
        model.hit_mean.fill_(float(log_e.mean()) if len(log_e) else 0.0)
        model.hit_std.fill_(max(float(log_e.std()) if len(log_e) > 1 else 1.0, MIN_STD))
        model.energy_scale.fill_(max(float(energy.mean()) if len(energy) else 1.0, MIN_STD))
        model.count_scale.fill_(max(float(counts.to(torch.float64).mean()), 1.0))
        sums = torch.zeros(len(counts), dtype=torch.float64)
        if len(energy):
            event = torch.repeat_interleave(torch.arange(len(counts)), counts)
            sums.index_add_(0, event, energy)
        event_inputs = torch.stack([torch.log1p(counts.to(torch.float64)), torch.log1p(sums)], -1)
        fitted = fit_standardize(event_inputs, log=False)
        model.event.load_state_dict(fitted.state_dict())
