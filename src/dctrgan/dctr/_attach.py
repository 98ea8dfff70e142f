"""The weight fields :meth:`dctrgan.DCTR.attach` adds to awkward records.

Private helper of :mod:`dctrgan.dctr`: the products with the factors the events carry
already, and the fields added eagerly or lazily (dask-awkward).
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from dctrgan.data import is_dask
from dctrgan.dctr._features import WEIGHT_FIELDS
from dctrgan.dctr._inputs import weight_product
from dctrgan.dctr._replicas import REPLICA_FIELD

__all__ = ("attach_weights", "attached", "check_records")


def check_records(events: Any, field: str) -> None:
    """A TypeError unless ``events`` are awkward (or dask-awkward) records."""
    if not is_dask(events) and (not isinstance(events, ak.Array) or not ak.fields(events)):
        msg = (
            f"attach: needs awkward records to add the field {field!r} to, "
            f"got {type(events).__name__}; use weight() for arrays"
        )
        raise TypeError(msg)


def attach_weights(events: Any, weights: Any, replicas: Any = None, field: str = "weight") -> Any:
    """``events`` with DCTR weights computed elsewhere, attached as :meth:`dctrgan.DCTR.attach`
    attaches its own: in ``field``, multiplied into an existing one, the DCTR factor
    alone beside it in ``dctr_weight`` for ``field="weight"``, the replicas' factors in
    ``dctr_replicas``.

    For weights from an exported model (:mod:`dctrgan.export`), another process or an
    earlier pass over the same events: ``attach_weights(events, *dctr.weight(events,
    replicas=True))`` is ``dctr.attach(events)``.

    Args:
        events: awkward records (in memory).
        weights: ``(N,)`` DCTR weights of the events, in their order.
        replicas: ``(N, k)`` DCTR factors of ``k`` replicas, or ``None``.
        field: the field to put the weights in.

    Returns:
        The events with the fields added (float32).

    Raises:
        TypeError: if ``events`` are not awkward records.
        ValueError: for ``weights`` or ``replicas`` of another length than the events,
            or ``replicas`` that are not two-dimensional.
    """
    check_records(events, field)
    n = len(events)
    w = np.asarray(weights, dtype=np.float32)
    if w.shape != (n,):
        msg = f"attach_weights: weights of shape {w.shape} for {n} events; expected ({n},)"
        raise ValueError(msg)
    r = None if replicas is None else np.asarray(replicas, dtype=np.float32)
    if r is not None and (r.ndim != 2 or len(r) != n):
        msg = f"attach_weights: replicas of shape {r.shape} for {n} events; expected ({n}, k)"
        raise ValueError(msg)
    return attached(events, field, w, r)


def attached(events: Any, field: str, w: Any, replicas: Any = None) -> Any:
    """``events`` with the weights ``w`` in ``field`` (and ``dctr_weight`` for
    ``field="weight"``) and the ``replicas``' factors in ``dctr_replicas``, each
    multiplied into the field of that name the events have (see
    :meth:`dctrgan.DCTR.attach`)."""
    dask = is_dask(events)
    fields = {field: w}
    if field == "weight":
        fields[WEIGHT_FIELDS[1]] = w
    if replicas is not None:
        fields[REPLICA_FIELD] = replicas
        earlier = set(events.fields) & {REPLICA_FIELD, WEIGHT_FIELDS[1]}
        if field == "weight" and earlier == {WEIGHT_FIELDS[1]}:
            # an earlier DCTR factor without replicas: every replica carries it too
            dctr = events[WEIGHT_FIELDS[1]][:, np.newaxis]
            fields[REPLICA_FIELD] = weight_product(replicas, dctr, dask)
    for name in list(fields):
        if name in events.fields:
            fields[name] = weight_product(fields[name], events[name], dask)
    for name, values in fields.items():
        if dask:
            import dask_awkward as dak

            events = dak.with_field(events, values, name)  # type: ignore[attr-defined]
        else:
            events = ak.with_field(events, values, name)
    return events
