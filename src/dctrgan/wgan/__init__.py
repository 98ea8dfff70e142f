"""WGAN-GP with a constrainer: events generated conditioned on a label (energy).

:class:`WGAN` (``model.py``) with its hyperparameters (:mod:`.config`).
"""

from __future__ import annotations

from dctrgan.wgan.model import WGAN

__all__ = ("WGAN",)
