"""Generic events: the branch layout of TTrees, both ways (private).

Reading (:func:`tree_layout`, :func:`assemble`): a jagged branch ``P_f`` whose counter
is ``nP`` or ``NP`` is field ``f`` of the collection ``P: var * {f, ...}`` (NanoAOD's
``nJet`` + ``Jet_pt``, HZZ's ``NJet`` + ``Jet_Px``); the counter is not a field (it is
``ak.num(events.P)``). A branch ``A.b`` is field ``b`` of the record ``A``. Any other
branch is a field of its own name. Writing (:func:`tree_columns`, :func:`tree_data`) is
the inverse: a field ``var * {f, ...}`` becomes ``nP`` + ``P_f``, ``var * number``
becomes ``nx`` + ``x``, a record ``A: {b}`` becomes ``A.b``.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import awkward as ak
import numpy as np
from awkward.typetracer import unknown_length

from dctrgan.data import behavior, short_type
from dctrgan.io._open import BranchInfo

__all__ = (
    "Collection",
    "Column",
    "Node",
    "assemble",
    "branch_view",
    "finish",
    "select",
    "tree_columns",
    "tree_data",
    "tree_layout",
)

_SUPPORTED = (
    "numbers, fixed-size arrays of numbers, var * number, var * {numbers} (a collection) "
    "and records of numbers"
)


@dataclasses.dataclass(frozen=True)
class Collection:
    """Jagged branches sharing a counter, zipped into ``var * {field: ...}``."""

    members: tuple[tuple[str, str], ...]  # (field, branch)


#: A field of generic events: a branch name, a collection, or a record of fields.
Node: TypeAlias = "str | Collection | dict[str, Node]"


def select(
    patterns: Sequence[str], infos: Sequence[BranchInfo], where: str, what: str = "branch"
) -> list[str]:
    """Names matching ``patterns`` (names or globs), in file order; missing or non-numeric
    ones asked for are an error."""
    names = [i.name for i in infos]
    chosen: set[str] = set()
    missing = []
    for item in patterns:
        pattern: object = item  # not trusted: callers may be untyped
        if not isinstance(pattern, str) or not pattern:
            msg = f"branches=: expected branch names or patterns, got {pattern!r}"
            raise TypeError(msg)
        found = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not found:
            missing.append(pattern)
        chosen.update(found)
    if missing:
        shown = ", ".join(names[:40]) + (f", ... ({len(names)} in all)" if len(names) > 40 else "")
        msg = f"{where}: no {what} {', '.join(map(repr, missing))}; available: {shown or 'none'}"
        raise ValueError(msg)
    bad = [i for i in infos if i.name in chosen and not i.numeric]
    if bad:
        msg = (
            f"{where}: {what} {bad[0].name!r} holds {bad[0].typename}, not numbers; "
            "generic events hold numeric branches only"
        )
        raise ValueError(msg)
    return [n for n in names if n in chosen]


def _collection_of(info: BranchInfo) -> tuple[str, str] | None:
    """``(collection, field)`` of a jagged branch ``P_f`` counted by ``nP`` / ``NP``."""
    counter = info.counter
    if counter is None or len(counter) < 2 or counter[0] not in "nN":
        return None
    prefix = counter[1:] + "_"
    if info.name.startswith(prefix) and len(info.name) > len(prefix):
        return counter[1:], info.name[len(prefix) :]
    return None


def tree_layout(infos: Sequence[BranchInfo], columns: Sequence[str]) -> dict[str, Node]:
    """How the branches ``columns`` of a TTree become fields (see the module docstring)."""
    by_name = {i.name: i for i in infos}
    names = set(columns)
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in columns:
        found = _collection_of(by_name[name])
        if found is not None:
            groups.setdefault(found[0], []).append((found[1], name))
    clash = {p for p in groups if p in names or any(n.startswith(p + ".") for n in names)}
    member = {b: p for p, ms in groups.items() if p not in clash for _, b in ms}
    layout: dict[str, Node] = {}
    for name in columns:
        prefix = member.get(name)
        if prefix is not None:
            if prefix not in layout:
                layout[prefix] = Collection(tuple(groups[prefix]))
            continue
        parts = name.split(".")
        if len(parts) == 1 or "" in parts or not _insert(layout, parts, name):
            layout[name] = name
    return layout


def _insert(layout: dict[str, Node], parts: list[str], name: str) -> bool:
    """Put branch ``name`` at ``parts`` in nested records; False where a field is in the way."""
    node: dict[str, Node] = layout
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return False
        node = child
    if parts[-1] in node:
        return False
    node[parts[-1]] = name
    return True


def _jagged(array: Any) -> Any:
    layout = ak.to_layout(array)
    if layout.is_indexed and not layout.is_option:
        layout = layout.project()
    if layout.backend.name == "typetracer" and isinstance(layout, ak.contents.ListOffsetArray):
        # uproot's offsets start at 0; normalizing here would mark them as needed, and
        # dask would read every branch of the collection for any one of its fields
        return layout
    return layout.to_ListOffsetArray64(True)


def _record(children: Mapping[str, Any], length: Any) -> Any:
    # the length is given, not taken from the contents, which would mark every branch as
    # needed in dask's column optimization
    return ak.contents.RecordArray(list(children.values()), list(children), length=length)


def _build(node: Node, arrays: Mapping[str, Any], length: Any) -> Any:
    if isinstance(node, str):
        return ak.to_layout(arrays[node])
    if isinstance(node, Collection):
        lists = [_jagged(arrays[b]) for _, b in node.members]
        contents = {f: x.content for (f, _), x in zip(node.members, lists, strict=True)}
        typetracer = lists[0].backend.name == "typetracer"
        record = _record(contents, unknown_length if typetracer else lists[0].content.length)
        return ak.contents.ListOffsetArray(lists[0].offsets, record)
    return _record({k: _build(v, arrays, length) for k, v in node.items()}, length)


def assemble(arrays: Mapping[str, Any], layout: Mapping[str, Node], length: Any = None) -> ak.Array:
    """Generic events from branch arrays (also on typetracers, for dask).

    Args:
        arrays: branch name -> array, one entry per event.
        layout: the fields (:func:`tree_layout`).
        length: the number of events (default: that of the first array).
    """
    if length is None:
        length = len(next(iter(arrays.values())))
    return ak.Array(_build(dict(layout), arrays, length), behavior=behavior)


def finish(events: ak.Array, where: str) -> ak.Array:
    """Generic events with a float32 ``weight`` (checked to be one finite number per event)."""
    if "weight" not in ak.fields(events):
        return events
    weight = events["weight"]
    try:
        values = np.asarray(ak.to_numpy(weight, allow_missing=False))
    except (TypeError, ValueError):
        values = np.zeros((0, 0))
    if values.ndim != 1 or values.dtype.kind not in "biuf":
        msg = f"{where}: branch 'weight' must hold one number per event, got {short_type(weight)}"
        raise ValueError(msg)
    bad = ~np.isfinite(values.astype(np.float64))
    if bad.any():
        msg = (
            f"{where}: field 'weight': {int(bad.sum())} non-finite value(s), first at index "
            f"{int(np.flatnonzero(bad)[0])} (branch 'weight')"
        )
        raise ValueError(msg)
    if values.dtype == np.float32:
        return events
    return ak.Array(ak.with_field(events, values.astype(np.float32), "weight"), behavior=behavior)


def branch_view(events: ak.Array) -> tuple[dict[str, Any], dict[str, str]]:
    """The branches the TTree layout gives ``events`` (RNTuple fields seen as TTree branches).

    Returns:
        branch name -> array, and branch name -> the top-level field it comes from.
    """
    view: dict[str, Any] = {}
    owner: dict[str, str] = {}
    record = ak.type(events).content
    for name, item in zip(record.fields, record.contents, strict=True):
        column = events[name]
        if isinstance(item, ak.types.ListType) and isinstance(item.content, ak.types.RecordType):
            view[f"n{name}"] = ak.num(column, axis=1)
            for sub in item.content.fields:
                view[f"{name}_{sub}"] = column[sub]
            owner |= {f"n{name}": name} | {f"{name}_{s}": name for s in item.content.fields}
        elif isinstance(item, ak.types.ListType):
            view[f"n{name}"], view[name] = ak.num(column, axis=1), column
            owner |= {f"n{name}": name, name: name}
        elif isinstance(item, ak.types.RecordType):
            inner, _ = branch_view(column)
            view |= {f"{name}.{k}": v for k, v in inner.items()}
            owner |= {f"{name}.{k}": name for k in inner}
        else:
            view[name], owner[name] = column, name
    return view, owner


@dataclasses.dataclass(frozen=True)
class Column:
    """A field of generic events as written: where it is, and its branch type for mktree."""

    path: tuple[str, ...]
    branch: str
    type: Any


def _dtype(item: Any) -> np.dtype[Any]:
    dtype: np.dtype[Any] = ak.types.numpytype.primitive_to_dtype(item.primitive)
    return dtype


def _regular(item: Any) -> tuple[np.dtype[Any], tuple[int, ...]] | None:
    shape: list[int] = []
    while isinstance(item, ak.types.RegularType):
        shape.append(item.size)
        item = item.content
    if isinstance(item, ak.types.NumpyType) and not item.parameters:
        return _dtype(item), tuple(shape)
    return None


def _unsupported(name: str, item: Any) -> ValueError:
    text = " ".join(str(item).split())
    text = text if len(text) <= 80 else text[:77] + "..."
    msg = (
        f"field {name!r} cannot be written as a TTree branch: type {text}; TTree branches hold "
        f"{_SUPPORTED} (write(..., rntuple=True) stores any nesting)"
    )
    return ValueError(msg)


def _columns(path: tuple[str, ...], item: Any, out: list[Column]) -> None:
    name = ".".join(path)
    if "" in path or any(c in p for p in path for c in "./;"):
        msg = (
            f"field {name!r} cannot be written: field names must not be empty or hold '.', '/', ';'"
        )
        raise ValueError(msg)
    regular = _regular(item)
    if regular is not None:
        dtype, shape = regular
        if path == ("weight",):
            if shape:
                raise _unsupported(name, item)
            dtype = np.dtype(np.float32)
        out.append(Column(path, name, np.dtype((dtype, shape)) if shape else dtype))
    elif isinstance(item, ak.types.RecordType) and not item.is_tuple and item.fields:
        for field, content in zip(item.fields, item.contents, strict=True):
            _columns((*path, field), content, out)
    elif isinstance(item, ak.types.ListType) and len(path) == 1:
        content = item.content
        if isinstance(content, ak.types.NumpyType) and not content.parameters:
            out.append(Column(path, name, ak.types.ListType(ak.types.NumpyType(content.primitive))))
            return
        record = isinstance(content, ak.types.RecordType) and not content.is_tuple
        if not record or not content.fields:
            raise _unsupported(name, item)
        for field, sub in zip(content.fields, content.contents, strict=True):
            if not isinstance(sub, ak.types.NumpyType) or sub.parameters or not field:
                where = f"{name}.{field}"
                raise _unsupported(where, sub)
            if any(c in field for c in "./;"):
                msg = f"field '{name}.{field}' cannot be written: names must not hold '.', '/', ';'"
                raise ValueError(msg)
        fields = [ak.types.NumpyType(s.primitive) for s in content.contents]
        out.append(
            Column(path, name, ak.types.ListType(ak.types.RecordType(fields, content.fields)))
        )
    else:
        raise _unsupported(name, item)


def tree_columns(events: ak.Array) -> list[Column]:
    """The branches of generic events, checked to be writable with unique names."""
    record = ak.type(events).content
    out: list[Column] = []
    for name, item in zip(record.fields, record.contents, strict=True):
        _columns((name,), item, out)
    made: dict[str, str] = {}
    for column in out:
        names = [column.branch]
        if isinstance(column.type, ak.types.ListType):
            names = [f"n{column.branch}"]
            content = column.type.content
            if isinstance(content, ak.types.RecordType):
                names += [f"{column.branch}_{f}" for f in content.fields]
            else:
                names.append(column.branch)
        for branch in names:
            if branch in made:
                msg = (
                    f"fields {made[branch]!r} and {column.branch!r} would both write the "
                    f"branch {branch!r}; rename one"
                )
                raise ValueError(msg)
            made[branch] = column.branch
    return out


def tree_data(chunk: ak.Array, columns: Sequence[Column]) -> dict[str, Any]:
    """Arrays for ``extend`` of one chunk of generic events."""
    out: dict[str, Any] = {}
    for column in columns:
        values = chunk[column.path]
        if isinstance(column.type, ak.types.ListType):
            out[column.branch] = ak.to_packed(ak.without_parameters(values))
        else:
            dtype = column.type.base if column.type.shape else column.type
            out[column.branch] = np.asarray(ak.to_numpy(values, allow_missing=False), dtype)
    return out
