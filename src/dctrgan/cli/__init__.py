"""The ``dctrgan`` command line (:func:`main`); each command calls the public API."""

from __future__ import annotations

from dctrgan.cli.main import main

__all__ = ("main",)
