"""DCTR: per-event weights :math:`w = h / (1 - h)` from a classifier of real against fake events.

:class:`DCTR` (``model.py``) with its hyperparameters (:mod:`.config`) and the
calibration of its weights (:mod:`.calibration`); :func:`attach_weights` attaches weights
computed elsewhere as :meth:`DCTR.attach` attaches its own.
"""

from __future__ import annotations

from dctrgan.dctr._attach import attach_weights
from dctrgan.dctr.model import DCTR

__all__ = ("DCTR", "attach_weights")
