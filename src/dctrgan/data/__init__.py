"""The data model: event schemas, detector geometries and awkward behaviors.

- :mod:`.schema`: the three kinds of events (calorimeter showers, air-shower traces,
  generic records), the Cartesian calorimeter :class:`Geometry` and the package-local
  awkward :data:`behavior`;
- :mod:`.cylindrical`: the cylindrical (layer, alpha, r) geometry of the Fast Calorimeter
  Simulation Challenge 2022 (:class:`CylindricalGeometry`), read from its binning XML,
  and showers binned in it (:func:`make_cylindrical_showers`);
- :mod:`.validation`: checking events against the schemas and casting them to it.
"""

from __future__ import annotations

from dctrgan.data import cylindrical, schema, validation
from dctrgan.data.cylindrical import (
    CylindricalGeometry,
    binning_of,
    is_cylindrical,
    make_cylindrical_showers,
)
from dctrgan.data.schema import (
    DEFAULT_GEOMETRY,
    KINDS,
    SIGNAL_SHAPE,
    Events,
    Geometry,
    Kind,
    behavior,
    geometry_of,
    is_dask,
    make_showers,
    make_traces,
    short_type,
)
from dctrgan.data.validation import coerce, detect_kind, numeric_type, validate

__all__ = (
    "DEFAULT_GEOMETRY",
    "KINDS",
    "SIGNAL_SHAPE",
    "CylindricalGeometry",
    "Events",
    "Geometry",
    "Kind",
    "behavior",
    "binning_of",
    "coerce",
    "cylindrical",
    "detect_kind",
    "geometry_of",
    "is_cylindrical",
    "is_dask",
    "make_cylindrical_showers",
    "make_showers",
    "make_traces",
    "numeric_type",
    "schema",
    "short_type",
    "validate",
    "validation",
)
