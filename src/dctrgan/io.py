"""ROOT I/O (placeholder while the module is written)."""

from __future__ import annotations

__all__ = ("iterate", "read", "write")


def read(*args: object, **kwargs: object) -> object:
    raise NotImplementedError


iterate = write = read
