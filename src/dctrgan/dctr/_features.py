"""Features of the events a :class:`dctrgan.DCTR` reads: names, callables, the physics sets.

Private helpers of :mod:`dctrgan.dctr`: the ``features=`` specification applied to
the containers a user passes (numpy arrays, torch tensors, awkward records of any
layout, calorimeter showers, air-shower traces, dask-awkward records), giving a
float32 feature matrix and its column names (:func:`extract_features`).

Record fields are named as they are (``"MET_pt"``) or with dots through nested
records (``"MET.pt"`` is ``events["MET", "pt"]``); a field with more than one
number per event (a jet collection) is no feature until a callable reduces it.
Reductions that can be missing (the leading jet of an event without jets) take the
value ``fill_none`` or are an error that says so.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias, cast

import awkward as ak
import numpy as np
import torch

from dctrgan.data import is_cylindrical, is_dask
from dctrgan.dctr._hits import is_showers
from dctrgan.features import (
    HIGH_LEVEL_NAMES,
    HIGH_LEVEL_TRACE_NAMES,
    calochallenge,
    high_level,
    observables,
    trace_high_level,
    trace_observables,
)

__all__ = (
    "WEIGHT_FIELDS",
    "FeatureSpec",
    "dask_error",
    "extract_features",
    "field_of",
    "flat_fields",
    "high_level_names",
    "in_memory",
    "is_traces",
    "names_of",
    "split_fields",
)

FeatureSpec: TypeAlias = (
    str | Sequence[str] | Mapping[str, Callable[[Any], Any]] | Callable[[Any], Any]
)

#: Fields that are weights, never features: the input weight and the DCTR factor in it.
WEIGHT_FIELDS = ("weight", "dctr_weight")

#: Names listed in an error before "... (N in all)", and the characters they may take.
_LISTED, _LISTED_CHARS = 10, 160

_WAYS_OUT = (
    "pass features=[flat or dotted names, e.g. 'MET.pt'], "
    "features={name: callable} (e.g. {'ht': lambda ev: ak.sum(ev.Jet.pt, axis=1)}), "
    "or a callable returning {name: array}"
)


def is_traces(events: Any) -> bool:
    """True for awkward air-shower traces (records with a ``signal`` field, no ``hits``)."""
    return isinstance(events, ak.Array) and "signal" in events.fields and not is_showers(events)


def names_of(spec: FeatureSpec) -> list[str]:
    """The names of a ``features=`` list of names."""
    return [str(n) for n in cast("Sequence[str]", spec)]


def high_level_names(n_columns: int) -> list[str]:
    """Names of the :func:`dctrgan.features.high_level` columns for ``n_columns - 3`` layers."""
    return [*HIGH_LEVEL_NAMES[:3], *(f"energy_layer_{i}" for i in range(1, n_columns - 2))]


def _listed(names: Sequence[str]) -> str:
    """Sorted names, the first few, then how many there are in all."""
    ordered, shown = sorted(names), list[str]()
    for name in ordered[:_LISTED]:
        if shown and sum(len(s) + 4 for s in shown) + len(name) > _LISTED_CHARS:
            break
        shown.append(name)
    more = f", ... ({len(ordered)} in all)" if len(shown) < len(ordered) else ""
    return "[" + ", ".join(repr(s) for s in shown) + more + "]"


def _split_leaves(content: Any, prefix: str = "") -> tuple[list[str], list[str]]:
    """``(flat, other)``: dotted names of the fields of a record type with one number (or
    bool) per event, through nested records, and of the other fields."""
    flat: list[str] = []
    other: list[str] = []
    for name, t in zip(content.fields, content.contents, strict=True):
        dotted = prefix + name
        inner = t.content if isinstance(t, ak.types.OptionType) else t
        if isinstance(inner, ak.types.RecordType) and not inner.is_tuple:
            sub_flat, sub_other = _split_leaves(inner, dotted + ".")
            flat += sub_flat
            other += sub_other
        elif isinstance(inner, ak.types.NumpyType) and inner.primitive not in (
            "datetime64",
            "timedelta64",
        ):
            flat.append(dotted)
        else:
            other.append(dotted)
    return flat, other


def flat_fields(events: Any, what: str) -> list[str]:
    """The feature names ``"auto"`` takes from records: every field with one number per
    event (dotted through nested records), the weight fields left out.

    Raises:
        ValueError: naming (sorted, the first few) the fields that are not flat, and the
            three ways to features of them.
    """
    flat, other = _split_leaves(events.type.content)
    if other:
        msg = (
            f"{what}: features='auto' takes fields with one number per event, not "
            f"{_listed(other)}; "
        )
        raise ValueError(msg + _WAYS_OUT)
    return [f for f in flat if f not in WEIGHT_FIELDS]


def field_of(events: Any, name: str, what: str) -> Any:
    """The field ``name`` of records: the field of that name, else dotted through nested
    records (``"MET.pt"``: ``events["MET", "pt"]``). Works on dask-awkward records too.

    Raises:
        ValueError: for a name that is no field, with a close match where there is one.
    """
    if name in events.fields:
        return events[name]
    node = events
    for part in name.split("."):
        if part not in node.fields:  # the innermost record's fields: "Jet.pt" of jagged jets
            flat, other = _split_leaves(events.type.content)
            close = difflib.get_close_matches(name, flat + other, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            msg = f"{what}: no field(s) [{name!r}] (have {_listed(events.fields)}){hint}"
            raise ValueError(msg)
        node = node[part]
    return node


def _describe(value: Any) -> str:
    """A short description of a value that is not one number per event."""
    if isinstance(value, ak.Array):
        t = value.type.content
        while isinstance(t, ak.types.OptionType):
            t = t.content
        if isinstance(t, ak.types.RecordType):
            return "records"
        if t.parameter("__array__") == "string":
            return "strings"
        text = str(t)
        return text if len(text) <= 60 else text[:57] + "..."
    array = np.asarray(value)
    return f"{array.dtype} {array.shape}"


def _column(
    value: Any, name: str, n: int, what: str, fill_none: float | None, source: str
) -> np.ndarray:
    """``(n,)`` float64 values of one feature: one number (or bool) per event, missing
    ones (``None``, masked) replaced by ``fill_none`` or an error. ``source``:
    ``"field"`` or ``"callable"``, for the messages."""
    label = f"field {name!r}" if source == "field" else f"feature {name!r} (its callable's value)"
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    missing = None
    if isinstance(value, ak.Array):
        if value.ndim != 1 or isinstance(value.type.content, ak.types.RecordType):
            example = f"lambda ev: ak.firsts(ev.{name})" if source == "field" else "a callable"
            msg = (
                f"{what}: {label} has more than one number per event ({_describe(value)}); "
                f"reduce it per event with features={{name: callable}}, e.g. {{'lead': {example}}}"
            )
            raise ValueError(msg)
        if value.type.content.parameter("__array__") == "string":
            msg = f"{what}: {label} holds strings, not numbers"
            raise ValueError(msg)
        if isinstance(value.type.content, ak.types.OptionType):
            missing = np.asarray(ak.to_numpy(ak.is_none(value)), dtype=bool)
            value = ak.fill_none(value, 0)
        value = ak.to_numpy(value)
    if isinstance(value, np.ma.MaskedArray):
        missing = np.ma.getmaskarray(value)
        value = value.filled(0)
    array = np.asarray(value)
    if array.ndim == 2 and array.shape[1] == 1:
        array, missing = array[:, 0], None if missing is None else missing.reshape(-1)
    if array.ndim != 1 or array.dtype.kind not in "biuf" or len(array) != n:
        msg = f"{what}: {label} must be one number per event, ({n},), got {_describe(array)}"
        raise ValueError(msg)
    out = array.astype(np.float64)
    if missing is not None and missing.any():
        if fill_none is None:
            first = int(np.flatnonzero(missing)[0])
            msg = (
                f"{what}: feature {name!r} is missing (None) in {int(missing.sum())} of {n} "
                f"events, first at event {first}; pass fill_none= (a number) to DCTR to "
                "use in their place"
            )
            raise ValueError(msg)
        out[missing] = fill_none
    return out


def _stack(columns: list[np.ndarray], n: int) -> np.ndarray:
    return np.column_stack(columns).astype(np.float32) if columns else np.zeros((n, 0), np.float32)


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


def _from_values(
    values: Mapping[str, Any], n: int, what: str, fill_none: float | None, source: str
) -> tuple[np.ndarray, list[str]]:
    names = [str(k) for k in values]
    columns = [
        _column(v, k, n, what, fill_none, source)
        for k, v in zip(names, values.values(), strict=True)
    ]
    return _finite(_stack(columns, n), names, what), names


def split_fields(events: ak.Array, names: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(fields, observables)``: the names that are fields of showers or traces, and the
    others (their observables)."""
    fields = [n for n in names if n in events.fields]
    return fields, [n for n in names if n not in events.fields]


def _family(events: ak.Array) -> str:
    """``"traces"``, ``"showers"`` (square cells) or ``"cylindrical"`` showers."""
    if is_traces(events):
        return "traces"
    return "cylindrical" if is_cylindrical(events) else "showers"


def _observables(events: ak.Array) -> Mapping[str, np.ndarray]:
    """The observables of showers or traces by name; of showers of a cylindrical
    (CaloChallenge) binning, the challenge's high-level features."""
    family = _family(events)
    if family == "traces":
        return trace_observables(events)
    return calochallenge(events) if family == "cylindrical" else observables(events)


def cylindrical_high_level(events: ak.Array, what: str) -> tuple[np.ndarray, list[str]]:
    """The high-level features of showers of a cylindrical binning: the incident energy
    and the challenge's features (:func:`dctrgan.features.calochallenge`)."""
    table = {"incident_energy": np.asarray(events["incident_energy"]), **calochallenge(events)}
    x = np.column_stack(list(table.values())).astype(np.float32)
    return _finite(x, list(table), what), list(table)


def _physics_columns(
    events: ak.Array, names: list[str], what: str, fill_none: float | None
) -> np.ndarray:
    """Columns of showers or traces by name: their fields, else their observables."""
    fields, wanted = split_fields(events, names)
    table: Mapping[str, np.ndarray] = {}
    if wanted:
        table = _observables(events)
        unknown = [n for n in wanted if n not in table]
        if unknown:
            where = {"traces": "trace_observables", "showers": "observables"}.get(
                _family(events), "calochallenge"
            )
            msg = (
                f"{what}: unknown observable(s) {unknown}, and no such field(s) "
                f"(see dctrgan.features.{where})"
            )
            raise ValueError(msg)
    columns = [
        _column(events[n], n, len(events), what, fill_none, "field") if n in fields else table[n]
        for n in names
    ]
    return _stack(columns, len(events))


def extract_features(
    events: Any, spec: FeatureSpec, what: str, fill_none: float | None = None
) -> tuple[np.ndarray, list[str] | None]:
    """Feature matrix and column names of ``events`` for a ``features=`` specification.

    ``"auto"``: the 33 high-level features for showers, the
    :data:`~dctrgan.features.HIGH_LEVEL_TRACE_NAMES` for traces, the fields of awkward
    records with one number per event (all but the weights; an error naming the
    others if there are any), the columns of a 2D numpy array or torch tensor (a 1D
    array is one feature). ``"high_level"``: showers, traces, or the precomputed
    ``(N, 3 + layers)`` array of :func:`dctrgan.features.high_level`. A list of
    names: fields of records (dotted through nested records), or observables of
    showers and traces. A mapping ``{name: f}``: ``f(events)`` is one number per
    event. A callable: ``f(events)`` returning a ``(N, d)`` array or a
    ``{name: (N,) array}`` mapping.

    Args:
        events: the events (in memory: see :func:`in_memory` for dask-awkward).
        spec: the ``features=`` specification.
        what: name of the argument, for error messages.
        fill_none: the value of missing (``None``) feature values; ``None``: an error.

    Returns:
        ``(X, names)``: ``X`` ``(N, d)`` float32, ``names`` a list or ``None``.

    Raises:
        ValueError: for inputs the specification cannot apply to, named.
        TypeError: for dask-awkward events.
    """
    if is_dask(events):
        raise dask_error(what, "these features")
    if isinstance(spec, Mapping):
        n = len(events)
        return _from_values({k: f(events) for k, f in spec.items()}, n, what, fill_none, "callable")
    if callable(spec):
        out = spec(events)
        if isinstance(out, Mapping):
            return _from_values(out, len(events), what, fill_none, "callable")
        if isinstance(out, ak.Array) and out.ndim == 1:
            column = _column(out, "0", len(events), what, fill_none, "callable")
            return _finite(_stack([column], len(events)), None, what), None
        return _finite(_float32(_columns_of_array(out, what)), None, what), None
    if isinstance(spec, str) and spec not in ("auto", "high_level"):
        msg = (
            "features: expected 'auto', 'high_level', a list of names, a {name: callable} "
            f"mapping or a callable, got {spec!r}"
        )
        raise ValueError(msg)
    if isinstance(spec, str):
        return _named_set(events, spec, what, fill_none)
    names = names_of(spec)
    if is_showers(events) or is_traces(events):
        x = _physics_columns(events, names, what, fill_none)
    elif isinstance(events, ak.Array):
        n = len(events)
        columns = [
            _column(field_of(events, f, what), f, n, what, fill_none, "field") for f in names
        ]
        x = _stack(columns, n)
    else:
        msg = (
            f"{what}: features given as names need awkward records or showers (or traces), "
            f"got {type(events).__name__}"
        )
        raise ValueError(msg)
    return _finite(x, names, what), names


def _named_set(
    events: Any, spec: str, what: str, fill_none: float | None
) -> tuple[np.ndarray, list[str] | None]:
    """The features of ``"auto"`` and ``"high_level"``."""
    if is_cylindrical(events):
        return cylindrical_high_level(events, what)
    if is_showers(events):
        x = high_level(events)
        return _finite(x, high_level_names(x.shape[1]), what), high_level_names(x.shape[1])
    if is_traces(events):
        return _finite(trace_high_level(events), list(HIGH_LEVEL_TRACE_NAMES), what), list(
            HIGH_LEVEL_TRACE_NAMES
        )
    if spec == "high_level" and isinstance(events, np.ndarray | torch.Tensor):
        # precomputed dctrgan.features.high_level(showers): (N, 3 + layers)
        x = _columns_of_array(events, what)
        if x.shape[1] < 4:
            msg = (
                f"{what}: features='high_level' needs the (N, 3 + layers) "
                f"columns of dctrgan.features.high_level, got {x.shape[1]} column(s)"
            )
            raise ValueError(msg)
        names = high_level_names(x.shape[1])
        return _finite(_float32(x), names, what), names
    if spec == "high_level":
        kind = _listed(events.fields) if isinstance(events, ak.Array) else type(events).__name__
        msg = (
            f"{what}: features='high_level' needs awkward showers (a 'hits' field) or "
            f"traces (a 'signal' field), got {kind}"
        )
        raise ValueError(msg)
    if isinstance(events, ak.Array):
        if not events.fields:
            x = _columns_of_array(ak.to_numpy(events), what)
            return _finite(_float32(x), None, what), None
        names = flat_fields(events, what)
        n = len(events)
        columns = [
            _column(field_of(events, f, what), f, n, what, fill_none, "field") for f in names
        ]
        return _finite(_stack(columns, n), names, what), names
    x = _columns_of_array(events, what)
    return _finite(_float32(x), None, what), None


def _float32(x: np.ndarray) -> np.ndarray:
    """``x`` as float32: itself if it is float32 and writable (torch takes it without a
    copy), else a copy."""
    return x if x.dtype == np.float32 and x.flags.writeable else x.astype(np.float32)


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


def dask_error(what: str, which: str) -> TypeError:
    """The error of :meth:`dctrgan.DCTR.fit` for dask-awkward events it does not compute."""
    return TypeError(
        f"{what}: DCTR.fit reads dask-awkward events for feature names or a "
        f"{{name: callable}} mapping on records, not for {which}; fit on an in-memory sample: "
        "events.compute() or a subsample events[:n].compute(); weight() and attach() stay lazy"
    )


def in_memory(events: Any, spec: FeatureSpec, what: str) -> tuple[Any, FeatureSpec]:
    """Dask-awkward records given to :meth:`dctrgan.DCTR.fit` as in-memory records of
    the feature columns alone (and the weight fields), and the specification that
    reads them; other events as they are.

    Only the columns are computed (one ``dask.compute``): the fields of feature names
    (``"auto"``: every flat field), or the values of a ``{name: callable}`` mapping,
    which dask-awkward evaluates lazily (``ak.sum`` of a dask-awkward array is lazy).

    Raises:
        TypeError: for dask-awkward showers or traces, a single callable, or
            ``"high_level"``, saying what to do instead.
        ValueError: as :func:`flat_fields` and :func:`field_of`.
    """
    if not is_dask(events):
        return events, spec
    import dask.base

    fields = list(events.fields)
    if "hits" in fields or "signal" in fields:
        raise dask_error(what, "the features of showers and traces")
    if isinstance(spec, Mapping):
        lazy = {str(k): f(events) for k, f in spec.items()}
    elif callable(spec) or (isinstance(spec, str) and spec != "auto"):
        raise dask_error(what, "features=" + ("a callable" if callable(spec) else repr(spec)))
    else:
        names = flat_fields(events, what) if isinstance(spec, str) else names_of(spec)
        lazy = {n: field_of(events, n, what) for n in names}
    weights = {f: events[f] for f in WEIGHT_FIELDS if f in fields}
    columns, weight_columns = dask.base.compute(lazy, weights)  # type: ignore[no-untyped-call]
    record = ak.zip({**columns, **weight_columns}, depth_limit=1)
    return record, list(columns)
