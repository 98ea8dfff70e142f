"""WGAN-GP with a constrainer: events generated conditioned on a label (energy).

:class:`WGAN` (``model.py``) with its hyperparameters (:mod:`.config`), and
:class:`ShowerGAN` (``showers.py``), calorimeter showers from three of them.
"""

from __future__ import annotations

from dctrgan.wgan.model import WGAN
from dctrgan.wgan.showers import ShowerGAN

__all__ = ("WGAN", "ShowerGAN")
