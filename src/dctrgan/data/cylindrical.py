"""The cylindrical calorimeter geometry of the Fast Calorimeter Simulation Challenge 2022.

The challenge's datasets (CaloChallenge) bin each shower in layers, and each layer in
``n_alpha`` angular bins of equal width over ``[-pi, pi)`` and radial bins with edges
``r_edges`` (mm), given per layer in a binning XML per dataset::

    <Bins>
       <Bin pid="11" name="electron">
          <Layer id="0" r_edges="0,4.65,9.3,...,41.85" n_bin_alpha="16" />
          ...

A layer whose ``r_edges`` is a single edge has no voxels (dataset 1 reads out 5 of
its 24 layers). Voxels are ordered as the challenge stores them: layer-major, then
alpha, then r; the ``(N, V)`` arrays of the challenge's HDF5 files follow that order.

Showers in such a binning are awkward records as the package's other showers
(:mod:`dctrgan.data.schema`), their hits the nonzero voxels by bin index::

    incident_energy: float32                                       # GeV
    hits: var * CylindricalHit{layer, alpha, r: int32, energy: float32}   # MeV
    weight: float32                                                # optional

built by :func:`make_cylindrical_showers`, with the geometry attached to the hits
(:func:`binning_of`), and read by ``dctrgan.read("file.hdf5", binning=xml)``.

References:
    M. Faucci Giannelli, G. Kasieczka, C. Krause, B. Nachman et al., "Fast Calorimeter
    Simulation Challenge 2022", github.com/CaloChallenge/homepage (the binning files and
    the format); arXiv:2410.21611 (the challenge's report).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import xml.etree.ElementTree as ET
from functools import cached_property
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from dctrgan.data.schema import GEOMETRY_PARAMETER, behavior

__all__ = ("CylindricalGeometry", "binning_of", "is_cylindrical", "make_cylindrical_showers")


def _layer(path: Path, index: int, element: ET.Element) -> tuple[tuple[float, ...], int]:
    """The radial edges and angular bins of the ``index``-th ``<Layer>`` of a binning XML."""
    try:
        if int(element.attrib["id"]) != index:
            msg = f"layer ids must be 0, 1, 2, ... in order, got {element.attrib['id']}"
            raise ValueError(msg)
        edges = tuple(float(e) for e in element.attrib["r_edges"].split(","))
        return edges, int(element.attrib["n_bin_alpha"])
    except (KeyError, ValueError) as err:
        msg = f"{path}: <Layer> number {index}: {err!s} (attributes {element.attrib})"
        raise ValueError(msg) from err


@dataclasses.dataclass(frozen=True)
class CylindricalGeometry:
    """Layers of angular (alpha) and radial bins, the CaloChallenge voxelization.

    Args:
        r_edges: per layer, the radial bin edges in mm (increasing; one edge: the layer
            has no voxels).
        n_alpha: per layer, the number of angular bins over ``[-pi, pi)``.
        particle: the particle the binning is for (``"photon"``, ``"pion"``,
            ``"electron"``).
        pid: its PDG id.

    Raises:
        ValueError: for layers of different counts, decreasing edges, or fewer than
            one angular bin.
    """

    r_edges: tuple[tuple[float, ...], ...]
    n_alpha: tuple[int, ...]
    particle: str = ""
    pid: int = 0

    def __post_init__(self) -> None:
        edges = tuple(tuple(float(e) for e in layer) for layer in self.r_edges)
        n_alpha = tuple(int(a) for a in self.n_alpha)
        object.__setattr__(self, "r_edges", edges)
        object.__setattr__(self, "n_alpha", n_alpha)
        if len(edges) != len(n_alpha) or not edges:
            msg = (
                f"CylindricalGeometry: {len(edges)} layers of r_edges but {len(n_alpha)} "
                "of n_alpha (at least one layer)"
            )
            raise ValueError(msg)
        for layer, (r, a) in enumerate(zip(edges, n_alpha, strict=True)):
            if not r or np.any(np.diff(r) <= 0) or not all(map(math.isfinite, r)):
                msg = f"CylindricalGeometry: layer {layer}: r_edges must increase, got {r}"
                raise ValueError(msg)
            if a < 1:
                msg = f"CylindricalGeometry: layer {layer}: n_alpha must be >= 1, got {a}"
                raise ValueError(msg)

    @classmethod
    def from_calochallenge(
        cls, xml: str | os.PathLike[str], particle: str | None = None
    ) -> CylindricalGeometry:
        """The geometry of a CaloChallenge binning XML.

        Args:
            xml: the binning file (``binning_dataset_2.xml``, ...).
            particle: the particle (``"photon"``, ``"pion"``, ``"electron"``): the XML's
                ``<Bin name=...>`` must be it; ``None``: the file's only one.

        Raises:
            FileNotFoundError: if ``xml`` does not exist.
            ValueError: naming the file, for XML that is not a binning (no ``<Bin>`` with
                ``<Layer>`` entries, missing or bad attributes, layer ids out of order)
                or a binning of another particle.
        """
        path = Path(xml)
        if not path.is_file():
            msg = f"{path}: no such binning file"
            raise FileNotFoundError(msg)
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as err:
            msg = f"{path}: not an XML file ({err})"
            raise ValueError(msg) from err
        bins = [b for b in root.iter("Bin") if b.find("Layer") is not None]
        if not bins:
            msg = f"{path}: no <Bin> with <Layer> entries: not a CaloChallenge binning file"
            raise ValueError(msg)
        names = [b.attrib.get("name", "") for b in bins]
        if particle is not None:
            bins = [b for b in bins if b.attrib.get("name") == particle]
            if not bins:
                msg = f"{path}: a binning for {names}, not for particle={particle!r}"
                raise ValueError(msg)
        if len(bins) > 1:
            msg = f"{path}: binnings for {names}: pass particle= to choose one"
            raise ValueError(msg)
        (chosen,) = bins
        layers = [_layer(path, i, element) for i, element in enumerate(chosen.iter("Layer"))]
        try:
            return cls(
                tuple(r for r, _ in layers),
                tuple(a for _, a in layers),
                particle=chosen.attrib.get("name", ""),
                pid=int(chosen.attrib.get("pid", 0)),
            )
        except ValueError as err:
            msg = f"{path}: {err}"
            raise ValueError(msg) from err

    @property
    def n_layers(self) -> int:
        """Layers, with or without voxels."""
        return len(self.r_edges)

    @cached_property
    def voxels_per_layer(self) -> tuple[int, ...]:
        """Voxels of each layer, ``n_alpha * (len(r_edges) - 1)``."""
        return tuple(a * (len(r) - 1) for r, a in zip(self.r_edges, self.n_alpha, strict=True))

    @property
    def n_voxels(self) -> int:
        """All voxels, the width ``V`` of the challenge's ``showers`` arrays."""
        return sum(self.voxels_per_layer)

    @cached_property
    def layer_offsets(self) -> tuple[int, ...]:
        """Where each layer's voxels start, and the end (``n_layers + 1`` numbers)."""
        return (0, *np.cumsum(self.voxels_per_layer).tolist())

    @property
    def relevant_layers(self) -> tuple[int, ...]:
        """The layers with voxels."""
        return tuple(i for i, v in enumerate(self.voxels_per_layer) if v)

    @property
    def alpha_binned_layers(self) -> tuple[int, ...]:
        """The layers with more than one angular bin."""
        return tuple(i for i in self.relevant_layers if self.n_alpha[i] > 1)

    def r_centres(self, layer: int) -> np.ndarray:
        """Centres of the radial bins of ``layer``, mm."""
        r = np.asarray(self.r_edges[layer], dtype=np.float64)
        centres: np.ndarray = 0.5 * (r[1:] + r[:-1])
        return centres

    def alpha_centres(self, layer: int) -> np.ndarray:
        """Centres of the angular bins of ``layer``: equal bins over ``[-pi, pi)``."""
        edges = np.linspace(-math.pi, math.pi, self.n_alpha[layer] + 1)
        return 0.5 * (edges[1:] + edges[:-1])

    def voxel_coordinates(self, layer: int) -> dict[str, np.ndarray]:
        """Per voxel of ``layer``, in the challenge's order (alpha-major, then r): the bin
        indices ``alpha`` and ``r``, the centres ``r_mm`` and ``alpha_rad``, and the
        challenge's ``eta = r cos(alpha)``, ``phi = r sin(alpha)`` (mm)."""
        n_r = len(self.r_edges[layer]) - 1
        a_index, r_index = np.divmod(np.arange(self.voxels_per_layer[layer]), max(n_r, 1))
        r = self.r_centres(layer)[r_index] if n_r else np.zeros(0)
        alpha = self.alpha_centres(layer)[a_index] if n_r else np.zeros(0)
        return {
            "alpha": a_index.astype(np.int32),
            "r": r_index.astype(np.int32),
            "r_mm": r,
            "alpha_rad": alpha,
            "eta": r * np.cos(alpha),
            "phi": r * np.sin(alpha),
        }

    @cached_property
    def voxel_bins(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(layer, alpha, r)``: the bin indices of every voxel, ``(V,)`` int32 each, in
        the challenge's order."""
        parts = [
            (np.full(self.voxels_per_layer[i], i), c["alpha"], c["r"])
            for i in self.relevant_layers
            for c in [self.voxel_coordinates(i)]
        ]
        stacked = (np.concatenate([p[k] for p in parts]).astype(np.int32) for k in range(3))
        layer, alpha, r = stacked
        return layer, alpha, r

    def voxel_index(self, layer: Any, alpha: Any, r: Any) -> np.ndarray:
        """The voxel (column of the ``(N, V)`` arrays) of bins ``(layer, alpha, r)``."""
        layer = np.asarray(layer, dtype=np.int64)
        n_r = np.array([len(e) - 1 for e in self.r_edges])[layer]
        offsets = np.asarray(self.layer_offsets[:-1], dtype=np.int64)[layer]
        index: np.ndarray = offsets + np.asarray(alpha, np.int64) * n_r + np.asarray(r, np.int64)
        return index

    def layer_slice(self, layer: int) -> slice:
        """The voxels of ``layer`` in a ``(N, V)`` array."""
        return slice(self.layer_offsets[layer], self.layer_offsets[layer + 1])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (for model files and metadata)."""
        return {
            "kind": "cylindrical",
            "r_edges": [list(r) for r in self.r_edges],
            "n_alpha": list(self.n_alpha),
            "particle": self.particle,
            "pid": self.pid,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CylindricalGeometry:
        """The geometry of :meth:`to_dict`."""
        return cls(
            tuple(tuple(r) for r in d["r_edges"]),
            tuple(d["n_alpha"]),
            particle=str(d.get("particle", "")),
            pid=int(d.get("pid", 0)),
        )


def binning_of(array: ak.Array) -> CylindricalGeometry | None:
    """The cylindrical geometry attached to hits (by :func:`make_cylindrical_showers`),
    ``None`` for hits of square cells."""
    param = array.layout.purelist_parameter(GEOMETRY_PARAMETER)
    if param is None:
        return None
    fields = json.loads(param) if isinstance(param, str) else param
    return CylindricalGeometry.from_dict(fields) if fields.get("kind") == "cylindrical" else None


def is_cylindrical(showers: Any) -> bool:
    """Whether ``showers`` are awkward showers with hits of (layer, alpha, r) bins."""
    if not isinstance(showers, ak.Array) or "hits" not in ak.fields(showers):
        return False
    return {"alpha", "r"} <= set(ak.fields(showers["hits"]))


@ak.mixin_class(behavior)
class CylindricalHit:
    """Behavior of hits in (layer, alpha, r) bins: bin-centre positions from the geometry."""

    def _centres(self, which: str) -> ak.Array:
        g = binning_of(self)
        if g is None:
            msg = "hits without their cylindrical geometry (make_cylindrical_showers attaches it)"
            raise ValueError(msg)
        table = np.zeros((g.n_layers, max(*g.n_alpha, *map(len, g.r_edges))))
        for i in g.relevant_layers:
            values = g.alpha_centres(i) if which == "alpha" else g.r_centres(i)
            table[i, : len(values)] = values
        layer, index = self["layer"], self[which]  # type: ignore[index]
        flat = table[
            np.asarray(ak.flatten(layer, axis=None)), np.asarray(ak.flatten(index, axis=None))
        ]
        return ak.Array(flat) if layer.ndim == 1 else ak.unflatten(flat, ak.num(layer, axis=1))

    @property
    def radius(self) -> ak.Array:
        """Centre of the radial bin, mm."""
        return self._centres("r")

    @property
    def angle(self) -> ak.Array:
        """Centre of the angular bin, rad in ``[-pi, pi)``."""
        return self._centres("alpha")

    @property
    def x(self) -> ak.Array:
        """``radius * cos(angle)``, mm (the challenge's ``eta`` coordinate)."""
        return self.radius * np.cos(self.angle)

    @property
    def y(self) -> ak.Array:
        """``radius * sin(angle)``, mm (the challenge's ``phi`` coordinate)."""
        return self.radius * np.sin(self.angle)


def make_cylindrical_showers(
    incident_energy: Any,
    counts: Any,
    layer: Any,
    alpha: Any,
    r: Any,
    energy: Any,
    geometry: CylindricalGeometry,
    *,
    weight: Any = None,
) -> ak.Array:
    """Build showers of a cylindrical geometry from flat hit arrays.

    Args:
        incident_energy: ``(N,)`` incident energies in GeV.
        counts: ``(N,)`` number of hits per shower.
        layer: ``(H,)`` layer of each hit, ``H = counts.sum()``.
        alpha: ``(H,)`` angular bin.
        r: ``(H,)`` radial bin.
        energy: ``(H,)`` deposited energy in MeV.
        geometry: the binning the indices refer to (attached to the hits).
        weight: optional ``(N,)`` shower weights.

    Returns:
        Awkward array of ``N`` shower records.
    """
    hits = {
        "layer": np.asarray(layer, dtype=np.int32),
        "alpha": np.asarray(alpha, dtype=np.int32),
        "r": np.asarray(r, dtype=np.int32),
        "energy": np.asarray(energy, dtype=np.float32),
    }
    parameters = {GEOMETRY_PARAMETER: json.dumps(geometry.to_dict())}
    flat = ak.zip(hits, with_name="CylindricalHit", parameters=parameters)
    fields: dict[str, Any] = {
        "incident_energy": np.asarray(incident_energy, dtype=np.float32),
        "hits": ak.unflatten(flat, np.asarray(counts, dtype=np.int64)),
    }
    if weight is not None:
        fields["weight"] = np.asarray(weight, dtype=np.float32)
    return ak.Array(ak.zip(fields, depth_limit=1), behavior=behavior)
