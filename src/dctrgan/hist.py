"""``dctrgan.Hist``: a :class:`hist.Hist` for weighted samples.

The same histogram as hist's, with ``Weight()`` storage by default (so the sum of
squared weights, hence effective entries and uncertainties, is always known) and
the comparisons of :mod:`dctrgan.stats` as methods. Slicing, projections and
arithmetic return a ``dctrgan.Hist``.

Example:
    >>> import numpy as np
    >>> from dctrgan.hist import Hist
    >>> h = Hist.new.Reg(20, 0, 100, name="e", label="energy [GeV]").Weight()
    >>> h = h.fill(e=np.array([10.0, 50.0]), weight=np.array([0.5, 2.0]))
    >>> round(h.effective_entries(), 3)
    1.471
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import boost_histogram as bh
import hist
import numpy as np
import numpy.typing as npt

from dctrgan import stats

__all__ = ("Hist",)

S = TypeVar("S", bound=bh.storage.Storage)


def _copies_a_histogram(args: tuple[Any, ...]) -> bool:
    """Whether the positional arguments convert an existing histogram (keep its storage)."""
    if len(args) != 1:
        return False
    arg = args[0]
    return isinstance(arg, (bh.Histogram, dict)) or hasattr(arg, "_to_uhi_")


class Hist(hist.Hist[S], Generic[S], family=hist):
    """A :class:`hist.Hist` with ``Weight()`` storage by default and sample comparisons.

    It belongs to hist's family (as ``hist.NamedHist`` does), so its axes are hist
    axes; results of slicing, projection and arithmetic keep this class.

    Args:
        *args: axes (and optionally the storage last), or a histogram to convert,
            as for :class:`hist.Hist`.
        storage: the storage; ``Weight()`` if not given (a converted histogram
            keeps its own).
        **kwargs: ``metadata``, ``data``, ``label``, ``name`` as for
            :class:`hist.Hist`.
    """

    __slots__ = ()

    def __init__(
        self,
        *args: Any,
        storage: bh.storage.Storage | str | None = None,
        **kwargs: Any,
    ) -> None:
        storage_given = storage is not None or (
            bool(args) and isinstance(args[-1], (bh.storage.Storage, str))
        )
        if not storage_given and not _copies_a_histogram(args):
            storage = bh.storage.Weight()
        kwargs["storage"] = storage
        super().__init__(*args, **kwargs)

    def separation_power(self, other: Any) -> float:
        """Separation power ``<S^2>`` to ``other`` (any uhi histogram, same bins).

        See :func:`dctrgan.stats.separation_power` (DCTRGAN eq. 15).
        """
        return stats.separation_power(self, other)

    def effective_entries(self, *, flow: bool = False) -> float:
        """``(sum w)^2 / sum w^2`` over the bins (with the flow bins if ``flow``).

        See :func:`dctrgan.stats.effective_entries`.
        """
        return stats.effective_entries(self, flow=flow)

    def effective_counts(self, *, flow: bool = False) -> npt.NDArray[np.float64]:
        """Per-bin ``(sum w)^2 / sum w^2``, the bin shape (with flow bins if ``flow``).

        See :func:`dctrgan.stats.effective_counts`.
        """
        return stats.effective_counts(self, flow=flow)

    def uncertainty_ratio(self, other: Any) -> float:
        """``r``: uncertainty on the mean from this (model) histogram over ``other``'s.

        ``other`` is the reference; both 1-D. The histogram-level approximation
        :func:`dctrgan.stats.uncertainty_ratio_hist` (DCTRGAN eqs. 6-9).
        """
        return stats.uncertainty_ratio_hist(self, other)

    def ratio_to(
        self, other: Any, *, normalize: bool = True
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Bin-by-bin ``(ratio, error)`` of this histogram over ``other``.

        Shapes (unit sums) are compared if ``normalize``. See
        :func:`dctrgan.stats.histogram_ratio`.
        """
        return stats.histogram_ratio(self, other, normalize=normalize)
