"""Inputs of :class:`dctrgan.DCTR`: samples, events to weight, sample weights, scores.

Private helpers of :mod:`dctrgan.dctr`: turning the containers a user passes
(numpy arrays, torch tensors, awkward records, showers, traces, dask-awkward
records) into float32 feature matrices (:mod:`._features`) or flat hit tables
(:mod:`._hits`): the sample of a fit (:func:`training_sample`), the inputs of events
to weight, checked against the fitted model (:func:`prediction_inputs`); the sample
weights, and the weighted AUC of the diagnostics.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import awkward as ak
import numpy as np
import numpy.typing as npt
import torch

from dctrgan.data import Geometry, is_dask
from dctrgan.dctr._features import (
    WEIGHT_FIELDS,
    FeatureSpec,
    dask_error,
    extract_features,
    field_of,
    in_memory,
    is_traces,
    names_of,
    split_fields,
)
from dctrgan.dctr._hits import HitInputs, HitTable, is_showers
from dctrgan.io.branches import DEFAULT_BRANCHES, from_branches

__all__ = (
    "SHOWER_BRANCHES",
    "Container",
    "Sample",
    "as_container",
    "check_functions",
    "container_of",
    "given_features",
    "is_shower_branches",
    "prediction_inputs",
    "sample_weight",
    "saved_features",
    "take",
    "touch_weight_inputs",
    "training_sample",
    "weight_inputs",
    "weight_meta",
    "weight_product",
    "weighted_auc",
)

log = logging.getLogger(__name__)

Container = Literal["numpy", "torch", "awkward"]

#: The saved ``features=`` of a function and of a ``{name: function}`` mapping: code is
#: not saved, the feature names are (``DCTR.feature_names``).
CALLABLE, CALLABLES = "callable", "callables"


def saved_features(features: FeatureSpec) -> str | tuple[str, ...]:
    """The ``features=`` specification as the config saves it: ``"callable"`` for a
    function, ``"callables"`` for a ``{name: function}`` mapping (the functions are not
    saved, the names are the model's feature names)."""
    if isinstance(features, Mapping):
        return CALLABLES
    if callable(features):
        return CALLABLE
    return features if isinstance(features, str) else tuple(str(f) for f in features)


def given_features(saved: str | tuple[str, ...]) -> FeatureSpec:
    """The ``features=`` specification of a saved one (:func:`saved_features`)."""
    return list(saved) if isinstance(saved, tuple) else saved


def weight_meta() -> ak.Array:
    """A typetracer of float32 weights of unknown length (the meta of lazy weights)."""
    empty = ak.Array(np.zeros(0, dtype=np.float32))
    return ak.Array(empty.layout.to_typetracer(forget_length=True))


def take(events: Any, mask: np.ndarray) -> Any:
    """The events selected by a boolean mask, for any supported container."""
    if isinstance(events, torch.Tensor):
        return events[torch.from_numpy(mask).to(events.device)]
    if isinstance(events, ak.Array):
        return events[mask]
    return np.asarray(events)[mask]


def container_of(events: Any) -> Container:
    """The kind of container ``events`` is, for returning weights of the same kind."""
    if isinstance(events, ak.Array) or is_dask(events):
        return "awkward"
    if isinstance(events, torch.Tensor):
        return "torch"
    return "numpy"


def as_container(weights: np.ndarray, kind: Container, like: Any = None) -> Any:
    """``(N,)`` weights as float32 in a numpy array, an awkward array or a torch tensor
    (on the device of ``like``)."""
    weights = np.asarray(weights, dtype=np.float32)
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


def _reads_any_field(features: FeatureSpec) -> bool:
    return isinstance(features, Mapping) or callable(features)


def weight_inputs(events: Any, features: FeatureSpec, geometry: Geometry | None) -> Any:
    """The events as the weights read them.

    Records of the shower branches (coffea NanoEvents read with ``BaseSchema`` from
    a file :func:`dctrgan.io.write` wrote) become showers; showers keep only
    ``incident_energy`` and ``hits`` and traces only ``signal`` (with the fields
    named in ``features``) unless the features are callables, which may read any
    field, so that other fields are never touched: in a column-projected dask
    partition they are not even read.

    Args:
        events: the events given to :meth:`dctrgan.DCTR.weight`.
        features: the ``features=`` specification.
        geometry: the calorimeter of shower branches (default: ILD-like).
    """
    if is_shower_branches(events):
        return from_branches(events[list(SHOWER_BRANCHES)], "showers", geometry=geometry)
    if _reads_any_field(features):
        return events
    if is_showers(events):
        return events[["incident_energy", "hits"]]
    if is_traces(events):
        named = [] if isinstance(features, str) else split_fields(events, names_of(features))[0]
        return events[["signal", *(f for f in named if f != "signal")]]
    return events


def touch_weight_inputs(
    events: ak.Array, model: str, features: FeatureSpec, feature_names: list[str] | None
) -> None:
    """Touch, on a typetracer (dask-awkward's column optimization), the fields the weights
    of ``events`` read: every field for callables, the features' fields of records
    (dotted names through nested records), the named fields and the signal of traces,
    those of :func:`weight_inputs` for showers.

    Args:
        events: a typetracer of the events given to :meth:`dctrgan.DCTR.weight`.
        model: the model kind.
        features: the ``features=`` specification.
        feature_names: the names of the fitted features, where known.
    """
    if _reads_any_field(features):
        ak.typetracer.touch_data(events)  # a callable may read any field
        return
    names: list[str] | None = None  # None: those of weight_inputs
    showers = is_showers(events) or is_shower_branches(events)
    if model == "mlp" and not showers:
        if isinstance(features, str):
            names = None if feature_names is None or is_traces(events) else list(feature_names)
        else:
            names = names_of(features)
    if is_traces(events):
        fields, observables = split_fields(events, names or [])
        parts = [events[f] for f in fields]
        if observables or names is None:
            parts.append(events["signal"])
    elif names is not None:
        parts = [field_of(events, n, "events") for n in names]
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
    fill_none: float | None = None,
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
        fill_none: the value of missing feature values (``None``: an error).

    Raises:
        ValueError: for non-finite features, or features that do not match the fitted ones.
    """
    what = "events"
    events = weight_inputs(events, features, geometry)
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
        and not (is_showers(events) or is_traces(events))
    ):
        features = feature_names  # select the fitted fields; others (weight) are ignored
    x, names = extract_features(events, features, what, fill_none)
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
    return rows_of(torch.from_numpy(x)), len(x)


def rows_of(matrix: torch.Tensor) -> Callable[[np.ndarray], torch.Tensor]:
    """The rows ``i`` of ``matrix``: a view for a run of consecutive rows (the batches of
    prediction), a copy otherwise (the shuffled batches of training)."""

    def rows(i: np.ndarray) -> torch.Tensor:
        if len(i) > 1 and i[-1] - i[0] == len(i) - 1 and bool((np.diff(i) == 1).all()):
            return matrix[int(i[0]) : int(i[-1]) + 1]
        return torch.index_select(matrix, 0, torch.from_numpy(i))  # 2x faster than [i]

    return rows


def _refit_error(label: str) -> ValueError:
    return ValueError(
        f"{label}: field 'dctr_weight' says these events already carry DCTR weights, "
        "multiplied into 'weight'; fitting on 'weight' again would give weights ~ 1. Pass "
        f"{label}_weight=events['weight'] / events['dctr_weight'] to fit on the input "
        f"weights, or {label}_weight=events['weight'] to refine the weighting on purpose."
    )


def sample_weight(events: Any, given: Any, n: int, what: str) -> np.ndarray:
    """``(n,)`` float64 sample weights: ``given``, else the events' ``weight`` field, else ones.

    Weights may be negative or zero (NLO generators give 10-30 % negative weights):
    every event is kept, and the sample stands for the signed density ``sum w
    delta(x - x_i)``. The sample as a whole must have a positive total.

    Args:
        events: the events.
        given: the weights given (``None``: the events' ``weight`` field, else ones).
        n: the number of events.
        what: the argument that gives the weights, ``"real_weight"`` or ``"fake_weight"``.

    Raises:
        ValueError: for a wrong length, non-finite (NaN, inf) weights, weights that
            are all <= 0 or sum to <= 0, or events whose ``weight`` holds DCTR weights
            already (a ``dctr_weight`` field, written by :meth:`dctrgan.DCTR.attach`)
            and no ``given`` weights.
    """
    fields = events.fields if isinstance(events, ak.Array) else []
    if given is None and WEIGHT_FIELDS[1] in fields:
        raise _refit_error(what.removesuffix("_weight"))
    if given is None and "weight" in fields:
        given, what = events["weight"], f"{what} (the events' 'weight' field)"
    if given is None:
        return np.ones(n)
    if isinstance(given, torch.Tensor):
        given = given.detach().cpu().numpy()
    w = np.asarray(ak.to_numpy(given) if isinstance(given, ak.Array) else given, dtype=np.float64)
    if w.shape != (n,):
        msg = f"{what}: expected shape ({n},) (one weight per event), got {w.shape}"
        raise ValueError(msg)
    bad = ~np.isfinite(w)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        msg = f"{what}: {int(bad.sum())} weight(s) not finite, first {w[first]} at event {first}"
        raise ValueError(msg)
    negative = int(np.count_nonzero(w < 0))
    if not (w > 0).any():
        kind = "all-negative input weights" if negative == n else "no positive weight"
        msg = f"{what}: {kind}: all {n} weights are <= 0 ({negative} negative); nothing to fit"
        raise ValueError(msg)
    if not w.sum() > 0:
        msg = (
            f"{what}: the weights sum to {w.sum():.6g} <= 0 ({negative} of {n} negative): "
            "the sample has no positive total to reweight"
        )
        raise ValueError(msg)
    if negative:
        log.info("%s: %d of %d weights negative (%.3g%%)", what, negative, n, 100 * negative / n)
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
        weight: ``(N,)`` float64 sample weights as given (finite, any sign).
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
    fill_none: float | None = None,
) -> Sample:
    """The events given to :meth:`dctrgan.DCTR.fit`, checked, as one sample: the
    features of ``"mlp"``, or the hits of the low-level models.

    Dask-awkward records are computed to their feature columns (:func:`in_memory`).

    Raises:
        ValueError: for empty samples, non-finite or missing features, features or
            geometries that differ between the samples, no features, or bad sample
            weights (also events that carry DCTR weights, :func:`sample_weight`).
        TypeError: for dask-awkward events whose features are not computed here.
    """
    for events, given, what in ((real, real_weight, "real"), (fake, fake_weight, "fake")):
        records = is_dask(events) or isinstance(events, ak.Array)
        if given is None and records and WEIGHT_FIELDS[1] in events.fields:
            raise _refit_error(what)  # before any computing
    names, n_features, geometry = None, 0, None
    if model == "mlp":
        real, spec_real = in_memory(real, features, "real")
        fake, spec_fake = in_memory(fake, features, "fake")
        xr, names = extract_features(real, spec_real, "real", fill_none)
        xf, names_fake = extract_features(fake, spec_fake, "fake", fill_none)
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
        inputs: Callable[[np.ndarray], Any] = rows_of(x)
    else:
        for events, what in ((real, "real"), (fake, "fake")):
            if is_dask(events):
                raise dask_error(what, f"the hits of model={model!r}")
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


def weight_product(w: Any, existing: Any, dask: bool) -> Any:
    """``w * existing`` as float32, computed in float64 (exact for float32 factors)."""
    if dask:
        import dask_awkward as dak

        return dak.values_astype(w * existing, np.float32)  # type: ignore[attr-defined]
    a = np.asarray(ak.to_numpy(w), dtype=np.float64)
    b = np.asarray(ak.to_numpy(existing), dtype=np.float64)
    return ak.Array((a * b).astype(np.float32))


def check_functions(path: Path, saved: Any, given: Any, names: Any) -> None:
    """A model fitted with feature functions needs them again, with the fitted names."""
    if saved == CALLABLE and not callable(given):
        msg = (
            f"DCTR.load: {str(path)!r} was fitted with a features function; "
            "pass it again as DCTR.load(path, features=f)"
        )
        raise ValueError(msg)
    if saved == CALLABLES and not isinstance(given, Mapping):
        msg = (
            f"DCTR.load: {str(path)!r} was fitted with features={{name: function}} for "
            f"{names}; pass the mapping again as DCTR.load(path, features={{...}})"
        )
        raise ValueError(msg)
    if saved == CALLABLES and isinstance(given, Mapping) and list(given) != names:
        msg = (
            f"DCTR.load: features: {str(path)!r} was fitted on the features {names}, "
            f"got a mapping of {list(given)}"
        )
        raise ValueError(msg)
