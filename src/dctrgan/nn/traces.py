"""The networks on air-shower traces: the AixNet-like regressor of :class:`dctrgan.Regressor`,
and the residual refiner of Erdmann et al. Table 3 with its AixNet-like critic
(:class:`dctrgan.Refiner`).

**Regressor** (:class:`AixNet`): station traces in, one number out.

Architecture (after AixNet, Erdmann, Glombitza, Walz 2018, which characterizes
each station's time trace with convolutions along time and then reconstructs the
shower with convolutions over the detector grid):

1. **trace characterization**, the same for every station: three 1D convolutions
   along time (kernels 7, 5, 5, stride 2 each, ``width`` channels, ReLU) shrink
   the 80 bins of ``log1p(signal)`` to 10 steps, and a linear layer maps them to
   ``width`` features. Only stations with signal go through it; the others get
   zero features (on the 9 x 9 grid most stations are empty, so this is what
   keeps the network fast on a CPU).
2. **station features** on the grid: the ``width`` trace features, the station's
   log total signal and a flag for stations with signal.
3. **grid convolutions**: three 3 x 3 convolutions (``2 width`` channels, ReLU,
   zero padding) over the 9 x 9 grid. The air-shower simulator stores its
   triangular lattice in axial coordinates, so a 3 x 3 kernel covers a station's
   six neighbours (and two second neighbours) everywhere.
4. **output**: the feature maps flattened (the shower core always lies in the
   central station's cell, so positions on the grid carry the distance to the
   axis) into a dense layer of ``4 width`` and a linear output.

The log total signal per station is given explicitly because the energy lives
in it (the signal scales with the energy) while the trace shape, which the
convolutions along time see, carries the muon content and the distance to the
axis. Inputs are scaled inside the network (buffers set from training data),
so saved models carry their own scaling.

**Scaled traces** (refiner and critic). A station trace ``s`` (VEM per bin) enters as
``u = log1p(s / s0) / t`` (:func:`to_scaled`), with ``s0`` and ``t`` buffers of both
networks set from training data (see :mod:`dctrgan.refiner`). Near the shower core a
station holds up to 1e7 VEM, far from it a few VEM: in ``u`` both are of order one,
and the difference between simulation and data -- a factor of order one in the
signal, a shift of the time profile -- is a small additive correction.

**Refiner** (Table 3): the same network for every station, along time only (a
``1 x 1 x 7`` kernel on the 9 x 9 x 80 traces is a 1D convolution per station):
4 residual blocks ``h <- h + relu(conv(relu(conv(h))))`` of two convolutions with
kernel 7 and ``width`` maps (64 in the paper); the first block adds the one-channel
input to each of its maps. A ``1 x 1`` convolution to one map follows, whose output
is *added to the input* before the final ReLU: ``u' = relu(u + head(h))``. With the
head initialized small, an untrained refiner is close to the identity and training
learns a correction (as the residual refiner of SimGAN; the table's head replaces the
input instead). The final ReLU keeps the output non-negative.

**Sparse stations.** A station without signal (``u = 0`` everywhere: an untriggered
station) stays zero and is not pushed through the network; only the stations with
signal -- about 6 of the 81 for energies flat in 1-100 EeV -- are gathered, refined
and scattered back. ``dense=True`` runs every station and zeroes the empty ones
afterwards: the same result at ~10 times the cost.

**Critic**: the energy regressor's AixNet-like architecture (per-station
convolutions along time on the stations with signal, the log total per station,
3 x 3 convolutions over the grid, dense layers), built to be continuous in ``u`` (see
:class:`Critic`); its gradient, and so the gradient penalty, is taken with respect
to ``u``.

References:
    M. Erdmann, J. Glombitza, D. Walz, "A deep learning-based reconstruction of
    cosmic ray-induced air showers", Astropart. Phys. 97 (2018) 46 (AixNet).
    M. Erdmann, L. Geiger, J. Glombitza, D. Schmidt, "Generating and refining particle
    detector simulations using the Wasserstein distance in adversarial networks",
    Comput. Softw. Big Sci. 2 (2018) 4, secs. 2.4, 3, 5 and Table 3.
    A. Shrivastava et al., "Learning from simulated and unsupervised images through
    adversarial training" (SimGAN), CVPR 2017, arXiv:1612.07828.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = (
    "AixNet",
    "Critic",
    "ResidualBlock",
    "StationRefiner",
    "TraceEncoder",
    "TraceRefiner",
    "from_scaled",
    "to_scaled",
)


#: Kernels of the convolutions along time (each with stride 2).
_KERNELS = (7, 5, 5)


def _length(n_t: int) -> int:
    """Time steps left after the strided convolutions (padding ``k // 2``, stride 2)."""
    for _ in _KERNELS:
        n_t = (n_t - 1) // 2 + 1
    return n_t


class TraceEncoder(nn.Module):
    """Per-station trace characterization: 1D convolutions along time, then a linear map.

    Args:
        n_t: time bins per trace.
        width: channels of the convolutions and number of output features.

    Shape:
        ``(S, n_t)`` scaled traces to ``(S, width)`` features.
    """

    def __init__(self, n_t: int, width: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for k in _KERNELS:
            layers += [nn.Conv1d(channels, width, k, stride=2, padding=k // 2), nn.ReLU()]
            channels = width
        self.convolutions = nn.Sequential(*layers)
        self.linear = nn.Linear(width * _length(n_t), width)

    def forward(self, traces: torch.Tensor) -> torch.Tensor:
        h = self.convolutions(traces[:, None, :])
        out: torch.Tensor = torch.relu(self.linear(h.flatten(1)))
        return out


class AixNet(nn.Module):
    """AixNet-like regressor: station traces ``(B, n_x, n_y, n_t)`` in VEM to ``(B,)`` outputs.

    See the module docstring for the layers. The buffers ``trace_scale`` and
    ``total_scale`` divide ``log1p(signal)`` per bin and ``log1p(total)`` per station
    (set from training data: one over their root mean square on stations with
    signal); ``target_mean`` and ``target_std`` hold the scaling of the target the
    output is trained on (applied by the caller). Negative signal is treated as 0.

    Args:
        shape: ``(n_x, n_y, n_t)`` of the traces.
        width: network width (see the module docstring).
    """

    trace_scale: torch.Tensor
    total_scale: torch.Tensor
    target_mean: torch.Tensor
    target_std: torch.Tensor

    def __init__(self, shape: tuple[int, int, int], width: int) -> None:
        super().__init__()
        n_x, n_y, n_t = shape
        self.shape = shape
        self.encoder = TraceEncoder(n_t, width)
        channels = width + 2
        layers: list[nn.Module] = []
        for _ in range(3):
            layers += [nn.Conv2d(channels, 2 * width, 3, padding=1), nn.ReLU()]
            channels = 2 * width
        self.grid = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Linear(2 * width * n_x * n_y, 4 * width), nn.ReLU(), nn.Linear(4 * width, 1)
        )
        for name in ("trace_scale", "total_scale", "target_std"):
            self.register_buffer(name, torch.ones(()))
        self.register_buffer("target_mean", torch.zeros(()))

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        n_x, n_y, n_t = self.shape
        flat = torch.clamp(signal, min=0.0).reshape(-1, n_t)
        total = flat.sum(dim=1)
        hit = total > 0
        index = torch.nonzero(hit).squeeze(1)
        encoded = self.encoder(torch.log1p(flat[index]) * self.trace_scale)
        features = encoded.new_zeros(len(flat), encoded.shape[1]).index_put((index,), encoded)
        station = torch.cat(
            [features, (torch.log1p(total) * self.total_scale)[:, None], hit[:, None].to(flat)],
            dim=1,
        )
        grid = station.reshape(-1, n_x, n_y, station.shape[1]).permute(0, 3, 1, 2)
        out: torch.Tensor = self.head(self.grid(grid).flatten(1)).squeeze(1)
        return out


#: The head starts at this fraction of PyTorch's default initialization: the refiner
#: starts close to the identity, and every parameter still gets a gradient at once.
_HEAD_INIT = 0.01
#: Negative slope of the critic's LeakyReLUs.
_SLOPE = 0.2


class ResidualBlock(nn.Module):
    """``h + relu(conv(relu(conv(h))))``: two 1D convolutions along time, ``same`` padding.

    Args:
        channels: input channels (1 for the first block: broadcast onto ``width`` maps).
        width: feature maps.
        kernel: odd kernel length in time bins.

    Shape:
        ``(S, channels, n_t)`` to ``(S, width, n_t)``.
    """

    def __init__(self, channels: int, width: int, kernel: int) -> None:
        super().__init__()
        self.first = nn.Conv1d(channels, width, kernel, padding=kernel // 2)
        self.second = nn.Conv1d(width, width, kernel, padding=kernel // 2)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = h + torch.relu(self.second(torch.relu(self.first(h))))
        return out


class StationRefiner(nn.Module):
    """Table 3 on single stations: scaled traces ``(S, n_t)`` to refined ``(S, n_t)``, ``>= 0``.

    Args:
        width: feature maps of the residual blocks (64 in the paper).
        blocks: number of residual blocks (4).
        kernel: kernel length along time (7).
    """

    def __init__(self, width: int, blocks: int = 4, kernel: int = 7) -> None:
        super().__init__()
        self.blocks = nn.Sequential(
            *(ResidualBlock(1 if i == 0 else width, width, kernel) for i in range(blocks))
        )
        self.head = nn.Conv1d(width, 1, 1)
        with torch.no_grad():
            for parameter in self.head.parameters():
                parameter.mul_(_HEAD_INIT)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        x = u[:, None, :]
        out: torch.Tensor = torch.relu(x + self.head(self.blocks(x)))[:, 0]
        return out


class TraceRefiner(nn.Module):
    """The refiner on whole events: ``(B, n_x, n_y, n_t)`` scaled traces to refined ones.

    Stations without signal stay zero; see the module docstring for the layers and
    ``dense``. The buffers ``unit`` and ``scale`` are ``s0`` and ``t`` of
    ``u = log1p(s / s0) / t`` (see :func:`to_scaled` and :func:`from_scaled`), saved with
    the weights.

    Args:
        width: feature maps of the residual blocks.
        blocks: number of residual blocks.
        kernel: kernel length along time.
        unit: ``s0`` in VEM.
        scale: ``t``.
    """

    unit: torch.Tensor
    scale: torch.Tensor

    def __init__(
        self, width: int, blocks: int = 4, kernel: int = 7, unit: float = 1.0, scale: float = 1.0
    ) -> None:
        super().__init__()
        self.station = StationRefiner(width, blocks, kernel)
        self.register_buffer("unit", torch.tensor(float(unit)))
        self.register_buffer("scale", torch.tensor(float(scale)))

    def forward(self, u: torch.Tensor, dense: bool = False) -> torch.Tensor:
        flat = u.reshape(-1, u.shape[-1])
        hit = flat.amax(dim=1) > 0
        out: torch.Tensor
        if dense:
            out = self.station(flat) * hit[:, None].to(flat)
        else:
            index = torch.nonzero(hit).squeeze(1)
            out = flat.new_zeros(flat.shape).index_put((index,), self.station(flat[index]))
        return out.reshape(u.shape)


def to_scaled(signal: torch.Tensor, unit: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``u = log1p(s / s0) / t`` of signals ``s`` in VEM (negative values count as 0)."""
    u: torch.Tensor = torch.log1p(torch.clamp(signal, min=0.0) / unit) / scale
    return u


def from_scaled(u: torch.Tensor, unit: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The signal ``s = s0 expm1(t u)`` in VEM of scaled traces ``u >= 0``."""
    s: torch.Tensor = torch.expm1(u * scale) * unit
    return s


class Critic(nn.Module):
    """The WGAN-GP critic: AixNet-like, on scaled traces ``(B, n_x, n_y, n_t)``, continuous in them.

    Per station: the trace features of the regressor's
    :class:`~dctrgan.nn.traces.TraceEncoder` (run on the stations with signal
    only) *minus its features of an empty trace*, and ``log1p`` of the station's total
    signal in VEM (``log1p(s0 sum expm1(t u))``, scaled). Then three 3 x 3 convolutions over the
    grid (``2 width`` maps, LeakyReLU 0.2), a dense layer of ``4 width`` and the score.

    Unlike the regressor's AixNet it has no flag for stations with signal and no
    jump at ``u -> 0``: both features vanish continuously for an empty station. A
    critic with such a step could separate data from simulation by an arbitrarily
    large score at zero gradient, out of the reach of the gradient penalty, and its
    Wasserstein estimate would grow without bound.

    Args:
        shape: ``(n_x, n_y, n_t)``.
        width: channels of the trace encoder; the grid convolutions have ``2 width``.
        unit: ``s0`` in VEM.
        scale: ``t``.
        total_scale: factor on ``log1p`` of the total signal per station (in VEM): one over
            its standard deviation over the stations with signal.

    Shape:
        ``(B, n_x, n_y, n_t)`` to ``(B,)`` scores.
    """

    unit: torch.Tensor
    scale: torch.Tensor
    total_scale: torch.Tensor

    def __init__(
        self,
        shape: tuple[int, int, int],
        width: int,
        unit: float = 1.0,
        scale: float = 1.0,
        total_scale: float = 1.0,
    ) -> None:
        super().__init__()
        n_x, n_y, n_t = shape
        self.shape = shape
        self.encoder = TraceEncoder(n_t, width)
        layers: list[nn.Module] = []
        channels = width + 1
        for _ in range(3):
            layers += [nn.Conv2d(channels, 2 * width, 3, padding=1), nn.LeakyReLU(_SLOPE)]
            channels = 2 * width
        self.grid = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Linear(2 * width * n_x * n_y, 4 * width),
            nn.LeakyReLU(_SLOPE),
            nn.Linear(4 * width, 1),
        )
        self.register_buffer("unit", torch.tensor(float(unit)))
        self.register_buffer("scale", torch.tensor(float(scale)))
        self.register_buffer("total_scale", torch.tensor(float(total_scale)))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        n_x, n_y, n_t = self.shape
        flat = u.reshape(-1, n_t)
        index = torch.nonzero(flat.amax(dim=1) > 0).squeeze(1)
        hit = flat[index]
        encoded = self.encoder(torch.cat([hit, flat.new_zeros(1, n_t)]))
        total = torch.log1p(from_scaled(hit, self.unit, self.scale).sum(dim=1)) * self.total_scale
        features = torch.cat([encoded[:-1] - encoded[-1:], total[:, None]], dim=1)
        station = features.new_zeros(len(flat), features.shape[1]).index_put((index,), features)
        grid = station.reshape(-1, n_x, n_y, station.shape[1]).permute(0, 3, 1, 2)
        out: torch.Tensor = self.head(self.grid(grid).flatten(1)).squeeze(1)
        return out
