"""Helpers shared by the simulators."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ("per_event",)


def per_event(n: int, value: Any, name: str, *, minimum: float, unit: str) -> np.ndarray:
    """``value`` (a number or an ``(n,)`` array) as a float64 ``(n,)`` array.

    Raises:
        ValueError: naming ``name`` if the shape is wrong or a value is not finite or
            below ``minimum`` (in ``unit``).
    """
    v = np.asarray(value, dtype=np.float64)
    if v.ndim == 0:
        v = np.full(n, float(v))
    if v.shape != (n,):
        msg = f"{name}: expected a number or an array of shape ({n},), got shape {v.shape}"
        raise ValueError(msg)
    bad = ~(np.isfinite(v) & (v >= minimum))
    if bad.any():
        msg = f"{name}: values must be finite and >= {minimum} {unit}, got {v[bad][0]}"
        raise ValueError(msg)
    return v
