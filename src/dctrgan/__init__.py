"""dctrgan: make fast and generative detector simulations precise.

DCTR reweighting (Diefenbacher et al.), WGAN-GP generation with a constrainer and
WGAN refinement (Erdmann et al.), on awkward arrays read from and written to ROOT.
"""

from __future__ import annotations

from dctrgan import (
    data,
    dctr,
    demo,
    features,
    io,
    nn,
    plot,
    refiner,
    regression,
    report,
    simulate,
    stats,
    training,
    wgan,
)
from dctrgan._version import __version__
from dctrgan.data import Geometry, validate
from dctrgan.dctr import DCTR
from dctrgan.hist import Hist
from dctrgan.io import iterate, read, write
from dctrgan.refiner import Refiner
from dctrgan.regression import Regressor, bias_resolution
from dctrgan.wgan import WGAN, ShowerGAN

__all__ = (
    "DCTR",
    "WGAN",
    "Geometry",
    "Hist",
    "Refiner",
    "Regressor",
    "ShowerGAN",
    "__version__",
    "bias_resolution",
    "data",
    "dctr",
    "demo",
    "features",
    "io",
    "iterate",
    "nn",
    "plot",
    "read",
    "refiner",
    "regression",
    "report",
    "simulate",
    "stats",
    "training",
    "validate",
    "wgan",
    "write",
)


def __dir__() -> tuple[str, ...]:
    return __all__
