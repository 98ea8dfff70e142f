"""Closure of an exported model: the file run on the same inputs as the Python model.

:func:`check` runs an exported file (:func:`dctrgan.export.load`) and the Python
model on the same events and reports the largest difference of their outputs.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from dctrgan.export.files import load

__all__ = ("RTOL", "Closure", "check")

#: The largest relative difference a float32 export may have.
RTOL = 1e-5


@dataclasses.dataclass(frozen=True)
class Closure:
    """How closely an exported file reproduces its Python model.

    Attributes:
        path: the exported file.
        model: the model class (``"DCTR"``, ``"WGAN"``, ``"Refiner"``).
        format: ``"onnx"`` or ``"torchscript"``.
        events: the events compared.
        max_relative_difference: ``max |a - b| / |b|`` over the outputs (DCTR weights,
            which are positive), or ``max |a - b| / max(|b|, rms(b))`` for samples and
            traces, whose values pass through zero (``a`` the file's, ``b`` Python's).
        max_abs_difference: ``max |a - b|``.
        rtol: the tolerance.
    """

    path: str
    model: str
    format: str
    events: int
    max_relative_difference: float
    max_abs_difference: float
    rtol: float

    @property
    def passed(self) -> bool:
        """The difference is within the tolerance."""
        return bool(self.max_relative_difference <= self.rtol)

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return (
            f"{self.path} ({self.model}, {self.format}): {self.events} events, max relative "
            f"difference {self.max_relative_difference:.3g} (tolerance {self.rtol:g}): {verdict}"
        )


def _python_outputs(model: Any, kind: str, x: Any) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """The exported graph's inputs for ``x`` and the Python model's outputs."""
    if kind == "DCTR":
        inputs = tuple(model.inputs(x))
        if model.replica_temperatures:
            w, r = model.weight(x, replicas=True)
            out = np.concatenate([np.asarray(w)[:, None], np.asarray(r)], axis=1)
        else:
            out = np.asarray(model.weight(x))
        return inputs, out
    if kind == "WGAN":
        n, seed = (x, 0) if isinstance(x, int) else x
        z, condition = model.latent(n, seed=seed)
        inputs = (z,) if condition is None else (z, condition)
        return inputs, model.generate(z, condition)
    if kind == "Refiner":
        signal = model.inputs(x)
        return (signal,), model.refine(signal)
    msg = f"check: no closure for a {kind} model"
    raise ValueError(msg)


def check(path: str | os.PathLike[str], model: Any, x: Any, *, rtol: float = RTOL) -> Closure:
    """Run the exported ``path`` and ``model`` on the same events and compare.

    Args:
        path: a file written by ``export`` of a :class:`dctrgan.DCTR`,
            :class:`dctrgan.WGAN` or :class:`dctrgan.Refiner`.
        model: the Python model it was exported from.
        x: the events: for DCTR what :meth:`dctrgan.DCTR.weight` takes (the graph
            gets :meth:`dctrgan.DCTR.inputs` of them); for WGAN the number of events
            ``n`` or ``(n, seed)`` (noise of :meth:`dctrgan.WGAN.latent`); for a
            refiner traces or a signal array.
        rtol: the tolerance of :attr:`Closure.passed`.

    Returns:
        The :class:`Closure`; ``passed`` says whether it is within ``rtol``.

    Raises:
        ValueError: for a file of another model class than ``model``, or a file that
            is not a dctrgan export.
    """
    exported = load(path)
    kind = str(exported.metadata["dctrgan_model"])
    if type(model).__name__ != kind:
        msg = f"check: {path} was exported from a {kind}, got a {type(model).__name__}"
        raise ValueError(msg)
    inputs, expected = _python_outputs(model, kind, x)
    got = exported(*inputs)
    expected = np.asarray(expected, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64).reshape(expected.shape)
    diff = np.abs(got - expected)
    if kind == "DCTR":
        scale = np.abs(expected)
    else:
        rms = float(np.sqrt(np.mean(expected**2))) if expected.size else 1.0
        scale = np.maximum(np.abs(expected), rms if rms > 0 else 1.0)
    relative = float(np.max(diff / scale)) if diff.size else 0.0
    return Closure(
        path=os.fspath(path),
        model=kind,
        format=exported.format,
        events=len(expected),
        max_relative_difference=relative,
        max_abs_difference=float(diff.max()) if diff.size else 0.0,
        rtol=rtol,
    )
