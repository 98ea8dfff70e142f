"""Several independent copies of a network evaluated as one: the DCTR replicas.

:class:`BatchedMLPClassifier` holds ``k`` copies of :class:`~dctrgan.nn.MLPClassifier`
with their parameters stacked along a leading axis, so one batched matrix product
(``torch.baddbmm``) evaluates all of them: ``k`` small networks train in one optimizer
step at little more than the cost of one, since a single small network leaves the
CPU (or GPU) waiting on per-operation overhead rather than on arithmetic.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn

from dctrgan.nn.classifiers import MLPClassifier
from dctrgan.nn.layers import exporting

__all__ = ("BatchedMLPClassifier",)


class BatchedMLPClassifier(nn.Module):
    """``k`` independent :class:`~dctrgan.nn.MLPClassifier` networks evaluated together.

    Copy ``i`` has its own input scaling (the buffers of a
    :class:`~dctrgan.nn.Standardize`, row ``i`` of ``mean``, ``std`` and ``log_scale``)
    and its own weights: ``weights[j][i]`` is the transposed weight matrix of layer
    ``j``, ``biases[j][i]`` its bias. Copy ``i`` computes exactly what the
    :class:`~dctrgan.nn.MLPClassifier` of :meth:`unstack` computes (up to the float
    rounding of a batched product). A fresh module initializes every copy as
    :class:`torch.nn.Linear` does.

    Args:
        replicas: number of copies ``k``.
        n_features: input features ``d``.
        hidden: hidden widths (ReLU between layers), as for
            :class:`~dctrgan.nn.MLPClassifier`.

    Shape:
        ``(B, d)`` features (the same events for every copy) or ``(k, B, d)`` (each copy
        its own events) to ``(B, k)`` logits: events first, so predictions over
        batches concatenate along the events. ``forward(x, replicas)`` evaluates the
        copies of the index tensor ``replicas`` alone (``(m, B, d)`` to ``(B, m)``).
    """

    mean: torch.Tensor
    std: torch.Tensor
    log_scale: torch.Tensor

    def __init__(self, replicas: int, n_features: int, hidden: Sequence[int] = (128, 128)) -> None:
        super().__init__()
        if replicas < 1:
            msg = f"replicas must be at least 1, got {replicas}"
            raise ValueError(msg)
        self.replicas, self.n_features, self.hidden = replicas, n_features, tuple(hidden)
        widths = [n_features, *hidden, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for n_in, n_out in itertools.pairwise(widths):
            # nn.Linear's default: U(-1/sqrt(n_in), 1/sqrt(n_in)) for weights and biases
            bound = 1 / math.sqrt(n_in) if n_in > 0 else 0.0
            self.weights.append(
                nn.Parameter(torch.empty(replicas, n_in, n_out).uniform_(-bound, bound))
            )
            self.biases.append(
                nn.Parameter(torch.empty(replicas, 1, n_out).uniform_(-bound, bound))
            )
        self.register_buffer("mean", torch.zeros(replicas, n_features))
        self.register_buffer("std", torch.ones(replicas, n_features))
        self.register_buffer("log_scale", torch.zeros(replicas, n_features))

    @classmethod
    def stack(cls, classifiers: Sequence[MLPClassifier]) -> BatchedMLPClassifier:
        """The copies of ``classifiers`` (same features and widths) in one module."""
        first = classifiers[0]
        linear = [m for m in first.net if isinstance(m, nn.Linear)]
        hidden = [m.out_features for m in linear[:-1]]
        out = cls(len(classifiers), linear[0].in_features, hidden)
        with torch.no_grad():
            for i, c in enumerate(classifiers):
                layers = [m for m in c.net if isinstance(m, nn.Linear)]
                for j, layer in enumerate(layers):
                    out.weights[j][i].copy_(layer.weight.T)
                    out.biases[j][i, 0].copy_(layer.bias)
                for name in ("mean", "std", "log_scale"):
                    getattr(out, name)[i].copy_(getattr(c.standardize, name))
        return out

    def unstack(self) -> list[MLPClassifier]:
        """The copies as separate :class:`~dctrgan.nn.MLPClassifier` modules."""
        out = []
        with torch.no_grad():
            for i in range(self.replicas):
                c = MLPClassifier(self.n_features, self.hidden).to(self.mean.device)
                layers = [m for m in c.net if isinstance(m, nn.Linear)]
                for j, layer in enumerate(layers):
                    layer.weight.copy_(self.weights[j][i].T)
                    layer.bias.copy_(self.biases[j][i, 0])
                for name in ("mean", "std", "log_scale"):
                    getattr(c.standardize, name).copy_(getattr(self, name)[i])
                out.append(c)
        return out

    def forward(self, x: torch.Tensor, replicas: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of the copies (of ``replicas`` alone, an index tensor ``(m,)``, where
        given: ``x`` then holds ``m`` copies' events and the output is ``(B, m)``)."""
        mean, std, log_scale = self.mean, self.std, self.log_scale
        weights, biases = list(self.weights), list(self.biases)
        if replicas is not None:
            mean, std, log_scale = mean[replicas], std[replicas], log_scale[replicas]
            weights = [w.index_select(0, replicas) for w in weights]
            biases = [b.index_select(0, replicas) for b in biases]
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(len(mean), -1, -1)
        logged = (log_scale > 0)[:, None, :]
        if exporting() or bool(logged.any()):
            scale = torch.where(logged, log_scale[:, None, :], 1.0)
            x = torch.where(logged, torch.log1p(torch.clamp(x / scale, min=0.0)), x)
        h = (x - mean[:, None, :]) / std[:, None, :]
        for j, (w, b) in enumerate(zip(weights, biases, strict=True)):
            h = torch.baddbmm(b, h, w)
            if j < len(weights) - 1:
                h = torch.relu_(h)
        return h.squeeze(-1).T
