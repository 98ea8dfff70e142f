"""DCTR: per-event weights ``w = h / (1 - h)`` from a classifier of real against fake events.

:class:`DCTR` (:mod:`.model`) with its hyperparameters (:mod:`.config`) and the
calibration of its weights (:mod:`.calibration`).
"""

from __future__ import annotations

from dctrgan.dctr.model import DCTR

__all__ = ("DCTR",)
