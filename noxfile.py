#!/usr/bin/env python
# /// script
# requires-python = ">=3.10"
# dependencies = ["nox>=2024.4"]
# ///
"""Developer sessions: ``nox -s tests``, ``nox -s lint``, ``nox -s docs``, ``nox -s bench``.

``nox`` alone runs the default sessions, ``tests`` and ``lint``. The file also runs as a
script (``./noxfile.py -s docs``) in any environment that has nox.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.needs_version = ">=2024.4"
nox.options.default_venv_backend = "venv"

ROOT = Path(__file__).parent
# A CPU build of torch must be in place before the package, or pip pulls a CUDA build.
TORCH = "torch==2.13.0"


def _install(session: nox.Session, *extras: str, groups: tuple[str, ...] = ()) -> None:
    session.install("-U", "pip>=25.1")
    session.install(TORCH)
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", spec, *(f"--group={g}" for g in groups))


@nox.session(default=True)
def tests(session: nox.Session) -> None:
    """Run the test suite."""
    _install(session, "all", groups=("test",))
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(default=True)
def lint(session: nox.Session) -> None:
    """ruff (check and format), mypy and import-linter (the layers of the package)."""
    _install(session, "all", groups=("dev",))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    session.run("lint-imports")


@nox.session(default=False)
def docs(session: nox.Session) -> None:
    """Build the documentation; warnings are errors."""
    _install(session, "all", groups=("docs",))
    session.run(
        "sphinx-build", "-W", "-n", "--keep-going", "-b", "html", "docs", "docs/_build/html"
    )


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Every benchmark (``--quick`` unless ``-- --full``) and one summary table
    (benchmarks/suite.py)."""
    _install(session, "all", groups=("bench",))
    session.run(
        "python", "benchmarks/suite.py", "--out", str(ROOT / "bench-results"), *session.posargs
    )


if __name__ == "__main__":
    nox.main()
