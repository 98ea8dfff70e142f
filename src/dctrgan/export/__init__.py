"""Models out of Python: ONNX and TorchScript files and their closure check.

``DCTR.export``, ``WGAN.export`` and ``Refiner.export`` write the model's whole
function -- input scaling, networks, calibration, clip -- as one graph with a dynamic
batch size; this package reads and runs such files and checks them against the
Python model::

    dctr.export("dctr.onnx")
    closure = dctrgan.export.check("dctr.onnx", dctr, events)   # max relative difference
    weights = dctrgan.export.load("dctr.onnx")(dctr.inputs(events))

- :mod:`.graphs`: the exported functions as torch modules;
- :mod:`.files`: writing (atomic, with metadata), :func:`metadata`, :func:`load`;
- :mod:`.closure`: :func:`check`.
"""

from __future__ import annotations

from dctrgan.export import closure, files, graphs
from dctrgan.export.closure import RTOL, Closure, check
from dctrgan.export.files import FORMATS, Exported, load, metadata

__all__ = (
    "FORMATS",
    "RTOL",
    "Closure",
    "Exported",
    "check",
    "closure",
    "files",
    "graphs",
    "load",
    "metadata",
)
