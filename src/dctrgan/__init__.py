"""dctrgan: make fast and generative detector simulations precise.

DCTR reweighting (Diefenbacher et al.), WGAN-GP generation with a constrainer and
WGAN refinement (Erdmann et al.), on awkward arrays read from and written to ROOT.
"""

from __future__ import annotations

from dctrgan import data, features, io, simulate, stats
from dctrgan.hist import Hist
from dctrgan._version import __version__
from dctrgan.data import Geometry, validate
from dctrgan.io import iterate, read, write

__all__ = (
    "Geometry",
    "Hist",
    "__version__",
    "data",
    "features",
    "io",
    "iterate",
    "read",
    "simulate",
    "stats",
    "validate",
    "write",
)


def __dir__() -> tuple[str, ...]:
    return __all__
