from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import vector

from dctrgan import data
from dctrgan.data import Geometry


def _showers(geometry: Geometry | None = None) -> ak.Array:
    # event 0: two hits, event 1: none, event 2: one hit
    return data.make_showers(
        [50.0, 50.0, 20.0],
        [2, 0, 1],
        layer=[0, 29, 10],
        ix=[0, 15, 29],
        iy=[1, 2, 14],
        energy=[0.5, 1.0, 2.5],
        weight=[1.0, 2.0, 0.5],
        geometry=geometry,
    )


def _traces(n: int = 3) -> ak.Array:
    signal = np.zeros((n, 9, 9, 80), dtype=np.float32)
    signal[:, 4, 4, 10] = 200.0
    return data.make_traces(
        np.arange(1, n + 1), signal, np.zeros(n), np.zeros(n), np.full(n, 750.0)
    )


def test_shower_schema_dtypes() -> None:
    ev = _showers()
    assert str(ak.type(ev)).startswith(
        "3 * {incident_energy: float32, hits: var * Hit[layer: int32"
    )
    assert ak.fields(ev.hits) == ["layer", "ix", "iy", "energy"]
    assert ev.weight.type.content.primitive == "float32"
    assert ak.num(ev.hits).tolist() == [2, 0, 1]
    assert data.validate(ev) is ev


def test_trace_schema() -> None:
    ev = _traces()
    assert str(ak.type(ev.signal)) == "3 * 9 * 9 * 80 * float32"
    assert ak.fields(ev) == ["energy", "signal", "core_x", "core_y", "xmax"]
    data.validate(ev, "traces")
    with pytest.raises(ValueError, match=r"signal: expected shape \(N, 9, 9, 80\)"):
        data.make_traces([1.0], np.zeros((1, 9, 9, 40)), [0.0], [0.0], [0.0])


def test_hit_positions_from_geometry() -> None:
    g = Geometry()
    ev = _showers()
    # the grid is centred: cell 0 sits at -14.5 cells, cell 29 at +14.5 cells
    np.testing.assert_allclose(ev.hits.x[0].to_numpy(), [-14.5 * 5.088, 0.5 * 5.088], rtol=1e-12)
    np.testing.assert_allclose(ev.hits.y[2].to_numpy(), [-0.5 * 5.088], rtol=1e-12)
    # z: layer 0 sits behind the first 2.1 mm plate, in the middle of the silicon
    np.testing.assert_allclose(ev.hits.z[0].to_numpy(), g.layer_z[[0, 29]], rtol=1e-12)
    assert g.layer_z[0] == pytest.approx(2.1 + 0.25)
    assert ak.num(ev.hits.x).tolist() == [2, 0, 1]
    pos = ev.hits.position
    assert isinstance(pos[0, 0], vector.Vector3D)
    np.testing.assert_allclose(
        ak.flatten(pos.rho).to_numpy(),
        np.hypot(ak.flatten(ev.hits.x), ak.flatten(ev.hits.y)).to_numpy(),
        rtol=1e-12,
    )
    # a single event's hits have the same behavior
    np.testing.assert_allclose(ev[0].hits.x.to_numpy(), ev.hits.x[0].to_numpy())


def test_custom_geometry_travels_with_hits() -> None:
    g = Geometry(cell_size=10.0)
    ev = _showers(g)
    np.testing.assert_allclose(ev.hits.x[0].to_numpy(), [-145.0, 5.0])
    sliced = ev[1:]
    np.testing.assert_allclose(sliced.hits.x[1].to_numpy(), [(29 - 14.5) * 10.0])


def test_geometry_layers_and_indices() -> None:
    g = Geometry()
    assert g.shape == (30, 30, 30)
    assert g.layer_depth[-1] == pytest.approx((20 * 2.1 + 10 * 4.2) / 3.504)
    assert np.all(np.diff(g.layer_z) > 0)
    cells = np.arange(30)
    np.testing.assert_array_equal(g.index_x(g.cell_x(cells) + 2.0), cells)
    np.testing.assert_array_equal(g.index_y(g.cell_y(cells) - 2.0), cells)
    np.testing.assert_array_equal(g.index_x(np.array([-1e3, 1e3])), [-1, 30])
    np.testing.assert_array_equal(g.index_layer(g.layer_z + 0.4), np.arange(30))
    assert g.index_layer(np.array([-50.0, 1e4])).tolist() == [-1, -1]
    assert Geometry.from_dict(g.to_dict()) == g


def test_geometry_rejects_inconsistent_layers() -> None:
    with pytest.raises(ValueError, match="absorber has 2 thicknesses but n_layers=30"):
        Geometry(absorber=(2.1, 2.1))
    with pytest.raises(ValueError, match="unknown fields"):
        Geometry.from_dict({"cells": 3})


def test_selections_validate() -> None:
    ev = _showers()
    for selection in (ev[[2, 0]], ev[ev.incident_energy > 30], ev[::-1]):
        data.validate(selection)
    data.validate(_traces()[[1]], "traces")


def test_detect_kind() -> None:
    assert data.detect_kind(_showers()) == "showers"
    assert data.detect_kind(_traces()) == "traces"
    with pytest.raises(ValueError, match="cannot tell the kind"):
        data.detect_kind(ak.Array([{"a": 1}]))


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda ev: ak.without_field(ev, "incident_energy"), "missing field 'incident_energy'"),
        (
            lambda ev: ak.with_field(ev, ev.hits[["layer", "ix", "iy"]], "hits"),
            "missing field 'hits.energy'",
        ),
        (
            lambda ev: ak.with_field(
                ev, ak.values_astype(ev.incident_energy, np.float64), "incident_energy"
            ),
            "field 'incident_energy': expected dtype float32, got float64",
        ),
        (
            lambda ev: ak.with_field(
                ev, ak.values_astype(ev.hits.layer, np.float32), ("hits", "layer")
            ),
            "field 'hits.layer': expected dtype int32",
        ),
        (
            lambda ev: ak.with_field(ev, ev.hits.energy * np.nan, ("hits", "energy")),
            "'hits.energy': 3 non-finite",
        ),
        (
            lambda ev: ak.with_field(ev, -ev.hits.energy, ("hits", "energy")),
            "'hits.energy': 3 negative",
        ),
        (
            lambda ev: ak.with_field(ev, ev.hits.layer + 20, ("hits", "layer")),
            r"'hits.layer': 2 value\(s\) outside",
        ),
        (lambda ev: ak.with_field(ev, ev.weight * np.inf, "weight"), "'weight': 3 non-finite"),
        (
            lambda ev: ak.with_field(ev, ev.hits.energy, "incident_energy"),
            "'incident_energy': expected 0 list",
        ),
    ],
)
def test_validate_names_the_bad_field(mutate, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match):
        data.validate(mutate(_showers()), "showers")


def test_validate_traces_errors() -> None:
    ev = _traces()
    with pytest.raises(ValueError, match="missing field 'xmax'"):
        data.validate(ak.without_field(ev, "xmax"), "traces")
    short = ak.with_field(ev, ev.signal[:, :, :, :40], "signal")
    with pytest.raises(
        ValueError, match=r"'signal': expected shape \(N, 9, 9, 80\), got \(3, 9, 9, 40\)"
    ):
        data.validate(short, "traces")
    with pytest.raises(ValueError, match="kind must be one of"):
        data.validate(ev, "pions")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="awkward Array"):
        data.validate(np.zeros(3))  # type: ignore[arg-type]


def test_non_strict_accepts_other_widths_and_coerce_fixes_them() -> None:
    ev = _showers()
    wide = ak.with_field(ev, ak.values_astype(ev.hits.layer, np.int64), ("hits", "layer"))
    wide = ak.with_field(
        wide, ak.values_astype(wide.incident_energy, np.float64), "incident_energy"
    )
    wide = ak.with_field(wide, np.arange(3), "run")
    data.validate(wide, strict=False)
    fixed = data.coerce(wide)
    data.validate(fixed)
    assert ak.fields(fixed) == ["incident_energy", "hits", "weight", "run"]
    assert ak.array_equal(fixed.hits, ev.hits)
    assert fixed.run.tolist() == [0, 1, 2]


def test_coerce_traces_roundtrip() -> None:
    ev = _traces()
    wide = ak.with_field(ev, ak.values_astype(ev.signal, np.float64), "signal")
    assert ak.array_equal(data.coerce(wide), ev)
