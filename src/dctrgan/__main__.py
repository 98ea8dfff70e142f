"""``python -m dctrgan``."""

from __future__ import annotations

from dctrgan.cli import main

main()
