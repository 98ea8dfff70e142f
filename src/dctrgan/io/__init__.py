"""Read and write events as ROOT TTrees and RNTuples (uproot); import showers from HDF5.

Three kinds of events (:mod:`dctrgan.data`): ``read`` and ``iterate`` take showers when
the tree has the shower branches below, traces when it has ``signal``, and otherwise
generic events (or what ``kind=`` says). Layout written by :func:`write`, and read
without ``branches=``:

==============  ==================================================================
showers         ``incident_energy`` (float), ``nhits`` (int32 counter),
                ``hits_layer``, ``hits_ix``, ``hits_iy`` (int32[nhits]),
                ``hits_energy`` (float[nhits])
traces          ``energy``, ``core_x``, ``core_y``, ``xmax`` (float),
                ``signal`` (float[9][9][80])
both            ``weight`` (float) if the events have one; any other field holding
                one number per event, as a branch of the same name
events          a number: a branch of its dtype; ``3 * float32``: ``float[3]``;
                ``x: var * number``: ``nx`` + ``x``; ``Jet: var * {pt, eta}``:
                ``nJet`` + ``Jet_pt``, ``Jet_eta`` (NanoAOD); ``MET: {pt, phi}``:
                ``MET.pt``, ``MET.phi``; ``weight`` as float32
==============  ==================================================================

Generic events are read by the inverse rules: jagged branches ``P_f`` counted by ``nP``
or ``NP`` become a collection ``P: var * {f, ...}`` (NanoAOD, HZZ; the counter is
``ak.num``), a branch ``A.b`` the field ``b`` of a record ``A``, any other numeric
branch a field of its name; branches without numbers (strings, objects) are skipped
with a logged warning. ``branches=`` is then a list of names or glob patterns::

    events = dctrgan.read("nano.root:Events", branches=["Jet_*", "MET_pt"])

An RNTuple is read wherever a TTree is (``"file.root:ntuple"``, or the only one in the
file); its fields are taken as they are. ``write(..., rntuple=True)`` writes one.

A hit table, one row per hit, becomes one record per event with ``group_by=``: the
grouping branch once, every other branch a list over the event's rows (rows in any
order for ``read``; contiguous per event for ``iterate``). With ``kind="showers"`` and
a mapping (numbers for coordinates the table lacks) the events are showers::

    events = dctrgan.read("g4.root:HitStrips", group_by="Event")
    showers = dctrgan.read("hits.root", "showers", group_by="event", branches={
        "layer": "layer", "ix": 0, "iy": 0, "energy": "edep", "incident_energy": 50.0})

Other layouts of showers and traces are read through ``branches=``, a mapping from keys
named after the schema fields to branch names. Showers: ``incident_energy``; per hit
``layer``, ``ix``, ``iy``, ``energy`` (jagged branches), where each coordinate may
instead be a position in mm, ``z``, ``x``, ``y`` (turned into cell indices through the
:class:`~dctrgan.data.Geometry`; positions outside it are an error); or ``voxels``, a
dense ``float[n_layers][n_x][n_y]`` branch in MeV in place of all hit keys, of which
every nonzero cell becomes a hit (no threshold is applied). Traces: ``energy``,
``signal``, ``core_x``, ``core_y``, ``xmax``. Both: ``weight``. Keys not given keep the
default branch names above::

    showers = dctrgan.read("g4.root:showers", branches={"energy": "scene"})
    showers = dctrgan.read("g4.root", branches={"x": "hit_x", "y": "hit_y", "z": "hit_z"})
    showers = dctrgan.read("gan.root", branches={"voxels": "cells", "incident_energy": "e0"})

Weights can live in a *friend tree*: a file with only a ``weight`` branch, one
entry per event in the same order, beside the untouched input
(:func:`write_weights`). ``read(..., friend="weights.root")`` attaches them; with
plain uproot, read both trees and ``ak.zip`` them; in ROOT,
``events->AddFriend("weights", "weights.root")``.

:func:`write` is atomic: it writes a temporary file in the destination folder and
renames it at the end, so an interrupted write never leaves a half file and never
destroys an existing one; it writes ROOT only (names ending in ``.root``).
:func:`write_chunks` does the same for a stream of chunks (say, from :func:`iterate`),
writing each chunk in a thread while the next is produced, two chunks in memory at a
time. The geometry of showers is not stored in the file: read showers of a non-default
calorimeter with the same ``geometry=``. :func:`iterate` with a step in bytes
(``"100 MB"``) fits its chunks to the clusters of the file where they are regular (whole
clusters, or a cluster in equal parts), so that reading a chunk never decompresses two
clusters for one.

Every writer takes ``compression=``: ``"zstd:1"`` by default, ``"algorithm:level"`` of
``zlib``, ``lz4``, ``zstd``, ``lzma``, an uproot compression (``uproot.LZ4(1)``, used
as it is), or None for none. ZSTD at level 1 was chosen on 50k fast showers
(``benchmarks/io.py``): a file 5 % smaller than uproot's default ZLIB at level 1,
written 2.9 and read 2.3 times as fast; LZ4 writes and reads faster still, for a file
32 % larger; ZLIB at level 4 saves 1.4 % more for 20 % more time than ZLIB at level 1.
The frames of ``"zstd:<level>"`` carry the content checksum of the Zstandard format
(ROOT's and uproot's own ZSTD frames have none, and uproot does not check LZ4's), so a
damaged basket is an error, as with ZLIB, not other numbers. ROOT reads ZSTD since
6.20, uproot through ``cramjam``, one of its dependencies::

    dctrgan.write("showers.root", showers, compression="lz4:1")  # fastest, larger

Beyond one machine, ``read(..., dask=True)`` returns a dask-awkward array, read
partition by partition with ``uproot.dask`` and converted to the same events;
:meth:`dctrgan.DCTR.weight` and :meth:`~dctrgan.DCTR.attach` on it stay lazy, and
only the branches a computation needs are read. :func:`write` writes such an
array to one file, or to one file per partition::

    showers = dctrgan.read("showers_*.root:events", dask=True, step_size=100_000)
    dctrgan.write("weighted-{i}.root", dctr.attach(showers))  # one file per partition

Showers in the HDF5 format of the Fast Calorimeter Simulation Challenge 2022 (voxel
arrays in a cylindrical binning) are read, streamed and written by
:mod:`dctrgan.io.calochallenge`.
"""

from __future__ import annotations

from dctrgan.io import calochallenge
from dctrgan.io.branches import from_branches
from dctrgan.io.reading import Files, iterate, read, read_hdf5
from dctrgan.io.writing import write, write_chunks, write_weights

__all__ = (
    "Files",
    "calochallenge",
    "from_branches",
    "iterate",
    "read",
    "read_hdf5",
    "write",
    "write_chunks",
    "write_weights",
)
