"""The networks of :class:`dctrgan.WGAN`: generators, critics and constrainers per shape family.

Three families, chosen by the event shape:

- ``"points"`` (``(d,)``): the fully connected nets of the DCTRGAN toys (generator
  2 x 15, critic 2 x 25, ReLU);
- ``"patterns"`` (``(H, W)``): the convolutional generator and critic of Erdmann
  et al. Tables 1 and 2, and an AixNet-like convolutional constrainer;
- ``"volumes"`` (``(L, H, W)``): 3D (transposed) convolutions for calorimeter showers.

Every net works on the internal representation of :class:`dctrgan.WGAN` (scaled
inputs, standardized labels); all are :class:`torch.nn.Module` s with ``forward``
only. Generators map ``(z (B, latent), condition (B, c))`` to ``(B, *shape)``;
critics map ``(x (B, *shape)[, condition (B, c)])`` to ``(B,)`` scores (or logits
for ``loss="bce"``); constrainers map ``(B, *shape)`` to ``(B, c)`` labels.

References:
    DCTRGAN (Diefenbacher et al.), sec. III A.
    Erdmann, Glombitza, Walz et al., sec. 2.3 and Tables 1-2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from dctrgan.nn.layers import MLP

__all__ = (
    "FAMILIES",
    "Family",
    "PatternConstrainer",
    "PatternCritic",
    "PatternGenerator",
    "PointConstrainer",
    "PointCritic",
    "PointGenerator",
    "VolumeConstrainer",
    "VolumeCritic",
    "VolumeGenerator",
    "build_networks",
    "family_of",
    "noise",
    "one_hot",
)

Family = Literal["points", "patterns", "volumes"]
FAMILIES: dict[int, Family] = {1: "points", 2: "patterns", 3: "volumes"}

#: LeakyReLU slope of the convolutional critics and constrainers.
_SLOPE = 0.2


def family_of(shape: Sequence[int]) -> Family:
    """The network family of an event shape: ``(d,)``, ``(H, W)`` or ``(L, H, W)``.

    Raises:
        ValueError: for another number of axes or a non-positive size.
    """
    if len(shape) not in FAMILIES or any(int(s) < 1 for s in shape):
        msg = f"shape must be (d,), (H, W) or (L, H, W) with positive sizes, got {tuple(shape)}"
        raise ValueError(msg)
    return FAMILIES[len(shape)]


def _crop(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """The centre ``shape`` of the trailing axes of ``x`` (at least that large)."""
    index: list[slice] = [slice(None)] * (x.dim() - len(shape))
    for size, want in zip(x.shape[-len(shape) :], shape, strict=True):
        start = (size - want) // 2
        index.append(slice(start, start + want))
    return x[tuple(index)]


def _with(x: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
    return x if condition is None or condition.shape[-1] == 0 else torch.cat([x, condition], -1)


# ------------------------------------------------------------------ points


def noise(
    n: int,
    latent: int,
    fractions: torch.Tensor | None = None,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | None = None,
) -> torch.Tensor:
    """The generator's input: Gaussian noise, and a cluster code with ``fractions``.

    ``(n, latent)`` standard normal values; with the ``(K,)`` ``fractions`` of a
    :class:`PointGenerator`'s clusters, the one-hot code of a cluster drawn with those
    probabilities is appended: ``(n, latent + K)``.
    """
    z = torch.randn(n, latent, generator=generator, device=device)
    if fractions is None:
        return z
    if n == 0:  # torch.multinomial draws at least one
        return torch.zeros(0, latent + len(fractions), device=z.device)
    pick = torch.multinomial(fractions.to(z.device), n, replacement=True, generator=generator)
    return torch.cat([z, one_hot(pick, len(fractions))], -1)


def one_hot(index: torch.Tensor, k: int) -> torch.Tensor:
    """``(n,)`` integers to ``(n, k)`` float32 one-hot codes."""
    return torch.nn.functional.one_hot(index, k).to(torch.float32)


class PointGenerator(nn.Module):
    """``[z, condition] -> x``: an MLP with ReLU and a linear output, optionally per cluster.

    The DCTRGAN toys' generator is 2 x 15 (``hidden=(15, 15)``, no clusters).
    With ``clusters = K > 0`` (a self-conditioned GAN: the components of a Gaussian
    mixture of the data condition generator and critic) the input ends with the
    one-hot code of a component (:func:`noise`), and the net's output is placed in
    that component: ``x = centre_k + scale_k * MLP(z, code)``, with the components'
    means, per-axis standard deviations and fractions of the training data as buffers
    (set by :class:`dctrgan.WGAN` before training). A continuous generator maps a
    connected latent space onto a connected set, so one net must lay points between
    separated modes; per component it draws a local, nearly unimodal piece only, and
    the fractions put the right mass on each.

    With ``residual`` the net learns a correction of the mixture: ``x = centre_k +
    scale_k * (z[:d] + MLP(z, code))``, the first ``d`` noise values being the
    component's own Gaussian draw; the last layer starts at zero, so the untrained
    generator samples the mixture itself. Needs ``latent >= d``.

    Args:
        dim: the points' dimension ``d``.
        latent: size of the Gaussian noise.
        condition_dim: number of labels.
        hidden: widths of the hidden layers.
        clusters: number of clusters ``K`` (0: none).
        residual: the MLP corrects the mixture's Gaussian draw (with ``clusters`` only).

    Shape:
        ``z (B, latent + K)``, ``condition (B, c)`` to ``(B, d)``.

    Raises:
        ValueError: for ``residual`` without clusters or with ``latent < dim``.

    References:
        S. Liu, T. Wang, D. Bau, J.-Y. Zhu, A. Torralba, "Diverse Image Generation via
        Self-Conditioned GANs", CVPR 2020, arXiv:2006.10728.
    """

    centres: torch.Tensor
    scales: torch.Tensor
    fractions: torch.Tensor

    def __init__(
        self,
        dim: int,
        latent: int,
        condition_dim: int,
        hidden: Sequence[int] = (15, 15),
        clusters: int = 0,
        residual: bool = False,
    ) -> None:
        super().__init__()
        if residual and not (clusters and latent >= dim):
            msg = (
                f"a residual generator needs clusters and latent >= {dim}, "
                f"got clusters={clusters}, latent={latent}"
            )
            raise ValueError(msg)
        self.clusters = clusters
        self.residual = residual
        self.net = MLP(latent + clusters + condition_dim, hidden, dim)
        if residual:
            last = self.net[-1]
            assert isinstance(last, nn.Linear)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        if clusters:
            self.register_buffer("centres", torch.zeros(clusters, dim))
            self.register_buffer("scales", torch.ones(clusters, dim))
            self.register_buffer("fractions", torch.full((clusters,), 1.0 / clusters))

    def forward(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        out: torch.Tensor = self.net(_with(z, condition))
        if self.clusters:
            code = z[:, -self.clusters :]
            if self.residual:
                out = z[:, : out.shape[-1]] + out
            out = code @ self.centres + out * (code @ self.scales)
        return out


class PointCritic(nn.Module):
    """``x [, condition] -> score``: an MLP with ReLU (DCTRGAN toys: 2 x 25).

    Shape:
        ``x (B, d)``, optional ``condition (B, c)`` to ``(B,)``.
    """

    def __init__(self, dim: int, condition_dim: int = 0, hidden: Sequence[int] = (25, 25)) -> None:
        super().__init__()
        self.net = MLP(dim + condition_dim, hidden, 1)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        out: torch.Tensor = self.net(_with(x, condition))
        return out.squeeze(-1)


class PointConstrainer(nn.Module):
    """``x -> label``: an MLP regressor (2 x 32 ReLU).

    Shape:
        ``(B, d)`` to ``(B, c)``.
    """

    def __init__(self, dim: int, condition_dim: int, hidden: Sequence[int] = (32, 32)) -> None:
        super().__init__()
        self.net = MLP(dim, hidden, condition_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


# ------------------------------------------------------------------ 2D patterns


class PatternGenerator(nn.Module):
    """The generator of Erdmann et al. Table 1 for ``H x W`` signal patterns.

    ``Linear(latent + c -> latent)`` with ReLU, seen as ``latent`` maps of
    ``(H - 8) x (W - 8)`` (``1 x 1`` for 9 x 9; at least 1), then four transposed
    ``3 x 3`` convolutions (``valid``: each adds 2 to the size) with ``width``,
    ``2 width``, ``2 width``, ``4 width`` maps (paper: 64, 128, 128, 256), batch
    normalization and ReLU, and a ``3 x 3`` convolution to one map with a ReLU, so
    signals are non-negative with exact zeros (stations without signal). Outputs
    larger than ``H x W`` (small patterns) are cropped at the centre.

    Shape:
        ``z (B, latent)``, ``condition (B, c)`` to ``(B, H, W)``.
    """

    def __init__(
        self, shape: Sequence[int], latent: int, condition_dim: int, width: int = 64
    ) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        self.base = tuple(max(s - 8, 1) for s in self.shape)
        self.channels = latent
        self.linear = nn.Sequential(
            nn.Linear(latent + condition_dim, latent * math.prod(self.base)), nn.ReLU()
        )
        layers: list[nn.Module] = []
        previous = latent
        for maps in (width, 2 * width, 2 * width, 4 * width):
            layers += [nn.ConvTranspose2d(previous, maps, 3), nn.BatchNorm2d(maps), nn.ReLU()]
            previous = maps
        layers += [nn.Conv2d(previous, 1, 3, padding=1), nn.ReLU()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        h = self.linear(_with(z, condition)).view(-1, self.channels, *self.base)
        return _crop(self.net(h).squeeze(1), self.shape)


class PatternCritic(nn.Module):
    """The critic of Erdmann et al. Table 2 for ``H x W`` signal patterns.

    Four ``3 x 3`` convolutions (``same``) with ``width``, ``2 width``, ``2 width``,
    ``4 width`` maps (paper: 64, 128, 128, 256) and LeakyReLU, no batch
    normalization (the gradient penalty is per event), global max pooling, dropout,
    ``Linear(100)`` with LeakyReLU, dropout, ``Linear(1)``. With ``condition_dim >
    0`` the label joins the pooled features (the paper's critic sees the pattern only).

    Shape:
        ``x (B, H, W)``, optional ``condition (B, c)`` to ``(B,)``.
    """

    def __init__(self, condition_dim: int = 0, width: int = 64, dropout: float = 0.25) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = 1
        for maps in (width, 2 * width, 2 * width, 4 * width):
            layers += [nn.Conv2d(previous, maps, 3, padding=1), nn.LeakyReLU(_SLOPE)]
            previous = maps
        self.features = nn.Sequential(*layers, nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(previous + condition_dim, 100),
            nn.LeakyReLU(_SLOPE),
            nn.Dropout(dropout),
            nn.Linear(100, 1),
        )

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        out: torch.Tensor = self.head(_with(self.features(x.unsqueeze(1)), condition))
        return out.squeeze(-1)


class PatternConstrainer(nn.Module):
    """An AixNet-like label regressor on ``H x W`` patterns.

    Three ``3 x 3`` convolutions (``same``) with ``width / 4``, ``width / 2``,
    ``width / 2`` maps (at least 8) and LeakyReLU, keeping the station positions,
    then ``Linear(64)`` with LeakyReLU and a linear output per label.

    Shape:
        ``(B, H, W)`` to ``(B, c)``.

    References:
        Erdmann, Glombitza, Walz, Astropart. Phys. 97 (2018) 46 (AixNet).
    """

    def __init__(self, shape: Sequence[int], condition_dim: int, width: int = 64) -> None:
        super().__init__()
        maps = [max(width // 4, 8), max(width // 2, 8), max(width // 2, 8)]
        layers: list[nn.Module] = []
        previous = 1
        for m in maps:
            layers += [nn.Conv2d(previous, m, 3, padding=1), nn.LeakyReLU(_SLOPE)]
            previous = m
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = MLP(previous * math.prod(shape), (64,), condition_dim, negative_slope=_SLOPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.features(x.unsqueeze(1)))
        return out


# ------------------------------------------------------------------ 3D volumes


def _halve(n: int) -> int:
    """Size after a stride-2, kernel-3, padding-1 convolution."""
    return (n - 1) // 2 + 1


class VolumeGenerator(nn.Module):
    """A 3D generator for ``L x H x W`` voxels (calorimeter showers).

    ``Linear(latent + c -> 4 width x ceil(L/4) x ceil(H/4) x ceil(W/4))`` with ReLU,
    two transposed 3D convolutions (kernel 4, stride 2: each doubles the size) to
    ``2 width`` and ``width`` maps with batch normalization and ReLU, a ``1 x 1 x 1``
    convolution to one map with a ReLU (non-negative energies, exact zeros; a
    pointwise map, as the full-resolution layers dominate the cost), cropped at the
    centre to ``L x H x W``.

    Shape:
        ``z (B, latent)``, ``condition (B, c)`` to ``(B, L, H, W)``.
    """

    def __init__(
        self, shape: Sequence[int], latent: int, condition_dim: int, width: int = 8
    ) -> None:
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        self.base = tuple(-(-s // 4) for s in self.shape)
        self.channels = 4 * width
        self.linear = nn.Sequential(
            nn.Linear(latent + condition_dim, self.channels * math.prod(self.base)), nn.ReLU()
        )
        self.net = nn.Sequential(
            nn.ConvTranspose3d(4 * width, 2 * width, 4, stride=2, padding=1),
            nn.BatchNorm3d(2 * width),
            nn.ReLU(),
            nn.ConvTranspose3d(2 * width, width, 4, stride=2, padding=1),
            nn.BatchNorm3d(width),
            nn.ReLU(),
            nn.Conv3d(width, 1, 1),
            nn.ReLU(),
        )

    def forward(self, z: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        h = self.linear(_with(z, condition)).view(-1, self.channels, *self.base)
        return _crop(self.net(h).squeeze(1), self.shape)


class VolumeCritic(nn.Module):
    """A 3D convolutional critic for ``L x H x W`` voxels.

    Three ``3 x 3 x 3`` convolutions with stride 2 to ``width``, ``2 width``,
    ``4 width`` maps and LeakyReLU (no batch normalization), flattened, then
    ``Linear(64)`` with LeakyReLU and ``Linear(1)``; with ``condition_dim > 0`` the
    label joins the flattened features.

    Shape:
        ``x (B, L, H, W)``, optional ``condition (B, c)`` to ``(B,)``.
    """

    def __init__(self, shape: Sequence[int], condition_dim: int = 0, width: int = 8) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous, size = 1, [int(s) for s in shape]
        for maps in (width, 2 * width, 4 * width):
            layers += [nn.Conv3d(previous, maps, 3, stride=2, padding=1), nn.LeakyReLU(_SLOPE)]
            previous, size = maps, [_halve(s) for s in size]
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = MLP(previous * math.prod(size) + condition_dim, (64,), 1, negative_slope=_SLOPE)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        out: torch.Tensor = self.head(_with(self.features(x.unsqueeze(1)), condition))
        return out.squeeze(-1)


class VolumeConstrainer(nn.Module):
    """A 3D convolutional label regressor for ``L x H x W`` voxels.

    Two ``3 x 3 x 3`` convolutions with stride 2 to ``width`` maps and LeakyReLU,
    flattened, ``Linear(64)`` with LeakyReLU and a linear output per label.

    Shape:
        ``(B, L, H, W)`` to ``(B, c)``.
    """

    def __init__(self, shape: Sequence[int], condition_dim: int, width: int = 8) -> None:
        super().__init__()
        size = [_halve(_halve(int(s))) for s in shape]
        self.features = nn.Sequential(
            nn.Conv3d(1, width, 3, stride=2, padding=1),
            nn.LeakyReLU(_SLOPE),
            nn.Conv3d(width, width, 3, stride=2, padding=1),
            nn.LeakyReLU(_SLOPE),
            nn.Flatten(),
        )
        self.head = MLP(width * math.prod(size), (64,), condition_dim, negative_slope=_SLOPE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.features(x.unsqueeze(1)))
        return out


# ------------------------------------------------------------------ factory


def build_networks(
    shape: Sequence[int],
    *,
    latent: int,
    condition_dim: int,
    width: int,
    critic_condition: bool,
    dropout: float,
    clusters: int = 0,
    hidden: Sequence[int] = (15, 15),
    critic_hidden: Sequence[int] = (25, 25),
    residual: bool = False,
) -> tuple[nn.Module, nn.Module, nn.Module | None]:
    """Fresh ``(generator, critic, constrainer)`` for events of ``shape``.

    The constrainer is ``None`` without a condition; the critic sees the condition
    only with ``critic_condition``. ``width`` scales the convolutional nets,
    ``dropout`` is the critic's dropout for patterns; ``clusters`` (see
    :class:`PointGenerator`; the critic then also sees the cluster code), ``hidden``,
    ``critic_hidden`` and ``residual`` shape the nets of points.
    """
    family = family_of(shape)
    seen = condition_dim if critic_condition else 0
    generator: nn.Module
    critic: nn.Module
    constrainer: nn.Module | None
    if family == "points":
        dim = int(shape[0])
        generator = PointGenerator(dim, latent, condition_dim, hidden, clusters, residual)
        critic = PointCritic(dim, seen + clusters, critic_hidden)
        constrainer = PointConstrainer(dim, condition_dim) if condition_dim else None
    elif family == "patterns":
        generator = PatternGenerator(shape, latent, condition_dim, width)
        critic = PatternCritic(seen, width, dropout)
        constrainer = PatternConstrainer(shape, condition_dim, width) if condition_dim else None
    else:
        generator = VolumeGenerator(shape, latent, condition_dim, width)
        critic = VolumeCritic(shape, seen, width)
        constrainer = VolumeConstrainer(shape, condition_dim, width) if condition_dim else None
    return generator, critic, constrainer
