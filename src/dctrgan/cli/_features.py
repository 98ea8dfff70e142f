"""Feature expressions of the ``--features`` and ``--observables`` options (private).

An expression is a field name, flat (``pt1``, ``MET_pt``) or dotted into a nested
record (``MET.pt``), or a reduction of a jagged collection to one number per event:

=================  ===================================================================
``num(Jet)``       the number of entries (jets) of each event
``sum(Jet.pt)``    their sum (0 for an event without entries)
``max(Jet.pt)``    the largest value (missing for an event without entries)
``min(Jet.pt)``    the smallest value (missing for an event without entries)
``first(Jet.pt)``  the value of the first entry, the leading one where the collection is
                   sorted (missing for an event without entries)
=================  ===================================================================

``--fill-none VALUE`` replaces the missing values. The text of an expression is also
the name of its feature, so the names a fitted :class:`dctrgan.DCTR` saves are the
expressions themselves: the ``weight`` and ``report`` commands parse them again
(:func:`rebuild`) to compute the same features from another file.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Any

import awkward as ak
import click
import numpy as np

__all__ = (
    "FORMS",
    "REDUCTIONS",
    "Expression",
    "feature_spec",
    "non_flat_fields",
    "numeric_fields",
    "parse",
    "rebuild",
    "values",
)

#: The reductions of jagged collections, by name.
REDUCTIONS: dict[str, Callable[[ak.Array], ak.Array]] = {
    "num": lambda x: ak.num(x, axis=1),
    "sum": lambda x: ak.sum(x, axis=1),
    "max": lambda x: ak.max(x, axis=1),
    "min": lambda x: ak.min(x, axis=1),
    "first": lambda x: ak.firsts(x, axis=1),
}
#: The accepted forms, for help texts and error messages.
FORMS = (
    "auto, high_level, or comma-separated names (pt1, MET_pt, MET.pt) and reductions "
    "of a jagged collection: num(Jet), sum(Jet.pt), max(Jet.pt), min(Jet.pt), first(Jet.pt)"
)

_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_PLAIN = re.compile(rf"^{_NAME}$")
_CALL = re.compile(rf"^({'|'.join(REDUCTIONS)})\(\s*({_NAME})\s*\)$")


@dataclasses.dataclass(frozen=True)
class Expression:
    """One feature expression: a field path and an optional reduction.

    Attributes:
        text: the expression in canonical form (``"first(Jet.pt)"``), its feature name.
        path: the field names along the path (``("Jet", "pt")``).
        reduction: ``"num"``, ``"sum"``, ``"max"``, ``"min"``, ``"first"``, or None.
    """

    text: str
    path: tuple[str, ...]
    reduction: str | None = None

    def __call__(self, events: ak.Array) -> ak.Array:
        """``(N,)`` values of the expression, missing (None) where a reduction has no entry.

        Raises:
            ValueError: for a field that is absent, a name that is not one number per
                event, or a reduction of something that is not a collection.
        """
        x = _field(events, self.path, self.text)
        if self.reduction is None:
            if not _is_number(x):
                msg = (
                    f"feature {self.text!r} is not one number per event (type {_type(x)}); "
                    "reduce it, e.g. num(...), sum(...), max(...), min(...), first(...)"
                )
                raise ValueError(msg)
            return x
        if _depth(x) < 2:
            msg = (
                f"feature {self.text!r}: {'.'.join(self.path)!r} is one value per event, "
                "not a collection to reduce"
            )
            raise ValueError(msg)
        if self.reduction != "num" and ak.fields(x):
            msg = (
                f"feature {self.text!r}: {'.'.join(self.path)!r} is a collection of records; "
                f"name one of its fields, e.g. {self.reduction}({'.'.join(self.path)}."
                f"{ak.fields(x)[0]})"
            )
            raise ValueError(msg)
        return REDUCTIONS[self.reduction](x)


def _depth(x: ak.Array) -> int:
    return int(x.layout.purelist_depth)


def _is_number(x: ak.Array) -> bool:
    """One number (or a missing value) per event: not a list, a record or a string."""
    return _depth(x) == 1 and not ak.fields(x) and x.layout.parameter("__array__") is None


def _type(x: ak.Array) -> str:
    text = str(ak.type(x))
    return text if len(text) <= 60 else text[:57] + "..."


def _field(events: ak.Array, path: tuple[str, ...], text: str) -> ak.Array:
    """The array at ``path``; ``MET.pt`` also finds a flat ``MET_pt`` branch."""
    x = events
    for i, name in enumerate(path):
        fields = ak.fields(x)
        if name in fields:
            x = x[name]
            continue
        if "_".join(path) in ak.fields(events):
            return events["_".join(path)]
        where = ".".join(path[:i]) or "the events"
        shown = sorted(fields)[:12]
        more = f" and {len(fields) - len(shown)} more" if len(fields) > len(shown) else ""
        msg = f"feature {text!r}: no field {name!r} in {where} (fields: {shown}{more})"
        raise ValueError(msg)
    return x


def parse(text: str) -> Expression:
    """One expression: ``"pt1"``, ``"MET.pt"``, ``"first(Jet.pt)"``.

    Raises:
        ValueError: for text that is none of the accepted forms.
    """
    item = text.strip()
    match = _CALL.match(item)
    if match is not None:
        reduction, path = match.group(1), match.group(2)
        return Expression(f"{reduction}({path})", tuple(path.split(".")), reduction)
    if _PLAIN.match(item):
        return Expression(item, tuple(item.split(".")))
    msg = f"cannot read {item!r} as a feature; expected {FORMS}"
    raise ValueError(msg)


def _expressions(text: str, option: str) -> list[Expression]:
    items = [t for t in text.split(",") if t.strip()]
    if not items:
        msg = f"expected {FORMS}"
        raise click.BadParameter(msg, param_hint=option)
    try:
        return [parse(t) for t in items]
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint=option) from None


def feature_spec(text: str, option: str = "--features") -> Any:
    """The ``features=`` of :class:`dctrgan.DCTR` for an option's text.

    ``auto`` and ``high_level`` stay strings; names alone stay a list of names (a
    list of observables for showers); with a reduction, every expression becomes a
    callable and the result is a dict ``{expression: callable}``.

    Raises:
        click.BadParameter: naming ``option`` and the accepted forms, for bad syntax.
    """
    text = text.strip()
    if text in ("auto", "high_level"):
        return text
    expressions = _expressions(text, option)
    if all(e.reduction is None for e in expressions):
        return [e.text for e in expressions]
    return {e.text: e for e in expressions}


def rebuild(names: Sequence[str] | None) -> dict[str, Expression] | None:
    """The ``features=`` dict of a model fitted by the CLI on reductions, from its
    feature names; None for a model whose features need no callables."""
    if not names:
        return None
    try:
        expressions = [parse(n) for n in names]
    except ValueError:
        return None
    if all(e.reduction is None for e in expressions):
        return None
    return {e.text: e for e in expressions}


def values(
    events: ak.Array, expressions: Sequence[str], fill_none: float | None
) -> dict[str, np.ndarray]:
    """``{expression: (N,) float64 values}`` of events, missing values filled with ``fill_none``.

    Raises:
        ValueError: for a bad expression, or missing values without ``fill_none``.
    """
    out = {}
    for text in expressions:
        x = parse(text)(events)
        if fill_none is not None:
            x = ak.fill_none(x, fill_none)
        elif ak.any(ak.is_none(x)):
            n = int(ak.sum(ak.is_none(x)))
            msg = f"feature {text!r} is missing in {n} event(s); pass --fill-none VALUE"
            raise ValueError(msg)
        out[text] = np.asarray(ak.to_numpy(x), dtype=np.float64)
    return out


def non_flat_fields(events: Any, prefix: str = "") -> list[str]:
    """Sorted (dotted) names of the fields of awkward records that are not one number per
    event; nested records of numbers (``MET: {pt, phi}``) are flat."""
    if not isinstance(events, ak.Array) or not ak.fields(events) or _depth(events) != 1:
        return []
    out = []
    for name in ak.fields(events):
        x = events[name]
        if ak.fields(x) and _depth(x) == 1:
            out += non_flat_fields(x, f"{prefix}{name}.")
        elif not _is_number(x):
            out.append(f"{prefix}{name}")
    return sorted(out)


def numeric_fields(events: ak.Array, skip: Sequence[str] = (), prefix: str = "") -> list[str]:
    """The (dotted) names of the fields with one number per event and no missing value,
    in order, those in ``skip`` (weights) left out: the observables of generic events."""
    out = []
    for name in ak.fields(events):
        x = events[name]
        if ak.fields(x) and _depth(x) == 1:
            out += numeric_fields(x, skip, f"{prefix}{name}.")
        elif (
            _is_number(x)
            and f"{prefix}{name}" not in skip
            and not ak.any(ak.is_none(x))
            and np.dtype(ak.to_numpy(x[:0]).dtype).kind in "biuf"
        ):
            out.append(f"{prefix}{name}")
    return out
