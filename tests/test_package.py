from __future__ import annotations

from importlib import resources

import dctrgan


def test_public_names() -> None:
    assert set(dir(dctrgan)) == set(dctrgan.__all__)
    for name in dctrgan.__all__:
        assert getattr(dctrgan, name) is not None
    assert dctrgan.read is dctrgan.io.read
    assert dctrgan.write is dctrgan.io.write


def test_typed_marker_is_shipped() -> None:
    assert resources.files("dctrgan").joinpath("py.typed").is_file()
