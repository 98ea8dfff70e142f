"""Torch modules of dctrgan, with ``forward`` only: training lives in :mod:`dctrgan.training`.

- :mod:`.layers`: input scaling (:class:`Standardize`) and the fully connected :class:`MLP`;
- :mod:`.classifiers`: the DCTR classifiers (high-level MLP, 3D CNN, deep sets);
- :mod:`.batched`: ``k`` copies of the MLP classifier as one network (DCTR replicas);
- :mod:`.gan`: generators, critics and constrainers of :class:`dctrgan.WGAN`;
- :mod:`.traces`: the networks on air-shower traces (regressor, refiner and its critic).
"""

from __future__ import annotations

from dctrgan.nn import batched, classifiers, gan, layers, traces
from dctrgan.nn.batched import BatchedMLPClassifier
from dctrgan.nn.classifiers import (
    Conv3dClassifier,
    DeepSetsClassifier,
    MLPClassifier,
    fit_hit_scaling,
)
from dctrgan.nn.layers import MLP, Standardize, fit_standardize

__all__ = (
    "MLP",
    "BatchedMLPClassifier",
    "Conv3dClassifier",
    "DeepSetsClassifier",
    "MLPClassifier",
    "Standardize",
    "batched",
    "classifiers",
    "fit_hit_scaling",
    "fit_standardize",
    "gan",
    "layers",
    "traces",
)
