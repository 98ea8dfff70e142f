"""``dctrgan.Hist``: a :class:`hist.Hist` for weighted samples.

The same histogram as hist's, with ``Weight()`` storage by default (so the sum of
squared weights, hence effective entries and uncertainties, is always known) and
the comparisons of :mod:`dctrgan.stats` as methods. Slicing, projections and
arithmetic return a ``dctrgan.Hist``. ``fill`` also takes awkward arrays: jagged
quantities (one list per event, e.g. ``events.Jet.pt``) with per-event weights.

Example:
    >>> import numpy as np
    >>> from dctrgan.hist import Hist
    >>> h = Hist.new.Reg(20, 0, 100, name="e", label="energy [GeV]").Weight()
    >>> h = h.fill(e=np.array([10.0, 50.0]), weight=np.array([0.5, 2.0]))
    >>> round(h.effective_entries(), 3)
    1.471
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import awkward as ak
import boost_histogram as bh
import hist
import numpy as np
import numpy.typing as npt

from dctrgan import stats

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ("Hist",)

S = TypeVar("S", bound=bh.storage.Storage)
log = logging.getLogger(__name__)


def _copies_a_histogram(args: tuple[Any, ...]) -> bool:
    """Whether the positional arguments convert an existing histogram (keep its storage)."""
    if len(args) != 1:
        return False
    arg = args[0]
    return isinstance(arg, (bh.Histogram, dict)) or hasattr(arg, "_to_uhi_")


def _structure(a: ak.Array) -> list[npt.NDArray[np.int64]]:
    """Numbers of entries per list at each depth of a jagged array (-1 for a missing list)."""
    return [
        ak.to_numpy(ak.flatten(ak.fill_none(ak.num(a, axis=d), -1), axis=None))
        for d in range(1, a.ndim)
    ]


def _check_structure(a: ak.Array, b: ak.Array, names: tuple[str, str]) -> None:
    """Raise unless two jagged arrays have the same lists (entry for entry)."""
    where = f"Hist.fill: the jagged arguments {names[0]!r} and {names[1]!r}"
    if a.ndim != b.ndim:
        msg = f"{where} have different depths ({a.ndim} and {b.ndim} dimensions)"
        raise ValueError(msg)
    for depth, (ca, cb) in enumerate(zip(_structure(a), _structure(b), strict=True), 1):
        if ca.shape != cb.shape or not np.array_equal(ca, cb):
            k = int(np.argmax(ca != cb)) if ca.shape == cb.shape else 0
            item = "event" if depth == 1 else f"list at depth {depth}"
            counts = " and ".join(
                "a missing list" if c < 0 else f"{c} entries" for c in (ca[k], cb[k])
            )
            msg = (
                f"{where} have different structures: {item} {k} has {counts}; jagged "
                "arguments need one value per entry of each other"
            )
            raise ValueError(msg)


def _innermost(a: ak.Array) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]:
    """Entries of an awkward array flattened to one dimension, and where they are None."""
    while a.ndim > 1:
        a = ak.flatten(a, axis=1)  # a missing list holds no entries
    values = ak.to_numpy(a, allow_missing=True)
    return np.ma.getdata(values), np.ma.getmaskarray(values)


def _entries(v: Any) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]:
    """Values of an array flattened to one dimension, and where they are None."""
    if isinstance(v, ak.Array):
        return _innermost(v)
    a = np.asarray(v)
    return a, np.zeros(len(a), dtype=bool)


def _flatten_entries(names: list[str], values: list[Any]) -> list[Any]:
    """The fill arguments as flat numpy arrays, one value per entry.

    Jagged awkward arrays are flattened, per-event arrays (numpy, awkward, lists) are
    repeated for each entry of their event, scalars and ``None`` are kept; entries
    where any argument is None are dropped from all of them.
    """
    arrays = {
        i: v
        for i, v in enumerate(values)
        if isinstance(v, ak.Array) or (v is not None and not isinstance(v, str) and np.ndim(v))
    }
    lengths = {names[i]: len(v) for i, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        msg = (
            f"Hist.fill: the arguments have different numbers of events {lengths}; give "
            "per-event values one value per event and jagged ones one list per event"
        )
        raise ValueError(msg)
    jagged = [i for i, v in arrays.items() if isinstance(v, ak.Array) and v.ndim > 1]
    for i in jagged[1:]:
        _check_structure(arrays[jagged[0]], arrays[i], (names[jagged[0]], names[i]))
    index: npt.NDArray[Any] | None = None
    missing: npt.NDArray[np.bool_] | None = None
    if jagged:  # the event of each entry, as ak.broadcast_arrays would give (but faster)
        index = np.arange(len(arrays[jagged[0]]))
        for counts in _structure(arrays[jagged[0]]):
            index = np.repeat(index, np.maximum(counts, 0))  # a missing list: no entries
    flat = {}
    for i, v in arrays.items():
        flat[i], none = _entries(v)
        if index is not None and i not in jagged:
            flat[i], none = flat[i][index], none[index]
        missing = none if missing is None else missing | none
    out = list(values)
    if missing is not None and missing.any():
        log.info(
            "Hist.fill: dropped %d of %d entries with a None value", missing.sum(), missing.size
        )
        flat = {i: v[~missing] for i, v in flat.items()}
    for i, v in flat.items():
        out[i] = v
    return out


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

    def fill(
        self,
        *args: Any,
        weight: Any = None,
        sample: Any = None,
        threads: int | None = None,
        **kwargs: Any,
    ) -> Self:
        """Fill with flat arrays, or with awkward arrays of one list per event.

        Jagged values (``var * float``, e.g. ``events.Jet.pt``) fill one entry per
        element; per-event values (numpy, flat awkward, lists) given beside them,
        ``weight`` and ``sample`` included, are repeated for each entry of their event
        (``ak.broadcast_arrays``), so ``h.fill(pt=events.Jet.pt, weight=w)`` gives each
        jet its event's weight. A jagged ``weight`` (one per jet) works too. All
        jagged arguments need the same lists. Entries where any argument is None
        (option types, e.g. ``ak.firsts`` of an empty list) are dropped with their
        weights; a missing list has no entries. The number dropped is logged (level
        INFO, logger ``dctrgan.hist``). Fills without awkward arrays go to
        :meth:`hist.Hist.fill` unchanged.

        Args:
            *args: values of the axes in order.
            weight: per-entry or per-event weights, or a scalar.
            sample: values to average for a ``Mean()`` storage, likewise.
            threads: as for :meth:`hist.Hist.fill`.
            **kwargs: values of the axes by name.

        Returns:
            This histogram.

        Raises:
            ValueError: if the arguments have different numbers of events or the
                jagged ones different lists (naming them).
            TypeError: for lazy (dask) arrays: compute them, or fill a
                ``hist.dask.Hist``.
        """
        n_args = len(args)
        names = [(self.axes[i].name if i < self.ndim else "") or f"axis {i}" for i in range(n_args)]
        names += [*kwargs, "weight", "sample"]
        values = [*args, *kwargs.values(), weight, sample]
        for name, v in zip(names, values, strict=True):
            if type(v).__module__.partition(".")[0] in {"dask", "dask_awkward"}:
                msg = (
                    f"Hist.fill: {name!r} is a lazy dask array; pass its .compute() or "
                    "fill a hist.dask.Hist (dask-histogram)"
                )
                raise TypeError(msg)
        if any(isinstance(v, ak.Array) for v in values):
            values = _flatten_entries(names, values)
            args = tuple(values[:n_args])
            kwargs = dict(zip(kwargs, values[n_args:-2], strict=True))
            weight, sample = values[-2:]
        return super().fill(*args, weight=weight, sample=sample, threads=threads, **kwargs)

    def separation_power(self, other: Any) -> float:
        """Separation power ``<S^2>`` to ``other`` (any uhi histogram, same axes).

        See :func:`dctrgan.stats.separation_power` (DCTRGAN eq. 15); the axes are
        checked as there.
        """
        return stats.separation_power(self, other)

    def statistical_floor(self, other: Any) -> float:
        """Expected ``<S^2>`` to ``other`` were both samples of one distribution.

        Bins with entries in either histogram and the effective entries of each;
        see :func:`dctrgan.stats.statistical_floor_hist`.
        """
        return stats.statistical_floor_hist(self, other)

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

        ``other`` is the reference; both 1-D with the same axis. The histogram-level
        approximation :func:`dctrgan.stats.uncertainty_ratio_hist` (DCTRGAN eqs. 6-9).
        """
        return stats.uncertainty_ratio_hist(self, other)

    def ratio_to(
        self, other: Any, *, normalize: bool = True
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Bin-by-bin ``(ratio, error)`` of this histogram over ``other``.

        Shapes (unit sums) are compared if ``normalize``; the axes must match. See
        :func:`dctrgan.stats.histogram_ratio`.
        """
        return stats.histogram_ratio(self, other, normalize=normalize)
