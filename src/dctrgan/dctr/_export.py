"""DCTR out of Python: the weight function as an ONNX or TorchScript graph.

Private helper of :meth:`dctrgan.DCTR.export` and :meth:`dctrgan.DCTR.inputs`.
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import nn

from dctrgan.data import Geometry
from dctrgan.dctr._inputs import CALLABLE, CALLABLES, prediction_inputs
from dctrgan.dctr.calibration import MAX_LOG_WEIGHT
from dctrgan.export.files import content_hash, write_graph
from dctrgan.export.graphs import WeightGraph
from dctrgan.modelfile import cpu_state
from dctrgan.training import require_fitted

if TYPE_CHECKING:
    from dctrgan.dctr._replicas import Replicas
    from dctrgan.dctr.config import Config

__all__ = ("FORMULA", "Exports", "export_weights", "graph_arrays", "graph_inputs")

#: The weight formula, as the metadata states it.
FORMULA = (
    "w = exp(min(mean_j(logit_j(x) / T_j + b_j), log(clip))), logit_j the classifier of "
    "fold j with its input scaling; replicas: the same per replica, columns 1..k"
)


def graph_arrays(inputs: Any) -> tuple[np.ndarray, ...]:
    """The numpy arrays of a batch of classifier inputs: ``(N, d)`` features, ``(N, L, X,
    Y)`` voxels, or ``(N, H, 4)`` hits and their ``(N, H)`` mask."""
    parts = inputs if isinstance(inputs, tuple | list) else (inputs,)
    return tuple(np.ascontiguousarray(p.cpu().numpy()) for p in parts)


def graph_inputs(events: Any, meta: dict[str, Any], features: Any = None) -> tuple[np.ndarray, ...]:
    """The inputs of an exported DCTR graph for eager ``events``, from the file's metadata
    alone (what :meth:`dctrgan.DCTR.inputs` gives for the model).

    Args:
        events: events of the kind the model was fitted on.
        meta: the metadata of the exported file (:func:`dctrgan.export.metadata`).
        features: the feature function or ``{name: function}`` mapping of a model fitted
            with one (not in the file); ``None``: the file's feature specification.

    Raises:
        ValueError: for a model fitted with feature functions and none given, or
            features that do not match the fitted ones.
    """
    spec = meta["features"] if features is None else features
    if spec in (CALLABLE, CALLABLES):
        msg = (
            f"the exported DCTR was fitted with features={spec!r}: pass the function(s) "
            "again (features=...); the file holds the network, not the feature code"
        )
        raise ValueError(msg)
    geometry = meta["geometry"]
    batch, n = prediction_inputs(
        events,
        meta["model"],
        spec,
        meta["feature_names"],
        int(meta["n_features"]),
        None if geometry is None else Geometry.from_dict(geometry),
        meta["fill_none"],
    )
    return graph_arrays(batch(np.arange(n, dtype=np.int64)))


def _cpu(modules: Sequence[nn.Module]) -> list[nn.Module]:
    return [copy.deepcopy(m).cpu().eval() for m in modules]


def export_weights(
    path: str | os.PathLike[str],
    format: str,
    overwrite: bool,
    *,
    model: str,
    saved_features: Any,
    feature_names: list[str] | None,
    folds: Sequence[nn.Module],
    calibration: tuple[Sequence[float], Sequence[float]],
    clip: float | None,
    replicas: Any,
    shape: tuple[int, ...],
    saved: tuple[dict[str, Any], dict[str, Any], Any],
) -> Path:
    """Write the weight function of a fitted DCTR (see :meth:`dctrgan.DCTR.export`).

    Args:
        path, format, overwrite: as :meth:`dctrgan.DCTR.export`.
        model: the model kind.
        saved_features: the saved ``features=`` specification.
        feature_names: the fitted feature names, where known.
        folds: the fold classifiers.
        calibration: temperatures and offsets of the folds.
        clip: the largest weight.
        replicas: the fitted :class:`~dctrgan.dctr._replicas.Replicas`, or ``None``.
        shape: the shape of one event's inputs: ``(d,)`` features or the geometry's
            ``(L, X, Y)``.
        saved: the config, fitted values and states the model file would hold (hashed).
    """
    if saved_features in (CALLABLE, CALLABLES):
        expects = (
            f"the columns {feature_names} of your feature functions"
            if saved_features == CALLABLES
            else "the (N, d) matrix your features function returns"
        )
        warnings.warn(
            f"DCTR.export: the model was fitted with features={saved_features!r}: the "
            f"exported graph takes {expects}; the functions themselves are not exported",
            UserWarning,
            stacklevel=3,
        )
    log_clip = MAX_LOG_WEIGHT if clip is None else min(math.log(clip), MAX_LOG_WEIGHT)
    r_models: Any = None
    r_calibration: tuple[Sequence[float], Sequence[float]] = ((), ())
    if replicas is not None:
        r_models = _cpu(replicas.models)
        r_models = r_models[0] if model == "mlp" else r_models
        r_calibration = (replicas.temperatures, replicas.offsets)
    graph = WeightGraph(_cpu(folds), *calibration, log_clip, r_models, *r_calibration).eval()
    names, dynamic = _inputs_of(model)
    # two events (and three hits): a dynamic axis is recorded from a size above 1, and
    # sizes that differ keep the axes apart
    if model == "deepsets":
        example: tuple[torch.Tensor, ...] = (
            torch.zeros(2, 3, 4),
            torch.ones(2, 3, dtype=torch.bool),
        )
    else:
        example = (torch.zeros(2, *shape),)
    config, fitted, states = saved
    k = len(r_calibration[0])
    meta = {
        "dctrgan_model": "DCTR",
        "model": model,
        "features": saved_features,
        "feature_names": feature_names,
        "n_features": fitted["n_features"],
        "geometry": fitted["geometry"],
        "fill_none": config.get("fill_none"),
        "temperatures": list(calibration[0]),
        "offsets": list(calibration[1]),
        "clip": clip,
        "replicas": k,
        "replica_temperatures": list(r_calibration[0]),
        "replica_offsets": list(r_calibration[1]),
        "formula": FORMULA,
        "output": f"(N, {1 + k}) float32: the nominal weight, then the replicas'"
        if k
        else "(N,) float32 weights",
        "model_sha256": content_hash(config, fitted, states),
    }
    return write_graph(
        graph,
        example,
        path,
        format=format,
        meta=meta,
        input_names=names,
        output_names=["weight"],
        dynamic=dynamic,
        overwrite=overwrite,
    )


def _inputs_of(model: str) -> tuple[list[str], list[dict[int, str]]]:
    """The graph's input names and dynamic axes for a model kind."""
    if model == "deepsets":
        return ["hits", "mask"], [{0: "events", 1: "hits"}, {0: "events", 1: "hits"}]
    if model == "cnn3d":
        return ["voxels"], [{0: "events"}]
    return ["features"], [{0: "events"}]


class Exports:
    """The export methods of :class:`dctrgan.DCTR` and what its model file holds (a base
    class of the model in :mod:`dctrgan.dctr.model`)."""

    _config: Config
    _models: list[nn.Module]
    _replicas: Replicas | None
    _n_features: int
    _geometry: Any
    feature_names: list[str] | None
    temperatures: list[float]
    offsets: list[float]
    clip: float | None
    history: dict[str, list[float]]

    if TYPE_CHECKING:  # the model's batch builder (dctrgan.DCTR._inputs)

        def _inputs(self, events: Any) -> tuple[Any, int]: ...

    def _saved(self, method: str) -> tuple[dict[str, Any], list[Any], dict[str, Any]]:
        """What the model file holds: the fitted values, the states and the replicas'."""
        models = require_fitted(self._models, "DCTR", method)
        fitted = {
            "feature_names": self.feature_names,
            "n_features": self._n_features,
            "geometry": None if self._geometry is None else self._geometry.to_dict(),
            "temperatures": self.temperatures,
            "offsets": self.offsets,
            "clip": self.clip,
            "history": self.history,
        }
        extra = {} if self._replicas is None else self._replicas.saved(fitted)
        return fitted, [cpu_state(m) for m in models], extra

    def inputs(self, events: Any) -> tuple[np.ndarray, ...]:
        """The inputs of the exported graph (:meth:`export`) for ``events``: a tuple of
        ``(N, d)`` float32 features (``"mlp"``, columns in :attr:`feature_names` order),
        ``(N, L, X, Y)`` float32 voxels in MeV (``"cnn3d"``), or ``(N, H, 4)`` float32
        hits (layer, ix, iy, MeV) and their ``(N, H)`` bool mask (``"deepsets"``).

        Raises:
            RuntimeError: before ``fit``.
            ValueError: as :meth:`weight`.
        """
        require_fitted(self._models, "DCTR", "inputs")
        batch, n = self._inputs(events)
        return graph_arrays(batch(np.arange(n, dtype=np.int64)))

    def export(
        self,
        path: str | os.PathLike[str],
        format: Literal["onnx", "torchscript"] = "onnx",
        *,
        overwrite: bool = False,
    ) -> Path:
        """Write the weight function as one ONNX or TorchScript graph, from :meth:`inputs`
        to the weights: input scaling (log1p, standardization), networks, temperatures
        and offsets, the mean over folds, the clip; ``(N,)`` float32 weights, or
        ``(N, 1 + k)`` with the ``k`` replicas. Dynamic batch size. The metadata
        (:func:`dctrgan.export.metadata`) hold the feature names, the dctrgan version,
        the SHA-256 of the model's content, the temperatures, the clip and the formula.
        Check a file with :func:`dctrgan.export.check`.

        Args:
            path: the file to write (ONNX needs ``pip install dctrgan[export]``).
            format: ``"onnx"`` (ONNX Runtime, C++ frameworks) or ``"torchscript"``
                (``torch.jit.load``, coffea's ``torch_wrapper``).
            overwrite: replace an existing file.

        Returns:
            ``path``, written whole or not at all.

        Raises:
            RuntimeError: before ``fit``.
            ValueError: for another format.
            FileExistsError, FileNotFoundError, PermissionError: for ``path``.
        """
        fitted, states, extra = self._saved("export")
        c = self._config
        return export_weights(
            path,
            format,
            overwrite,
            model=c.model,
            saved_features=c.features,
            feature_names=self.feature_names,
            folds=self._models,
            calibration=(self.temperatures, self.offsets),
            clip=self.clip,
            replicas=self._replicas,
            shape=(self._n_features,) if self._geometry is None else self._geometry.shape,
            saved=(c.to_dict(), fitted, [states, extra]),
        )
