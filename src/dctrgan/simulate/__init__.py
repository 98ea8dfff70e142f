"""Simulators (placeholder)."""

from __future__ import annotations

__all__ = ()
