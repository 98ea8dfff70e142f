"""The AixNet-like network of :class:`dctrgan.Regressor`: station traces in, one number out.

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

References:
    M. Erdmann, J. Glombitza, D. Walz, "A deep learning-based reconstruction of
    cosmic ray-induced air showers", Astropart. Phys. 97 (2018) 46 (AixNet).
    M. Erdmann, L. Geiger, J. Glombitza, D. Schmidt, "Generating and refining particle
    detector simulations using the Wasserstein distance in adversarial networks",
    Comput. Softw. Big Sci. 2 (2018) 4, secs. 3, 5.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ("AixNet", "TraceEncoder")

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
