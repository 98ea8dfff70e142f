"""``dctrgan.Hist``: a :class:`hist.Hist` for weighted samples.

The same histogram as hist's, with ``Weight()`` storage by default (so the sum of
squared weights, hence effective entries and uncertainties, is always known) and
the comparisons of :mod:`dctrgan.stats` as methods. Slicing, projections and
arithmetic return a ``dctrgan.Hist``. ``fill`` also takes awkward arrays: jagged
quantities (one list per event, e.g. ``events.Jet.pt``) with per-event weights.

Replicas: ``fill(..., replicas=R)`` with ``R`` the ``(N, k)`` weights of ``k``
replicas of the weighting (say DCTR's bootstrap models) fills, beside the nominal
``Weight()`` storage, a companion histogram with boost-histogram's ``MultiCell(k)``
storage and the same axes. Bin for bin it gives the reweighting uncertainty (the
spread of the replicas) next to the statistical one (:math:`√(Σ w^2)`). The
companion follows slicing, rebinning, projection, copies, pickling, ``+`` and
scaling by numbers or arrays; it is refused where it could not follow (histograms
with and without replicas or with different ``k`` added, multiplied or divided by a
histogram, or bins set by hand).

Example:
    >>> import numpy as np
    >>> from dctrgan.hist import Hist
    >>> h = Hist.new.Reg(20, 0, 100, name="e", label="energy [GeV]").Weight()
    >>> h = h.fill(e=np.array([10.0, 50.0]), weight=np.array([0.5, 2.0]))
    >>> round(h.effective_entries(), 3)
    1.471
"""

from __future__ import annotations

import copy
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
T = TypeVar("T")
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

    __slots__ = ("_replicas",)

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
        if len(args) == 1 and isinstance(args[0], Hist) and args[0].n_replicas:
            self._replicas = copy.copy(args[0]._replica_hist())

    def fill(
        self,
        *args: Any,
        weight: Any = None,
        sample: Any = None,
        replicas: Any = None,
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
            replicas: ``(N, k)`` weights of ``k`` replicas of the weighting (numpy,
                torch or a regular awkward ``N * k`` array), one row per event (or
                per entry), broadcast onto jagged fills as ``weight`` is. Each
                replica's complete weight, in place of ``weight`` (multiply other
                event weights in first). A histogram is filled with replicas from
                its first fill on, and each time with the same ``k``.
            threads: as for :meth:`hist.Hist.fill`.
            **kwargs: values of the axes by name.

        Returns:
            This histogram.

        Raises:
            ValueError: if the arguments have different numbers of events or the
                jagged ones different lists (naming them); for replicas that are not
                ``(N, k)`` finite numbers, of another ``k`` than before, given to a
                histogram already filled without them, or missing from a fill of a
                histogram that has them.
            TypeError: for lazy (dask) arrays: compute them, or fill a
                ``hist.dask.Hist``.
        """
        rows = self._check_replicas(replicas)
        n_args = len(args)
        names = [(self.axes[i].name if i < self.ndim else "") or f"axis {i}" for i in range(n_args)]
        names += [*kwargs, "weight", "sample", "replicas"]
        values = [*args, *kwargs.values(), weight, sample, rows]
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
            kwargs = dict(zip(kwargs, values[n_args:-3], strict=True))
            weight, sample, rows = values[-3:]
        super().fill(*args, weight=weight, sample=sample, threads=threads, **kwargs)
        if rows is not None:
            if self._replica_hist() is None:
                axes = [copy.deepcopy(ax) for ax in self.axes]
                self._replicas = hist.Hist(*axes, storage=bh.storage.MultiCell(rows.shape[1]))
            self._replica_hist().fill(*args, weight=rows, threads=threads, **kwargs)
        return self

    def _replica_hist(self) -> Any:
        """The ``MultiCell`` companion holding the replicas, or ``None``."""
        return getattr(self, "_replicas", None)

    def _check_replicas(self, replicas: Any) -> npt.NDArray[np.float64] | None:
        """The replicas of a fill as ``(N, k)`` float64, checked against earlier fills."""
        companion = self._replica_hist()
        if replicas is None:
            if companion is not None:
                msg = (
                    f"Hist.fill: this histogram holds {self.n_replicas} replicas; pass "
                    "replicas= with every fill"
                )
                raise ValueError(msg)
            return None
        if isinstance(replicas, ak.Array):
            replicas = ak.to_numpy(replicas)
        if hasattr(replicas, "detach"):
            replicas = replicas.detach().cpu().numpy()
        rows = np.asarray(replicas, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] < 1:
            msg = f"Hist.fill: replicas must be (N, k) weights, got shape {rows.shape}"
            raise ValueError(msg)
        if not np.isfinite(rows).all():
            msg = f"Hist.fill: {int((~np.isfinite(rows)).sum())} non-finite replica weight(s)"
            raise ValueError(msg)
        if companion is None and not self.empty(flow=True):
            msg = "Hist.fill: replicas for a histogram already filled without them"
            raise ValueError(msg)
        if companion is not None and rows.shape[1] != self.n_replicas:
            msg = (
                f"Hist.fill: replicas has {rows.shape[1]} columns, the histogram holds "
                f"{self.n_replicas} replicas"
            )
            raise ValueError(msg)
        return rows

    @property
    def n_replicas(self) -> int:
        """Number of replicas filled alongside the nominal (0 without)."""
        companion = self._replica_hist()
        return 0 if companion is None else int(companion.view().shape[0])

    def replica_values(self, *, flow: bool = False) -> npt.NDArray[np.float64]:
        """``(k, *bins)`` sums of each replica's weights (with the flow bins if ``flow``).

        Raises:
            ValueError: if the histogram was filled without replicas.
        """
        companion = self._replica_hist()
        if companion is None:
            msg = "Hist.replica_values: the histogram was filled without replicas="
            raise ValueError(msg)
        return np.asarray(companion.view(flow=flow), dtype=np.float64)

    def reweighting_uncertainty(self, *, flow: bool = False) -> npt.NDArray[np.float64]:
        """Per-bin standard deviation of the replicas (``ddof=1``), the bin shape.

        The uncertainty of the bin contents from the weighting itself: with bootstrap
        replicas of the weighting model, the spread its training statistics cause.

        Raises:
            ValueError: without replicas, or with fewer than two.
        """
        values = self.replica_values(flow=flow)
        if len(values) < 2:
            msg = f"Hist.reweighting_uncertainty: needs two replicas or more, has {len(values)}"
            raise ValueError(msg)
        return np.asarray(values.std(axis=0, ddof=1), dtype=np.float64)

    def statistical_uncertainty(self, *, flow: bool = False) -> npt.NDArray[np.float64]:
        """Per-bin :math:`√(Σ w^2)` of the nominal weights, the bin shape.

        Raises:
            ValueError: if the storage does not know its sum of squared weights.
        """
        variances = self.variances(flow=flow)
        if variances is None:
            msg = "Hist.statistical_uncertainty: the storage has no sum of squared weights"
            raise ValueError(msg)
        return np.sqrt(np.asarray(variances, dtype=np.float64))

    def total_uncertainty(self, *, flow: bool = False) -> npt.NDArray[np.float64]:
        """Statistical and reweighting uncertainty in quadrature, per bin.

        Raises:
            ValueError: as :meth:`statistical_uncertainty` and
                :meth:`reweighting_uncertainty`.
        """
        return np.hypot(
            self.statistical_uncertainty(flow=flow), self.reweighting_uncertainty(flow=flow)
        )

    # ---- the replicas follow copies, pickling, slicing, projections and arithmetic

    def _with_replicas(self, out: T, companion: Any) -> T:
        if isinstance(out, Hist) and companion is not None:
            out._replicas = companion
        return out

    def __copy__(self) -> Self:
        companion = self._replica_hist()
        return self._with_replicas(super().__copy__(), copy.copy(companion))

    def __deepcopy__(self, memo: Any) -> Self:
        companion = copy.deepcopy(self._replica_hist(), memo)
        return self._with_replicas(super().__deepcopy__(memo), companion)

    def __getstate__(self) -> tuple[int, dict[str, Any]]:
        version, state = super().__getstate__()
        if self._replica_hist() is not None:
            state = {**state, "_replicas": self._replica_hist()}
        return version, state

    def __getitem__(self, index: Any) -> Any:
        out = super().__getitem__(index)
        companion = self._replica_hist()
        if companion is None or not isinstance(out, Hist):
            return out
        try:
            selected = companion[index]
        except (ValueError, TypeError, IndexError) as err:
            msg = (
                f"Hist: this selection ({index!r}) is not supported for the replicas "
                f"(MultiCell storage: {err}); select single bins, slices or rebins"
            )
            raise TypeError(msg) from err
        return self._with_replicas(out, selected)

    def __setitem__(self, index: Any, value: Any) -> None:
        if self._replica_hist() is not None:
            msg = "Hist: setting bins of a histogram with replicas would leave them behind"
            raise TypeError(msg)
        super().__setitem__(index, value)

    def project(self, *args: int | str, flow: bool = True) -> Self:
        """Projection onto the axes ``args`` (numbers or names), with the replicas."""
        companion = self._replica_hist()
        out = super().project(*args, flow=flow)
        return self._with_replicas(
            out, None if companion is None else companion.project(*args, flow=flow)
        )

    def reset(self) -> Self:
        """Clear the bins, and those of the replicas."""
        companion = self._replica_hist()
        if companion is not None:
            companion.reset()
        return super().reset()

    def _inplace(self, name: str, other: Any) -> Self:
        """``self <op>= other`` on the nominal and on the replicas."""
        mine = self._replica_hist()
        if isinstance(other, bh.Histogram):
            theirs = other._replica_hist() if isinstance(other, Hist) else None
            k_mine, k_theirs = self.n_replicas, getattr(other, "n_replicas", 0)
            if name in {"__imul__", "__itruediv__"} and (mine is not None or theirs is not None):
                msg = "Hist: a histogram with replicas is multiplied or divided by numbers only"
                raise TypeError(msg)
            if k_mine != k_theirs:
                msg = (
                    f"Hist: cannot combine histograms with {k_mine} and {k_theirs} replicas "
                    "(fill both with the same number, or neither)"
                )
                raise ValueError(msg)
            getattr(super(), name)(other)
            if mine is not None:
                getattr(mine, name)(theirs)
            return self
        getattr(super(), name)(other)
        if mine is not None:
            getattr(mine, name)(other)
        return self

    def __iadd__(self, other: Any) -> Self:  # type: ignore[misc]
        return self._inplace("__iadd__", other)

    def __isub__(self, other: Any) -> Self:  # type: ignore[misc]
        return self._inplace("__isub__", other)

    def __imul__(self, other: Any) -> Self:  # type: ignore[misc]
        return self._inplace("__imul__", other)

    def __itruediv__(self, other: Any) -> Self:  # type: ignore[misc]
        return self._inplace("__itruediv__", other)

    def __rtruediv__(self, other: Any) -> Self:
        if self._replica_hist() is not None:
            msg = "Hist: dividing by a histogram with replicas is not supported"
            raise TypeError(msg)
        return super().__rtruediv__(other)

    # ---- comparisons, from dctrgan.stats

    def chi2(self, other: Any, *, flow: bool = False) -> tuple[float, int]:
        """``(chi2, ndf)`` of the shapes of this histogram and ``other`` (same axes).

        Uses the sums of squared weights of both; see :func:`dctrgan.stats.chi2_test`.
        """
        return stats.chi2_test(self, other, flow=flow)

    def ks(self, other: Any, *, flow: bool = False) -> stats.KSTest:
        """Weighted Kolmogorov-Smirnov distance to ``other`` (1-D, same axis), with a p-value.

        See :func:`dctrgan.stats.ks_test` (effective entries, conservative when binned).
        """
        return stats.ks_test(self, other, flow=flow)

    def separation_power(self, other: Any) -> float:
        """Separation power :math:`⟨S^2⟩` to ``other`` (any uhi histogram, same axes).

        See :func:`dctrgan.stats.separation_power` (DCTRGAN eq. 15); the axes are
        checked as there.
        """
        return stats.separation_power(self, other)

    def statistical_floor(self, other: Any, *, method: str = "n_eff") -> float:
        """Expected :math:`⟨S^2⟩` to ``other`` were both samples of one distribution.

        ``method="n_eff"``: bins with entries in either histogram and the effective
        entries of each; ``"bins"``: bin by bin from the sums of weights and of their
        squares (better where the weights depend on the observable, as signed weights
        do); see :func:`dctrgan.stats.statistical_floor_hist`.
        """
        return stats.statistical_floor_hist(self, other, method=method)

    def effective_entries(self, *, flow: bool = False) -> float:
        """:math:`(Σ w)^2 / Σ w^2` over the bins (with the flow bins if ``flow``).

        See :func:`dctrgan.stats.effective_entries`.
        """
        return stats.effective_entries(self, flow=flow)

    def effective_counts(self, *, flow: bool = False) -> npt.NDArray[np.float64]:
        """Per-bin :math:`(Σ w)^2 / Σ w^2`, the bin shape (with flow bins if ``flow``).

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
