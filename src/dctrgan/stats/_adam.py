"""Adam for the small networks of :mod:`dctrgan.stats` (private): the numbers of
``torch.optim.Adam`` without its import cost."""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ("Adam",)


class Adam:
    """Adam with torch's defaults (betas 0.9 and 0.999, eps 1e-8), the numbers of
    ``torch.optim.Adam(params, lr=lr, foreach=True)`` to the bit, in the same
    ``torch._foreach_*`` operations. Written out because a torch optimizer's first step
    imports ``torch._dynamo``: 0.7 s, an eighth of ``dctrgan report``'s two tests.

    References:
        D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
    """

    def __init__(self, params: list[torch.Tensor], lr: float) -> None:
        self.params, self.lr, self.steps = params, lr, 0
        self.betas, self.eps = (0.9, 0.999), 1e-8
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, gradients: Sequence[torch.Tensor]) -> None:
        """One update of every parameter with its gradient in ``gradients``."""
        grads = list(gradients)
        self.steps += 1
        b1, b2 = self.betas
        n = len(self.params)
        torch._foreach_lerp_(self.m, grads, 1 - b1)
        torch._foreach_mul_(self.v, b2)
        torch._foreach_addcmul_(self.v, grads, grads, 1 - b2)
        step = float(self.steps)
        step_size = (self.lr / (1 - b1**step)) * -1
        denominator = torch._foreach_sqrt(self.v)
        torch._foreach_div_(denominator, [(1 - b2**step) ** 0.5] * n)
        torch._foreach_add_(denominator, self.eps)
        torch._foreach_addcdiv_(self.params, self.m, denominator, [step_size] * n)
