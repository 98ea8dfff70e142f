"""Exported DCTR weights in coffea: a ``torch_wrapper`` for NanoEvents in a processor.

coffea's :class:`coffea.ml_tools.torch_wrapper` runs a TorchScript file on awkward or
dask-awkward arrays, loading it once per worker. :class:`DCTRWrapper` is one for a
file written by :meth:`dctrgan.DCTR.export` with ``format="torchscript"``: it builds
the feature matrix from the events as the model does (the feature specification, its
names and ``fill_none`` come from the file's metadata) and gives the weights::

    from dctrgan.dctr.coffea import DCTRWrapper

    class Processor(processor.ProcessorABC):
        def __init__(self):
            self.dctr = DCTRWrapper("dctr.torchscript")

        def process(self, events):
            weights = Weights(None)                       # dask; len(events) eager
            weights.add("dctr", self.dctr(events))
            ...

The weights equal :meth:`dctrgan.DCTR.weight` of the model the file was exported from
(a model with replicas gives ``(N, 1 + k)``: the nominal, then the replicas). The
high-level model (``"mlp"``) only: the low-level ones read every hit and are best run
with :meth:`dctrgan.DCTR.weight`. Needs coffea (``pip install coffea``).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import awkward as ak
import numpy as np
from coffea.ml_tools.torch_wrapper import torch_wrapper

from dctrgan.data import is_dask
from dctrgan.dctr._export import graph_inputs
from dctrgan.dctr._inputs import touch_weight_inputs
from dctrgan.export.files import metadata

__all__ = ("DCTRWrapper",)


def _typetracer(d: int) -> ak.Array:
    """A typetracer of ``(N, d)`` float32 matrices (regular) of unknown length."""
    empty = ak.from_numpy(np.zeros((0, d), dtype=np.float32), regulararray=True)
    return ak.Array(empty.layout.to_typetracer(forget_length=True))


class DCTRWrapper(torch_wrapper):  # type: ignore[misc]
    """DCTR weights of (dask-)awkward events from an exported TorchScript file.

    Args:
        path: a file of :meth:`dctrgan.DCTR.export` with ``format="torchscript"``.
        features: the feature function or ``{name: function}`` mapping of a model
            fitted with one (the file holds the network, not the feature code).

    Raises:
        ValueError: for a file that is not a TorchScript export of a high-level DCTR,
            or a model fitted with feature functions and none given.
    """

    def __init__(self, path: str | os.PathLike[str], features: Any = None) -> None:
        meta = metadata(path)
        if meta["dctrgan_model"] != "DCTR" or meta["format"] != "torchscript":
            msg = (
                f"DCTRWrapper: {os.fspath(path)} is a {meta['format']} export of a "
                f"{meta['dctrgan_model']}; coffea's torch_wrapper runs a DCTR exported "
                "with format='torchscript'"
            )
            raise ValueError(msg)
        if meta["model"] != "mlp":
            msg = (
                f"DCTRWrapper: {os.fspath(path)} holds a model={meta['model']!r} DCTR; the "
                "wrapper runs the high-level model ('mlp'): use DCTR.weight for the others"
            )
            raise ValueError(msg)
        if features is None and meta["features"] in ("callable", "callables"):
            msg = (
                f"DCTRWrapper: {os.fspath(path)} was fitted with features="
                f"{meta['features']!r}: pass the function(s) as features="
            )
            raise ValueError(msg)
        super().__init__(os.fspath(path))
        self.meta = meta
        self.features = features

    def _create_model(self) -> Any:
        """The TorchScript module, loaded once per worker by coffea (torch's deprecation
        notice of ``torch.jit.load`` silenced: TorchScript is what coffea runs)."""
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=".*torch.jit.load.*", category=DeprecationWarning
            )
            return super()._create_model()

    def _matrix(self, events: ak.Array) -> ak.Array:
        """The ``(N, d)`` float32 feature matrix of one partition (a typetracer of it for
        a typetracer, touching only what the features read)."""
        d = int(self.meta["n_features"])
        if ak.backend(events) == "typetracer":
            spec = self.meta["features"] if self.features is None else self.features
            touch_weight_inputs(events, "mlp", spec, self.meta["feature_names"])
            return _typetracer(d)
        (x,) = graph_inputs(events, self.meta, self.features)
        return ak.from_numpy(x, regulararray=True)

    def validate_numpy_input(self, *args: np.ndarray, **kwargs: np.ndarray) -> None:
        """The graph takes one ``(N, d)`` float32 matrix of the fitted features.

        Raises:
            ValueError: for anything else.
        """
        d = int(self.meta["n_features"])
        shapes = [np.shape(a) for a in (*args, *kwargs.values())]
        if len(shapes) != 1 or len(shapes[0]) != 2 or shapes[0][1] != d:
            msg = f"DCTRWrapper: the graph takes one (N, {d}) feature matrix, got shapes {shapes}"
            raise ValueError(msg)

    def prepare_awkward(self, events: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The feature matrix of ``events``: eager, or one lazy partition at a time."""
        if is_dask(events):
            import dask_awkward as dak

            meta = _typetracer(int(self.meta["n_features"]))
            matrix = dak.map_partitions(  # type: ignore[attr-defined]
                self._matrix, events, meta=meta, label="dctr-inputs"
            )
            return (matrix,), {}
        return (self._matrix(events),), {}
