"""Inputs of :class:`dctrgan.WGAN`: events or arrays to checked arrays, and the scalings
between physical units and what the networks see."""

from __future__ import annotations

import dataclasses
from typing import Any

import awkward as ak
import numpy as np
import torch

from dctrgan.data import Events, Geometry, detect_kind, geometry_of
from dctrgan.features import pattern, voxelize
from dctrgan.nn.gan import Family

__all__ = (
    "CheckedEvents",
    "LabelScaling",
    "Scaling",
    "as_condition",
    "as_events",
    "draw_labels",
    "fit_condition",
)

#: Smallest scale used (a constant column or label maps to 0, not inf).
_MIN_SCALE = 1e-6


@dataclasses.dataclass(frozen=True)
class CheckedEvents:
    """Checked training or test events.

    Attributes:
        x: ``(N, *shape)`` float32 values in physical units.
        label: ``(N,)`` the events' own label (air-shower ``energy`` in EeV,
            shower ``incident_energy`` in GeV), ``None`` for arrays.
        geometry: the calorimeter of showers, else ``None``.
    """

    x: np.ndarray
    label: np.ndarray | None
    geometry: Geometry | None


def _first_bad(values: np.ndarray) -> int:
    flat = values.reshape(len(values), -1)
    return int(np.flatnonzero(~np.isfinite(flat).all(axis=1))[0])


def as_events(x: Events, shape: tuple[int, ...], family: Family, name: str = "x") -> CheckedEvents:
    """``x`` as checked float32 events of ``shape``.

    Awkward air-shower events (a ``signal`` field) give their time-integrated
    patterns (:func:`dctrgan.features.pattern`) and ``energy``; showers (a ``hits``
    field) give voxels (:func:`dctrgan.features.voxelize`) and ``incident_energy``.
    Numpy arrays and torch tensors are taken as they are; for ``shape == (1,)`` a
    1D array is one column.

    Raises:
        ValueError: naming ``name``, for events of the wrong kind or shape, empty,
            non-finite or (patterns and volumes) negative values.
    """
    label: np.ndarray | None = None
    geometry: Geometry | None = None
    if isinstance(x, ak.Array):
        kind = detect_kind(x)
        if kind == "traces" and family == "patterns":
            array = pattern(x)
            label = np.asarray(x["energy"], dtype=np.float64)
        elif kind == "showers" and family == "volumes":
            geometry = geometry_of(x["hits"])
            if geometry.shape != shape:
                msg = (
                    f"{name}: showers of a {geometry.shape} calorimeter, "
                    f"but the WGAN has shape {shape}"
                )
                raise ValueError(msg)
            array = voxelize(x)
            label = np.asarray(x["incident_energy"], dtype=np.float64)
        else:
            msg = (
                f"{name}: awkward {kind} events do not fit a WGAN of shape {shape} "
                "(air-shower traces need (H, W), showers (L, H, W))"
            )
            raise ValueError(msg)
    else:
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        array = np.asarray(x)
        if array.dtype.kind not in "iuf":
            msg = f"{name}: expected numbers, got dtype {array.dtype}"
            raise ValueError(msg)
        array = np.array(array, dtype=np.float32)  # a copy: the scaling works in place
        if shape == (1,) and array.ndim == 1:
            array = array[:, None]
    if array.shape[1:] != shape:
        msg = f"{name}: expected shape (N, {', '.join(map(str, shape))}), got {array.shape}"
        raise ValueError(msg)
    if len(array) == 0:
        msg = f"{name}: no events (shape {array.shape})"
        raise ValueError(msg)
    if not np.isfinite(array).all():
        msg = f"{name}: non-finite values (NaN or inf), first in event {_first_bad(array)}"
        raise ValueError(msg)
    if family != "points" and (array < 0).any():
        event = int(np.flatnonzero((array < 0).reshape(len(array), -1).any(axis=1))[0])
        msg = f"{name}: negative values (first in event {event}); signals and energies must be >= 0"
        raise ValueError(msg)
    return CheckedEvents(np.ascontiguousarray(array), label, geometry)


def as_condition(condition: Any, n: int, dim: int, name: str = "condition") -> np.ndarray:
    """``condition`` as a ``(n, dim)`` float64 array (a number or ``(n,)`` for ``dim == 1``).

    Raises:
        ValueError: naming ``name``, for a wrong shape or non-finite values.
    """
    if isinstance(condition, torch.Tensor):
        condition = condition.detach().cpu().numpy()
    c = np.asarray(condition, dtype=np.float64)
    if c.ndim == 0 and dim == 1:
        c = np.full((n, 1), float(c))
    elif c.ndim == 1 and dim == 1:
        c = c[:, None]
    if c.shape != (n, dim):
        expected = f"({n},) or ({n}, 1)" if dim == 1 else f"({n}, {dim})"
        msg = f"{name}: expected shape {expected} for {n} events, got {np.shape(condition)}"
        raise ValueError(msg)
    if not np.isfinite(c).all():
        msg = f"{name}: non-finite values (NaN or inf), first in event {_first_bad(c)}"
        raise ValueError(msg)
    return c


def fit_condition(
    events: CheckedEvents, condition: Any, n: int, condition_dim: int
) -> np.ndarray | None:
    """The ``(n, condition_dim)`` training labels: ``condition``, else the events' own
    label for ``condition_dim == 1``; ``None`` for an unconditional WGAN.

    Raises:
        ValueError: for a condition given to an unconditional WGAN, or one missing.
    """
    if condition_dim == 0:
        if condition is not None:
            msg = "condition: given, but the WGAN has condition_dim=0 (pass condition_dim=)"
            raise ValueError(msg)
        return None
    if condition is not None:
        return as_condition(condition, n, condition_dim)
    if events.label is None or condition_dim != 1:
        msg = (
            f"condition: required for condition_dim={condition_dim} "
            "(only air-shower and calorimeter events carry their energy)"
        )
        raise ValueError(msg)
    return as_condition(events.label, n, 1)


def draw_labels(
    kept: torch.Tensor | None,
    condition: Any,
    n: int,
    condition_dim: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Raw ``(n, condition_dim)`` labels to sample with: ``condition``, else drawn from
    the ``kept`` training labels.

    Raises:
        ValueError: for a condition given to an unconditional WGAN, or a bad one.
    """
    if condition_dim == 0:
        if condition is not None:
            msg = "condition: given, but the WGAN has condition_dim=0"
            raise ValueError(msg)
        return torch.zeros(n, 0)
    if condition is not None:
        return torch.from_numpy(as_condition(condition, n, condition_dim))
    assert kept is not None
    pick = torch.randint(len(kept), (n,), generator=generator)
    return kept[pick]


@dataclasses.dataclass(frozen=True)
class Scaling:
    """Physical values to network inputs and back.

    - ``"standardize"`` (points): ``u = (x - offset) / scale`` per column;
    - ``"log1p"`` (patterns, volumes): ``u = log1p(x / offset) / scale`` with ``offset``
      the median positive value and ``scale`` the mean of ``log1p(x / offset)`` over
      positive values: signals over many decades become numbers of order 1, and
      zeros stay exactly zero;
    - ``"linear"``: ``u = x / scale`` with ``scale`` the mean positive value.
    """

    transform: str
    offset: tuple[float, ...]
    scale: tuple[float, ...]

    @classmethod
    def fit(cls, x: np.ndarray, transform: str) -> Scaling:
        """The scaling of ``transform`` fitted to events ``x`` ``(N, *shape)``."""
        if transform == "standardize":
            flat = x.reshape(len(x), -1).astype(np.float64)
            std = np.maximum(flat.std(axis=0), _MIN_SCALE)
            return cls(transform, tuple(flat.mean(axis=0).tolist()), tuple(std.tolist()))
        positive = x[x > 0].astype(np.float64)
        if len(positive) == 0:
            return cls(transform, (1.0,), (1.0,))
        if transform == "linear":
            return cls(transform, (0.0,), (max(float(positive.mean()), _MIN_SCALE),))
        offset = max(float(np.median(positive)), _MIN_SCALE)
        scale = max(float(np.log1p(positive / offset).mean()), _MIN_SCALE)
        return cls(transform, (offset,), (scale,))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Network inputs ``u`` of physical float32 events ``x`` (``x`` is overwritten)."""
        if self.transform == "standardize":
            x -= np.asarray(self.offset, dtype=np.float32).reshape(x.shape[1:])
            x /= np.asarray(self.scale, dtype=np.float32).reshape(x.shape[1:])
            return x
        if self.transform == "log1p":
            x /= np.float32(self.offset[0])
            np.log1p(x, out=x)
        x /= np.float32(self.scale[0])
        return x

    def inverse(self, u: torch.Tensor) -> torch.Tensor:
        """Physical values of network outputs ``u`` ``(B, *shape)``."""
        if self.transform == "standardize":
            scale = torch.tensor(self.scale, dtype=u.dtype, device=u.device).view(u.shape[1:])
            offset = torch.tensor(self.offset, dtype=u.dtype, device=u.device).view(u.shape[1:])
            return u * scale + offset
        x = u * self.scale[0]
        if self.transform == "log1p":
            # exp of large outputs overflows float32 to inf: clamp in log space
            x = torch.expm1(torch.clamp(x, max=80.0)) * self.offset[0]
        return x

    def to_dict(self) -> dict[str, Any]:
        return {"transform": self.transform, "offset": list(self.offset), "scale": list(self.scale)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scaling:
        return cls(
            str(d["transform"]),
            tuple(float(v) for v in d["offset"]),
            tuple(float(v) for v in d["scale"]),
        )


@dataclasses.dataclass(frozen=True)
class LabelScaling:
    """Standardization of the labels: ``(y - mean) / std`` per label."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, y: np.ndarray) -> LabelScaling:
        """Fitted to labels ``y`` ``(N, c)``."""
        std = np.maximum(y.std(axis=0), _MIN_SCALE)
        return cls(tuple(y.mean(axis=0).tolist()), tuple(std.tolist()))

    def forward(self, y: np.ndarray) -> np.ndarray:
        """Standardized float32 labels."""
        scaled = (y - np.asarray(self.mean)) / np.asarray(self.std)
        return np.asarray(scaled, dtype=np.float32)

    def std_tensor(self, device: torch.device) -> torch.Tensor:
        return torch.tensor(self.std, dtype=torch.float32, device=device)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LabelScaling:
        return cls(tuple(float(v) for v in d["mean"]), tuple(float(v) for v in d["std"]))
