"""Inputs of :class:`dctrgan.DCTR`: features, hit tables, sample weights, checks and scores.

Private helpers of :mod:`dctrgan.dctr`: turning the containers a user passes
(numpy arrays, torch tensors, awkward records, awkward showers) into float32
feature matrices or flat hit tables (:mod:`._hits`): the sample of a fit
(:func:`training_sample`), the inputs of events to weight, checked against the
fitted model (:func:`prediction_inputs`); the error messages for bad inputs, and the
weighted AUC of the diagnostics.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeAlias

import awkward as ak
import numpy as np
import numpy.typing as npt
import torch

from dctrgan.data import Geometry
from dctrgan.dctr._hits import HitInputs, HitTable, is_showers
from dctrgan.features import HIGH_LEVEL_NAMES, high_level, observables
from dctrgan.io.branches import DEFAULT_BRANCHES, from_branches

__all__ = (
    "SHOWER_BRANCHES",
    "Container",
    "FeatureSpec",
    "Sample",
    "as_container",
    "container_of",
    "extract_features",
    "given_features",
    "high_level_names",
    "is_shower_branches",
    "prediction_inputs",
    "sample_weight",
    "saved_features",
    "take",
    "touch_weight_inputs",
    "training_sample",
    "weight_inputs",
    "weight_meta",
    "weighted_auc",
)

Container = Literal["numpy", "torch", "awkward"]
FeatureSpec: TypeAlias = str | Sequence[str] | Callable[[Any], Any]


def saved_features(features: FeatureSpec) -> str | tuple[str, ...]:
    """The ``features=`` specification as the config saves it (``"callable"`` for a
    function, which is not saved)."""
    if callable(features):
        return "callable"
    return features if isinstance(features, str) else tuple(str(f) for f in features)


def given_features(saved: str | tuple[str, ...]) -> FeatureSpec:
    """The ``features=`` specification of a saved one (:func:`saved_features`)."""
    return list(saved) if isinstance(saved, tuple) else saved


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


def touch_weight_inputs(
    events: ak.Array, model: str, features: FeatureSpec, feature_names: list[str] | None
) -> None:
    """Touch, on a typetracer (dask-awkward's column optimization), the fields the weights
    of ``events`` read: every field for a features callable, the features' fields of
    flat records, those of :func:`weight_inputs` for showers.

    Args:
        events: a typetracer of the events given to :meth:`dctrgan.DCTR.weight`.
        model: the model kind.
        features: the ``features=`` specification.
        feature_names: the names of the fitted features, where known.
    """
    if callable(features):
        ak.typetracer.touch_data(events)  # a callable may read any field
        return
    names: list[str] | None = None  # None: those of weight_inputs
    if model == "mlp" and not (is_showers(events) or is_shower_branches(events)):
        if isinstance(features, str):
            names = None if feature_names is None else list(feature_names)
        else:
            names = [str(n) for n in features]
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


def prediction_inputs(
    events: Any,
    model: str,
    features: FeatureSpec,
    feature_names: list[str] | None,
    n_features: int,
    geometry: Geometry | None,
) -> tuple[Callable[[np.ndarray], Any], int]:
    """Batch builder and event count of events to weight, checked against the fitted
    model: its features (names, count) or its calorimeter geometry.

    Args:
        events: the events given to :meth:`dctrgan.DCTR.log_weight`.
        model: the model kind.
        features: the ``features=`` specification.
        feature_names: the names of the fitted features, where known.
        n_features: the number of the fitted features (``"mlp"``).
        geometry: the fitted calorimeter (low-level models).

    Raises:
        ValueError: for non-finite features, or features that do not match the fitted ones.
    """
    what = "events"
    events = weight_inputs(events, callable(features), geometry)
    if model != "mlp":
        table = HitTable.from_showers(events, what)
        assert geometry is not None
        if table.geometry.shape != geometry.shape:
            msg = (
                f"{what}: feature mismatch: geometry {table.geometry.shape}, "
                f"the model was fitted on {geometry.shape}"
            )
            raise ValueError(msg)
        return HitInputs(model, (table,), len(table)), len(table)
    if (
        isinstance(features, str)
        and features == "auto"
        and feature_names is not None
        and isinstance(events, ak.Array)
        and not is_showers(events)
    ):
        features = feature_names  # select the fitted fields; others (weight) are ignored
    x, names = extract_features(events, features, what)
    if names is not None and feature_names is not None and names != feature_names:
        diff = sorted(set(names) ^ set(feature_names)) or "their order"
        msg = (
            f"{what}: feature mismatch: got {names}, the model was fitted on "
            f"{feature_names} (differ: {diff})"
        )
        raise ValueError(msg)
    if x.shape[1] != n_features:
        msg = (
            f"{what}: feature mismatch: {x.shape[1]} features, the model was fitted on {n_features}"
        )
        raise ValueError(msg)
    tensor = torch.from_numpy(x)
    return (lambda i: tensor[torch.from_numpy(i)]), len(x)


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
            raise _not_a_column(events, name, what) from err
        if column.ndim != 1 or column.dtype.kind not in "biuf":
            raise _not_a_column(events, name, what)
        columns.append(column)
    return np.column_stack(columns) if columns else np.zeros((len(events), 0))


def _not_a_column(events: ak.Array, name: str, what: str) -> ValueError:
    kind = ak.type(events[name])
    return ValueError(f"{what}: field {name!r} is not a flat numeric column (type {kind})")


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
        msg = (
            f"{what}: features given as names need awkward records or showers, "
            f"got {type(events).__name__}"
        )
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


@dataclasses.dataclass(frozen=True)
class Sample:
    """The real and fake events of a fit in one index space, the real ones first.

    Attributes:
        inputs: ``inputs(index)`` builds the network's input batch for events ``index``.
        target: ``(N,)`` float32 labels, 1 real, 0 fake.
        weight: ``(N,)`` float64 sample weights as given (positive).
        is_real: ``(N,)`` bool.
        feature_names: the names of the MLP's features, where known.
        n_features: the number of the MLP's features (0 for the low-level models).
        geometry: the calorimeter of the low-level models' hits (``None`` for the MLP).
    """

    inputs: Callable[[np.ndarray], Any]
    target: torch.Tensor
    weight: np.ndarray
    is_real: np.ndarray
    feature_names: list[str] | None = None
    n_features: int = 0
    geometry: Geometry | None = None


def training_sample(
    real: Any,
    fake: Any,
    real_weight: npt.ArrayLike | None,
    fake_weight: npt.ArrayLike | None,
    model: str,
    features: FeatureSpec,
) -> Sample:
    """The events given to :meth:`dctrgan.DCTR.fit`, checked, as one sample: the
    features of ``"mlp"``, or the hits of the low-level models.

    Raises:
        ValueError: for empty samples, non-finite features, features or geometries
            that differ between the samples, no features, or bad sample weights.
    """
    names, n_features, geometry = None, 0, None
    if model == "mlp":
        xr, names = extract_features(real, features, "real")
        xf, names_fake = extract_features(fake, features, "fake")
        if names != names_fake or xr.shape[1] != xf.shape[1]:
            msg = (
                f"fake: feature mismatch with real: {names_fake or xf.shape[1]} "
                f"vs {names or xr.shape[1]}"
            )
            raise ValueError(msg)
        if xr.shape[1] == 0:
            msg = "real: no features (0 columns)"
            raise ValueError(msg)
        n_real, n_fake, n_features = len(xr), len(xf), xr.shape[1]
        x = torch.from_numpy(np.concatenate([xr, xf]))
        del xr, xf
        inputs: Callable[[np.ndarray], Any] = lambda i: x[torch.from_numpy(i)]
    else:
        tables = (HitTable.from_showers(real, "real"), HitTable.from_showers(fake, "fake"))
        shapes = [t.geometry.shape for t in tables]
        if shapes[0] != shapes[1]:
            msg = f"fake: geometry {shapes[1]} differs from real's {shapes[0]}"
            raise ValueError(msg)
        n_real, n_fake, geometry = len(tables[0]), len(tables[1]), tables[0].geometry
        inputs = HitInputs(model, tables, n_real)
    for what, n in (("real", n_real), ("fake", n_fake)):
        if n == 0:
            msg = f"{what}: empty sample (0 events); DCTR needs events of both classes"
            raise ValueError(msg)
    weight = np.concatenate(
        [
            sample_weight(real, real_weight, n_real, "real_weight"),
            sample_weight(fake, fake_weight, n_fake, "fake_weight"),
        ]
    )
    target = torch.cat([torch.ones(n_real), torch.zeros(n_fake)])
    is_real = np.arange(n_real + n_fake) < n_real
    return Sample(inputs, target, weight, is_real, names, n_features, geometry)
