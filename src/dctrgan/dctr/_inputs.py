"""Inputs of :class:`dctrgan.DCTR`: features, hit tables, sample weights, checks and scores.

Private helpers of :mod:`dctrgan.dctr`: turning the containers a user passes
(numpy arrays, torch tensors, awkward records, awkward showers) into float32
feature matrices or flat hit tables, the error messages for bad inputs, and the
numerics of calibration and scoring (temperature, weighted AUC).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeAlias

import awkward as ak
import numpy as np
import torch

from dctrgan.io.branches import DEFAULT_BRANCHES, from_branches
from dctrgan.data import is_dask
from dctrgan.data import Geometry, geometry_of, make_showers, validate
from dctrgan.features import HIGH_LEVEL_NAMES, high_level, observables, voxelize

__all__ = (
    "SHOWER_BRANCHES",
    "Container",
    "FeatureSpec",
    "HitInputs",
    "HitTable",
    "as_container",
    "container_of",
    "extract_features",
    "fit_offset",
    "fit_temperature",
    "high_level_names",
    "is_dask",
    "is_shower_branches",
    "is_showers",
    "padded",
    "sample_weight",
    "take",
    "touch_weight_inputs",
    "voxels",
    "weight_inputs",
    "weight_meta",
    "weighted_auc",
)

Container = Literal["numpy", "torch", "awkward"]
FeatureSpec: TypeAlias = str | Sequence[str] | Callable[[Any], Any]


def weight_meta() -> ak.Array:
    """A typetracer of float64 weights of unknown length (the meta of lazy weights)."""
    return ak.Array(ak.Array(np.zeros(0)).layout.to_typetracer(forget_length=True))


def take(events: Any, mask: np.ndarray) -> Any:
    """The events selected by a boolean mask, for any supported container."""
    if isinstance(events, torch.Tensor):
        return events[torch.from_numpy(mask).to(events.device)]
    if isinstance(events, ak.Array):
        return events[mask]
    return np.asarray(events)[mask]


def container_of(events: Any) -> Container:
    """The kind of container ``events`` is, for returning weights of the same kind."""
    if isinstance(events, ak.Array):
        return "awkward"
    if isinstance(events, torch.Tensor):
        return "torch"
    return "numpy"


def as_container(weights: np.ndarray, kind: Container, like: Any = None) -> Any:
    """``(N,)`` float64 weights as a numpy array, an awkward array or a torch tensor
    (on the device of ``like``)."""
    if kind == "awkward":
        return ak.Array(weights)
    if kind == "torch":
        device = like.device if isinstance(like, torch.Tensor) else "cpu"
        return torch.from_numpy(weights).to(device)
    return weights


def is_showers(events: Any) -> bool:
    """True for awkward calorimeter showers (records with a ``hits`` field)."""
    return isinstance(events, ak.Array) and "hits" in ak.fields(events)


#: Shower branches as :func:`dctrgan.io.write` stores them, which coffea's ``BaseSchema``
#: shows as fields: incident energy and the jagged hit branches.
SHOWER_BRANCHES = tuple(
    DEFAULT_BRANCHES["showers"][key] for key in ("incident_energy", "layer", "ix", "iy", "energy")
)


def is_shower_branches(events: Any) -> bool:
    """True for records of the shower branches (not yet showers), e.g. coffea NanoEvents."""
    if not isinstance(events, ak.Array):
        return False
    fields = ak.fields(events)
    return "hits" not in fields and set(SHOWER_BRANCHES) <= set(fields)


def weight_inputs(events: Any, every_field: bool, geometry: Geometry | None) -> Any:
    """The events as the weights read them.

    Records of the shower branches (coffea NanoEvents read with ``BaseSchema`` from
    a file :func:`dctrgan.io.write` wrote) become showers; showers keep only
    ``incident_energy`` and ``hits`` unless ``every_field`` (a features callable
    may read any field), so that other fields are never touched: in a
    column-projected dask partition they are not even read.

    Args:
        events: the events given to :meth:`dctrgan.DCTR.weight`.
        every_field: keep every field of showers.
        geometry: the calorimeter of shower branches (default: ILD-like).
    """
    if is_shower_branches(events):
        return from_branches(events[list(SHOWER_BRANCHES)], "showers", geometry=geometry)
    if is_showers(events) and not every_field:
        return events[["incident_energy", "hits"]]
    return events


def touch_weight_inputs(events: ak.Array, names: Sequence[str] | None) -> None:
    """Touch (on a typetracer) the fields the weights of ``events`` read: ``names`` of
    flat records, those of :func:`weight_inputs` for showers, else every field."""
    if names is not None:
        parts = [events[n] for n in names]
    elif is_shower_branches(events):
        parts = [events[b] for b in SHOWER_BRANCHES]
    elif is_showers(events):
        parts = [events["incident_energy"], events["hits"]]
    else:
        parts = [events]
    for part in parts:
        ak.typetracer.touch_data(part)


def _is_flat_record(events: ak.Array) -> bool:
    return bool(ak.fields(events)) and events.layout.purelist_depth == 1


def high_level_names(n_columns: int) -> list[str]:
    """Names of the :func:`dctrgan.features.high_level` columns for ``n_columns - 3`` layers."""
    return [*HIGH_LEVEL_NAMES[:3], *(f"energy_layer_{i}" for i in range(1, n_columns - 2))]


def _columns_of_array(events: Any, what: str) -> np.ndarray:
    array = events.detach().cpu().numpy() if isinstance(events, torch.Tensor) else events
    array = np.asarray(array)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        msg = (
            f"{what}: expected a (N, d) numeric array of features, got {array.dtype} {array.shape}"
        )
        raise ValueError(msg)
    return array


def _record_columns(events: ak.Array, names: Sequence[str], what: str) -> np.ndarray:
    fields = ak.fields(events)
    missing = [n for n in names if n not in fields]
    if missing:
        msg = f"{what}: feature mismatch: no field(s) {missing} (have {fields})"
        raise ValueError(msg)
    columns = []
    for name in names:
        try:
            column = np.asarray(ak.to_numpy(events[name]))
        except (TypeError, ValueError) as err:
            msg = f"{what}: field {name!r} is not a flat numeric column (type {ak.type(events[name])})"
            raise ValueError(msg) from err
        if column.ndim != 1 or column.dtype.kind not in "biuf":
            msg = f"{what}: field {name!r} is not a flat numeric column (type {ak.type(events[name])})"
            raise ValueError(msg)
        columns.append(column)
    return np.column_stack(columns) if columns else np.zeros((len(events), 0))


def extract_features(
    events: Any, spec: FeatureSpec, what: str
) -> tuple[np.ndarray, list[str] | None]:
    """Feature matrix and column names of ``events`` for a ``features=`` specification.

    ``"auto"``: the 33 high-level features for showers, the flat numeric fields of
    an awkward record (all but ``weight``), the columns of a 2D numpy array or
    torch tensor (a 1D array is one feature). ``"high_level"``: showers, or the
    precomputed ``(N, 3 + layers)`` array of :func:`dctrgan.features.high_level`
    (named like the showers' columns, so a model fit on one weights the other). A
    list of names: fields of a record, or observables of
    :func:`dctrgan.features.observables` for showers. A callable: ``f(events)``
    returning a ``(N, d)`` array or a ``{name: (N,) array}`` mapping.

    Args:
        events: the events.
        spec: the ``features=`` specification.
        what: name of the argument, for error messages.

    Returns:
        ``(X, names)``: ``X`` ``(N, d)`` float32, ``names`` a list or ``None``.

    Raises:
        ValueError: for inputs the specification cannot apply to, named.
    """
    if callable(spec):
        out = spec(events)
        if isinstance(out, dict):
            names = [str(k) for k in out]
            x = np.column_stack([np.asarray(v, dtype=np.float64) for v in out.values()])
            return _finite(x.astype(np.float32), names, what), names
        return _finite(_columns_of_array(out, what).astype(np.float32), None, what), None
    if isinstance(spec, str) and spec not in ("auto", "high_level"):
        msg = (
            f"features: expected 'auto', 'high_level', a list of names or a callable, got {spec!r}"
        )
        raise ValueError(msg)
    if isinstance(spec, str):
        if is_showers(events):
            x = high_level(events)
            return _finite(x, high_level_names(x.shape[1]), what), high_level_names(x.shape[1])
        if spec == "high_level" and isinstance(events, np.ndarray | torch.Tensor):
            # precomputed dctrgan.features.high_level(showers): (N, 3 + layers)
            x = _columns_of_array(events, what)
            if x.shape[1] < 4:
                msg = (
                    f"{what}: features='high_level' on an array needs the (N, 3 + layers) "
                    f"columns of dctrgan.features.high_level, got {x.shape[1]} column(s)"
                )
                raise ValueError(msg)
            names = high_level_names(x.shape[1])
            return _finite(x.astype(np.float32), names, what), names
        if spec == "high_level":
            kind = type(events).__name__ if not isinstance(events, ak.Array) else ak.fields(events)
            msg = (
                f"{what}: features='high_level' needs awkward showers (a 'hits' field), got {kind}"
            )
            raise ValueError(msg)
        if isinstance(events, ak.Array):
            if not _is_flat_record(events):
                if ak.fields(events):
                    msg = (
                        f"{what}: features='auto' needs flat numeric fields, got type "
                        f"{ak.type(events)}; pass features=[names] or a callable"
                    )
                    raise ValueError(msg)
                x = _columns_of_array(ak.to_numpy(events), what)
                return _finite(x.astype(np.float32), None, what), None
            names = [f for f in ak.fields(events) if f != "weight"]
            x = _record_columns(events, names, what)
            return _finite(x.astype(np.float32), names, what), names
        x = _columns_of_array(events, what)
        return _finite(x.astype(np.float32), None, what), None
    names = [str(n) for n in spec]
    if is_showers(events):
        table = observables(events)
        unknown = [n for n in names if n not in table]
        if unknown:
            msg = f"{what}: unknown observable(s) {unknown} (see dctrgan.features.observables)"
            raise ValueError(msg)
        x = np.column_stack([table[n] for n in names]).astype(np.float32)
    elif isinstance(events, ak.Array):
        x = _record_columns(events, names, what).astype(np.float32)
    else:
        msg = f"{what}: features given as names need awkward records or showers, got {type(events).__name__}"
        raise ValueError(msg)
    return _finite(x, names, what), names


def _finite(x: np.ndarray, names: list[str] | None, what: str) -> np.ndarray:
    """``x`` unchanged, or a ValueError saying how many values are not finite and where."""
    bad = ~np.isfinite(x)
    if not bad.any():
        return x
    per_column = bad.sum(axis=0)
    columns = np.flatnonzero(per_column)
    c = int(columns[0])
    label = f"feature {names[c]!r} (column {c})" if names else f"column {c}"
    first = int(np.flatnonzero(bad[:, c])[0])
    msg = (
        f"{what}: {int(bad.sum())} non-finite (NaN or inf) value(s) in {len(columns)} feature(s); "
        f"{int(per_column[c])} in {label}, first at event {first}"
    )
    raise ValueError(msg)


def sample_weight(events: Any, given: Any, n: int, what: str) -> np.ndarray:
    """``(n,)`` float64 sample weights: ``given``, else the events' ``weight`` field, else ones.

    Raises:
        ValueError: for a wrong length, or weights that are not finite and positive.
    """
    if given is None and isinstance(events, ak.Array) and "weight" in ak.fields(events):
        given, what = events["weight"], f"{what} (the events' 'weight' field)"
    if given is None:
        return np.ones(n)
    if isinstance(given, torch.Tensor):
        given = given.detach().cpu().numpy()
    w = np.asarray(ak.to_numpy(given) if isinstance(given, ak.Array) else given, dtype=np.float64)
    if w.shape != (n,):
        msg = f"{what}: expected shape ({n},) (one weight per event), got {w.shape}"
        raise ValueError(msg)
    bad = ~(np.isfinite(w) & (w > 0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        msg = (
            f"{what}: {int(bad.sum())} weight(s) not finite and positive, first {w[first]} at "
            f"event {first}; DCTR needs positive sample weights (drop events with weight <= 0)"
        )
        raise ValueError(msg)
    return w


@dataclasses.dataclass(frozen=True)
class HitTable:
    """Flat hits of calorimeter showers, for building batches of padded hits or voxels.

    Attributes:
        counts: ``(N,)`` hits per event.
        starts: ``(N,)`` index of each event's first hit.
        hits: ``(H, 4)`` float32 ``(layer, ix, iy, energy in MeV)``.
        incident_energy: ``(N,)`` GeV.
        geometry: the calorimeter.
    """

    counts: np.ndarray
    starts: np.ndarray
    hits: np.ndarray
    incident_energy: np.ndarray
    geometry: Geometry

    @classmethod
    def from_showers(cls, events: Any, what: str) -> HitTable:
        """The hit table of awkward showers (validated: finite, in-range hits).

        Raises:
            ValueError: if ``events`` are not showers or fail validation.
        """
        if not is_showers(events):
            kind = ak.fields(events) if isinstance(events, ak.Array) else type(events).__name__
            msg = f"{what}: the low-level models need awkward showers (a 'hits' field), got {kind}"
            raise ValueError(msg)
        try:
            validate(events, "showers", strict=False)
        except ValueError as err:
            msg = f"{what}: {err}"
            raise ValueError(msg) from err
        hits = events["hits"]
        counts = np.asarray(ak.to_numpy(ak.num(hits, axis=1)), dtype=np.int64)
        flat = ak.flatten(hits, axis=1)
        table = np.empty((int(counts.sum()), 4), dtype=np.float32)
        for i, field in enumerate(("layer", "ix", "iy", "energy")):
            table[:, i] = ak.to_numpy(flat[field])
        starts = np.cumsum(counts) - counts
        incident = np.asarray(ak.to_numpy(events["incident_energy"]), dtype=np.float32)
        return cls(counts, starts, table, incident, geometry_of(hits))

    def __len__(self) -> int:
        return len(self.counts)

    def rows(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hit counts ``(B,)`` and row numbers into :attr:`hits` of the events ``index``."""
        counts = self.counts[index]
        total = int(counts.sum())
        offsets = np.repeat(self.starts[index] - (np.cumsum(counts) - counts), counts)
        return counts, np.arange(total, dtype=np.int64) + offsets


def padded(
    tables: Sequence[HitTable], parts: Sequence[np.ndarray]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded hits ``(B, H, 4)`` and mask ``(B, H)`` of ``parts[k]`` of ``tables[k]``, in order."""
    counts = []
    rows = []
    for table, index in zip(tables, parts, strict=True):
        c, r = table.rows(index)
        counts.append(c)
        rows.append(table.hits[r])
    count = np.concatenate(counts)
    n, width = len(count), int(count.max()) if len(count) else 0
    out = np.zeros((n, max(width, 1), 4), dtype=np.float32)
    mask = np.arange(max(width, 1))[None, :] < count[:, None]
    out[mask] = np.concatenate(rows) if rows else np.zeros((0, 4), np.float32)
    return torch.from_numpy(out), torch.from_numpy(mask)


def voxels(
    tables: Sequence[HitTable], parts: Sequence[np.ndarray], buffer: np.ndarray | None = None
) -> torch.Tensor:
    """Dense voxels ``(B, n_layers, n_x, n_y)`` MeV of ``parts[k]`` of ``tables[k]``, in order.

    Built with :func:`dctrgan.features.voxelize` for this batch only.
    """
    counts, rows, incident = [], [], []
    for table, index in zip(tables, parts, strict=True):
        c, r = table.rows(index)
        counts.append(c)
        rows.append(table.hits[r])
        incident.append(table.incident_energy[index])
    hits = np.concatenate(rows)
    g = tables[0].geometry
    showers = make_showers(
        np.concatenate(incident),
        np.concatenate(counts),
        hits[:, 0],
        hits[:, 1],
        hits[:, 2],
        hits[:, 3],
        geometry=g,
    )
    n = len(showers)
    out = None if buffer is None or len(buffer) < n else buffer[:n]
    return torch.from_numpy(voxelize(showers, g, out=out))


def fit_temperature(logit: np.ndarray, target: np.ndarray, weight: np.ndarray) -> float:
    """The temperature ``T`` minimizing the weighted BCE of ``sigmoid(logit / T)``.

    Golden-section search on ``log T`` in ``[1/20, 20]`` (the loss is convex in
    ``1/T``; deterministic, no optimizer state).

    References:
        C. Guo et al., "On calibration of modern neural networks", ICML 2017.
    """
    z = np.asarray(logit, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)

    def loss(log_t: float) -> float:
        s = z / math.exp(log_t)
        # BCE with logits: y * log(1 + e^-s) + (1 - y) * log(1 + e^s), overflow-free
        return float(np.sum(w * (y * np.logaddexp(0.0, -s) + (1 - y) * np.logaddexp(0.0, s))))

    lo, hi = math.log(1 / 20), math.log(20)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = loss(a), loss(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = loss(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = loss(b)
    return math.exp(0.5 * (lo + hi))


def fit_offset(logit: np.ndarray, temperature: float, weight: np.ndarray) -> float:
    """The log-weight offset ``b`` that makes the weighted mean of ``exp(logit / T + b)``
    over fake events 1 (DCTRGAN eq. 10), computed in log space.

    Args:
        logit: ``(M,)`` logits of held-out fake events.
        temperature: the fitted ``T``.
        weight: ``(M,)`` their positive sample weights.
    """
    log_w0 = np.log(np.asarray(weight, dtype=np.float64))
    return _logsumexp(log_w0) - _logsumexp(np.asarray(logit, np.float64) / temperature + log_w0)


def _logsumexp(x: np.ndarray) -> float:
    """``log(sum(exp(x)))`` without overflow."""
    top = float(np.max(x))
    return top + math.log(float(np.sum(np.exp(x - top))))


def weighted_auc(
    score_pos: np.ndarray,
    score_neg: np.ndarray,
    weight_pos: np.ndarray | None = None,
    weight_neg: np.ndarray | None = None,
) -> float:
    """Area under the ROC curve: ``P(score_pos > score_neg) + P(equal) / 2``, weighted.

    Args:
        score_pos: ``(P,)`` scores of the positive class (real).
        score_neg: ``(M,)`` scores of the negative class (fake).
        weight_pos: ``(P,)`` weights (default ones).
        weight_neg: ``(M,)`` weights (default ones).

    Returns:
        The AUC in [0, 1]; 0.5 for indistinguishable classes.
    """
    sp, sn = np.asarray(score_pos, np.float64), np.asarray(score_neg, np.float64)
    wp = np.ones(len(sp)) if weight_pos is None else np.asarray(weight_pos, np.float64)
    wn = np.ones(len(sn)) if weight_neg is None else np.asarray(weight_neg, np.float64)
    values, inverse = np.unique(np.concatenate([sp, sn]), return_inverse=True)
    pos = np.bincount(inverse[: len(sp)], weights=wp, minlength=len(values))
    neg = np.bincount(inverse[len(sp) :], weights=wn, minlength=len(values))
    below = np.cumsum(neg) - neg
    norm = wp.sum() * wn.sum()
    return float(np.sum(pos * (below + 0.5 * neg)) / norm) if norm > 0 else 0.5


class HitInputs:
    """Batch inputs of the low-level models: padded hits (deepsets) or voxels (cnn3d).

    Events ``[0, n_first)`` are those of ``tables[0]``, the next ones of ``tables[1]``
    (the real then the fake sample); a batch is built for its events only.

    Args:
        model: ``"deepsets"`` or ``"cnn3d"``.
        tables: one or two hit tables.
        n_first: events in ``tables[0]``.
    """

    def __init__(self, model: str, tables: Sequence[HitTable], n_first: int) -> None:
        self.model = model
        self.tables = tuple(tables)
        self.n_first = n_first
        self._buffer: np.ndarray | None = None

    def _parts(self, index: np.ndarray) -> tuple[list[np.ndarray], torch.Tensor]:
        """The events of each table and the permutation back to the order of ``index``."""
        if len(self.tables) == 1:
            return [index], torch.arange(len(index))
        first = index < self.n_first
        order = np.concatenate([np.flatnonzero(first), np.flatnonzero(~first)])
        return [index[first], index[~first] - self.n_first], torch.from_numpy(np.argsort(order))

    def padded(self, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded hits ``(B, H, 4)`` and mask ``(B, H)`` of the events ``index``, in order."""
        parts, back = self._parts(index)
        hits, mask = padded(self.tables, parts)
        return hits[back], mask[back]

    def __call__(self, index: np.ndarray) -> Any:
        if self.model == "deepsets":
            return self.padded(index)
        parts, back = self._parts(index)
        shape = self.tables[0].geometry.shape
        if self._buffer is None or len(self._buffer) < len(index):
            self._buffer = np.empty((len(index), *shape), dtype=np.float32)
        # indexing copies the batch out of the reused buffer
        return voxels(self.tables, parts, self._buffer)[back]
