"""dask-awkward reading behind :func:`dctrgan.io.read` (private).

:func:`read` builds the array with ``uproot.dask`` and a *form mapping*: uproot
asks the mapping for the form of the events (the package schema, as the eager
read gives it) and, when a partition is computed, for the buffers of the fields
that dask-awkward's column optimization found necessary. Each top-level field is
made from its own branches (:func:`dctrgan.io.branches.field_branches`), so a
computation that touches ``incident_energy`` only reads that branch, and one that
touches a hit field reads the hit branches. The conversion and its checks are
those of the eager read, field by field (:func:`dctrgan.io.branches.field_values`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Mapping
from typing import Any

import awkward as ak
import numpy as np
import uproot

from dctrgan.data import Geometry, behavior
from dctrgan.io._generic import Node, assemble
from dctrgan.io._plan import Files, Plan, attach, friend_reader, guard, steps
from dctrgan.io.branches import field_branches, field_values, from_branches

__all__ = ("Generic", "SchemaMapping", "read")

_BUFFER_KEY = "{form_key}-{attribute}"


def _require_dask() -> None:
    """An ImportError with the install hint if dask-awkward is missing."""
    try:
        import dask_awkward  # noqa: F401
    except ImportError as err:  # pragma: no cover - the dask extra is installed in the tests
        msg = 'dask=True needs dask-awkward: pip install "dctrgan[dask]"'
        raise ImportError(msg) from err


def _tree_key(path: str, tree: str) -> tuple[str, str]:
    """A file and tree as the same key, however the path and the cycle are spelt."""
    return os.path.realpath(path), tree.lstrip("/").split(";")[0]


class SchemaMapping:
    """An uproot form mapping from the branches of a plan to events of the package schema.

    ``uproot.dask`` calls it with the form of the branches; it returns the form of
    the events and a :class:`_MappingInfo` that converts branches to event buffers.
    """

    def __init__(self, plan: Plan, friend: Files | None, geometry: Geometry | None) -> None:
        assert plan.mapping is not None
        self.plan = plan
        self.friend = friend
        self.geometry = geometry

    def __call__(self, form: ak.forms.Form) -> tuple[ak.forms.Form, _MappingInfo]:
        plan = self.plan
        assert plan.mapping is not None
        # the form of an eager read of no event: the same code gives the same type
        empty = ak.Array(form.length_zero_array())
        events = from_branches(
            empty, plan.kind, plan.mapping, extra=plan.extra, geometry=self.geometry
        )
        if self.friend is not None:
            events = attach(events, np.zeros(0, np.float32))
        expected = ak.forms.form_with_unique_keys(events.layout.form, ("<root>",))
        own_weight = plan.mapping.weight in plan.columns
        branches = field_branches(plan.mapping, plan.extra, weight=own_weight)
        if self.friend is not None and not own_weight:
            branches["weight"] = ()  # the friend's only: read with every partition
        info = _MappingInfo(plan, self.friend, self.geometry, expected, branches)
        return expected, info


def _form_keys(form: ak.forms.Form) -> list[str]:
    """Form keys of ``form`` and of every form below it."""
    keys = [form.form_key]
    if isinstance(form, ak.forms.RecordForm):
        for content in form.contents:
            keys += _form_keys(content)
    elif hasattr(form, "content"):
        keys += _form_keys(form.content)
    return keys


class _MappingInfo:
    """What uproot's reader needs of a form mapping: buffer keys, the branches they are
    made from, and the loading of the buffers of a partition."""

    buffer_key = _BUFFER_KEY

    def __init__(
        self,
        plan: Plan,
        friend: Files | None,
        geometry: Geometry | None,
        form: ak.forms.RecordForm,
        branches: Mapping[str, tuple[str, ...]],
    ) -> None:
        self.plan = plan
        self.friend = friend
        self.geometry = geometry
        self.form = form
        self.branches = dict(branches)
        self.field_of = {
            key: field
            for field, content in zip(form.fields, form.contents, strict=True)
            for key in _form_keys(content)
        }
        self.offsets = {_tree_key(s.path, s.tree): s.offset for s in plan.sources}

    @property
    def behavior(self) -> dict[Any, Any]:
        return behavior

    def parse_buffer_key(self, buffer_key: str) -> tuple[str, str]:
        form_key, attribute = buffer_key.rsplit("-", maxsplit=1)
        return form_key, attribute

    def keys_for_buffer_keys(self, buffer_keys: frozenset[str]) -> frozenset[str]:
        fields = {self.field_of[self.parse_buffer_key(key)[0]] for key in buffer_keys}
        return frozenset(b for field in fields for b in self.branches[field])

    def load_buffers(
        self,
        tree: Any,
        keys: frozenset[str],
        start: int,
        stop: int,
        decompression_executor: Any,
        interpretation_executor: Any,
        options: Any,  # noqa: ARG002 - part of uproot's protocol
    ) -> dict[str, Any]:
        """Buffers of the fields whose branches are all in ``keys``, for entries ``[start,
        stop)``."""
        plan = self.plan
        assert plan.mapping is not None
        where = f"{tree.file.file_path}:{tree.name}"
        arrays: dict[str, Any] = {}
        if keys:
            with guard(where):
                arrays = tree.arrays(
                    sorted(keys),
                    entry_start=start,
                    entry_stop=stop,
                    how=dict,
                    decompression_executor=decompression_executor,
                    interpretation_executor=interpretation_executor,
                )
        out: dict[str, Any] = {}
        for field, branches in self.branches.items():
            if not keys.issuperset(branches):
                continue
            if field == "weight" and self.friend is not None:
                values = self._friend_weight(tree, arrays, start, stop, where)
            else:
                values = field_values(
                    arrays,
                    field,
                    plan.mapping,
                    length=stop - start,
                    geometry=self.geometry,
                    where=where,
                )
            self._put(out, field, values, where)
        return out

    def _friend_weight(
        self, tree: Any, arrays: Mapping[str, Any], start: int, stop: int, where: str
    ) -> ak.Array:
        """The friend's weights of entries ``[start, stop)``, times the events' own."""
        assert self.friend is not None
        assert self.plan.mapping is not None
        offset = self.offsets[_tree_key(tree.file.file_path, tree.name)]
        with contextlib.ExitStack() as stack:
            weight = friend_reader(self.friend, self.plan, stack)(offset + start, offset + stop)
        if self.branches["weight"]:
            own = field_values(
                arrays, "weight", self.plan.mapping, length=stop - start, where=where
            )
            weight = (np.asarray(ak.to_numpy(own)) * weight).astype(np.float32)
        return ak.Array(weight)

    def _put(self, out: dict[str, Any], field: str, values: ak.Array, where: str) -> None:
        """The buffers of ``values`` under the buffer keys of ``field``'s form."""
        expected = self.form.content(field)
        form, _, container = ak.to_buffers(values.layout)
        if not form.is_equal_to(expected, all_parameters=True):
            msg = f"{where}: field {field!r} has type {form.type}, expected {expected.type}"
            raise ValueError(msg)
        pairs = zip(
            form.expected_from_buffers(),
            expected.expected_from_buffers(self.buffer_key),
            strict=True,
        )
        for source, target in pairs:
            out[target] = container[source]


def _bytes_per_event(plan: Plan) -> float:
    """Uncompressed bytes per event of the branches read, from the first file (of an
    RNTuple, from its first thousand entries)."""
    tree = plan.first_tree
    if tree is None:
        return 1.0
    entries = max(plan.sources[0].entries, 1)
    with guard(plan.sources[0].where):
        if plan.rntuple:
            sample = min(entries, 1000)
            read = tree.arrays(list(plan.fields), entry_start=0, entry_stop=sample)
            return float(read.layout.nbytes) / max(sample, 1)
        total = sum(int(tree[b].uncompressed_bytes) for b in plan.columns)
    return total / entries


class Generic:
    """The per-partition conversion of branch arrays into generic events (a callable that
    dask-awkward also runs on typetracers, so that only the branches used are read)."""

    def __init__(self, layout: Mapping[str, Node]) -> None:
        self.layout = dict(layout)

    def __call__(self, arrays: ak.Array) -> ak.Array:
        columns = {name: arrays[name] for name in ak.fields(arrays)}
        events = assemble(columns, self.layout, arrays.layout.length)
        if "weight" in ak.fields(events):
            weight = ak.values_astype(events["weight"], np.float32)
            events = ak.Array(ak.with_field(events, weight, "weight"), behavior=behavior)
        return events


def read(plan: Plan, step_size: int | str, friend: Files | None, geometry: Geometry | None) -> Any:
    """A dask-awkward array of the events of ``plan``, one partition per step of each file.

    Args:
        plan: what to read, its first tree open (``make_plan(..., keep=...)``).
        step_size: events per partition, or the uncompressed size of one.
        friend: files of a friend tree with weights (checked against the plan already).
        geometry: calorimeter of the showers.
    """
    if plan.hdf5:
        msg = f"{plan.where}: dask=True reads ROOT files; read HDF5 files eagerly or with iterate()"
        raise ValueError(msg)
    _require_dask()
    if plan.kind != "events" and plan.rntuple:
        msg = (
            f"{plan.where}: dask=True reads showers and traces from TTrees only; read this "
            "RNTuple eagerly or with iterate(), or as generic events (kind='events')"
        )
        raise ValueError(msg)
    if plan.kind == "events" and friend is not None:
        msg = (
            f"{plan.where}: friend= with dask=True reads showers and traces; for generic events "
            "read the friend's weights and ak.with_field them"
        )
        raise ValueError(msg)
    step = steps(step_size, _bytes_per_event(plan))
    files = []
    for source, lo, hi in plan.ranges():
        parts = [[a, min(a + step, hi)] for a in range(lo, hi, step)] or [[0, 0]]
        files.append({source.path: {"object_path": source.tree, "steps": parts}})
    keys = sorted(_tree_key(s.path, s.tree) for s in plan.sources)
    if friend is not None and len(set(keys)) != len(keys):
        msg = f"{plan.where}: friend= with dask=True needs each file once"
        raise ValueError(msg)
    if plan.kind == "events":
        from dask_awkward.lib.core import map_partitions

        assert plan.layout is not None
        wanted = frozenset(plan.fields)
        # each partition opens its file: partitions sharing one open file race in uproot's
        # lazy basket lookup under the threaded scheduler on some files (tests/data's NanoAOD)
        array = uproot.dask(files, filter_name=wanted.__contains__, open_files=False)
        return map_partitions(Generic(plan.layout), array, label="dctrgan-events")
    columns = frozenset(plan.columns)
    mapping = SchemaMapping(dataclasses.replace(plan, first_tree=None), friend, geometry)
    return uproot.dask(files, filter_name=columns.__contains__, form_mapping=mapping)
