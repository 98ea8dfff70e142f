"""The data model: event schemas, detector geometries and awkward behaviors.

- :mod:`.schema`: the three kinds of events (calorimeter showers, air-shower traces,
  generic records), the Cartesian calorimeter :class:`Geometry`, validation and the
  package-local awkward :data:`behavior`;
- :mod:`.cylindrical`: the cylindrical (layer, alpha, r) geometry of the Fast Calorimeter
  Simulation Challenge 2022 (:class:`CylindricalGeometry`), read from its binning XML.
"""

from __future__ import annotations

from dctrgan.data import cylindrical, schema
from dctrgan.data.cylindrical import CylindricalGeometry
from dctrgan.data.schema import (
    DEFAULT_GEOMETRY,
    KINDS,
    SIGNAL_SHAPE,
    Events,
    Geometry,
    Kind,
    behavior,
    coerce,
    detect_kind,
    geometry_of,
    is_dask,
    make_showers,
    make_traces,
    numeric_type,
    short_type,
    validate,
)

__all__ = (
    "DEFAULT_GEOMETRY",
    "KINDS",
    "SIGNAL_SHAPE",
    "CylindricalGeometry",
    "Events",
    "Geometry",
    "Kind",
    "behavior",
    "coerce",
    "cylindrical",
    "detect_kind",
    "geometry_of",
    "is_dask",
    "make_showers",
    "make_traces",
    "numeric_type",
    "schema",
    "short_type",
    "validate",
)
