"""Chores every estimator shares: device and mixed precision, seeding, CPU threads,
batches of rows, the not-fitted check, frozen parameters."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

__all__ = (
    "autocast",
    "cpu_threads",
    "frozen",
    "require_fitted",
    "resolve_device",
    "resolve_mixed_precision",
    "rows",
    "seeded",
    "threads",
    "to_device",
)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The torch device for ``device``: ``"auto"`` is CUDA when available, else CPU.

    Raises:
        ValueError: for a device string torch does not know, or CUDA without a GPU.
    """
    if isinstance(device, torch.device):
        resolved = device
    elif device == "auto":
        resolved = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            resolved = torch.device(device)
        except RuntimeError as err:
            msg = f"device: {device!r} is not a torch device ('auto', 'cpu', 'cuda', 'cuda:1', ...)"
            raise ValueError(msg) from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        msg = f"device: {device!r} asks for CUDA, but torch finds no GPU (use 'auto' or 'cpu')"
        raise ValueError(msg)
    return resolved


def resolve_mixed_precision(setting: bool | str, device: torch.device, *, pays: bool) -> bool:
    """Whether a model trains with bfloat16 mixed precision (:func:`autocast`).

    Args:
        setting: ``"auto"``: on for models where it ``pays`` (the convolutional ones)
            on a CUDA device with bfloat16 support, off otherwise (on a CPU the gain
            depends on the processor's bfloat16 instructions, AVX512-BF16 or AMX);
            ``True`` / ``False``: always on / off.
        device: the training device.
        pays: whether the model is large enough to gain from it.

    Raises:
        TypeError: for another ``setting``.
        ValueError: for ``True`` on a CUDA device without bfloat16 support.
    """
    if setting == "auto":
        return pays and device.type == "cuda" and torch.cuda.is_bf16_supported()
    if not isinstance(setting, bool):
        msg = f"mixed_precision: expected 'auto', True or False, got {setting!r}"
        raise TypeError(msg)
    if setting and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        msg = f"mixed_precision: {device} does not support bfloat16; use False"
        raise ValueError(msg)
    return setting


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager[Any]:
    """The mixed-precision context of a forward pass and its loss: matrix products and
    convolutions in bfloat16, reductions and losses in float32 (``torch.autocast``).

    bfloat16 has float32's exponent range, so no loss scaling is needed. Wrap the
    forward passes and losses of a training step, not the backward pass; weights and
    predictions stay float32.
    """
    if not enabled:  # a no-op on every device type, whatever autocast supports there
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | None = None) -> Iterator[torch.Generator]:
    """Seed torch for a block without touching the caller's random state.

    Inside the block torch's global generators (CPU, and the CUDA device if
    ``device`` is one) start from ``seed``, so weight initialization and
    random augmentations are reproducible; on exit their previous state is back.
    Yields a separate CPU :class:`torch.Generator` seeded with ``seed`` for
    shuffling. On CPU the same seed gives bit-identical results.

    Args:
        seed: the seed.
        device: the device whose generator is forked too (CUDA only).
    """
    devices: list[int] = []
    if device is not None and device.type == "cuda":
        index: int | None = getattr(device, "index", None)  # None: the current device
        devices = [torch.cuda.current_device() if index is None else index]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield torch.Generator().manual_seed(seed)


@contextlib.contextmanager
def threads(n: int | None) -> Iterator[None]:
    """Run torch with ``n`` intra-op CPU threads inside the block, then restore the setting.

    Small networks (the DCTR MLP: two layers of 128 on batches of 128) gain nothing
    from more threads, and on a busy machine the extra OpenMP workers wait on each
    other: one thread trains them several times faster there. ``None`` leaves the
    setting alone.
    """
    if n is None:
        yield
        return
    if n < 1:
        msg = f"threads must be at least 1, got {n}"
        raise ValueError(msg)
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def cpu_threads(device: torch.device, *, small: bool = True) -> int | None:
    """The intra-op thread count for a network on ``device``: one on a CPU for a small
    network (see :func:`threads`), else ``None`` (leave the setting alone)."""
    return 1 if small and device.type == "cpu" else None


T = TypeVar("T")


def require_fitted(value: T | None, owner: str, method: str) -> T:
    """``value`` (a fitted network, or the list of them), or the not-fitted error.

    Raises:
        RuntimeError: if ``value`` is None or empty: ``owner.method`` needs a fitted model.
    """
    if value is None or (isinstance(value, list) and not value):
        msg = f"{owner}.{method}: the model is not fitted; call fit() or {owner}.load() first"
        raise RuntimeError(msg)
    return value


def rows(array: np.ndarray, index: np.ndarray) -> torch.Tensor:
    """Rows ``index`` of ``array`` as a contiguous float32 tensor (one batch)."""
    return torch.from_numpy(np.ascontiguousarray(array[index], dtype=np.float32))


@contextlib.contextmanager
def frozen(*modules: nn.Module | None) -> Iterator[None]:
    """Switch off the parameter gradients of ``modules`` inside the block (a generator
    update needs gradients through the critic and constrainer, not of their weights)."""
    parameters = [p for m in modules if m is not None for p in m.parameters()]
    for p in parameters:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in parameters:
            p.requires_grad_(True)


def to_device(batch: Any, device: torch.device) -> Any:
    """Move the tensors of a batch (a tensor, or nested tuples / lists / dicts) to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, tuple | list):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch
